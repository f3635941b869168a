/*
 * arm — the cloud's management protocol (design.md §2, §6): ARM REST over
 * HTTPS, so the Azure SDKs, the cloud CLI and Terraform's providers drive
 * privresd unchanged. Resource providers' paths and shapes come from the
 * resource schema (model/); every change is a control_apply() of the one
 * control (control/), held to the rules of a deployment file.
 *
 * Two layers:
 *   arm_t         the protocol without I/O: a request in, a response out
 *                 (routing, api-versions, bearer tokens, etags, long-running
 *                 operations, the cloud's error bodies). Unit-testable.
 *   arm_server_t  HTTPS on loopback, HTTP/1.1 and HTTP/2 on one port by
 *                 ALPN: HTTP/2 by nghttp2 on the listener's own thread,
 *                 HTTP/1.1 by libmicrohttpd (GnuTLS) on its threads; each
 *                 whole request is handed to the control thread (the libuv
 *                 loop that owns the control) and answered from there.
 *
 * Threads: arm_new, arm_handle, arm_destroy, arm_server_start and
 * arm_server_close run on the control thread.
 * Input: every request is untrusted; answers are the cloud's 4xx, never a
 * crash.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/base.h"
#include "control/control.h"

typedef struct arm arm_t;
typedef struct arm_server arm_server_t;

/* Requests bigger than this are refused (413) before they are read whole. */
#define ARM_MAX_BODY (4u << 20)
/* The page size of lists when $top is not given (the cloud's default). */
#define ARM_DEFAULT_TOP 100

typedef struct arm_settings {
	/* The bearer token requests must carry; NULL: any well-formed JWT
	 * (three dot-separated base64url parts). Copied. */
	const char *token;
	/* How long a long-running operation reports itself in progress
	 * (emulator.arm.operationSeconds); 0: done at once. */
	uint32_t operation_ms;
} arm_settings_t;

/* A protocol object over control (borrowed; must outlive it). */
int arm_new(control_t *control, const arm_settings_t *settings, arm_t **out);
void arm_destroy(arm_t **ap);

/* One request, all borrowed. */
typedef struct arm_request {
	const char *method;        /* "GET", "PUT", "PATCH", "DELETE", "POST", "HEAD" */
	const char *path;          /* without the query string */
	const char *api_version;   /* query parameters; NULL when absent */
	const char *top;
	const char *skip_token;
	const char *authorization; /* the Authorization header, or NULL */
	const char *if_match;
	const char *if_none_match;
	const char *host;          /* the Host header: absolute URLs of nextLink and LRO headers */
	const char *body;
	size_t body_len;
} arm_request_t;

/* One response; every string owned (arm_response_clear). */
typedef struct arm_response {
	int status;
	char *body;            /* JSON text, or NULL */
	char *async_operation; /* Azure-AsyncOperation header, or NULL */
	char *location;        /* Location header, or NULL */
	char *request_id;      /* x-ms-request-id */
	unsigned retry_after;  /* Retry-After seconds: sent when > 0 or with the LRO headers */
} arm_response_t;

/* Answer rq into *rs (zeroed first). Changes go through control_apply(). */
void arm_handle(arm_t *a, const arm_request_t *rq, arm_response_t *rs);
void arm_response_clear(arm_response_t *rs);

/* ---- the HTTPS server -------------------------------------------------------- */

typedef struct arm_server_options {
	const char *listen;     /* "127.0.0.1:PORT" (port 0: any free one) */
	const char *token_file; /* the one token accepted, or NULL: any well-formed one */
	const char *tls_dir;    /* the local CA's directory (<state dir>/tls) */
	const char *cert_file;  /* the user's own certificate and key, or NULL: issued by the CA */
	const char *key_file;
	uint32_t operation_ms;  /* arm_settings_t's */
} arm_server_options_t;

/*
 * Start serving arm (created here over control) on the options' address,
 * with a server certificate for 127.0.0.1, localhost and
 * management.privres.local issued by the local CA of tls_dir (created on
 * first start) unless the user gives one. Returns 0 and *out (owned), or an
 * error with *why (owned) saying what failed.
 */
int arm_server_start(uv_loop_t *loop, control_t *control, const arm_server_options_t *o,
		     arm_server_t **out, char **why);
/* The bound port, and the CA certificate file clients should trust (borrowed;
 * NULL with the user's own certificate). */
uint16_t arm_server_port(const arm_server_t *s);
const char *arm_server_ca_file(const arm_server_t *s);
/* Stop: requests waiting for the control thread are answered 503, then the
 * server's threads are joined. Accepts NULL; clears *sp. */
void arm_server_close(arm_server_t **sp);
