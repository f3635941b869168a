/* Reading a received query without allocating (W-2, W-3): the header, the one
 * question, and every record after it, checked with libknot's wire helpers.
 * The records are only walked, to find the OPT record and to reject what RFC
 * 1035 and RFC 6891 call malformed. */
#include "dns/dns_p.h"

#include <libknot/libknot.h>
#include <string.h>

#include "base/base.h"

/* Walk the EDNS options: each is code, length, data, and they fill the RDATA
 * exactly (RFC 6891 §6.1.2). */
static bool edns_options_valid(const uint8_t *opts, uint16_t len)
{
	size_t off = 0;
	while (off < len) {
		if (len - off < KNOT_EDNS_OPTION_HDRLEN)
			return false;
		uint16_t olen = knot_wire_read_u16(opts + off + 2);
		off += KNOT_EDNS_OPTION_HDRLEN;
		if (olen > len - off)
			return false;
		off += olen;
	}
	return true;
}

/* Read the records after the question; returns NULL or why they are malformed. */
static const char *read_records(const uint8_t *wire, size_t len, size_t pos, dns_query_t *q,
				bool *badvers)
{
	unsigned an = knot_wire_get_ancount(wire), ns = knot_wire_get_nscount(wire);
	unsigned total = an + ns + knot_wire_get_arcount(wire);
	bool seen_opt = false;

	for (unsigned i = 0; i < total; i++) {
		dns_rr_wire_t rr;
		const char *why = dns_record_read(wire, len, &pos, &rr);
		if (why)
			return why;
		if (rr.type != KNOT_RRTYPE_OPT)
			continue;
		if (i < an + ns)
			return "an OPT record outside the additional section (RFC 6891 §6.1.1)";
		if (seen_opt)
			return "more than one OPT record (RFC 6891 §6.1.1)";
		if (rr.owner_len != 1 || wire[rr.owner] != 0)
			return "the OPT record's owner is not the root (RFC 6891 §6.1.2)";
		if (!edns_options_valid(rr.rdata, rr.rdlen))
			return "a malformed EDNS option (RFC 6891 §6.1.2)";
		seen_opt = true;
		q->edns_version = (uint8_t)(rr.ttl >> 16);
		q->edns_do = (rr.ttl & KNOT_EDNS_DO_MASK) != 0;
		/* RFC 6891 §6.2.5: values below 512 are treated as 512. */
		q->udp_size = rr.rclass < KNOT_EDNS_MIN_UDP_PAYLOAD ? KNOT_EDNS_MIN_UDP_PAYLOAD
								    : rr.rclass;
		q->edns_options = rr.rdlen ? rr.rdata : NULL;
		q->edns_options_len = rr.rdlen;
		*badvers = q->edns_version > KNOT_EDNS_VERSION;
	}
	if (pos != len)
		return "trailing octets after the last record";
	if (seen_opt)
		q->edns = true;
	return NULL;
}

void dns_query_parse(const uint8_t *wire, size_t len, dns_query_t *q)
{
	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_UDP_PAYLOAD_DEFAULT;

	/* W-3: without a header there is no one to answer. */
	if (!wire || len < KNOT_WIRE_HEADER_SIZE) {
		q->verdict = DNS_QUERY_DROP;
		q->why = "shorter than a DNS header";
		return;
	}
	/* A response sent to us is never answered: answering would let two
	 * servers bounce a packet between them forever. */
	if (knot_wire_get_qr(wire)) {
		q->verdict = DNS_QUERY_DROP;
		q->why = "a response (QR set), not a query";
		return;
	}
	q->id = knot_wire_get_id(wire);
	q->opcode = (uint8_t)(knot_wire_get_opcode(wire));
	q->rd = knot_wire_get_rd(wire) != 0;
	q->cd = knot_wire_get_cd(wire) != 0;
	q->ad = knot_wire_get_ad(wire) != 0;

	const char *formerr = NULL;
	bool badvers = false;
	size_t pos = KNOT_WIRE_HEADER_SIZE;
	uint16_t qdcount = knot_wire_get_qdcount(wire);
	if (qdcount != 1) {
		formerr = qdcount == 0 ? "no question" : "more than one question";
		goto decide;
	}
	/* The question's name may not use compression: there is nothing before it
	 * to point to. */
	int n = knot_dname_wire_check(wire + pos, wire + len, NULL);
	if (n <= 0 || len - pos - (size_t)n < 4) {
		formerr = "the question is cut short or its name is malformed";
		goto decide;
	}
	memcpy(q->qname, wire + pos, (size_t)n);
	knot_dname_copy_lower(q->qname_lower, q->qname);
	q->qname_len = (uint16_t)n;
	pos += (size_t)n;
	q->qtype = knot_wire_read_u16(wire + pos);
	q->qclass = knot_wire_read_u16(wire + pos + 2);
	q->has_question = true;
	pos += 4;
	formerr = read_records(wire, len, pos, q, &badvers);
	if (formerr) {
		/* A broken OPT is no EDNS at all: the FORMERR goes without OPT. */
		q->edns = false;
		q->edns_options = NULL;
		q->edns_options_len = 0;
		q->edns_do = false;
		q->udp_size = DNS_UDP_PAYLOAD_DEFAULT;
	}

decide:
	/* Other opcodes (NOTIFY, UPDATE, ...) have layouts of their own: refuse
	 * them whatever they hold, rather than judge them as queries. */
	if (q->opcode != KNOT_OPCODE_QUERY) {
		q->verdict = DNS_QUERY_REFUSED;
		q->why = "only standard queries (opcode QUERY) are served";
	} else if (formerr) {
		q->verdict = DNS_QUERY_FORMERR;
		q->why = formerr;
	} else if (badvers) {
		q->verdict = DNS_QUERY_BADVERS;
		q->why = "EDNS version above 0 (RFC 6891 §6.1.3)";
	} else if (q->qclass != KNOT_CLASS_IN) {
		q->verdict = DNS_QUERY_REFUSED;
		q->why = "only class IN is served";
	} else {
		q->verdict = DNS_QUERY_OK;
	}
}

int dns_verdict_rcode(dns_verdict_t v)
{
	switch (v) {
	case DNS_QUERY_OK:
		return DNS_RCODE_NOERROR;
	case DNS_QUERY_FORMERR:
		return DNS_RCODE_FORMERR;
	case DNS_QUERY_BADVERS:
		return DNS_RCODE_BADVERS;
	case DNS_QUERY_REFUSED:
		return DNS_RCODE_REFUSED;
	case DNS_QUERY_DROP:
	default:
		return -1;
	}
}
