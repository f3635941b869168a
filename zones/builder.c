/* Putting a zone together: record sets from text, the SOA (Z-2), host
 * autoregistration (Z-3) and zone-file import, with the rules of Z-1 checked as
 * each set comes in so the message can name it. */
#include <libzscanner/scanner.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "zones/zones_p.h"

char *zone_soa_text(const zone_soa_spec_t *s)
{
	return pr_asprintf("%s %s %u %u %u %u %u", s->host ? s->host : MODEL_SOA_HOST,
			   s->email ? s->email : MODEL_SOA_EMAIL, s->serial, s->refresh, s->retry,
			   s->expire, s->minimum);
}

static int fail(char **why, int code, char *msg)
{
	if (why)
		*why = msg;
	else
		free(msg);
	return code;
}

int zone_builder_new(const char *origin_text, zone_builder_t **out, char **why)
{
	uint8_t wire[DNS_NAME_MAXLEN];
	const char *reason = NULL;
	dns_name_info_t info;
	if (dns_name_from_text(origin_text, wire, &info, &reason) != 0)
		return fail(why, PR_EPARSE,
			    pr_asprintf("zone name \"%s\": %s", origin_text ? origin_text : "",
					reason));
	if (info.labels == 0)
		return fail(why, PR_EPARSE, pr_strdup("the root can't be a zone here"));
	zone_builder_t *zb = pr_calloc(1, sizeof(*zb));
	memcpy(zb->origin, wire, info.wire_len);
	dns_name_to_text(zb->origin, zb->origin_text, sizeof(zb->origin_text));
	*out = zb;
	return 0;
}

void zone_builder_destroy(zone_builder_t **zbp)
{
	if (!zbp || !*zbp)
		return;
	zone_builder_t *zb = *zbp;
	for (size_t i = 0; i < zb->n; i++) {
		free(zb->entries[i].owner);
		knot_rdataset_clear(&zb->entries[i].rrs, NULL);
	}
	free(zb->entries);
	free(zb->buckets);
	free(zb);
	*zbp = NULL;
}

/* Owner text to lowercase wire inside the zone. */
static int owner_from_text(const zone_builder_t *zb, const char *text, uint8_t *wire, char **why)
{
	if (!text || strcmp(text, "@") == 0 || *text == '\0') {
		memcpy(wire, zb->origin, knot_dname_size(zb->origin));
		return 0;
	}
	uint8_t rel[DNS_NAME_MAXLEN];
	dns_name_info_t info;
	const char *reason = NULL;
	if (dns_name_from_text(text, rel, &info, &reason) != 0)
		return fail(why, PR_EPARSE, pr_asprintf("name \"%s\": %s", text, reason));
	if (info.absolute) {
		if (!dns_name_is_under(rel, zb->origin))
			return fail(why, PR_ECONFIG,
				    pr_asprintf("name \"%s\" is outside the zone %s", text,
						zb->origin_text));
		memcpy(wire, rel, info.wire_len);
		return 0;
	}
	size_t olen = knot_dname_size(zb->origin);
	if (info.wire_len - 1 + olen > DNS_NAME_MAXLEN)
		return fail(why, PR_EPARSE,
			    pr_asprintf("name \"%s\" with the zone %s is longer than 255 octets",
					text, zb->origin_text));
	memcpy(wire, rel, info.wire_len - 1);
	memcpy(wire + info.wire_len - 1, zb->origin, olen);
	return 0;
}

static zb_entry_t *find_entry(const zone_builder_t *zb, const uint8_t *owner, uint16_t type,
			      bool autoreg)
{
	for (uint32_t j = zb_chain(zb, owner); j; j = zb->entries[j - 1].next) {
		zb_entry_t *e = &zb->entries[j - 1];
		if (e->type == type && e->autoreg == autoreg &&
		    knot_dname_is_equal(e->owner, owner))
			return e;
	}
	return NULL;
}

static char *owner_text(const uint8_t *owner)
{
	char buf[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(owner, buf, sizeof(buf)) < 0)
		return pr_strdup("?");
	return pr_strdup(buf);
}

/* Z-1 and Z-2 (their home is model/) for a set of (type, n records) about to
 * join owner, beside the manual sets already there. */
static int check_set(const zone_builder_t *zb, const uint8_t *owner, uint16_t type, size_t n,
		     uint32_t ttl, char **why)
{
	char tname[32];
	dns_rrtype_to_text(type, tname, sizeof(tname));
	int code = PR_ECONFIG;
	const char *rule = NULL;
	const char *fault =
		model_zone_set_fault(type, n, knot_dname_is_equal(owner, zb->origin), &rule);
	for (uint32_t j = zb_chain(zb, owner); j && !fault; j = zb->entries[j - 1].next) {
		const zb_entry_t *e = &zb->entries[j - 1];
		if (!e->autoreg && knot_dname_is_equal(e->owner, owner))
			fault = model_zone_pair_fault(type, e->type, &rule, &code);
	}
	char *name = owner_text(owner), *msg = NULL;
	if (fault)
		msg = pr_asprintf("%s %s: %s (%s)", name, tname, fault, rule);
	else if (ttl > ZONE_TTL_MAX)
		msg = pr_asprintf("%s %s: TTL %u is above %u (RFC 2181 §8)", name, tname, ttl,
				  ZONE_TTL_MAX);
	free(name);
	return msg ? fail(why, code, msg) : 0;
}

static void chain_push(zone_builder_t *zb, uint32_t i)
{
	uint32_t *b = &zb->buckets[zone_name_hash(zb->entries[i].owner) & zb->mask];
	zb->entries[i].next = *b;
	*b = i + 1;
}

static zb_entry_t *new_entry(zone_builder_t *zb, const uint8_t *owner, uint16_t type,
			     uint32_t ttl, bool autoreg)
{
	pr_grow(&zb->entries, &zb->cap, zb->n + 1, sizeof(*zb->entries));
	zb_entry_t *e = &zb->entries[zb->n++];
	memset(e, 0, sizeof(*e));
	e->owner = pr_malloc(knot_dname_size(owner));
	memcpy(e->owner, owner, knot_dname_size(owner));
	e->type = type;
	e->ttl = ttl;
	e->autoreg = autoreg;
	knot_rdataset_init(&e->rrs);
	if (zb->n * 2 > zb->mask + 1 || !zb->buckets) {
		/* Rehash in index order: each chain stays newest first. */
		size_t cap = zb->buckets ? (zb->mask + 1) * 2 : 64;
		free(zb->buckets);
		zb->buckets = pr_calloc(cap, sizeof(*zb->buckets));
		zb->mask = cap - 1;
		for (size_t i = 0; i < zb->n; i++)
			chain_push(zb, (uint32_t)i);
	} else {
		chain_push(zb, (uint32_t)(zb->n - 1));
	}
	return e;
}

static void drop_last_entries(zone_builder_t *zb, size_t keep)
{
	while (zb->n > keep) {
		zb_entry_t *e = &zb->entries[--zb->n];
		uint32_t *b = &zb->buckets[zone_name_hash(e->owner) & zb->mask];
		PR_REQUIRE(*b == zb->n + 1); /* the newest entry heads its chain */
		*b = e->next;
		free(e->owner);
		knot_rdataset_clear(&e->rrs, NULL);
	}
}

static int add_rdata(zb_entry_t *e, const uint8_t *rd, size_t len)
{
	uint8_t buf[sizeof(knot_rdata_t) + 256];
	knot_rdata_t *r = len <= 256 ? (knot_rdata_t *)buf : pr_malloc(knot_rdata_size(len));
	knot_rdata_init(r, (uint16_t)len, rd);
	int ret = knot_rdataset_add(&e->rrs, r, NULL);
	if ((uint8_t *)r != buf)
		free(r);
	return ret == KNOT_EOK ? 0 : -ENOMEM;
}

int zone_builder_add_rrset(zone_builder_t *zb, const char *owner_txt, uint16_t type, uint32_t ttl,
			   const char *const *records, size_t n, char **why)
{
	PR_REQUIRE(zb);
	uint8_t owner[DNS_NAME_MAXLEN];
	int ret = owner_from_text(zb, owner_txt, owner, why);
	if (ret != 0)
		return ret;
	ret = check_set(zb, owner, type, n, ttl, why);
	if (ret != 0)
		return ret;

	uint8_t *rd = pr_malloc(DNS_RDATA_MAXLEN);
	size_t keep = zb->n;
	zb_entry_t *e = new_entry(zb, owner, type, ttl, false);
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		char *reason = NULL;
		ret = dns_rdata_from_text(type, records[i], zb->origin, rd, DNS_RDATA_MAXLEN, &len,
					  &reason);
		if (ret != 0) {
			ret = fail(why, ret, pr_asprintf("records[%zu]: %s", i, reason));
			free(reason);
			break;
		}
		if ((ret = add_rdata(e, rd, len)) != 0)
			break;
	}
	free(rd);
	if (ret != 0) {
		drop_last_entries(zb, keep);
		return ret;
	}
	if (type == KNOT_RRTYPE_SOA)
		zb->has_soa = true;
	return 0;
}

int zone_builder_set_soa(zone_builder_t *zb, const zone_soa_spec_t *spec, char **why)
{
	PR_REQUIRE(zb && spec);
	char *text = zone_soa_text(spec);
	const char *records[] = {text};
	int ret = zone_builder_add_rrset(zb, "@", KNOT_RRTYPE_SOA, spec->ttl, records, 1, why);
	free(text);
	return ret;
}

int zone_builder_add_host_a(zone_builder_t *zb, const char *hostname, uint32_t addr, uint32_t ttl,
			    char **why)
{
	PR_REQUIRE(zb);
	uint8_t owner[DNS_NAME_MAXLEN];
	if (!hostname || !*hostname || strcmp(hostname, "@") == 0)
		return fail(why, PR_EPARSE, pr_strdup("a host needs a name"));
	int ret = owner_from_text(zb, hostname, owner, why);
	if (ret != 0)
		return ret;
	if (ttl > ZONE_TTL_MAX)
		return fail(why, PR_ECONFIG, pr_asprintf("TTL %u is above %u", ttl, ZONE_TTL_MAX));
	/* Several hosts of one name share one set (the build decides whether a
	 * manual set hides it, Z-3). */
	zb_entry_t *e = find_entry(zb, owner, KNOT_RRTYPE_A, true);
	if (!e)
		e = new_entry(zb, owner, KNOT_RRTYPE_A, ttl, true);
	uint8_t rd[4] = {(uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
			 (uint8_t)addr};
	return add_rdata(e, rd, sizeof(rd));
}

/* ---- Zone files ----------------------------------------------------------- */

typedef struct load_ctx {
	zone_builder_t *zb;
	const char *path;
	size_t first; /* entries from this file start here: they may merge */
	int ret;
	char *msg;
} load_ctx_t;

static void load_record(zs_scanner_t *s)
{
	load_ctx_t *c = s->process.data;
	zone_builder_t *zb = c->zb;
	uint8_t owner[DNS_NAME_MAXLEN];
	char *reason = NULL;
	int ret = 0;

	knot_dname_copy_lower(owner, s->r_owner);
	char *name = owner_text(owner);
	if (!dns_name_is_under(owner, zb->origin)) {
		ret = fail(&reason, PR_ECONFIG,
			   pr_asprintf("%s is outside the zone %s", name, zb->origin_text));
	} else if (s->r_class != KNOT_CLASS_IN) {
		ret = fail(&reason, PR_ECONFIG, pr_asprintf("%s: only class IN is served", name));
	} else if (s->r_type == KNOT_RRTYPE_NS && knot_dname_is_equal(owner, zb->origin)) {
		goto done; /* private zones have no NS records: leave them out */
	} else {
		zb_entry_t *e = NULL;
		for (uint32_t j = zb_chain(zb, owner); j && !e; j = zb->entries[j - 1].next)
			if (j - 1 >= c->first && zb->entries[j - 1].type == s->r_type &&
			    knot_dname_is_equal(zb->entries[j - 1].owner, owner))
				e = &zb->entries[j - 1];
		if (e && s->r_type == KNOT_RRTYPE_CNAME) {
			ret = fail(&reason, PR_ECONFIG,
				   pr_asprintf("%s: a CNAME record set holds one record "
					       "(RFC 1034 §3.6.2)", name));
		} else if (!e) {
			ret = check_set(zb, owner, s->r_type, 1, s->r_ttl, &reason);
			if (ret == 0) {
				e = new_entry(zb, owner, s->r_type, s->r_ttl, false);
				if (s->r_type == KNOT_RRTYPE_SOA)
					zb->has_soa = true;
			}
		}
		if (ret == 0 && e->type == KNOT_RRTYPE_SOA && e->rrs.count > 0) {
			ret = fail(&reason, PR_ECONFIG,
				   pr_asprintf("%s: a zone has one SOA (Z-2)", name));
		}
		if (ret == 0)
			ret = add_rdata(e, s->r_data, s->r_data_length);
	}
	if (ret != 0) {
		c->ret = ret;
		c->msg = pr_asprintf("%s:%llu: %s", c->path, (unsigned long long)s->line_counter,
				     reason ? reason : pr_strerror(ret));
		s->state = ZS_STATE_STOP;
	}
done:
	free(reason);
	free(name);
}

static void load_error(zs_scanner_t *s)
{
	load_ctx_t *c = s->process.data;
	c->ret = PR_EPARSE;
	c->msg = pr_asprintf("%s:%llu: %s", c->path, (unsigned long long)s->line_counter,
			     zs_strerror(s->error.code));
	s->state = ZS_STATE_STOP;
}

int zone_builder_load_file(zone_builder_t *zb, const char *path, char **why)
{
	PR_REQUIRE(zb && path);
	load_ctx_t c = {.zb = zb, .path = path, .first = zb->n};
	bool had_soa = zb->has_soa;
	zs_scanner_t *s = pr_malloc(sizeof(*s)); /* ~200 KB */
	int ret = 0;
	if (zs_init(s, zb->origin_text, KNOT_CLASS_IN, MODEL_DEFAULT_TTL) != 0) {
		free(s);
		return fail(why, PR_EPARSE, pr_strdup("cannot start the zone-file scanner"));
	}
	if (zs_set_input_file(s, path) != 0) {
		ret = fail(why, PR_EIO, pr_asprintf("%s: %s", path, zs_strerror(s->error.code)));
		goto cleanup;
	}
	zs_set_processing(s, load_record, load_error, &c);
	if (zs_parse_all(s) != 0 && c.ret == 0) {
		c.ret = PR_EPARSE;
		c.msg = pr_asprintf("%s:%llu: %s", path, (unsigned long long)s->line_counter,
				    zs_strerror(s->error.code));
	}
	if (c.ret != 0) {
		/* All or nothing: a refused file adds no record. */
		drop_last_entries(zb, c.first);
		zb->has_soa = had_soa;
		ret = fail(why, c.ret, c.msg);
		c.msg = NULL;
	}
cleanup:
	free(c.msg);
	zs_deinit(s);
	free(s);
	return ret;
}
