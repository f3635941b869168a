/* Every validation rule of semantics.md §1–§5, §8 and §9 over the whole graph.
 * Each finding names the resource path, the rule id and what would be valid;
 * all findings are collected, none stops the others (a deployment with any
 * finding is refused whole by the caller). Loops (P-1, P-2) need the views
 * and are the linker's. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/model_p.h"

static const char *limit_keys[MODEL_LIMIT_COUNT] = {
	[MODEL_LIMIT_RULES_PER_RULESET] = "rulesPerRuleset",
	[MODEL_LIMIT_LINKS_PER_RULESET] = "linksPerRuleset",
	[MODEL_LIMIT_OUTBOUND_PER_RULESET] = "outboundEndpointsPerRuleset",
	[MODEL_LIMIT_RULESETS_PER_OUTBOUND] = "rulesetsPerOutboundEndpoint",
	[MODEL_LIMIT_TARGETS_PER_RULE] = "targetsPerRule",
	[MODEL_LIMIT_INBOUND_PER_RESOLVER] = "inboundEndpointsPerResolver",
	[MODEL_LIMIT_OUTBOUND_PER_RESOLVER] = "outboundEndpointsPerResolver",
	[MODEL_LIMIT_RESOLVERS_PER_VNET] = "resolversPerVirtualNetwork",
	[MODEL_LIMIT_RESOLVERS_PER_SUBSCRIPTION] = "resolversPerSubscription",
	[MODEL_LIMIT_RULESETS_PER_VNET] = "rulesetsPerVirtualNetwork",
	[MODEL_LIMIT_ZONES_PER_VNET] = "privateZonesPerVirtualNetwork",
	[MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET] = "registrationZonesPerVirtualNetwork",
	[MODEL_LIMIT_RECORD_SETS_PER_ZONE] = "recordSetsPerZone",
	[MODEL_LIMIT_RECORDS_PER_RECORD_SET] = "recordsPerRecordSet",
	[MODEL_LIMIT_QPS_PER_ENDPOINT] = "queriesPerSecondPerEndpoint",
	[MODEL_LIMIT_RULES_PER_POLICY] = "rulesPerPolicy",
	[MODEL_LIMIT_LISTS_PER_RULE] = "domainListsPerRule",
	[MODEL_LIMIT_DOMAINS_PER_LIST] = "domainsPerList",
};

static const char *limit_rules[MODEL_LIMIT_COUNT] = {
	[MODEL_LIMIT_RULES_PER_RULESET] = "L-1",
	[MODEL_LIMIT_LINKS_PER_RULESET] = "L-2",
	[MODEL_LIMIT_OUTBOUND_PER_RULESET] = "L-3",
	[MODEL_LIMIT_RULESETS_PER_OUTBOUND] = "L-4",
	[MODEL_LIMIT_TARGETS_PER_RULE] = "L-5",
	[MODEL_LIMIT_INBOUND_PER_RESOLVER] = "L-6",
	[MODEL_LIMIT_OUTBOUND_PER_RESOLVER] = "L-6",
	[MODEL_LIMIT_RESOLVERS_PER_VNET] = "L-7",
	[MODEL_LIMIT_RESOLVERS_PER_SUBSCRIPTION] = "L-8",
	[MODEL_LIMIT_RULESETS_PER_VNET] = "L-9",
	[MODEL_LIMIT_ZONES_PER_VNET] = "L-10",
	[MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET] = "L-10",
	[MODEL_LIMIT_RECORD_SETS_PER_ZONE] = "L-11",
	[MODEL_LIMIT_RECORDS_PER_RECORD_SET] = "L-11",
	[MODEL_LIMIT_QPS_PER_ENDPOINT] = "L-12",
	[MODEL_LIMIT_RULES_PER_POLICY] = "S-1",
	[MODEL_LIMIT_LISTS_PER_RULE] = "S-1",
	[MODEL_LIMIT_DOMAINS_PER_LIST] = "S-1",
};

void model_limits_default(model_limits_t *l)
{
	static const int v[MODEL_LIMIT_COUNT] = {
		[MODEL_LIMIT_RULES_PER_RULESET] = MODEL_MAX_RULES_PER_RULESET,
		[MODEL_LIMIT_LINKS_PER_RULESET] = MODEL_MAX_LINKS_PER_RULESET,
		[MODEL_LIMIT_OUTBOUND_PER_RULESET] = MODEL_MAX_OUTBOUND_PER_RULESET,
		[MODEL_LIMIT_RULESETS_PER_OUTBOUND] = MODEL_MAX_RULESETS_PER_OUTBOUND,
		[MODEL_LIMIT_TARGETS_PER_RULE] = MODEL_MAX_TARGETS_PER_RULE,
		[MODEL_LIMIT_INBOUND_PER_RESOLVER] = MODEL_MAX_INBOUND_PER_RESOLVER,
		[MODEL_LIMIT_OUTBOUND_PER_RESOLVER] = MODEL_MAX_OUTBOUND_PER_RESOLVER,
		[MODEL_LIMIT_RESOLVERS_PER_VNET] = MODEL_MAX_RESOLVERS_PER_VNET,
		[MODEL_LIMIT_RESOLVERS_PER_SUBSCRIPTION] = MODEL_MAX_RESOLVERS_PER_SUBSCRIPTION,
		[MODEL_LIMIT_RULESETS_PER_VNET] = MODEL_MAX_RULESETS_PER_VNET,
		[MODEL_LIMIT_ZONES_PER_VNET] = MODEL_MAX_ZONES_PER_VNET,
		[MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET] = MODEL_MAX_REGISTRATION_ZONES_PER_VNET,
		[MODEL_LIMIT_RECORD_SETS_PER_ZONE] = MODEL_MAX_RECORD_SETS_PER_ZONE,
		[MODEL_LIMIT_RECORDS_PER_RECORD_SET] = MODEL_MAX_RECORDS_PER_RECORD_SET,
		[MODEL_LIMIT_QPS_PER_ENDPOINT] = MODEL_MAX_QPS_PER_ENDPOINT,
		[MODEL_LIMIT_RULES_PER_POLICY] = MODEL_MAX_RULES_PER_POLICY,
		[MODEL_LIMIT_LISTS_PER_RULE] = MODEL_MAX_LISTS_PER_RULE,
		[MODEL_LIMIT_DOMAINS_PER_LIST] = MODEL_MAX_DOMAINS_PER_LIST,
	};
	memset(l, 0, sizeof(*l));
	memcpy(l->value, v, sizeof(v));
}

const char *model_limit_rule(model_limit_id_t id)
{
	return id < MODEL_LIMIT_COUNT ? limit_rules[id] : "?";
}

const char *model_limit_key(model_limit_id_t id)
{
	return id < MODEL_LIMIT_COUNT ? limit_keys[id] : "?";
}

/* ---- helpers ------------------------------------------------------------- */

static int limit(model_ctx_t *c, model_limit_id_t id)
{
	return c->d->limits.value[id];
}

/* Report count > limit once, at the element that crosses it. */
static bool over_limit(model_ctx_t *c, model_limit_id_t id, size_t count, const json_t *node,
		       const char *key, const char *path, const char *what)
{
	if (count <= (size_t)limit(c, id))
		return false;
	model_report(c, node, key, path, model_limit_rule(id), PR_ELIMIT,
		     "%zu %s, limit %d%s", count, what, limit(c, id),
		     c->d->limits.overridden[id] ? " (overridden by limits:)" : "");
	return true;
}

/* Does part i share what (MODEL_SHARED_*) with the deployment before
 * (deployment_from_doc_after)? */
static bool shared(const uint8_t *flags, size_t i, int what)
{
	return flags && (flags[i] & what);
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool same_ci(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

/* Azure resource names [privres: the common rule of Microsoft.Network]: 1–80
 * characters, letters, digits, '_', '-', '.', starting with a letter or digit. */
static void check_resource_name(model_ctx_t *c, const json_t *node, const char *path,
				const char *name, const char *what)
{
	if (!name)
		return;
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= 80 && isalnum((unsigned char)name[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)name[i]) || strchr("_-.", name[i]);
	if (!ok)
		model_report(c, node, "name", path, NULL, PR_ECONFIG,
			     "'%s' is not a valid %s name: 1-80 characters, letters, digits, "
			     "'_', '-' and '.', starting with a letter or digit",
			     name, what);
}

/* Report the second of two equal names (case-insensitive, as the cloud's
 * resource names are). */
#define CHECK_UNIQUE(c, arr, n, field, what)                                                     \
	do {                                                                                       \
		pr_map_t *m_ = pr_map_new();                                                       \
		for (size_t i_ = 0; i_ < (n); i_++) {                                              \
			if (!(arr)[i_].field || pr_map_put_ci(m_, (arr)[i_].field, (int)i_, NULL)) \
				continue;                                                          \
			model_report((c), (arr)[i_].origin.node, "name", (arr)[i_].origin.path,    \
				     NULL, PR_EEXIST, "%s '%s' is defined twice", (what),          \
				     (arr)[i_].field);                                             \
		}                                                                                  \
		pr_map_destroy(&m_);                                                               \
	} while (0)

/* The name a reference stands for: the text itself, or the segment after
 * `type` in an ARM id of this subscription and resource group. */
const char *model_ref_name(model_ctx_t *c, const char *ref, const char *type)
{
	if (!ref || ref[0] != '/')
		return ref;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", ref);
	const char *seg[32];
	int n = 0;
	for (char *s = strtok(buf, "/"); s && n < 32; s = strtok(NULL, "/"))
		seg[n++] = s;
	if (n >= 4 && same_ci(seg[0], "subscriptions") && same_ci(seg[2], "resourceGroups") &&
	    (!same_ci(seg[1], c->d->subscription) || !same_ci(seg[3], c->d->resource_group)))
		return NULL;
	for (int i = 0; i + 1 < n; i++)
		if (same_ci(seg[i], type))
			return pr_arena_strdup(c->d->arena, seg[i + 1]);
	return NULL;
}

static int find_vnet(model_ctx_t *c, const char *ref)
{
	const char *name = model_ref_name(c, ref, "virtualNetworks");
	if (!name)
		return -1;
	if (!c->vnet_index) {
		c->vnet_index = pr_map_new();
		for (size_t i = 0; i < c->d->n_vnets; i++)
			if (c->d->vnets[i].name)
				pr_map_put(c->vnet_index, c->d->vnets[i].name,
					   strlen(c->d->vnets[i].name), (int)i, NULL);
	}
	return pr_map_get(c->vnet_index, name, strlen(name));
}

static int resolve_vnet(model_ctx_t *c, const json_t *node, const char *path, const char *ref)
{
	if (!ref)
		return -1;
	int v = find_vnet(c, ref);
	if (v < 0) {
		pr_buf_t names = {0};
		for (size_t i = 0; i < c->d->n_vnets; i++)
			pr_buf_printf(&names, "%s%s", i ? ", " : "", c->d->vnets[i].name);
		model_report(c, node, "virtualNetwork", path, NULL, PR_ENOTFOUND,
			     "virtual network '%s' does not exist; defined: %s", ref,
			     names.len ? names.data : "none");
		pr_buf_free(&names);
	}
	return v;
}

static int find_subnet(model_ctx_t *c, int vnet, const char *ref, bool *other_vnet)
{
	*other_vnet = false;
	if (vnet < 0 || !ref)
		return -1;
	const model_vnet_t *v = &c->d->vnets[vnet];
	if (ref[0] == '/') {
		const char *vn = model_ref_name(c, ref, "virtualNetworks");
		if (vn && !same(vn, v->name)) {
			*other_vnet = true;
			return -1;
		}
	}
	const char *name = model_ref_name(c, ref, "subnets");
	for (size_t i = 0; name && i < v->n_subnets; i++)
		if (same(v->subnets[i].name, name))
			return (int)i;
	return -1;
}

/* F-2 syntax of a domain name; fills wire and labels. rule: the rule id to
 * cite. */
static bool check_domain(model_ctx_t *c, const json_t *node, const char *key, const char *path,
			 const char *rule, const char *text, int min_labels, int max_labels,
			 bool need_dot, uint8_t *wire, int *labels)
{
	if (!text)
		return false;
	dns_name_info_t info;
	const char *why;
	if (dns_name_from_text(text, wire, &info, &why) != 0) {
		model_report(c, node, key, path, rule, PR_ECONFIG, "'%s' is not a domain name: %s",
			     text, why);
		return false;
	}
	if (need_dot && !info.absolute) {
		model_report(c, node, key, path, rule, PR_ECONFIG,
			     "'%s' must end with a dot ('%s.')", text, text);
		return false;
	}
	if (info.labels < min_labels || info.labels > max_labels) {
		model_report(c, node, key, path, rule, PR_ECONFIG,
			     "'%s' has %d labels; valid: %d to %d%s", text, info.labels, min_labels,
			     max_labels, min_labels == 0 ? " (or '.' for every name)" : "");
		return false;
	}
	if (labels)
		*labels = info.labels;
	return true;
}

static const char *canonical(model_ctx_t *c, const uint8_t *wire)
{
	char buf[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(wire, buf, sizeof(buf)) < 0)
		return NULL;
	return pr_arena_strdup(c->d->arena, buf);
}

static const char *arena_printf(model_ctx_t *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *arena_printf(model_ctx_t *c, const char *fmt, ...)
{
	pr_buf_t b = {0};
	va_list ap;
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	const char *s = pr_arena_strdup(c->d->arena, b.data ? b.data : "");
	pr_buf_free(&b);
	return s;
}

static const char *location_of(model_ctx_t *c, const char *loc)
{
	return loc ? loc : c->d->location;
}

static const char *ip_text(uint32_t a, char *buf)
{
	return pr_ipv4_format(a, buf);
}

/* ---- networks (N) ---------------------------------------------------------- */

static void validate_vnets(model_ctx_t *c)
{
	deployment_t *d = c->d;
	if (c->shared_vnets)
		return; /* prev's, checked then (deployment_from_doc_after) */
	CHECK_UNIQUE(c, d->vnets, d->n_vnets, name, "virtual network");
	for (size_t i = 0; i < d->n_vnets; i++) {
		model_vnet_t *v = &d->vnets[i];
		const char *p = v->origin.path;
		check_resource_name(c, v->origin.node, p, v->name, "virtual network");
		v->location = location_of(c, v->location);
		if (v->n_prefixes == 0 && !json_object_get(v->origin.node, "addressPrefixes"))
			model_report(c, v->origin.node, NULL, p, "N-1", PR_ECONFIG,
				     "'addressPrefixes' is required: one or more IPv4 prefixes");
		for (size_t a = 0; a < v->n_prefixes; a++)
			for (size_t b = 0; b < a; b++)
				if (pr_prefix_overlaps(v->prefixes[a], v->prefixes[b])) {
					char x[16], y[16];
					model_report(c, v->origin.node, "addressPrefixes", p, "N-1",
						     PR_ECONFIG,
						     "address prefixes %s/%u and %s/%u overlap",
						     ip_text(v->prefixes[a].addr, x), v->prefixes[a].len,
						     ip_text(v->prefixes[b].addr, y),
						     v->prefixes[b].len);
				}
		CHECK_UNIQUE(c, v->subnets, v->n_subnets, name, "subnet");
		for (size_t s = 0; s < v->n_subnets; s++) {
			model_subnet_t *sn = &v->subnets[s];
			char x[16];
			bool inside = false;
			for (size_t a = 0; a < v->n_prefixes; a++)
				inside |= pr_prefix_covers(v->prefixes[a], sn->prefix);
			if (!inside)
				model_report(c, sn->origin.node, "addressPrefix", sn->origin.path,
					     "N-1", PR_ECONFIG,
					     "%s/%u lies outside the address space of '%s'",
					     ip_text(sn->prefix.addr, x), sn->prefix.len, v->name);
			if (sn->prefix.len > 29)
				model_report(c, sn->origin.node, "addressPrefix", sn->origin.path,
					     "N-2", PR_ECONFIG,
					     "/%u is too small: five addresses of every subnet are "
					     "reserved (the smallest subnet is /29)",
					     sn->prefix.len);
			for (size_t t = 0; t < s; t++)
				if (pr_prefix_overlaps(sn->prefix, v->subnets[t].prefix)) {
					model_report(c, sn->origin.node, "addressPrefix",
						     sn->origin.path, "N-1", PR_ECONFIG,
						     "%s/%u overlaps subnet '%s'",
						     ip_text(sn->prefix.addr, x), sn->prefix.len,
						     v->subnets[t].name);
					break;
				}
		}
	}
}

/* N-2: .0, .1, .2, .3 and the broadcast address are the platform's. */
static bool reserved_address(pr_prefix_t p, uint32_t a)
{
	return a - p.addr < 4 || a == pr_prefix_last(p);
}

/* ---- resolvers and endpoints (N-3, N-4, I, O-1, L-6..L-8) ------------------ */

/* Who occupies each endpoint subnet, so N-3 ("exactly one endpoint and
 * nothing else") can be checked across resolvers and hosts. */
typedef struct occupant {
	int vnet, subnet;
	const char *who;
	const json_t *node;
	const char *path;
} occupant_t;

typedef struct occupants {
	occupant_t *o;
	size_t n, cap;
} occupants_t;

static void occupy(occupants_t *occ, int vnet, int subnet, const char *who, const json_t *node,
		   const char *path)
{
	pr_grow(&occ->o, &occ->cap, occ->n + 1, sizeof(*occ->o));
	occ->o[occ->n++] = (occupant_t){vnet, subnet, who, node, path};
}

static int resolve_endpoint_subnet(model_ctx_t *c, const model_resolver_t *r, const json_t *node,
				   const char *path, const char *ref)
{
	if (r->vnet < 0 || !ref)
		return -1;
	bool other;
	int s = find_subnet(c, r->vnet, ref, &other);
	const model_vnet_t *v = &c->d->vnets[r->vnet];
	if (s < 0) {
		model_report(c, node, "subnet", path, "N-3", PR_ENOTFOUND,
			     other ? "subnet '%s' is not in the resolver's virtual network '%s'"
				   : "subnet '%s' does not exist in the resolver's virtual network "
				     "'%s'",
			     ref, v->name);
		return -1;
	}
	const model_subnet_t *sn = &v->subnets[s];
	char x[16];
	if (sn->prefix.len < 24 || sn->prefix.len > 28)
		model_report(c, node, "subnet", path, "N-3", PR_ECONFIG,
			     "subnet '%s' is %s/%u; an endpoint's subnet is /28 to /24", sn->name,
			     ip_text(sn->prefix.addr, x), sn->prefix.len);
	if (!same(sn->delegation, "Microsoft.Network/dnsResolvers"))
		model_report(c, node, "subnet", path, "N-3", PR_ECONFIG,
			     "subnet '%s' must be delegated to Microsoft.Network/dnsResolvers "
			     "(delegation: Microsoft.Network/dnsResolvers)",
			     sn->name);
	return s;
}

static void allocate_inbound(model_ctx_t *c, model_resolver_t *r, model_inbound_endpoint_t *ie)
{
	if (ie->subnet < 0)
		return;
	const model_subnet_t *sn = &c->d->vnets[r->vnet].subnets[ie->subnet];
	const char *p = ie->origin.path;
	char x[16];
	const json_t *at = json_object_get(ie->origin.node, "ipConfigurations");
	at = at ? json_array_get(at, 0) : ie->origin.node;
	if (ie->allocation == MODEL_ALLOC_STATIC) {
		if (!ie->has_address) {
			model_report(c, at, NULL, p, "I-3", PR_ECONFIG,
				     "Static allocation needs 'privateIpAddress' (an address of "
				     "subnet '%s' from .4 up, not the broadcast)",
				     sn->name);
			return;
		}
		if (!pr_prefix_contains(sn->prefix, ie->address)) {
			model_report(c, at, "privateIpAddress", p, "I-3", PR_ECONFIG,
				     "%s is not in subnet '%s' (%s/%u)", ip_text(ie->address, x),
				     sn->name, ip_text(sn->prefix.addr, (char[16]){0}),
				     sn->prefix.len);
			ie->has_address = false;
			return;
		}
		if (reserved_address(sn->prefix, ie->address)) {
			model_report(c, at, "privateIpAddress", p, "I-3", PR_ECONFIG,
				     "%s is reserved in subnet '%s' (the first four addresses and "
				     "the broadcast are the platform's, N-2)",
				     ip_text(ie->address, x), sn->name);
			ie->has_address = false;
		}
		return;
	}
	/* I-2: the fifth address, kept once given (a Dynamic endpoint read back
	 * from state carries it). */
	if (ie->has_address && pr_prefix_contains(sn->prefix, ie->address) &&
	    !reserved_address(sn->prefix, ie->address))
		return;
	ie->address = sn->prefix.addr + 4;
	ie->has_address = true;
}

static void validate_resolvers(model_ctx_t *c, occupants_t *occ)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->resolvers, d->n_resolvers, name, "DNS resolver");
	over_limit(c, MODEL_LIMIT_RESOLVERS_PER_SUBSCRIPTION, d->n_resolvers,
		   d->n_resolvers ? d->resolvers[d->n_resolvers - 1].origin.node : NULL, NULL,
		   d->n_resolvers ? d->resolvers[d->n_resolvers - 1].origin.path : "",
		   "resolvers in the subscription");
	for (size_t i = 0; i < d->n_resolvers; i++) {
		model_resolver_t *r = &d->resolvers[i];
		const char *p = r->origin.path;
		check_resource_name(c, r->origin.node, p, r->name, "DNS resolver");
		r->location = location_of(c, r->location);
		r->vnet = resolve_vnet(c, r->origin.node, p, r->vnet_ref);
		if (r->vnet >= 0) {
			const model_vnet_t *v = &d->vnets[r->vnet];
			if (!same_ci(v->location, r->location))
				model_report(c, r->origin.node, "location", p, "N-4", PR_ECONFIG,
					     "the resolver is in '%s' but its virtual network '%s' "
					     "is in '%s'; they must share a region",
					     r->location, v->name, v->location);
			size_t same_vnet = 0;
			for (size_t j = 0; j <= i; j++)
				same_vnet += d->resolvers[j].vnet == r->vnet;
			if (same_vnet > 1)
				over_limit(c, MODEL_LIMIT_RESOLVERS_PER_VNET, same_vnet,
					   r->origin.node, "virtualNetwork", p,
					   "resolvers in one virtual network");
		}
		over_limit(c, MODEL_LIMIT_INBOUND_PER_RESOLVER, r->n_inbound, r->origin.node,
			   "inboundEndpoints", p, "inbound endpoints");
		over_limit(c, MODEL_LIMIT_OUTBOUND_PER_RESOLVER, r->n_outbound, r->origin.node,
			   "outboundEndpoints", p, "outbound endpoints");
		CHECK_UNIQUE(c, r->inbound, r->n_inbound, name, "inbound endpoint");
		CHECK_UNIQUE(c, r->outbound, r->n_outbound, name, "outbound endpoint");
		for (size_t j = 0; j < r->n_inbound; j++) {
			model_inbound_endpoint_t *ie = &r->inbound[j];
			check_resource_name(c, ie->origin.node, ie->origin.path, ie->name,
					    "inbound endpoint");
			ie->subnet = resolve_endpoint_subnet(c, r, ie->origin.node,
							     ie->origin.path, ie->subnet_ref);
			allocate_inbound(c, r, ie);
			if (ie->subnet >= 0)
				occupy(occ, r->vnet, ie->subnet,
				       arena_printf(c, "inbound endpoint %s/%s", r->name, ie->name),
				       ie->origin.node, ie->origin.path);
		}
		for (size_t j = 0; j < r->n_outbound; j++) {
			model_outbound_endpoint_t *oe = &r->outbound[j];
			check_resource_name(c, oe->origin.node, oe->origin.path, oe->name,
					    "outbound endpoint");
			oe->subnet = resolve_endpoint_subnet(c, r, oe->origin.node,
							     oe->origin.path, oe->subnet_ref);
			if (oe->subnet < 0)
				continue;
			/* O-1 [privres]: queries leave from the fifth address. */
			oe->source_address = d->vnets[r->vnet].subnets[oe->subnet].prefix.addr + 4;
			occupy(occ, r->vnet, oe->subnet,
			       arena_printf(c, "outbound endpoint %s/%s", r->name, oe->name),
			       oe->origin.node, oe->origin.path);
		}
	}
}

/* ---- hosts (N-2, N-3, Z-3) ------------------------------------------------- */

static bool address_taken(const deployment_t *d, int vnet, uint32_t a, size_t upto_vm)
{
	for (size_t i = 0; i < upto_vm; i++)
		if (d->vms[i].vnet == vnet && d->vms[i].address == a)
			return true;
	for (size_t i = 0; i < d->n_resolvers; i++)
		for (size_t j = 0; j < d->resolvers[i].n_inbound; j++)
			if (d->resolvers[i].vnet == vnet && d->resolvers[i].inbound[j].has_address &&
			    d->resolvers[i].inbound[j].address == a)
				return true;
	return false;
}

/* A host name becomes a DNS label under a registration zone (Z-3). */
static bool valid_hostname(const char *n)
{
	size_t len = strlen(n);
	if (len < 1 || len > 63 || n[0] == '-' || n[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '-')
			return false;
	return true;
}

static void validate_vms(model_ctx_t *c, occupants_t *occ)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->vms, d->n_vms, name, "virtual machine");
	for (size_t i = 0; i < d->n_vms; i++) {
		model_vm_t *vm = &d->vms[i];
		const char *p = vm->origin.path;
		char x[16];
		if (vm->name && !valid_hostname(vm->name))
			model_report(c, vm->origin.node, "name", p, "Z-3", PR_ECONFIG,
				     "'%s' is not a valid host name: 1-63 letters, digits and '-', "
				     "not starting or ending with '-' (it becomes a DNS label)",
				     vm->name);
		vm->vnet = resolve_vnet(c, vm->origin.node, p, vm->vnet_ref);
		if (vm->vnet < 0)
			continue;
		bool other;
		vm->subnet = find_subnet(c, vm->vnet, vm->subnet_ref, &other);
		if (vm->subnet < 0) {
			model_report(c, vm->origin.node, "subnet", p, "N-1", PR_ENOTFOUND,
				     "subnet '%s' does not exist in virtual network '%s'",
				     vm->subnet_ref ? vm->subnet_ref : "", d->vnets[vm->vnet].name);
			continue;
		}
		const model_subnet_t *sn = &d->vnets[vm->vnet].subnets[vm->subnet];
		occupy(occ, vm->vnet, vm->subnet, NULL, vm->origin.node, p);
		if (vm->static_address) {
			if (!pr_prefix_contains(sn->prefix, vm->address))
				model_report(c, vm->origin.node, "privateIpAddress", p, "N-2",
					     PR_ECONFIG, "%s is not in subnet '%s'",
					     ip_text(vm->address, x), sn->name);
			else if (reserved_address(sn->prefix, vm->address))
				model_report(c, vm->origin.node, "privateIpAddress", p, "N-2",
					     PR_ECONFIG,
					     "%s is reserved (the first four addresses and the "
					     "broadcast of every subnet are the platform's)",
					     ip_text(vm->address, x));
			else if (address_taken(d, vm->vnet, vm->address, i))
				model_report(c, vm->origin.node, "privateIpAddress", p, "N-2",
					     PR_EEXIST, "%s is already in use",
					     ip_text(vm->address, x));
		}
	}
	/* Dynamic hosts after every static one, so a static address is never
	 * taken by an earlier dynamic host. */
	for (size_t i = 0; i < d->n_vms; i++) {
		model_vm_t *vm = &d->vms[i];
		if (vm->static_address || vm->subnet < 0)
			continue;
		const model_subnet_t *sn = &d->vnets[vm->vnet].subnets[vm->subnet];
		bool found = false;
		for (uint32_t a = sn->prefix.addr + 4; a < pr_prefix_last(sn->prefix); a++) {
			bool taken = address_taken(d, vm->vnet, a, d->n_vms);
			if (!taken) {
				vm->address = a;
				found = true;
				break;
			}
		}
		if (!found)
			model_report(c, vm->origin.node, "subnet", vm->origin.path, "N-2",
				     PR_ELIMIT, "subnet '%s' has no free address left", sn->name);
	}
}

/* N-3: an endpoint's subnet holds exactly one endpoint and nothing else. */
static void check_occupants(model_ctx_t *c, const occupants_t *occ)
{
	for (size_t i = 0; i < occ->n; i++) {
		const occupant_t *o = &occ->o[i];
		const model_subnet_t *sn = &c->d->vnets[o->vnet].subnets[o->subnet];
		for (size_t j = 0; j < i; j++) {
			const occupant_t *q = &occ->o[j];
			if (q->vnet != o->vnet || q->subnet != o->subnet)
				continue;
			if (!q->who && !o->who)
				continue; /* hosts share ordinary subnets */
			model_report(c, o->node, "subnet", o->path, "N-3", PR_ECONFIG,
				     "subnet '%s' already holds %s; an endpoint's subnet holds "
				     "exactly one endpoint and nothing else",
				     sn->name, q->who ? q->who : "a virtual machine");
			break;
		}
	}
}

/* ---- rulesets and rules (O-2, O-3, F-1..F-5, L-1..L-5, L-9) ----------------- */

/* F-1: starts with a letter; letters, digits, '_' and '-'; 1–80 characters. */
static void check_rule_name(model_ctx_t *c, const model_rule_t *r)
{
	const char *n = r->name;
	if (!n)
		return;
	size_t len = strlen(n);
	bool ok = len >= 1 && len <= MODEL_MAX_RULE_NAME && isalpha((unsigned char)n[0]);
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)n[i]) || n[i] == '_' || n[i] == '-';
	if (!ok)
		model_report(c, r->origin.node, "name", r->origin.path, "F-1", PR_ECONFIG,
			     "'%s' is not a valid rule name: it starts with a letter and holds "
			     "only letters, digits, '_' and '-', 1 to %d characters",
			     n, MODEL_MAX_RULE_NAME);
}

/* [privres] F-4: a DNS over TLS target. Port 53 is plain DNS on every server
 * (RFC 7858 §3.1 gives DNS over TLS its own port, 853): a TLS handshake there
 * can only fail, so it is refused as the mistake it almost always is. */
static void check_target_tls(model_ctx_t *c, const model_target_t *t)
{
	const json_t *n = t->origin.node;
	const char *p = t->origin.path;
	if (!t->tls) {
		if (t->tls_hostname || t->tls_ca)
			model_report(c, n, t->tls_hostname ? "tlsHostname" : "tlsCa", p, "F-4",
				     PR_ECONFIG,
				     "tlsHostname and tlsCa are for DNS over TLS targets "
				     "(protocol: Tls)");
		return;
	}
	if (t->port == DNS_PORT)
		model_report(c, n, "port", p, "F-4", PR_ECONFIG,
			     "port 53 is plain DNS; a DNS over TLS target listens on 853 (RFC "
			     "7858 §3.1) or another port its server names");
	const char *why = NULL;
	dns_name_info_t info;
	uint32_t ip;
	if (t->tls_hostname &&
	    (pr_ipv4_parse(t->tls_hostname, &ip) == 0 ||
	     dns_name_from_text(t->tls_hostname, NULL, &info, &why) != 0 || info.labels == 0 ||
	     strspn(t->tls_hostname, "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
		     strlen(t->tls_hostname)))
		model_report(c, n, "tlsHostname", p, "F-4", PR_ECONFIG,
			     "'%s' is not a host name (letters, digits, '-' and dots; leave "
			     "tlsHostname out to verify the certificate against ipAddress)%s%s",
			     t->tls_hostname, why ? ": " : "", why ? why : "");
	if (t->tls_ca && !t->tls_ca[0])
		model_report(c, n, "tlsCa", p, "F-4", PR_ECONFIG,
			     "must be the file of the CA certificates to trust (PEM)");
}

/* F-4, F-5, L-5: a target list of a rule or forwarder. */
static void check_targets(model_ctx_t *c, const json_t *node, const char *path,
			  const model_target_t *t, size_t n, bool required)
{
	if (n == 0 && required && json_object_get(node, "targetDnsServers"))
		model_report(c, node, "targetDnsServers", path, "F-4", PR_ECONFIG,
			     "at least one target DNS server is required (1 to %d)",
			     limit(c, MODEL_LIMIT_TARGETS_PER_RULE));
	over_limit(c, MODEL_LIMIT_TARGETS_PER_RULE, n, node, "targetDnsServers", path,
		   "target DNS servers");
	for (size_t i = 0; i < n; i++) {
		check_target_tls(c, &t[i]);
		if (t[i].address == MODEL_AZURE_DNS_ADDR)
			model_report(c, t[i].origin.node, NULL, t[i].origin.path, "F-5",
				     PR_ECONFIG,
				     "168.63.129.16 (Azure DNS) is never a valid target: a rule "
				     "that forwards to Azure DNS would resolve through the ruleset "
				     "again; leave the name without a rule instead (Exception while "
				     "making add request for rule)");
		for (size_t j = 0; j < i; j++)
			if (t[i].address == t[j].address && t[i].port == t[j].port) {
				char x[16];
				model_report(c, t[i].origin.node, NULL, t[i].origin.path, "F-4",
					     PR_EEXIST, "target %s:%u is listed twice",
					     ip_text(t[i].address, x), t[i].port);
				break;
			}
	}
}

static void resolve_outbound_refs(model_ctx_t *c, model_ruleset_t *rs)
{
	deployment_t *d = c->d;
	const char *p = rs->origin.path;
	int resolver = -1;
	if (rs->n_outbound == 0 && json_object_get(rs->origin.node, "dnsResolverOutboundEndpoints"))
		model_report(c, rs->origin.node, "dnsResolverOutboundEndpoints", p, "O-2",
			     PR_ECONFIG, "a ruleset names 1 or 2 outbound endpoints of one resolver");
	over_limit(c, MODEL_LIMIT_OUTBOUND_PER_RULESET, rs->n_outbound, rs->origin.node,
		   "dnsResolverOutboundEndpoints", p, "outbound endpoints");
	for (size_t i = 0; i < rs->n_outbound; i++) {
		model_endpoint_ref_t *ref = &rs->outbound[i];
		const char *rname, *ename;
		char buf[512];
		if (ref->text[0] == '/') {
			rname = model_ref_name(c, ref->text, "dnsResolvers");
			ename = model_ref_name(c, ref->text, "outboundEndpoints");
		} else {
			snprintf(buf, sizeof(buf), "%s", ref->text);
			char *slash = strchr(buf, '/');
			rname = buf;
			ename = slash ? slash + 1 : NULL;
			if (slash)
				*slash = '\0';
		}
		for (size_t r = 0; rname && ename && r < d->n_resolvers; r++) {
			if (!same(d->resolvers[r].name, rname))
				continue;
			for (size_t e = 0; e < d->resolvers[r].n_outbound; e++)
				if (same(d->resolvers[r].outbound[e].name, ename)) {
					ref->resolver = (int)r;
					ref->endpoint = (int)e;
				}
		}
		if (ref->resolver < 0) {
			model_report(c, rs->origin.node, "dnsResolverOutboundEndpoints", p, "O-2",
				     PR_ENOTFOUND,
				     "outbound endpoint '%s' does not exist (write "
				     "<resolver>/<outbound endpoint> or its id)",
				     ref->text);
			continue;
		}
		if (resolver >= 0 && ref->resolver != resolver)
			model_report(c, rs->origin.node, "dnsResolverOutboundEndpoints", p, "O-2",
				     PR_ECONFIG,
				     "outbound endpoints of one ruleset must belong to the same "
				     "resolver ('%s' and '%s')",
				     d->resolvers[resolver].name, d->resolvers[ref->resolver].name);
		for (size_t j = 0; j < i; j++)
			if (rs->outbound[j].resolver == ref->resolver &&
			    rs->outbound[j].endpoint == ref->endpoint)
				model_report(c, rs->origin.node, "dnsResolverOutboundEndpoints", p,
					     "O-2", PR_EEXIST, "'%s' is listed twice", ref->text);
		resolver = ref->resolver;
		if (!same_ci(d->resolvers[resolver].location, rs->location))
			model_report(c, rs->origin.node, "location", p, "O-3", PR_ECONFIG,
				     "the ruleset is in '%s' but resolver '%s' is in '%s'",
				     rs->location, d->resolvers[resolver].name,
				     d->resolvers[resolver].location);
	}
}

static void validate_rules(model_ctx_t *c, model_ruleset_t *rs)
{
	over_limit(c, MODEL_LIMIT_RULES_PER_RULESET, rs->n_rules, rs->origin.node,
		   "forwardingRules", rs->origin.path, "forwarding rules");
	CHECK_UNIQUE(c, rs->rules, rs->n_rules, name, "forwarding rule");
	for (size_t i = 0; i < rs->n_rules; i++) {
		model_rule_t *r = &rs->rules[i];
		check_rule_name(c, r);
		if (check_domain(c, r->origin.node, "domainName", r->origin.path, "F-2",
				 r->domain_name, 0, MODEL_MAX_DOMAIN_LABELS, true, r->domain_wire,
				 &r->labels))
			r->domain_name = canonical(c, r->domain_wire);
		else
			r->domain_name = NULL;
		check_targets(c, r->origin.node, r->origin.path, r->targets, r->n_targets, true);
	}
	/* F-3: one rule per domain name (compared case-insensitively). */
	pr_map_t *domains = pr_map_new();
	for (size_t i = 0; i < rs->n_rules; i++) {
		int prev;
		const char *dn = rs->rules[i].domain_name;
		if (!dn || pr_map_put(domains, dn, strlen(dn), (int)i, &prev))
			continue;
		model_report(c, rs->rules[i].origin.node, "domainName", rs->rules[i].origin.path,
			     "F-3", PR_EEXIST,
			     "rule '%s' already forwards '%s'; one rule per domain name in a ruleset",
			     rs->rules[prev].name, dn);
	}
	pr_map_destroy(&domains);
}

static void check_link_names(model_ctx_t *c, model_vnet_link_t *links, size_t n)
{
	CHECK_UNIQUE(c, links, n, name, "virtual network link");
	for (size_t i = 0; i < n; i++)
		check_resource_name(c, links[i].origin.node, links[i].origin.path, links[i].name,
				    "virtual network link");
}

static void resolve_links(model_ctx_t *c, model_vnet_link_t *links, size_t n,
			  const char *owner_location, const char *region_rule)
{
	check_link_names(c, links, n);
	/* Which link took each VNet (index + 1), for the many links of a ruleset
	 * (up to 500); a zone's few links are compared with each other. */
	int *linked_by = n > 16 ? pr_calloc(c->d->n_vnets + 1, sizeof(int)) : NULL;
	for (size_t i = 0; i < n; i++) {
		model_vnet_link_t *k = &links[i];
		k->vnet = resolve_vnet(c, k->origin.node, k->origin.path, k->vnet_ref);
		if (k->vnet < 0)
			continue;
		int first = 0;
		if (linked_by && !(first = linked_by[k->vnet]))
			linked_by[k->vnet] = (int)i + 1;
		for (size_t j = 0; !linked_by && !first && j < i; j++)
			if (links[j].vnet == k->vnet)
				first = (int)j + 1;
		if (first)
			model_report(c, k->origin.node, "virtualNetwork", k->origin.path, NULL,
				     PR_EEXIST, "virtual network '%s' is already linked by '%s'",
				     c->d->vnets[k->vnet].name, links[first - 1].name);
		const char *vloc = c->d->vnets[k->vnet].location;
		if (owner_location && !same_ci(vloc, owner_location))
			model_report(c, k->origin.node, "virtualNetwork", k->origin.path,
				     region_rule, PR_ECONFIG,
				     "virtual network '%s' is in '%s'; only virtual networks of "
				     "the same region ('%s') can be linked",
				     c->d->vnets[k->vnet].name, vloc, owner_location);
	}
	free(linked_by);
}

static void validate_rulesets(model_ctx_t *c)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->rulesets, d->n_rulesets, name, "forwarding ruleset");
	for (size_t i = 0; i < d->n_rulesets; i++) {
		model_ruleset_t *rs = &d->rulesets[i];
		check_resource_name(c, rs->origin.node, rs->origin.path, rs->name,
				    "forwarding ruleset");
		rs->location = location_of(c, rs->location);
		resolve_outbound_refs(c, rs);
		if (!shared(c->shared_rulesets, i, MODEL_SHARED_ITEMS))
			validate_rules(c, rs);
		if (shared(c->shared_rulesets, i, MODEL_SHARED_LINKS))
			continue;
		over_limit(c, MODEL_LIMIT_LINKS_PER_RULESET, rs->n_links, rs->origin.node,
			   "virtualNetworkLinks", rs->origin.path, "virtual network links");
		resolve_links(c, rs->links, rs->n_links, rs->location, "O-3");
	}
	/* L-4: an outbound endpoint serves at most two rulesets. */
	for (size_t r = 0; r < d->n_resolvers; r++)
		for (size_t e = 0; e < d->resolvers[r].n_outbound; e++) {
			size_t users = 0;
			for (size_t i = 0; i < d->n_rulesets; i++) {
				model_ruleset_t *rs = &d->rulesets[i];
				for (size_t k = 0; k < rs->n_outbound; k++)
					if (rs->outbound[k].resolver == (int)r &&
					    rs->outbound[k].endpoint == (int)e) {
						users++;
						if (users == (size_t)limit(c, MODEL_LIMIT_RULESETS_PER_OUTBOUND) + 1)
							over_limit(c, MODEL_LIMIT_RULESETS_PER_OUTBOUND,
								   users, rs->origin.node,
								   "dnsResolverOutboundEndpoints",
								   rs->origin.path,
								   "rulesets use this outbound endpoint");
					}
			}
		}
	/* L-9: one ruleset per virtual network. */
	size_t *linked = pr_calloc(d->n_vnets + 1, sizeof(size_t));
	const char **first = pr_calloc(d->n_vnets + 1, sizeof(char *));
	for (size_t i = 0; i < d->n_rulesets; i++)
		for (size_t k = 0; k < d->rulesets[i].n_links; k++) {
			model_vnet_link_t *l = &d->rulesets[i].links[k];
			if (l->vnet < 0)
				continue;
			if (++linked[l->vnet] > (size_t)limit(c, MODEL_LIMIT_RULESETS_PER_VNET))
				model_report(c, l->origin.node, "virtualNetwork", l->origin.path, "L-9",
					     PR_ELIMIT,
					     "virtual network '%s' is already linked to ruleset '%s'; "
					     "limit %d ruleset per virtual network",
					     d->vnets[l->vnet].name, first[l->vnet],
					     limit(c, MODEL_LIMIT_RULESETS_PER_VNET));
			else if (!first[l->vnet])
				first[l->vnet] = d->rulesets[i].name;
		}
	free(linked);
	free(first);
}

/* ---- zones (Z-1, Z-2, L-10, L-11) -------------------------------------------- */

/* An owner name relative to the zone: "@", "web", "*.apps", "a.b". The
 * wildcard label may only stand leftmost (RFC 4592). */
static bool check_owner(model_ctx_t *c, const model_zone_t *z, model_record_set_t *rs,
			uint8_t *owner_wire)
{
	const char *p = rs->origin.path;
	if (!rs->name)
		return false;
	char full[DNS_NAME_TEXT_MAX * 2];
	if (!strcmp(rs->name, "@"))
		snprintf(full, sizeof(full), "%s", z->name);
	else if (rs->name[strlen(rs->name) - 1] == '.')
		snprintf(full, sizeof(full), "%s", rs->name);
	else
		snprintf(full, sizeof(full), "%s.%s", rs->name, z->name);
	dns_name_info_t info;
	const char *why;
	if (dns_name_from_text(full, owner_wire, &info, &why) != 0) {
		model_report(c, rs->origin.node, "name", p, "Z-1", PR_ECONFIG,
			     "'%s' is not a valid record name: %s", rs->name, why);
		return false;
	}
	if (!dns_name_is_under(owner_wire, z->name_wire)) {
		model_report(c, rs->origin.node, "name", p, "Z-1", PR_ECONFIG,
			     "'%s' is outside zone '%s'", rs->name, z->name);
		return false;
	}
	const char *star = strchr(rs->name, '*');
	if (star && (star != rs->name || (rs->name[1] != '.' && rs->name[1] != '\0'))) {
		model_report(c, rs->origin.node, "name", p, "Z-1", PR_ECONFIG,
			     "'%s': a wildcard '*' must be the whole leftmost label ('*' or "
			     "'*.name')",
			     rs->name);
		return false;
	}
	return true;
}

static void parse_soa_record(model_ctx_t *c, model_zone_t *z, const model_record_set_t *rs)
{
	char host[256], email[256];
	unsigned serial, refresh, retry, expire, minimum;
	if (rs->n_records != 1 ||
	    sscanf(rs->records[0], "%255s %255s %u %u %u %u %u", host, email, &serial, &refresh,
		   &retry, &expire, &minimum) != 7) {
		model_report(c, rs->origin.node, "records", rs->origin.path, "Z-2", PR_ECONFIG,
			     "an SOA record set holds one record: \"host email serial refresh "
			     "retry expire minimum\"");
		return;
	}
	z->soa = (model_soa_t){pr_arena_strdup(c->d->arena, host),
			       pr_arena_strdup(c->d->arena, email),
			       serial,
			       refresh,
			       retry,
			       expire,
			       minimum,
			       rs->ttl};
}

static void validate_record_sets(model_ctx_t *c, model_zone_t *z, bool private_zone)
{
	over_limit(c, MODEL_LIMIT_RECORD_SETS_PER_ZONE, z->n_record_sets, z->origin.node,
		   "recordSets", z->origin.path, "record sets");
	uint8_t(*owners)[DNS_NAME_MAXLEN] = pr_calloc(z->n_record_sets + 1, DNS_NAME_MAXLEN);
	bool *ok = pr_calloc(z->n_record_sets + 1, sizeof(bool));
	uint8_t *rdata = pr_malloc(DNS_RDATA_MAXLEN);
	for (size_t i = 0; i < z->n_record_sets; i++) {
		model_record_set_t *rs = &z->record_sets[i];
		const char *p = rs->origin.path;
		ok[i] = check_owner(c, z, rs, owners[i]);
		if (!rs->type_text)
			continue;
		if (dns_rrtype_from_text(rs->type_text, &rs->type) != 0)
			rs->type = 0; /* no type: not served */
		over_limit(c, MODEL_LIMIT_RECORDS_PER_RECORD_SET, rs->n_records, rs->origin.node,
			   "records", p, "records");
		/* Without 'records' the decoder said so already. */
		bool given = rs->n_records || json_object_get(rs->origin.node, "records");
		size_t n = given ? rs->n_records : 1;
		bool apex = ok[i] && dns_name_equal(owners[i], z->name_wire);
		const char *rule, *fault = model_zone_set_fault(rs->type, n, apex, &rule);
		if (fault)
			model_report(c, rs->origin.node, "type", p, rule, PR_ECONFIG, "'%s' %s: %s",
				     rs->name, rs->type_text, fault);
		if (!model_zone_type_allowed(rs->type)) {
			ok[i] = false;
			continue;
		}
		if (rs->type == KNOT_RRTYPE_SOA) {
			if (!fault)
				parse_soa_record(c, z, rs);
			continue;
		}
		for (size_t j = 0; j < rs->n_records; j++) {
			char *why = NULL;
			size_t len;
			if (dns_rdata_from_text(rs->type, rs->records[j], z->name_wire, rdata,
						DNS_RDATA_MAXLEN, &len, &why) != 0)
				model_report(c, rs->origin.node, "records", p, "Z-1", PR_ECONFIG,
					     "record '%s' is not valid %s data: %s", rs->records[j],
					     rs->type_text, why ? why : "cannot be parsed");
			free(why);
		}
	}
	/* One record set per (name, type); a CNAME stands alone (RFC 1034). */
	pr_map_t *by_owner = pr_map_new(), *by_owner_type = pr_map_new();
	for (size_t i = 0; i < z->n_record_sets; i++) {
		model_record_set_t *a = &z->record_sets[i];
		if (!ok[i])
			continue;
		size_t len = dns_name_wire_length(owners[i]);
		uint8_t key[DNS_NAME_MAXLEN + 2];
		memcpy(key, owners[i], len);
		key[len] = (uint8_t)(a->type >> 8);
		key[len + 1] = (uint8_t)a->type;
		int prev, code;
		const char *rule, *fault = NULL;
		if (!pr_map_put(by_owner_type, key, len + 2, (int)i, &prev))
			fault = model_zone_pair_fault(a->type, a->type, &rule, &code);
		else if (!pr_map_put(by_owner, owners[i], len, (int)i, &prev))
			fault = model_zone_pair_fault(a->type, z->record_sets[prev].type, &rule,
						      &code);
		if (fault)
			model_report(c, a->origin.node, "name", a->origin.path, rule, code,
				     "'%s' %s: %s", a->name, a->type_text, fault);
	}
	pr_map_destroy(&by_owner);
	pr_map_destroy(&by_owner_type);
	(void)private_zone;
	free(owners);
	free(ok);
	free(rdata);
}

/* sets_shared: its record sets are a previous deployment's, checked then. */
static void validate_zone(model_ctx_t *c, model_zone_t *z, bool private_zone, bool sets_shared)
{
	const char *p = z->origin.path;
	int min = private_zone ? MODEL_ZONE_MIN_LABELS : 1;
	if (check_domain(c, z->origin.node, "name", p, "Z-1", z->name, min, MODEL_ZONE_MAX_LABELS,
			 false, z->name_wire, &z->labels))
		z->name = canonical(c, z->name_wire);
	else
		return;
	if (!sets_shared)
		validate_record_sets(c, z, private_zone);
}

static void validate_zones(model_ctx_t *c)
{
	deployment_t *d = c->d;
	for (size_t i = 0; i < d->n_zones; i++) {
		model_zone_t *z = &d->zones[i];
		validate_zone(c, z, true, shared(c->shared_zones, i, MODEL_SHARED_ITEMS));
		if (!shared(c->shared_zones, i, MODEL_SHARED_LINKS))
			resolve_links(c, z->links, z->n_links, NULL, NULL);
	}
	CHECK_UNIQUE(c, d->zones, d->n_zones, name, "private DNS zone"); /* canonical names */
	/* L-10 and Z-3: zones per VNet, and one registration zone per VNet. */
	size_t *linked = pr_calloc(d->n_vnets + 1, sizeof(size_t));
	size_t *registration = pr_calloc(d->n_vnets + 1, sizeof(size_t));
	for (size_t i = 0; i < d->n_zones; i++)
		for (size_t k = 0; k < d->zones[i].n_links; k++) {
			model_vnet_link_t *l = &d->zones[i].links[k];
			if (l->vnet < 0)
				continue;
			size_t v = (size_t)l->vnet;
			if (++linked[v] == (size_t)limit(c, MODEL_LIMIT_ZONES_PER_VNET) + 1)
				over_limit(c, MODEL_LIMIT_ZONES_PER_VNET, linked[v], l->origin.node,
					   "virtualNetwork", l->origin.path,
					   "private zones linked to one virtual network");
			if (!l->registration)
				continue;
			if (++registration[v] ==
			    (size_t)limit(c, MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET) + 1)
				model_report(c, l->origin.node, "registrationEnabled", l->origin.path,
					     "Z-3", PR_ELIMIT,
					     "virtual network '%s' already has a registration zone; "
					     "limit %d (L-10)",
					     d->vnets[v].name,
					     limit(c, MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET));
		}
	free(linked);
	free(registration);
}

/* ---- security policies (S-1, S-2) ------------------------------------------- */

static void validate_domain_lists(model_ctx_t *c)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->domain_lists, d->n_domain_lists, name, "domain list");
	for (size_t i = 0; i < d->n_domain_lists; i++) {
		model_domain_list_t *dl = &d->domain_lists[i];
		check_resource_name(c, dl->origin.node, dl->origin.path, dl->name, "domain list");
		dl->location = location_of(c, dl->location);
		over_limit(c, MODEL_LIMIT_DOMAINS_PER_LIST, dl->n_domains, dl->origin.node,
			   "domains", dl->origin.path, "domains");
		for (size_t j = 0; j < dl->n_domains; j++) {
			uint8_t wire[DNS_NAME_MAXLEN];
			if (check_domain(c, dl->origin.node, "domains", dl->origin.path, "S-1",
					 dl->domains[j], 0, MODEL_MAX_DOMAIN_LABELS, true, wire,
					 NULL))
				dl->domains[j] = canonical(c, wire);
		}
	}
}

static int find_domain_list(model_ctx_t *c, const char *ref)
{
	const char *name = model_ref_name(c, ref, "dnsResolverDomainLists");
	for (size_t i = 0; name && i < c->d->n_domain_lists; i++)
		if (same(c->d->domain_lists[i].name, name))
			return (int)i;
	return -1;
}

static void validate_policies(model_ctx_t *c)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->policies, d->n_policies, name, "DNS security policy");
	for (size_t i = 0; i < d->n_policies; i++) {
		model_policy_t *pol = &d->policies[i];
		check_resource_name(c, pol->origin.node, pol->origin.path, pol->name,
				    "DNS security policy");
		pol->location = location_of(c, pol->location);
		over_limit(c, MODEL_LIMIT_RULES_PER_POLICY, pol->n_rules, pol->origin.node,
			   "dnsSecurityRules", pol->origin.path, "security rules");
		CHECK_UNIQUE(c, pol->rules, pol->n_rules, name, "security rule");
		for (size_t j = 0; j < pol->n_rules; j++) {
			model_security_rule_t *r = &pol->rules[j];
			const char *p = r->origin.path;
			check_resource_name(c, r->origin.node, p, r->name, "security rule");
			for (size_t k = 0; k < j; k++)
				if (r->priority >= 0 && pol->rules[k].priority == r->priority) {
					model_report(c, r->origin.node, "priority", p, "S-1",
						     PR_EEXIST,
						     "priority %d is already used by rule '%s'; each "
						     "rule of a policy has its own priority",
						     r->priority, pol->rules[k].name);
					break;
				}
			if (r->n_lists == 0)
				model_report(c, r->origin.node, "dnsResolverDomainLists", p, "S-1",
					     PR_ECONFIG, "a security rule names one or more domain "
							 "lists");
			over_limit(c, MODEL_LIMIT_LISTS_PER_RULE, r->n_lists, r->origin.node,
				   "dnsResolverDomainLists", p, "domain lists");
			for (size_t k = 0; k < r->n_lists; k++) {
				r->lists[k] = find_domain_list(c, r->list_refs[k]);
				if (r->lists[k] < 0)
					model_report(c, r->origin.node, "dnsResolverDomainLists", p,
						     "S-1", PR_ENOTFOUND,
						     "domain list '%s' does not exist",
						     r->list_refs[k]);
				else if (!same_ci(d->domain_lists[r->lists[k]].location,
						  pol->location))
					model_report(c, r->origin.node, "dnsResolverDomainLists", p,
						     "S-2", PR_ECONFIG,
						     "domain list '%s' is in '%s', the policy in '%s'",
						     r->list_refs[k],
						     d->domain_lists[r->lists[k]].location,
						     pol->location);
			}
		}
		resolve_links(c, pol->links, pol->n_links, pol->location, "S-2");
	}
	/* S-2: one policy per virtual network. */
	const char **first = pr_calloc(d->n_vnets + 1, sizeof(char *));
	for (size_t i = 0; i < d->n_policies; i++)
		for (size_t k = 0; k < d->policies[i].n_links; k++) {
			model_vnet_link_t *l = &d->policies[i].links[k];
			if (l->vnet < 0)
				continue;
			if (first[l->vnet])
				model_report(c, l->origin.node, "virtualNetwork", l->origin.path, "S-2",
					     PR_ELIMIT,
					     "virtual network '%s' is already linked to policy '%s'; a "
					     "virtual network links to at most one DNS security policy",
					     d->vnets[l->vnet].name, first[l->vnet]);
			else
				first[l->vnet] = d->policies[i].name;
		}
	free(first);
}

/* ---- external servers, public DNS, emulator --------------------------------- */

/* E-3: every key is usable by libknot, names are unique, and a Secure zone
 * has a key to be updated with. */
static void validate_tsig_keys(model_ctx_t *c, model_external_server_t *x)
{
	CHECK_UNIQUE(c, x->tsig_keys, x->n_tsig_keys, name, "TSIG key");
	for (size_t k = 0; k < x->n_tsig_keys; k++) {
		model_tsig_key_t *key = &x->tsig_keys[k];
		dns_tsig_key_spec_t spec = {key->name, key->algorithm, key->secret};
		const char *why = NULL;
		if (key->name && key->secret && dns_tsig_key_check(&spec, &why) != 0)
			model_report(c, key->origin.node, NULL, key->origin.path, "E-3", PR_ECONFIG,
				     "TSIG key '%s': %s", key->name, why);
	}
	for (size_t z = 0; z < x->n_zones; z++)
		if (x->zones[z].dynamic_update == MODEL_UPDATE_SECURE && !x->n_tsig_keys)
			model_report(c, x->zones[z].origin.node, "dynamicUpdate",
				     x->zones[z].origin.path, "E-3", PR_ECONFIG,
				     "a Secure zone takes only TSIG-signed updates, and server '%s' "
				     "has no tsigKeys",
				     x->name);
}

static void validate_externals(model_ctx_t *c)
{
	deployment_t *d = c->d;
	CHECK_UNIQUE(c, d->external_servers, d->n_external_servers, name, "external DNS server");
	for (size_t i = 0; i < d->n_external_servers; i++) {
		model_external_server_t *x = &d->external_servers[i];
		const char *p = x->origin.path;
		check_resource_name(c, x->origin.node, p, x->name, "external DNS server");
		char ip[16];
		if (x->address == MODEL_AZURE_DNS_ADDR)
			model_report(c, x->origin.node, "ipAddress", p, "F-5", PR_ECONFIG,
				     "168.63.129.16 is Azure DNS, not an external server");
		if (deployment_find_inbound_by_address(d, x->address, NULL))
			model_report(c, x->origin.node, "ipAddress", p, NULL, PR_EEXIST,
				     "%s is an inbound endpoint's address", ip_text(x->address, ip));
		for (size_t j = 0; j < i; j++)
			if (d->external_servers[j].address == x->address &&
			    d->external_servers[j].port == x->port)
				model_report(c, x->origin.node, "ipAddress", p, NULL, PR_EEXIST,
					     "%s:%u is already server '%s'", ip_text(x->address, ip),
					     x->port, d->external_servers[j].name);
		for (size_t z = 0; z < x->n_zones; z++)
			validate_zone(c, &x->zones[z], false, false);
		validate_tsig_keys(c, x);
		for (size_t f = 0; f < x->n_forwarders; f++) {
			model_forwarder_t *fw = &x->forwarders[f];
			if (check_domain(c, fw->origin.node, "domainName", fw->origin.path, "F-2",
					 fw->domain_name, 0, MODEL_MAX_DOMAIN_LABELS, true,
					 fw->domain_wire, NULL))
				fw->domain_name = canonical(c, fw->domain_wire);
			else
				fw->domain_name = NULL;
			if (fw->n_targets == 0)
				model_report(c, fw->origin.node, "targetDnsServers", fw->origin.path,
					     "F-4", PR_ECONFIG, "a forwarder needs 1 to %d targets",
					     MODEL_MAX_TARGETS_PER_RULE);
			check_targets(c, fw->origin.node, fw->origin.path, fw->targets,
				      fw->n_targets, true);
			for (size_t g = 0; g < f; g++)
				if (same(fw->domain_name, x->forwarders[g].domain_name))
					model_report(c, fw->origin.node, "domainName",
						     fw->origin.path, "F-3", PR_EEXIST,
						     "'%s' is forwarded twice", fw->domain_name);
		}
	}
}

static void validate_public_dns(model_ctx_t *c)
{
	model_public_dns_t *pd = &c->d->public_dns;
	for (size_t i = 0; i < pd->n_zones; i++) {
		validate_zone(c, &pd->zones[i], false, false);
		for (size_t j = 0; j < i; j++)
			if (same(pd->zones[i].name, pd->zones[j].name))
				model_report(c, pd->zones[i].origin.node, "name",
					     pd->zones[i].origin.path, NULL, PR_EEXIST,
					     "public zone '%s' is defined twice", pd->zones[i].name);
	}
	for (size_t i = 0; i < pd->n_upstreams; i++) {
		check_target_tls(c, &pd->upstreams[i]);
		if (pd->upstreams[i].address == MODEL_AZURE_DNS_ADDR)
			model_report(c, pd->upstreams[i].origin.node, NULL,
				     pd->upstreams[i].origin.path, "Q-4", PR_ECONFIG,
				     "168.63.129.16 can't be a public upstream: it is Azure DNS "
				     "itself");
	}
}

bool listener_exists(const deployment_t *d, const char *name)
{
	const char *slash = strchr(name, '/');
	if (!slash)
		return false;
	size_t pl = (size_t)(slash - name);
	const char *rest = slash + 1;
	if (pl == 9 && !strncmp(name, "azure-dns", 9)) {
		for (size_t i = 0; i < d->n_vnets; i++)
			if (same(d->vnets[i].name, rest))
				return true;
		return false;
	}
	if (pl == 8 && !strncmp(name, "external", 8)) {
		for (size_t i = 0; i < d->n_external_servers; i++)
			if (same(d->external_servers[i].name, rest))
				return true;
		return false;
	}
	for (size_t i = 0; i < d->n_resolvers; i++) {
		const model_resolver_t *r = &d->resolvers[i];
		if (strlen(r->name) != pl || strncmp(r->name, name, pl))
			continue;
		for (size_t j = 0; j < r->n_inbound; j++)
			if (same(r->inbound[j].name, rest))
				return true;
	}
	return false;
}

static void validate_emulator(model_ctx_t *c)
{
	model_emulator_t *em = &c->d->emulator;
	for (size_t i = 0; i < em->n_listeners; i++) {
		model_listener_map_t *m = &em->listeners[i];
		if (!listener_exists(c->d, m->listener))
			model_report(c, m->origin.node, NULL, m->origin.path, NULL, PR_ENOTFOUND,
				     "no listener '%s'; listeners are <resolver>/<inbound "
				     "endpoint>, azure-dns/<virtual network> and "
				     "external/<server>",
				     m->listener);
		for (size_t j = 0; j < i; j++)
			if (em->listeners[j].address == m->address &&
			    em->listeners[j].port == m->port) {
				char ip[16];
				model_report(c, m->origin.node, NULL, m->origin.path, NULL,
					     PR_EEXIST, "%s:%u is already listener '%s'",
					     ip_text(m->address, ip), m->port,
					     em->listeners[j].listener);
			}
	}
}

/* ---- ids ---------------------------------------------------------------------- */

/* The ARM id of a resource of type (under the provider) named name, or of its
 * child of type child named child_name. */
static const char *id_of(model_ctx_t *c, const char *type, const char *name, const char *child,
			 const char *child_name)
{
	const deployment_t *d = c->d;
	return PR_ARENA_CONCAT(d->arena, "/subscriptions/", d->subscription, "/resourceGroups/",
			       d->resource_group, "/providers/", type, "/", name,
			       child ? "/" : "", child, child ? "/" : "", child_name);
}

char *model_arm_id(const deployment_t *d, const char *type_path)
{
	return pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/%s",
			   d->subscription, d->resource_group, type_path);
}

#define NET "Microsoft.Network/"

static void assign_ids(model_ctx_t *c)
{
	deployment_t *d = c->d;
	for (size_t i = 0; !c->shared_vnets && i < d->n_vnets; i++)
		d->vnets[i].id = id_of(c, NET "virtualNetworks", d->vnets[i].name, NULL, NULL);
	for (size_t i = 0; i < d->n_resolvers; i++) {
		model_resolver_t *r = &d->resolvers[i];
		r->id = id_of(c, NET "dnsResolvers", r->name, NULL, NULL);
		for (size_t j = 0; j < r->n_inbound; j++)
			r->inbound[j].id = id_of(c, NET "dnsResolvers", r->name,
						 "inboundEndpoints", r->inbound[j].name);
		for (size_t j = 0; j < r->n_outbound; j++)
			r->outbound[j].id = id_of(c, NET "dnsResolvers", r->name,
						  "outboundEndpoints", r->outbound[j].name);
	}
	for (size_t i = 0; i < d->n_rulesets; i++) {
		model_ruleset_t *rs = &d->rulesets[i];
		rs->id = id_of(c, NET "dnsForwardingRulesets", rs->name, NULL, NULL);
		for (size_t j = 0; !shared(c->shared_rulesets, i, MODEL_SHARED_ITEMS) && j < rs->n_rules;
		     j++)
			rs->rules[j].id = id_of(c, NET "dnsForwardingRulesets", rs->name,
						"forwardingRules", rs->rules[j].name);
		for (size_t j = 0; !shared(c->shared_rulesets, i, MODEL_SHARED_LINKS) && j < rs->n_links;
		     j++)
			rs->links[j].id = id_of(c, NET "dnsForwardingRulesets", rs->name,
						"virtualNetworkLinks", rs->links[j].name);
	}
	for (size_t i = 0; i < d->n_zones; i++) {
		model_zone_t *z = &d->zones[i];
		char zn[DNS_NAME_TEXT_MAX];
		snprintf(zn, sizeof(zn), "%s", z->name ? z->name : "");
		size_t l = strlen(zn);
		if (l > 1 && zn[l - 1] == '.')
			zn[l - 1] = '\0';
		z->id = id_of(c, NET "privateDnsZones", zn, NULL, NULL);
		for (size_t j = 0; !shared(c->shared_zones, i, MODEL_SHARED_LINKS) && j < z->n_links; j++)
			z->links[j].id = id_of(c, NET "privateDnsZones", zn, "virtualNetworkLinks",
					       z->links[j].name);
	}
	for (size_t i = 0; i < d->n_domain_lists; i++)
		d->domain_lists[i].id = id_of(c, NET "dnsResolverDomainLists",
					      d->domain_lists[i].name, NULL, NULL);
	for (size_t i = 0; i < d->n_policies; i++) {
		model_policy_t *p = &d->policies[i];
		p->id = id_of(c, NET "dnsResolverPolicies", p->name, NULL, NULL);
		for (size_t j = 0; j < p->n_rules; j++)
			p->rules[j].id = id_of(c, NET "dnsResolverPolicies", p->name,
					       "dnsSecurityRules", p->rules[j].name);
		for (size_t j = 0; j < p->n_links; j++)
			p->links[j].id = id_of(c, NET "dnsResolverPolicies", p->name,
					       "virtualNetworkLinks", p->links[j].name);
	}
	for (size_t i = 0; i < d->n_vms; i++)
		d->vms[i].id = id_of(c, "Microsoft.Compute/virtualMachines", d->vms[i].name, NULL, NULL);
}

void model_validate(model_ctx_t *c)
{
	occupants_t occ = {0};
	validate_vnets(c);
	validate_resolvers(c, &occ);
	validate_vms(c, &occ);
	check_occupants(c, &occ);
	free(occ.o);
	validate_rulesets(c);
	validate_zones(c);
	validate_domain_lists(c);
	validate_policies(c);
	validate_externals(c);
	validate_public_dns(c);
	validate_emulator(c);
	model_validate_encrypted(c);
	model_validate_topology(c);
	assign_ids(c);
}
