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

/* The comparable properties: no id (derived from the name), no child
 * collections (resources of their own); an inbound endpoint's single IP
 * configuration (I-1) is flattened, as the API writes it flat. */
static json_t *props_of(const model_kind_t *kind, const json_t *obj)
{
	json_t *p = json_object();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "id") == 0 || model_kind_is_child_key(kind, key) ||
		    model_key_is_read_only(key))
			continue;
		if (kind->id == MODEL_KIND_INBOUND && strcmp(key, "ipConfigurations") == 0 &&
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
/* The model's value of kind k's immutable property for resource i (child j):
 * references resolved, so that "hub" and hub's ARM id are one VNet. */
static char *immutable_value(const deployment_t *d, model_kind_id_t k, size_t i, size_t j)
{
	if (k == MODEL_KIND_RESOLVER && i < d->n_resolvers) {
		const model_resolver_t *r = &d->resolvers[i];
		return pr_strdup(r->vnet >= 0 && (size_t)r->vnet < d->n_vnets ? d->vnets[r->vnet].id
			       : r->vnet_ref				 ? r->vnet_ref
										 : "");
	}
	if (k == MODEL_KIND_INBOUND && i < d->n_resolvers && j < d->resolvers[i].n_inbound)
		return pr_strdup(d->resolvers[i].inbound[j].allocation == MODEL_ALLOC_STATIC
					 ? "Static"
					 : "Dynamic");
	if (k == MODEL_KIND_RULE && i < d->n_rulesets && j < d->rulesets[i].n_rules)
		return pr_strdup(d->rulesets[i].rules[j].domain_name
					 ? d->rulesets[i].rules[j].domain_name
					 : "");
	return NULL;
}

static entry_t *add_resource(const deployment_t *d, side_t *s, const model_kind_t *k,
			     const json_t *r, size_t i, size_t j, const char *parent_id,
			     const char *prefix)
{
	entry_t *e = add_entry(s);
	e->name = str_of(r, "name");
	e->rank = k->rank;
	e->props = props_of(k, r);
	if (k->keyed_by_type) {
		char *t = upper(str_of(r, "type"));
		e->type = pr_asprintf("%s/%s", k->arm_type, t);
		e->id = pr_asprintf("%s/%s/%s", parent_id ? parent_id : "", t, e->name);
		free(t);
	} else {
		e->type = pr_strdup(k->arm_type);
		e->id = json_is_string(json_object_get(r, "id"))
				? pr_strdup(str_of(r, "id"))
			: parent_id ? pr_asprintf("%s/%s/%s", parent_id, k->segment ? k->segment : "",
						  e->name)
				    : pr_asprintf("%s%s/%s", prefix ? prefix : "", k->arm_type, e->name);
	}
	if (k->immutable) {
		e->imm_rule = k->immutable_rule;
		e->imm_prop = k->immutable;
		e->imm_value = immutable_value(d, k->id, parent_id ? j : i, parent_id ? i : 0);
	}
	return e;
}

static void collect_children(const deployment_t *d, side_t *s, const model_kind_t *pk, size_t pi,
			     const json_t *parent, const char *parent_id)
{
	for (int k = 0; k < MODEL_KIND_COUNT; k++) {
		const model_kind_t *kind = model_kind((model_kind_id_t)k);
		if (kind->parent != (int)pk->id)
			continue;
		size_t j;
		json_t *c;
		json_array_foreach(json_object_get(parent, kind->key), j, c)
			if (json_is_object(c))
				add_resource(d, s, kind, c, j, pi, parent_id, NULL);
	}
}

/* The top-level kind whose collection (or alias) is key, or NULL. */
static const model_kind_t *top_kind(const char *key)
{
	for (int k = 0; k < MODEL_KIND_COUNT; k++) {
		const model_kind_t *kind = model_kind((model_kind_id_t)k);
		if (kind->parent < 0 && (strcmp(kind->key, key) == 0 ||
					 (kind->alias && strcmp(kind->alias, key) == 0)))
			return kind;
	}
	return NULL;
}

static char *arm_prefix(const deployment_t *d)
{
	return pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/", d->subscription,
			   d->resource_group);
}

static void collect(const deployment_t *d, side_t *s)
{
	if (!d)
		return;
	json_t *root = deployment_to_json(d);
	char *prefix = arm_prefix(d);
	json_t *settings = json_object();
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		const model_kind_t *kind = top_kind(key);
		if (!kind) {
			/* emulator, publicDns, limits, location ...: no ARM resource */
			json_object_set(settings, key, v);
			continue;
		}
		size_t i;
		json_t *r;
		json_array_foreach(v, i, r) {
			if (!json_is_object(r))
				continue;
			entry_t *e = add_resource(d, s, kind, r, i, 0, NULL, prefix);
			char *pid = pr_strdup(e->id); /* s->e may move as children are added */
			collect_children(d, s, kind, i, r, pid);
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

/* The plan of side a into side b (both consumed). */
static json_t *compare(side_t a, side_t b)
{
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

json_t *deployment_plan(const deployment_t *from, const deployment_t *to)
{
	side_t a = {0}, b = {0};
	PR_REQUIRE(to);
	collect(from, &a);
	collect(to, &b);
	return compare(a, b);
}

/* ---- the plan of a change of one resource ---------------------------------------- */

/* The document's top-level resource named name of kind top, its index in *i. */
static const json_t *top_of(const deployment_t *d, const model_kind_t *top, const char *name,
			    size_t *i)
{
	json_t *arr = model_doc_collection((json_t *)d->doc, top, NULL, false, NULL);
	return model_doc_find(arr, name ? name : "", NULL, i);
}

/* Are the child collections of two versions of a resource the same? Most
 * often they are the very same values (a change shares what it does not
 * touch), which json_equal sees at once. */
static bool same_children(const model_kind_t *top, const json_t *x, const json_t *y)
{
	for (int c = 0; c < MODEL_KIND_COUNT; c++) {
		const model_kind_t *ck = model_kind((model_kind_id_t)c);
		if (ck->parent != (int)top->id)
			continue;
		json_t *p = json_object_get(x, ck->key), *q = json_object_get(y, ck->key);
		if ((p || q) && !(p && q && json_equal(p, q)))
			return false;
	}
	return true;
}

/* Top-level resource i of d, named name, into s; with its children when asked. */
static void collect_top(const deployment_t *d, side_t *s, const model_kind_t *top,
			const char *name, size_t i, bool children)
{
	char *prefix = arm_prefix(d);
	json_t *r = deployment_resource_to_json(d, top, NULL, name, NULL);
	entry_t *e = add_resource(d, s, top, r, i, 0, NULL, prefix);
	if (children) {
		char *pid = pr_strdup(e->id);
		collect_children(d, s, top, i, r, pid);
		free(pid);
	}
	json_decref(r);
	free(prefix);
}

/* Child resource (kind k, named name of type type) of top-level resource i. */
static void collect_child(const deployment_t *d, side_t *s, const model_kind_t *k, size_t i,
			  const json_t *top_json, const char *name, const char *type)
{
	size_t j = 0;
	if (!model_doc_find(json_object_get(top_json, k->key), name,
			    k->keyed_by_type ? (type ? type : "") : NULL, &j))
		return;
	const model_kind_t *top = model_kind((model_kind_id_t)k->parent);
	json_t *r = deployment_resource_to_json(d, k, str_of(top_json, "name"), name, type);
	const char *pid = model_top_id(d, top, i);
	char *computed = NULL;
	if (!pid) { /* as collect() names a parent the model gives no id */
		char *prefix = arm_prefix(d);
		pid = computed = pr_asprintf("%s%s/%s", prefix, top->arm_type,
					     str_of(top_json, "name"));
		free(prefix);
	}
	add_resource(d, s, k, r, j, i, pid, NULL);
	json_decref(r);
	free(computed);
}

json_t *deployment_plan_change(const deployment_t *from, const deployment_t *to,
			       const model_kind_t *k, const char *parent, const char *name,
			       const char *type)
{
	side_t a = {0}, b = {0};
	const model_kind_t *top = k->parent < 0 ? k : model_kind((model_kind_id_t)k->parent);
	const char *top_name = k->parent < 0 ? name : parent;
	size_t ia = 0, ib = 0;
	const json_t *x = from ? top_of(from, top, top_name, &ia) : NULL;
	const json_t *y = top_of(to, top, top_name, &ib);

	PR_REQUIRE(to);
	if (k->parent < 0) {
		/* a resource's children change with it only when it comes or goes */
		bool children = !x || !y || !same_children(top, x, y);
		if (x)
			collect_top(from, &a, top, top_name, ia, children);
		if (y)
			collect_top(to, &b, top, top_name, ib, children);
	} else {
		if (x)
			collect_child(from, &a, k, ia, x, name, type);
		if (y)
			collect_child(to, &b, k, ib, y, name, type);
	}
	return compare(a, b);
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
