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
#include "control/control.h"
#include "model/model.h"

typedef enum { OP_PUT, OP_GET, OP_LIST, OP_DELETE, OP_EXPORT } op_t;

typedef struct binding {
	api_control_t *control;
	const model_kind_t *kind;
	op_t op;
	const ProtobufCMessageDescriptor *resource; /* the resource message type */
} binding_t;

struct api_control {
	control_t *control; /* the one owner of the deployment (borrowed) */
	const api_diagnostics_t *diagnostics;
	void *diagnostics_ctx;
	binding_t bindings[MODEL_KIND_COUNT * 4 + 1];
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

int api_control_new(control_t *control, api_control_t **out)
{
	PR_REQUIRE(control && out);
	api_control_t *c = pr_calloc(1, sizeof(*c));
	c->control = control;
	*out = c;
	return 0;
}

const deployment_t *api_control_deployment(const api_control_t *c)
{
	return control_deployment(c->control);
}

control_t *api_control_owner(const api_control_t *c)
{
	return c->control;
}

void api_control_destroy(api_control_t **cp)
{
	if (!cp || !*cp)
		return;
	free(*cp);
	*cp = NULL;
}

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* The name of the parent kind's resource field ("dnsResolver"), or NULL. */
static const char *parent_out(const model_kind_t *k)
{
	return k->parent >= 0 ? model_kind((model_kind_id_t)k->parent)->name : NULL;
}

/* The collection of kind k under parent in doc; NULL with status NOT_FOUND
 * when the parent does not exist. */
static json_t *collection(json_t *doc, const model_kind_t *k, const char *parent,
			  api_status_t *st)
{
	int err = 0;
	json_t *arr = model_doc_collection(doc, k, parent, false, &err);
	if (err == PR_ENOTFOUND)
		api_status_set(st, API_STATUS_NOT_FOUND, "ResourceNotFound: %s[%s] does not exist",
			       model_kind((model_kind_id_t)k->parent)->key, parent);
	return arr;
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
	if (parent && parent_out(b->kind))
		json_object_set_new(copy, parent_out(b->kind), json_string(parent));
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

int api_status_of_change(int ret, const pr_diag_t *diag, api_status_t *st)
{
	char *text = pr_diag_format(diag);
	int code;

	if (control_error_is_io(ret))
		code = api_status_set(st, API_STATUS_UNAVAILABLE, "change not saved: %s",
				      text && *text ? text : pr_strerror(ret));
	else
		code = api_status_set(st, api_status_from_error(ret), "%s: %s", control_cloud_code(ret),
				      text && *text ? text : pr_strerror(ret));
	free(text);
	return code;
}

/* One change of one resource through the control. Findings become the status
 * (first finding's code, every line). */
static int change(api_control_t *c, control_change_t *ch, api_status_t *st)
{
	pr_diag_t *diag = pr_diag_new();
	int code = API_STATUS_OK;
	int ret = control_apply(c->control, ch, NULL, diag);

	if (ret != 0) {
		code = api_status_of_change(ret, diag, st);
		/* removing what others still use breaks only references (O-4) */
		if (ch->op == CONTROL_DELETE && code == API_STATUS_NOT_FOUND)
			st->code = code = API_STATUS_FAILED_PRECONDITION;
	}
	pr_diag_destroy(&diag);
	return code;
}

/* A response message of type desc from JSON (borrowed). */
static int respond_json(const ProtobufCMessageDescriptor *desc, const json_t *j,
			ProtobufCMessage **resp, api_status_t *st)
{
	char *why = NULL;
	if (pbjson_to_message(desc, j, resp, &why) == 0)
		return API_STATUS_OK;
	int code = api_status_set(st, API_STATUS_INTERNAL, "%s", why);
	free(why);
	return code;
}

/* The output message of "Service/Method" of kind k. */
static const ProtobufCMessageDescriptor *output_of(const model_kind_t *k, const char *method)
{
	const ProtobufCMessageDescriptor *in, *out = NULL;
	char *path = pr_asprintf("%s/%s", k->service, method);
	api_schema_method(path, &in, &out);
	free(path);
	return out;
}

/* The current deployment as the API shows it: given, computed and the
 * resource manager's outputs (owned). */
static json_t *exported(const binding_t *b)
{
	json_t *all = deployment_to_json(api_control_deployment(b->control));
	model_annotate_outputs(all);
	return all;
}

static int do_export(const binding_t *b, const json_t *rq, ProtobufCMessage **resp,
		     api_status_t *st)
{
	bool as_json = strcmp(str_of(rq, "format"), "json") == 0;
	json_t *all = exported(b);
	char *text = as_json ? json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
			     : model_json_to_yaml(all);
	json_t *out = json_pack("{s:s, s:s}", "document", text ? text : "", "format",
				as_json ? "json" : "yaml");
	int code = respond_json(b->resource, out, resp, st);
	json_decref(all);
	json_decref(out);
	free(text);
	return code;
}

/* The resource (name, record type) of kind k under parent as the API shows
 * it, or NULL with status NOT_FOUND. out (owned) receives the exported
 * deployment the element lives in. */
static json_t *read_back(const binding_t *b, const char *parent, const char *name,
			 const char *type, json_t **out, api_status_t *st)
{
	const model_kind_t *k = b->kind;
	*out = exported(b);
	json_t *arr = collection(*out, k, parent, st);
	json_t *e = arr ? model_doc_find(arr, name, k->keyed_by_type ? type : NULL, NULL) : NULL;
	if (!e && st->code == API_STATUS_OK)
		api_status_set(st, API_STATUS_NOT_FOUND, "ResourceNotFound: %s[%s] does not exist",
			       k->key, name);
	return e;
}

static int get_named(const binding_t *b, const char *parent, const char *name, const char *type,
		     ProtobufCMessage **resp, api_status_t *st)
{
	json_t *all = NULL;
	json_t *e = read_back(b, parent, name, type, &all, st);
	int code = e ? respond_resource(b, e, parent, resp, st) : st->code;
	json_decref(all);
	return code;
}

static int do_get(const binding_t *b, const json_t *rq, const char *parent,
		  ProtobufCMessage **resp, api_status_t *st)
{
	return get_named(b, parent, str_of(rq, "name"), str_of(rq, "recordType"), resp, st);
}

/* {"value": [...]}: the cloud's list shape. */
static int do_list(const binding_t *b, const char *parent, ProtobufCMessage **resp,
		   api_status_t *st)
{
	const model_kind_t *k = b->kind;
	json_t *all = exported(b);
	json_t *arr = collection(all, k, parent, st);
	json_t *list = json_array();
	size_t i;
	json_t *e;
	int code = st->code;

	json_array_foreach(arr, i, e) {
		json_t *copy = json_deep_copy(e);
		pbjson_filter(b->resource, copy);
		if (parent && parent_out(k))
			json_object_set_new(copy, parent_out(k), json_string(parent));
		json_array_append_new(list, copy);
	}
	json_t *wrapped = json_pack("{s:o}", "value", list);
	if (code == API_STATUS_OK)
		code = respond_json(output_of(k, "List"), wrapped, resp, st);
	json_decref(wrapped);
	json_decref(all);
	return code;
}

/* The resource of a CreateOrUpdate request as the document holds it (owned),
 * or NULL with status INVALID_ARGUMENT. */
static json_t *resource_of_request(const model_kind_t *k, const json_t *rq, const char *parent,
				   api_status_t *st)
{
	json_t *res = json_object_get(rq, k->name);
	if (!json_is_object(res) || !*str_of(res, "name")) {
		api_status_set(st, API_STATUS_INVALID_ARGUMENT, "%s.name is required", k->name);
		return NULL;
	}
	const char *p2 = parent_out(k) ? str_of(res, parent_out(k)) : "";
	if (*p2 && strcasecmp(p2, parent) != 0) {
		api_status_set(st, API_STATUS_INVALID_ARGUMENT, "%s.%s is %s but the request names %s",
			       k->name, parent_out(k), p2, parent);
		return NULL;
	}
	res = json_deep_copy(res);
	/* outputs are ignored on input; the parent is where the resource goes */
	json_object_del(res, "id");
	if (parent_out(k))
		json_object_del(res, parent_out(k));
	return res;
}

static int do_put(const binding_t *b, const json_t *rq, const char *parent,
		  ProtobufCMessage **resp, api_status_t *st)
{
	json_t *res = resource_of_request(b->kind, rq, parent, st);
	if (!res)
		return st->code;
	control_change_t ch = {.op = CONTROL_PUT, .kind = b->kind, .parent = parent,
			       .resource = res};
	int code = change(b->control, &ch, st);
	if (code == API_STATUS_OK)
		code = get_named(b, parent, str_of(res, "name"), str_of(res, "type"), resp, st);
	json_decref(res);
	return code;
}

static int do_delete(const binding_t *b, const json_t *rq, const char *parent,
		     ProtobufCMessage **resp, api_status_t *st)
{
	const char *name = str_of(rq, "name"), *type = str_of(rq, "recordType");
	json_t *all = NULL;
	json_t *e = read_back(b, parent, name, type, &all, st);
	char *id = e ? pr_strdup(str_of(e, "id")) : NULL;
	int code = st->code;

	json_decref(all);
	if (e) {
		control_change_t ch = {.op = CONTROL_DELETE, .kind = b->kind, .parent = parent,
				       .name = name, .type = type};
		code = change(b->control, &ch, st);
	}
	if (code == API_STATUS_OK) {
		json_t *out = json_pack("{s:s}", "id", id);
		code = respond_json(output_of(b->kind, "Delete"), out, resp, st);
		json_decref(out);
	}
	free(id);
	return code;
}

static int handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		  api_status_t *st)
{
	const binding_t *b = ctx;
	const model_kind_t *k = b->kind;
	json_t *rq = NULL;
	int code = API_STATUS_OK;

	if (pbjson_from_message(req, &rq) != 0)
		return api_status_set(st, API_STATUS_INVALID_ARGUMENT, "request is not JSON-able");
	const char *parent = k && k->parent_field ? str_of(rq, k->parent_field) : NULL;
	if (parent && !*parent) {
		code = api_status_set(st, API_STATUS_INVALID_ARGUMENT, "%s is required",
				      k->parent_field);
		goto cleanup;
	}
	switch (b->op) {
	case OP_EXPORT: code = do_export(b, rq, resp, st); break;
	case OP_GET: code = do_get(b, rq, parent, resp, st); break;
	case OP_LIST: code = do_list(b, parent, resp, st); break;
	case OP_PUT: code = do_put(b, rq, parent, resp, st); break;
	case OP_DELETE: code = do_delete(b, rq, parent, resp, st); break;
	}
cleanup:
	json_decref(rq);
	return code;
}

static int bind_one(api_control_t *c, api_registry_t *reg, size_t *n, const model_kind_t *k,
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

	for (size_t i = 0; i < MODEL_KIND_COUNT; i++) {
		const model_kind_t *k = model_kind((model_kind_id_t)i);
		for (size_t m = 0; k->service && m < 4; m++)
			if ((ret = bind_one(c, reg, &n, k, k->service, methods[m], ops[m])) != 0)
				return ret;
	}
	if ((ret = bind_one(c, reg, &n, NULL, "DeploymentService", "Export", OP_EXPORT)) != 0)
		return ret;
	return api_deploy_register(c, reg);
}
