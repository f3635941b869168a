/* Instances → the deployment's JSON (design.md §5): azurerm arguments become
 * the cloud's property names, parents are found by ARM id, references become
 * the names the model uses ("hub", "hub-resolver/out"). Properties are
 * written as a person writes the YAML: what the user gave, and a provider's
 * default (TTL 3600, registration off, the deployment's own location) left
 * out, so that an import and its YAML example plan to nothing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "terraform/terraform_p.h"

#define RT "azurerm_private_dns_resolver"

static const struct {
	const char *type;
	int rank; /* parents first */
} known[] = {
	{"azurerm_resource_group", 0},
	{"azurerm_virtual_network", 1},
	{"azurerm_subnet", 2},
	{RT, 3},
	{"azurerm_private_dns_zone", 3},
	{"azapi_resource", 3}, /* rank by its type argument, see azapi_rank */
	{RT "_inbound_endpoint", 4},
	{RT "_outbound_endpoint", 4},
	{RT "_dns_forwarding_ruleset", 5},
	{RT "_forwarding_rule", 6},
	{RT "_virtual_network_link", 6},
	{"azurerm_private_dns_a_record", 4},
	{"azurerm_private_dns_aaaa_record", 4},
	{"azurerm_private_dns_cname_record", 4},
	{"azurerm_private_dns_mx_record", 4},
	{"azurerm_private_dns_ptr_record", 4},
	{"azurerm_private_dns_srv_record", 4},
	{"azurerm_private_dns_txt_record", 4},
	{"azurerm_private_dns_zone_virtual_network_link", 4},
};
#define N_KNOWN (sizeof(known) / sizeof(*known))

int tf_type_class(const char *type)
{
	for (size_t i = 0; i < N_KNOWN; i++)
		if (!strcmp(type, known[i].type))
			return 1;
	/* DNS types not listed (public azurerm_dns_*, newer private DNS ones)
	 * would change answers: they are reported, never dropped. */
	if (!strncmp(type, "azurerm_", 8) && strstr(type, "dns"))
		return -1;
	return 0;
}

typedef struct conv {
	tf_import_t *imp;
	json_t *by_id;	 /* lowercase ARM id → model object */
	json_t *path_of; /* lowercase ARM id → model path */
	json_t *vnets, *zones, *resolvers, *rulesets, *lists, *policies;
	const char *location;
} conv_t;

/* Set a borrowed value (a new reference is taken); nothing for NULL or
 * null: a null argument is an unset one in Terraform. */
static void put(json_t *o, const char *k, const json_t *v)
{
	if (v && !json_is_null(v))
		json_object_set(o, k, (json_t *)v);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static char *lower(const char *s)
{
	char *l = pr_strdup(s);
	for (char *c = l; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return l;
}

/* The name after /<segment>/ in an ARM id ("virtualNetworks" → "hub"), owned;
 * the whole id when it has no such segment (the model reports it then). */
static char *segment(const char *id, const char *seg)
{
	char *needle = pr_asprintf("/%s/", seg);
	const char *at = NULL;
	for (const char *p = id; (p = strcasestr(p, needle)); p++)
		at = p;
	char *out = at ? pr_strndup(at + strlen(needle), strcspn(at + strlen(needle), "/"))
		       : pr_strdup(id);
	free(needle);
	return out;
}

/* The id of a resource's parent, from its own id (a state's ids carry the
 * real subscription): the id cut at the last /<marker>/. NULL without one. */
static char *parent_from_id(const char *id, const char *marker)
{
	if (!id)
		return NULL;
	char *needle = pr_asprintf("/%s/", marker);
	const char *at = NULL;
	for (const char *p = id; (p = strcasestr(p, needle)); p++)
		at = p;
	free(needle);
	return at ? pr_strndup(id, (size_t)(at - id)) : NULL;
}

static void remember_as(conv_t *c, tf_inst_t *inst, json_t *obj, const char *path, const char *id)
{
	tf_import_t *imp = c->imp;
	if (id) {
		char *l = lower(id);
		put(c->by_id, l, obj);
		json_object_set_new(c->path_of, l, json_string(path));
		free(l);
	}
	pr_grow(&imp->origins, &imp->cap_origins, imp->n_origins + 1, sizeof(*imp->origins));
	tf_origin_t *o = &imp->origins[imp->n_origins++];
	o->path = pr_strdup(path);
	for (o->inst = 0; o->inst < imp->n_insts && imp->insts[o->inst] != inst; o->inst++)
		;
	imp->n_imported++;
}

static void remember(conv_t *c, tf_inst_t *inst, json_t *obj, const char *path)
{
	remember_as(c, inst, obj, path, inst->id);
}

/* The model object and path of the parent an instance names by id. */
static json_t *parent(conv_t *c, tf_inst_t *inst, const char *attr, const char *what,
		      const char **path)
{
	const char *id = tf_inst_ref(c->imp, inst, attr);
	json_t *obj = NULL;
	if (id) {
		char *l = lower(id);
		obj = json_object_get(c->by_id, l);
		*path = str(c->path_of, l);
		free(l);
	}
	if (!obj)
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ENOTFOUND,
			  "%s: %s %s%s%s is not in the configuration", inst->address, what, attr,
			  id ? " = " : " is unknown", id ? id : "");
	return obj;
}

static json_t *new_named(const char *name)
{
	return json_pack("{s:s}", "name", name ? name : "");
}

/* Whether the deployment carries the resources' tags (and record sets' tags as
 * the cloud's metadata); the one place to turn them off should the model
 * refuse them. */
#define TF_EMIT_TAGS 1

/* Terraform's tags (a map of strings) as the model's key (tags, or metadata on
 * record sets, as the cloud stores them). */
static void set_tags(json_t *obj, const json_t *values, const char *key)
{
	const json_t *tags = json_object_get(values, "tags");
	if (TF_EMIT_TAGS && json_is_object(tags) && json_object_size(tags))
		put(obj, key, tags);
}

static void set_location(conv_t *c, json_t *obj, const json_t *values)
{
	const char *loc = str(values, "location");
	if (loc && c->location && strcasecmp(loc, c->location) != 0)
		json_object_set_new(obj, "location", json_string(loc));
}

static char *child_path(const char *parent_path, const char *key, const char *name)
{
	return parent_path ? pr_asprintf("%s.%s[%s]", parent_path, key, name)
			   : pr_asprintf("%s[%s]", key, name);
}

/* Add a top-level resource. */
static json_t *top(conv_t *c, tf_inst_t *inst, json_t *list, const char *key)
{
	json_t *obj = new_named(str(inst->values, "name"));
	set_tags(obj, inst->values, "tags");
	json_array_append_new(list, obj);
	char *p = child_path(NULL, key, str(obj, "name"));
	remember(c, inst, obj, p);
	free(p);
	return obj;
}

/* Add a child resource to the parent named by attr. */
static json_t *child(conv_t *c, tf_inst_t *inst, const char *attr, const char *what,
		     const char *key)
{
	const char *pp = NULL;
	json_t *par = parent(c, inst, attr, what, &pp);
	if (!par)
		return NULL;
	const char *name = str(inst->values, "name");
	json_t *obj = new_named(name);
	if (strcmp(key, "forwardingRules") != 0 && strcmp(key, "virtualNetworkLinks") != 0)
		set_tags(obj, inst->values, "tags");
	json_array_append_new(tf_list_of(par, key), obj);
	char *p = child_path(pp, key, name ? name : "");
	remember(c, inst, obj, p);
	free(p);
	return obj;
}

static char *vnet_name(conv_t *c, tf_inst_t *inst, const char *attr)
{
	const char *id = tf_inst_ref(c->imp, inst, attr);
	if (!id) {
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ENOTFOUND,
			  "%s: %s is unknown", inst->address, attr);
		return NULL;
	}
	return segment(id, "virtualNetworks");
}

static void set_new_str(json_t *obj, const char *key, char *owned)
{
	if (owned)
		json_object_set_new(obj, key, json_string(owned));
	free(owned);
}

static void conv_subnet(conv_t *c, json_t *vnet, const char *vnet_path, tf_inst_t *inst,
			const json_t *v, const char *id)
{
	const char *name = str(v, "name");
	json_t *s = new_named(name);
	const json_t *pfx = json_object_get(v, "address_prefixes");
	if (json_is_array(pfx)) {
		if (json_array_size(pfx) != 1)
			tf_report(c->imp, inst->file, inst->line, inst->address, PR_ECONFIG,
				  "%s: subnet %s has %zu address prefixes; privres subnets have "
				  "one (N-1)",
				  inst->address, name ? name : "", json_array_size(pfx));
		put(s, "addressPrefix", json_array_get(pfx, 0));
	} else if (json_object_get(v, "address_prefix")) {
		put(s, "addressPrefix", json_object_get(v, "address_prefix"));
	}
	const json_t *sd =
		json_array_get(json_object_get(json_array_get(json_object_get(v, "delegation"), 0),
					       "service_delegation"),
			       0);
	if (str(sd, "name"))
		json_object_set_new(s, "delegation", json_string(str(sd, "name")));
	json_array_append_new(tf_list_of(vnet, "subnets"), s);
	char *p = child_path(vnet_path, "subnets", name ? name : "");
	remember_as(c, inst, s, p, id);
	free(p);
}

static void conv_vnet(conv_t *c, tf_inst_t *inst)
{
	json_t *obj = top(c, inst, c->vnets, "virtualNetworks");
	set_location(c, obj, inst->values);
	put(obj, "addressPrefixes", json_object_get(inst->values, "address_space"));
	const json_t *dns = json_object_get(inst->values, "dns_servers");
	if (json_array_size(dns))
		put(obj, "dnsServers", dns);
	size_t i;
	json_t *s;
	char *p = child_path(NULL, "virtualNetworks", str(obj, "name"));
	json_array_foreach(json_object_get(inst->values, "subnet"), i, s)
	{
		/* inline subnet blocks: the subnet's id is the VNet's + /subnets/x */
		char *id = pr_asprintf("%s/subnets/%s", inst->id ? inst->id : "",
				       str(s, "name") ?: "");
		conv_subnet(c, obj, p, inst, s, id);
		free(id);
	}
	free(p);
}

/* An endpoint's subnet: its name when it lies in the resolver's VNet, else
 * the whole id, which the model refuses with N-3. */
static json_t *subnet_ref(conv_t *c, tf_inst_t *inst, const char *attr, const json_t *resolver)
{
	const char *id = tf_inst_ref(c->imp, inst, attr);
	if (!id) {
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ENOTFOUND,
			  "%s: %s is unknown", inst->address, attr);
		return json_string("");
	}
	char *vnet = segment(id, "virtualNetworks");
	bool same = resolver && str(resolver, "virtualNetwork") &&
		    !strcasecmp(vnet, str(resolver, "virtualNetwork"));
	free(vnet);
	if (!same)
		return json_string(id);
	char *name = segment(id, "subnets");
	json_t *r = json_string(name);
	free(name);
	return r;
}

static void conv_inbound(conv_t *c, tf_inst_t *inst)
{
	const char *pp;
	json_t *res = parent(c, inst, "private_dns_resolver_id", "resolver", &pp);
	if (!res)
		return;
	json_t *obj = child(c, inst, "private_dns_resolver_id", "resolver", "inboundEndpoints");
	const json_t *cfgs = json_object_get(inst->values, "ip_configurations");
	if (json_array_size(cfgs) != 1) {
		/* I-1 is the model's to report; keep every configuration */
		json_t *list = json_array();
		size_t i;
		json_t *cfg;
		json_array_foreach(cfgs, i, cfg)
		{
			char *attr = pr_asprintf("ip_configurations.%zu.subnet_id", i);
			json_array_append_new(
				list, json_pack("{s:o}", "subnet", subnet_ref(c, inst, attr, res)));
			free(attr);
		}
		json_object_set_new(obj, "ipConfigurations", list);
		return;
	}
	const json_t *cfg = json_array_get(cfgs, 0);
	json_object_set_new(obj, "subnet",
			    subnet_ref(c, inst, "ip_configurations.0.subnet_id", res));
	const char *method = str(cfg, "private_ip_allocation_method");
	json_object_set_new(obj, "privateIpAllocationMethod",
			    json_string(method ? method : "Dynamic"));
	if (method && !strcmp(method, "Static") && json_object_get(cfg, "private_ip_address"))
		put(obj, "privateIpAddress", json_object_get(cfg, "private_ip_address"));
}

static void conv_outbound(conv_t *c, tf_inst_t *inst)
{
	const char *pp;
	json_t *res = parent(c, inst, "private_dns_resolver_id", "resolver", &pp);
	if (!res)
		return;
	json_t *obj = child(c, inst, "private_dns_resolver_id", "resolver", "outboundEndpoints");
	json_object_set_new(obj, "subnet", subnet_ref(c, inst, "subnet_id", res));
}

static void conv_ruleset(conv_t *c, tf_inst_t *inst)
{
	json_t *obj = top(c, inst, c->rulesets, "dnsForwardingRulesets");
	set_location(c, obj, inst->values);
	json_t *oes = json_array();
	const json_t *ids =
		json_object_get(inst->values, "private_dns_resolver_outbound_endpoint_ids");
	size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
	if (!ids && inst->exprs) /* a plan: the ids are unknown; one reference each */
		n = 1;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		if (!id)
			id = tf_inst_ref(c->imp, inst,
					 "private_dns_resolver_outbound_endpoint_ids");
		if (!id) {
			tf_report(c->imp, inst->file, inst->line, inst->address, PR_ENOTFOUND,
				  "%s: outbound endpoint %zu is unknown", inst->address, i);
			continue;
		}
		char *r = segment(id, "dnsResolvers"), *e = segment(id, "outboundEndpoints");
		char *ref = pr_asprintf("%s/%s", r, e);
		json_array_append_new(oes, json_string(ref));
		free(ref);
		free(r);
		free(e);
	}
	json_object_set_new(obj, "dnsResolverOutboundEndpoints", oes);
}

static void conv_rule(conv_t *c, tf_inst_t *inst)
{
	json_t *obj = child(c, inst, "dns_forwarding_ruleset_id", "ruleset", "forwardingRules");
	if (!obj)
		return;
	put(obj, "domainName", json_object_get(inst->values, "domain_name"));
	json_t *targets = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(inst->values, "target_dns_servers"), i, t)
	{
		json_t *o = json_object();
		put(o, "ipAddress", json_object_get(t, "ip_address"));
		const json_t *port = json_object_get(t, "port");
		if (port && !json_is_null(port))
			put(o, "port", port);
		json_array_append_new(targets, o);
	}
	json_object_set_new(obj, "targetDnsServers", targets);
	if (json_is_false(json_object_get(inst->values, "enabled")))
		json_object_set_new(obj, "forwardingRuleState", json_string("Disabled"));
	const json_t *md = json_object_get(inst->values, "metadata");
	if (json_object_size(md))
		put(obj, "metadata", md);
}

static void conv_vnet_link(conv_t *c, tf_inst_t *inst, const char *attr, const char *what)
{
	json_t *obj = child(c, inst, attr, what, "virtualNetworkLinks");
	if (!obj)
		return;
	set_new_str(obj, "virtualNetwork", vnet_name(c, inst, "virtual_network_id"));
	if (json_is_true(json_object_get(inst->values, "registration_enabled")))
		json_object_set_new(obj, "registrationEnabled", json_true());
	const char *rp = str(inst->values, "resolution_policy");
	if (rp && strcmp(rp, "Default") != 0)
		json_object_set_new(obj, "resolutionPolicy", json_string(rp));
	const json_t *md = json_object_get(inst->values, "metadata");
	if (json_object_size(md))
		put(obj, "metadata", md);
}

static void conv_zone(conv_t *c, tf_inst_t *inst)
{
	json_t *obj = top(c, inst, c->zones, "privateDnsZones");
	const json_t *soa = json_array_get(json_object_get(inst->values, "soa_record"), 0);
	/* The state holds the zone's SOA whole; what equals Z-2's defaults (the
	 * model's, the same privres fills in) is left out, anything else was chosen
	 * and is kept. */
	const model_soa_t d = MODEL_SOA_DEFAULTS;
	const struct {
		const char *arg, *prop;
		json_int_t dflt;
	} fields[] = {{"expire_time", "expireTime", d.expire},
		      {"minimum_ttl", "minimumTtl", d.minimum},
		      {"refresh_time", "refreshTime", d.refresh},
		      {"retry_time", "retryTime", d.retry},
		      {"ttl", "ttl", d.ttl}};
	json_t *s = json_object();
	const char *email = str(soa, "email");
	size_t dlen = strlen(d.email) - 1; /* without its final dot */
	if (email && !(strncasecmp(email, d.email, dlen) == 0 &&
		       (email[dlen] == '\0' || strcmp(email + dlen, ".") == 0)))
		json_object_set_new(s, "email", json_string(email));
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		const json_t *v = json_object_get(soa, fields[i].arg);
		if (json_is_integer(v) && json_integer_value(v) != fields[i].dflt)
			put(s, fields[i].prop, v);
	}
	if (json_object_size(s))
		put(obj, "soa", s);
	json_decref(s);
}

static json_t *zone_of(conv_t *c, tf_inst_t *inst, const char *zone_attr, const char *marker,
		       const char **path)
{
	const char *zone = str(inst->values, zone_attr);
	const char *rg = str(inst->values, "resource_group_name");
	char *id = parent_from_id(str(inst->values, "id"), marker);
	if (!id)
		id = pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/"
				 "privateDnsZones/%s",
				 c->imp->subscription, rg ? rg : MODEL_DEFAULT_RESOURCE_GROUP,
				 zone ? zone : "");
	char *l = lower(id);
	json_t *z = json_object_get(c->by_id, l);
	*path = str(c->path_of, l);
	if (!z)
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ENOTFOUND,
			  "%s: private DNS zone %s is not in the configuration", inst->address,
			  zone ? zone : "(unknown)");
	free(l);
	free(id);
	return z;
}

static void conv_record(conv_t *c, tf_inst_t *inst, const char *type)
{
	const char *zp;
	json_t *zone = zone_of(c, inst, "zone_name", type, &zp);
	if (!zone)
		return;
	const char *name = str(inst->values, "name");
	json_t *obj = new_named(name ? name : "@");
	json_object_set_new(obj, "type", json_string(type));
	set_tags(obj, inst->values, "metadata");
	const json_t *ttl = json_object_get(inst->values, "ttl");
	if (json_is_integer(ttl) && json_integer_value(ttl) != MODEL_DEFAULT_TTL)
		put(obj, "ttl", ttl);
	json_t *records = json_array();
	const json_t *v = json_object_get(inst->values, "records");
	const json_t *rec = json_object_get(inst->values, "record");
	size_t i;
	json_t *r;
	if (json_is_array(v)) {
		json_array_extend(records, (json_t *)v);
	} else if (json_is_string(rec)) {
		json_array_append(records, (json_t *)rec); /* CNAME */
	} else {
		json_array_foreach(rec, i, r)
		{
			char *text = NULL;
			if (!strcmp(type, "MX"))
				text = pr_asprintf("%lld %s",
						   (long long)json_integer_value(
							   json_object_get(r, "preference")),
						   str(r, "exchange") ?: "");
			else if (!strcmp(type, "SRV"))
				text = pr_asprintf(
					"%lld %lld %lld %s",
					(long long)json_integer_value(
						json_object_get(r, "priority")),
					(long long)json_integer_value(json_object_get(r, "weight")),
					(long long)json_integer_value(json_object_get(r, "port")),
					str(r, "target") ?: "");
			else if (str(r, "value"))
				text = pr_strdup(str(r, "value"));
			if (text)
				json_array_append_new(records, json_string(text));
			free(text);
		}
	}
	json_object_set_new(obj, "records", records);
	json_array_append_new(tf_list_of(zone, "recordSets"), obj);
	char *p = child_path(zp, "recordSets", str(obj, "name"));
	remember(c, inst, obj, p);
	free(p);
}

static void conv_zone_link(conv_t *c, tf_inst_t *inst)
{
	const char *zp;
	json_t *zone = zone_of(c, inst, "private_dns_zone_name", "virtualNetworkLinks", &zp);
	if (!zone)
		return;
	const char *name = str(inst->values, "name");
	json_t *obj = new_named(name);
	set_tags(obj, inst->values, "tags");
	set_new_str(obj, "virtualNetwork", vnet_name(c, inst, "virtual_network_id"));
	if (json_is_true(json_object_get(inst->values, "registration_enabled")))
		json_object_set_new(obj, "registrationEnabled", json_true());
	const char *rp = str(inst->values, "resolution_policy");
	if (rp && strcmp(rp, "Default") != 0)
		json_object_set_new(obj, "resolutionPolicy", json_string(rp));
	json_array_append_new(tf_list_of(zone, "virtualNetworkLinks"), obj);
	char *p = child_path(zp, "virtualNetworkLinks", name ? name : "");
	remember(c, inst, obj, p);
	free(p);
}

/* ---- DNS security policy through azapi ------------------------------------
 * The azurerm provider has no DNS security policy resources (its issue 28597);
 * people write them with azapi_resource, as Azure's verified modules do. */

static const char *azapi_type(const tf_inst_t *inst, char *buf, size_t len)
{
	const char *t = str(inst->values, "type");
	if (!t)
		return NULL;
	snprintf(buf, len, "%.*s", (int)strcspn(t, "@"), t);
	return buf;
}

static int azapi_rank(const tf_inst_t *inst)
{
	char buf[256];
	const char *t = azapi_type(inst, buf, sizeof(buf));
	if (t && !strcasecmp(t, "Microsoft.Network/dnsResolverPolicies/dnsSecurityRules"))
		return 5;
	if (t && !strcasecmp(t, "Microsoft.Network/dnsResolverPolicies/virtualNetworkLinks"))
		return 5;
	return 3;
}

static const json_t *azapi_props(tf_import_t *imp, tf_inst_t *inst, json_t **owned)
{
	const json_t *body = json_object_get(inst->values, "body");
	*owned = NULL;
	if (json_is_string(body)) { /* azapi 1.x: body = jsonencode({...}) */
		json_error_t e;
		*owned = json_loads(json_string_value(body), 0, &e);
		body = *owned;
	}
	if (!json_is_object(body)) {
		tf_report(imp, inst->file, inst->line, inst->address, PR_ECONFIG,
			  "%s: body is not an object", inst->address);
		return NULL;
	}
	const json_t *p = json_object_get(body, "properties");
	return p ? p : json_object_get(body, "dummy-empty");
}

static void conv_azapi(conv_t *c, tf_inst_t *inst)
{
	char buf[256];
	const char *t = azapi_type(inst, buf, sizeof(buf));
	json_t *owned = NULL;
	const json_t *props;
	json_t *obj;
	if (!t) {
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ECONFIG,
			  "%s: azapi_resource without a type", inst->address);
		return;
	}
	if (!strcasecmp(t, "Microsoft.Network/dnsResolverDomainLists")) {
		props = azapi_props(c->imp, inst, &owned);
		obj = top(c, inst, c->lists, "dnsResolverDomainLists");
		set_location(c, obj, inst->values);
		if (props)
			put(obj, "domains", json_object_get(props, "domains"));
	} else if (!strcasecmp(t, "Microsoft.Network/dnsResolverPolicies")) {
		obj = top(c, inst, c->policies, "dnsResolverPolicies");
		set_location(c, obj, inst->values);
	} else if (!strcasecmp(t, "Microsoft.Network/dnsResolverPolicies/dnsSecurityRules")) {
		props = azapi_props(c->imp, inst, &owned);
		obj = child(c, inst, "parent_id", "policy", "dnsSecurityRules");
		if (!obj || !props)
			goto cleanup;
		put(obj, "priority", json_object_get(props, "priority"));
		put(obj, "action", json_object_get(props, "action"));
		json_t *lists = json_array();
		size_t i;
		json_t *l;
		json_array_foreach(json_object_get(props, "dnsResolverDomainLists"), i, l)
		{
			char *n = segment(str(l, "id") ?: "", "dnsResolverDomainLists");
			json_array_append_new(lists, json_string(n));
			free(n);
		}
		json_object_set_new(obj, "dnsResolverDomainLists", lists);
		if (json_object_get(props, "dnsSecurityRuleState"))
			put(obj, "dnsSecurityRuleState",
			    json_object_get(props, "dnsSecurityRuleState"));
	} else if (!strcasecmp(t, "Microsoft.Network/dnsResolverPolicies/virtualNetworkLinks")) {
		props = azapi_props(c->imp, inst, &owned);
		obj = child(c, inst, "parent_id", "policy", "virtualNetworkLinks");
		if (!obj || !props)
			goto cleanup;
		const char *vid = str(json_object_get(props, "virtualNetwork"), "id");
		set_new_str(obj, "virtualNetwork", vid ? segment(vid, "virtualNetworks") : NULL);
	} else if (!strncasecmp(t, "Microsoft.Network/dns", 21) ||
		   !strncasecmp(t, "Microsoft.Network/privateDns", 28)) {
		tf_report(c->imp, inst->file, inst->line, inst->address, PR_ECONFIG,
			  "%s: azapi type %s is not supported by the importer", inst->address, t);
	} else {
		char *k = pr_asprintf("azapi_resource(%s)", t);
		json_int_t n = json_integer_value(json_object_get(c->imp->skipped, k));
		json_object_set_new(c->imp->skipped, k, json_integer(n + 1));
		c->imp->n_skipped++;
		free(k);
	}
cleanup:
	json_decref(owned);
}

static int rank_of(const tf_inst_t *inst)
{
	if (!strcmp(inst->type, "azapi_resource"))
		return azapi_rank(inst);
	for (size_t i = 0; i < N_KNOWN; i++)
		if (!strcmp(inst->type, known[i].type))
			return known[i].rank;
	return -1;
}

static int by_order(const void *a, const void *b)
{
	const tf_inst_t *x = *(tf_inst_t *const *)a, *y = *(tf_inst_t *const *)b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Drop collections left empty: the YAML does not write them. */
static void prune(json_t *v)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) prune(x);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, x)
		{
			prune(x);
			if (json_is_array(x) && !json_array_size(x) &&
			    (!strcmp(k, "subnets") || !strcmp(k, "recordSets") ||
			     !strcmp(k, "virtualNetworkLinks") || !strcmp(k, "inboundEndpoints") ||
			     !strcmp(k, "outboundEndpoints") || !strcmp(k, "forwardingRules") ||
			     !strcmp(k, "dnsSecurityRules")))
				json_object_del(v, k);
		}
	}
}

/* The same cloud resource declared by two resource blocks: the provider
 * refuses the second ("already exists - to be managed via Terraform this
 * resource needs to be imported"); so does the import, naming both. Resource
 * groups are left out: one may live in another subscription (a provider
 * alias) under the same name. */
static void refuse_duplicates(tf_import_t *imp, tf_inst_t **sorted)
{
	json_t *seen = json_object(); /* lowercase id → index in sorted */
	for (size_t i = 0; i < imp->n_insts; i++) {
		tf_inst_t *x = sorted[i];
		if (!x->id || tf_type_class(x->type) <= 0 ||
		    !strcmp(x->type, "azurerm_resource_group"))
			continue;
		char *l = lower(x->id);
		const json_t *prev = json_object_get(seen, l);
		if (prev) {
			const tf_inst_t *first = sorted[json_integer_value(prev)];
			tf_report(imp, x->file, x->line, x->address, PR_ECONFIG,
				  "%s: declared twice: %s (%s:%d) already manages %s; an existing "
				  "resource is imported (`terraform import`), not declared again",
				  x->address, first->address, first->file, first->line, x->id);
		} else {
			json_object_set_new(seen, l, json_integer((json_int_t)i));
		}
		free(l);
	}
	json_decref(seen);
}

json_t *tf_convert(tf_import_t *imp)
{
	conv_t c = {.imp = imp,
		    .by_id = json_object(),
		    .path_of = json_object(),
		    .vnets = json_array(),
		    .zones = json_array(),
		    .resolvers = json_array(),
		    .rulesets = json_array(),
		    .lists = json_array(),
		    .policies = json_array()};
	json_t *out = json_object();
	const char *rg = NULL;
	tf_inst_t **sorted = pr_calloc(imp->n_insts + 1, sizeof(*sorted));

	if (imp->n_insts)
		memcpy(sorted, imp->insts, imp->n_insts * sizeof(*sorted));
	qsort(sorted, imp->n_insts, sizeof(*sorted), by_order);
	for (size_t i = 0; i < imp->n_insts; i++)
		tf_inst_complete(imp, sorted[i]);
	refuse_duplicates(imp, sorted);
	/* the deployment's location and resource group: the first resource
	 * group's, else the first VNet's location */
	for (size_t i = 0; i < imp->n_insts && !c.location; i++)
		if (!strcmp(sorted[i]->type, "azurerm_resource_group")) {
			c.location = str(sorted[i]->values, "location");
			rg = str(sorted[i]->values, "name");
		}
	for (size_t i = 0; i < imp->n_insts && !c.location; i++)
		if (!strcmp(sorted[i]->type, "azurerm_virtual_network"))
			c.location = str(sorted[i]->values, "location");
	if (c.location)
		json_object_set_new(out, "location", json_string(c.location));
	if (rg && strcmp(rg, MODEL_DEFAULT_RESOURCE_GROUP) != 0)
		json_object_set_new(out, "resourceGroup", json_string(rg));

	for (size_t i = 0; i < imp->n_insts; i++) {
		tf_inst_t *x = sorted[i];
		int cls = tf_type_class(x->type);
		if (cls == 0) {
			json_int_t n = json_integer_value(json_object_get(imp->skipped, x->type));
			json_object_set_new(imp->skipped, x->type, json_integer(n + 1));
			imp->n_skipped++;
		} else if (cls < 0) {
			tf_report(imp, x->file, x->line, x->address, PR_ECONFIG,
				  "%s: type %s is not supported by the importer", x->address,
				  x->type);
		}
	}
	for (int rank = 0; rank <= 6; rank++) {
		for (size_t i = 0; i < imp->n_insts; i++) {
			tf_inst_t *x = sorted[i];
			if (rank_of(x) != rank)
				continue;
			const char *t = x->type;
			if (!strcmp(t, "azurerm_resource_group")) {
				imp->n_imported++;
			} else if (!strcmp(t, "azurerm_virtual_network")) {
				conv_vnet(&c, x);
			} else if (!strcmp(t, "azurerm_subnet")) {
				char *vid = parent_from_id(str(x->values, "id"), "subnets");
				if (!vid)
					vid = pr_asprintf(
						"/subscriptions/%s/resourceGroups/%s/providers/"
						"Microsoft.Network/virtualNetworks/%s",
						imp->subscription,
						str(x->values, "resource_group_name")
							?: MODEL_DEFAULT_RESOURCE_GROUP,
						str(x->values, "virtual_network_name") ?: "");
				char *l = lower(vid);
				json_t *vnet = json_object_get(c.by_id, l);
				if (vnet)
					conv_subnet(&c, vnet, str(c.path_of, l), x, x->values,
						    x->id);
				else
					tf_report(imp, x->file, x->line, x->address, PR_ENOTFOUND,
						  "%s: virtual network %s is not in the "
						  "configuration",
						  x->address,
						  str(x->values, "virtual_network_name") ?: "?");
				free(l);
				free(vid);
			} else if (!strcmp(t, RT)) {
				json_t *obj = top(&c, x, c.resolvers, "dnsResolvers");
				set_location(&c, obj, x->values);
				set_new_str(obj, "virtualNetwork",
					    vnet_name(&c, x, "virtual_network_id"));
			} else if (!strcmp(t, RT "_inbound_endpoint")) {
				conv_inbound(&c, x);
			} else if (!strcmp(t, RT "_outbound_endpoint")) {
				conv_outbound(&c, x);
			} else if (!strcmp(t, RT "_dns_forwarding_ruleset")) {
				conv_ruleset(&c, x);
			} else if (!strcmp(t, RT "_forwarding_rule")) {
				conv_rule(&c, x);
			} else if (!strcmp(t, RT "_virtual_network_link")) {
				conv_vnet_link(&c, x, "dns_forwarding_ruleset_id", "ruleset");
			} else if (!strcmp(t, "azurerm_private_dns_zone")) {
				conv_zone(&c, x);
			} else if (!strcmp(t, "azurerm_private_dns_zone_virtual_network_link")) {
				conv_zone_link(&c, x);
			} else if (!strcmp(t, "azapi_resource")) {
				conv_azapi(&c, x);
			} else if (!strncmp(t, "azurerm_private_dns_", 20) &&
				   strstr(t, "_record")) {
				char type[16] = "";
				const char *b = t + 20;
				size_t n = strcspn(b, "_");
				for (size_t k = 0; k < n && k < sizeof(type) - 1; k++)
					type[k] = (char)toupper((unsigned char)b[k]);
				conv_record(&c, x, type);
			}
		}
	}
	static const char *const order[] = {"virtualNetworks",	      "privateDnsZones",
					    "dnsResolvers",	      "dnsForwardingRulesets",
					    "dnsResolverDomainLists", "dnsResolverPolicies"};
	json_t *lists[] = {c.vnets, c.zones, c.resolvers, c.rulesets, c.lists, c.policies};
	for (size_t i = 0; i < 6; i++) {
		if (json_array_size(lists[i]))
			put(out, order[i], lists[i]);
		json_decref(lists[i]);
	}
	prune(out);
	json_decref(c.by_id);
	json_decref(c.path_of);
	free(sorted);
	return out;
}
