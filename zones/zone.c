/* The built zone: record sets in canonical order, one node per name that exists
 * (empty non-terminals included, RFC 4592 §2.2.2), found through a name→index
 * map (base/) of lowercase wire names. Immutable once built, so lookups
 * from many threads need no lock and allocate nothing. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "zones/zones_p.h"

typedef struct zone_node {
	uint8_t *name;   /* lowercase wire (owned) */
	uint32_t first;  /* its rrsets: rrsets[first .. first + count) */
	uint16_t count;  /* 0: an empty non-terminal */
} zone_node_t;

struct zone {
	_Atomic unsigned refs; /* snapshots share a zone a change left alone */
	uint8_t *origin;
	knot_rrset_t *rrsets; /* owners point to node names; rdatasets owned */
	bool *autoreg;        /* per rrset: a Z-3 host record */
	size_t nrrsets, nrecords;
	zone_node_t *nodes;
	size_t nnodes;
	pr_map_t *index; /* lowercase wire name → node index */
	const knot_rrset_t *soa;
	knot_rrset_t soa_negative; /* RFC 2308 §3: TTL min(SOA TTL, minimum) */
};

static const zone_node_t *find_node(const zone_t *z, const uint8_t *name)
{
	int i = pr_map_get(z->index, name, knot_dname_size(name));
	return i < 0 ? NULL : &z->nodes[i];
}

/* ---- Build ------------------------------------------------------------------ */

typedef struct build_item {
	const zb_entry_t *e;
} build_item_t;

static int item_cmp(const void *a, const void *b)
{
	const zb_entry_t *x = ((const build_item_t *)a)->e, *y = ((const build_item_t *)b)->e;
	int c = knot_dname_cmp(x->owner, y->owner);
	if (c != 0)
		return c;
	return (int)x->type - (int)y->type;
}

static int name_cmp(const void *a, const void *b)
{
	return knot_dname_cmp(*(uint8_t *const *)a, *(uint8_t *const *)b);
}

static bool has_manual(const zone_builder_t *zb, const uint8_t *owner)
{
	for (uint32_t j = zb_chain(zb, owner); j; j = zb->entries[j - 1].next) {
		const zb_entry_t *e = &zb->entries[j - 1];
		if (!e->autoreg && knot_dname_is_equal(e->owner, owner))
			return true;
	}
	return false;
}

/* Z-2: the default SOA, for a builder that was never given one. */
static void default_soa(const zone_builder_t *zb, zb_entry_t *e)
{
	zone_soa_spec_t d = MODEL_SOA_DEFAULTS;
	char *text = zone_soa_text(&d);
	uint8_t rd[2 * DNS_NAME_MAXLEN + 20];
	uint8_t buf[sizeof(knot_rdata_t) + sizeof(rd)];
	size_t len = 0;
	int ret = dns_rdata_from_text(KNOT_RRTYPE_SOA, text, zb->origin, rd, sizeof(rd), &len,
				      NULL);
	PR_REQUIRE(ret == 0);
	free(text);
	memset(e, 0, sizeof(*e));
	e->owner = (uint8_t *)zb->origin;
	e->type = KNOT_RRTYPE_SOA;
	e->ttl = d.ttl;
	knot_rdataset_init(&e->rrs);
	knot_rdata_init((knot_rdata_t *)buf, (uint16_t)len, rd);
	ret = knot_rdataset_add(&e->rrs, (knot_rdata_t *)buf, NULL);
	PR_REQUIRE(ret == KNOT_EOK);
}

int zone_build(const zone_builder_t *zb, zone_t **out)
{
	PR_REQUIRE(zb && out);
	zb_entry_t soa_default = {0};
	if (!zb->has_soa)
		default_soa(zb, &soa_default);

	/* Z-3: a host record shows only when no manual set has its name. */
	build_item_t *items = pr_calloc(zb->n + 1, sizeof(*items));
	size_t nitems = 0;
	for (size_t i = 0; i < zb->n; i++) {
		const zb_entry_t *e = &zb->entries[i];
		if (e->autoreg && has_manual(zb, e->owner))
			continue;
		items[nitems++].e = e;
	}
	if (!zb->has_soa)
		items[nitems++].e = &soa_default;
	qsort(items, nitems, sizeof(*items), item_cmp);

	/* Every owner and every name between an owner and the origin exists. */
	uint8_t **names = NULL;
	size_t nnames = 0, names_cap = 0;
	size_t origin_labels = knot_dname_labels(zb->origin, NULL);
	for (size_t i = 0; i < nitems; i++) {
		const uint8_t *name = items[i].e->owner;
		for (size_t l = knot_dname_labels(name, NULL); l >= origin_labels; l--) {
			pr_grow(&names, &names_cap, nnames + 1, sizeof(*names));
			names[nnames++] = (uint8_t *)name;
			if (l == origin_labels)
				break;
			name = knot_wire_next_label(name, NULL);
		}
	}
	qsort(names, nnames, sizeof(*names), name_cmp);

	zone_t *z = pr_calloc(1, sizeof(*z));
	atomic_init(&z->refs, 1);
	z->origin = knot_dname_copy(zb->origin, NULL);
	z->nodes = pr_calloc(nnames ? nnames : 1, sizeof(*z->nodes));
	z->rrsets = pr_calloc(nitems ? nitems : 1, sizeof(*z->rrsets));
	z->autoreg = pr_calloc(nitems ? nitems : 1, sizeof(*z->autoreg));
	size_t it = 0;
	for (size_t i = 0; i < nnames; i++) {
		if (i > 0 && knot_dname_is_equal(names[i], names[i - 1]))
			continue;
		zone_node_t *node = &z->nodes[z->nnodes++];
		node->name = knot_dname_copy(names[i], NULL);
		node->first = (uint32_t)z->nrrsets;
		/* items are in the same canonical order as names. */
		while (it < nitems && knot_dname_is_equal(items[it].e->owner, node->name)) {
			const zb_entry_t *e = items[it].e;
			knot_rrset_t *rr = &z->rrsets[z->nrrsets];
			knot_rrset_init(rr, node->name, e->type, KNOT_CLASS_IN, e->ttl);
			int ret = knot_rdataset_copy(&rr->rrs, &e->rrs, NULL);
			PR_REQUIRE(ret == KNOT_EOK);
			z->autoreg[z->nrrsets] = e->autoreg;
			z->nrecords += rr->rrs.count;
			if (e->type == KNOT_RRTYPE_SOA)
				z->soa = rr;
			z->nrrsets++;
			node->count++;
			it++;
		}
	}
	PR_REQUIRE(it == nitems && z->soa);

	z->index = pr_map_new();
	for (size_t i = 0; i < z->nnodes; i++)
		pr_map_put(z->index, z->nodes[i].name, knot_dname_size(z->nodes[i].name), (int)i,
			   NULL);

	z->soa_negative = *z->soa;
	uint32_t minimum = knot_soa_minimum(z->soa->rrs.rdata);
	if (minimum < z->soa_negative.ttl)
		z->soa_negative.ttl = minimum;

	free(names);
	free(items);
	knot_rdataset_clear(&soa_default.rrs, NULL);
	*out = z;
	return 0;
}

void zone_destroy(zone_t **zp)
{
	if (!zp || !*zp)
		return;
	zone_t *z = *zp;
	*zp = NULL;
	if (atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < z->nrrsets; i++)
		knot_rdataset_clear(&z->rrsets[i].rrs, NULL);
	for (size_t i = 0; i < z->nnodes; i++)
		knot_dname_free(z->nodes[i].name, NULL);
	free(z->rrsets);
	free(z->autoreg);
	free(z->nodes);
	pr_map_destroy(&z->index);
	knot_dname_free(z->origin, NULL);
	free(z);
}

zone_t *zone_share(zone_t *z)
{
	atomic_fetch_add_explicit(&z->refs, 1, memory_order_relaxed);
	return z;
}

/* ---- Reading ---------------------------------------------------------------- */

const uint8_t *zone_origin(const zone_t *z)
{
	return z->origin;
}

const knot_rrset_t *zone_soa(const zone_t *z)
{
	return z->soa;
}

size_t zone_rrset_count(const zone_t *z)
{
	return z->nrrsets;
}

size_t zone_record_count(const zone_t *z)
{
	return z->nrecords;
}

const knot_rrset_t *zone_rrset_at(const zone_t *z, size_t i, bool *autoregistered)
{
	if (i >= z->nrrsets)
		return NULL;
	if (autoregistered)
		*autoregistered = z->autoreg[i];
	return &z->rrsets[i];
}

/* ---- Lookup ----------------------------------------------------------------- */

static const knot_rrset_t *node_rrset(const zone_t *z, const zone_node_t *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->count; i++)
		if (z->rrsets[n->first + i].type == type)
			return &z->rrsets[n->first + i];
	return NULL;
}

static void add_additional(zone_result_t *r, const knot_rrset_t *rr)
{
	for (uint8_t i = 0; i < r->nadditional; i++)
		if (r->additional[i] == rr)
			return;
	if (r->nadditional < ZONE_MAX_ADDITIONAL)
		r->additional[r->nadditional++] = rr;
}

/* Addresses of MX exchanges and SRV targets that are names of this zone. */
static void find_additional(const zone_t *z, const knot_rrset_t *rr, zone_result_t *r)
{
	size_t offset;
	if (rr->type == KNOT_RRTYPE_MX)
		offset = 2;
	else if (rr->type == KNOT_RRTYPE_SRV)
		offset = 6;
	else
		return;
	knot_rdata_t *rd = rr->rrs.rdata;
	for (uint16_t i = 0; i < rr->rrs.count; i++, rd = knot_rdataset_next(rd)) {
		uint8_t target[DNS_NAME_MAXLEN];
		knot_dname_copy_lower(target, rd->data + offset);
		if (!dns_name_is_under(target, z->origin))
			continue;
		const zone_node_t *n = find_node(z, target);
		if (!n)
			continue;
		const knot_rrset_t *a = node_rrset(z, n, KNOT_RRTYPE_A);
		const knot_rrset_t *aaaa = node_rrset(z, n, KNOT_RRTYPE_AAAA);
		if (a)
			add_additional(r, a);
		if (aaaa)
			add_additional(r, aaaa);
	}
}

static void answer_from_node(const zone_t *z, const zone_node_t *n, uint16_t qtype,
			     zone_result_t *r)
{
	const knot_rrset_t *cname = node_rrset(z, n, KNOT_RRTYPE_CNAME);
	if (cname && qtype != KNOT_RRTYPE_CNAME) {
		/* the CNAME answers every type; the resolver follows it. */
		r->kind = ZONE_CNAME;
		r->answer[r->nanswer++] = cname;
		knot_dname_copy_lower(r->cname_target, knot_cname_name(cname->rrs.rdata));
		return;
	}
	if (qtype == KNOT_RRTYPE_ANY) {
		for (uint16_t i = 0; i < n->count && r->nanswer < ZONE_MAX_ANSWER; i++)
			r->answer[r->nanswer++] = &z->rrsets[n->first + i];
	} else {
		const knot_rrset_t *rr = node_rrset(z, n, qtype);
		if (rr)
			r->answer[r->nanswer++] = rr;
	}
	if (r->nanswer == 0) {
		r->kind = ZONE_NODATA;
		r->soa = &z->soa_negative;
		return;
	}
	r->kind = ZONE_ANSWER;
	for (uint8_t i = 0; i < r->nanswer; i++)
		find_additional(z, r->answer[i], r);
}

int zone_lookup(const zone_t *z, const uint8_t *qname, uint16_t qtype, zone_result_t *out)
{
	PR_REQUIRE(z && qname && out);
	if (!dns_name_is_under(qname, z->origin))
		return PR_ENOTFOUND;
	out->kind = ZONE_NXDOMAIN;
	out->synthesized = false;
	out->nanswer = 0;
	out->nadditional = 0;
	out->soa = NULL;
	out->cname_target[0] = 0;

	const zone_node_t *n = find_node(z, qname);
	if (n) {
		answer_from_node(z, n, qtype, out);
		return 0;
	}
	/* RFC 4592 §3.3.1: the closest encloser is the longest existing ancestor
	 * (empty non-terminals exist); only "*.<closest encloser>" may answer. */
	const uint8_t *ce = knot_wire_next_label(qname, NULL);
	while (!find_node(z, ce))
		ce = knot_wire_next_label(ce, NULL); /* ends at the origin, which exists */
	uint8_t wild[DNS_NAME_MAXLEN];
	size_t celen = knot_dname_size(ce);
	const zone_node_t *wn = NULL;
	if (celen + 2 <= sizeof(wild)) {
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, ce, celen);
		wn = find_node(z, wild);
	}
	if (!wn) {
		out->kind = ZONE_NXDOMAIN;
		out->soa = &z->soa_negative;
		return 0;
	}
	answer_from_node(z, wn, qtype, out);
	out->synthesized = true;
	return 0;
}

int zone_result_write(const zone_result_t *r, const uint8_t *qname, dns_answer_t *a)
{
	PR_REQUIRE(r && a);
	dns_answer_set_aa(a, true);
	int ret = 0;
	switch (r->kind) {
	case ZONE_ANSWER:
	case ZONE_CNAME:
		for (uint8_t i = 0; i < r->nanswer && ret == 0; i++)
			ret = dns_answer_add(a, DNS_SECTION_ANSWER, r->answer[i],
					     r->synthesized ? qname : NULL);
		/* Extra addresses are a courtesy: not fitting them is no error. */
		for (uint8_t i = 0; i < r->nadditional && ret == 0; i++)
			(void)dns_answer_add(a, DNS_SECTION_ADDITIONAL, r->additional[i], NULL);
		return ret;
	case ZONE_NXDOMAIN:
		dns_answer_set_rcode(a, DNS_RCODE_NXDOMAIN);
		/* fall through */
	case ZONE_NODATA:
		return dns_answer_add(a, DNS_SECTION_AUTHORITY, r->soa, NULL);
	}
	return -EINVAL;
}
