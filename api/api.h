/*
 * api — the management API of design.md §6: real gRPC (HTTP/2 cleartext via
 * nghttp2, on a libuv loop) on a Unix socket and optionally on a loopback TCP
 * port that requires a bearer token; and a small blocking gRPC client for
 * privresctl. The schema is api/privres.proto (package privres.v1).
 *
 * Threads: a server belongs to the loop it was started on (the daemon's control
 * thread); every server function must be called on that thread, and handlers
 * run there. The client is blocking and used by one thread at a time.
 * Ownership: as written on each function.
 * Signals: the server writes with write(2); the process must ignore SIGPIPE
 * (privresd does), or a peer that closes early kills it.
 * Input: everything a peer sends is untrusted: bounded (maximum message size,
 * streams per connection), validated and answered with a gRPC status, never
 * asserted.
 * Protobuf types do not appear here (design.md §2); handlers are registered
 * through api_p.h inside api/.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum {
	API_STATUS_OK = 0,
	API_STATUS_CANCELLED = 1,
	API_STATUS_UNKNOWN = 2,
	API_STATUS_INVALID_ARGUMENT = 3,
	API_STATUS_DEADLINE_EXCEEDED = 4,
	API_STATUS_NOT_FOUND = 5,
	API_STATUS_ALREADY_EXISTS = 6,
	API_STATUS_PERMISSION_DENIED = 7,
	API_STATUS_RESOURCE_EXHAUSTED = 8,
	API_STATUS_FAILED_PRECONDITION = 9,
	API_STATUS_ABORTED = 10,
	API_STATUS_OUT_OF_RANGE = 11,
	API_STATUS_UNIMPLEMENTED = 12,
	API_STATUS_INTERNAL = 13,
	API_STATUS_UNAVAILABLE = 14,
	API_STATUS_DATA_LOSS = 15,
	API_STATUS_UNAUTHENTICATED = 16,
};

#define API_STATUS_MESSAGE_MAX 4096 /* a change may break several rules at once */
#define API_DEFAULT_MAX_MESSAGE (4u << 20) /* gRPC's customary default */

/* A call's outcome: a gRPC status code and its message. */
typedef struct api_status {
	int code;
	char message[API_STATUS_MESSAGE_MAX];
} api_status_t;

/* The name of a status code ("INVALID_ARGUMENT"); never NULL. */
const char *api_status_name(int code);

/* The status for an error of the PR_E* space (PR_ENOTFOUND -> NOT_FOUND, ...). */
int api_status_from_error(int err);

/* privresctl's exit code for a status (design.md §6): 0 ok, 1 rejected,
 * 3 unreachable (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED). */
int api_exit_code_for_status(int code);

/* ---- registry ------------------------------------------------------------- */

/* The methods a server dispatches to ("/privres.v1.Service/Method" -> handler). */
typedef struct api_registry api_registry_t;

/* A new, empty registry (owned). */
api_registry_t *api_registry_new(void);
void api_registry_destroy(api_registry_t **rp);

/* ---- server --------------------------------------------------------------- */

typedef struct api_server_options {
	/* Unix socket path (copied); NULL for none. A stale socket file is removed;
	 * a live one (a server answers on it) is an error. */
	const char *unix_path;
	/* Loopback TCP address "127.0.0.1:port" (copied), NULL for none; port 0
	 * picks a free port (api_server_tcp_port tells which). */
	const char *tcp_address;
	/* File holding the bearer token that TCP calls must present; required with
	 * tcp_address. */
	const char *token_file;
	/* Largest request message in bytes; 0 means API_DEFAULT_MAX_MESSAGE. */
	size_t max_message_size;
} api_server_options_t;

typedef struct api_server api_server_t;

/*
 * Listen on loop (borrowed; must outlive the server) with the methods of reg
 * (borrowed; must outlive the server). Returns 0 with *out (owned, close with
 * api_server_close), or a negative error: PR_ECONFIG (bad options), PR_EIO
 * (bind/listen failed; the text is in *why, owned, when why is not NULL).
 */
int api_server_start(uv_loop_t *loop, const api_server_options_t *opts, api_registry_t *reg,
		     api_server_t **out, char **why);

/* The TCP port listened on, or 0. */
int api_server_tcp_port(const api_server_t *srv);

/* Calls answered since start (any status). */
uint64_t api_server_calls(const api_server_t *srv);

/*
 * Stop listening and close every connection; the handles are released by the
 * loop's next uv_run(), after which the memory is freed. Clears *sp; accepts
 * NULL. The Unix socket file is removed.
 */
void api_server_close(api_server_t **sp);

/* ---- client --------------------------------------------------------------- */

typedef struct api_client_target {
	const char *unix_path;    /* borrowed; used when not NULL */
	const char *tcp_address;  /* "127.0.0.1:port", loopback only */
	const char *token;        /* bearer token for TCP, may be NULL */
	uint64_t timeout_ms;      /* sent as grpc-timeout when not 0 */
	uint64_t wait_ms;         /* how long to wait for the answer; 0: timeout_ms + 1 s, or 30 s */
} api_client_target_t;

/*
 * One unary call with a serialized request (borrowed). Fills *status with the
 * server's grpc-status and grpc-message; connection problems give
 * API_STATUS_UNAVAILABLE and a local wait that runs out DEADLINE_EXCEEDED.
 * Returns 0 when a status was obtained (check status->code); on OK *resp
 * (owned, malloc) and *resp_len hold the response message. Negative errors
 * only for misuse (PR_ECONFIG).
 */
int api_client_call(const api_client_target_t *target, const char *path, const uint8_t *req,
		    size_t req_len, uint8_t **resp, size_t *resp_len, api_status_t *status);

/*
 * A call of a privres.proto method with JSON in and out (proto3 JSON mapping).
 * path is "/privres.v1.Service/Method". A request that does not convert gives
 * status INVALID_ARGUMENT without contacting the server. On OK, *resp (owned)
 * holds the JSON form of the response. Returns 0 when status is filled.
 */
int api_client_call_json(const api_client_target_t *target, const char *path, const json_t *req,
			 json_t **resp, api_status_t *status);

/* ---- control: RPCs as changes of the deployment (design.md §6, §7) -------- */

typedef struct deployment deployment_t;
typedef struct control control_t;

typedef struct api_control api_control_t;

/*
 * The API over control (borrowed; must outlive the API control): every change
 * a call makes goes through control_apply(), the one path of design.md §3.
 * Returns 0 and *out (owned).
 */
int api_control_new(control_t *control, api_control_t **out);

/* The current deployment (borrowed; valid until the next accepted change). */
const deployment_t *api_control_deployment(const api_control_t *c);

/* Register the resource services (CreateOrUpdate, Get, List, Delete of every
 * resource type), DeploymentService (Apply, Plan, Export) and DiagnosticsService
 * (Explain, TargetHealth, Stats) on reg; c must outlive reg's use.
 * Every change, of one resource or of a whole document, is validated whole by
 * the model, checked for loops (P-1, P-2, FAILED_PRECONDITION) and planned
 * against the current deployment: an update of an immutable property (I-1,
 * F-7, N-4) is refused with FAILED_PRECONDITION naming the rule and the
 * resource id. Returns 0 or PR_EEXIST when a path is taken. */
int api_control_register(api_control_t *c, api_registry_t *reg);

/*
 * Diagnostics the daemon provides (design.md §6): the data plane knows what
 * the control does not (answers, target health, counters). Each op returns 0
 * with *out (owned) holding the JSON form of the response message of
 * privres.proto (ExplainResponse, TargetHealthResponse, StatsResponse), or an
 * error of the PR_E* space with *why (owned, may be left NULL) saying why.
 * explain gets the current deployment (borrowed), the request's VNet (one of
 * the deployment, checked), name and type ("A" when not given).
 * A NULL op, or no provider at all, answers UNAVAILABLE.
 */
typedef struct api_diagnostics {
	int (*explain)(void *ctx, const deployment_t *d, const char *vnet, const char *name,
		       const char *type, json_t **out, char **why);
	int (*target_health)(void *ctx, json_t **out, char **why);
	int (*stats)(void *ctx, json_t **out, char **why);
} api_diagnostics_t;

/* Set (or, with ops NULL, remove) the provider; ops and ctx are borrowed and
 * must outlive c's registration. */
void api_control_set_diagnostics(api_control_t *c, const api_diagnostics_t *ops, void *ctx);

void api_control_destroy(api_control_t **cp);
