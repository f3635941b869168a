/* Private to arm/: the route of a request and the pieces of the protocol
 * shared by the files of the folder. */
#pragma once

#include <jansson.h>
#include <sys/socket.h>

#include "arm/arm.h"
#include "model/model.h"

/* Where a path leads (route.c). */
typedef enum arm_target {
	ARM_NOWHERE,        /* not a path privres serves */
	ARM_SUBSCRIPTIONS,  /* /subscriptions */
	ARM_SUBSCRIPTION,   /* /subscriptions/{s} */
	ARM_GROUPS,         /* .../resourcegroups */
	ARM_GROUP,          /* .../resourcegroups/{rg} */
	ARM_OPERATION,      /* .../locations/{l}/{operationStatuses|operationResults}/{id} */
	ARM_RESOURCE,       /* a resource of route.kind */
	ARM_COLLECTION,     /* a list of route.kind (under route.parent) */
	ARM_ACTION,         /* POST {vnet}/listDnsResolvers and the like */
} arm_target_t;

typedef struct arm_route {
	arm_target_t target;
	const model_kind_t *kind;
	char *subscription, *group; /* as the path writes them */
	char *parent;               /* the parent's name, for child kinds */
	char *name;                 /* the resource's name; the operation id */
	char *type;                 /* a record set's type; NULL for every type (ALL) */
	char *action;               /* an action's name; the operation's collection */
	char *location;             /* an operation's location */
	bool by_subscription;       /* a list of the whole subscription */
} arm_route_t;

/* Parse a path (percent-decoded segment by segment, matched against the
 * schema's types case-insensitively). Returns 0 with *r filled, or
 * PR_EPARSE for a path that is not one (r->target ARM_NOWHERE). */
int arm_route_parse(const char *path, arm_route_t *r);
void arm_route_clear(arm_route_t *r);

/* Does the kind answer its changes as a long-running operation? (All but
 * forwarding rules and record sets, as the resource providers do.) */
bool arm_kind_is_lro(const model_kind_t *k);
/* The api-versions the resource provider of kind k (NULL: Microsoft.Resources)
 * accepts, as one comma-separated text (static). */
const char *arm_api_versions(const model_kind_t *k);
bool arm_api_version_ok(const model_kind_t *k, const char *v);

/* n octets of s percent-decoded (owned); NULL for a malformed escape or a
 * NUL (route.c). */
char *arm_pct_decode(const char *s, size_t n);

/* ---- what both transports share (http.c) ------------------------------------------ */

/* The headers of a response besides its status and length. */
typedef struct arm_header {
	const char *name, *value;
} arm_header_t;
#define ARM_RESPONSE_HEADERS 6
/* Fill out (ARM_RESPONSE_HEADERS entries) from rs; Retry-After's text goes
 * into ra. Returns how many. */
size_t arm_response_headers(const arm_response_t *rs, arm_header_t *out, char ra[16]);
/* An error answered by the transport itself (413, 503), in the cloud's body. */
void arm_response_error(arm_response_t *rs, int status, const char *code, const char *message);
#define ARM_TOO_LARGE "The request body is larger than privres accepts (4 MiB)."

/* ---- HTTP/2 (h2.c): an ARM server session over nghttp2, with no transport --------- */

typedef struct arm_h2 arm_h2_t;
typedef struct arm_h2_callbacks {
	/* A whole request arrived on stream (rq borrowed for the call):
	 * answer it with arm_h2_respond(), now or later. */
	void (*request)(void *arg, int32_t stream, const arm_request_t *rq);
	/* Octets for the client (borrowed for the call); 0 or an error. */
	int (*send)(void *arg, const uint8_t *data, size_t len);
} arm_h2_callbacks_t;

/* Concurrent streams a client may open on one connection. */
#define ARM_H2_MAX_STREAMS 128

/* A server session; its SETTINGS are queued (arm_h2_flush sends them). */
int arm_h2_new(const arm_h2_callbacks_t *cb, void *arg, arm_h2_t **out);
void arm_h2_destroy(arm_h2_t **hp);
/* Octets from the client: 0, or -EPROTO after which the connection ends
 * (a GOAWAY is queued when the session can still send one). */
int arm_h2_recv(arm_h2_t *h, const uint8_t *data, size_t len);
/* The answer of stream (copied); a stream the client reset is ignored. */
int arm_h2_respond(arm_h2_t *h, int32_t stream, const arm_response_t *rs);
/* Send what is queued through cb->send: 0 or an error. */
int arm_h2_flush(arm_h2_t *h);
/* Neither side wants the session any more. */
bool arm_h2_finished(const arm_h2_t *h);

/* ---- the server's pieces (http.c, front.c) ---------------------------------------- */

/* A request for the control thread. */
typedef struct arm_job arm_job_t;
struct arm_job {
	const arm_request_t *rq; /* borrowed until done */
	arm_response_t rs;       /* status 0: not answered, the server is stopping */
	/* Called once rs is set: on the control thread, or on the caller's when
	 * the server is stopping. */
	void (*done)(arm_job_t *j);
	arm_job_t *next;
};
/* Queue j for arm_handle() on the control thread (any thread). */
void arm_server_run(arm_server_t *s, arm_job_t *j);
/* Give an accepted connection that does not ask for HTTP/2 to the HTTP/1.1
 * server (libmicrohttpd, which does its TLS); fd is taken. */
void arm_server_http1(arm_server_t *s, int fd, const struct sockaddr *sa, socklen_t len);

/* The front (front.c): the listening socket's own thread accepts each
 * connection and reads its TLS ClientHello without taking it; one whose ALPN
 * offers "h2" is served there (GnuTLS, arm_h2), any other goes to
 * arm_server_http1(). */
typedef struct arm_front arm_front_t;
/* listen_fd (listening, taken); the certificate and key PEM (copied). */
int arm_front_start(arm_server_t *s, int listen_fd, const char *cert_pem, const char *key_pem,
		    arm_front_t **out, char **why);
/* Close every connection, join the thread (control thread). Clears *fp. */
void arm_front_stop(arm_front_t **fp);
/* Whether the TLS ClientHello in buf (the connection's first len octets)
 * offers ALPN "h2": 1 yes, 0 no (or not a ClientHello), -EAGAIN when the
 * first record is not all there yet. */
int arm_client_hello_h2(const uint8_t *buf, size_t len);

/* The api-version of the endpoint metadata (/metadata/endpoints) Terraform's
 * providers ask for through metadata_host. */
#define ARM_METADATA_API_VERSION "2022-09-01"
