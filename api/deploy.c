/*
 * deploy — the whole-deployment RPCs (DeploymentService/Apply and Plan) and
 * the diagnostics the daemon provides (DiagnosticsService). Apply and Plan read
 * a deployment document (YAML or JSON) with the same code as a file, validate
 * it whole with the same rules and loop checks as a resource change, and plan
 * it against the current deployment (design.md §7: apply brings the emulator
 * to a file's desired state). Plan reports; Apply refuses any finding,
 * including immutable changes (I-1, F-7, N-4), and otherwise commits.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_p.h"
#include "api/privres.pb-c.h"
#include "base/base.h"
#include "control/control.h"
#include "model/model.h"

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* A list of named resources (every element an object with a name): merged
 * element by element, by name (and type, for record sets). */
static bool is_named_list(const json_t *a)
{
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
		if (!json_is_string(json_object_get(e, "name")))
			return false;
	return true;
}

/* Without prune, a document adds and updates but never removes: named
 * resources merge by name at every level, objects key by key, anything else
 * (address lists, targets, records) is replaced whole. */
static void merge(json_t *base, const json_t *over)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)over, key, v) {
		json_t *b = json_object_get(base, key);
		if (json_is_object(b) && json_is_object(v)) {
			merge(b, v);
		} else if (json_is_array(b) && json_is_array(v) && is_named_list(b) &&
			   is_named_list(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				size_t j;
				json_t *x, *found = NULL;
				json_array_foreach(b, j, x) {
					if (strcasecmp(str_of(x, "name"), str_of(e, "name")) == 0 &&
					    strcasecmp(str_of(x, "type"), str_of(e, "type")) == 0) {
						found = x;
						break;
					}
				}
				if (found)
					merge(found, e);
				else
					json_array_append_new(b, json_deep_copy(e));
			}
		} else {
			json_object_set_new(base, key, json_deep_copy(v));
		}
	}
}

/* A JSON value as compact text, as a JSON string (new reference). */
static json_t *text_of(const json_t *v)
{
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	json_t *s = json_string(t ? t : "");
	free(t);
	return s;
}

/* The plan in the proto's shape (Change messages). */
static json_t *changes_json(const json_t *plan)
{
	json_t *out = json_array();
	size_t i;
	json_t *c;

	json_array_foreach(plan, i, c) {
		json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:[], s:[]}", "action",
				      str_of(c, "action"), "id", str_of(c, "id"), "type",
				      str_of(c, "type"), "name", str_of(c, "name"),
				      "changedProperties", "changes");
		if (json_is_true(json_object_get(c, "immutable"))) {
			json_object_set_new(m, "immutable", json_true());
			json_object_set_new(m, "rule", json_string(str_of(c, "rule")));
		}
		size_t k;
		json_t *pc;
		json_array_foreach(json_object_get(c, "changes"), k, pc) {
			json_t *pm = json_pack("{s:s}", "property", str_of(pc, "property"));
			json_t *from = json_object_get(pc, "from"), *to = json_object_get(pc, "to");
			if (from && !json_is_null(from))
				json_object_set_new(pm, "before", text_of(from));
			if (to && !json_is_null(to))
				json_object_set_new(pm, "after", text_of(to));
			if (json_is_true(json_object_get(pc, "immutable"))) {
				json_object_set_new(pm, "immutable", json_true());
				json_object_set_new(pm, "rule", json_string(str_of(pc, "rule")));
			}
			json_array_append_new(json_object_get(m, "changes"), pm);
			json_array_append_new(json_object_get(m, "changedProperties"),
					      json_string(str_of(pc, "property")));
		}
		json_array_append_new(out, m);
	}
	return out;
}

static json_t *errors_json(const pr_diag_t *diag)
{
	json_t *out = json_array();
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		json_t *d = json_pack("{s:s, s:s}", "code", control_cloud_code(e->code), "message",
				      e->message ? e->message : "");
		if (e->path)
			json_object_set_new(d, "path", json_string(e->path));
		if (e->rule)
			json_object_set_new(d, "rule", json_string(e->rule));
		if (e->file)
			json_object_set_new(d, "file", json_string(e->file));
		if (e->line > 0)
			json_object_set_new(d, "line", json_integer(e->line));
		if (e->column > 0)
			json_object_set_new(d, "column", json_integer(e->column));
		json_array_append_new(out, d);
	}
	return out;
}

static int respond(const ProtobufCMessageDescriptor *desc, json_t *j, ProtobufCMessage **resp,
		   api_status_t *st)
{
	char *why = NULL;
	int ret = pbjson_to_message(desc, j, resp, &why);
	json_decref(j);
	if (ret != 0) {
		api_status_set(st, API_STATUS_INTERNAL, "response does not fit its message: %s",
			       why ? why : "");
		free(why);
		return API_STATUS_INTERNAL;
	}
	return 0;
}

/* Apply (apply true) or Plan of a document: see the file's comment. Plan and a
 * dry run answer OK with the findings in errors; Apply answers a finding with
 * its status. */
/* The document an Apply or Plan request asks for: the request's document
 * alone (prune), or merged over the current one. NULL with diag filled when it
 * can't be read. */
static model_doc_t *requested_doc(api_control_t *c, const char *text, const char *file,
				  bool prune, pr_diag_t *diag)
{
	model_doc_t *md = NULL;
	/* YAML reads JSON too: one reader for both, with line and column */
	if (model_doc_load_text(text, strlen(text), file, &md, diag) != 0)
		return NULL;
	if (!json_is_object(model_doc_json(md))) {
		pr_diag_add(diag, file, 1, 1, NULL, NULL, PR_EPARSE,
			    "a deployment is a mapping (location, virtualNetworks, ...)");
		model_doc_destroy(&md);
		return NULL;
	}
	if (prune)
		return md;
	json_t *merged = json_deep_copy(deployment_source_json(api_control_deployment(c)));
	merge(merged, model_doc_json(md));
	model_doc_destroy(&md);
	md = model_doc_from_json(merged, file);
	json_decref(merged);
	return md;
}

/* Apply (apply true) or Plan of a document: see the file's comment. Plan and a
 * dry run answer OK with the findings in errors; Apply answers a finding with
 * its status. */
static int deploy(api_control_t *c, const ProtobufCMessage *req, bool apply,
		  ProtobufCMessage **resp, api_status_t *st)
{
	json_t *rq = NULL, *plan = NULL;
	pr_diag_t *diag = pr_diag_new();
	int code = API_STATUS_OK, ret = PR_EPARSE;

	if (pbjson_from_message(req, &rq) != 0) {
		/* protobuf-c does not check UTF-8; JSON needs it */
		code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
				      "the request holds a string that is not UTF-8");
		goto cleanup;
	}
	const char *text = str_of(rq, "document"), *format = str_of(rq, "format");
	const char *file = *str_of(rq, "fileName") ? str_of(rq, "fileName") : "api";
	bool dry = !apply || json_is_true(json_object_get(rq, "dryRun"));
	if (*format && strcmp(format, "yaml") != 0 && strcmp(format, "json") != 0) {
		code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
				      "format: \"%s\" is not \"yaml\", \"json\" or empty", format);
		goto cleanup;
	}
	if (!*text) {
		code = api_status_set(st, API_STATUS_INVALID_ARGUMENT, "document is empty");
		goto cleanup;
	}
	control_change_t ch = {.op = CONTROL_REPLACE, .dry_run = dry};
	ch.doc = requested_doc(c, text, file, json_is_true(json_object_get(rq, "prune")), diag);
	if (ch.doc)
		ret = control_apply(api_control_owner(c), &ch, &plan, diag);
	if (ret != 0 && !dry) {
		code = api_status_of_change(ret, diag, st);
		goto cleanup;
	}
	/* an invalid document: the plan of what can't be computed is the findings */
	json_t *result = json_pack("{s:o, s:o, s:b}", "changes", changes_json(plan), "errors",
				   errors_json(diag), "applied", ret == 0 && !dry);
	code = respond(&privres__v1__deployment_result__descriptor, result, resp, st);
cleanup:
	json_decref(rq);
	json_decref(plan);
	pr_diag_destroy(&diag);
	return code;
}

static int handle_apply(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			api_status_t *st)
{
	return deploy(ctx, req, true, resp, st);
}

static int handle_plan(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		       api_status_t *st)
{
	return deploy(ctx, req, false, resp, st);
}

typedef enum { DIAG_EXPLAIN, DIAG_HEALTH, DIAG_STATS } diag_op_t;

static int diagnose(api_control_t *c, diag_op_t op, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **resp,
		    api_status_t *st)
{
	void *ctx = NULL;
	const api_diagnostics_t *ops = api_control_diagnostics(c, &ctx);
	static const char *const names[] = {"Explain", "TargetHealth", "Stats"};
	json_t *rq = NULL, *out = NULL;
	char *why = NULL;
	int ret = 0, code = API_STATUS_OK;

	if (!ops || (op == DIAG_EXPLAIN && !ops->explain) ||
	    (op == DIAG_HEALTH && !ops->target_health) || (op == DIAG_STATS && !ops->stats))
		return api_status_set(st, API_STATUS_UNAVAILABLE,
				      "%s: no data plane is attached to this API server (the "
				      "daemon provides diagnostics)",
				      names[op]);
	switch (op) {
	case DIAG_EXPLAIN: {
		if (pbjson_from_message(req, &rq) != 0) {
			code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
					      "the request holds a string that is not UTF-8");
			goto cleanup;
		}
		const char *vnet = str_of(rq, "virtualNetwork"), *name = str_of(rq, "name");
		const char *type = *str_of(rq, "type") ? str_of(rq, "type") : "A";
		const deployment_t *d = api_control_deployment(c);
		if (!*vnet || !*name) {
			code = api_status_set(st, API_STATUS_INVALID_ARGUMENT,
					      "virtualNetwork and name are required: the view is "
					      "the VNet the query is in (design.md §1)");
			goto cleanup;
		}
		if (deployment_find_vnet(d, vnet) < 0) {
			code = api_status_set(st, API_STATUS_NOT_FOUND,
					      "ResourceNotFound: virtualNetworks[%s] does not "
					      "exist",
					      vnet);
			goto cleanup;
		}
		ret = ops->explain(ctx, d, vnet, name, type, &out, &why);
		break;
	}
	case DIAG_HEALTH:
		ret = ops->target_health(ctx, &out, &why);
		break;
	case DIAG_STATS:
		ret = ops->stats(ctx, &out, &why);
		break;
	}
	if (ret != 0) {
		code = api_status_set(st, api_status_from_error(ret), "%s: %s", names[op],
				      why ? why : pr_strerror(ret));
		goto cleanup;
	}
	if (!json_is_object(out)) {
		code = api_status_set(st, API_STATUS_INTERNAL, "%s: the provider gave no object",
				      names[op]);
		goto cleanup;
	}
	code = respond(out_desc, out, resp, st);
	out = NULL;
cleanup:
	free(why);
	json_decref(rq);
	json_decref(out);
	return code;
}

static int handle_explain(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			  api_status_t *st)
{
	return diagnose(ctx, DIAG_EXPLAIN, req, &privres__v1__explain_response__descriptor, resp,
			st);
}

static int handle_health(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			 api_status_t *st)
{
	return diagnose(ctx, DIAG_HEALTH, req, &privres__v1__target_health_response__descriptor,
			resp, st);
}

static int handle_stats(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			api_status_t *st)
{
	return diagnose(ctx, DIAG_STATS, req, &privres__v1__stats_response__descriptor, resp, st);
}

/* E-4: scavenging on demand (control_scavenge). */
static int handle_scavenge(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			   api_status_t *st)
{
	api_control_t *c = ctx;
	json_t *rq = NULL;
	if (pbjson_from_message(req, &rq) != 0)
		return api_status_set(st, API_STATUS_INVALID_ARGUMENT,
				      "the request holds a string that is not UTF-8");
	const char *server = *str_of(rq, "server") ? str_of(rq, "server") : NULL;
	json_t *at = json_object_get(rq, "at");
	long long when = json_is_integer(at) ? json_integer_value(at)
		       : json_is_string(at) ? atoll(json_string_value(at)) : 0;
	uint64_t now = when > 0 ? (uint64_t)when : (uint64_t)time(NULL);
	pr_diag_t *diag = pr_diag_new();
	size_t removed = 0;
	int ret = control_scavenge(api_control_owner(c), server, now, &removed, diag);
	int code;
	if (ret != 0) {
		code = api_status_of_change(ret, diag, st);
	} else {
		json_t *out = json_pack("{s:I}", "removed", (json_int_t)removed);
		code = respond(&privres__v1__scavenge_response__descriptor, out, resp, st);
	}
	pr_diag_destroy(&diag);
	json_decref(rq);
	return code;
}

int api_deploy_register(api_control_t *c, api_registry_t *reg)
{
	static const struct {
		const char *path;
		api_handler_fn fn;
	} methods[] = {
		{"DeploymentService/Apply", handle_apply},
		{"DeploymentService/Plan", handle_plan},
		{"DiagnosticsService/Explain", handle_explain},
		{"DiagnosticsService/TargetHealth", handle_health},
		{"DiagnosticsService/Stats", handle_stats},
		{"ExternalDnsServerService/Scavenge", handle_scavenge},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const ProtobufCMessageDescriptor *in, *out;
		int ret = api_schema_method(methods[i].path, &in, &out);
		PR_REQUIRE(ret == 0); /* the table names methods of privres.proto */
		char *path = pr_asprintf("/privres.v1.%s", methods[i].path);
		ret = api_registry_add(reg, path, in, out, methods[i].fn, c);
		free(path);
		if (ret != 0)
			return ret;
	}
	return 0;
}
