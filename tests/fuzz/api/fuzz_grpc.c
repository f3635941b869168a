/*
 * Arbitrary bytes as the body of a unary gRPC request (design.md §6, style.md
 * §15), handled as the server handles it once HTTP/2 has delivered the body:
 * api_frame_unpack() (the 5-byte length prefix), protobuf-c's unpack for the
 * method's input type, then the handler registered by api_control_register()
 * over a control holding the embedded default deployment. Alongside, the
 * proto3 JSON mapping of the request: pbjson_from_message() and back with
 * pbjson_to_message(). The grpc-timeout and grpc-message header parsers get
 * the same bytes as text.
 *
 * Input: one octet choosing the method (every method of every service of
 * privres.proto, sorted by path, modulo their number), one octet of flags
 * (bit 0: call the handler), then the request body (framed).
 *
 * Checks (a failed one aborts, so the fuzzer keeps the input):
 *  - a body the framing refuses gets a gRPC status code and a reason;
 *  - JSON round trip: every message protobuf-c accepts converts to JSON (but
 *    for strings that are not UTF-8, which pbjson refuses as PR_EPARSE), that
 *    JSON converts back, and the message it gives converts to the same JSON;
 *    when the request has no unknown fields and no repeated map keys, the
 *    message packs to the same bytes as the request did;
 *  - the handler answers a status or a response of the method's output type,
 *    and the response packs and converts to JSON (what the server sends); a
 *    request that has no JSON form is INVALID_ARGUMENT (the client's fault);
 *  - a timeout that parses is a number of milliseconds no smaller than its
 *    digits' value in the unit; percent-decoding undoes percent-encoding.
 * A change the control accepts replaces its deployment, so the control is
 * made again before the next input: every input meets the same state and
 * reproduces alone.
 */
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_p.h"
#include "control/control.h"
#include "base/base.h"
#include "model/model.h"

typedef struct method {
	char *path;
	const ProtobufCMessageDescriptor *in, *out;
} method_t;

static method_t *methods;
static size_t n_methods, methods_cap;
static control_t *owner;
static api_control_t *control;
static api_registry_t *registry;
static int commits;

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_grpc: %s\n%s\n", what, detail ? detail : "");
	abort();
}

static void publish(void *ctx, resolve_snapshot_t *next)
{
	(void)ctx;
	commits++;
	resolve_snapshot_unref(&next);
}

static const control_hooks_t hooks = {.publish = publish};

/* A data plane's diagnostics, as the daemon attaches them (design.md §6): the
 * answers are data of the request, so the handler's checks and conversions
 * run on what the fuzzer sent. */
static int diag_explain(void *ctx, const deployment_t *d, const char *vnet, const char *name,
			const char *type, json_t **out, char **why)
{
	(void)ctx;
	(void)why;
	if (deployment_find_vnet(d, vnet) < 0)
		fail("explain was called with a VNet the deployment does not have", vnet);
	*out = json_pack("{s:s, s:s, s:s, s:[s]}", "view", vnet, "text", name, "rcode", "NOERROR",
			 "answers", type);
	return 0;
}

static int diag_health(void *ctx, json_t **out, char **why)
{
	(void)ctx;
	(void)why;
	*out = json_pack("{s:[{s:s, s:i, s:s, s:s}]}", "targets", "address", "10.100.0.2", "port",
			 53, "state", "Healthy", "lastFailureMs", "18446744073709551615");
	return 0;
}

static int diag_stats(void *ctx, json_t **out, char **why)
{
	(void)ctx;
	*why = pr_strdup("no counters in this process");
	*out = NULL;
	return PR_ENOTFOUND;
}

static const api_diagnostics_t diagnostics = {diag_explain, diag_health, diag_stats};

/* The control over the embedded default deployment, and its registry. */
static void control_make(void)
{
	model_doc_t *doc = NULL;
	pr_diag_t *diag = pr_diag_new();

	api_control_destroy(&control);
	control_destroy(&owner);
	api_registry_destroy(&registry);
	if (control_load_source(NULL, &doc, diag) != 0 || control_new(&doc, NULL, &owner, diag) != 0)
		fail("the default deployment does not load", pr_diag_format(diag));
	pr_diag_destroy(&diag);
	control_set_hooks(owner, &hooks, NULL);
	if (api_control_new(owner, &control) != 0)
		fail("api_control_new", NULL);
	api_control_set_diagnostics(control, &diagnostics, NULL);
	registry = api_registry_new();
	if (api_control_register(control, registry) != 0)
		fail("api_control_register", NULL);
	commits = 0;
}

static void release(void)
{
	api_control_destroy(&control);
	control_destroy(&owner);
	api_registry_destroy(&registry);
	for (size_t i = 0; i < n_methods; i++)
		free(methods[i].path);
	free(methods);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const method_t *)a)->path, ((const method_t *)b)->path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const ProtobufCServiceDescriptor *const *svc = api_schema_services();
	for (size_t s = 0; svc[s]; s++) {
		for (unsigned i = 0; i < svc[s]->n_methods; i++) {
			method_t m = {pr_asprintf("/%s/%s", svc[s]->name,
						  svc[s]->methods[i].name),
				      NULL, NULL};
			if (api_schema_method(m.path, &m.in, &m.out) != 0 ||
			    m.in != svc[s]->methods[i].input || m.out != svc[s]->methods[i].output)
				fail("api_schema_method disagrees with the descriptors", m.path);
			pr_grow(&methods, &methods_cap, n_methods + 1, sizeof(*methods));
			methods[n_methods++] = m;
		}
	}
	if (n_methods == 0 || n_methods > 256)
		fail("the schema has no methods or more than one octet can choose", NULL);
	/* sorted, so that make_corpus.py numbers them the same way */
	qsort(methods, n_methods, sizeof(*methods), by_path);
	control_make();
	atexit(release);
	return 0;
}

/* A map field is a repeated message named "...Entry" with a key and a value. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t n = strlen(d->name);
	return d->n_fields == 2 && n > 5 && strcmp(d->name + n - 5, "Entry") == 0;
}

static const char *entry_key(const ProtobufCMessage *entry)
{
	const ProtobufCFieldDescriptor *f = &entry->descriptor->fields[0];
	if (f->type != PROTOBUF_C_TYPE_STRING)
		return NULL;
	return *(const char *const *)((const char *)entry + f->offset);
}

/*
 * Does msg pack differently from what its JSON gives back, for reasons that
 * are the mapping's and not a bug: unknown fields (proto3 JSON drops them) or
 * a map key given twice (JSON objects keep the last).
 */
static bool has_lossy_parts(const ProtobufCMessage *msg)
{
	if (msg->n_unknown_fields)
		return true;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)msg;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)(base +
											   f->offset);
			const ProtobufCMessageDescriptor *sd = f->descriptor;
			for (size_t k = 0; k < n; k++) {
				if (has_lossy_parts(sub[k]))
					return true;
				if (!is_map_entry(sd))
					continue;
				const char *key = entry_key(sub[k]);
				if (!key)
					return true;
				for (size_t j = 0; j < k; j++)
					if (!strcmp(key, entry_key(sub[j]) ? entry_key(sub[j]) : ""))
						return true;
			}
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
		if (sub && has_lossy_parts(sub))
			return true;
	}
	return false;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = pr_malloc(*len ? *len : 1);
	if (protobuf_c_message_pack(m, buf) != *len)
		fail("pack wrote another size than it announced", m->descriptor->name);
	return buf;
}

/*
 * proto3 JSON both ways; the message of the JSON packs as the request did.
 * protobuf-c does not check that strings are UTF-8 and JSON cannot carry
 * those that are not: pbjson refuses them with PR_EPARSE. Returns whether the
 * request has a JSON form.
 */
static bool check_json_round_trip(const ProtobufCMessage *req)
{
	json_t *j1 = NULL, *j2 = NULL;
	ProtobufCMessage *back = NULL;
	char *why = NULL;

	int rc = pbjson_from_message(req, &j1);
	if (rc == PR_EPARSE)
		return false;
	if (rc != 0)
		fail("pbjson_from_message refused an unpacked message", req->descriptor->name);
	if (pbjson_to_message(req->descriptor, j1, &back, &why) != 0)
		fail("pbjson_to_message refused the JSON of pbjson_from_message",
		     why ? why : json_dumps(j1, JSON_COMPACT));
	if (back->descriptor != req->descriptor)
		fail("pbjson_to_message made another type", back->descriptor->name);
	if (pbjson_from_message(back, &j2) != 0)
		fail("pbjson_from_message refused its own round trip", req->descriptor->name);
	if (!json_equal(j1, j2))
		fail("JSON round trip changed the message", json_dumps(j1, JSON_COMPACT));
	if (!has_lossy_parts(req)) {
		size_t l1, l2;
		uint8_t *p1 = pack(req, &l1), *p2 = pack(back, &l2);
		if (l1 != l2 || memcmp(p1, p2, l1) != 0)
			fail("the message of the JSON packs to other bytes",
			     json_dumps(j1, JSON_COMPACT));
		free(p1);
		free(p2);
	}
	protobuf_c_message_free_unpacked(back, NULL);
	json_decref(j1);
	json_decref(j2);
	return true;
}

/* What the server does with a handler's answer: a status or a response. */
static void call_handler(const method_t *mt, const ProtobufCMessage *req, bool jsonable)
{
	const api_method_t *m = api_registry_find(registry, mt->path, strlen(mt->path));
	if (!m)
		return; /* a method of the schema that the control does not serve */
	if (m->in != mt->in || m->out != mt->out)
		fail("registry types differ from the schema's", mt->path);
	ProtobufCMessage *resp = NULL;
	api_status_t st;
	memset(&st, 0, sizeof(st));
	int ret = m->fn(m->ctx, req, &resp, &st);
	if (ret != 0) {
		if (st.code == API_STATUS_OK || ret != st.code)
			fail("a refusal without its status code", mt->path);
		if (memchr(st.message, '\0', sizeof(st.message)) == NULL)
			fail("status message not terminated", mt->path);
		/* bytes that are not UTF-8 are the client's fault, not the server's */
		if (!jsonable && st.code != API_STATUS_INVALID_ARGUMENT)
			fail("a request with a string that is not UTF-8 is not INVALID_ARGUMENT",
			     st.message);
		return;
	}
	if (!jsonable)
		fail("a request with a string that is not UTF-8 was answered OK", mt->path);
	if (!resp || resp->descriptor != m->out)
		fail("a response of another type", mt->path);
	size_t len;
	uint8_t hdr[API_GRPC_HEADER_LEN];
	uint8_t *wire = pack(resp, &len);
	api_frame_header(hdr, len);
	/* uncompressed, then the length in network order (gRPC over HTTP/2) */
	if (hdr[0] != 0 || ((size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 |
			    hdr[4]) != len)
		fail("a frame header that does not say the response's length", mt->path);
	json_t *j = NULL;
	if (pbjson_from_message(resp, &j) != 0)
		fail("the response does not convert to JSON", mt->path);
	json_decref(j);
	free(wire);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (commits) /* the deployment changed: start the next input from the default */
		control_make();
}

/* grpc-timeout and grpc-message, from the same bytes. */
static void check_headers(const uint8_t *data, size_t size)
{
	uint64_t ms = 0;
	if (api_timeout_parse((const char *)data, size, &ms) == 0) {
		/* at most 8 digits and a unit: the smallest unit (n) rounds up to 1 ms */
		if (size < 2 || size > 9 || ms > 99999999ull * 3600000ull)
			fail("a timeout outside the grammar parsed", NULL);
	}
	char *text = pr_strndup((const char *)data, size);
	char *enc = api_percent_encode(text);
	for (const char *p = enc; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail("percent-encoding left a byte outside 0x20..0x7e", NULL);
	char *dec = api_percent_decode(enc, strlen(enc));
	if (strcmp(dec, text) != 0)
		fail("percent-decoding does not undo percent-encoding", text);
	free(dec);
	free(enc);
	dec = api_percent_decode((const char *)data, size);
	free(dec);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const method_t *mt = &methods[data[0] % n_methods];
	bool handle = data[1] & 1;
	const uint8_t *body = data + 2;
	size_t body_len = size - 2;
	const uint8_t *msg = NULL;
	size_t len = 0;
	const char *why = NULL;

	check_headers(body, body_len);
	int code = api_frame_unpack(body, body_len, &msg, &len, &why);
	if (code != 0) {
		if (code != API_STATUS_INVALID_ARGUMENT && code != API_STATUS_UNIMPLEMENTED)
			fail("framing refused with an unexpected status", api_status_name(code));
		if (!why || !*why)
			fail("framing refused without a reason", NULL);
		return 0;
	}
	if (msg < body || len > body_len || msg + len > body + body_len)
		fail("framing points outside the body", NULL);
	ProtobufCMessage *req = protobuf_c_message_unpack(mt->in, NULL, len, msg);
	if (!req)
		return 0; /* the server answers INVALID_ARGUMENT "malformed" */
	bool jsonable = check_json_round_trip(req);
	if (handle)
		call_handler(mt, req, jsonable);
	protobuf_c_message_free_unpacked(req, NULL);
	return 0;
}
