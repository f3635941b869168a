/*
 * api private — what the files of api/ share and no other folder includes: the
 * protobuf <-> JSON converter, gRPC framing and status helpers, the method
 * registry and the schema tables. Protobuf types stay behind this header
 * (design.md §2: nothing outside api/ knows about protobuf).
 *
 * Threads: pure functions, reentrant, except the registry, which belongs to the
 * loop thread that serves it.
 * Input: JSON documents and gRPC frames are untrusted and validated here;
 * descriptors are trusted (generated code).
 */
#pragma once

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/base.h"

/* ---- pbjson: proto3 JSON mapping, driven by descriptors ----------------- */

/*
 * The proto3 JSON form of msg (borrowed) as a new object (owned): field names
 * in lowerCamelCase, enums as their names, 64-bit integers as strings, bytes as
 * base64, repeated fields as arrays, maps as objects, nested messages as
 * objects; fields at their default (proto3) or absent are omitted.
 * Returns 0, or PR_EPARSE for text that is not UTF-8 (protobuf-c does not check
 * it; JSON needs it); *out written only on success.
 */
int pbjson_from_message(const ProtobufCMessage *msg, json_t **out);

/*
 * Fill a new message of type desc from a JSON object (borrowed). Accepts the
 * lowerCamelCase and the original field names, numbers or strings for 64-bit
 * integers, enum names or numbers, null for "absent". Unknown keys and wrong
 * types are errors: returns PR_EPARSE with *why (owned) naming the field path
 * ("targetDnsServers[1].port: expected an integer"). On success *out is owned
 * by the caller and freed with protobuf_c_message_free_unpacked(m, NULL).
 */
int pbjson_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json,
		      ProtobufCMessage **out, char **why);

/* The lowerCamelCase JSON name of a proto field name into a new string (owned). */
char *pbjson_camel_name(const char *field_name);

/* ---- gRPC framing (the length-prefixed message of the gRPC HTTP/2 protocol) */

#define API_GRPC_HEADER_LEN 5

/*
 * Unpack the single message of a unary call from a request body (borrowed).
 * Returns 0 with *msg and *len pointing into body; or a gRPC status code:
 * API_STATUS_UNIMPLEMENTED for a compressed message (we announce no
 * grpc-encoding), API_STATUS_INVALID_ARGUMENT for a truncated frame, none or
 * more than one message.
 */
int api_frame_unpack(const uint8_t *body, size_t body_len, const uint8_t **msg, size_t *len,
		     const char **why);

/* Write the 5-byte prefix for a message of len bytes into hdr. */
void api_frame_header(uint8_t hdr[API_GRPC_HEADER_LEN], size_t len);

/*
 * Parse a grpc-timeout header value ("100m", "5S", "1H"): at most 8 digits and
 * one unit of H M S m u n. Returns 0 with *ms (rounded up), or PR_EPARSE.
 */
int api_timeout_parse(const char *text, size_t len, uint64_t *ms);

/* Percent-encode a grpc-message (gRPC spec: bytes outside 0x20..0x7e and '%').
 * Returns a new string (owned). */
char *api_percent_encode(const char *text);
/* Decode a percent-encoded grpc-message; invalid escapes are kept as they are.
 * Returns a new string (owned). */
char *api_percent_decode(const char *text, size_t len);

/* ---- method registry ------------------------------------------------------ */

/*
 * A unary handler, run on the loop thread. req is borrowed for the call. On
 * success it returns 0 with *resp (transferred on success: allocated so that
 * protobuf_c_message_free_unpacked(resp, NULL) frees it — pbjson_to_message
 * gives such messages). On failure it fills status with a code other than
 * API_STATUS_OK and returns that code; *resp is then ignored.
 */
typedef int (*api_handler_fn)(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			      api_status_t *status);

/* Set status (code and formatted message); returns code. */
int api_status_set(api_status_t *status, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Register a handler for path "/package.Service/Method" with its message
 * types (borrowed, static). ctx is borrowed. Returns 0, PR_EEXIST for a path
 * registered already, or PR_ECONFIG for a path that is not of that form.
 */
int api_registry_add(api_registry_t *reg, const char *path, const ProtobufCMessageDescriptor *in,
		     const ProtobufCMessageDescriptor *out, api_handler_fn fn, void *ctx);

/* A registered method (borrowed from the registry). */
typedef struct api_method {
	char *path;
	const ProtobufCMessageDescriptor *in, *out;
	api_handler_fn fn;
	void *ctx;
} api_method_t;

/* The method for path, or NULL. */
const api_method_t *api_registry_find(const api_registry_t *reg, const char *path, size_t len);

/* ---- schema: the services of privres.proto ------------------------------- */

/* The request and response types of "/privres.v1.Service/Method" (or of
 * "Service/Method"); 0 or PR_ENOTFOUND. Outputs written only on success. */
int api_schema_method(const char *path, const ProtobufCMessageDescriptor **in,
		      const ProtobufCMessageDescriptor **out);

/* Service descriptors of privres.proto (borrowed, static), NULL-terminated. */
const ProtobufCServiceDescriptor *const *api_schema_services(void);

/* Remove from obj (a JSON object, modified in place) every key that is not a
 * field of desc, recursively through message fields: what the model's document
 * holds beyond a resource message (its child collections, emulator keys) is not
 * part of that message. */
void pbjson_filter(const ProtobufCMessageDescriptor *desc, json_t *obj);

/* ---- control internals: shared by handlers.c and deploy.c ------------------ */

/* The control object behind the API (borrowed). */
control_t *api_control_owner(const api_control_t *c);

/* The status of a change that control_apply() refused with ret and the
 * findings in diag: a finding's status and cloud code with every line, or
 * UNAVAILABLE "change not saved" when it could not be served or saved. */
int api_status_of_change(int ret, const pr_diag_t *diag, api_status_t *st);

/* The diagnostics provider, or NULL (and *ctx untouched). */
const api_diagnostics_t *api_control_diagnostics(const api_control_t *c, void **ctx);

/* Register DeploymentService/Apply, Plan and DiagnosticsService on reg. */
int api_deploy_register(api_control_t *c, api_registry_t *reg);

