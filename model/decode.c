/* The JSON document into typed resources: shapes, types, required and unknown
 * keys (with "did you mean"). Semantic rules are validate.c's, so that a
 * document is checked the same way whether it came from YAML or the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_p.h"

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

void model_report(model_ctx_t *c, const json_t *node, const char *key, const char *path,
		  const char *rule, int code, const char *fmt, ...)
{
	int line = 0, col = 0;
	deployment_locate(c->d, node, key, &line, &col);
	pr_buf_t b = {0};
	va_list ap;
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pr_buf_t p = {0};
	pr_buf_printf(&p, "%s", path ? path : "");
	if (key)
		pr_buf_printf(&p, "%s%s", p.len ? "." : "", key);
	pr_diag_add(c->diag, c->d->file, line, col, p.data ? p.data : "", rule, code, "%s", b.data);
	pr_buf_free(&b);
	pr_buf_free(&p);
}

void deployment_locate(const deployment_t *d, const json_t *node, const char *key, int *line,
		       int *column)
{
	*line = *column = 0;
	if (!d || !d->marks || !node)
		return;
	const json_t *at = key && json_is_object(node) ? json_object_get(node, key) : NULL;
	if (at && marks_get(d->marks, at, line, column))
		return;
	marks_get(d->marks, node, line, column);
}

/* Unknown keys are errors (style.md §12), with the closest valid key. */
void model_check_keys(model_ctx_t *c, const json_t *obj, const char *path,
		       const char *const *allowed)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)obj, key, value) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, key);
		if (ok)
			continue;
		/* Unknown: only now look for the closest valid key. */
		const char *best = pr_closest(key, allowed);
		pr_buf_t valid = {0};
		for (const char *const *a = allowed; *a; a++)
			pr_buf_printf(&valid, "%s%s", a == allowed ? "" : ", ", *a);
		if (best)
			model_report(c, obj, key, path, NULL, PR_ECONFIG,
				     "unknown property '%s' (did you mean '%s'?)", key, best);
		else
			model_report(c, obj, key, path, NULL, PR_ECONFIG,
				     "unknown property '%s'; valid here: %s", key, valid.data);
		pr_buf_free(&valid);
	}
}

/* ARM tags and metadata: string to string. Tags: at most 50, names of at most
 * 512 characters, values of at most 256 (the resource manager's limits). */
static void check_string_map(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			     bool tags)
{
	const json_t *m = json_object_get(obj, key);
	if (!m)
		return;
	if (!json_is_object(m)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "%s is a mapping of strings", key);
		return;
	}
	if (tags && json_object_size(m) > MODEL_MAX_TAGS)
		model_report(c, obj, key, path, NULL, PR_ELIMIT, "%zu tags, limit %d",
			     json_object_size(m), MODEL_MAX_TAGS);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v) {
		if (!json_is_string(v))
			model_report(c, m, k, path, NULL, PR_ECONFIG, "%s.%s: values are strings", key,
				     k);
		else if (tags && (strlen(k) > MODEL_MAX_TAG_NAME ||
				  json_string_length(v) > MODEL_MAX_TAG_VALUE))
			model_report(c, m, k, path, NULL, PR_ELIMIT,
				     "tag names have at most %d characters, values %d",
				     MODEL_MAX_TAG_NAME, MODEL_MAX_TAG_VALUE);
	}
}

/* Unknown keys of a resource of kind k: own lists what only k has; what every
 * resource of its kind has comes from the schema (design.md §6a): name and id,
 * location and tags of tracked resources, metadata, and the read-only etag and
 * provisioningState (ignored on input, as the resource manager does). */
static void check_resource_keys(model_ctx_t *c, const json_t *obj, const char *path,
				model_kind_id_t kind, const char *const *own)
{
	const model_kind_t *k = model_kind(kind);
	const char *allowed[32];
	size_t n = 0;
	for (const char *const *a = own; *a && n < 24; a++)
		allowed[n++] = *a;
	allowed[n++] = "name";
	allowed[n++] = "id";
	allowed[n++] = "etag";
	allowed[n++] = "provisioningState";
	if (k->tracked) {
		allowed[n++] = "location";
		allowed[n++] = "tags";
	}
	if (k->has_metadata)
		allowed[n++] = "metadata";
	allowed[n] = NULL;
	model_check_keys(c, obj, path, allowed);
	if (k->tracked)
		check_string_map(c, obj, "tags", path, true);
	if (k->has_metadata)
		check_string_map(c, obj, "metadata", path, false);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "a number";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static const char *dup(model_ctx_t *c, const char *s)
{
	return pr_arena_strdup(c->d->arena, s);
}

/* parent.member[name] or parent.member[index]: one per decoded item, so put
 * together without snprintf (its formatting was a tenth of a change's cost). */
static const char *path_of(model_ctx_t *c, const char *parent, const char *member,
			   const char *name, size_t index)
{
	char digits[24];
	if (!name) {
		size_t d = sizeof(digits) - 1;
		digits[d] = '\0';
		do
			digits[--d] = (char)('0' + index % 10);
		while ((index /= 10) && d > 0);
		name = digits + d;
	}
	return PR_ARENA_CONCAT(c->d->arena, parent, *parent ? "." : "", member, "[", name, "]");
}

/* A string property; NULL when absent (an error when required). Numbers are
 * accepted where a string is expected only for nothing: addresses are strings. */
static const char *get_str(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			   bool required)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			model_report(c, obj, NULL, path, NULL, PR_ECONFIG,
				     "'%s' is required", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be a string, not %s",
			     type_name(v));
		return NULL;
	}
	return dup(c, json_string_value(v));
}

/* An IPv4 address property: true and *out when present and valid; a bad one
 * is reported under rule. */
static bool get_ipv4(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
		     bool required, const char *rule, uint32_t *out)
{
	const char *ip = get_str(c, obj, key, path, required);
	if (!ip)
		return false;
	if (pr_ipv4_parse(ip, out) == 0)
		return true;
	model_report(c, obj, key, path, rule, PR_ECONFIG,
		     "'%s' is not an IPv4 address (IPv4 only: the service has no IPv6)", ip);
	return false;
}

/* A reference: a name, an ARM id, or {id: …} as the cloud writes it. */
static const char *get_ref(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			   bool required)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_object(v)) {
		model_check_keys(c, v, path, KEYS("id"));
		const json_t *id = json_object_get(v, "id");
		if (json_is_string(id))
			return dup(c, json_string_value(id));
		model_report(c, obj, key, path, NULL, PR_ECONFIG,
			     "a reference is a name, an id string or {id: …}");
		return NULL;
	}
	return get_str(c, obj, key, path, required);
}

static bool get_int(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
		    long long min, long long max, long long *out)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return false;
	long long x;
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_string(v) && *json_string_value(v)) {
		/* The cloud's JSON sometimes carries numbers as strings. */
		char *end;
		x = strtoll(json_string_value(v), &end, 10);
		if (*end) {
			model_report(c, obj, key, path, NULL, PR_ECONFIG,
				     "must be a whole number, not '%s'", json_string_value(v));
			return false;
		}
	} else {
		model_report(c, obj, key, path, NULL, PR_ECONFIG,
			     "must be a whole number, not %s", type_name(v));
		return false;
	}
	if (x < min || x > max) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG,
			     "%lld is out of range; valid: %lld..%lld", x, min, max);
		return false;
	}
	*out = x;
	return true;
}

static bool get_bool(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
		     bool dflt)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return dflt;
	if (!json_is_boolean(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be true or false, not %s",
			     type_name(v));
		return dflt;
	}
	return json_is_true(v);
}

/* A list property; NULL when absent or wrong (reported). */
static const json_t *get_list(model_ctx_t *c, const json_t *obj, const char *key,
			      const char *path)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be a list, not %s",
			     type_name(v));
		return NULL;
	}
	return v;
}

static const json_t *get_map(model_ctx_t *c, const json_t *obj, const char *key,
			     const char *path)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be a mapping, not %s",
			     type_name(v));
		return NULL;
	}
	return v;
}

/* Each element of a list of mappings: its name (or NULL) and path. Returns
 * false (reported) when the element is not a mapping. */
static bool item(model_ctx_t *c, const json_t *list, size_t i, const char *parent,
		 const char *member, const json_t **obj, const char **path)
{
	const json_t *e = json_array_get(list, i);
	const json_t *n = json_is_object(e) ? json_object_get(e, "name") : NULL;
	*path = path_of(c, parent, member, json_is_string(n) ? json_string_value(n) : NULL, i);
	if (!json_is_object(e)) {
		model_report(c, e, NULL, *path, NULL, PR_ECONFIG, "must be a mapping, not %s",
			     type_name(e));
		return false;
	}
	*obj = e;
	return true;
}

#define ALLOC_ARRAY(c, ptr, n) ((ptr) = pr_arena_alloc((c)->d->arena, ((n) ? (n) : 1) * sizeof(*(ptr))))

static const char *const STRING_LIST_ERR = "each entry must be a string";

static const char **get_string_list(model_ctx_t *c, const json_t *obj, const char *key,
				    const char *path, size_t *n)
{
	const json_t *l = get_list(c, obj, key, path);
	*n = 0;
	if (!l)
		return NULL;
	const char **out;
	ALLOC_ARRAY(c, out, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		if (json_is_object(e) && json_is_string(json_object_get(e, "id"))) {
			out[(*n)++] = dup(c, json_string_value(json_object_get(e, "id")));
		} else if (!json_is_string(e)) {
			model_report(c, e, NULL, path_of(c, path, key, NULL, i), NULL, PR_ECONFIG,
				     "%s", STRING_LIST_ERR);
		} else {
			out[(*n)++] = dup(c, json_string_value(e));
		}
	}
	return out;
}

/* [privres] protocol (Dns, the default, or Tls), tlsHostname and tlsCa of a
 * target; the checks that need the whole target are validate.c's. */
static bool decode_target_tls(model_ctx_t *c, const json_t *e, const char *p, model_target_t *t)
{
	const char *proto = get_str(c, e, "protocol", p, false);
	if (proto && !strcmp(proto, "Tls")) {
		t->tls = true;
		t->port = MODEL_DOT_PORT; /* RFC 7858 §3.1 */
	} else if (proto && strcmp(proto, "Dns")) {
		model_report(c, e, "protocol", p, "F-4", PR_ECONFIG,
			     "'%s' is not a target protocol; valid: Dns (the default), Tls "
			     "(DNS over TLS, RFC 7858)",
			     proto);
		return false;
	}
	t->tls_hostname = get_str(c, e, "tlsHostname", p, false);
	t->tls_ca = get_str(c, e, "tlsCa", p, false);
	return true;
}

static void decode_targets(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			   model_target_t **out, size_t *n)
{
	const json_t *l = get_list(c, obj, key, path);
	*n = 0;
	*out = NULL;
	if (!l)
		return;
	ALLOC_ARRAY(c, *out, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		const char *p = path_of(c, path, key, NULL, i);
		model_target_t *t = &(*out)[*n];
		t->origin = (model_origin_t){e, p};
		t->port = DNS_PORT; /* F-4 */
		if (json_is_string(e)) {
			/* "10.0.0.1" or "10.0.0.1:5353" as a shorthand */
			uint32_t a;
			uint16_t port;
			const char *s = json_string_value(e);
			if (pr_hostport_parse(s, &a, &port) == 0) {
				t->address = a;
				t->port = port;
			} else if (pr_ipv4_parse(s, &a) == 0) {
				t->address = a;
			} else {
				model_report(c, e, NULL, p, "F-4", PR_ECONFIG,
					     "'%s' is not an IPv4 address (targets are IPv4 only)",
					     s);
				continue;
			}
			(*n)++;
			continue;
		}
		if (!json_is_object(e)) {
			model_report(c, e, NULL, p, NULL, PR_ECONFIG,
				     "a target is {ipAddress: …, port: …}");
			continue;
		}
		model_check_keys(c, e, p,
				 KEYS("ipAddress", "port", "protocol", "tlsHostname", "tlsCa"));
		if (!get_ipv4(c, e, "ipAddress", p, true, "F-4", &t->address))
			continue;
		if (!decode_target_tls(c, e, p, t))
			continue;
		long long port;
		if (json_object_get(e, "port")) {
			if (!get_int(c, e, "port", p, 1, 65535, &port))
				continue;
			t->port = (uint16_t)port;
		}
		(*n)++;
	}
}

static void decode_links(model_ctx_t *c, const json_t *obj, const char *path,
			 model_kind_id_t kind, model_vnet_link_t **out, size_t *n)
{
	const json_t *l = get_list(c, obj, "virtualNetworkLinks", path);
	*n = 0;
	*out = NULL;
	if (!l)
		return;
	ALLOC_ARRAY(c, *out, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, path, "virtualNetworkLinks", &e, &p))
			continue;
		if (kind == MODEL_KIND_ZONE_LINK)
			check_resource_keys(c, e, p, kind,
					    KEYS("virtualNetwork", "registrationEnabled",
						 "resolutionPolicy", "virtualNetworkLinkState"));
		else
			check_resource_keys(c, e, p, kind, KEYS("virtualNetwork"));
		model_vnet_link_t *k = &(*out)[(*n)++];
		k->origin = (model_origin_t){e, p};
		k->vnet = -1;
		k->name = get_str(c, e, "name", p, true);
		k->vnet_ref = get_ref(c, e, "virtualNetwork", p, true);
		if (kind != MODEL_KIND_ZONE_LINK)
			continue;
		k->registration = get_bool(c, e, "registrationEnabled", p, false);
		const char *rp = get_str(c, e, "resolutionPolicy", p, false);
		if (!rp || !strcmp(rp, "Default")) {
			k->resolution = MODEL_RESOLUTION_DEFAULT;
		} else if (!strcmp(rp, "NxDomainRedirect")) {
			k->resolution = MODEL_RESOLUTION_NXDOMAIN_REDIRECT;
		} else {
			model_report(c, e, "resolutionPolicy", p, "Q-2", PR_ECONFIG,
				     "'%s' is not a resolution policy; valid: Default, "
				     "NxDomainRedirect",
				     rp);
		}
	}
}

/* ---- parts shared with the deployment before a change (deployment_from_doc_after) ---- */

/* prev's parts decode as d's would only in the same context: the limits
 * (L-1, L-5, L-11), the subscription and resource group of the ids, the
 * default location. */
static bool same_context(const deployment_t *a, const deployment_t *b)
{
	for (int i = 0; i < MODEL_LIMIT_COUNT; i++)
		if (a->limits.value[i] != b->limits.value[i] ||
		    a->limits.overridden[i] != b->limits.overridden[i])
			return false;
	return !strcmp(a->subscription, b->subscription) &&
	       !strcmp(a->resource_group, b->resource_group) && !strcmp(a->location, b->location);
}

/* prev's ruleset decoded from the same rules list node, of the same name: a
 * change adds or deletes at most one ruleset, so it is where this one is or
 * next to it. */
static const model_ruleset_t *prev_ruleset(const model_ctx_t *c, size_t i, const char *name,
					   const json_t *rules)
{
	const deployment_t *pd = c->prev;
	for (size_t k = i ? i - 1 : 0; pd && rules && name && k <= i + 1 && k < pd->n_rulesets;
	     k++) {
		const model_ruleset_t *rs = &pd->rulesets[k];
		if (json_object_get(rs->origin.node, "forwardingRules") == rules && rs->name &&
		    !strcmp(rs->name, name))
			return rs;
	}
	return NULL;
}

/* The links of ruleset rs (number i) decoded from e at path p: prev's when
 * prev decoded the same ruleset (node) and resolved them to the same VNets. */
static void decode_ruleset_links(model_ctx_t *c, model_ruleset_t *rs, size_t i, const json_t *e,
				 const char *p)
{
	const deployment_t *pd = c->shared_vnets ? c->prev : NULL;
	for (size_t k = i ? i - 1 : 0; pd && k <= i + 1 && k < pd->n_rulesets; k++) {
		if (pd->rulesets[k].origin.node != e)
			continue;
		rs->links = pd->rulesets[k].links; /* O-3, L-2 and their ids: as checked for prev */
		rs->n_links = pd->rulesets[k].n_links;
		c->shared_rulesets[i] |= MODEL_SHARED_LINKS;
		return;
	}
	decode_links(c, e, p, MODEL_KIND_RULESET_LINK, &rs->links, &rs->n_links);
}

/* prev's private zone decoded from node (so the same name, SOA, record sets). */
static const model_zone_t *prev_zone(const model_ctx_t *c, size_t i, const json_t *node)
{
	const deployment_t *pd = c->prev;
	for (size_t k = i ? i - 1 : 0; pd && k <= i + 1 && k < pd->n_zones; k++)
		if (pd->zones[k].origin.node == node)
			return &pd->zones[k];
	return NULL;
}

static void decode_vnets(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "virtualNetworks", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	if (c->prev && json_object_get(c->prev->doc, "virtualNetworks") == l) {
		d->vnets = c->prev->vnets; /* N-1, N-2 and their ids: as checked for prev */
		d->n_vnets = c->prev->n_vnets;
		c->shared_vnets = c->shared_any = true;
		return;
	}
	ALLOC_ARRAY(c, d->vnets, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "virtualNetworks", &e, &p))
			continue;
		check_resource_keys(c, e, p, MODEL_KIND_VNET,
				    KEYS("addressPrefixes", "subnets", "dnsServers"));
		model_vnet_t *v = &d->vnets[d->n_vnets++];
		v->origin = (model_origin_t){e, p};
		v->name = get_str(c, e, "name", p, true);
		v->location = get_str(c, e, "location", p, false);
		size_t np;
		const char **prefixes = get_string_list(c, e, "addressPrefixes", p, &np);
		ALLOC_ARRAY(c, v->prefixes, np);
		for (size_t j = 0; j < np; j++) {
			const char *why;
			if (pr_prefix_parse(prefixes[j], &v->prefixes[v->n_prefixes], &why) != 0) {
				model_report(c, json_array_get(json_object_get(e, "addressPrefixes"), j),
					     NULL, p, "N-1", PR_ECONFIG, "'%s': %s", prefixes[j],
					     why);
				continue;
			}
			v->n_prefixes++;
		}
		size_t nd;
		const char **dns = get_string_list(c, e, "dnsServers", p, &nd);
		ALLOC_ARRAY(c, v->dns_servers, nd);
		for (size_t j = 0; j < nd; j++) {
			if (pr_ipv4_parse(dns[j], &v->dns_servers[v->n_dns_servers]) != 0)
				model_report(c, e, "dnsServers", p, "N-1", PR_ECONFIG,
					     "'%s' is not an IPv4 address", dns[j]);
			else
				v->n_dns_servers++;
		}
		const json_t *sl = get_list(c, e, "subnets", p);
		if (!sl)
			continue;
		ALLOC_ARRAY(c, v->subnets, json_array_size(sl));
		for (size_t j = 0; j < json_array_size(sl); j++) {
			const json_t *se;
			const char *sp;
			if (!item(c, sl, j, p, "subnets", &se, &sp))
				continue;
			check_resource_keys(c, se, sp, MODEL_KIND_SUBNET,
					    KEYS("addressPrefix", "delegation"));
			model_subnet_t *s = &v->subnets[v->n_subnets];
			s->origin = (model_origin_t){se, sp};
			s->name = get_str(c, se, "name", sp, true);
			const char *pfx = get_str(c, se, "addressPrefix", sp, true);
			const char *why;
			s->delegation = get_str(c, se, "delegation", sp, false);
			if (!pfx)
				continue;
			if (pr_prefix_parse(pfx, &s->prefix, &why) != 0) {
				model_report(c, se, "addressPrefix", sp, "N-1", PR_ECONFIG,
					     "'%s': %s", pfx, why);
				continue;
			}
			v->n_subnets++;
		}
	}
}

static void decode_inbound(model_ctx_t *c, const json_t *e, const char *p,
			   model_inbound_endpoint_t *ie)
{
	check_resource_keys(c, e, p, MODEL_KIND_INBOUND,
			    KEYS("subnet", "privateIpAllocationMethod", "privateIpAddress",
				 "ipConfigurations"));
	ie->origin = (model_origin_t){e, p};
	ie->subnet = -1;
	ie->name = get_str(c, e, "name", p, true);
	const json_t *cfg = e;
	const char *cp = p;
	const json_t *ipc = get_list(c, e, "ipConfigurations", p);
	if (ipc) {
		/* The cloud's shape: exactly one IP configuration (I-1). */
		if (json_array_size(ipc) != 1) {
			model_report(c, e, "ipConfigurations", p, "I-1", PR_ECONFIG,
				     "an inbound endpoint has exactly one IP configuration, not %zu",
				     json_array_size(ipc));
			return;
		}
		if (json_object_get(e, "subnet") || json_object_get(e, "privateIpAddress") ||
		    json_object_get(e, "privateIpAllocationMethod")) {
			model_report(c, e, "ipConfigurations", p, "I-1", PR_ECONFIG,
				     "give either ipConfigurations or subnet/privateIp…, not both");
			return;
		}
		cfg = json_array_get(ipc, 0);
		cp = path_of(c, p, "ipConfigurations", NULL, 0);
		if (!json_is_object(cfg)) {
			model_report(c, cfg, NULL, cp, NULL, PR_ECONFIG, "must be a mapping");
			return;
		}
		model_check_keys(c, cfg, cp,
			   KEYS("subnet", "privateIpAllocationMethod", "privateIpAddress"));
	}
	ie->subnet_ref = get_ref(c, cfg, "subnet", cp, true);
	const char *method = get_str(c, cfg, "privateIpAllocationMethod", cp, false);
	if (!method || !strcmp(method, "Dynamic")) {
		ie->allocation = MODEL_ALLOC_DYNAMIC;
	} else if (!strcmp(method, "Static")) {
		ie->allocation = MODEL_ALLOC_STATIC;
	} else {
		model_report(c, cfg, "privateIpAllocationMethod", cp, "I-1", PR_ECONFIG,
			     "'%s' is not an allocation method; valid: Dynamic, Static", method);
	}
	ie->has_address = get_ipv4(c, cfg, "privateIpAddress", cp, false, "I-3", &ie->address);
}

static void decode_resolvers(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "dnsResolvers", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->resolvers, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "dnsResolvers", &e, &p))
			continue;
		check_resource_keys(c, e, p, MODEL_KIND_RESOLVER,
				    KEYS("virtualNetwork", "inboundEndpoints", "outboundEndpoints"));
		model_resolver_t *r = &d->resolvers[d->n_resolvers++];
		r->origin = (model_origin_t){e, p};
		r->vnet = -1;
		r->name = get_str(c, e, "name", p, true);
		r->location = get_str(c, e, "location", p, false);
		r->vnet_ref = get_ref(c, e, "virtualNetwork", p, true);
		const json_t *il = get_list(c, e, "inboundEndpoints", p);
		ALLOC_ARRAY(c, r->inbound, il ? json_array_size(il) : 0);
		for (size_t j = 0; il && j < json_array_size(il); j++) {
			const json_t *ie;
			const char *ip;
			if (item(c, il, j, p, "inboundEndpoints", &ie, &ip))
				decode_inbound(c, ie, ip, &r->inbound[r->n_inbound++]);
		}
		const json_t *ol = get_list(c, e, "outboundEndpoints", p);
		ALLOC_ARRAY(c, r->outbound, ol ? json_array_size(ol) : 0);
		for (size_t j = 0; ol && j < json_array_size(ol); j++) {
			const json_t *oe;
			const char *op;
			if (!item(c, ol, j, p, "outboundEndpoints", &oe, &op))
				continue;
			check_resource_keys(c, oe, op, MODEL_KIND_OUTBOUND, KEYS("subnet"));
			model_outbound_endpoint_t *o = &r->outbound[r->n_outbound++];
			o->origin = (model_origin_t){oe, op};
			o->subnet = -1;
			o->name = get_str(c, oe, "name", op, true);
			o->subnet_ref = get_ref(c, oe, "subnet", op, true);
		}
	}
}

/* A domain name property (F-2 syntax is checked by the validator, which knows
 * which rule applies); canonical lowercase text. */
static const char *get_domain(model_ctx_t *c, const json_t *obj, const char *key,
			      const char *path)
{
	return get_str(c, obj, key, path, true);
}

/* The rules of ruleset rs (number i) decoded from e at path p. */
static void decode_rules(model_ctx_t *c, model_ruleset_t *rs, size_t i, const json_t *e,
			 const char *p)
{
	const json_t *rl = get_list(c, e, "forwardingRules", p);
	const model_ruleset_t *prev = prev_ruleset(c, i, rs->name, rl);
	if (prev) { /* F-1..F-6, L-1, L-5 and the ids: as checked for prev */
		rs->rules = prev->rules;
		rs->n_rules = prev->n_rules;
		c->shared_rulesets[i] |= MODEL_SHARED_ITEMS;
		c->shared_any = true;
		return;
	}
	ALLOC_ARRAY(c, rs->rules, rl ? json_array_size(rl) : 0);
	for (size_t j = 0; rl && j < json_array_size(rl); j++) {
		const json_t *re;
		const char *rp;
		if (!item(c, rl, j, p, "forwardingRules", &re, &rp))
			continue;
		check_resource_keys(c, re, rp, MODEL_KIND_RULE,
				    KEYS("domainName", "targetDnsServers", "forwardingRuleState"));
		model_rule_t *r = &rs->rules[rs->n_rules++];
		r->origin = (model_origin_t){re, rp};
		r->name = get_str(c, re, "name", rp, true);
		r->domain_name = get_domain(c, re, "domainName", rp);
		decode_targets(c, re, "targetDnsServers", rp, &r->targets, &r->n_targets);
		if (!json_object_get(re, "targetDnsServers"))
			model_report(c, re, NULL, rp, "F-4", PR_ECONFIG,
				     "'targetDnsServers' is required (1 to %d targets)",
				     MODEL_MAX_TARGETS_PER_RULE);
		const char *state = get_str(c, re, "forwardingRuleState", rp, false);
		r->enabled = true;
		if (state && !strcmp(state, "Disabled"))
			r->enabled = false;
		else if (state && strcmp(state, "Enabled"))
			model_report(c, re, "forwardingRuleState", rp, "F-6", PR_ECONFIG,
				     "'%s' is not a rule state; valid: Enabled, Disabled", state);
		const json_t *md = json_object_get(re, "metadata"); /* checked with the keys */
		r->metadata = json_is_object(md) ? (json_t *)md : NULL;
	}
}

static void decode_rulesets(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "dnsForwardingRulesets", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->rulesets, json_array_size(l));
	c->shared_rulesets = pr_calloc(json_array_size(l) + 1, 1);
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "dnsForwardingRulesets", &e, &p))
			continue;
		check_resource_keys(c, e, p, MODEL_KIND_RULESET,
				    KEYS("dnsResolverOutboundEndpoints", "forwardingRules",
					 "virtualNetworkLinks"));
		model_ruleset_t *rs = &d->rulesets[d->n_rulesets++];
		rs->origin = (model_origin_t){e, p};
		rs->name = get_str(c, e, "name", p, true);
		rs->location = get_str(c, e, "location", p, false);
		size_t no;
		const char **oes = get_string_list(c, e, "dnsResolverOutboundEndpoints", p, &no);
		ALLOC_ARRAY(c, rs->outbound, no);
		for (size_t j = 0; j < no; j++)
			rs->outbound[rs->n_outbound++] =
				(model_endpoint_ref_t){.text = oes[j], .resolver = -1, .endpoint = -1};
		if (!json_object_get(e, "dnsResolverOutboundEndpoints"))
			model_report(c, e, NULL, p, "O-2", PR_ECONFIG,
				     "'dnsResolverOutboundEndpoints' is required (1 or 2 outbound "
				     "endpoints of one resolver)");
		decode_rules(c, rs, d->n_rulesets - 1, e, p);
		decode_ruleset_links(c, rs, d->n_rulesets - 1, e, p);
	}
}

static void decode_soa(model_ctx_t *c, const json_t *e, const char *p, model_soa_t *soa)
{
	*soa = MODEL_SOA_DEFAULTS; /* Z-2 */
	const json_t *s = get_map(c, e, "soa", p);
	if (!s)
		return;
	const char *sp = dup(c, p);
	model_check_keys(c, s, sp,
		   KEYS("host", "email", "serialNumber", "refreshTime", "retryTime", "expireTime",
			"minimumTtl", "ttl"));
	const char *host = get_str(c, s, "host", sp, false);
	const char *email = get_str(c, s, "email", sp, false);
	if (host)
		soa->host = host;
	if (email)
		soa->email = email;
	long long v;
	if (get_int(c, s, "serialNumber", sp, 0, UINT32_MAX, &v))
		soa->serial = (uint32_t)v;
	if (get_int(c, s, "refreshTime", sp, 0, INT32_MAX, &v))
		soa->refresh = (uint32_t)v;
	if (get_int(c, s, "retryTime", sp, 0, INT32_MAX, &v))
		soa->retry = (uint32_t)v;
	if (get_int(c, s, "expireTime", sp, 0, INT32_MAX, &v))
		soa->expire = (uint32_t)v;
	if (get_int(c, s, "minimumTtl", sp, 0, INT32_MAX, &v))
		soa->minimum = (uint32_t)v;
	if (get_int(c, s, "ttl", sp, 0, INT32_MAX, &v))
		soa->ttl = (uint32_t)v;
}

/* E-2, E-4: an external zone's record sets say whether dynamic update made
 * them, and when (the journal and export carry both). */
static void decode_dynamic(model_ctx_t *c, const json_t *re, const char *rp,
			   model_record_set_t *rs)
{
	long long ts;
	rs->dynamic = get_bool(c, re, "dynamic", rp, false);
	if (get_int(c, re, "timestamp", rp, 0, INT64_MAX, &ts))
		rs->timestamp = ts;
}

static void decode_record_sets(model_ctx_t *c, const json_t *e, const char *p, model_zone_t *z,
			       bool external)
{
	const json_t *l = get_list(c, e, "recordSets", p);
	if (!l)
		return;
	ALLOC_ARRAY(c, z->record_sets, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *re;
		const char *rp;
		if (!item(c, l, i, p, "recordSets", &re, &rp))
			continue;
		if (external)
			check_resource_keys(c, re, rp, MODEL_KIND_RECORD_SET,
					    KEYS("type", "ttl", "records", "dynamic", "timestamp"));
		else
			check_resource_keys(c, re, rp, MODEL_KIND_RECORD_SET,
					    KEYS("type", "ttl", "records", "isAutoRegistered"));
		model_record_set_t *rs = &z->record_sets[z->n_record_sets++];
		rs->origin = (model_origin_t){re, rp};
		if (external)
			decode_dynamic(c, re, rp, rs);
		rs->name = get_str(c, re, "name", rp, true);
		rs->type_text = get_str(c, re, "type", rp, true);
		long long ttl;
		rs->ttl = MODEL_DEFAULT_TTL;
		if (get_int(c, re, "ttl", rp, 0, INT32_MAX, &ttl))
			rs->ttl = (uint32_t)ttl;
		const json_t *rl = get_list(c, re, "records", rp);
		if (!rl) {
			if (!json_object_get(re, "records"))
				model_report(c, re, NULL, rp, NULL, PR_ECONFIG,
					     "'records' is required (values as in a zone file)");
			continue;
		}
		ALLOC_ARRAY(c, rs->records, json_array_size(rl));
		for (size_t j = 0; j < json_array_size(rl); j++) {
			const json_t *v = json_array_get(rl, j);
			char num[32];
			if (json_is_string(v)) {
				rs->records[rs->n_records++] = dup(c, json_string_value(v));
			} else if (json_is_integer(v)) {
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
				rs->records[rs->n_records++] = dup(c, num);
			} else {
				model_report(c, v, NULL, rp, NULL, PR_ECONFIG,
					     "a record is a string as in a zone file, e.g. "
					     "\"10.0.0.4\" or \"10 mail.contoso.com.\"");
			}
		}
	}
}

/* E-2, E-4, E-5: what an external server's zone adds to the shape. */
static void decode_external_zone(model_ctx_t *c, const json_t *e, const char *p, model_zone_t *z)
{
	const char *du = get_str(c, e, "dynamicUpdate", p, false);
	if (du && !strcasecmp(du, "Nonsecure"))
		z->dynamic_update = MODEL_UPDATE_NONSECURE;
	else if (du && !strcasecmp(du, "Secure"))
		z->dynamic_update = MODEL_UPDATE_SECURE;
	else if (du && strcasecmp(du, "None"))
		model_report(c, e, "dynamicUpdate", p, "E-2", PR_ECONFIG,
			     "'%s' is not a dynamic update setting; valid: None, Nonsecure, Secure",
			     du);
	z->register_ptr = get_bool(c, e, "registerPtr", p, false);
	z->aging.no_refresh_hours = z->aging.refresh_hours = MODEL_AGING_DEFAULT_HOURS;
	const json_t *a = get_map(c, e, "aging", p);
	if (!a)
		return;
	const char *ap = p;
	model_check_keys(c, a, ap, KEYS("enabled", "noRefreshHours", "refreshHours"));
	z->aging.enabled = get_bool(c, a, "enabled", ap, false);
	long long h;
	if (get_int(c, a, "noRefreshHours", ap, 1, 8760 * 100, &h))
		z->aging.no_refresh_hours = (uint32_t)h;
	if (get_int(c, a, "refreshHours", ap, 1, 8760 * 100, &h))
		z->aging.refresh_hours = (uint32_t)h;
}

/* Zones of three kinds share one shape; only private ones have links, only
 * external ones dynamic update. */
static void decode_zone_list(model_ctx_t *c, const json_t *parent, const char *key,
			     const char *path, bool private_zone, model_zone_t **out, size_t *n)
{
	bool external = !private_zone && strcmp(path, "publicDns") != 0;
	const json_t *l = get_list(c, parent, key, path);
	*n = 0;
	*out = NULL;
	if (!l)
		return;
	ALLOC_ARRAY(c, *out, json_array_size(l));
	if (private_zone)
		c->shared_zones = pr_calloc(json_array_size(l) + 1, 1);
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, path, key, &e, &p))
			continue;
		if (private_zone)
			check_resource_keys(c, e, p, MODEL_KIND_ZONE,
					    KEYS("soa", "recordSets", "virtualNetworkLinks"));
		else if (external)
			model_check_keys(c, e, p,
					 KEYS("name", "soa", "recordSets", "dynamicUpdate", "aging",
					      "registerPtr"));
		else
			model_check_keys(c, e, p, KEYS("name", "soa", "recordSets"));
		const model_zone_t *prev = private_zone ? prev_zone(c, *n, e) : NULL;
		model_zone_t *z = &(*out)[(*n)++];
		z->origin = (model_origin_t){e, p};
		z->name = get_str(c, e, "name", p, true);
		if (prev) { /* Z-1, Z-2, L-11: as checked for prev */
			z->soa = prev->soa;
			z->record_sets = prev->record_sets;
			z->n_record_sets = prev->n_record_sets;
			c->shared_zones[*n - 1] |= MODEL_SHARED_ITEMS;
			c->shared_any = true;
		} else {
			decode_soa(c, e, p, &z->soa);
			decode_record_sets(c, e, p, z, external);
		}
		if (external)
			decode_external_zone(c, e, p, z);
		if (prev && c->shared_vnets) { /* resolved to the same VNets */
			z->links = prev->links;
			z->n_links = prev->n_links;
			c->shared_zones[*n - 1] |= MODEL_SHARED_LINKS;
		} else if (private_zone) {
			decode_links(c, e, p, MODEL_KIND_ZONE_LINK, &z->links, &z->n_links);
		}
	}
}

static void decode_vms(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "virtualMachines", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->vms, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "virtualMachines", &e, &p))
			continue;
		check_resource_keys(c, e, p, MODEL_KIND_VM,
				    KEYS("virtualNetwork", "subnet", "privateIpAddress"));
		model_vm_t *vm = &d->vms[d->n_vms++];
		vm->origin = (model_origin_t){e, p};
		vm->vnet = vm->subnet = -1;
		vm->name = get_str(c, e, "name", p, true);
		vm->vnet_ref = get_ref(c, e, "virtualNetwork", p, true);
		vm->subnet_ref = get_ref(c, e, "subnet", p, true);
		vm->static_address =
			get_ipv4(c, e, "privateIpAddress", p, false, "N-2", &vm->address);
	}
}

static void decode_domain_lists(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "dnsResolverDomainLists", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->domain_lists, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "dnsResolverDomainLists", &e, &p))
			continue;
		check_resource_keys(c, e, p, MODEL_KIND_DOMAIN_LIST, KEYS("domains"));
		model_domain_list_t *dl = &d->domain_lists[d->n_domain_lists++];
		dl->origin = (model_origin_t){e, p};
		dl->name = get_str(c, e, "name", p, true);
		dl->location = get_str(c, e, "location", p, false);
		dl->domains = get_string_list(c, e, "domains", p, &dl->n_domains);
		if (!json_object_get(e, "domains"))
			model_report(c, e, NULL, p, "S-1", PR_ECONFIG,
				     "'domains' is required (domain names, '.' for all)");
	}
}

static void decode_rule_priority(model_ctx_t *c, const json_t *re, const char *rp,
				 model_security_rule_t *r)
{
	long long prio;
	r->priority = -1;
	if (get_int(c, re, "priority", rp, INT32_MIN, INT32_MAX, &prio)) {
		if (prio >= MODEL_POLICY_PRIORITY_MIN && prio <= MODEL_POLICY_PRIORITY_MAX)
			r->priority = (int)prio;
		else
			model_report(c, re, "priority", rp, "S-1", PR_ECONFIG,
				     "priority %lld is out of range; valid: %d..%d (lower wins)", prio,
				     MODEL_POLICY_PRIORITY_MIN, MODEL_POLICY_PRIORITY_MAX);
	} else if (!json_object_get(re, "priority")) {
		model_report(c, re, NULL, rp, "S-1", PR_ECONFIG,
			     "'priority' is required (%d..%d, lower wins)", MODEL_POLICY_PRIORITY_MIN,
			     MODEL_POLICY_PRIORITY_MAX);
	}
}

static void decode_rule_action(model_ctx_t *c, const json_t *re, const char *rp,
			       model_security_rule_t *r)
{
	const json_t *act = get_map(c, re, "action", rp);
	if (!act) {
		if (!json_object_get(re, "action"))
			model_report(c, re, NULL, rp, "S-1", PR_ECONFIG,
				     "'action' is required ({actionType: Allow|Alert|Block})");
		return;
	}
	model_check_keys(c, act, rp, KEYS("actionType", "blockResponseCode"));
	const char *at = get_str(c, act, "actionType", rp, true);
	if (at && !strcmp(at, "Allow"))
		r->action = MODEL_ACTION_ALLOW;
	else if (at && !strcmp(at, "Alert"))
		r->action = MODEL_ACTION_ALERT;
	else if (at && !strcmp(at, "Block"))
		r->action = MODEL_ACTION_BLOCK;
	else if (at)
		model_report(c, act, "actionType", rp, "S-1", PR_ECONFIG,
			     "'%s' is not an action; valid: Allow, Alert, Block", at);
	const char *brc = get_str(c, act, "blockResponseCode", rp, false);
	if (brc && !strcmp(brc, "SERVFAIL"))
		r->block_response = MODEL_BLOCK_SERVFAIL;
	else if (brc)
		model_report(c, act, "blockResponseCode", rp, "S-3", PR_ECONFIG,
			     "'%s' is not a block response code; valid: SERVFAIL (or leave it out "
			     "for the CNAME to blockpolicy.azuredns.invalid.)",
			     brc);
}

static void decode_security_rule(model_ctx_t *c, const json_t *re, const char *rp,
				 model_security_rule_t *r)
{
	check_resource_keys(c, re, rp, MODEL_KIND_SECURITY_RULE,
			    KEYS("priority", "action", "dnsResolverDomainLists",
				 "dnsSecurityRuleState"));
	r->origin = (model_origin_t){re, rp};
	r->name = get_str(c, re, "name", rp, true);
	decode_rule_priority(c, re, rp, r);
	decode_rule_action(c, re, rp, r);
	r->list_refs = get_string_list(c, re, "dnsResolverDomainLists", rp, &r->n_lists);
	r->lists = pr_arena_alloc(c->d->arena, (r->n_lists + 1) * sizeof(int));
	const char *st = get_str(c, re, "dnsSecurityRuleState", rp, false);
	r->enabled = true;
	if (st && !strcmp(st, "Disabled"))
		r->enabled = false;
	else if (st && strcmp(st, "Enabled"))
		model_report(c, re, "dnsSecurityRuleState", rp, "S-1", PR_ECONFIG,
			     "'%s' is not a rule state; valid: Enabled, Disabled", st);
}

static void decode_policy(model_ctx_t *c, const json_t *e, const char *p, model_policy_t *pol)
{
	check_resource_keys(c, e, p, MODEL_KIND_POLICY,
			    KEYS("dnsSecurityRules", "virtualNetworkLinks", "mode"));
	pol->origin = (model_origin_t){e, p};
	pol->name = get_str(c, e, "name", p, true);
	pol->location = get_str(c, e, "location", p, false);
	const char *mode = get_str(c, e, "mode", p, false);
	if (mode && !strcmp(mode, "Audit"))
		pol->mode = MODEL_POLICY_AUDIT;
	else if (mode && strcmp(mode, "Enforce"))
		model_report(c, e, "mode", p, "S-4", PR_ECONFIG,
			     "'%s' is not a policy mode; valid: Enforce (default), Audit", mode);
	const json_t *rl = get_list(c, e, "dnsSecurityRules", p);
	ALLOC_ARRAY(c, pol->rules, rl ? json_array_size(rl) : 0);
	for (size_t j = 0; rl && j < json_array_size(rl); j++) {
		const json_t *re;
		const char *rp;
		if (item(c, rl, j, p, "dnsSecurityRules", &re, &rp))
			decode_security_rule(c, re, rp, &pol->rules[pol->n_rules++]);
	}
	decode_links(c, e, p, MODEL_KIND_POLICY_LINK, &pol->links, &pol->n_links);
}

static void decode_policies(model_ctx_t *c, const json_t *root)
{
	const char *key = "dnsResolverPolicies";
	const json_t *l = get_list(c, root, key, "");
	if (!l) {
		key = "dnsSecurityPolicies"; /* the portal's name for the same resource */
		l = get_list(c, root, key, "");
	}
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->policies, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (item(c, l, i, "", key, &e, &p))
			decode_policy(c, e, p, &d->policies[d->n_policies++]);
	}
}

static void decode_forwarders(model_ctx_t *c, const json_t *e, const char *p,
			      model_external_server_t *x)
{
	const json_t *l = get_list(c, e, "forwarders", p);
	if (!l)
		return;
	ALLOC_ARRAY(c, x->forwarders, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *fe = json_array_get(l, i);
		const char *fp = path_of(c, p, "forwarders", NULL, i);
		if (!json_is_object(fe)) {
			model_report(c, fe, NULL, fp, NULL, PR_ECONFIG,
				     "a forwarder is {domainName: …, targetDnsServers: [...]}");
			continue;
		}
		model_check_keys(c, fe, fp, KEYS("domainName", "targetDnsServers"));
		model_forwarder_t *f = &x->forwarders[x->n_forwarders++];
		f->origin = (model_origin_t){fe, fp};
		f->domain_name = get_domain(c, fe, "domainName", fp);
		decode_targets(c, fe, "targetDnsServers", fp, &f->targets, &f->n_targets);
	}
}

static void decode_tsig_keys(model_ctx_t *c, const json_t *e, const char *p,
			     model_external_server_t *x)
{
	const json_t *l = get_list(c, e, "tsigKeys", p);
	if (!l)
		return;
	ALLOC_ARRAY(c, x->tsig_keys, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *ke;
		const char *kp;
		if (!item(c, l, i, p, "tsigKeys", &ke, &kp))
			continue;
		model_check_keys(c, ke, kp, KEYS("name", "algorithm", "secret"));
		model_tsig_key_t *k = &x->tsig_keys[x->n_tsig_keys++];
		k->origin = (model_origin_t){ke, kp};
		k->name = get_str(c, ke, "name", kp, true);
		k->algorithm = get_str(c, ke, "algorithm", kp, false);
		if (!k->algorithm)
			k->algorithm = "hmac-sha256";
		k->secret = get_str(c, ke, "secret", kp, true);
	}
}

/* E-1, E-3, E-4: how the server forwards, its keys and its scavenging. */
static void decode_external_settings(model_ctx_t *c, const json_t *e, const char *p,
				     model_external_server_t *x)
{
	x->recursion = get_bool(c, e, "recursion", p, true);
	x->forwarder_timeout_s = MODEL_FORWARDER_TIMEOUT_DEFAULT;
	long long v;
	if (get_int(c, e, "forwarderTimeoutSeconds", p, 1, 15, &v))
		x->forwarder_timeout_s = (uint32_t)v;
	decode_tsig_keys(c, e, p, x);
	x->scavenging_period_hours = MODEL_SCAVENGING_DEFAULT_HOURS;
	const json_t *s = get_map(c, e, "scavenging", p);
	if (!s)
		return;
	const char *sp = p;
	model_check_keys(c, s, sp, KEYS("enabled", "periodHours"));
	x->scavenging = get_bool(c, s, "enabled", sp, false);
	if (json_object_get(s, "periodHours") &&
	    json_integer_value(json_object_get(s, "periodHours")) < MODEL_SCAVENGING_MIN_HOURS)
		model_report(c, s, "periodHours", sp, "E-4", PR_ECONFIG,
			     "the scavenging period is at least %u hour (Windows' minimum)",
			     MODEL_SCAVENGING_MIN_HOURS);
	else if (get_int(c, s, "periodHours", sp, MODEL_SCAVENGING_MIN_HOURS, 8760 * 100, &v))
		x->scavenging_period_hours = (uint32_t)v;
}

static void decode_externals(model_ctx_t *c, const json_t *root)
{
	const json_t *l = get_list(c, root, "externalDnsServers", "");
	if (!l)
		return;
	deployment_t *d = c->d;
	ALLOC_ARRAY(c, d->external_servers, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e;
		const char *p;
		if (!item(c, l, i, "", "externalDnsServers", &e, &p))
			continue;
		model_check_keys(c, e, p,
				 KEYS("name", "ipAddress", "port", "zones", "forwarders", "recursion",
				      "forwarderTimeoutSeconds", "tsigKeys", "scavenging"));
		model_external_server_t *x = &d->external_servers[d->n_external_servers++];
		x->origin = (model_origin_t){e, p};
		x->name = get_str(c, e, "name", p, true);
		x->port = DNS_PORT;
		get_ipv4(c, e, "ipAddress", p, true, NULL, &x->address);
		long long port;
		if (get_int(c, e, "port", p, 1, 65535, &port))
			x->port = (uint16_t)port;
		decode_zone_list(c, e, "zones", p, false, &x->zones, &x->n_zones);
		decode_forwarders(c, e, p, x);
		decode_external_settings(c, e, p, x);
	}
}

static void decode_public_dns(model_ctx_t *c, const json_t *root)
{
	const json_t *pd = get_map(c, root, "publicDns", "");
	if (!pd)
		return;
	model_check_keys(c, pd, "publicDns", KEYS("zones", "upstreams"));
	decode_zone_list(c, pd, "zones", "publicDns", false, &c->d->public_dns.zones,
			 &c->d->public_dns.n_zones);
	decode_targets(c, pd, "upstreams", "publicDns", &c->d->public_dns.upstreams,
		       &c->d->public_dns.n_upstreams);
}

static bool parse_hostport(model_ctx_t *c, const json_t *node, const char *path, const char *what,
			   const char *text, uint32_t *addr, uint16_t *port)
{
	if (pr_hostport_parse(text, addr, port) == 0)
		return true;
	model_report(c, node, NULL, path, NULL, PR_ECONFIG,
		     "%s '%s' must be IPv4 address:port, e.g. 127.0.0.1:5353", what, text);
	return false;
}

/* emulator.arm.operationSeconds: seconds (fractions allowed) from 0 to 3600. */
static void decode_operation_seconds(model_ctx_t *c, const json_t *a, model_emulator_t *em)
{
	const json_t *v = json_object_get(a, "operationSeconds");
	if (!v || json_is_null(v))
		return;
	double s = json_is_number(v) ? json_number_value(v) : -1;
	if (json_is_string(v)) {
		char *end;
		s = strtod(json_string_value(v), &end);
		if (end == json_string_value(v) || *end)
			s = -1;
	}
	if (!(s >= 0 && s <= 3600)) {
		model_report(c, a, "operationSeconds", "emulator.arm", NULL, PR_ECONFIG,
			     "must be a number of seconds from 0 to 3600");
		return;
	}
	em->arm_operation_ms = (uint32_t)(s * 1000 + 0.5);
}

/* emulator.arm: ARM REST over HTTPS (arm/README.md). Read at start. */
static void decode_arm(model_ctx_t *c, const json_t *e)
{
	model_emulator_t *em = &c->d->emulator;
	const json_t *a = get_map(c, e, "arm", "emulator");
	if (!a)
		return;
	const char *p = "emulator.arm";
	model_check_keys(c, a, p, KEYS("listen", "certificate", "privateKey", "tokenFile",
					  "operationSeconds"));
	em->arm_listen = get_str(c, a, "listen", p, false);
	uint32_t addr;
	uint16_t port;
	if (em->arm_listen)
		parse_hostport(c, json_object_get(a, "listen"), p, "listen", em->arm_listen, &addr,
			       &port);
	em->arm_certificate = get_str(c, a, "certificate", p, false);
	em->arm_private_key = get_str(c, a, "privateKey", p, false);
	em->arm_token_file = get_str(c, a, "tokenFile", p, false);
	decode_operation_seconds(c, a, em);
	if (!em->arm_certificate != !em->arm_private_key)
		model_report(c, a, em->arm_certificate ? "certificate" : "privateKey", p, NULL,
			     PR_ECONFIG, "give both certificate and privateKey, or neither (the "
			     "local CA then issues one)");
}

/* emulator.queryLog: a path (privres's format), or {path, format: privres|azure}. */
static void decode_query_log(model_ctx_t *c, const json_t *e, model_emulator_t *em)
{
	const json_t *q = json_object_get(e, "queryLog");
	if (!json_is_object(q)) {
		em->query_log = get_str(c, e, "queryLog", "emulator", false);
		return;
	}
	const char *p = "emulator.queryLog";
	model_check_keys(c, q, p, KEYS("path", "format"));
	em->query_log = get_str(c, q, "path", p, true);
	const char *format = get_str(c, q, "format", p, false);
	if (format && !strcmp(format, "azure"))
		em->query_log_format = MODEL_QUERY_LOG_AZURE;
	else if (format && strcmp(format, "privres"))
		model_report(c, q, "format", p, NULL, PR_ECONFIG,
			     "'%s' is not a query log format; valid: privres, azure", format);
}

/* emulator's numbers: ports, timers, sizes, each within its range. */
static void decode_emulator_numbers(model_ctx_t *c, const json_t *e, model_emulator_t *em)
{
	const char *p = "emulator";
	long long v;
	/* 0: every listener not in `listeners` gets a free port (tests) */
	if (get_int(c, e, "basePort", p, 0, 65535, &v))
		em->base_port = (uint16_t)v;
	if (get_int(c, e, "unresponsiveSeconds", p, 1, 86400 * 365, &v))
		em->unresponsive_seconds = (uint32_t)v;
	if (get_int(c, e, "hopLimit", p, 1, 32, &v))
		em->hop_limit = (int)v;
	if (get_int(c, e, "workers", p, 0, 256, &v))
		em->workers = (int)v;
	if (get_int(c, e, "forwardTimeoutMs", p, 10, 60000, &v))
		em->forward_timeout_ms = (uint32_t)v;
	if (get_int(c, e, "queryDeadlineMs", p, 10, 120000, &v))
		em->query_deadline_ms = (uint32_t)v;
	if (get_int(c, e, "tcpIdleTimeoutMs", p, 10, 3600000, &v))
		em->tcp_idle_timeout_ms = (uint32_t)v;
	if (get_int(c, e, "cacheEntries", p, 0, 100000000, &v))
		em->cache_entries = (uint32_t)v;
}

/* emulator.listeners: {listener name: host:port}. */
static void decode_listener_map(model_ctx_t *c, const json_t *e, model_emulator_t *em)
{
	const json_t *lm = get_map(c, e, "listeners", "emulator");
	if (!lm)
		return;
	ALLOC_ARRAY(c, em->listeners, json_object_size(lm));
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)lm, k, val) {
		const char *lp = path_of(c, "emulator", "listeners", k, 0);
		if (!json_is_string(val)) {
			model_report(c, val, NULL, lp, NULL, PR_ECONFIG,
				     "a listener address is a string host:port");
			continue;
		}
		model_listener_map_t *m = &em->listeners[em->n_listeners];
		m->origin = (model_origin_t){val, lp};
		m->listener = dup(c, k);
		if (parse_hostport(c, val, lp, "listener address", json_string_value(val),
				   &m->address, &m->port))
			em->n_listeners++;
	}
}

/* emulator.addressMap: {virtual host:port: real host:port}. */
static void decode_address_map(model_ctx_t *c, const json_t *e, model_emulator_t *em)
{
	const json_t *am = get_map(c, e, "addressMap", "emulator");
	if (!am)
		return;
	ALLOC_ARRAY(c, em->address_map, json_object_size(am));
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)am, k, val) {
		const char *ap = path_of(c, "emulator", "addressMap", k, 0);
		model_address_map_t *m = &em->address_map[em->n_address_map];
		m->origin = (model_origin_t){val, ap};
		if (!json_is_string(val)) {
			model_report(c, val, NULL, ap, NULL, PR_ECONFIG,
				     "a mapped address is a string host:port");
			continue;
		}
		if (parse_hostport(c, val, ap, "key", k, &m->virtual_address, &m->virtual_port) &&
		    parse_hostport(c, val, ap, "address", json_string_value(val),
				   &m->real_address, &m->real_port))
			em->n_address_map++;
	}
}

static void decode_emulator(model_ctx_t *c, const json_t *root)
{
	model_emulator_t *em = &c->d->emulator;
	*em = (model_emulator_t){
		.listen = MODEL_LISTEN_LOOPBACK,
		.base_port = MODEL_DEFAULT_BASE_PORT,
		.unresponsive_seconds = MODEL_DEFAULT_UNRESPONSIVE_SECONDS,
		.hop_limit = MODEL_DEFAULT_HOP_LIMIT,
		.forward_timeout_ms = MODEL_DEFAULT_FORWARD_TIMEOUT_MS,
		.query_deadline_ms = MODEL_DEFAULT_QUERY_DEADLINE_MS,
		.tcp_idle_timeout_ms = MODEL_DEFAULT_TCP_IDLE_TIMEOUT_MS,
		.cache_entries = MODEL_DEFAULT_CACHE_ENTRIES,
	};
	const json_t *e = get_map(c, root, "emulator", "");
	if (!e)
		return;
	const char *p = "emulator";
	model_check_keys(c, e, p,
		   KEYS("listen", "listeners", "addressMap", "basePort", "unresponsiveSeconds",
			"hopLimit", "stateDir", "queryLog", "workers", "forwardTimeoutMs",
			"queryDeadlineMs", "tcpIdleTimeoutMs", "cacheEntries", "tls",
			"encryptedListeners", "arm", "metrics"));
	model_decode_encrypted(c, e);
	decode_arm(c, e);
	const char *listen = get_str(c, e, "listen", p, false);
	if (listen && !strcmp(listen, "virtual"))
		em->listen = MODEL_LISTEN_VIRTUAL;
	else if (listen && strcmp(listen, "loopback"))
		model_report(c, e, "listen", p, NULL, PR_ECONFIG,
			     "'%s' is not an address mode; valid: loopback, virtual", listen);
	decode_emulator_numbers(c, e, em);
	em->state_dir = get_str(c, e, "stateDir", p, false);
	decode_query_log(c, e, em);
	const json_t *mt = get_map(c, e, "metrics", p);
	if (mt) {
		model_check_keys(c, mt, "emulator.metrics", KEYS("listen"));
		em->metrics_listen = get_str(c, mt, "listen", "emulator.metrics", false);
	}
	decode_listener_map(c, e, em);
	decode_address_map(c, e, em);
}

static void decode_limits(model_ctx_t *c, const json_t *root)
{
	model_limits_default(&c->d->limits);
	const json_t *l = get_map(c, root, "limits", "");
	if (!l)
		return;
	const char *keys[MODEL_LIMIT_COUNT + 1];
	for (int i = 0; i < MODEL_LIMIT_COUNT; i++)
		keys[i] = model_limit_key((model_limit_id_t)i);
	keys[MODEL_LIMIT_COUNT] = NULL;
	model_check_keys(c, l, "limits", keys);
	for (int i = 0; i < MODEL_LIMIT_COUNT; i++) {
		long long v;
		if (get_int(c, l, keys[i], "limits", 0, 10000000, &v)) {
			c->d->limits.value[i] = (int)v;
			c->d->limits.overridden[i] = true;
		}
	}
}

void model_decode(model_ctx_t *c)
{
	const json_t *root = c->d->doc;
	model_check_keys(c, root, "",
		   KEYS("location", "subscription", "resourceGroup", "virtualNetworks",
			"privateDnsZones", "dnsResolvers", "dnsForwardingRulesets",
			"virtualMachines", "dnsResolverDomainLists", "dnsResolverPolicies",
			"dnsSecurityPolicies", "externalDnsServers", "publicDns", "emulator",
			"limits", "topology"));
	deployment_t *d = c->d;
	d->location = get_str(c, root, "location", "", false);
	if (!d->location)
		d->location = MODEL_DEFAULT_LOCATION;
	d->subscription = get_str(c, root, "subscription", "", false);
	if (!d->subscription)
		d->subscription = MODEL_DEFAULT_SUBSCRIPTION;
	d->resource_group = get_str(c, root, "resourceGroup", "", false);
	if (!d->resource_group)
		d->resource_group = MODEL_DEFAULT_RESOURCE_GROUP;
	decode_limits(c, root);
	if (c->prev && !same_context(c->prev, d))
		c->prev = NULL;
	decode_vnets(c, root);
	decode_resolvers(c, root);
	decode_rulesets(c, root);
	decode_zone_list(c, root, "privateDnsZones", "", true, &d->zones, &d->n_zones);
	decode_vms(c, root);
	decode_domain_lists(c, root);
	decode_policies(c, root);
	decode_externals(c, root);
	decode_public_dns(c, root);
	decode_emulator(c, root);
	model_decode_topology(c, root);
}
