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
#include "dns/dns.h"
#include "model/model.h"
#include "resolve/resolve.h"
#include "tls/tls.h"

typedef struct ep_server ep_server_t;
typedef struct ep_query ep_query_t;

typedef enum ep_transport {
	EP_UDP = 1,
	EP_TCP = 2,
} ep_transport_t;

/* Wire sizes: their one home is dns/dns.h. */
#define EP_DNS_HEADER_LEN DNS_HEADER_LEN
#define EP_TCP_MAX_MESSAGE DNS_TCP_MESSAGE_MAX
#define EP_UDP_MAX_MESSAGE DNS_UDP_MESSAGE_MAX

/* What a listener speaks (W-6). Plain DNS is UDP and TCP on one port; the
 * encrypted ones are TCP only, over TLS (endpoints/secure.c, doh.c). */
typedef enum ep_protocol {
	EP_PLAIN = 0, /* UDP and TCP (W-1) */
	EP_DOT,       /* DNS over TLS, RFC 7858, ALPN "dot" */
	EP_DOH,       /* DNS over HTTPS, RFC 8484, HTTP/2, ALPN "h2" */
} ep_protocol_t;

/* "dns", "dot", "doh" (static). */
const char *ep_protocol_name(ep_protocol_t p);

/* RFC 8467 §4.1: responses are padded to a multiple of 468 octets. */
#define EP_PADDING_BLOCK 468
/* RFC 8484: the path DoH queries are sent to. */
#define EP_DOH_PATH "/dns-query"

/* One listening address. Borrowed by the calls that take it; name is copied. */
typedef struct ep_listener_spec {
	const char *name; /* identity of the listener; (name, protocol) unique in a list; copied */
	uint32_t addr;    /* IPv4, host byte order */
	uint16_t port;    /* 0: any free port, the same for UDP, TCP and every worker */
	void *cookie;     /* the caller's (e.g. which DNS view); handed back with each query */
	ep_protocol_t protocol;   /* EP_PLAIN when left 0 */
	const tls_server_t *tls;  /* EP_DOT/EP_DOH: required; borrowed, must outlive the listener */
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
	uint64_t dot_queries;       /* DoT messages handed to the handler (W-6) */
	uint64_t doh_queries;       /* DoH requests handed to the handler (W-6) */
	uint64_t tls_accepted;      /* TLS handshakes completed */
	uint64_t tls_failed;        /* TLS handshakes refused or failed (client certificates too) */
	uint64_t tls_client_cert_refused; /* of those, refused for the client certificate (W-6) */
	uint64_t doh_bad_requests;  /* DoH requests answered with an HTTP error */
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
/* EP_TCP for every stream (TCP, DoT, DoH: no truncation, Q-7), EP_UDP. */
ep_transport_t ep_query_transport(const ep_query_t *q);
/* What the listener speaks (W-6). */
ep_protocol_t ep_query_protocol(const ep_query_t *q);
/* The verified client certificate's subject DN of a DoT/DoH query
 * (borrowed, valid until answer/drop), or NULL (W-6). */
const char *ep_query_client_subject(const ep_query_t *q);
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
 * copied; over TCP and DoT the 2-octet length prefix is added, over DoH it is
 * the body of a 200 response; over DoT and DoH the answer is padded per
 * RFC 8467 when the query carried an EDNS(0) padding option. If the connection or
 * listener closed meanwhile, nothing is sent. Returns 0 when sent or queued,
 * -EMSGSIZE if larger than ep_query_max_answer(), -ENOTCONN if the
 * connection or listener is gone, or a send error. q is released in all cases.
 */
int ep_query_answer(ep_query_t *q, const uint8_t *buf, size_t len);

/* Release q without answering. */
void ep_query_drop(ep_query_t *q);

/* ==========================================================================
 * Outbound: the forwarder and target health (F-10, Q-7, W-4, O-1)
 * (endpoints/forward.c, endpoints/health.c)
 *
 * A forwarder belongs to one worker loop (design.md §3: each worker has its
 * own upstream sockets): it sends a question to the targets of a rule, one
 * try at a time, each with a fresh random ID (W-4) from a connected UDP socket
 * on a random port chosen by the kernel, and accepts a reply only from the
 * target's address and port with that ID and the same question. Sockets are
 * pooled per target (and source address), not opened per try: a try takes one
 * of up to EP_FORWARD_POOL_SOCKETS sockets at random, and a socket takes no
 * new try once it served EP_FORWARD_SOCKET_USES tries, is
 * EP_FORWARD_SOCKET_MS old, or saw a try time out or fail (then a new port is
 * drawn: RFC 5452's unpredictable port, rotated). IDs are unique among the
 * tries waiting on one socket. A reply with TC set is asked again over TCP to
 * the same target before it is returned. A target with protocol Tls
 * ([privres], RFC 7858) is asked over DNS over TLS instead: one connection per
 * target per forwarder, kept open and shared by every try to it (pipelined,
 * answered in any order, matched by ID, unique among the tries waiting on
 * it), its certificate verified against tlsHostname or the rule's address; a
 * failed handshake fails the try with the reason (the target counts as
 * failed, F-10); an idle connection closes after EP_DOT_IDLE_MS, one that the
 * server closed is opened again, and tries that waited on a reused one are
 * sent once more on the new one. Targets are chosen through the health table
 * (F-10), which is process-wide: one ep_health_t, owned by the daemon,
 * shared by every forwarder, outliving every snapshot (design.md §3).
 *
 * Threads: ep_forwarder_* and ep_forward_* on the forwarder's loop thread;
 * ep_forwarder_stats() and every ep_health_* function from any thread
 * (health entries and counters are atomics; no lock).
 * Timing defaults (when a request leaves them 0): 800 ms per try, 4000 ms for
 * the whole request. Health defaults: 3 consecutive failures mark a target
 * unresponsive (EP_HEALTH_UNRESPONSIVE_AFTER); backoff after failure n is
 * 500 ms * 2^(n-1), at most 60 s; unresponsive for the daemon's
 * emulator.unresponsiveSeconds (F-10: 30 minutes in the cloud).
 * ========================================================================== */

/* L-5 and the timing defaults have their one home in model/model.h. */
#define EP_FORWARD_MAX_TARGETS MODEL_MAX_TARGETS_PER_RULE           /* L-5 */
#define EP_FORWARD_TRY_TIMEOUT_MS MODEL_DEFAULT_FORWARD_TIMEOUT_MS  /* default per try */
#define EP_FORWARD_DEADLINE_MS MODEL_DEFAULT_QUERY_DEADLINE_MS      /* the whole request */
#define EP_HEALTH_UNRESPONSIVE_AFTER 3        /* consecutive failures (F-10) */
#define EP_HEALTH_BACKOFF_BASE_MS 500         /* backoff after the first failure */
#define EP_HEALTH_BACKOFF_MAX_MS 60000        /* backoff ceiling */
#define EP_HEALTH_CAPACITY 16384              /* distinct targets tracked */
#define EP_FORWARD_POOL_SOCKETS 4             /* UDP sockets taking tries per target at once */
#define EP_FORWARD_SOCKET_USES 64             /* tries per UDP socket before it is rotated */
#define EP_FORWARD_SOCKET_MS 1000             /* age at which a UDP socket is rotated */
#define EP_DOT_IDLE_MS 20000                  /* an unused DNS over TLS connection closes */
#define EP_DOT_MAX_WAITING 4096               /* tries waiting on one DNS over TLS connection */

typedef struct ep_health ep_health_t;
typedef struct ep_forwarder ep_forwarder_t;
typedef struct resolve_exchange resolve_exchange_t; /* resolve/resolve.h */
typedef struct ep_forward ep_forward_t;

/* --- Target health (F-10) --- */

typedef enum ep_target_state {
	EP_TARGET_HEALTHY = 0,  /* no failure since the last success */
	EP_TARGET_BACKOFF,      /* failed; not tried again before its backoff expires */
	EP_TARGET_FAILING,      /* failed; backoff over, may be tried again */
	EP_TARGET_UNRESPONSIVE, /* failed EP_HEALTH_UNRESPONSIVE_AFTER times in a row: skipped */
} ep_target_state_t;

/* "healthy", "backoff", "failing", "unresponsive" (static). */
const char *ep_target_state_name(ep_target_state_t s);

/* One target's health, as the API's TargetHealth shows it. Times are
 * pr_now_ms() values (monotonic ms); 0 means never / not set. */
typedef struct ep_health_entry {
	uint32_t address; /* real address, host byte order */
	uint16_t port;
	ep_target_state_t state;
	uint32_t consecutive_failures;
	uint64_t last_failure_ms;
	uint64_t backoff_until_ms;
	uint64_t unresponsive_until_ms;
	const char *last_failure_reason; /* static words, or NULL: a timeout or a socket error */
} ep_health_entry_t;

/* A new, empty table (owned; pr_calloc: aborts on OOM). unresponsive_ms: how
 * long a target stays skipped after EP_HEALTH_UNRESPONSIVE_AFTER failures. */
ep_health_t *ep_health_new(uint32_t unresponsive_ms);
/* Accepts NULL; clears *hp. No forwarder may still use it. */
void ep_health_destroy(ep_health_t **hp);
/* Change the backoff (tests; base 0 disables it). Call before sharing h. */
void ep_health_set_backoff(ep_health_t *h, uint32_t base_ms, uint32_t max_ms);

/* A try at address:port failed (timeout, ICMP error, TCP failure) at now_ms. */
void ep_health_record_failure(ep_health_t *h, uint32_t address, uint16_t port, uint64_t now_ms);
/* Why the last failure of address:port happened, in words (static; kept
 * until the next call), as a failed TLS handshake says it. */
void ep_health_note_reason(ep_health_t *h, uint32_t address, uint16_t port, const char *why);
/* A try at address:port got a matching reply: back to healthy. */
void ep_health_record_success(ep_health_t *h, uint32_t address, uint16_t port);
/* The state of address:port at now_ms; *out (may be NULL) gets the entry
 * (an untracked target is healthy with zeros). */
ep_target_state_t ep_health_get(const ep_health_t *h, uint32_t address, uint16_t port,
				uint64_t now_ms, ep_health_entry_t *out);

/* A target of a forwarded question, as the rule names it and where it really
 * is (design.md §4): resolve/'s struct, so the pipeline's request goes to the
 * forwarder as it is. */
typedef resolve_target_t ep_forward_target_t;

/*
 * Which target to try next (F-10), at now_ms, among targets[0..n) that are
 * mapped and whose bit is clear in tried_mask (already tried by this request
 * in this round): the first in rule order that is neither unresponsive nor
 * backing off; else the first backing off (the only choice left); when every
 * mapped target is unresponsive, the least recently failed one not yet tried.
 * Returns its index, or -1 when none is left. targets: borrowed.
 */
int ep_health_choose(const ep_health_t *h, const ep_forward_target_t *targets, size_t n,
		     uint32_t tried_mask, uint64_t now_ms);

/* Copy up to cap entries (every tracked target) into out; returns how many
 * are tracked (more than cap means out holds only the first cap). */
size_t ep_health_list(const ep_health_t *h, uint64_t now_ms, ep_health_entry_t *out, size_t cap);

/* --- The forwarder --- */

/* A question to send outside privres: resolve/'s resolve_forward_t, the
 * pipeline's own request. Borrowed by ep_forward_start() (the packet is
 * copied); its ID is replaced on each try; source_address: bind to it when
 * non-zero (O-1, virtual mode); deadline_ms and try_timeout_ms 0 take
 * EP_FORWARD_DEADLINE_MS and EP_FORWARD_TRY_TIMEOUT_MS. */
typedef resolve_forward_t ep_forward_request_t;

/* The outcome of a request, lent to the callback. */
typedef struct ep_forward_result {
	/* 0: reply holds the target's answer. Otherwise no reply:
	 * PR_ETIMEOUT no matching answer within the deadline; PR_EUNMAPPED
	 * every target unmapped (nothing sent); -EADDRNOTAVAIL (or another
	 * bind error) the source address could not be bound (O-1, nothing
	 * sent); -ECANCELED the forwarder closed. */
	int status;
	const uint8_t *reply; /* borrowed for the callback; its ID is the try's, not the client's */
	size_t len;
	int target;     /* index in the request of the target that answered, or -1 */
	bool tcp;       /* the answer came over TCP (a TC retry, Q-7) */
	unsigned tries; /* tries made, TCP retries included */
	/* Without a reply: why the last try failed when its words say more than
	 * "no answer in time" (a DNS over TLS target's certificate refused, a
	 * connection refused; static), or NULL; and that try's target index. */
	const char *reason;
	int reason_target;
} ep_forward_result_t;

/* Called once per started request (not after ep_forward_cancel()), on the
 * loop thread. The request's handle is gone when it is called. */
typedef void (*ep_forward_cb)(void *arg, const ep_forward_result_t *res);

/* One forwarder's counters (the daemon sums them over workers). */
typedef struct ep_forward_stats {
	uint64_t requests;             /* ep_forward_start() calls accepted */
	uint64_t answered;             /* requests that got an answer */
	uint64_t failed;               /* requests that ended without one (any status) */
	uint64_t unmapped_targets;     /* unmapped targets skipped (design.md §4) */
	uint64_t udp_tries;            /* UDP tries sent */
	uint64_t tcp_tries;            /* TCP retries after TC */
	uint64_t try_timeouts;         /* tries that got no matching answer in time */
	uint64_t try_errors;           /* tries that failed on a socket error (ICMP, TCP) */
	uint64_t source_bind_errors;   /* the source address could not be bound (O-1) */
	uint64_t dropped_wrong_source; /* replies from another address or port (W-4) */
	uint64_t dropped_bad_id;       /* replies with another ID (W-4) */
	uint64_t dropped_bad_question; /* replies for another question (W-4) */
	uint64_t dropped_malformed;    /* replies too short, not responses, unreadable */
	uint64_t cancelled;            /* requests cancelled or cut by close */
	uint64_t joined;               /* requests that waited for the same question in flight */
	uint64_t udp_sockets;          /* UDP sockets opened (pooled, W-4) */
	uint64_t dot_tries;            /* DNS over TLS tries sent ([privres]) */
	uint64_t dot_connections;      /* DNS over TLS connections opened */
	uint64_t dot_handshake_failures; /* TLS handshakes failed (a certificate refused, …) */
} ep_forward_stats_t;

/* A forwarder on loop, choosing targets through health (borrowed; must
 * outlive the forwarder). Returns 0 and *out (owned; end it with
 * ep_forwarder_close()), or a negative errno (getrandom failed). */
int ep_forwarder_new(uv_loop_t *loop, ep_health_t *health, ep_forwarder_t **out);

/* End every request in flight (each callback gets -ECANCELED), close every
 * socket, and free the forwarder once the loop has run the close callbacks
 * (the loop must run again before it can close). Accepts NULL; clears *fp. */
void ep_forwarder_close(ep_forwarder_t **fp);

/* Copy the counters (any thread; relaxed atomics). */
void ep_forwarder_stats(const ep_forwarder_t *f, ep_forward_stats_t *out);

/*
 * Start forwarding req (borrowed; the packet and targets are copied).
 * cb(arg, result) is called exactly once, later on the loop — never inside
 * this call — unless the request is cancelled. *out (may be NULL) gets a
 * handle, valid until the callback runs or the request is cancelled.
 * Returns 0, -EINVAL for a packet with no readable question or no target, or
 * -ECANCELED when the forwarder is closing (a callback run by
 * ep_forwarder_close() starting another request); then nothing started and
 * cb is not called.
 */
int ep_forward_start(ep_forwarder_t *f, const ep_forward_request_t *req, ep_forward_cb cb,
		     void *arg, ep_forward_t **out);

/* Stop a request: its sockets close, its callback is never called. */
void ep_forward_cancel(ep_forward_t *fw);
