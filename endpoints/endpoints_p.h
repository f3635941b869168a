/*
 * endpoints — private to the folder (and its unit tests): TCP framing, the
 * per-connection budget, and the structures shared by server.c (control
 * thread) and worker.c (worker loops).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>

#include "endpoints/endpoints.h"

/* --- TCP framing: 2-octet length prefix, reassembled across partial reads. --- */

#define EP_FRAME_INITIAL 8192 /* first buffer of a connection */
#define EP_FRAME_MIN_TAIL 1024 /* compact when less room than this is left */

typedef struct ep_frame {
	uint8_t *buf;
	size_t cap, start, end; /* unread octets are buf[start, end) */
} ep_frame_t;

void ep_frame_init(ep_frame_t *f);
void ep_frame_free(ep_frame_t *f);
/* Room to read into (never empty): *ptr, *len, valid until the next call. */
void ep_frame_reserve(ep_frame_t *f, uint8_t **ptr, size_t *len);
/* n octets were read into the room given by ep_frame_reserve(). */
void ep_frame_commit(ep_frame_t *f, size_t n);
/* 1 and the message at the head (borrowed, valid until consume/reserve);
 * 0 if it is not complete yet; PR_EPARSE if its length is under 12 (W-3). */
int ep_frame_next(const ep_frame_t *f, const uint8_t **msg, size_t *len);
/* Drop the message ep_frame_next() returned. */
void ep_frame_consume(ep_frame_t *f);
size_t ep_frame_buffered(const ep_frame_t *f);

/* --- Per-connection budget: queries in flight and unsent answer octets. --- */

typedef struct ep_budget {
	uint32_t inflight, max_inflight;
	size_t queued, max_queued;
} ep_budget_t;

void ep_budget_init(ep_budget_t *b, uint32_t max_inflight, size_t max_queued);
/* May another message be read and handed out? (RFC 7766 §6.2.1.1 pipelining
 * with a cap: reading stops while the cap is reached.) */
bool ep_budget_may_read(const ep_budget_t *b);
void ep_budget_query_start(ep_budget_t *b);
void ep_budget_query_end(ep_budget_t *b);
/* Account n more queued octets: 0, or -ENOBUFS when over the cap (nothing
 * accounted then). */
int ep_budget_write_admit(ep_budget_t *b, size_t n);
void ep_budget_write_done(ep_budget_t *b, size_t n);
/* RFC 7766 §6.2.3: a connection with queries in flight is not idle. */
bool ep_budget_is_idle(const ep_budget_t *b);

/* --- Server and workers. --- */

/* Datagrams read per recvmmsg(2): libuv splits the buffer in 64 KiB slots,
 * 20 at most (its UV__MMSG_MAXWIDTH); the batch's answers leave together. */
#define EP_MMSG_BATCH 20
#define EP_UDP_SLOT 65536
/* Query bytes kept inside the pooled context; larger ones go to the heap. */
#define EP_QUERY_INLINE 1232

enum ep_counter {
	C_UDP_QUERIES,
	C_TCP_QUERIES,
	C_TCP_ACCEPTED,
	C_TCP_OPEN,
	C_TCP_CLOSED_IDLE,
	C_TCP_CLOSED_CAP,
	C_TCP_CLOSED_SLOW,
	C_TCP_CLOSED_BADLEN,
	C_DROPPED_SHORT,
	C_DROPPED_BUSY,
	C_ANSWERS_SENT,
	C_SEND_ERRORS,
	C_RECV_ERRORS,
	C_DOT_QUERIES,
	C_DOH_QUERIES,
	C_TLS_ACCEPTED,
	C_TLS_FAILED,
	C_TLS_CLIENT_CERT_REFUSED,
	C_DOH_BAD_REQUESTS,
	C_COUNT
};

typedef struct worker worker_t;
typedef struct wlistener wlistener_t;
typedef struct conn conn_t;
typedef struct sconn sconn_t; /* a DoT or DoH connection (secure.c) */

/* A message from the control thread to a worker (through uv_async_send). */
typedef enum cmd_type { CMD_ADD, CMD_REMOVE, CMD_COOKIE, CMD_STOP } cmd_type_t;
typedef struct cmd {
	cmd_type_t type;
	uint64_t id;     /* the server's listener id */
	char *name;      /* CMD_ADD: owned */
	void *cookie;    /* CMD_ADD, CMD_COOKIE */
	int udp_fd, tcp_fd; /* CMD_ADD: transferred (udp_fd -1 for DoT/DoH) */
	ep_protocol_t protocol; /* CMD_ADD */
	const tls_server_t *tls; /* CMD_ADD */
	bool ack;        /* last of a batch the control thread waits for */
	struct cmd *next;
} cmd_t;

/* One listener on one worker: its UDP and TCP handles. */
struct wlistener {
	worker_t *w;
	uint64_t id;
	char *name;
	void *cookie;
	uv_udp_t udp;
	uv_tcp_t tcp;
	int handles;   /* handles whose close callback is still to come */
	uint32_t refs; /* UDP queries in flight and TCP connections */
	ep_protocol_t protocol;
	const tls_server_t *tls; /* DoT/DoH */
	bool closing;
	wlistener_t *next; /* the worker's open listeners */
};

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	worker_t *w;
	wlistener_t *wl;
	struct sockaddr_in peer;
	ep_frame_t frame;
	ep_budget_t budget;
	int handles;
	bool closing, linked, reading, eof, dispatching;
	conn_t *prev, *next; /* the worker's connections, least recently active first */
};

struct ep_query {
	worker_t *w;
	ep_transport_t transport;
	bool live;
	wlistener_t *wl;
	conn_t *conn; /* TCP */
	sconn_t *sconn; /* DoT, DoH */
	int32_t stream; /* DoH: the HTTP/2 stream to answer on */
	struct sockaddr_in peer;
	const uint8_t *data;
	size_t len;
	uint8_t *heap; /* when the message or a queued UDP answer exceeds inline */
	uv_udp_send_t send; /* UDP answer when the socket would block */
	ep_query_t *next_free;
	uint8_t inline_buf[EP_QUERY_INLINE];
};

struct worker {
	ep_server_t *s;
	unsigned index;
	uv_loop_t loop;
	uv_async_t async;
	uv_thread_t thread;
	bool loop_ready, thread_started, state_ready, stopped;
	void *state;
	uint8_t *rbuf; /* recvmmsg buffer, shared by the worker's UDP sockets */
	wlistener_t *listeners;
	conn_t *conn_head, *conn_tail;
	uint32_t nconns;
	sconn_t *sconn_head, *sconn_tail; /* least recently active first */
	uint32_t nsconns;
	ep_query_t *free_queries;
	uint32_t live_queries;
	/* UDP answers made while libuv hands out one recvmmsg batch, held in
	 * their queries and sent with one sendmmsg(2) when the batch ends: one
	 * system call per batch instead of one per answer (udp_flush()). */
	wlistener_t *recv_wl; /* the listener whose batch is being handed out */
	wlistener_t *held_wl; /* the listener of the held answers */
	ep_query_t *held[EP_MMSG_BATCH];
	unsigned n_held;
	pthread_mutex_t mu; /* guards cmds */
	cmd_t *cmds, **cmds_tail;
	int drain_err; /* worker_drain()'s result */
	int result; /* first error of the last batch, reported with its ack */
	_Atomic uint64_t counters[C_COUNT];
};

typedef struct listener {
	uint64_t id;
	char *name;
	uint32_t addr;
	uint16_t req_port, port;
	void *cookie;
	ep_protocol_t protocol;
	const tls_server_t *tls;
} listener_t;

struct ep_server {
	ep_config_t cfg;
	unsigned nworkers;
	worker_t *workers;
	listener_t *ls;
	size_t nls;
	uint64_t next_id;
	bool started, stopped;
	pthread_mutex_t mu; /* guards acks, batch_err */
	pthread_cond_t cond;
	unsigned acks;
	int batch_err;
};

/* worker.c */
int worker_setup(worker_t *w, ep_server_t *s, unsigned index);
/* Adopt bound sockets as a listener (loop thread, or before it runs). The fds
 * are transferred in all cases; name copied. */
int worker_add_listener(worker_t *w, uint64_t id, const char *name, void *cookie, int udp_fd,
			int tcp_fd, ep_protocol_t protocol, const tls_server_t *tls);
/* The pooled query context of a message (copied), or NULL at max_queries;
 * and its release once answered or dropped. */
ep_query_t *query_get(worker_t *w, const uint8_t *msg, size_t len);
void query_release(ep_query_t *q);
/* A query or connection of wl is gone; the last one frees a closed wl. */
void wl_unref(wlistener_t *wl);

/* secure.c: DoT and DoH connections on a worker. */
void sconn_on_accept(uv_stream_t *server, int status);
int sconn_answer(ep_query_t *q, const uint8_t *buf, size_t len);
void sconn_query_done(ep_query_t *q);
const char *sconn_subject(const sconn_t *c);
/* Close the connections of wl (wl NULL: every one). */
void sconn_close_listener(worker_t *w, wlistener_t *wl);

/* --- DoH (doh.c): HTTP/2 server sessions, transport-free (RFC 8484). --- */

typedef struct doh doh_t;
typedef struct doh_callbacks {
	/* A DNS query arrived on stream (msg borrowed for the call). Answer it
	 * with doh_answer() now or later, or doh_error(). */
	void (*query)(void *arg, int32_t stream, const uint8_t *msg, size_t len);
	/* Octets to send to the client (borrowed for the call); 0 or an error. */
	int (*send)(void *arg, const uint8_t *data, size_t len);
} doh_callbacks_t;

#define DOH_MAX_BODY EP_TCP_MAX_MESSAGE /* a DNS message, RFC 8484 §6 */
#define DOH_MAX_PATH 4096               /* base64url of 65535 octets fits */

/* A session whose SETTINGS allow max_streams concurrent requests. Its preface
 * is queued; doh_flush() sends it. cb copied; arg borrowed. */
int doh_new(const doh_callbacks_t *cb, void *arg, uint32_t max_streams, doh_t **out);
void doh_destroy(doh_t **dp);
/* Octets from the client: 0, or a negative error after which the connection
 * is closed (a protocol error has a GOAWAY queued). */
int doh_recv(doh_t *d, const uint8_t *data, size_t len);
/* 200 with the DNS answer as body (copied); a stream the client reset is
 * ignored. Then doh_flush(). */
int doh_answer(doh_t *d, int32_t stream, const uint8_t *msg, size_t len);
/* An HTTP error status on stream (the query was not taken). */
int doh_error(doh_t *d, int32_t stream, int status);
/* Send what nghttp2 has queued through cb->send. 0 or an error. */
int doh_flush(doh_t *d);
/* Neither side wants the session any more (GOAWAY sent and done). */
bool doh_finished(const doh_t *d);
/* Requests refused with an HTTP error so far. */
uint64_t doh_bad_requests(const doh_t *d);

/* One request's parts, as HTTP/2 headers and body gave them (borrowed). */
typedef struct doh_request {
	const char *method, *path, *content_type; /* NULL when absent */
	const uint8_t *body;
	size_t body_len;
} doh_request_t;

/* RFC 8484 §4.1: the DNS message of a GET (?dns=, base64url without
 * padding) or POST (application/dns-message). Returns 200 with *msg and *len
 * (into scratch, which holds DOH_MAX_BODY octets, or the body) or the HTTP
 * status to answer: 400 bad request, 404 another path, 405 another method,
 * 413 too large, 415 another content type. */
int doh_parse_request(const doh_request_t *r, uint8_t *scratch, const uint8_t **msg,
		      size_t *len);
/* Begin closing everything and run the stop hook (loop thread). */
void worker_begin_stop(worker_t *w);
/* Run the loop to its end, close it, fini the state; 0 or -EBUSY.
 * worker_main() (the thread) runs it and keeps the result in drain_err. */
int worker_drain(worker_t *w);
void worker_push(worker_t *w, cmd_t *c);
void worker_main(void *arg);
void cmd_free(cmd_t *c);

static inline void counter_add(worker_t *w, enum ep_counter c, int64_t n)
{
	/* One writer per counter (the owning worker): a relaxed load and store
	 * avoid a locked instruction; readers sum racily. */
	uint64_t v = atomic_load_explicit(&w->counters[c], memory_order_relaxed);
	atomic_store_explicit(&w->counters[c], v + (uint64_t)n, memory_order_relaxed);
}
