/* The resource manager's shape of every kind (design.md §6a): a resource as
 * an ARM GET returns it — {id, name, type, etag, location, tags,
 * properties{…, provisioningState}} — from the deployment document's shape
 * (design.md §5), and an ARM request body back to the document's shape.
 *
 * The document mirrors the cloud's property names; what differs is said once
 * here: references (a name or an id in the document, {id} in the cloud),
 * a VNet's addressSpace and subnets, a subnet's delegations, and the typed
 * record arrays of a record set (records as zone-file text in the document). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_p.h"

#define NET "Microsoft.Network/"

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* ---- references --------------------------------------------------------------- */

/* A property of a kind that names another resource. */
typedef struct arm_ref {
	model_kind_id_t kind;
	const char *key;
	model_kind_id_t target;
	bool list;
} arm_ref_t;

static const arm_ref_t refs[] = {
	{MODEL_KIND_RESOLVER, "virtualNetwork", MODEL_KIND_VNET, false},
	{MODEL_KIND_OUTBOUND, "subnet", MODEL_KIND_SUBNET, false},
	{MODEL_KIND_RULESET, "dnsResolverOutboundEndpoints", MODEL_KIND_OUTBOUND, true},
	{MODEL_KIND_RULESET_LINK, "virtualNetwork", MODEL_KIND_VNET, false},
	{MODEL_KIND_ZONE_LINK, "virtualNetwork", MODEL_KIND_VNET, false},
	{MODEL_KIND_POLICY_LINK, "virtualNetwork", MODEL_KIND_VNET, false},
	{MODEL_KIND_SECURITY_RULE, "dnsResolverDomainLists", MODEL_KIND_DOMAIN_LIST, true},
};

char *model_arm_base(const json_t *all)
{
	const char *sub = str(all, "subscription"), *rg = str(all, "resourceGroup");
	return pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/",
			   *sub ? sub : MODEL_DEFAULT_SUBSCRIPTION,
			   *rg ? rg : MODEL_DEFAULT_RESOURCE_GROUP);
}

/* The id of what ref (a name, "parent/name", or an id) names, of kind target;
 * scope names the parent of a bare name of a child kind (a subnet's VNet). */
static char *ref_id(const json_t *all, model_kind_id_t target, const char *ref, const char *scope)
{
	if (ref[0] == '/')
		return pr_strdup(ref);
	const model_kind_t *t = model_kind(target);
	char *base = model_arm_base(all), *id;
	const char *slash = strchr(ref, '/');
	if (t->parent < 0) {
		id = pr_asprintf("%s%s/%s", base, t->arm_type, ref);
	} else {
		const model_kind_t *p = model_kind((model_kind_id_t)t->parent);
		char *pname = slash ? pr_strndup(ref, (size_t)(slash - ref)) : pr_strdup(scope);
		if (pname[0] == '/') /* the scope is an id already */
			id = pr_asprintf("%s/%s/%s", pname, t->segment, slash ? slash + 1 : ref);
		else
			id = pr_asprintf("%s%s/%s/%s/%s", base, p->arm_type, pname, t->segment,
					 slash ? slash + 1 : ref);
		free(pname);
	}
	free(base);
	return id;
}

static json_t *id_object(char *owned)
{
	json_t *o = json_pack("{s:s}", "id", owned);
	free(owned);
	return o;
}

/* A reference value of the document as the cloud writes it ({id}). */
static json_t *ref_out(const json_t *all, model_kind_id_t target, const json_t *v,
		       const char *scope)
{
	if (json_is_object(v))
		return json_incref((json_t *)v);
	return id_object(ref_id(all, target, json_string_value(v) ? json_string_value(v) : "",
				scope));
}

/* {id: …} → the id text; anything else stays for the decoder to judge. */
static json_t *ref_in(const json_t *v)
{
	const json_t *id = json_object_get(v, "id");
	if (json_is_object(v) && json_object_size(v) == 1 && json_is_string(id))
		return json_incref((json_t *)id);
	return json_incref((json_t *)v);
}

static void map_refs(json_t *props, const json_t *all, const model_kind_t *k, const char *scope,
		     bool out)
{
	for (size_t i = 0; i < sizeof(refs) / sizeof(*refs); i++) {
		if (refs[i].kind != k->id)
			continue;
		json_t *v = json_object_get(props, refs[i].key);
		if (!v)
			continue;
		if (!refs[i].list || !json_is_array(v)) {
			json_object_set_new(props, refs[i].key,
					    out ? ref_out(all, refs[i].target, v, scope) : ref_in(v));
			continue;
		}
		json_t *l = json_array();
		size_t j;
		json_t *e;
		json_array_foreach(v, j, e)
			json_array_append_new(l, out ? ref_out(all, refs[i].target, e, scope)
						     : ref_in(e));
		json_object_set_new(props, refs[i].key, l);
	}
}

/* ---- record sets ---------------------------------------------------------------- */

/* The cloud's typed record arrays: key, and the fields of one record in the
 * order a zone file writes them. */
typedef struct arm_rtype {
	const char *type, *key;
	const char *fields[4];
	bool single; /* one object, not an array (CNAME, SOA) */
} arm_rtype_t;

static const arm_rtype_t rtypes[] = {
	{"A", "aRecords", {"ipv4Address"}, false},
	{"AAAA", "aaaaRecords", {"ipv6Address"}, false},
	{"CNAME", "cnameRecord", {"cname"}, true},
	{"MX", "mxRecords", {"preference", "exchange"}, false},
	{"PTR", "ptrRecords", {"ptrdname"}, false},
	{"SRV", "srvRecords", {"priority", "weight", "port", "target"}, false},
	{"TXT", "txtRecords", {"value"}, false},
};

const char *model_arm_record_key(const char *type)
{
	for (size_t i = 0; i < sizeof(rtypes) / sizeof(*rtypes); i++)
		if (!strcasecmp(rtypes[i].type, type))
			return rtypes[i].key;
	return !strcasecmp(type, "SOA") ? "soaRecord" : NULL;
}

static const arm_rtype_t *rtype(const char *type)
{
	for (size_t i = 0; i < sizeof(rtypes) / sizeof(*rtypes); i++)
		if (!strcasecmp(rtypes[i].type, type))
			return &rtypes[i];
	return NULL;
}

/* TXT: one unquoted value is one string taken literally (dns/rdata.c);
 * several are written quoted. */
static json_t *txt_out(const char *s)
{
	json_t *l = json_array();
	if (s[0] != '"') {
		json_array_append_new(l, json_string(s));
		return l;
	}
	pr_buf_t b = {0};
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		if (*p != '"')
			break;
		b.len = 0;
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			pr_buf_append(&b, p, 1);
		}
		pr_buf_append(&b, "", 1);
		json_array_append_new(l, json_string(b.data));
		p += *p == '"';
	}
	pr_buf_free(&b);
	return l;
}

static json_t *txt_in(const json_t *values)
{
	if (json_array_size(values) == 1 && json_is_string(json_array_get(values, 0)) &&
	    json_string_value(json_array_get(values, 0))[0] != '"')
		return json_incref(json_array_get(values, 0));
	pr_buf_t b = {0};
	size_t i;
	json_t *v;
	json_array_foreach(values, i, v) {
		pr_buf_printf(&b, "%s\"", i ? " " : "");
		for (const char *p = json_string_value(v) ? json_string_value(v) : ""; *p; p++)
			pr_buf_printf(&b, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
		pr_buf_printf(&b, "\"");
	}
	json_t *out = json_string(b.data ? b.data : "\"\"");
	pr_buf_free(&b);
	return out;
}

static bool is_number_field(const char *f)
{
	return !strcmp(f, "preference") || !strcmp(f, "priority") || !strcmp(f, "weight") ||
	       !strcmp(f, "port");
}

/* One record of zone-file text as the cloud's object: fields separated by
 * blanks, the last one taking the rest. */
static json_t *record_out(const arm_rtype_t *t, const char *text)
{
	json_t *o = json_object();
	if (!strcmp(t->type, "TXT")) {
		json_object_set_new(o, "value", txt_out(text));
		return o;
	}
	const char *p = text;
	for (size_t f = 0; f < 4 && t->fields[f]; f++) {
		p += strspn(p, " \t");
		bool last = f == 3 || !t->fields[f + 1];
		size_t n = last ? strlen(p) : strcspn(p, " \t");
		char *tok = pr_strndup(p, n);
		json_object_set_new(o, t->fields[f], is_number_field(t->fields[f])
							     ? json_integer(strtoll(tok, NULL, 10))
							     : json_string(tok));
		free(tok);
		p += n;
	}
	return o;
}

/* One of the cloud's record objects as zone-file text (NULL: not of this type). */
static json_t *record_in(const arm_rtype_t *t, const json_t *o)
{
	if (!json_is_object(o))
		return NULL;
	if (!strcmp(t->type, "TXT"))
		return json_is_array(json_object_get(o, "value")) ? txt_in(json_object_get(o, "value"))
								   : NULL;
	pr_buf_t b = {0};
	for (size_t f = 0; f < 4 && t->fields[f]; f++) {
		const json_t *v = json_object_get(o, t->fields[f]);
		if (json_is_integer(v))
			pr_buf_printf(&b, "%s%lld", f ? " " : "", (long long)json_integer_value(v));
		else if (json_is_string(v))
			pr_buf_printf(&b, "%s%s", f ? " " : "", json_string_value(v));
		else {
			pr_buf_free(&b);
			return NULL;
		}
	}
	json_t *s = json_string(b.data);
	pr_buf_free(&b);
	return s;
}

static void record_set_out(json_t *props, const json_t *e, const char *zone)
{
	const char *type = str(e, "type"), *name = str(e, "name");
	json_object_del(props, "records");
	json_object_set_new(props, "fqdn", !strcmp(name, "@") ? json_sprintf("%s.", zone)
							      : json_sprintf("%s.%s.", name, zone));
	if (!json_object_get(props, "ttl"))
		json_object_set_new(props, "ttl", json_integer(MODEL_DEFAULT_TTL));
	if (!json_object_get(props, "isAutoRegistered"))
		json_object_set_new(props, "isAutoRegistered", json_false());
	const arm_rtype_t *t = rtype(type);
	if (!strcmp(type, "SOA")) {
		json_object_set(props, "soaRecord", json_object_get(e, "soa"));
		json_object_del(props, "soa");
	}
	if (!t)
		return;
	json_t *l = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(e, "records"), i, r) {
		char num[32];
		const char *text = json_string_value(r);
		if (json_is_integer(r))
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(r));
		json_array_append_new(l, record_out(t, text ? text : num));
	}
	if (t->single) {
		json_object_set(props, t->key, json_array_size(l) ? json_array_get(l, 0)
								  : json_object());
		json_decref(l);
	} else {
		json_object_set_new(props, t->key, l);
	}
}

/* The cloud's typed arrays into records; 0 or PR_ECONFIG with diag. */
static int record_set_in(json_t *doc, json_t *props, const char *type, pr_diag_t *diag)
{
	const arm_rtype_t *t = rtype(type);
	json_t *records = json_array();
	for (size_t i = 0; i < sizeof(rtypes) / sizeof(*rtypes); i++) {
		json_t *v = json_object_get(props, rtypes[i].key);
		if (!v || json_is_null(v)) {
			json_object_del(props, rtypes[i].key);
			continue;
		}
		if (&rtypes[i] != t) {
			pr_diag_add(diag, NULL, 0, 0, rtypes[i].key, NULL, PR_ECONFIG,
				    "a record set of type %s can't hold %s", type, rtypes[i].key);
			json_decref(records);
			return PR_ECONFIG;
		}
		json_t *one = t->single ? json_pack("[O]", v) : json_incref(v);
		size_t j;
		json_t *o;
		json_array_foreach(one, j, o) {
			json_t *text = record_in(t, o);
			if (!text) {
				pr_diag_add(diag, NULL, 0, 0, t->key, NULL, PR_ECONFIG,
					    "%s[%zu] is not a record: give %s", t->key, j,
					    t->fields[0]);
				json_decref(one);
				json_decref(records);
				return PR_ECONFIG;
			}
			json_array_append_new(records, text);
		}
		json_decref(one);
		json_object_del(props, t->key);
	}
	json_object_set_new(doc, "records", records);
	return 0;
}

/* ---- virtual networks and subnets ---------------------------------------------- */

static void subnet_out(json_t *props)
{
	const char *svc = json_string_value(json_object_get(props, "delegation"));
	if (svc) {
		json_t *d = json_pack("[{s:s, s:{s:s}}]", "name", "dnsResolvers", "properties",
				      "serviceName", svc);
		json_object_set_new(props, "delegations", d);
	} else {
		json_object_set_new(props, "delegations", json_array());
	}
	json_object_del(props, "delegation");
}

static void subnet_in(json_t *props)
{
	json_t *list = json_object_get(props, "addressPrefixes");
	if (!json_object_get(props, "addressPrefix") && json_array_size(list) == 1)
		json_object_set(props, "addressPrefix", json_array_get(list, 0));
	if (json_array_size(list) == 1)
		json_object_del(props, "addressPrefixes");
	json_t *dl = json_object_get(props, "delegations");
	if (json_is_array(dl) && json_array_size(dl) <= 1) {
		json_t *d0 = json_array_get(dl, 0);
		const json_t *svc = json_object_get(json_object_get(d0, "properties"), "serviceName");
		if (!svc)
			svc = json_object_get(d0, "serviceName");
		if (json_is_string(svc))
			json_object_set(props, "delegation", (json_t *)svc);
		json_object_del(props, "delegations");
	}
}

/* ---- the whole resource ---------------------------------------------------------- */

/* Properties the resource manager computes: answered, never taken on input. */
static const char *const computed[] = {
	"provisioningState", "resourceGuid", "dnsResolverState", "fqdn", "isAutoRegistered",
	"virtualNetworkLinkState", "maxNumberOfRecordSets", "numberOfRecordSets",
	"maxNumberOfVirtualNetworkLinks", "numberOfVirtualNetworkLinks",
	"maxNumberOfVirtualNetworkLinksWithRegistration",
	"numberOfVirtualNetworkLinksWithRegistration", "internalId", "etag", NULL};

bool model_arm_is_computed(const char *key)
{
	for (const char *const *c = computed; *c; c++)
		if (!strcmp(*c, key))
			return true;
	return false;
}

/* A stable GUID-shaped value for a resource (resourceGuid): from its id. */
static json_t *guid_of(const char *id)
{
	json_t *b = json_pack("{s:s}", "id", id);
	char *a = model_state_checksum(b);
	json_object_set_new(b, "~", json_true());
	char *c = model_state_checksum(b);
	json_t *g = json_sprintf("%.8s-%.4s-%.4s-%.4s-%.12s", a, a + 8, a + 12, c, c + 4);
	free(a);
	free(c);
	json_decref(b);
	return g;
}

static bool is_envelope_key(const model_kind_t *k, const char *key)
{
	static const char *const env[] = {"name", "id", "etag", "location", "tags", NULL};
	for (const char *const *e = env; *e; e++)
		if (!strcmp(*e, key))
			return true;
	return model_kind_is_child_key(k, key) || (k->keyed_by_type && !strcmp(key, "type"));
}

/* The location of a tracked resource: its own, else the deployment's; private
 * DNS zones and their links are "global" in the cloud. */
static json_t *location_of(const json_t *all, const model_kind_t *k, const json_t *e)
{
	if (k->id == MODEL_KIND_ZONE || k->id == MODEL_KIND_ZONE_LINK)
		return json_string("global");
	const char *loc = str(e, "location");
	if (!*loc)
		loc = str(all, "location");
	return json_string(*loc ? loc : "eastus");
}

static char *resource_id(const json_t *all, const model_kind_t *k, const char *parent_id,
			 const json_t *e)
{
	const char *name = str(e, "name");
	if (k->keyed_by_type)
		return pr_asprintf("%s/%s/%s", parent_id, str(e, "type"), name);
	if (*str(e, "id") && k->parent < 0)
		return pr_strdup(str(e, "id"));
	if (k->parent >= 0)
		return pr_asprintf("%s/%s/%s", parent_id, k->segment, name);
	char *base = model_arm_base(all);
	char *id = pr_asprintf("%s%s/%s", base, k->arm_type, name);
	free(base);
	return id;
}

/* The ARM shape keeps an inbound endpoint's address in ipConfigurations[0]. */
static void inbound_out(json_t *props, const json_t *all, const char *scope)
{
	json_t *cfg = json_object_get(props, "ipConfigurations");
	json_t *c0 = cfg ? json_deep_copy(json_array_get(cfg, 0)) : json_object();
	static const char *const flat[] = {"subnet", "privateIpAddress",
					   "privateIpAllocationMethod", NULL};
	for (const char *const *f = flat; *f; f++) {
		if (json_object_get(props, *f))
			json_object_set(c0, *f, json_object_get(props, *f));
		json_object_del(props, *f);
	}
	if (!json_object_get(c0, "privateIpAllocationMethod"))
		json_object_set_new(c0, "privateIpAllocationMethod", json_string("Dynamic"));
	json_t *sub = json_object_get(c0, "subnet");
	if (sub)
		json_object_set_new(c0, "subnet", ref_out(all, MODEL_KIND_SUBNET, sub, scope));
	json_object_set_new(props, "ipConfigurations", json_pack("[o]", c0));
}

static void vnet_out(json_t *props, const json_t *all, const char *id, const json_t *e)
{
	json_t *pfx = json_object_get(props, "addressPrefixes");
	json_object_set_new(props, "addressSpace",
			    json_pack("{s:O}", "addressPrefixes", pfx ? pfx : json_array()));
	json_object_del(props, "addressPrefixes");
	json_t *dns = json_object_get(props, "dnsServers");
	if (dns) {
		json_object_set_new(props, "dhcpOptions", json_pack("{s:O}", "dnsServers", dns));
		json_object_del(props, "dnsServers");
	}
	json_t *subs = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(e, "subnets"), i, s)
		json_array_append_new(subs, model_arm_resource(all, model_kind(MODEL_KIND_SUBNET),
							       id, e, s));
	json_object_set_new(props, "subnets", subs);
}

/* Targets written as "10.0.0.4" or without a port get the cloud's full shape. */
static void rule_out(json_t *props)
{
	if (!json_object_get(props, "forwardingRuleState"))
		json_object_set_new(props, "forwardingRuleState", json_string("Enabled"));
	json_t *t = json_object_get(props, "targetDnsServers");
	size_t i;
	json_t *x;
	json_array_foreach(t, i, x) {
		if (json_is_string(x)) {
			json_array_set_new(t, i, json_pack("{s:s, s:i}", "ipAddress",
							   json_string_value(x), "port", DNS_PORT));
		} else if (json_is_object(x) && !json_object_get(x, "port")) {
			json_t *c = json_deep_copy(x);
			/* [privres] a DNS over TLS target's default is 853 */
			const char *proto = json_string_value(json_object_get(x, "protocol"));
			bool tls = proto && !strcmp(proto, "Tls");
			json_object_set_new(c, "port", json_integer(tls ? MODEL_DOT_PORT : DNS_PORT));
			json_array_set_new(t, i, c);
		}
	}
}

/* What the cloud computes: counts, GUIDs, states. */
static void computed_out(json_t *props, const model_kind_t *k, const char *id, const json_t *e)
{
	if (k->id == MODEL_KIND_ZONE) {
		json_object_del(props, "soa");
		json_object_set_new(props, "numberOfRecordSets",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(e, "recordSets")) + 1));
		json_object_set_new(props, "numberOfVirtualNetworkLinks",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(e, "virtualNetworkLinks"))));
		json_object_set_new(props, "internalId", guid_of(id));
	} else if (k->tracked && k->id != MODEL_KIND_VNET && k->id != MODEL_KIND_ZONE_LINK) {
		json_object_set_new(props, "resourceGuid", guid_of(id));
	}
	/* the private DNS provider's record sets have no provisioningState */
	if (k->id == MODEL_KIND_RECORD_SET)
		json_object_del(props, "provisioningState");
	else if (!json_object_get(props, "provisioningState"))
		json_object_set_new(props, "provisioningState", json_string("Succeeded"));
}

static json_t *properties_out(const json_t *all, const model_kind_t *k, const char *id,
			      const json_t *parent, const json_t *e)
{
	json_t *props = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)e, key, v)
		if (!is_envelope_key(k, key))
			json_object_set(props, key, v);
	/* the subnets of inbound and outbound endpoints are in the resolver's VNet */
	const char *scope = parent ? str(parent, "virtualNetwork") : "";
	map_refs(props, all, k, scope, true);
	switch (k->id) {
	case MODEL_KIND_INBOUND:
		inbound_out(props, all, scope);
		break;
	case MODEL_KIND_SUBNET:
		subnet_out(props);
		break;
	case MODEL_KIND_VNET:
		vnet_out(props, all, id, e);
		break;
	case MODEL_KIND_RECORD_SET:
		record_set_out(props, e, parent ? str(parent, "name") : "");
		break;
	case MODEL_KIND_RULE:
		rule_out(props);
		break;
	case MODEL_KIND_ZONE_LINK:
		if (!json_object_get(props, "registrationEnabled"))
			json_object_set_new(props, "registrationEnabled", json_false());
		json_object_set_new(props, "virtualNetworkLinkState", json_string("Completed"));
		break;
	case MODEL_KIND_RESOLVER:
		json_object_set_new(props, "dnsResolverState", json_string("Connected"));
		break;
	default:
		break;
	}
	computed_out(props, k, id, e);
	return props;
}

json_t *model_arm_resource(const json_t *all, const model_kind_t *k, const char *parent_id,
			   const json_t *parent, const json_t *e)
{
	char *id = resource_id(all, k, parent_id, e);
	json_t *out = json_pack("{s:s, s:s}", "id", id, "name", str(e, "name"));
	json_object_set_new(out, "type", k->keyed_by_type
						 ? json_sprintf("%s/%s", k->arm_type, str(e, "type"))
						 : json_string(k->arm_type));
	if (json_object_get(e, "etag"))
		json_object_set(out, "etag", json_object_get(e, "etag"));
	if (k->tracked) {
		json_object_set_new(out, "location", location_of(all, k, e));
		json_t *tags = json_object_get(e, "tags");
		json_object_set_new(out, "tags", tags ? json_incref(tags) : json_object());
	}
	json_object_set_new(out, "properties", properties_out(all, k, id, parent, e));
	free(id);
	return out;
}

/* A VNet's subnets given inline, each in the document's shape. */
static int subnets_in(json_t *doc, json_t *subs, pr_diag_t *diag)
{
	if (!json_is_array(subs))
		return 0;
	json_t *l = json_array();
	size_t i;
	json_t *s;
	int rc = 0;
	json_array_foreach(subs, i, s) {
		json_t *one = NULL;
		rc = model_arm_to_doc(model_kind(MODEL_KIND_SUBNET), str(s, "name"), NULL, s, &one,
				      diag);
		if (rc)
			break;
		json_array_append_new(l, one);
	}
	json_object_set_new(doc, "subnets", l);
	return rc;
}

int model_arm_to_doc(const model_kind_t *k, const char *name, const char *type, const json_t *body,
		     json_t **out, pr_diag_t *diag)
{
	if (!json_is_object(body)) {
		pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_EPARSE, "the body is not a JSON object");
		return PR_EPARSE;
	}
	const json_t *props = json_object_get(body, "properties");
	if (props && !json_is_object(props)) {
		pr_diag_add(diag, NULL, 0, 0, "properties", NULL, PR_ECONFIG,
			    "'properties' must be an object");
		return PR_ECONFIG;
	}
	json_t *doc = json_pack("{s:s}", "name", name);
	json_t *p = props ? json_deep_copy(props) : json_object();
	int rc = 0;
	if (k->keyed_by_type)
		json_object_set_new(doc, "type", json_string(type));
	static const char *const env[] = {"location", "tags", NULL};
	for (const char *const *e = env; *e && k->tracked; e++)
		if (json_object_get(body, *e) && !json_is_null(json_object_get(body, *e)))
			json_object_set(doc, *e, json_object_get(body, *e));
	/* zones and their links are "global": no location of the deployment's */
	if (k->id == MODEL_KIND_ZONE || k->id == MODEL_KIND_ZONE_LINK)
		json_object_del(doc, "location");
	for (const char *const *c = computed; *c; c++)
		json_object_del(p, *c);
	map_refs(p, NULL, k, NULL, false);
	if (k->id == MODEL_KIND_INBOUND) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(p, "ipConfigurations"), i, c) {
			if (json_is_object(c) && json_object_get(c, "subnet"))
				json_object_set_new(c, "subnet", ref_in(json_object_get(c, "subnet")));
			if (json_is_object(c) && json_is_null(json_object_get(c, "privateIpAddress")))
				json_object_del(c, "privateIpAddress");
		}
	} else if (k->id == MODEL_KIND_SUBNET) {
		subnet_in(p);
	} else if (k->id == MODEL_KIND_VNET) {
		json_t *as = json_object_get(p, "addressSpace");
		if (json_is_object(as) && json_object_get(as, "addressPrefixes"))
			json_object_set(p, "addressPrefixes", json_object_get(as, "addressPrefixes"));
		if (json_is_object(as))
			json_object_del(p, "addressSpace");
		json_t *dhcp = json_object_get(p, "dhcpOptions");
		if (json_is_object(dhcp) && json_object_get(dhcp, "dnsServers") &&
		    json_array_size(json_object_get(dhcp, "dnsServers")))
			json_object_set(p, "dnsServers", json_object_get(dhcp, "dnsServers"));
		if (json_is_object(dhcp))
			json_object_del(p, "dhcpOptions");
		rc = subnets_in(doc, json_object_get(p, "subnets"), diag);
		json_object_del(p, "subnets");
	} else if (k->id == MODEL_KIND_RECORD_SET) {
		rc = record_set_in(doc, p, type, diag);
	}
	json_object_update_missing(doc, p);
	json_decref(p);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

/* ---- the SOA record set: the zone's soa (Z-2) ---------------------------------------- */

/* The SOA fields of the cloud with the model's defaults (Z-2). */
static const struct {
	const char *key;
	size_t offset;
} soa_numbers[] = {
	{"serialNumber", offsetof(model_soa_t, serial)},
	{"refreshTime", offsetof(model_soa_t, refresh)},
	{"retryTime", offsetof(model_soa_t, retry)},
	{"expireTime", offsetof(model_soa_t, expire)},
	{"minimumTtl", offsetof(model_soa_t, minimum)},
};

json_t *model_arm_soa(const json_t *zone)
{
	model_soa_t dflt = MODEL_SOA_DEFAULTS;
	const json_t *given = json_object_get(zone, "soa");
	json_t *soa = json_pack("{s:s, s:s}", "host", dflt.host, "email", dflt.email);
	for (size_t i = 0; i < sizeof(soa_numbers) / sizeof(*soa_numbers); i++)
		json_object_set_new(soa, soa_numbers[i].key,
				    json_integer(*(const uint32_t *)((const char *)&dflt +
								     soa_numbers[i].offset)));
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)given, k, v)
		if (strcmp(k, "ttl") != 0)
			json_object_set(soa, k, v);
	const json_t *ttl = json_object_get(given, "ttl");
	json_t *rs = json_pack("{s:s, s:s, s:o, s:o}", "name", "@", "type", "SOA", "ttl",
			       ttl ? json_incref((json_t *)ttl) : json_integer(dflt.ttl), "soa", soa);
	if (json_object_get(zone, "etag"))
		json_object_set(rs, "etag", json_object_get(zone, "etag"));
	return rs;
}

int model_arm_soa_to_zone(const json_t *zone, const json_t *body, json_t **out, pr_diag_t *diag)
{
	const json_t *props = json_object_get(body, "properties");
	const json_t *soa = json_object_get(props, "soaRecord");
	if (!json_is_object(props) || (soa && !json_is_object(soa))) {
		pr_diag_add(diag, NULL, 0, 0, "properties.soaRecord", "Z-2", PR_ECONFIG,
			    "an SOA record set is {properties: {ttl, soaRecord: {…}}}");
		return PR_ECONFIG;
	}
	const model_kind_t *k = model_kind(MODEL_KIND_ZONE);
	json_t *z = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)zone, key, v)
		if (!model_kind_is_child_key(k, key) && !model_key_is_read_only(key))
			json_object_set(z, key, v);
	json_t *s = json_object();
	json_object_foreach((json_t *)soa, key, v)
		if (strcmp(key, "host") != 0) /* the cloud's: not settable */
			json_object_set(s, key, v);
	if (json_object_get(props, "ttl"))
		json_object_set(s, "ttl", json_object_get(props, "ttl"));
	json_object_set_new(z, "soa", s);
	*out = z;
	return 0;
}
