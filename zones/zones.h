/*
 * zones — authoritative zone data: private zones (Q-2, Z-1..Z-3) and the
 * deployment's public zones (Q-4). A zone is put together with a builder
 * (record sets written as in a zone file, host autoregistration, zone-file
 * import) and then built into an immutable zone_t that answers lookups with
 * RFC 1034/4592 semantics: answers, CNAMEs for the resolver to chase (Q-5),
 * NODATA and NXDOMAIN with the SOA (RFC 2308), wildcards, and the addresses of
 * MX and SRV targets inside the zone for the additional section.
 *
 * Independent of the resource model: linker/ feeds builders from it.
 * Threads: a builder belongs to one thread. A built zone is immutable: any
 * number of threads may look up in it without locks.
 * Input: owner names and record values are untrusted text and are validated;
 * query names given to zone_lookup() come from dns_query_parse().
 * Errors: 0, or PR_EPARSE (bad name or value), PR_ECONFIG (a rule of Z-1:
 * CNAME next to other data, NS below the apex, a type not served, two SOAs),
 * PR_EEXIST (a record set given twice), PR_EIO (zone file not readable); with
 * an explanation in *why (owned by the caller) when why is not NULL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "model/model.h"

typedef struct zone zone_t;
typedef struct zone_builder zone_builder_t;

#define ZONE_TTL_MAX 2147483647u   /* RFC 2181 §8 */

/* An SOA as the model holds it (host and email: names, relative ones complete
 * with the origin; NULL takes MODEL_SOA_DEFAULTS' names). Z-2's defaults are
 * MODEL_SOA_DEFAULTS. */
typedef model_soa_t zone_soa_spec_t;

/* ---- Builder ---------------------------------------------------------------- */

/* A builder for the zone named origin_text ("contoso.com" or "contoso.com.").
 * 0 with *out (owned), or PR_EPARSE with *why. */
int zone_builder_new(const char *origin_text, zone_builder_t **out, char **why);
void zone_builder_destroy(zone_builder_t **zbp);

/*
 * Add a record set: owner_text is "@" (the apex), relative to the origin
 * ("web", "*.apps", "a.b") or absolute inside the zone ("web.contoso.com.");
 * records are n values written as in a zone file (strings copied). Refused:
 * types other than A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT; NS anywhere (no
 * delegations, Z-1); a CNAME next to other data or with more than one record, or
 * at the apex (which holds the SOA); a second SOA, or one below the apex; a set
 * given twice. Manual sets override autoregistered hosts of the same name (Z-3).
 */
int zone_builder_add_rrset(zone_builder_t *zb, const char *owner_text, uint16_t type, uint32_t ttl,
			   const char *const *records, size_t n, char **why);

/* Set the SOA (once; zone_build() puts MODEL_SOA_DEFAULTS when it is never set). */
int zone_builder_set_soa(zone_builder_t *zb, const zone_soa_spec_t *spec, char **why);

/*
 * Z-3: an automatic A record <hostname>.<zone> for a host of a VNet linked with
 * registration (hostname relative, e.g. "app1"; addr in host byte order).
 * Several hosts of one name share the record set. A manual record set of the
 * same name, of any type, hides it; a build without that manual set shows it
 * again.
 */
int zone_builder_add_host_a(zone_builder_t *zb, const char *hostname, uint32_t addr, uint32_t ttl,
			    char **why);

/*
 * Import an RFC 1035 zone file (read with libzscanner; $ORIGIN, $TTL and
 * $INCLUDE as Knot reads them; the default TTL is 3600). Records of one owner
 * and type form one set (the first TTL wins). NS records at the apex are left
 * out (private zones have none); an SOA is taken as the zone's SOA. The same
 * rules as zone_builder_add_rrset() apply; *why names the file and line.
 * Nothing is added when any record is refused.
 */
int zone_builder_load_file(zone_builder_t *zb, const char *path, char **why);

/* Build the immutable zone (owned); the builder stays usable (copied from). */
int zone_build(const zone_builder_t *zb, zone_t **out);

/* Zones are immutable once built: a holder shares one with zone_share() and
 * lets go of it with zone_destroy(), which frees it with its last holder. */
zone_t *zone_share(zone_t *z);
void zone_destroy(zone_t **zp);

/* ---- Reading a zone ------------------------------------------------------- */

/* Origin, lowercase wire (borrowed, lives as long as the zone). */
const uint8_t *zone_origin(const zone_t *z);
/* The SOA rrset (borrowed). */
const knot_rrset_t *zone_soa(const zone_t *z);
/* Record sets and records in the zone, autoregistered ones included. */
size_t zone_rrset_count(const zone_t *z);
size_t zone_record_count(const zone_t *z);
/* Record set i in canonical order (RFC 4034 §6.1), for export and explain
 * (borrowed); *autoregistered (may be NULL) tells a Z-3 host record. NULL past
 * the end. */
const knot_rrset_t *zone_rrset_at(const zone_t *z, size_t i, bool *autoregistered);

/* ---- Lookup ---------------------------------------------------------------- */

#define ZONE_MAX_ANSWER 8      /* every type a name may hold (qtype ANY) */
#define ZONE_MAX_ADDITIONAL 48 /* A and AAAA of up to 24 MX/SRV targets */

typedef enum zone_result_kind {
	ZONE_ANSWER,   /* answer[] holds the rrset(s) asked for */
	ZONE_CNAME,    /* answer[0] is a CNAME; the resolver chases cname_target (Q-5) */
	ZONE_NODATA,   /* the name exists without that type: soa for the authority section */
	ZONE_NXDOMAIN, /* no such name: soa for the authority section */
} zone_result_kind_t;

/* The outcome of a lookup. Caller-embedded; every pointer is borrowed from the
 * zone and lives as long as it. */
typedef struct zone_result {
	zone_result_kind_t kind;
	/* RFC 4592: the records come from a wildcard; their owner is the query
	 * name (write them with that owner, see zone_result_write()). */
	bool synthesized;
	uint8_t nanswer;
	const knot_rrset_t *answer[ZONE_MAX_ANSWER];
	uint8_t nadditional;
	const knot_rrset_t *additional[ZONE_MAX_ADDITIONAL];
	/* NODATA/NXDOMAIN: the SOA, its TTL min(SOA TTL, minimum) (RFC 2308 §3). */
	const knot_rrset_t *soa;
	uint8_t cname_target[DNS_NAME_MAXLEN]; /* ZONE_CNAME: the target, lowercase wire */
} zone_result_t;

/*
 * Look qname (lowercase wire, e.g. dns_query_t.qname_lower) up for qtype.
 * Allocation-free. A name with a CNAME answers ZONE_CNAME for every type but
 * CNAME itself. qtype ANY answers every rrset of the name (there are at most
 * eight, and private zones are small: no RFC 8482 minimisation). Empty
 * non-terminals exist (NODATA) and block wildcards (RFC 4592 §2.2.2); a
 * wildcard "*.x" answers names below x that do not exist, never x itself.
 * Returns 0 with *out, or PR_ENOTFOUND when qname is not in the zone.
 */
int zone_lookup(const zone_t *z, const uint8_t *qname, uint16_t qtype, zone_result_t *out);

/*
 * Write a result into an answer being built (dns_answer_begin() done): AA set;
 * answer rrsets (owner qname, as borrowed, when synthesized) and the
 * additional records; or the SOA in the authority section and, for NXDOMAIN,
 * that rcode. qname is the name looked up (for a chased CNAME, its target).
 * Returns 0 or what dns_answer_add() returned (-ENOSPC: truncated, Q-7).
 */
int zone_result_write(const zone_result_t *r, const uint8_t *qname, dns_answer_t *a);

/* ---- Dynamic update, aging and scavenging (zones/update.c; E-2, E-4, E-5) ----
 *
 * These work on an external server's zone as the deployment holds it (its
 * JSON resource: recordSets with values as in a zone file, soa), edited in
 * place; control/ validates, persists and publishes the result. Record sets
 * made or changed by update carry "dynamic": true and "timestamp" (Unix
 * seconds); static ones have neither and never age.
 */

typedef struct zone_update_result {
	bool changed;   /* records changed; the SOA serial grew */
	bool refreshed; /* only time stamps moved (a refresh outside no-refresh) */
} zone_update_result_t;

/*
 * Apply an update u (borrowed) to zone, whose apex is apex (lowercase wire):
 * prerequisites first (RFC 2136 §3.2), then a prescan of every change
 * (§3.4.1.3), then the changes (§3.4.2) — all or nothing. now: Unix seconds
 * (an injected clock in tests); aging (borrowed, may be NULL) decides whether a
 * refresh moves time stamps. Returns 0 (NOERROR) with *res, or the RFC 2136
 * rcode (FORMERR, NXDOMAIN, YXDOMAIN, YXRRSET, NXRRSET, NOTZONE), after which
 * zone may be half-edited: pass a copy.
 */
int zone_update_apply(json_t *zone, const uint8_t *apex, const dns_update_t *u, uint64_t now,
		      const model_aging_t *aging, zone_update_result_t *res);

/* E-5: the PTR record owner → target (a name in text) in the reverse zone
 * (apex: lowercase wire), replacing another PTR of that owner, dynamic and
 * stamped now. 0 with *changed, PR_ENOTFOUND when owner is not in the zone. */
int zone_add_ptr(json_t *zone, const uint8_t *apex, const uint8_t *owner, const char *target,
		 uint32_t ttl, uint64_t now, bool *changed);

/* E-4: remove the dynamic record sets whose time stamp + no-refresh + refresh
 * is before now; the serial grows when any was. Nothing when aging is off. */
int zone_scavenge(json_t *zone, const uint8_t *apex, uint64_t now, const model_aging_t *aging,
		  size_t *removed);

/* E-4: is a server's scavenging due at now? Its zones may be scavenged once
 * now >= load time + the refresh interval (hours), then every period (hours,
 * at least MODEL_SCAVENGING_MIN_HOURS); last is the last run (0: never). */
bool zone_scavenging_due(uint32_t period_hours, uint32_t refresh_hours, uint64_t load,
			 uint64_t last, uint64_t now);
