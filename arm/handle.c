/* The ARM protocol without I/O (reference/azure.md §4): a request in, the
 * cloud's answer out. Reads come from the current deployment exported as the
 * API shows it (model_annotate_outputs: etag, provisioningState); every change
 * is one control_apply() (design.md §6), so it is validated, durable and live
 * before the answer, exactly as a change from YAML or gRPC. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arm/arm_p.h"

/* Operations are remembered (the last ARM_OPERATIONS of them) so that a poll
 * of an unknown one is a 404, as in the cloud. */
#define ARM_OPERATIONS 1024

/* One long-running operation. Its change was made before the answer; what
 * lags for operation_ms is only the state reported (arm/README.md). */
typedef struct op {
	char *id;
	char *resource_id;  /* the resource's ARM id, as answered */
	json_t *shape;      /* a deleted resource as it was (GET answers it Deleting) */
	char *status_url;   /* its Azure-AsyncOperation URL */
	const char *state;  /* "Creating", "Updating" or "Deleting" */
	uint64_t end_ms;    /* pr_now_ms() when it is done */
	time_t start;       /* wall clock, for startTime/endTime */
} op_t;

struct arm {
	control_t *control; /* borrowed */
	char *token;        /* NULL: any well-formed bearer token */
	uint32_t operation_ms;
	op_t ops[ARM_OPERATIONS];
	size_t next_op;
	uint64_t serial;
};

int arm_new(control_t *control, const arm_settings_t *settings, arm_t **out)
{
	PR_REQUIRE(control && out);
	arm_t *a = pr_calloc(1, sizeof(*a));
	a->control = control;
	if (settings && settings->token)
		a->token = pr_strdup(settings->token);
	if (settings)
		a->operation_ms = settings->operation_ms;
	*out = a;
	return 0;
}

static void op_clear(op_t *o)
{
	free(o->id);
	free(o->resource_id);
	free(o->status_url);
	json_decref(o->shape);
	memset(o, 0, sizeof(*o));
}

void arm_destroy(arm_t **ap)
{
	if (!ap || !*ap)
		return;
	for (size_t i = 0; i < ARM_OPERATIONS; i++)
		op_clear(&(*ap)->ops[i]);
	free((*ap)->token);
	free(*ap);
	*ap = NULL;
}

void arm_response_clear(arm_response_t *rs)
{
	free(rs->body);
	free(rs->async_operation);
	free(rs->location);
	free(rs->request_id);
	memset(rs, 0, sizeof(*rs));
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* ---- answers --------------------------------------------------------------- */

static void reply(arm_response_t *rs, int status, json_t *body /* transferred */)
{
	rs->status = status;
	free(rs->body);
	rs->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
}

/* The cloud's error body: {"error": {code, message, target, details}}. */
static void fail(arm_response_t *rs, int status, const char *code, const char *target,
		 json_t *details /* transferred, may be NULL */, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void fail(arm_response_t *rs, int status, const char *code, const char *target,
		 json_t *details, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg ? msg : code);
	if (target)
		json_object_set_new(e, "target", json_string(target));
	json_object_set_new(e, "details", details ? details : json_array());
	reply(rs, status, json_pack("{s:o}", "error", e));
	free(msg);
}

/* The HTTP status of a refused change (the cloud's: 400 for a bad request,
 * 409 for a conflict with what exists). */
static int status_of(int err)
{
	switch (err) {
	case PR_EIMMUTABLE:
	case PR_EINUSE:
	case PR_EEXIST:
		return 409;
	default:
		return control_error_is_io(err) ? 500 : 400;
	}
}

/* Every finding of a refused change, first one as the message. */
static void fail_change(arm_response_t *rs, int err, const pr_diag_t *diag, bool deleting)
{
	/* a delete refused because something still refers to the resource (O-4) */
	if (deleting && err == PR_ENOTFOUND)
		err = PR_EINUSE;
	json_t *details = json_array();
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		char *text = pr_diag_entry_format(e);
		json_t *d = json_pack("{s:s, s:s}", "code",
				      control_cloud_code(deleting && e->code == PR_ENOTFOUND
							 ? PR_EINUSE : e->code),
				      "message", text);
		if (e->path)
			json_object_set_new(d, "target", json_string(e->path));
		json_array_append_new(details, d);
		free(text);
	}
	char *all = pr_diag_format(diag);
	const pr_diag_entry_t *first = pr_diag_count(diag) ? pr_diag_get(diag, 0) : NULL;
	if (control_error_is_io(err))
		fail(rs, 500, "InternalServerError", NULL, details, "change not saved: %s",
		     all && *all ? all : pr_strerror(err));
	else
		fail(rs, status_of(err), control_cloud_code(err), first ? first->path : NULL,
		     details, "%s", all && *all ? all : pr_strerror(err));
	free(all);
}

/* ---- the deployment as the API shows it --------------------------------------- */

typedef struct view {
	json_t *all;          /* the exported, annotated deployment (owned) */
	json_t *parent;       /* the parent element, for child kinds (borrowed) */
	char *parent_id;
	json_t *collection;   /* borrowed; NULL when empty */
	json_t *element;      /* the resource, when named and present (borrowed) */
	json_t *soa;          /* a zone's SOA record set (owned), for record sets */
} view_t;

static void view_clear(view_t *v)
{
	json_decref(v->all);
	json_decref(v->soa);
	free(v->parent_id);
	memset(v, 0, sizeof(*v));
}

static bool is_soa(const arm_route_t *r)
{
	return r->kind->keyed_by_type && r->type && !strcmp(r->type, "SOA");
}

/* Fill v for route r. Returns 0, or answers 404 for a missing parent. */
static int view_of(arm_t *a, const arm_route_t *r, view_t *v, arm_response_t *rs)
{
	const model_kind_t *k = r->kind;
	memset(v, 0, sizeof(*v));
	v->all = deployment_to_json(control_deployment(a->control));
	model_annotate_outputs(v->all);
	if (k->parent >= 0) {
		const model_kind_t *pk = model_kind((model_kind_id_t)k->parent);
		json_t *parr = model_doc_collection(v->all, pk, NULL, false, NULL);
		v->parent = model_doc_find(parr, r->parent, NULL, NULL);
		if (!v->parent) {
			fail(rs, 404, "ParentResourceNotFound", NULL, NULL,
			     "Can not perform requested operation on nested resource. Parent "
			     "resource '%s' not found.",
			     r->parent);
			return PR_ENOTFOUND;
		}
		json_t *shape = model_arm_resource(v->all, pk, NULL, NULL, v->parent);
		v->parent_id = pr_strdup(str(shape, "id"));
		json_decref(shape);
	}
	v->collection = model_doc_collection(v->all, k, r->parent, false, NULL);
	if (k->keyed_by_type)
		v->soa = model_arm_soa(v->parent);
	if (r->name && is_soa(r))
		v->element = !strcmp(r->name, "@") ? v->soa : NULL;
	else if (r->name)
		v->element = model_doc_find(v->collection, r->name, k->keyed_by_type ? r->type : NULL,
					    NULL);
	return 0;
}

static json_t *shape_of(const view_t *v, const model_kind_t *k, const json_t *e)
{
	return model_arm_resource(v->all, k, v->parent_id, v->parent, e);
}

static const char *type_label(const arm_route_t *r)
{
	return r->kind->arm_type;
}

static void not_found(arm_response_t *rs, const arm_route_t *r)
{
	fail(rs, 404, "ResourceNotFound", NULL, NULL,
	     "The Resource '%s%s%s/%s' under resource group '%s' was not found.", type_label(r),
	     r->type ? "/" : "", r->type ? r->type : "", r->name, r->group ? r->group : "");
}

/* ---- long-running operations (reference/azure.md §4.3) ------------------------------ */

/* The operation collections of the resource provider of kind k. */
static void op_collections(const model_kind_t *k, const char **statuses, const char **results)
{
	bool zone = k->id == MODEL_KIND_ZONE || k->parent == MODEL_KIND_ZONE;
	bool net = k->id == MODEL_KIND_VNET || k->parent == MODEL_KIND_VNET;
	*statuses = zone ? "privateDnsOperationStatuses"
			 : net ? "operations" : "dnsResolverOperationStatuses";
	*results = zone ? "privateDnsOperationResults"
			: net ? "operationResults" : "dnsResolverOperationResults";
}

static bool op_running(const op_t *o)
{
	return o->id && pr_now_ms() < o->end_ms;
}

/* Whole seconds a client should wait before polling o again (at least 1). */
static unsigned op_retry_after(const op_t *o)
{
	uint64_t now = pr_now_ms();
	return o->end_ms > now ? (unsigned)((o->end_ms - now + 999) / 1000) : 1;
}

/* The newest operation still running on the resource of ARM id rid. */
static const op_t *op_running_on(const arm_t *a, const char *rid)
{
	for (size_t n = 1; n <= ARM_OPERATIONS && n <= a->next_op; n++) {
		const op_t *o = &a->ops[(a->next_op - n) % ARM_OPERATIONS];
		if (o->resource_id && !strcasecmp(o->resource_id, rid))
			return op_running(o) ? o : NULL;
	}
	return NULL;
}

/* shape (the resource as the API shows it) with the state of an operation
 * still running on it. Returns shape. */
static json_t *with_state(const arm_t *a, json_t *shape)
{
	const op_t *o = op_running_on(a, str(shape, "id"));
	json_t *props = json_object_get(shape, "properties");
	if (o && json_is_object(props))
		json_object_set_new(props, "provisioningState", json_string(o->state));
	return shape;
}

/*
 * A long-running operation on the resource shape (borrowed) is answered:
 * its id remembered, the headers that point at it. state is what the
 * resource shows until it is done (operation_ms; 0: done at once); a
 * deletion keeps shape to answer GETs with until then.
 */
static void operation(arm_t *a, const arm_request_t *rq, const arm_route_t *r, const json_t *all,
		      const json_t *shape, const char *state, arm_response_t *rs)
{
	char id[40];
	a->serial++;
	snprintf(id, sizeof(id), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)time(NULL),
		 (unsigned)(a->serial >> 16) & 0xffff, (unsigned)a->serial & 0xfff,
		 (unsigned)(a->next_op & 0xfff), (unsigned long long)a->serial);
	op_t *o = &a->ops[a->next_op++ % ARM_OPERATIONS];
	op_clear(o);
	o->id = pr_strdup(id);
	o->resource_id = pr_strdup(str(shape, "id"));
	o->state = state;
	o->start = time(NULL);
	o->end_ms = pr_now_ms() + a->operation_ms;
	if (!strcmp(state, "Deleting"))
		o->shape = json_deep_copy(shape);
	const char *statuses, *results, *loc = str(all, "location");
	op_collections(r->kind, &statuses, &results);
	const char *host = rq->host && *rq->host ? rq->host : "127.0.0.1";
	const char *v = rq->api_version ? rq->api_version : "";
	rs->async_operation = pr_asprintf(
		"https://%s/subscriptions/%s/providers/Microsoft.Network/locations/%s/%s/%s"
		"?api-version=%s", host, r->subscription, *loc ? loc : "eastus", statuses, id, v);
	rs->location = pr_asprintf(
		"https://%s/subscriptions/%s/providers/Microsoft.Network/locations/%s/%s/%s"
		"?api-version=%s", host, r->subscription, *loc ? loc : "eastus", results, id, v);
	rs->retry_after = op_running(o) ? op_retry_after(o) : 0;
	o->status_url = pr_strdup(rs->async_operation);
}

/*
 * A change to a resource whose own operation still runs (operation_ms) is
 * refused as the network resource provider refuses it: 409
 * AnotherOperationInProgress naming the operation to poll (M-3). The
 * resource's id is built from the route, so that a resource still being
 * deleted is covered too. Returns whether rs was answered.
 */
static bool busy(const arm_t *a, const arm_route_t *r, arm_response_t *rs)
{
	if (!a->operation_ms || !r->name || !arm_kind_is_lro(r->kind))
		return false;
	const model_kind_t *k = r->kind;
	char *id;
	if (k->parent >= 0)
		id = pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s/%s",
				 r->subscription, r->group,
				 model_kind((model_kind_id_t)k->parent)->arm_type, r->parent,
				 k->segment, r->name);
	else
		id = pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s",
				 r->subscription, r->group, k->arm_type, r->name);
	const op_t *o = op_running_on(a, id);
	free(id);
	if (!o)
		return false;
	fail(rs, 409, "AnotherOperationInProgress", NULL, NULL,
	     "Another operation on this or dependent resource is in progress. To retrieve status "
	     "of the operation use uri: %s. (M-3: the operation ends in %u s; "
	     "emulator.arm.operationSeconds)",
	     o->status_url, op_retry_after(o));
	/* no Retry-After: with one, the Azure SDK would retry the refusal silently */
	return true;
}

static json_t *iso_time(time_t t)
{
	char buf[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* The operation's status (…OperationStatuses: InProgress, then Succeeded)
 * or result (…OperationResults: 202 with Location while running, then 204
 * for a deletion, 200 otherwise). */
static void get_operation(arm_t *a, const arm_request_t *rq, const arm_route_t *r,
			  arm_response_t *rs)
{
	for (size_t i = 0; i < ARM_OPERATIONS; i++) {
		const op_t *o = &a->ops[i];
		if (!o->id || strcasecmp(o->id, r->name) != 0)
			continue;
		bool running = op_running(o), deleting = !strcmp(o->state, "Deleting");
		if (running)
			rs->retry_after = op_retry_after(o);
		if (strcasestr(r->action, "Results")) {
			if (running)
				rs->location = pr_asprintf("https://%s%s?api-version=%s",
							   rq->host ? rq->host : "127.0.0.1",
							   rq->path, rq->api_version);
			reply(rs, running ? 202 : deleting ? 204 : 200,
			      running || deleting ? NULL : json_object());
			return;
		}
		json_t *st = json_pack("{s:s, s:s, s:s, s:o}", "id", r->name, "name", r->name,
				       "status", running ? "InProgress" : "Succeeded", "startTime",
				       iso_time(o->start));
		if (!running)
			json_object_set_new(st, "endTime",
					    iso_time(o->start + (time_t)(a->operation_ms / 1000)));
		reply(rs, 200, st);
		return;
	}
	fail(rs, 404, "OperationNotFound", NULL, NULL, "The operation '%s' was not found.",
	     r->name);
}

/* A resource deleted by an operation still running: as it was, Deleting. */
static json_t *being_deleted(const arm_t *a, const arm_route_t *r, const view_t *v)
{
	if (!v->parent_id && r->kind->parent >= 0)
		return NULL;
	for (size_t n = 1; n <= ARM_OPERATIONS && n <= a->next_op; n++) {
		const op_t *o = &a->ops[(a->next_op - n) % ARM_OPERATIONS];
		if (!o->shape || !op_running(o) || strcasecmp(str(o->shape, "name"), r->name))
			continue;
		const char *t = str(o->shape, "type");
		if (strcasecmp(t, r->kind->arm_type) != 0)
			continue;
		if (v->parent_id && strncasecmp(o->resource_id, v->parent_id,
						strlen(v->parent_id)) != 0)
			continue;
		return with_state(a, json_deep_copy(o->shape));
	}
	return NULL;
}

/* ---- etags (M-2) ----------------------------------------------------------------- */

static bool etag_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la >= 2 && a[0] == '"' && a[la - 1] == '"')
		a++, la -= 2;
	if (lb >= 2 && b[0] == '"' && b[lb - 1] == '"')
		b++, lb -= 2;
	return la == lb && strncmp(a, b, la) == 0;
}

/* M-2: If-Match with another etag (or "*" on nothing), If-None-Match "*" on
 * something: 412. Returns true when the request may go on. */
static bool preconditions(const arm_request_t *rq, const json_t *e, arm_response_t *rs)
{
	const char *im = rq->if_match, *inm = rq->if_none_match;
	if (im && *im && (!e || (strcmp(im, "*") != 0 && !etag_eq(im, str(e, "etag"))))) {
		fail(rs, 412, "PreconditionFailed", NULL, NULL,
		     e ? "The etag '%s' does not match the resource's current etag '%s' (M-2)."
		       : "The resource does not exist; If-Match '%s' can't match (M-2).%s",
		     im, e ? str(e, "etag") : "");
		return false;
	}
	if (inm && !strcmp(inm, "*") && e) {
		fail(rs, 412, "PreconditionFailed", NULL, NULL,
		     "The resource exists already and If-None-Match is '*' (M-2).");
		return false;
	}
	return true;
}

/* ---- reads ----------------------------------------------------------------------- */

static void get_resource(arm_t *a, const arm_route_t *r, arm_response_t *rs)
{
	view_t v;
	if (view_of(a, r, &v, rs) != 0)
		return view_clear(&v);
	json_t *gone = v.element ? NULL : being_deleted(a, r, &v);
	if (gone)
		reply(rs, 200, gone);
	else if (!v.element)
		not_found(rs, r);
	else
		reply(rs, 200, with_state(a, shape_of(&v, r->kind, v.element)));
	view_clear(&v);
}

static bool parse_count(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	if (!s || !*s || !isdigit((unsigned char)*s))
		return false;
	long long n = strtoll(s, &end, 10);
	if (*end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* {"value": [...], "nextLink"} of arr from skip on, top at a time. */
static void page(const arm_request_t *rq, json_t *items /* transferred */, arm_response_t *rs)
{
	long long top = ARM_DEFAULT_TOP, skip = 0;
	if (rq->top && !parse_count(rq->top, 1, 1000, &top)) {
		fail(rs, 400, "InvalidParameter", "$top", NULL,
		     "$top must be a number from 1 to 1000, not '%s'.", rq->top);
		json_decref(items);
		return;
	}
	if (rq->skip_token && !parse_count(rq->skip_token, 0, 1 << 30, &skip)) {
		fail(rs, 400, "InvalidParameter", "$skipToken", NULL,
		     "The $skipToken '%s' is not one privres gave.", rq->skip_token);
		json_decref(items);
		return;
	}
	json_t *value = json_array();
	size_t n = json_array_size(items);
	for (size_t i = (size_t)skip; i < n && i < (size_t)(skip + top); i++)
		json_array_append(value, json_array_get(items, i));
	json_t *out = json_pack("{s:o}", "value", value);
	if ((size_t)(skip + top) < n)
		json_object_set_new(out, "nextLink",
				    json_sprintf("https://%s%s?api-version=%s&$top=%lld&$skipToken=%lld",
						 rq->host ? rq->host : "127.0.0.1", rq->path,
						 rq->api_version ? rq->api_version : "", top,
						 skip + top));
	json_decref(items);
	reply(rs, 200, out);
}

static void list(arm_t *a, const arm_request_t *rq, const arm_route_t *r, arm_response_t *rs)
{
	view_t v;
	if (view_of(a, r, &v, rs) != 0)
		return view_clear(&v);
	json_t *items = json_array();
	size_t i;
	json_t *e;
	if (v.soa && (!r->type || is_soa(r)))
		json_array_append_new(items, with_state(a, shape_of(&v, r->kind, v.soa)));
	json_array_foreach(v.collection, i, e)
		if (!r->kind->keyed_by_type || !r->type || !strcasecmp(str(e, "type"), r->type))
			json_array_append_new(items, with_state(a, shape_of(&v, r->kind, e)));
	view_clear(&v);
	page(rq, items, rs);
}

/* POST virtualNetworks/{v}/listDnsResolvers | listDnsForwardingRulesets |
 * listDnsResolverPolicies: what refers to the VNet. */
static void list_by_vnet(arm_t *a, const arm_request_t *rq, const arm_route_t *r,
			 arm_response_t *rs)
{
	static const struct {
		const char *action;
		model_kind_id_t kind, via; /* via: the kind whose virtualNetwork names the VNet */
	} actions[] = {
		{"listDnsResolvers", MODEL_KIND_RESOLVER, MODEL_KIND_RESOLVER},
		{"listDnsForwardingRulesets", MODEL_KIND_RULESET, MODEL_KIND_RULESET_LINK},
		{"listDnsResolverPolicies", MODEL_KIND_POLICY, MODEL_KIND_POLICY_LINK},
	};
	size_t which = 0;
	while (which < 3 && strcasecmp(actions[which].action, r->action) != 0)
		which++;
	if (which == 3)
		return fail(rs, 404, "InvalidResourceType", NULL, NULL,
			    "The action '%s' is not one of virtualNetworks'.", r->action);
	arm_route_t vr = {.target = ARM_RESOURCE, .kind = model_kind(MODEL_KIND_VNET),
			  .name = r->name, .group = r->group};
	view_t v;
	view_of(a, &vr, &v, rs);
	if (!v.element) {
		not_found(rs, &vr);
		return view_clear(&v);
	}
	json_t *vnet = shape_of(&v, vr.kind, v.element);
	const char *vid = str(vnet, "id");
	const model_kind_t *k = model_kind(actions[which].kind);
	const model_kind_t *via = model_kind(actions[which].via);
	json_t *items = json_array();
	size_t i, j;
	json_t *e, *l;
	json_array_foreach(model_doc_collection(v.all, k, NULL, false, NULL), i, e) {
		json_t *shape = model_arm_resource(v.all, k, NULL, NULL, e);
		json_t *links = via == k ? json_pack("[O]", e) : json_incref(json_object_get(e, via->key));
		json_array_foreach(links, j, l) {
			json_t *ls = model_arm_resource(v.all, via, str(shape, "id"), e, l);
			const char *target = str(json_object_get(json_object_get(ls, "properties"),
								 "virtualNetwork"), "id");
			if (!strcasecmp(target, vid)) {
				json_t *item = json_pack("{s:s}", "id", str(shape, "id"));
				if (via != k)
					json_object_set_new(item, "properties",
							    json_pack("{s:{s:s}}", "virtualNetworkLink",
								      "id", str(ls, "id")));
				json_array_append_new(items, item);
			}
			json_decref(ls);
		}
		json_decref(links);
		json_decref(shape);
	}
	json_decref(vnet);
	view_clear(&v);
	page(rq, items, rs);
}

/* ---- changes --------------------------------------------------------------------- */

static json_t *parse_body(const arm_request_t *rq, arm_response_t *rs)
{
	json_error_t err;
	if (!rq->body || !rq->body_len) {
		fail(rs, 400, "InvalidRequestContent", NULL, NULL,
		     "The request content was invalid and could not be deserialized: no body.");
		return NULL;
	}
	json_t *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!body) {
		fail(rs, 400, "InvalidRequestContent", NULL, NULL,
		     "The request content was invalid and could not be deserialized: line %d, "
		     "column %d: %s.",
		     err.line, err.column, err.text);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		fail(rs, 400, "InvalidRequestContent", NULL, NULL,
		     "The request content was invalid: a resource is a JSON object.");
		return NULL;
	}
	return body;
}

/* Apply a change; on refusal answer with the findings. */
static bool apply(arm_t *a, control_change_t *ch, arm_response_t *rs)
{
	pr_diag_t *diag = pr_diag_new();
	int err = control_apply(a->control, ch, NULL, diag);
	if (err != 0)
		fail_change(rs, err, diag, ch->op == CONTROL_DELETE);
	pr_diag_destroy(&diag);
	return err == 0;
}

/* The resource after a change, answered with status (and the LRO headers;
 * state: what it shows while the operation runs). */
static void answer_changed(arm_t *a, const arm_request_t *rq, const arm_route_t *r, int status,
			   const char *state, arm_response_t *rs)
{
	view_t v;
	if (view_of(a, r, &v, rs) != 0)
		return view_clear(&v);
	if (!v.element) {
		not_found(rs, r);
		return view_clear(&v);
	}
	json_t *shape = shape_of(&v, r->kind, v.element);
	if (arm_kind_is_lro(r->kind))
		operation(a, rq, r, v.all, shape, state, rs);
	reply(rs, status, with_state(a, shape));
	free(rs->location); /* a PUT's final state is the resource itself */
	rs->location = NULL;
	view_clear(&v);
}

/* Put body (the cloud's shape) as resource r: PUT and the merged PATCH. */
static void put_shape(arm_t *a, const arm_request_t *rq, const arm_route_t *r, const json_t *body,
		      bool existed, arm_response_t *rs)
{
	json_t *res = NULL;
	pr_diag_t *diag = pr_diag_new();
	int err = model_arm_to_doc(r->kind, r->name, r->type, body, &res, diag);
	if (err != 0) {
		fail_change(rs, err, diag, false);
		pr_diag_destroy(&diag);
		return;
	}
	pr_diag_destroy(&diag);
	control_change_t ch = {.op = CONTROL_PUT, .kind = r->kind, .parent = r->parent,
			       .resource = res};
	if (apply(a, &ch, rs))
		answer_changed(a, rq, r, existed ? 200 : 201, existed ? "Updating" : "Creating", rs);
	json_decref(res);
}

/* The SOA record set is the zone's soa: a change of the zone (Z-2). */
static void put_soa(arm_t *a, const arm_request_t *rq, const arm_route_t *r, const json_t *body,
		    const view_t *v, arm_response_t *rs)
{
	json_t *zone = NULL;
	pr_diag_t *diag = pr_diag_new();
	int err = strcmp(r->name, "@") ? PR_ECONFIG : 0;
	if (err)
		pr_diag_add(diag, NULL, 0, 0, NULL, "Z-2", PR_ECONFIG,
			    "a zone has one SOA record set, named '@'");
	else
		err = model_arm_soa_to_zone(v->parent, body, &zone, diag);
	if (err != 0) {
		fail_change(rs, err, diag, false);
	} else {
		control_change_t ch = {.op = CONTROL_PUT, .kind = model_kind(MODEL_KIND_ZONE),
				       .resource = zone};
		if (apply(a, &ch, rs))
			answer_changed(a, rq, r, 200, "Updating", rs);
	}
	json_decref(zone);
	pr_diag_destroy(&diag);
}

static void put(arm_t *a, const arm_request_t *rq, arm_route_t *r, arm_response_t *rs)
{
	json_t *body = parse_body(rq, rs);
	if (!body)
		return;
	view_t v;
	if (view_of(a, r, &v, rs) == 0 && is_soa(r)) {
		if (preconditions(rq, v.element, rs))
			put_soa(a, rq, r, body, &v, rs);
	} else if (rs->status == 0 && preconditions(rq, v.element, rs)) {
		bool existed = v.element != NULL;
		/* a resource keeps the name it was created with */
		if (existed) {
			free(r->name);
			r->name = pr_strdup(str(v.element, "name"));
		}
		view_clear(&v);
		put_shape(a, rq, r, body, existed, rs);
	}
	view_clear(&v);
	json_decref(body);
}

/* Merge patch (RFC 7396) of src into dst. */
static void merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_null(v))
			json_object_del(dst, k);
		else if (json_is_object(v) && json_is_object(d))
			merge(d, v);
		else
			json_object_set(dst, k, v);
	}
}

static void patch(arm_t *a, const arm_request_t *rq, const arm_route_t *r, arm_response_t *rs)
{
	json_t *body = parse_body(rq, rs);
	if (!body)
		return;
	view_t v;
	if (view_of(a, r, &v, rs) == 0) {
		if (!v.element) {
			not_found(rs, r);
		} else if (preconditions(rq, v.element, rs)) {
			json_t *cur = shape_of(&v, r->kind, v.element);
			merge(cur, body);
			if (is_soa(r)) {
				put_soa(a, rq, r, cur, &v, rs);
			} else {
				view_clear(&v);
				put_shape(a, rq, r, cur, true, rs);
			}
			json_decref(cur);
		}
	}
	view_clear(&v);
	json_decref(body);
}

static void delete(arm_t *a, const arm_request_t *rq, const arm_route_t *r, arm_response_t *rs)
{
	view_t v;
	if (view_of(a, r, &v, rs) != 0) {
		/* nothing under a parent that does not exist: gone already */
		arm_response_clear(rs);
		rs->status = 204;
		return view_clear(&v);
	}
	if (!v.element) {
		rs->status = 204; /* the cloud: "was not found" */
		return view_clear(&v);
	}
	if (!preconditions(rq, v.element, rs))
		return view_clear(&v);
	if (is_soa(r)) {
		fail(rs, 400, "BadRequest", NULL, NULL,
		     "The SOA record set can't be deleted; it goes with its zone (Z-2).");
		return view_clear(&v);
	}
	char *name = pr_strdup(str(v.element, "name"));
	json_t *all = json_incref(v.all);
	json_t *shape = shape_of(&v, r->kind, v.element);
	view_clear(&v);
	control_change_t ch = {.op = CONTROL_DELETE, .kind = r->kind, .parent = r->parent,
			       .name = name, .type = r->type};
	if (apply(a, &ch, rs)) {
		if (arm_kind_is_lro(r->kind)) {
			rs->status = 202;
			operation(a, rq, r, all, shape, "Deleting", rs);
		} else {
			rs->status = 200;
		}
	}
	json_decref(all);
	json_decref(shape);
	free(name);
}

/* ---- subscriptions and resource groups (minimal) -------------------------------------- */

static json_t *group_shape(const json_t *all)
{
	const char *sub = str(all, "subscription"), *rg = str(all, "resourceGroup");
	const char *loc = str(all, "location");
	sub = *sub ? sub : MODEL_DEFAULT_SUBSCRIPTION;
	rg = *rg ? rg : MODEL_DEFAULT_RESOURCE_GROUP;
	return json_pack("{s:s+++, s:s, s:s, s:s, s:{s:s}}", "id", "/subscriptions/", sub,
			 "/resourceGroups/", rg, "name", rg, "type",
			 "Microsoft.Resources/resourceGroups", "location", *loc ? loc : "eastus",
			 "properties", "provisioningState", "Succeeded");
}

static void groups(arm_t *a, const arm_request_t *rq, const arm_route_t *r, arm_response_t *rs)
{
	json_t *all = deployment_to_json(control_deployment(a->control));
	json_t *g = group_shape(all);
	const char *sub = str(all, "subscription");
	sub = *sub ? sub : MODEL_DEFAULT_SUBSCRIPTION;
	if (r->target == ARM_SUBSCRIPTIONS || r->target == ARM_SUBSCRIPTION) {
		json_t *s = json_pack("{s:s+, s:s, s:s, s:s}", "id", "/subscriptions/", sub,
				      "subscriptionId", sub, "displayName", "privres", "state",
				      "Enabled");
		reply(rs, 200, r->target == ARM_SUBSCRIPTION ? s : json_pack("{s:[o]}", "value", s));
		json_decref(g);
	} else if (r->target == ARM_GROUPS) {
		reply(rs, 200, json_pack("{s:[o]}", "value", g));
	} else if (strcasecmp(r->group, str(g, "name")) != 0) {
		fail(rs, strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD") ? 400 : 404,
		     "ResourceGroupNotFound", NULL, NULL,
		     "Resource group '%s' could not be found: privres serves one resource group, "
		     "'%s' (emulator: resourceGroup in the deployment).",
		     r->group, str(g, "name"));
		json_decref(g);
	} else if (!strcmp(rq->method, "DELETE")) {
		fail(rs, 400, "BadRequest", NULL, NULL,
		     "privres does not delete its resource group; delete its resources.");
		json_decref(g);
	} else {
		reply(rs, 200, !strcmp(rq->method, "HEAD") ? (json_decref(g), NULL) : g);
		if (!strcmp(rq->method, "HEAD"))
			rs->status = 204;
	}
	json_decref(all);
}

/* ---- a token endpoint for clients that log in (the cloud CLI) -------------------- */

/* [privres] An AD FS-style authority at /adfs on the same port: its OpenID
 * configuration and a client-credentials token endpoint. The cloud CLI and
 * MSAL skip the cloud's instance discovery for an authority ending in
 * "adfs", so `az login --service-principal` works against a custom cloud
 * pointing here. The token given is the one configured (a client must give it
 * as its secret), else a well-formed one. */
/* The token endpoints logins use: /adfs/oauth2/token (the cloud CLI with an
 * ADFS authority) and {login}/{tenant}/oauth2[/v2.0]/token (clients that
 * build the URL from the metadata's loginEndpoint and a tenant). */
static bool token_path(const char *p)
{
	if (!strcasecmp(p, "/adfs/oauth2/token"))
		return true;
	if (*p != '/' || !p[1])
		return false;
	const char *rest = strchr(p + 1, '/');
	return rest && rest > p + 1 &&
	       (!strcmp(rest, "/oauth2/token") || !strcmp(rest, "/oauth2/v2.0/token"));
}

/*
 * The cloud's endpoint metadata (GET /metadata/endpoints?api-version=
 * 2022-09-01, no token), the shape Terraform's azurerm takes through
 * metadata_host: every endpoint is privresd itself [privres], the name
 * "privres". Returns whether rq was that request.
 */
static bool metadata_service(const arm_request_t *rq, arm_response_t *rs)
{
	if (strcasecmp(rq->path ? rq->path : "", "/metadata/endpoints") != 0)
		return false;
	if (strcmp(rq->method, "GET") != 0) {
		fail(rs, 405, "MethodNotAllowed", NULL, NULL, "The method '%s' is not allowed here.",
		     rq->method);
		return true;
	}
	if (!rq->api_version || strcmp(rq->api_version, ARM_METADATA_API_VERSION) != 0) {
		fail(rs, 400, "InvalidApiVersionParameter", NULL, NULL,
		     "The api-version '%s' is invalid. The supported versions are '%s'.",
		     rq->api_version ? rq->api_version : "", ARM_METADATA_API_VERSION);
		return true;
	}
	char *base = pr_asprintf("https://%s", rq->host && *rq->host ? rq->host : "127.0.0.1");
	char *slash = pr_asprintf("%s/", base);
	json_t *auth = json_pack("{s:s, s:[s], s:s, s:s}", "loginEndpoint", base, "audiences",
				 slash, "tenant", "common", "identityProvider", "AAD");
	reply(rs, 200,
	      json_pack("{s:s, s:o, s:s, s:s, s:s, s:{}, s:s, s:s}", "portal", slash,
			"authentication", auth, "graphAudience", slash, "graph", slash, "name",
			"privres", "suffixes", "resourceManager", slash,
			"microsoftGraphResourceId", slash));
	free(base);
	free(slash);
	return true;
}

static bool token_service(arm_t *a, const arm_request_t *rq, arm_response_t *rs)
{
	const char *p = rq->path ? rq->path : "";
	const char *host = rq->host && *rq->host ? rq->host : "127.0.0.1";
	if (!strcasecmp(p, "/adfs/.well-known/openid-configuration") && !strcmp(rq->method, "GET")) {
		json_t *c = json_pack("{s:s++, s:s++, s:s++, s:s++, s:[s]}", "issuer", "https://",
				      host, "/adfs", "token_endpoint", "https://", host,
				      "/adfs/oauth2/token", "authorization_endpoint", "https://",
				      host, "/adfs/oauth2/authorize", "device_authorization_endpoint",
				      "https://", host, "/adfs/oauth2/devicecode",
				      "token_endpoint_auth_methods_supported", "client_secret_post");
		reply(rs, 200, c);
		return true;
	}
	if (!token_path(p) || strcmp(rq->method, "POST") != 0)
		return false;
	char *form = pr_strndup(rq->body ? rq->body : "", rq->body_len);
	const char *secret = strstr(form, "client_secret=");
	bool ok = !a->token || (secret && !strncmp(secret + 14, a->token, strlen(a->token)) &&
				(secret[14 + strlen(a->token)] == '&' || !secret[14 + strlen(a->token)]));
	free(form);
	if (!ok) {
		reply(rs, 401, json_pack("{s:s, s:s}", "error", "invalid_client", "error_description",
					 "the client secret is not the token privresd accepts"));
		return true;
	}
	reply(rs, 200, json_pack("{s:s, s:s, s:i, s:i}", "token_type", "Bearer", "access_token",
				 a->token ? a->token : "eyJhbGciOiJub25lIn0.eyJpc3MiOiJwcml2cmVzIn0.c2ln",
				 "expires_in", 3600, "ext_expires_in", 3600));
	return true;
}

/* ---- the request ----------------------------------------------------------------- */

/* A bearer token: the configured one, or any well-formed JWT (three
 * dot-separated base64url parts). */
static bool authorized(const arm_t *a, const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	const char *t = h + 7;
	if (a->token)
		return strcmp(t, a->token) == 0;
	int dots = 0;
	size_t part = 0;
	for (const char *p = t; *p; p++) {
		if (*p == '.') {
			if (!part)
				return false;
			dots++;
			part = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '=') {
			part++;
		} else {
			return false;
		}
	}
	return dots == 2 && part > 0;
}

/* The subscription and resource group of r are the deployment's. */
static bool scope_ok(arm_t *a, const arm_route_t *r, arm_response_t *rs)
{
	const deployment_t *d = control_deployment(a->control);
	if (r->subscription && strcasecmp(r->subscription, d->subscription) != 0) {
		fail(rs, 404, "SubscriptionNotFound", NULL, NULL,
		     "The subscription '%s' could not be found (privres serves '%s').",
		     r->subscription, d->subscription);
		return false;
	}
	if (r->group && strcasecmp(r->group, d->resource_group) != 0) {
		fail(rs, 404, "ResourceGroupNotFound", NULL, NULL,
		     "Resource group '%s' could not be found (privres serves '%s').", r->group,
		     d->resource_group);
		return false;
	}
	return true;
}

static bool method_is(const arm_request_t *rq, const char *m)
{
	return strcmp(rq->method, m) == 0;
}

static void dispatch(arm_t *a, const arm_request_t *rq, arm_route_t *r, arm_response_t *rs)
{
	switch (r->target) {
	case ARM_OPERATION:
		return get_operation(a, rq, r, rs);
	case ARM_ACTION:
		if (!method_is(rq, "POST"))
			break;
		return list_by_vnet(a, rq, r, rs);
	case ARM_COLLECTION:
		if (!method_is(rq, "GET"))
			break;
		return list(a, rq, r, rs);
	case ARM_RESOURCE:
		if (method_is(rq, "GET"))
			return get_resource(a, r, rs);
		if (busy(a, r, rs))
			return;
		if (method_is(rq, "PUT"))
			return put(a, rq, r, rs);
		if (method_is(rq, "PATCH"))
			return patch(a, rq, r, rs);
		if (method_is(rq, "DELETE"))
			return delete(a, rq, r, rs);
		break;
	default:
		return groups(a, rq, r, rs);
	}
	fail(rs, 405, "MethodNotAllowed", NULL, NULL, "The method '%s' is not allowed here.",
	     rq->method);
}

void arm_handle(arm_t *a, const arm_request_t *rq, arm_response_t *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->request_id = pr_asprintf("%016llx", (unsigned long long)++a->serial);
	if (token_service(a, rq, rs) || metadata_service(rq, rs))
		return;
	if (!authorized(a, rq->authorization))
		return fail(rs, 401, a->token && rq->authorization ? "InvalidAuthenticationToken"
								  : "AuthenticationFailed",
			    NULL, NULL,
			    "Authentication failed. The 'Authorization' header is %s.",
			    rq->authorization ? "not a valid bearer token" : "missing");
	arm_route_t r;
	if (arm_route_parse(rq->path, &r) != 0)
		return fail(rs, 404, "InvalidResourceType", NULL, NULL,
			    "The path '%s' is not a resource type privres serves.", rq->path);
	const model_kind_t *k = r.target == ARM_OPERATION ? NULL : r.kind;
	if (!rq->api_version || !*rq->api_version)
		fail(rs, 400, "MissingApiVersionParameter", NULL, NULL,
		     "The api-version query parameter (?api-version=) is required for all "
		     "requests.");
	else if (r.target == ARM_ACTION ? !arm_api_version_ok(model_kind(MODEL_KIND_RESOLVER),
								rq->api_version)
					: !arm_api_version_ok(k, rq->api_version))
		fail(rs, 400, "InvalidApiVersionParameter", NULL, NULL,
		     "The api-version '%s' is invalid. The supported versions are '%s'.",
		     rq->api_version, arm_api_versions(k));
	else if (scope_ok(a, &r, rs))
		dispatch(a, rq, &r, rs);
	arm_route_clear(&r);
}
