/*
 * handlers — each resource RPC as a change of the deployment document. A
 * request becomes JSON (pbjson), is placed where the deployment file would
 * hold it (design.md §5: dnsResolvers[r].inboundEndpoints[e] ...), and the
 * whole document is decoded and validated again by the model: an API change is
 * held to exactly the rules of a file, and a change with any error changes
 * nothing. Answers are read back from the validated deployment, so they carry
 * what was computed (ids, allocated addresses, I-2).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_p.h"
#include "base/base.h"
#include "linker/linker.h"
#include "model/model.h"

/* Where a resource type lives in the document, and its request fields. */
typedef struct resource_kind {
	const char *service; /* "InboundEndpointService" */
	const char *top;     /* top-level collection of the document */
	const char *child;   /* collection inside the parent, or NULL */
	const char *parent_req; /* request field naming the parent ("dnsResolverName") */
	const char *parent_out; /* resource field naming the parent on output */
	const char *resource_req; /* request field holding the resource */
	bool keyed_by_type;  /* record sets: (name, type) */
} resource_kind_t;

static const resource_kind_t kinds[] = {
	{"VirtualNetworkService", "virtualNetworks", NULL, NULL, NULL, "virtualNetwork", false},
	{"DnsResolverService", "dnsResolvers", NULL, NULL, NULL, "dnsResolver", false},
	{"InboundEndpointService", "dnsResolvers", "inboundEndpoints", "dnsResolverName",
	 "dnsResolver", "inboundEndpoint", false},
	{"OutboundEndpointService", "dnsResolvers", "outboundEndpoints", "dnsResolverName",
	 "dnsResolver", "outboundEndpoint", false},
	{"DnsForwardingRulesetService", "dnsForwardingRulesets", NULL, NULL, NULL,
	 "dnsForwardingRuleset", false},
	{"ForwardingRuleService", "dnsForwardingRulesets", "forwardingRules", "rulesetName",
	 "dnsForwardingRuleset", "forwardingRule", false},
	{"VirtualNetworkLinkService", "dnsForwardingRulesets", "virtualNetworkLinks", "rulesetName",
	 "dnsForwardingRuleset", "virtualNetworkLink", false},
	{"PrivateDnsZoneService", "privateDnsZones", NULL, NULL, NULL, "privateDnsZone", false},
	{"RecordSetService", "privateDnsZones", "recordSets", "zoneName", "privateDnsZone",
	 "recordSet", true},
	{"PrivateZoneVirtualNetworkLinkService", "privateDnsZones", "virtualNetworkLinks",
	 "zoneName", "privateDnsZone", "privateZoneVirtualNetworkLink", false},
	{"DnsResolverDomainListService", "dnsResolverDomainLists", NULL, NULL, NULL,
	 "dnsResolverDomainList", false},
	{"DnsResolverPolicyService", "dnsResolverPolicies", NULL, NULL, NULL, "dnsResolverPolicy",
	 false},
	{"DnsSecurityRuleService", "dnsResolverPolicies", "dnsSecurityRules", "policyName",
	 "dnsResolverPolicy", "dnsSecurityRule", false},
	{"PolicyVirtualNetworkLinkService", "dnsResolverPolicies", "virtualNetworkLinks",
	 "policyName", "dnsResolverPolicy", "policyVirtualNetworkLink", false},
	{"VirtualMachineService", "virtualMachines", NULL, NULL, NULL, "virtualMachine", false},
	{"ExternalDnsServerService", "externalDnsServers", NULL, NULL, NULL, "externalDnsServer",
	 false},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

typedef enum { OP_PUT, OP_GET, OP_LIST, OP_DELETE, OP_EXPORT } op_t;

typedef struct binding {
	api_control_t *control;
	const resource_kind_t *kind;
	op_t op;
	const ProtobufCMessageDescriptor *resource; /* the resource message type */
} binding_t;

struct api_control {
	deployment_t *current;
	api_commit_fn commit;
	void *ctx;
	const api_diagnostics_t *diagnostics;
	void *diagnostics_ctx;
	binding_t bindings[N_KINDS * 4 + 1];
};

void api_control_set_diagnostics(api_control_t *c, const api_diagnostics_t *ops, void *ctx)
{
	c->diagnostics = ops;
	c->diagnostics_ctx = ops ? ctx : NULL;
}

const api_diagnostics_t *api_control_diagnostics(const api_control_t *c, void **ctx)
{
	if (c->diagnostics)
		*ctx = c->diagnostics_ctx;
	return c->diagnostics;
}

int api_control_new(deployment_t *initial, api_commit_fn commit, void *ctx, api_control_t **out)
{
	PR_REQUIRE(initial && out);
	api_control_t *c = pr_calloc(1, sizeof(*c));
	c->current = initial;
	c->commit = commit;
	c->ctx = ctx;
	*out = c;
	return 0;
}

const deployment_t *api_control_deployment(const api_control_t *c)
{
	return c->current;
}

void api_control_destroy(api_control_t **cp)
{
	if (!cp || !*cp)
		return;
	deployment_destroy(&(*cp)->current);
	free(*cp);
	*cp = NULL;
}

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* The element of arr whose name (and type, for record sets) matches; index
 * in *at. Names compare case-insensitively, as the cloud's resource names do. */
static json_t *find_named(json_t *arr, const char *name, const char *type, size_t *at)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		if (strcasecmp(str_of(e, "name"), name) != 0)
			continue;
		if (type && strcasecmp(str_of(e, "type"), type) != 0)
			continue;
		if (at)
			*at = i;
		return e;
	}
	return NULL;
}

/* The collection of kind k in doc under parent (NULL for top-level kinds);
 * with create, missing arrays are added. NULL with status NOT_FOUND when the
 * parent does not exist. */
static json_t *collection(json_t *doc, const resource_kind_t *k, const char *parent, bool create,
			  api_status_t *st)
{
	json_t *top = json_object_get(doc, k->top);

	if (!json_is_array(top)) {
		if (!create && k->child) {
			api_status_set(st, API_STATUS_NOT_FOUND,
				       "ResourceNotFound: %s[%s] does not exist", k->top, parent);
			return NULL;
		}
		top = json_array();
		if (create)
			json_object_set_new(doc, k->top, top);
		else
			json_decref(top); /* an empty top-level list: nothing to find */
		if (!create)
			return NULL;
	}
	if (!k->child)
		return top;
	json_t *p = find_named(top, parent, NULL, NULL);
	if (!p) {
		api_status_set(st, API_STATUS_NOT_FOUND, "ResourceNotFound: %s[%s] does not exist",
			       k->top, parent);
		return NULL;
	}
	json_t *arr = json_object_get(p, k->child);
	if (!json_is_array(arr) && create) {
		arr = json_array();
		json_object_set_new(p, k->child, arr);
	}
	return json_is_array(arr) ? arr : NULL;
}

/* Resource JSON from the document (borrowed e) as a response message. */
static int respond_resource(const binding_t *b, const json_t *e, const char *parent,
			    ProtobufCMessage **resp, api_status_t *st)
{
	json_t *copy = json_deep_copy(e);
	char *why = NULL;

	/* the cloud nests an inbound endpoint's address in ipConfigurations[0] */
	json_t *cfg = json_array_get(json_object_get(copy, "ipConfigurations"), 0);
	if (json_is_object(cfg)) {
		const char *key;
		json_t *v;
		json_object_foreach(cfg, key, v)
			if (!json_object_get(copy, key))
				json_object_set(copy, key, v);
	}
	pbjson_filter(b->resource, copy);
	if (parent && b->kind->parent_out)
		json_object_set_new(copy, b->kind->parent_out, json_string(parent));
	int ret = pbjson_to_message(b->resource, copy, resp, &why);
	json_decref(copy);
	if (ret != 0) {
		api_status_set(st, API_STATUS_INTERNAL, "resource does not fit its message: %s",
			       why);
		free(why);
		return API_STATUS_INTERNAL;
	}
	return 0;
}

int api_control_prepare(api_control_t *c, model_doc_t **docp, deployment_t **next,
			json_t **plan, pr_diag_t *diag)
{
	deployment_t *d = NULL;
	json_t *p = NULL;

	int ret = deployment_from_doc(docp, &d, diag);
	if (ret != 0)
		return ret;
	/* P-1, P-2: a graph that is valid resource by resource may still loop */
	if ((ret = linker_check_loops(d, diag)) != 0)
		goto cleanup;
	p = deployment_plan(c->current, d);
	size_t i;
	json_t *ch;
	json_array_foreach(p, i, ch) {
		if (!json_is_true(json_object_get(ch, "immutable")))
			continue;
		size_t k;
		json_t *pc;
		json_array_foreach(json_object_get(ch, "changes"), k, pc) {
			if (!json_is_true(json_object_get(pc, "immutable")))
				continue;
			char *from = json_dumps(json_object_get(pc, "from"), JSON_ENCODE_ANY);
			char *to = json_dumps(json_object_get(pc, "to"), JSON_ENCODE_ANY);
			pr_diag_add(diag, NULL, 0, 0, json_string_value(json_object_get(ch, "id")),
				    json_string_value(json_object_get(ch, "rule")), PR_EIMMUTABLE,
				    "%s can't change after creation (%s -> %s); delete the "
				    "resource and create it again",
				    json_string_value(json_object_get(pc, "property")), from, to);
			free(from);
			free(to);
		}
		ret = PR_EIMMUTABLE;
	}
cleanup:
	if (ret != 0) {
		deployment_destroy(&d);
		json_decref(p);
		return ret;
	}
	*next = d;
	if (plan)
		*plan = p;
	else
		json_decref(p);
	return 0;
}

int api_control_accept(api_control_t *c, deployment_t **nextp, api_status_t *st)
{
	char *why = NULL;
	int ret;

	if (c->commit && (ret = c->commit(c->ctx, *nextp, &why)) != 0) {
		api_status_set(st, API_STATUS_UNAVAILABLE, "change not saved: %s",
			       why ? why : pr_strerror(ret));
		free(why);
		return API_STATUS_UNAVAILABLE;
	}
	deployment_destroy(&c->current);
	c->current = *nextp;
	*nextp = NULL;
	return API_STATUS_OK;
}

/* Validate doc as the next deployment and, when the commit hook agrees, make
 * it current. Findings become the status (first finding's code, every line). */
static int adopt(api_control_t *c, json_t *doc, bool deleting, api_status_t *st)
{
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *md = model_doc_from_json(doc, "api");
	deployment_t *next = NULL;
	int code = API_STATUS_OK;

	int ret = api_control_prepare(c, &md, &next, NULL, diag);
	if (ret != 0) {
		char *text = pr_diag_format(diag);
		code = api_status_from_error(ret);
		/* removing what others still use breaks only references (O-4) */
		if (deleting && code == API_STATUS_NOT_FOUND)
			code = API_STATUS_FAILED_PRECONDITION;
		api_status_set(st, code, "%s: %s", api_cloud_code(ret),
			       text ? text : pr_strerror(ret));
		free(text);
		goto cleanup;
	}
	code = api_control_accept(c, &next, st);
cleanup:
	deployment_destroy(&next);
	model_doc_destroy(&md);
	pr_diag_destroy(&diag);
	return code;
}

static int handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		  api_status_t *st)
{
	binding_t *b = ctx;
	api_control_t *c = b->control;
	const resource_kind_t *k = b->kind;
	json_t *rq = NULL, *doc = NULL, *out = NULL;
	int code = API_STATUS_OK;

	if (pbjson_from_message(req, &rq) != 0)
		return api_status_set(st, API_STATUS_INVALID_ARGUMENT, "request is not JSON-able");
	const char *parent = k && k->parent_req ? str_of(rq, k->parent_req) : NULL;
	if (parent && !*parent) {
		code = api_status_set(st, API_STATUS_INVALID_ARGUMENT, "%s is required",
				      k->parent_req);
		goto cleanup;
	}

	switch (b->op) {
	case OP_EXPORT: {
		const char *format = str_of(rq, "format");
		json_t *all = deployment_to_json(c->current);
		char *text = strcmp(format, "json") == 0
				     ? json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
				     : model_json_to_yaml(all);
		json_decref(all);
		out = json_pack("{s:s, s:s}", "document", text ? text : "", "format",
				strcmp(format, "json") == 0 ? "json" : "yaml");
		free(text);
		char *why = NULL;
		if (pbjson_to_message(b->resource, out, resp, &why) != 0) {
			code = api_status_set(st, API_STATUS_INTERNAL, "%s", why);
			free(why);
		}
		goto cleanup;
	}
	case OP_GET:
	case OP_LIST: {
		out = deployment_to_json(c->current);
		json_t *arr = collection(out, k, parent, false, st);
		if (!arr && st->code != API_STATUS_OK) {
			code = st->code;
			goto cleanup;
		}
		if (b->op == OP_GET) {
			const char *name = str_of(rq, "name");
			json_t *e = arr ? find_named(arr, name,
						     k->keyed_by_type ? str_of(rq, "recordType")
								      : NULL,
						     NULL)
					: NULL;
			if (!e) {
				code = api_status_set(st, API_STATUS_NOT_FOUND,
						      "ResourceNotFound: %s[%s] does not exist",
						      k->child ? k->child : k->top, name);
				goto cleanup;
			}
			code = respond_resource(b, e, parent, resp, st);
			goto cleanup;
		}
		/* List: {"value": [...]} in the cloud's list shape */
		json_t *list = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(arr, i, e) {
			json_t *copy = json_deep_copy(e);
			pbjson_filter(b->resource, copy);
			if (parent && k->parent_out)
				json_object_set_new(copy, k->parent_out, json_string(parent));
			json_array_append_new(list, copy);
		}
		json_t *wrapped = json_pack("{s:o}", "value", list);
		char *why = NULL;
		const ProtobufCMessageDescriptor *in, *outd;
		char *path = pr_asprintf("%s/List", k->service);
		api_schema_method(path, &in, &outd);
		free(path);
		if (pbjson_to_message(outd, wrapped, resp, &why) != 0) {
			code = api_status_set(st, API_STATUS_INTERNAL, "%s", why);
			free(why);
		}
		json_decref(wrapped);
		goto cleanup;
	}
	case OP_PUT: {
		json_t *res = json_object_get(rq, k->resource_req);
		if (!json_is_object(res) || !*str_of(res, "name")) {
			code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
					      "%s.name is required", k->resource_req);
			goto cleanup;
		}
		res = json_deep_copy(res);
		/* outputs are ignored on input; a parent named twice must agree */
		json_object_del(res, "id");
		if (k->parent_out) {
			const char *p2 = str_of(res, k->parent_out);
			if (*p2 && strcasecmp(p2, parent) != 0) {
				/* p2 lives in res: the message first, then res goes */
				code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
						      "%s.%s is %s but the request names %s",
						      k->resource_req, k->parent_out, p2, parent);
				json_decref(res);
				goto cleanup;
			}
			json_object_del(res, k->parent_out);
		}
		doc = json_deep_copy(deployment_source_json(c->current));
		json_t *arr = collection(doc, k, parent, true, st);
		if (!arr) {
			json_decref(res);
			code = st->code;
			goto cleanup;
		}
		size_t at = 0;
		char *name = pr_strdup(str_of(res, "name"));
		char *type = k->keyed_by_type ? pr_strdup(str_of(res, "type")) : NULL;
		json_t *old = find_named(arr, name, type, &at);
		if (old) {
			/* keep what the message does not hold: child collections */
			const char *key;
			json_t *v;
			json_object_foreach(old, key, v) {
				json_t *tmp = json_object();
				json_object_set(tmp, key, v);
				pbjson_filter(b->resource, tmp);
				if (json_object_size(tmp) == 0)
					json_object_set(res, key, v);
				json_decref(tmp);
			}
			json_array_set_new(arr, at, res);
		} else {
			json_array_append_new(arr, res);
		}
		code = adopt(c, doc, false, st);
		if (code == API_STATUS_OK) {
			out = deployment_to_json(c->current);
			json_t *a2 = collection(out, k, parent, false, st);
			json_t *e = a2 ? find_named(a2, name, type, NULL) : NULL;
			if (e)
				code = respond_resource(b, e, parent, resp, st);
			else
				code = api_status_set(st, API_STATUS_INTERNAL,
						      "the resource vanished after validation");
		}
		free(name);
		free(type);
		goto cleanup;
	}
	case OP_DELETE: {
		const char *name = str_of(rq, "name");
		const char *type = k->keyed_by_type ? str_of(rq, "recordType") : NULL;
		size_t at = 0;
		json_t *full = deployment_to_json(c->current);
		json_t *farr = collection(full, k, parent, false, st);
		json_t *fe = farr ? find_named(farr, name, type, NULL) : NULL;
		char *id = pr_strdup(fe ? str_of(fe, "id") : "");
		json_decref(full);
		doc = json_deep_copy(deployment_source_json(c->current));
		json_t *arr = collection(doc, k, parent, false, st);
		if (!arr || !find_named(arr, name, type, &at)) {
			free(id);
			code = api_status_set(st, API_STATUS_NOT_FOUND,
					      "ResourceNotFound: %s[%s] does not exist",
					      k->child ? k->child : k->top, name);
			goto cleanup;
		}
		json_array_remove(arr, at);
		code = adopt(c, doc, true, st);
		if (code == API_STATUS_OK) {
			out = json_pack("{s:s}", "id", id);
			const ProtobufCMessageDescriptor *in, *outd;
			char *path = pr_asprintf("%s/Delete", k->service);
			api_schema_method(path, &in, &outd);
			free(path);
			char *why = NULL;
			if (pbjson_to_message(outd, out, resp, &why) != 0) {
				code = api_status_set(st, API_STATUS_INTERNAL, "%s", why);
				free(why);
			}
		}
		free(id);
		goto cleanup;
	}
	}
cleanup:
	json_decref(rq);
	json_decref(doc);
	json_decref(out);
	return code;
}

static int bind_one(api_control_t *c, api_registry_t *reg, size_t *n, const resource_kind_t *k,
		    const char *service, const char *method, op_t op)
{
	const ProtobufCMessageDescriptor *in, *out;
	char *short_path = pr_asprintf("%s/%s", service, method);
	char *path = pr_asprintf("/privres.v1.%s", short_path);
	int ret = api_schema_method(short_path, &in, &out);

	PR_REQUIRE(ret == 0); /* the table names methods of privres.proto */
	binding_t *b = &c->bindings[(*n)++];
	*b = (binding_t){.control = c, .kind = k, .op = op, .resource = out};
	if (k && op != OP_PUT && op != OP_GET) {
		/* List and Delete answer other messages; the resource type is Get's
		 * (its input type is not theirs: keep `in`) */
		const ProtobufCMessageDescriptor *get_in;
		char *get = pr_asprintf("%s/Get", service);
		api_schema_method(get, &get_in, &b->resource);
		free(get);
	}
	ret = api_registry_add(reg, path, in, out, handle, b);
	free(short_path);
	free(path);
	return ret;
}

int api_control_register(api_control_t *c, api_registry_t *reg)
{
	static const char *const methods[] = {"CreateOrUpdate", "Get", "List", "Delete"};
	static const op_t ops[] = {OP_PUT, OP_GET, OP_LIST, OP_DELETE};
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < N_KINDS; i++)
		for (size_t m = 0; m < 4; m++)
			if ((ret = bind_one(c, reg, &n, &kinds[i], kinds[i].service, methods[m],
					    ops[m])) != 0)
				return ret;
	if ((ret = bind_one(c, reg, &n, NULL, "DeploymentService", "Export", OP_EXPORT)) != 0)
		return ret;
	return api_deploy_register(c, reg);
}
