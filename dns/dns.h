/*
 * dns — the wire format, over libknot: domain names (text and wire, lowercase,
 * label counts, suffix tests), and (as the data plane grows) parsing queries
 * and building answers, referrals and errors with EDNS.
 *
 * Threads: every function is reentrant; no global state.
 * Input: text and wire input is untrusted and validated; nothing here asserts
 * on it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_PORT 53         /* every DNS server's port: endpoints, targets' default (F-4) */
#define DNS_HEADER_LEN 12   /* a message's fixed header, RFC 1035 §4.1.1 (W-3) */
#define DNS_NAME_MAXLEN 255 /* octets on the wire, RFC 1035 */
#define DNS_LABEL_MAXLEN 63
#define DNS_NAME_TEXT_MAX 1024 /* enough for any name in presentation form */

/* A name parsed from text. */
typedef struct dns_name_info {
	size_t wire_len; /* octets on the wire, root label included */
	int labels;      /* labels, the root not counted ("." has 0) */
	bool absolute;   /* the text ended with a dot */
} dns_name_info_t;

/*
 * Parse a name in presentation form into lowercase wire form.
 * wire: at least DNS_NAME_MAXLEN bytes (may be NULL to only check).
 * Accepts "." for the root; "\DDD" and "\X" escapes. Returns 0, or PR_EPARSE
 * with *why set to a static explanation. Outputs written only on success.
 */
int dns_name_from_text(const char *text, uint8_t *wire, dns_name_info_t *info, const char **why);

/* Presentation form of a wire name into out (lowercase kept as is), always
 * absolute ("a.b."). Returns the length or a negative error. */
int dns_name_to_text(const uint8_t *wire, char *out, size_t outlen);

/* Labels in a wire name, root not counted. */
int dns_name_label_count(const uint8_t *wire);

/* Does name fall under (or equal) suffix, by whole labels, case-insensitive? */
bool dns_name_is_under(const uint8_t *name, const uint8_t *suffix);

/* Octets of a wire name, root label included. */
size_t dns_name_wire_length(const uint8_t *wire);

/* Equal names, case-insensitively (W-5). */
bool dns_name_equal(const uint8_t *a, const uint8_t *b);

/* Lowercase a wire name in place. */
void dns_name_lower(uint8_t *wire);

/* Canonical text of a name: lowercase, absolute, as a new string (owned), or
 * NULL if it does not parse. */
char *dns_name_canonical(const char *text);

/* ------------------------------------------------------------------------
 * Record types and record values (dns/rdata.c)
 *
 * Record values are written as in a zone file (design.md §5) and read with
 * libzscanner, so every type libknot knows is parsed the way Knot DNS reads
 * zone files. Zone policy on which types are allowed is zones/' business.
 * ------------------------------------------------------------------------ */

#include <libknot/packet/compr.h>
#include <libknot/rrset.h>

#define DNS_RDATA_MAXLEN 65535

/* Type mnemonic ("MX", "mx", "TYPE15") to its number. 0 or PR_EPARSE;
 * *type written only on success. */
int dns_rrtype_from_text(const char *text, uint16_t *type);

/* Mnemonic of a type ("MX", or "TYPE65280" for unknown ones) into out
 * (at least 16 bytes). Returns out. */
const char *dns_rrtype_to_text(uint16_t type, char *out, size_t outlen);

/*
 * Parse one record value of a type, written as in a zone file: "10.10.2.5"
 * (A), "10 mail.contoso.com." (MX), "0 5 5060 sip.contoso.com." (SRV).
 * Relative names are completed with origin_wire (a wire name, borrowed; NULL
 * means the root). TXT: a value that starts with '"' is zone-file text (one or
 * more quoted strings); any other value is one string taken literally
 * (split in 255-octet pieces when longer), which is what the cloud's API means
 * by a TXT value such as "v=spf1 -all".
 * rdata: at least rdata_cap bytes. Returns 0 with *rdata_len set, or PR_EPARSE
 * with *why set to an explanation that names what the type needs (owned, the
 * caller frees; why may be NULL). Outputs written only on success.
 */
int dns_rdata_from_text(uint16_t type, const char *text, const uint8_t *origin_wire,
			uint8_t *rdata, size_t rdata_cap, size_t *rdata_len, char **why);

/* Presentation form of record i of rr (names absolute), into out. Returns
 * the length written or PR_EPARSE (rdata that libknot cannot print) /
 * -ENOSPC. */
int dns_rdata_to_text(const knot_rrset_t *rr, uint16_t i, char *out, size_t outlen);

/* ------------------------------------------------------------------------
 * Queries (dns/query.c)
 * ------------------------------------------------------------------------ */

/* Response codes used here (RFC 1035, RFC 6891). BADVERS is extended (16). */
enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16,
};

#define DNS_UDP_PAYLOAD_DEFAULT 512  /* RFC 1035 without EDNS */
#define DNS_UDP_PAYLOAD_OURS 1232    /* what we advertise (DNS flag day 2020) */
#define DNS_TCP_MESSAGE_MAX 65535   /* RFC 1035 §4.2.2: a 16-bit length */
#define DNS_UDP_MESSAGE_MAX 65507   /* the largest UDP payload over IPv4 (65535 - 20 - 8) */

/* What to do with a received query (W-3). */
typedef enum dns_verdict {
	DNS_QUERY_OK = 0,      /* answer it */
	DNS_QUERY_FORMERR,     /* header readable, rest malformed: FORMERR */
	DNS_QUERY_BADVERS,     /* EDNS version above 0: BADVERS (RFC 6891 §6.1.3) */
	DNS_QUERY_REFUSED,     /* opcode other than QUERY, or class other than IN: REFUSED */
	DNS_QUERY_DROP,        /* no header, or QR set: no answer at all */
} dns_verdict_t;

/*
 * A parsed query. Embedded by the caller (no heap); filled by
 * dns_query_parse() from a received buffer, which it keeps borrowing
 * (edns_options points into it) until the answer is built.
 */
typedef struct dns_query {
	dns_verdict_t verdict;
	const char *why;        /* static explanation of a verdict other than OK */
	uint16_t id;
	uint8_t opcode;
	bool rd, cd, ad;        /* header flags as received */
	bool has_question;      /* the question was read (may be true for any verdict) */
	uint8_t qname[DNS_NAME_MAXLEN];       /* as received: case kept (W-5) */
	uint8_t qname_lower[DNS_NAME_MAXLEN]; /* lowercase, for lookups */
	uint16_t qname_len;     /* wire length of both */
	uint16_t qtype, qclass;
	bool edns;              /* a valid OPT record was read */
	uint8_t edns_version;
	bool edns_do;           /* DNSSEC OK */
	uint16_t udp_size;      /* the client's limit for UDP answers: 512, or its
				 * EDNS payload size (at least 512) */
	const uint8_t *edns_options; /* the OPT RDATA (options) as received, borrowed */
	uint16_t edns_options_len;
} dns_query_t;

/*
 * Read a query from wire (len octets, borrowed). Never allocates; never fails:
 * the verdict says what to do (W-3). *q is always written.
 */
void dns_query_parse(const uint8_t *wire, size_t len, dns_query_t *q);

/* ------------------------------------------------------------------------
 * Answers (dns/answer.c)
 *
 * An answer is written straight into a caller's buffer, one rrset at a time,
 * with libknot's name compression; nothing is allocated. Sections go in order
 * (answer, authority, additional). Truncation: an rrset that does not fit
 * the client's limit in the answer or authority section empties all three
 * sections and sets TC (the question and OPT stay), as Knot and Unbound do;
 * one that does not fit in the additional section is left out without TC
 * (RFC 2181 §9). RRsets are never split.
 * ------------------------------------------------------------------------ */

typedef enum dns_section {
	DNS_SECTION_ANSWER = 0,
	DNS_SECTION_AUTHORITY = 1,
	DNS_SECTION_ADDITIONAL = 2,
} dns_section_t;

/* Caller-embedded; fields are private to dns/ (like a libuv handle). */
typedef struct dns_answer {
	uint8_t *wire;
	size_t size;       /* octets written */
	size_t limit;      /* most octets the client takes */
	size_t opt_size;   /* octets kept for the OPT record */
	size_t qend;       /* end of the question */
	uint16_t counts[3];
	int section;
	uint16_t rcode;    /* extended rcode, 12 bits */
	bool edns, edns_do, truncated;
	const uint8_t *qname_lower; /* borrowed from the query */
	const uint8_t *edns_options;
	uint16_t edns_options_len;
	knot_rrinfo_t rrinfo;
	knot_compr_t compr;
} dns_answer_t;

/*
 * Start an answer to q in buf (cap octets, borrowed until finished): the ID,
 * opcode, RD and CD copied, QR and RA set, the question with the case it was
 * asked in (W-5), rcode NOERROR. The answer keeps within the client's limit:
 * over UDP 512 octets, or its EDNS payload size; over TCP 65535 (and never
 * more than cap). An OPT record is added when the query had one (our payload
 * size 1232, DO echoed, W-2). q is borrowed until dns_answer_finish().
 * Returns 0, or -EINVAL when cap cannot hold even the header and question.
 */
int dns_answer_begin(dns_answer_t *a, uint8_t *buf, size_t cap, const dns_query_t *q, bool tcp);

/* Response code, extended ones (BADVERS) included; the high bits go in the
 * OPT record. */
void dns_answer_set_rcode(dns_answer_t *a, uint16_t rcode);
/* Authoritative answer (answers from private zones, Q-2). */
void dns_answer_set_aa(dns_answer_t *a, bool aa);
/* EDNS options to send in our OPT record (borrowed until finished), e.g. the
 * ones a forwarded answer carried. Ignored without EDNS. Returns 0, or
 * -ENOSPC when they leave no room. */
int dns_answer_set_edns_options(dns_answer_t *a, const uint8_t *opts, uint16_t len);

/*
 * Add an rrset (borrowed) to a section. owner (borrowed, may be NULL) replaces
 * the rrset's owner: a wildcard-synthesized record has the query name (RFC
 * 4592), a chased one its CNAME target. Owners equal to the query name are
 * written as a pointer to the question, so they keep the question's case (W-5).
 * Returns 0; -ENOSPC when the rrset did not fit (the answer is truncated, see
 * above, and later additions to answer/authority are ignored); -EINVAL for a
 * section out of order.
 */
int dns_answer_add(dns_answer_t *a, dns_section_t section, const knot_rrset_t *rr,
		   const uint8_t *owner);

/* Was the answer truncated (TC set)? */
bool dns_answer_truncated(const dns_answer_t *a);

/* Write the counts and the OPT record. Returns the answer's length (> 0). */
size_t dns_answer_finish(dns_answer_t *a);

/*
 * An error answer in one call: rcode (FORMERR, SERVFAIL, NXDOMAIN, NOTIMP,
 * REFUSED, BADVERS) for q, with its question when it was read and an OPT record
 * when it had a valid one (BADVERS always has one, RFC 6891 §6.1.3). Returns
 * the length, or 0 when there is nothing to send (a DROP verdict, or cap below
 * a header).
 */
size_t dns_answer_error(uint8_t *buf, size_t cap, const dns_query_t *q, uint16_t rcode, bool tcp);

/* The rcode a verdict calls for (DROP and OK give -1 and 0). */
int dns_verdict_rcode(dns_verdict_t v);

/* ------------------------------------------------------------------------
 * Messages that come back (dns/message.c): replies of targets and our own
 * answers, read without allocating.
 * ------------------------------------------------------------------------ */

/* The question of a message: its name (wire, as sent), type and class. */
typedef struct dns_question {
	uint8_t name[DNS_NAME_MAXLEN];
	size_t name_len;
	uint16_t qtype, qclass;
} dns_question_t;

/* Read the first question of msg (borrowed). 0 and *q, or PR_EPARSE when the
 * header says no question or the name is unreadable (compression pointers
 * are refused: a question name is the first name of a message). */
int dns_question_read(const uint8_t *msg, size_t len, dns_question_t *q);

/* What a received reply is to the query that asked q with id (W-4). */
typedef enum dns_reply_verdict {
	DNS_REPLY_OK = 0,
	DNS_REPLY_MALFORMED,    /* shorter than a header, QR clear, no readable question */
	DNS_REPLY_BAD_ID,       /* another ID than the query's */
	DNS_REPLY_BAD_QUESTION, /* not one question, or another name (case-insensitively),
				 * type or class */
} dns_reply_verdict_t;

/* Checks in the order above; reply and q are borrowed. */
dns_reply_verdict_t dns_reply_check(const uint8_t *reply, size_t len, uint16_t id,
				    const dns_question_t *q);

/* TC set? false for less than a header. */
bool dns_message_truncated(const uint8_t *wire, size_t len);

/* The extended rcode of a message (RFC 6891 §6.1.3: its OPT record's upper
 * eight bits with the header's four), so an answer BADVERS reads as 16; the
 * header's rcode alone when there is no OPT record or the records can't be
 * walked; -1 for less than a header. */
int dns_message_rcode(const uint8_t *wire, size_t len);

/* A message parsed by libknot from a copy of its own (NULL when it does not
 * parse; free with knot_pkt_free): libknot writes to the wire it parses — it
 * takes a TSIG record off the header's ARCOUNT — and a message we only read
 * (an answer being logged or explained) must stay as it was. */
struct knot_pkt *dns_message_parse(const uint8_t *wire, size_t len);

/* The records of one section (0 answer, 1 authority, 2 additional; OPT left
 * out) in zone-file form, "owner TTL IN TYPE rdata" joined by "; ", written
 * into out (always terminated when cap > 0). Returns how many records, or -1
 * when the message does not parse (out is then empty). */
int dns_message_section_text(const uint8_t *wire, size_t len, int section, char *out,
			     size_t cap);

/* How long a client may keep a reply, in seconds (RFC 2308): the smallest
 * answer TTL, capped at max_ttl; for NXDOMAIN and NODATA min(SOA TTL, SOA
 * MINIMUM) capped at max_negative_ttl (0 without an SOA). 0 for replies not to
 * keep: not NOERROR/NXDOMAIN, truncated, malformed, not one question. */
uint32_t dns_message_lifetime(const uint8_t *wire, size_t len, uint32_t max_ttl,
			      uint32_t max_negative_ttl);

/* Count every record's TTL of a message down by elapsed seconds (not below
 * 0), in place; the OPT record is left alone. A malformed message is changed
 * up to where it stops reading. */
void dns_message_age(uint8_t *wire, size_t len, uint32_t elapsed);

/* libknot's name of an rcode ("NOERROR", "NXDOMAIN", "BADVERS"), or
 * "RCODE<n>" written into buf (at least 16 bytes). */
const char *dns_rcode_name(int rcode, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * EDNS(0) padding (dns/padding.c; RFC 7830, RFC 8467; W-6)
 * ------------------------------------------------------------------------ */

/* Does the query (len octets, untrusted) carry an EDNS(0) padding option? */
bool dns_query_wants_padding(const uint8_t *wire, size_t len);

/*
 * The answer ans (len octets) with a padding option in its OPT record (any
 * padding it had replaced) so its length is a multiple of block, written to
 * out (cap octets; out may not overlap ans). Returns the new length, or 0
 * when the answer has no OPT record, is malformed, or would not fit.
 */
size_t dns_pad_answer(const uint8_t *ans, size_t len, uint16_t block, uint8_t *out, size_t cap);

/* ---------------------------------------------------------------------------
 * Dynamic update (dns/update.c; RFC 2136, TSIG RFC 8945; E-2, E-3)
 *
 * An UPDATE message is read whole (libknot's parser): its zone, its
 * prerequisites and its changes, and verified against a server's TSIG keys.
 * The answer is the request's header and zone section with an rcode, signed
 * when the request was.
 * ------------------------------------------------------------------------ */

#define DNS_OPCODE_UPDATE 5
/* RFC 2136 §2.2 response codes. */
enum {
	DNS_RCODE_YXDOMAIN = 6,
	DNS_RCODE_YXRRSET = 7,
	DNS_RCODE_NXRRSET = 8,
	DNS_RCODE_NOTAUTH = 9,
	DNS_RCODE_NOTZONE = 10,
};
/* RFC 8945 §5.3 TSIG errors (in the TSIG record; the rcode is NOTAUTH). */
enum {
	DNS_TSIG_BADSIG = 16,
	DNS_TSIG_BADKEY = 17,
	DNS_TSIG_BADTIME = 18,
};
#define DNS_CLASS_IN 1
#define DNS_CLASS_NONE 254
#define DNS_CLASS_ANY 255
#define DNS_TYPE_ANY 255

/* A prerequisite or change record as received; rdata borrowed from the update. */
typedef struct dns_update_rr {
	uint8_t owner[DNS_NAME_MAXLEN]; /* lowercase */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
} dns_update_rr_t;

/* A TSIG key as a deployment gives it (strings borrowed). */
typedef struct dns_tsig_key_spec {
	const char *name;      /* "dhcp-key" */
	const char *algorithm; /* "hmac-sha256" */
	const char *secret;    /* base64 */
} dns_tsig_key_spec_t;

typedef struct dns_update dns_update_t;

/* Is wire (untrusted) an UPDATE request (opcode 5, QR clear)? */
bool dns_message_is_update(const uint8_t *wire, size_t len);
/* Read an UPDATE (copied). 0 and *out (owned), or PR_EPARSE with *why (static):
 * malformed records, or a zone section that is not one SOA question of class
 * IN (the answer is FORMERR, dns_update_error()). */
int dns_update_parse(const uint8_t *wire, size_t len, dns_update_t **out, const char **why);
void dns_update_free(dns_update_t **up);
/* The zone (lowercase wire), prerequisites and changes (borrowed). */
const uint8_t *dns_update_zone(const dns_update_t *u);
const dns_update_rr_t *dns_update_prereqs(const dns_update_t *u, size_t *n);
const dns_update_rr_t *dns_update_changes(const dns_update_t *u, size_t *n);
/* Does the update carry a TSIG record? */
bool dns_update_signed(const dns_update_t *u);
/* Check a TSIG key spec: 0, or PR_EPARSE with *why (static). */
int dns_tsig_key_check(const dns_tsig_key_spec_t *k, const char **why);
/* Verify the update's TSIG against keys (borrowed; kept for the answer, which
 * dns_update_answer() signs with the same array). 0 when unsigned or valid,
 * else DNS_TSIG_BADKEY (no such key or algorithm), DNS_TSIG_BADSIG or
 * DNS_TSIG_BADTIME (outside the fudge of the system clock). */
int dns_update_verify(dns_update_t *u, const dns_tsig_key_spec_t *keys, size_t n);
/* The answer to u with rcode (NOTAUTH when tsig_error is set), signed per RFC
 * 8945 §5.3 when u was signed. Returns its length, or 0 when cap is short. */
size_t dns_update_answer(const dns_update_t *u, uint16_t rcode, const dns_tsig_key_spec_t *keys,
			 uint16_t tsig_error, uint8_t *buf, size_t cap);
/* An answer with rcode to a request that could not be read (header only). */
size_t dns_update_error(const uint8_t *wire, size_t len, uint16_t rcode, uint8_t *buf, size_t cap);
/* Canonical form of an rdata (names in it lowercase, RFC 4034 §6.2) into out
 * (DNS_RDATA_MAXLEN octets). 0, or an error for rdata libknot can't read. */
int dns_rdata_canonical(uint16_t type, const uint8_t *rdata, uint16_t len, uint8_t *out,
			uint16_t *out_len);
/* Presentation form of one rdata of type (names absolute). Length or error. */
int dns_rdata_text(uint16_t type, const uint8_t *rdata, uint16_t len, char *out, size_t outlen);
