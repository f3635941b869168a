/* Dynamic update (RFC 2136 §3.2–§3.4) and aging and scavenging (E-4) of an
 * external server's zone, applied to the zone as the deployment holds it (its
 * JSON: record sets with values written as in a zone file), so that control/
 * persists and publishes the result like any other change of the resource. */
#include "zones/zones.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* One record set of the zone's JSON, read for comparisons. */
typedef struct rset {
	json_t *json;
	uint8_t owner[DNS_NAME_MAXLEN];
	uint16_t type;
	bool ok; /* readable (a set the model would refuse is skipped) */
} rset_t;

typedef struct upd {
	json_t *zone;
	json_t *sets; /* the zone's recordSets (created when missing) */
	rset_t *idx;  /* each of sets read once, in the same order (an update of
		       * thousands of records stays linear per record) */
	size_t n_idx, cap_idx;
	const uint8_t *apex;
	uint64_t now;
	const model_aging_t *aging;
	bool changed; /* records changed: the serial grows */
	bool stamped; /* only time stamps moved (a refresh, E-4) */
} upd_t;

static bool rset_read(const upd_t *z, json_t *js, rset_t *out)
{
	const char *name = json_string_value(json_object_get(js, "name"));
	const char *type = json_string_value(json_object_get(js, "type"));
	if (!name || !type || dns_rrtype_from_text(type, &out->type) != 0)
		return false;
	char text[DNS_NAME_TEXT_MAX * 2 + 2], apex[DNS_NAME_TEXT_MAX];
	dns_name_to_text(z->apex, apex, sizeof(apex));
	if (!strcmp(name, "@"))
		snprintf(text, sizeof(text), "%s", apex);
	else if (name[0] && name[strlen(name) - 1] == '.')
		snprintf(text, sizeof(text), "%s", name);
	else
		snprintf(text, sizeof(text), "%s.%s", name, apex);
	if (dns_name_from_text(text, out->owner, NULL, NULL) != 0)
		return false;
	out->json = js;
	return true;
}

/* The i-th record set of the zone, or false past the end / unreadable. */
static bool rset_at(const upd_t *z, size_t i, rset_t *out)
{
	if (i >= z->n_idx || !z->idx[i].ok)
		return false;
	*out = z->idx[i];
	return true;
}

static void idx_append(upd_t *z, json_t *js)
{
	if (z->n_idx == z->cap_idx) {
		z->cap_idx = z->cap_idx ? 2 * z->cap_idx : 16;
		z->idx = pr_realloc(z->idx, z->cap_idx * sizeof(rset_t));
	}
	rset_t *r = &z->idx[z->n_idx++];
	r->ok = rset_read(z, js, r);
}

static void set_remove(upd_t *z, size_t i)
{
	json_array_remove(z->sets, i);
	memmove(&z->idx[i], &z->idx[i + 1], (z->n_idx - i - 1) * sizeof(rset_t));
	z->n_idx--;
}

/* Canonical wire of a record value written as in a zone file. */
static bool value_wire(const upd_t *z, uint16_t type, const char *text, uint8_t *out,
		       uint16_t *len)
{
	uint8_t rd[DNS_RDATA_MAXLEN];
	size_t n = 0;
	if (!text || dns_rdata_from_text(type, text, z->apex, rd, sizeof(rd), &n, NULL) != 0)
		return false;
	return dns_rdata_canonical(type, rd, (uint16_t)n, out, len) == 0;
}

/* Index of the record in set equal to rdata (canonical), or -1. */
static int record_index(const upd_t *z, const rset_t *s, const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t want[DNS_RDATA_MAXLEN], have[DNS_RDATA_MAXLEN];
	uint16_t wl, hl;
	if (dns_rdata_canonical(s->type, rdata, rdlen, want, &wl) != 0)
		return -1;
	json_t *recs = json_object_get(s->json, "records");
	for (size_t i = 0; i < json_array_size(recs); i++) {
		const char *t = json_string_value(json_array_get(recs, i));
		if (value_wire(z, s->type, t, have, &hl) && hl == wl && !memcmp(have, want, wl))
			return (int)i;
	}
	return -1;
}

/* The record set (owner, type), or -1. type DNS_TYPE_ANY: any at owner. */
static int find_set(const upd_t *z, const uint8_t *owner, uint16_t type, rset_t *out)
{
	rset_t s;
	for (size_t i = 0; i < z->n_idx; i++)
		if (rset_at(z, i, &s) && dns_name_equal(s.owner, owner) &&
		    (type == DNS_TYPE_ANY || s.type == type) &&
		    json_array_size(json_object_get(s.json, "records"))) {
			if (out)
				*out = s;
			return (int)i;
		}
	return -1;
}

/* ---- prerequisites (RFC 2136 §3.2) ------------------------------------------- */

/* Types that name no record set of values: ANY, AXFR, IXFR, MAILA, MAILB,
 * TKEY, TSIG (249-255) and OPT. */
static bool is_meta_type(uint16_t type)
{
	return type == DNS_TYPE_ANY || (type >= 249 && type <= 254) || type == 41;
}

/* §3.2.3: the RRset (owner, type) holds exactly the values the prerequisites
 * of that owner and type list. */
static bool rrset_matches(const upd_t *z, const dns_update_rr_t *pre, size_t n,
			  const dns_update_rr_t *p)
{
	rset_t s;
	if (find_set(z, p->owner, p->type, &s) < 0)
		return false;
	size_t wanted = 0;
	for (size_t i = 0; i < n; i++) {
		const dns_update_rr_t *q = &pre[i];
		if (q->rclass != DNS_CLASS_IN || q->type != p->type ||
		    !dns_name_equal(q->owner, p->owner))
			continue;
		if (record_index(z, &s, q->rdata, q->rdlen) < 0)
			return false;
		wanted++;
	}
	/* duplicates in the prerequisites count once (a set); compare sizes
	 * only when they can't be duplicates */
	return json_array_size(json_object_get(s.json, "records")) <= wanted;
}

static int check_prereq(const upd_t *z, const dns_update_rr_t *pre, size_t n,
			const dns_update_rr_t *p)
{
	if (p->ttl != 0)
		return DNS_RCODE_FORMERR;
	if (!dns_name_is_under(p->owner, z->apex))
		return DNS_RCODE_NOTZONE;
	if (p->rclass == DNS_CLASS_ANY) {
		if (p->rdlen)
			return DNS_RCODE_FORMERR;
		if (p->type == DNS_TYPE_ANY) /* name is in use */
			return find_set(z, p->owner, DNS_TYPE_ANY, NULL) >= 0
				       ? 0 : DNS_RCODE_NXDOMAIN;
		return find_set(z, p->owner, p->type, NULL) >= 0 ? 0 : DNS_RCODE_NXRRSET;
	}
	if (p->rclass == DNS_CLASS_NONE) {
		if (p->rdlen)
			return DNS_RCODE_FORMERR;
		if (p->type == DNS_TYPE_ANY) /* name is not in use */
			return find_set(z, p->owner, DNS_TYPE_ANY, NULL) < 0
				       ? 0 : DNS_RCODE_YXDOMAIN;
		return find_set(z, p->owner, p->type, NULL) < 0 ? 0 : DNS_RCODE_YXRRSET;
	}
	if (p->rclass == DNS_CLASS_IN) /* §2.4.2: values of one real type */
		return is_meta_type(p->type) ? DNS_RCODE_FORMERR
		       : rrset_matches(z, pre, n, p) ? 0 : DNS_RCODE_NXRRSET;
	return DNS_RCODE_FORMERR;
}

/* ---- the update section (RFC 2136 §3.4) -------------------------------------- */

/* §3.4.1.3 prescan: every change is well formed before any is applied. */
static int prescan(const upd_t *z, const dns_update_rr_t *c)
{
	if (!dns_name_is_under(c->owner, z->apex))
		return DNS_RCODE_NOTZONE;
	switch (c->rclass) {
	case DNS_CLASS_IN:
		if (is_meta_type(c->type) || !c->rdlen)
			return DNS_RCODE_FORMERR;
		return 0;
	case DNS_CLASS_ANY:
		return c->ttl || c->rdlen ? DNS_RCODE_FORMERR : 0;
	case DNS_CLASS_NONE:
		return c->ttl || c->type == DNS_TYPE_ANY ? DNS_RCODE_FORMERR : 0;
	default:
		return DNS_RCODE_FORMERR;
	}
}

/* The owner relative to the apex, as the deployment writes it ("@", "host"). */
static char *relative_owner(const upd_t *z, const uint8_t *owner)
{
	if (dns_name_equal(owner, z->apex))
		return pr_strdup("@");
	char text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(owner, text, sizeof(text));
	size_t cut = strlen(text) - dns_name_wire_length(z->apex); /* the dot before the apex */
	text[cut] = 0;
	return pr_strdup(text);
}

/* E-2, E-4: a set changed by update is dynamic and time-stamped now. */
static void stamp(upd_t *z, json_t *set)
{
	json_object_set_new(set, "dynamic", json_true());
	json_object_set_new(set, "timestamp", json_integer((json_int_t)z->now));
}

/* E-4: a refresh (an update that changes nothing) moves the time stamp of a
 * dynamic set, except during its no-refresh interval. */
static void refresh(upd_t *z, json_t *set)
{
	if (!json_is_true(json_object_get(set, "dynamic")) || !z->aging || !z->aging->enabled)
		return;
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(set, "timestamp"));
	if (z->now < ts + (uint64_t)z->aging->no_refresh_hours * 3600)
		return;
	json_object_set_new(set, "timestamp", json_integer((json_int_t)z->now));
	z->stamped = true;
}

static json_t *new_set(upd_t *z, const dns_update_rr_t *c)
{
	char *owner = relative_owner(z, c->owner);
	char type[16];
	json_t *set = json_pack("{s:s, s:s, s:I, s:[]}", "name", owner, "type",
				dns_rrtype_to_text(c->type, type, sizeof(type)), "ttl",
				(json_int_t)c->ttl, "records");
	free(owner);
	json_array_append_new(z->sets, set);
	idx_append(z, set);
	return set;
}

/* §3.4.2.2 with Windows' rules: a CNAME and other data don't mix (the change
 * is ignored); an A record for a name whose A records hold other addresses
 * replaces them (E-2), once per name in an update. */
static int add_record(upd_t *z, const dns_update_rr_t *c, uint8_t (*replaced)[DNS_NAME_MAXLEN],
		      size_t *n_replaced)
{
	rset_t s;
	if (c->type == 6) /* [privres] the SOA is the server's own: ignored */
		return 0;
	bool has_cname = find_set(z, c->owner, 5, NULL) >= 0;
	bool has_other = false;
	for (size_t i = 0; i < z->n_idx; i++)
		if (rset_at(z, i, &s) && dns_name_equal(s.owner, c->owner) && s.type != 5 &&
		    json_array_size(json_object_get(s.json, "records")))
			has_other = true;
	if ((c->type == 5 && has_other) || (c->type != 5 && has_cname))
		return 0;
	char text[DNS_NAME_TEXT_MAX * 2];
	if (dns_rdata_text(c->type, c->rdata, c->rdlen, text, sizeof(text)) < 0)
		return DNS_RCODE_FORMERR;
	json_t *set = find_set(z, c->owner, c->type, &s) >= 0 ? s.json : NULL;
	if (!set) {
		set = new_set(z, c);
		s.json = set;
		s.type = c->type;
	}
	json_t *recs = json_object_get(set, "records");
	bool before = z->changed; /* this record's own change decides its stamp */
	z->changed = false;
	bool first = true;
	for (size_t i = 0; i < *n_replaced; i++)
		if (dns_name_equal(replaced[i], c->owner))
			first = false;
	if (c->type == 1 && first) {
		memcpy(replaced[(*n_replaced)++], c->owner, DNS_NAME_MAXLEN);
		int at = record_index(z, &s, c->rdata, c->rdlen);
		if (json_array_size(recs) != (at >= 0 ? 1u : 0u)) {
			json_array_clear(recs);
			z->changed = true;
		}
	}
	if (c->type == 5 || record_index(z, &s, c->rdata, c->rdlen) < 0) {
		if (c->type == 5) /* one CNAME: a new target replaces the old */
			json_array_clear(recs);
		json_array_append_new(recs, json_string(text));
		z->changed = true;
	}
	if ((json_int_t)c->ttl != json_integer_value(json_object_get(set, "ttl"))) {
		json_object_set_new(set, "ttl", json_integer((json_int_t)c->ttl));
		z->changed = true;
	}
	if (z->changed)
		stamp(z, set);
	else
		refresh(z, set);
	z->changed |= before;
	return 0;
}

/* §3.4.2.3: the apex keeps its SOA (and NS). */
static bool apex_protected(const upd_t *z, const uint8_t *owner, uint16_t type)
{
	return dns_name_equal(owner, z->apex) && (type == 6 || type == 2);
}

static void delete_sets(upd_t *z, const dns_update_rr_t *c)
{
	rset_t s;
	for (size_t i = z->n_idx; i-- > 0;) {
		if (!rset_at(z, i, &s) || !dns_name_equal(s.owner, c->owner) ||
		    (c->type != DNS_TYPE_ANY && s.type != c->type) ||
		    apex_protected(z, s.owner, s.type))
			continue;
		set_remove(z, i);
		z->changed = true;
	}
}

static void delete_record(upd_t *z, const dns_update_rr_t *c)
{
	rset_t s;
	int i = find_set(z, c->owner, c->type, &s);
	if (i < 0 || apex_protected(z, c->owner, c->type))
		return;
	int at = record_index(z, &s, c->rdata, c->rdlen);
	if (at < 0)
		return;
	json_t *recs = json_object_get(s.json, "records");
	json_array_remove(recs, (size_t)at);
	if (!json_array_size(recs))
		set_remove(z, (size_t)i);
	z->changed = true;
}

static void bump_serial(json_t *zone)
{
	json_t *soa = json_object_get(zone, "soa");
	if (!json_is_object(soa)) {
		soa = json_object();
		json_object_set_new(zone, "soa", soa);
	}
	json_t *v = json_object_get(soa, "serialNumber");
	uint64_t serial = json_is_integer(v) ? (uint64_t)json_integer_value(v)
					     : MODEL_SOA_DEFAULTS.serial;
	/* RFC 1982 serial arithmetic: it wraps, and 0 is skipped for readers
	 * who take it for "unset" */
	serial = (serial + 1) & 0xffffffffu;
	json_object_set_new(soa, "serialNumber", json_integer((json_int_t)(serial ? serial : 1)));
}

static upd_t upd_init(json_t *zone, const uint8_t *apex, uint64_t now, const model_aging_t *aging)
{
	json_t *sets = json_object_get(zone, "recordSets");
	if (!json_is_array(sets)) {
		sets = json_array();
		json_object_set_new(zone, "recordSets", sets);
	}
	upd_t z = {.zone = zone, .sets = sets, .apex = apex, .now = now, .aging = aging};
	for (size_t i = 0; i < json_array_size(sets); i++)
		idx_append(&z, json_array_get(sets, i));
	return z;
}

static void upd_fini(upd_t *z)
{
	free(z->idx);
}

int zone_update_apply(json_t *zone, const uint8_t *apex, const dns_update_t *u, uint64_t now,
		      const model_aging_t *aging, zone_update_result_t *res)
{
	upd_t z = upd_init(zone, apex, now, aging);
	size_t np, nc;
	const dns_update_rr_t *pre = dns_update_prereqs(u, &np);
	const dns_update_rr_t *chg = dns_update_changes(u, &nc);
	*res = (zone_update_result_t){0};
	int rc = 0;
	for (size_t i = 0; i < np && !rc; i++)
		rc = check_prereq(&z, pre, np, &pre[i]);
	for (size_t i = 0; i < nc && !rc; i++)
		rc = prescan(&z, &chg[i]);
	if (rc) {
		upd_fini(&z);
		return rc;
	}
	uint8_t(*replaced)[DNS_NAME_MAXLEN] = pr_calloc(nc + 1, DNS_NAME_MAXLEN);
	size_t n_replaced = 0;
	for (size_t i = 0; i < nc && !rc; i++) {
		const dns_update_rr_t *c = &chg[i];
		if (c->rclass == DNS_CLASS_IN)
			rc = add_record(&z, c, replaced, &n_replaced);
		else if (c->rclass == DNS_CLASS_ANY)
			delete_sets(&z, c);
		else
			delete_record(&z, c);
	}
	free(replaced);
	upd_fini(&z);
	if (rc)
		return rc;
	if (z.changed)
		bump_serial(zone);
	res->changed = z.changed;
	res->refreshed = z.stamped;
	return 0;
}

int zone_add_ptr(json_t *zone, const uint8_t *apex, const uint8_t *owner, const char *target,
		 uint32_t ttl, uint64_t now, bool *changed)
{
	upd_t z = upd_init(zone, apex, now, NULL);
	uint8_t rd[DNS_NAME_MAXLEN];
	dns_name_info_t info;
	if (dns_name_from_text(target, rd, &info, NULL) != 0)
		return PR_EPARSE;
	dns_update_rr_t c = {.type = 12, .rclass = DNS_CLASS_IN, .ttl = ttl,
			     .rdlen = (uint16_t)info.wire_len, .rdata = rd};
	memcpy(c.owner, owner, dns_name_wire_length(owner));
	if (!dns_name_is_under(c.owner, apex)) {
		upd_fini(&z);
		return PR_ENOTFOUND;
	}
	/* one PTR per address, as the DHCP server registers it */
	rset_t s;
	int at = find_set(&z, c.owner, 12, &s);
	int rc = 0;
	if (at >= 0 && record_index(&z, &s, c.rdata, c.rdlen) >= 0 &&
	    json_array_size(json_object_get(s.json, "records")) == 1) {
		refresh(&z, s.json);
	} else {
		if (at >= 0) {
			set_remove(&z, (size_t)at);
			z.changed = true;
		}
		size_t none = 0;
		rc = add_record(&z, &c, NULL, &none);
	}
	upd_fini(&z);
	if (rc == 0 && z.changed)
		bump_serial(zone);
	*changed = z.changed || z.stamped;
	return rc ? PR_EPARSE : 0;
}

int zone_scavenge(json_t *zone, const uint8_t *apex, uint64_t now, const model_aging_t *aging,
		  size_t *removed)
{
	*removed = 0;
	if (!aging || !aging->enabled)
		return 0;
	upd_t z = upd_init(zone, apex, now, aging);
	uint64_t life = ((uint64_t)aging->no_refresh_hours + aging->refresh_hours) * 3600;
	for (size_t i = json_array_size(z.sets); i-- > 0;) {
		json_t *set = json_array_get(z.sets, i);
		json_int_t ts = json_integer_value(json_object_get(set, "timestamp"));
		/* E-4: static sets (time stamp 0) never age */
		if (!json_is_true(json_object_get(set, "dynamic")) || ts <= 0)
			continue;
		if ((uint64_t)ts + life < now) {
			set_remove(&z, i);
			(*removed)++;
		}
	}
	upd_fini(&z);
	if (*removed)
		bump_serial(zone);
	return 0;
}

bool zone_scavenging_due(uint32_t period_hours, uint32_t refresh_hours, uint64_t load,
			 uint64_t last, uint64_t now)
{
	if (period_hours < MODEL_SCAVENGING_MIN_HOURS)
		period_hours = MODEL_SCAVENGING_MIN_HOURS;
	if (now < load + (uint64_t)refresh_hours * 3600)
		return false;
	return !last || now >= last + (uint64_t)period_hours * 3600;
}
