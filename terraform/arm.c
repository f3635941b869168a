/* ARM templates (what Bicep compiles to) → the deployment JSON in the model's
 * shape, which mirrors the cloud's resource types and property names. The
 * template's parameters (defaults, a parameters file, name=value), variables
 * and expressions are evaluated (arm_expr.c); resources are read at the top
 * level and nested, with `copy` loops; names "parent/child" place children. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "linker/linker.h"
#include "model/model.h"
#include "terraform/arm_p.h"
#include "terraform/terraform_p.h"
#include "terraform/terraform.h"

const json_t *arm_variable(arm_t *arm, const char *name, char **err)
{
	const json_t *v = arm_iget(arm->vars, name);
	if (v)
		return v;
	const json_t *decl = arm_iget(arm_iget(arm->template, "variables"), name);
	if (!decl) {
		*err = pr_asprintf("variable '%s' is not declared", name);
		return NULL;
	}
	if (json_object_get(arm->resolving, name)) {
		*err = pr_asprintf("variable '%s' refers to itself", name);
		return NULL;
	}
	json_object_set_new(arm->resolving, name, json_true());
	pr_diag_t *d = pr_diag_new();
	int failed = 0;
	char *path = pr_asprintf("variables.%s", name);
	json_t *val = arm_eval(arm, decl, path, d, &failed);
	free(path);
	json_object_del(arm->resolving, name);
	if (failed) {
		*err = pr_strdup(pr_diag_get(d, 0)->message);
		json_decref(val);
		pr_diag_destroy(&d);
		return NULL;
	}
	pr_diag_destroy(&d);
	json_object_set_new(arm->vars, name, val);
	return val;
}

/* NAME=VALUE as the cloud CLI reads it: the text, or for a parameter declared
 * int, bool, array or object the JSON it spells (owned). */
static json_t *param_value(const arm_t *arm, const char *name, const char *text)
{
	const json_t *decl = arm_iget(arm_iget(arm->template, "parameters"), name);
	const char *type = json_string_value(arm_iget(decl, "type"));
	json_t *v = NULL;
	if (type && strcasecmp(type, "string") && strcasecmp(type, "securestring"))
		v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

/* "NAME=VALUE" (a NAME of letters, digits, '_' and '-', and no such file),
 * else a parameters file, "@FILE" as the cloud CLI writes it too. */
static size_t pair_name_len(const char *p)
{
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	return n && p[n] == '=' && access(p, F_OK) != 0 ? n : 0;
}

/* Parameters: defaults, then the file's, then name=value; all missing ones
 * reported at once. */
static int load_params(arm_t *arm, const arm_import_options_t *o, pr_diag_t *diag)
{
	const char *k;
	json_t *v;
	int rc = 0;
	for (size_t i = 0; i < o->n_parameters; i++) {
		const char *p = o->parameters[i];
		size_t n = pair_name_len(p);
		if (n) {
			char *name = pr_strndup(p, n);
			json_object_set_new(arm->params, name, param_value(arm, name, p + n + 1));
			free(name);
			continue;
		}
		if (p[0] == '@')
			p++;
		json_error_t e;
		json_t *doc = json_load_file(p, 0, &e);
		if (!json_is_object(doc)) {
			pr_diag_add(diag, p, e.line, e.column, NULL, NULL, PR_EPARSE,
				    "not a parameters file: %s", e.text);
			rc = PR_EPARSE;
		}
		json_object_foreach((json_t *)arm_iget(doc, "parameters"), k, v)
		{
			const json_t *val = arm_iget(v, "value");
			if (val)
				json_object_set(arm->params, k, (json_t *)val);
			else
				pr_diag_add(diag, p, 0, 0, k, NULL, PR_ECONFIG,
					    "parameter '%s': only \"value\" is supported", k);
		}
		json_decref(doc);
	}
	json_object_foreach((json_t *)arm_iget(arm->template, "parameters"), k, v)
	{
		if (arm_iget(arm->params, k))
			continue;
		const json_t *dflt = arm_iget(v, "defaultValue");
		char *err = NULL, *path = pr_asprintf("parameters.%s.defaultValue", k);
		int failed = 0;
		if (dflt) {
			json_t *val = arm_eval(arm, dflt, path, diag, &failed);
			json_object_set_new(arm->params, k, val);
			rc = failed ? PR_ECONFIG : rc;
		} else {
			pr_diag_add(diag, arm->file, 0, 0, k, NULL, PR_ECONFIG,
				    "parameter '%s' has no value: give it in --parameters FILE or "
				    "as --parameters %s=VALUE",
				    k, k);
			rc = PR_ECONFIG;
		}
		free(err);
		free(path);
	}
	return rc;
}

typedef struct out {
	json_t *doc;
	json_t *skipped; /* type → count */
	pr_diag_t *diag;
	int failed;
} out_t;

static char *last_segment(const char *id, const char *seg)
{
	char *needle = pr_asprintf("/%s/", seg);
	const char *at = NULL;
	for (const char *p = id ? id : ""; (p = strcasestr(p, needle)); p++)
		at = p;
	char *r = at ? pr_strndup(at + strlen(needle), strcspn(at + strlen(needle), "/"))
		     : pr_strdup(id ? id : "");
	free(needle);
	return r;
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(arm_iget(o, k));
}

/* The model object named name in doc[key] (created on first mention: a child
 * may come before its parent in the template). */
static json_t *named(json_t *parent, const char *key, const char *name)
{
	json_t *list = tf_list_of(parent, key);
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) if (!strcasecmp(sget(x, "name") ?: "", name)) return x;
	x = json_pack("{s:s}", "name", name);
	json_array_append_new(list, x);
	return x;
}

static char *id_name(const json_t *props, const char *k, const char *seg)
{
	return last_segment(sget(arm_iget(props, k), "id"), seg);
}

static void set_own(json_t *o, const char *k, char *owned)
{
	json_object_set_new(o, k, json_string(owned));
	free(owned);
}

static void copy_if(json_t *dst, const char *k, const json_t *src)
{
	const json_t *v = arm_iget(src, k);
	if (v && !json_is_null(v))
		json_object_set(dst, k, (json_t *)v);
}

/* v (borrowed) with its property names spelled as in shape, matched
 * case-insensitively as ARM matches them (owned); what shape does not name,
 * such as the keys of metadata, is kept as written. */
static json_t *spelled_as(const json_t *v, const json_t *shape)
{
	if (json_is_array(v) && json_is_array(shape)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			json_array_append_new(out, spelled_as(x, json_array_get(shape, 0)));
		return out;
	}
	if (!json_is_object(v) || !json_is_object(shape))
		return json_incref((json_t *)v);
	json_t *out = json_object();
	const char *k, *sk;
	json_t *x, *sx;
	json_object_foreach((json_t *)v, k, x) {
		const char *name = k;
		const json_t *sub = NULL;
		json_object_foreach((json_t *)shape, sk, sx) if (!strcasecmp(sk, k))
		{
			name = sk;
			sub = sx;
			break;
		}
		json_object_set_new(out, name, spelled_as(x, sub));
	}
	return out;
}

/* How the ARM surface writes a record set of type (upper case): the keys it
 * reads on a PUT, in the cloud's spelling (owned). From the model, the one
 * home of aRecords, ipv4Address, soaRecord ... */
static json_t *record_set_shape(const char *type)
{
	json_t *zone = json_pack("{s:s}", "name", "zone.example");
	json_t *e = !strcmp(type, "SOA") ? model_arm_soa(zone)
					 : json_pack("{s:s, s:s, s:[s]}", "name", "x", "type",
						     type, "records", "0 0 0 x.");
	json_object_set_new(e, "metadata", json_object());
	json_t *all = json_object();
	json_t *shape = model_arm_resource(all, model_kind(MODEL_KIND_RECORD_SET),
					   "/zones/zone.example", zone, e);
	json_decref(all);
	json_decref(e);
	json_decref(zone);
	return shape;
}

/* A record set (privateDnsZones/A, /TXT ...) as the ARM surface reads one
 * (model_arm_to_doc: aRecords, txtRecords ... into records), its property
 * names matched case-insensitively first; the SOA record set is the zone's
 * soa (Z-2). */
static void place_record_set(out_t *o, const char *rtype, char **parts, const json_t *given)
{
	json_t *zone = named(o->doc, "privateDnsZones", parts[0]), *doc = NULL;
	char type[16];
	size_t i = 0;
	for (; rtype[i] && i < sizeof(type) - 1; i++)
		type[i] = (char)toupper((unsigned char)rtype[i]);
	type[i] = '\0';
	json_t *shape = record_set_shape(type);
	json_t *r = spelled_as(given, shape);
	json_decref(shape);
	int rc;
	if (!strcmp(type, "SOA")) {
		rc = model_arm_soa_to_zone(zone, r, &doc, o->diag);
		if (rc == 0 && json_object_get(doc, "soa"))
			json_object_set(zone, "soa", json_object_get(doc, "soa"));
	} else {
		rc = model_arm_to_doc(model_kind(MODEL_KIND_RECORD_SET), parts[1], type, r, &doc,
				      o->diag);
		if (rc == 0)
			json_array_append(tf_list_of(zone, "recordSets"), doc);
	}
	if (rc != 0)
		o->failed++;
	json_decref(doc);
	json_decref(r);
}

/* One evaluated resource into the deployment. */
static void place(out_t *o, const char *type, char **parts, size_t n, const json_t *r)
{
	const json_t *props = arm_iget(r, "properties");
	json_t *d = o->doc, *x;
	const char *loc = sget(r, "location");
#define IS(t) (!strcasecmp(type, "Microsoft.Network/" t))
	if (IS("virtualNetworks") && n == 1) {
		x = named(d, "virtualNetworks", parts[0]);
		copy_if(x, "tags", r);
		json_object_set(x, "addressPrefixes",
				(json_t *)arm_iget(arm_iget(props, "addressSpace"), "addressPrefixes"));
		size_t i;
		json_t *s;
		json_array_foreach((json_t *)arm_iget(props, "subnets"), i, s)
		{
			json_t *sn = named(x, "subnets", sget(s, "name") ?: "");
			const json_t *sp = arm_iget(s, "properties");
			copy_if(sn, "addressPrefix", sp);
			const char *svc = sget(arm_iget(json_array_get(arm_iget(sp, "delegations"), 0),
							"properties"),
					       "serviceName");
			if (svc)
				json_object_set_new(sn, "delegation", json_string(svc));
		}
	} else if (IS("virtualNetworks/subnets") && n == 2) {
		x = named(named(d, "virtualNetworks", parts[0]), "subnets", parts[1]);
		copy_if(x, "addressPrefix", props);
	} else if (IS("dnsResolvers") && n == 1) {
		x = named(d, "dnsResolvers", parts[0]);
		copy_if(x, "tags", r);
		set_own(x, "virtualNetwork", id_name(props, "virtualNetwork", "virtualNetworks"));
	} else if (IS("dnsResolvers/inboundEndpoints") && n == 2) {
		x = named(named(d, "dnsResolvers", parts[0]), "inboundEndpoints", parts[1]);
		const json_t *cfg = json_array_get(arm_iget(props, "ipConfigurations"), 0);
		set_own(x, "subnet", id_name(cfg, "subnet", "subnets"));
		copy_if(x, "privateIpAllocationMethod", cfg);
		copy_if(x, "privateIpAddress", cfg);
	} else if (IS("dnsResolvers/outboundEndpoints") && n == 2) {
		x = named(named(d, "dnsResolvers", parts[0]), "outboundEndpoints", parts[1]);
		set_own(x, "subnet", id_name(props, "subnet", "subnets"));
	} else if (IS("dnsForwardingRulesets") && n == 1) {
		x = named(d, "dnsForwardingRulesets", parts[0]);
		copy_if(x, "tags", r);
		json_t *oes = json_array();
		size_t i;
		json_t *e;
		json_array_foreach((json_t *)arm_iget(props, "dnsResolverOutboundEndpoints"), i, e)
		{
			char *res = last_segment(sget(e, "id"), "dnsResolvers");
			char *ep = last_segment(sget(e, "id"), "outboundEndpoints");
			set_own(e, "ref", pr_asprintf("%s/%s", res, ep));
			json_array_append(oes, json_object_get(e, "ref"));
			free(res);
			free(ep);
		}
		json_object_set_new(x, "dnsResolverOutboundEndpoints", oes);
	} else if (IS("dnsForwardingRulesets/forwardingRules") && n == 2) {
		x = named(named(d, "dnsForwardingRulesets", parts[0]), "forwardingRules", parts[1]);
		copy_if(x, "domainName", props);
		json_t *targets = json_array(); /* property names as ARM matches them */
		size_t i;
		json_t *t;
		json_array_foreach((json_t *)arm_iget(props, "targetDnsServers"), i, t)
		{
			json_t *o2 = json_object();
			copy_if(o2, "ipAddress", t);
			copy_if(o2, "port", t);
			json_array_append_new(targets, o2);
		}
		json_object_set_new(x, "targetDnsServers", targets);
		copy_if(x, "forwardingRuleState", props);
		copy_if(x, "metadata", props);
	} else if (IS("dnsForwardingRulesets/virtualNetworkLinks") && n == 2) {
		x = named(named(d, "dnsForwardingRulesets", parts[0]), "virtualNetworkLinks",
			  parts[1]);
		set_own(x, "virtualNetwork", id_name(props, "virtualNetwork", "virtualNetworks"));
		copy_if(x, "metadata", props);
	} else if (IS("privateDnsZones") && n == 1) {
		x = named(d, "privateDnsZones", parts[0]);
		copy_if(x, "tags", r);
	} else if (!strncasecmp(type, "Microsoft.Network/privateDnsZones/", 34) && n == 2 &&
		   model_arm_record_key(type + 34)) {
		place_record_set(o, type + 34, parts, r);
	} else if (IS("privateDnsZones/virtualNetworkLinks") && n == 2) {
		x = named(named(d, "privateDnsZones", parts[0]), "virtualNetworkLinks", parts[1]);
		set_own(x, "virtualNetwork", id_name(props, "virtualNetwork", "virtualNetworks"));
		/* the cloud's defaults left out, as the Terraform import leaves them
		 * (a link written either way plans to nothing) */
		if (json_is_true(arm_iget(props, "registrationEnabled")))
			json_object_set_new(x, "registrationEnabled", json_true());
		const char *rp = sget(props, "resolutionPolicy");
		if (rp && strcasecmp(rp, "Default") != 0)
			json_object_set_new(x, "resolutionPolicy", json_string(rp));
	} else {
		json_int_t c = json_integer_value(json_object_get(o->skipped, type));
		json_object_set_new(o->skipped, type, json_integer(c + 1));
		return;
	}
#undef IS
	if (loc && !json_object_get(d, "location"))
		json_object_set_new(d, "location", json_string(loc));
}

static void resource(arm_t *arm, out_t *o, const json_t *r, const char *path, const char *ptype,
		     const char *pname);

/* One resource (and its nested children): the full type and name of a nested
 * one are its parent's joined with its own. */
static void one(arm_t *arm, out_t *o, const json_t *raw, const char *path, const char *ptype,
		const char *pname)
{
	json_t *r = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)raw, k, v) if (strcasecmp(k, "resources") != 0 &&
						     strcasecmp(k, "copy") != 0)
		json_object_set(r, k, v);
	json_t *ev = arm_eval(arm, r, path, o->diag, &o->failed);
	json_decref(r);
	const json_t *cond = arm_iget(ev, "condition");
	const char *type = sget(ev, "type"), *name = sget(ev, "name");
	if (json_is_false(cond) || !type || !name) {
		if ((!type || !name) && !json_is_false(cond)) {
			pr_diag_add(o->diag, arm->file, 0, 0, path, NULL, PR_ECONFIG,
				    "a resource needs a type and a name");
			o->failed++;
		}
		json_decref(ev);
		return;
	}
	char *ftype = ptype && !strchr(type, '.') ? pr_asprintf("%s/%s", ptype, type)
						  : pr_strdup(type);
	char *fname = pname && !strchr(name, '/') ? pr_asprintf("%s/%s", pname, name)
						  : pr_strdup(name);
	char *parts[8], *save = NULL, *copy = pr_strdup(fname);
	size_t n = 0;
	for (char *t = strtok_r(copy, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	place(o, ftype, parts, n, ev);
	size_t i;
	json_t *child;
	json_array_foreach((json_t *)arm_iget(raw, "resources"), i, child)
	{
		char *cp = pr_asprintf("%s.resources[%zu]", path, i);
		resource(arm, o, child, cp, ftype, fname);
		free(cp);
	}
	free(copy);
	free(ftype);
	free(fname);
	json_decref(ev);
}

/* A resource, repeated by its copy loop. */
static void resource(arm_t *arm, out_t *o, const json_t *r, const char *path, const char *ptype,
		     const char *pname)
{
	const json_t *copy = arm_iget(r, "copy");
	if (!copy) {
		one(arm, o, r, path, ptype, pname);
		return;
	}
	int failed = 0;
	json_t *count = arm_eval(arm, arm_iget(copy, "count"), path, o->diag, &failed);
	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    json_integer_value(count) > ARM_COPY_MAX) {
		pr_diag_add(o->diag, arm->file, 0, 0, path, NULL, PR_ECONFIG,
			    "copy.count must be a whole number from 0 to %d", ARM_COPY_MAX);
		o->failed++;
	} else {
		for (json_int_t i = 0; i < json_integer_value(count); i++) {
			arm->copy_index = (long)i;
			char *cp = pr_asprintf("%s[copy %lld]", path, (long long)i);
			one(arm, o, r, cp, ptype, pname);
			free(cp);
		}
		arm->copy_index = -1;
	}
	json_decref(count);
}

int arm_import(const arm_import_options_t *opts, json_t **deployment, pr_diag_t *diag)
{
	PR_REQUIRE(opts && opts->path && deployment && diag);
	json_error_t e;
	json_t *tmpl = json_load_file(opts->path, 0, &e);
	if (!json_is_object(tmpl)) {
		pr_diag_add(diag, opts->path, e.line, e.column, NULL, NULL, PR_EPARSE,
			    "not an ARM template: %s", tmpl ? "not a JSON object" : e.text);
		json_decref(tmpl);
		return PR_EPARSE;
	}
	arm_t arm = {.file = opts->path,
		     .template = tmpl,
		     .params = json_object(),
		     .vars = json_object(),
		     .resolving = json_object(),
		     .subscription = MODEL_DEFAULT_SUBSCRIPTION,
		     .resource_group = opts->resource_group ?: MODEL_DEFAULT_RESOURCE_GROUP,
		     .location = opts->location ?: MODEL_DEFAULT_LOCATION,
		     .copy_index = -1};
	out_t o = {.doc = json_object(), .skipped = json_object(), .diag = diag};
	/* the group the template is deployed to (az deployment group create -g) */
	if (opts->resource_group)
		json_object_set_new(o.doc, "resourceGroup", json_string(opts->resource_group));
	int rc = load_params(&arm, opts, diag);
	if (rc == 0) {
		size_t i;
		json_t *r;
		json_array_foreach((json_t *)arm_iget(tmpl, "resources"), i, r)
		{
			char *path = pr_asprintf("resources[%zu]", i);
			resource(&arm, &o, r, path, NULL, NULL);
			free(path);
		}
		rc = o.failed ? PR_ECONFIG : 0;
	}
	if (rc == 0 && !opts->no_validate) {
		model_doc_t *doc = model_doc_from_json(o.doc, opts->path);
		deployment_t *d = NULL;
		rc = deployment_from_doc(&doc, &d, diag);
		if (rc == 0)
			rc = linker_check_loops(d, diag);
		deployment_destroy(&d);
	}
	if (rc == 0) {
		*deployment = json_incref(o.doc);
	}
	json_decref(o.doc);
	json_decref(o.skipped);
	json_decref(arm.params);
	json_decref(arm.vars);
	json_decref(arm.resolving);
	json_decref(tmpl);
	return rc;
}
