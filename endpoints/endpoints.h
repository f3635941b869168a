/*
 * endpoints — the DNS listeners: worker threads, each with its own libuv loop
 * and its own SO_REUSEPORT UDP and TCP sockets on every listening address
 * (design.md §3), speaking UDP and TCP per RFC 1035 and RFC 7766 (W-1).
 *
 * This module knows nothing of the resource model or of resolution: it takes
 * a list of listening addresses and a handler, and runs the I/O. The handler
 * (resolve/, plugged in by daemon/) gets every received message as an
 * ep_query_t and answers it, at once or later, on the same worker's loop.
 *
 * Threads: ep_server_* functions are called from one control thread.
 * The handler, ep_query_* functions and the worker stop hook run on the
 * worker thread that received the query. ep_server_stats() is safe from any
 * thread (counters are relaxed atomics).
 * Input: everything received from the network is untrusted; a message that
 * has no full DNS header is dropped (W-3), anything else goes to the handler.
 * Signals: libuv writes to TCP sockets with write(2); the process must ignore
 * SIGPIPE (daemon/ and the tests do).
 * Errors: the base.h error space; socket errors are negative errno values.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/base.h"

typedef struct ep_server ep_server_t;
typedef struct ep_query ep_query_t;

typedef enum ep_transport {
	EP_UDP = 1,
	EP_TCP = 2,
} ep_transport_t;

/* A DNS message needs at least its 12-octet header (RFC 1035 §4.1.1, W-3). */
#define EP_DNS_HEADER_LEN 12
/* The largest DNS message over TCP (RFC 1035 §4.2.2: 16-bit length). */
#define EP_TCP_MAX_MESSAGE 65535
/* The largest UDP payload over IPv4 (65535 - 20 - 8). */
#define EP_UDP_MAX_MESSAGE 65507

/* One listening address. Borrowed by the calls that take it; name is copied. */
typedef struct ep_listener_spec {
	const char *name; /* identity of the listener, unique in a list; copied */
	uint32_t addr;    /* IPv4, host byte order */
	uint16_t port;    /* 0: any free port, the same for UDP, TCP and every worker */
	void *cookie;     /* the caller's (e.g. which DNS view); handed back with each query */
} ep_listener_spec_t;

typedef struct ep_options {
	unsigned workers;             /* worker threads; 0: the number of cores */
	uint32_t tcp_idle_timeout_ms; /* RFC 7766 §6.2.3 idle timeout; default 10000 */
	uint32_t tcp_max_connections; /* per worker; default 1000 */
	uint32_t tcp_max_inflight;    /* queries in flight per TCP connection; default 100 */
	uint32_t tcp_max_write_queue; /* unsent answer bytes per TCP connection; default 262144 */
	uint32_t max_queries;         /* queries in flight per worker, UDP and TCP; default 16384 */
	uint32_t udp_rcvbuf;          /* SO_RCVBUF of UDP sockets; 0: the system's */
	uint32_t udp_sndbuf;          /* SO_SNDBUF of UDP sockets; 0: the system's */
	uint32_t tcp_backlog;         /* listen(2) backlog; default 128 */
} ep_options_t;

/* Fill *o with the defaults above. */
void ep_options_default(ep_options_t *o);

/*
 * The handler, called on the worker thread for each received message.
 * The query q is lent to the handler until it calls ep_query_answer() or
 * ep_query_drop() on it — exactly once, either inside this call or later
 * from a callback on the same worker's loop (ep_query_loop()). A query never
 * answered nor dropped is a leak and keeps its connection's in-flight slot.
 */
typedef void (*ep_handler_fn)(void *ctx, ep_query_t *q);

/* Per-worker state of the handler (caches, arenas, upstream sockets).
 * init: on the thread calling ep_server_start(), before the worker's thread
 *   runs; may create handles on loop. Returns 0 and *state, or an error that
 *   makes ep_server_start() fail.
 * stop: on the worker thread when the server stops, after the listeners and
 *   connections began closing; must close the handles init or the handler
 *   opened and answer or drop every query it still holds, so the loop ends.
 * fini: once the loop has closed (on the worker thread, or on the calling
 *   thread if start fails); frees the state. Each may be NULL. */
typedef int (*ep_worker_init_fn)(void *ctx, unsigned index, uv_loop_t *loop, void **state);
typedef void (*ep_worker_stop_fn)(void *ctx, void *state);
typedef void (*ep_worker_fini_fn)(void *ctx, void *state);

typedef struct ep_config {
	ep_options_t options;
	ep_handler_fn handler; /* required */
	void *ctx;             /* borrowed; passed to every callback */
	ep_worker_init_fn worker_init;
	ep_worker_stop_fn worker_stop;
	ep_worker_fini_fn worker_fini;
} ep_config_t;

/* Server-wide counters, summed over workers. */
typedef struct ep_stats {
	uint64_t udp_queries;       /* UDP messages handed to the handler */
	uint64_t tcp_queries;       /* TCP messages handed to the handler */
	uint64_t tcp_accepted;      /* connections accepted */
	uint64_t tcp_open;          /* connections open now */
	uint64_t tcp_closed_idle;   /* closed by the idle timeout */
	uint64_t tcp_closed_cap;    /* closed because of the connection cap */
	uint64_t tcp_closed_slow;   /* closed because the client did not read (write queue cap) */
	uint64_t tcp_closed_badlen; /* closed for a length prefix under 12 octets (W-3) */
	uint64_t dropped_short;     /* UDP messages without a full header (W-3) */
	uint64_t dropped_busy;      /* messages dropped: worker at max_queries */
	uint64_t answers_sent;      /* answers sent or queued to the kernel */
	uint64_t send_errors;       /* answers that could not be sent */
	uint64_t recv_errors;       /* socket receive and accept errors */
} ep_stats_t;

/* A server, not yet started. cfg is copied. Returns 0 and *out (owned),
 * or -EINVAL for a config without a handler or with zero limits. */
int ep_server_new(const ep_config_t *cfg, ep_server_t **out);

/*
 * Bind every listener on every worker (UDP and TCP, SO_REUSEPORT), then start
 * the worker threads. On failure nothing stays open, and diag (may be NULL)
 * names the listener and address that failed: "listeners[in]: 127.0.0.1:53:
 * Address already in use". Returns 0, -EALREADY if started, a negative errno.
 * specs: borrowed; names copied; cookies kept.
 */
int ep_server_start(ep_server_t *s, const ep_listener_spec_t *specs, size_t n, pr_diag_t *diag);

/*
 * Make the listeners exactly specs (at run time, from the control thread):
 * listeners whose name, address and requested port are unchanged stay open
 * and take the new cookie; the others are closed (with their TCP connections)
 * and new ones are bound on every worker. Returns once every worker has
 * applied the change. On a bind failure nothing changes; diag says why.
 */
int ep_server_set_listeners(ep_server_t *s, const ep_listener_spec_t *specs, size_t n,
			    pr_diag_t *diag);

/* Current listeners, in the order of the last successful start/set. */
size_t ep_server_listener_count(const ep_server_t *s);
/* The bound port of listener i (the actual one when 0 was asked), or 0. */
uint16_t ep_server_listener_port(const ep_server_t *s, size_t i);
/* Its name (borrowed, valid until the next set_listeners or destroy), or NULL. */
const char *ep_server_listener_name(const ep_server_t *s, size_t i);

unsigned ep_server_worker_count(const ep_server_t *s);

/* Sum of every worker's counters into *out. Any thread. */
void ep_server_stats(const ep_server_t *s, ep_stats_t *out);

/*
 * Close every listener and connection on every worker, run the worker stop
 * hooks, drain and close the loops, join the threads. Returns 0, or -EBUSY if
 * a loop still had handles (a handler that did not close its own). Idempotent.
 */
int ep_server_stop(ep_server_t *s);

/* Stop if running, then free. Accepts NULL; clears *sp. */
void ep_server_destroy(ep_server_t **sp);

/* --- One received message, lent to the handler (worker thread only). --- */

/* The message bytes (borrowed, valid until answer/drop). */
const uint8_t *ep_query_data(const ep_query_t *q);
size_t ep_query_len(const ep_query_t *q);
ep_transport_t ep_query_transport(const ep_query_t *q);
/* The client's address (borrowed): a struct sockaddr_in. */
const struct sockaddr *ep_query_peer(const ep_query_t *q);
/* The listener that received it: its cookie and name (borrowed). */
void *ep_query_listener_cookie(const ep_query_t *q);
const char *ep_query_listener_name(const ep_query_t *q);
unsigned ep_query_worker_index(const ep_query_t *q);
/* The handler's state for this worker (from worker_init). */
void *ep_query_worker_state(const ep_query_t *q);
/* The worker's loop, for later I/O (upstream queries, timers). */
uv_loop_t *ep_query_loop(const ep_query_t *q);
/* The largest answer this transport carries: EP_TCP_MAX_MESSAGE for TCP,
 * EP_UDP_MAX_MESSAGE for UDP. Fitting the client's UDP size (512 or its EDNS
 * buffer) and setting TC is the handler's job. */
size_t ep_query_max_answer(const ep_query_t *q);

/*
 * Send an answer and release q (it must not be used afterwards). buf is
 * copied; over TCP the 2-octet length prefix is added. If the connection or
 * listener closed meanwhile, nothing is sent. Returns 0 when sent or queued,
 * -EMSGSIZE if larger than ep_query_max_answer(), -ENOTCONN if the
 * connection or listener is gone, or a send error. q is released in all cases.
 */
int ep_query_answer(ep_query_t *q, const uint8_t *buf, size_t len);

/* Release q without answering. */
void ep_query_drop(ep_query_t *q);
