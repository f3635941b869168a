/* Plan: the changes between two deployments, resource by resource, as the
 * cloud's what-if shows them. Both sides are compared on their JSON form
 * (deployment_to_json: what was given plus ids and allocated addresses), so a
 * plan speaks the property names of the file and of the API. The immutable
 * properties of the contract (I-1, F-7, N-4) are read from the validated
 * model, where references are resolved, so that "hub" and hub's ARM id are
 * the same VNet. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_p.h"

/* Where a kind of resource lives in the document. */
typedef struct plan_kind {
	const char *key;     /* collection key in the parent (or at the top) */
	const char *type;    /* ARM resource type */
	const char *segment; /* id segment under the parent; NULL: type-derived (top level) */
	int rank;            /* creation order: parents and referenced resources first */
	int parent;          /* index of the parent kind, or -1 */
} plan_kind_t;

enum {
	K_VNET, K_SUBNET, K_RESOLVER, K_INBOUND, K_OUTBOUND, K_RULESET, K_RULE, K_RULESET_LINK,
	K_ZONE, K_RECORD_SET, K_ZONE_LINK, K_DOMAIN_LIST, K_POLICY, K_POLICY_ALT, K_SEC_RULE,
	K_POLICY_LINK, K_POLICY_ALT_RULE, K_POLICY_ALT_LINK, K_VM, K_EXTERNAL, K_COUNT
};

#define NET "Microsoft.Network/"
static const plan_kind_t kinds[K_COUNT] = {
	[K_VNET] = {"virtualNetworks", NET "virtualNetworks", NULL, 0, -1},
	[K_SUBNET] = {"subnets", NET "virtualNetworks/subnets", "subnets", 1, K_VNET},
	[K_RESOLVER] = {"dnsResolvers", NET "dnsResolvers", NULL, 2, -1},
	[K_INBOUND] = {"inboundEndpoints", NET "dnsResolvers/inboundEndpoints",
		       "inboundEndpoints", 3, K_RESOLVER},
	[K_OUTBOUND] = {"outboundEndpoints", NET "dnsResolvers/outboundEndpoints",
			"outboundEndpoints", 3, K_RESOLVER},
	[K_RULESET] = {"dnsForwardingRulesets", NET "dnsForwardingRulesets", NULL, 4, -1},
	[K_RULE] = {"forwardingRules", NET "dnsForwardingRulesets/forwardingRules",
		    "forwardingRules", 5, K_RULESET},
	[K_RULESET_LINK] = {"virtualNetworkLinks", NET "dnsForwardingRulesets/virtualNetworkLinks",
			    "virtualNetworkLinks", 5, K_RULESET},
	[K_ZONE] = {"privateDnsZones", NET "privateDnsZones", NULL, 0, -1},
	/* type and segment of a record set are its record type (privateDnsZones/A) */
	[K_RECORD_SET] = {"recordSets", NET "privateDnsZones", NULL, 1, K_ZONE},
	[K_ZONE_LINK] = {"virtualNetworkLinks", NET "privateDnsZones/virtualNetworkLinks",
			 "virtualNetworkLinks", 2, K_ZONE},
	[K_DOMAIN_LIST] = {"dnsResolverDomainLists", NET "dnsResolverDomainLists", NULL, 0, -1},
	[K_POLICY] = {"dnsResolverPolicies", NET "dnsResolverPolicies", NULL, 1, -1},
	/* the portal's name for the same collection (model/decode.c) */
	[K_POLICY_ALT] = {"dnsSecurityPolicies", NET "dnsResolverPolicies", NULL, 1, -1},
	[K_SEC_RULE] = {"dnsSecurityRules", NET "dnsResolverPolicies/dnsSecurityRules",
			"dnsSecurityRules", 2, K_POLICY},
	[K_POLICY_LINK] = {"virtualNetworkLinks", NET "dnsResolverPolicies/virtualNetworkLinks",
			   "virtualNetworkLinks", 2, K_POLICY},
	[K_POLICY_ALT_RULE] = {"dnsSecurityRules", NET "dnsResolverPolicies/dnsSecurityRules",
			       "dnsSecurityRules", 2, K_POLICY_ALT},
	[K_POLICY_ALT_LINK] = {"virtualNetworkLinks",
			       NET "dnsResolverPolicies/virtualNetworkLinks",
			       "virtualNetworkLinks", 2, K_POLICY_ALT},
	[K_VM] = {"virtualMachines", "Microsoft.Compute/virtualMachines", NULL, 2, -1},
	[K_EXTERNAL] = {"externalDnsServers", "privres/externalDnsServers", NULL, 0, -1},
};

#define SETTINGS_TYPE "privres/settings"
#define SETTINGS_RANK 0

/* One resource of one side. */
typedef struct entry {
	char *id;  /* ARM id as the model writes it */
	char *type;
	const char *name; /* borrowed from props, which holds the same string value */
	int rank;
	size_t order;  /* document order, for a stable plan */
	json_t *props; /* the resource without its id and child collections (owned) */
	/* the immutable property, resolved by the model (NULL when the kind has none) */
	const char *imm_rule, *imm_prop;
	char *imm_value;
} entry_t;

typedef struct side {
	entry_t *e;
	size_t n, cap;
	pr_map_t *by_id; /* lowercase id → index, built once collected */
} side_t;

static entry_t *add_entry(side_t *s)
{
	pr_grow(&s->e, &s->cap, s->n + 1, sizeof(*s->e));
	entry_t *e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	e->order = s->n++;
	return e;
}

static bool is_child_key(int kind, const char *key)
{
	for (int k = 0; k < K_COUNT; k++)
		if (kinds[k].parent == kind && strcmp(kinds[k].key, key) == 0)
			return true;
	return false;
}

/* The comparable properties: no id (derived from the name), no child
 * collections (resources of their own); an inbound endpoint's single IP
 * configuration (I-1) is flattened, as the API writes it flat. */
static json_t *props_of(int kind, const json_t *obj)
{
	json_t *p = json_object();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "id") == 0 || is_child_key(kind, key))
			continue;
		if (kind == K_INBOUND && strcmp(key, "ipConfigurations") == 0 &&
		    json_is_object(json_array_get(v, 0))) {
			const char *k2;
			json_t *v2;
			json_object_foreach(json_array_get(v, 0), k2, v2)
				json_object_set(p, k2, v2);
			continue;
		}
		json_object_set(p, key, v);
	}
	return p;
}

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static char *upper(const char *s)
{
	char *u = pr_strdup(s);
	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

/* The model's immutable properties of resource i (and child j) of kind k. */
static void immutable_of(const deployment_t *d, int k, size_t i, size_t j, entry_t *e)
{
	if (k == K_RESOLVER && i < d->n_resolvers) {
		const model_resolver_t *r = &d->resolvers[i];
		e->imm_rule = "N-4";
		e->imm_prop = "virtualNetwork";
		e->imm_value = pr_strdup(r->vnet >= 0 && (size_t)r->vnet < d->n_vnets
						 ? d->vnets[r->vnet].id
						 : r->vnet_ref ? r->vnet_ref : "");
	} else if (k == K_INBOUND && i < d->n_resolvers && j < d->resolvers[i].n_inbound) {
		e->imm_rule = "I-1";
		e->imm_prop = "privateIpAllocationMethod";
		e->imm_value = pr_strdup(d->resolvers[i].inbound[j].allocation == MODEL_ALLOC_STATIC
						 ? "Static"
						 : "Dynamic");
	} else if (k == K_RULE && i < d->n_rulesets && j < d->rulesets[i].n_rules) {
		e->imm_rule = "F-7";
		e->imm_prop = "domainName";
		e->imm_value = pr_strdup(d->rulesets[i].rules[j].domain_name
						 ? d->rulesets[i].rules[j].domain_name
						 : "");
	}
}

static void collect_children(const deployment_t *d, side_t *s, int parent_kind, size_t pi,
			     const json_t *parent, const char *parent_id)
{
	for (int k = 0; k < K_COUNT; k++) {
		if (kinds[k].parent != parent_kind)
			continue;
		size_t j;
		json_t *c;
		json_array_foreach(json_object_get(parent, kinds[k].key), j, c) {
			if (!json_is_object(c))
				continue;
			entry_t *e = add_entry(s);
			e->name = str_of(c, "name");
			e->rank = kinds[k].rank;
			e->props = props_of(k, c);
			if (k == K_RECORD_SET) {
				char *t = upper(str_of(c, "type"));
				e->type = pr_asprintf("%s/%s", kinds[k].type, t);
				e->id = pr_asprintf("%s/%s/%s", parent_id, t, e->name);
				free(t);
			} else {
				e->type = pr_strdup(kinds[k].type);
				e->id = json_is_string(json_object_get(c, "id"))
						? pr_strdup(str_of(c, "id"))
						: pr_asprintf("%s/%s/%s", parent_id,
							      kinds[k].segment, e->name);
			}
			immutable_of(d, k, pi, j, e);
		}
	}
}

static void collect(const deployment_t *d, side_t *s)
{
	if (!d)
		return;
	json_t *root = deployment_to_json(d);
	char *prefix = pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/",
				   d->subscription, d->resource_group);
	json_t *settings = json_object();
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		int k;
		for (k = 0; k < K_COUNT; k++)
			if (kinds[k].parent < 0 && strcmp(kinds[k].key, key) == 0)
				break;
		if (k == K_COUNT) {
			/* emulator, publicDns, limits, location ...: no ARM resource */
			json_object_set(settings, key, v);
			continue;
		}
		size_t i;
		json_t *r;
		json_array_foreach(v, i, r) {
			if (!json_is_object(r))
				continue;
			entry_t *e = add_entry(s);
			e->name = str_of(r, "name");
			e->rank = kinds[k].rank;
			e->type = pr_strdup(kinds[k].type);
			e->props = props_of(k, r);
			e->id = json_is_string(json_object_get(r, "id"))
					? pr_strdup(str_of(r, "id"))
					: pr_asprintf("%s%s/%s", prefix, kinds[k].type, e->name);
			immutable_of(d, k, i, 0, e);
			char *pid = pr_strdup(e->id); /* s->e may move as children are added */
			collect_children(d, s, k, i, r, pid);
			free(pid);
		}
	}
	entry_t *e = add_entry(s);
	e->name = "settings";
	e->rank = SETTINGS_RANK;
	e->type = pr_strdup(SETTINGS_TYPE);
	e->id = pr_asprintf("%s%s", prefix, SETTINGS_TYPE);
	e->props = settings;
	free(prefix);
	json_decref(root);
}

static void side_free(side_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].id);
		free(s->e[i].type);
		free(s->e[i].imm_value);
		json_decref(s->e[i].props);
	}
	free(s->e);
	pr_map_destroy(&s->by_id);
}

/* Ids match case-insensitively, as the cloud's resource names do. */
static void index_side(side_t *s)
{
	s->by_id = pr_map_new();
	for (size_t i = 0; i < s->n; i++)
		pr_map_put_ci(s->by_id, s->e[i].id, (int)i, NULL);
}

static const entry_t *find(const side_t *s, const char *id)
{
	size_t len = strlen(id);
	char small[512];
	char *low = len < sizeof(small) ? small : pr_malloc(len + 1);
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)(id[i] >= 'A' && id[i] <= 'Z' ? id[i] + 32 : id[i]);
	int i = pr_map_get(s->by_id, low, len);
	if (low != small)
		free(low);
	return i < 0 ? NULL : &s->e[i];
}

/* Property changes of a into b, dotted through nested objects. */
static void diff_props(const json_t *a, const json_t *b, const char *prefix, json_t *out)
{
	json_t *keys = json_object();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)a, key, v) json_object_set(keys, key, json_true());
	json_object_foreach((json_t *)b, key, v) json_object_set(keys, key, json_true());
	json_object_foreach(keys, key, v) {
		json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
		if (x && y && json_equal(x, y))
			continue;
		char *path = *prefix ? pr_asprintf("%s.%s", prefix, key) : pr_strdup(key);
		if (json_is_object(x) && json_is_object(y))
			diff_props(x, y, path, out);
		else
			json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "property", path,
							     "from", x ? x : json_null(), "to",
							     y ? y : json_null()));
		free(path);
	}
	json_decref(keys);
}

static json_t *change(const char *action, const entry_t *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "action", action, "type", e->type, "id",
			 e->id, "name", e->name, "changes");
}

typedef struct ordered {
	const entry_t *e;
	const entry_t *old;
} ordered_t;

static int by_rank_up(const void *a, const void *b)
{
	const entry_t *x = ((const ordered_t *)a)->e, *y = ((const ordered_t *)b)->e;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_rank_down(const void *a, const void *b)
{
	const entry_t *x = ((const ordered_t *)a)->e, *y = ((const ordered_t *)b)->e;
	if (x->rank != y->rank)
		return y->rank - x->rank;
	return x->order < y->order ? -1 : x->order > y->order;
}

json_t *deployment_plan(const deployment_t *from, const deployment_t *to)
{
	side_t a = {0}, b = {0};
	PR_REQUIRE(to);
	collect(from, &a);
	collect(to, &b);
	index_side(&a);
	index_side(&b);
	json_t *plan = json_array();
	ordered_t *dels = pr_calloc(a.n + 1, sizeof(*dels));
	ordered_t *ups = pr_calloc(b.n + 1, sizeof(*ups));
	ordered_t *news = pr_calloc(b.n + 1, sizeof(*news));
	size_t nd = 0, nu = 0, nn = 0;

	for (size_t i = 0; i < a.n; i++)
		if (!find(&b, a.e[i].id))
			dels[nd++] = (ordered_t){&a.e[i], NULL};
	for (size_t i = 0; i < b.n; i++) {
		const entry_t *old = find(&a, b.e[i].id);
		if (!old) {
			/* empty settings are no change from no deployment */
			if (strcmp(b.e[i].type, SETTINGS_TYPE) != 0 ||
			    json_object_size(b.e[i].props) > 0)
				news[nn++] = (ordered_t){&b.e[i], NULL};
		} else if (!json_equal(old->props, b.e[i].props) ||
			   (old->imm_value && b.e[i].imm_value &&
			    strcmp(old->imm_value, b.e[i].imm_value) != 0)) {
			ups[nu++] = (ordered_t){&b.e[i], old};
		}
	}
	/* deletes children first; creates and updates parents first */
	qsort(dels, nd, sizeof(*dels), by_rank_down);
	qsort(ups, nu, sizeof(*ups), by_rank_up);
	qsort(news, nn, sizeof(*news), by_rank_up);

	for (size_t i = 0; i < nd; i++)
		json_array_append_new(plan, change("delete", dels[i].e));
	for (size_t i = 0; i < nu; i++) {
		const entry_t *e = ups[i].e, *old = ups[i].old;
		json_t *c = change("update", e);
		json_t *list = json_object_get(c, "changes");
		diff_props(old->props, e->props, "", list);
		if (old->imm_value && e->imm_value && strcmp(old->imm_value, e->imm_value) != 0) {
			/* I-1, F-7, N-4: the model's resolved values differ */
			size_t k;
			json_t *pc;
			bool listed = false;
			json_array_foreach(list, k, pc) {
				if (strcmp(str_of(pc, "property"), e->imm_prop) == 0) {
					json_object_set_new(pc, "immutable", json_true());
					json_object_set_new(pc, "rule", json_string(e->imm_rule));
					listed = true;
				}
			}
			if (!listed)
				json_array_append_new(list,
						      json_pack("{s:s, s:s, s:s, s:b, s:s}",
								"property", e->imm_prop, "from",
								old->imm_value, "to", e->imm_value,
								"immutable", 1, "rule",
								e->imm_rule));
			json_object_set_new(c, "immutable", json_true());
			json_object_set_new(c, "rule", json_string(e->imm_rule));
		}
		json_array_append_new(plan, c);
	}
	for (size_t i = 0; i < nn; i++) {
		json_t *c = change("create", news[i].e);
		json_t *empty = json_object();
		diff_props(empty, news[i].e->props, "", json_object_get(c, "changes"));
		json_decref(empty);
		json_array_append_new(plan, c);
	}
	free(dels);
	free(ups);
	free(news);
	side_free(&a);
	side_free(&b);
	return plan;
}

const json_t *deployment_plan_first_immutable(const json_t *plan)
{
	size_t i;
	json_t *c;

	json_array_foreach(plan, i, c)
		if (json_is_true(json_object_get(c, "immutable")))
			return c;
	return NULL;
}
