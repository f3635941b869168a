/*
 * The outbound forwarder: one per worker loop. A request is a sequence of
 * tries, one at a time, each at the target ep_health_choose() picks (F-10),
 * each with a fresh random ID (W-4) from a pooled, connected UDP socket; a
 * reply with TC set is asked again over TCP. One timer per request
 * bounds the current try and the whole request.
 *
 * UDP sockets are connected to the target, as Unbound does with its
 * udp-connect option: the kernel then drops datagrams from any other address
 * or port and reports ICMP errors (a closed port fails the try at once
 * instead of after its timeout). The matcher checks the source again anyway.
 * A socket per try cost a socket(2), connect(2), an epoll change and a close
 * on every forwarded question; a pool per target keeps RFC 5452's defence —
 * the kernel's random port, rotated after a few dozen tries or a second, or at
 * once when a try on it times out or fails — and a reply is matched to its try
 * by ID (unique per socket) and then checked whole (W-4).
 *
 * A request that joins the same question in flight (Q-6, req->join) sends
 * nothing: resolve/ wakes it from the thread that got the reply, through the
 * forwarder's async handle, and its result is that reply.
 *
 * Lifetimes (style.md §10): a request owns its timer and its current try; a
 * UDP try belongs to its request and waits on a socket of the pool; a TCP try
 * owns its handle and is freed in its close callback; a socket is closed once
 * it has left the pool and no try waits on it; a request is freed once it is
 * done and its handles are closed; the forwarder is freed once it is closing
 * and its last request, socket and async handle are gone.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints_p.h"
#include "endpoints/forward_p.h"
#include "resolve/resolve.h"

enum fcounter {
	F_REQUESTS,
	F_ANSWERED,
	F_FAILED,
	F_UNMAPPED,
	F_UDP_TRIES,
	F_TCP_TRIES,
	F_TRY_TIMEOUTS,
	F_TRY_ERRORS,
	F_SOURCE_BIND,
	F_WRONG_SOURCE,
	F_BAD_ID,
	F_BAD_QUESTION,
	F_MALFORMED,
	F_CANCELLED,
	F_JOINED,
	F_UDP_SOCKETS,
	F_DOT_TRIES,
	F_DOT_CONNECTIONS,
	F_DOT_HANDSHAKE,
	F_COUNT
};

#define POOL_BUCKETS 64

typedef struct try try_t;
typedef struct usock usock_t;
typedef struct dconn dconn_t;
typedef struct trust trust_t;

struct ep_forwarder {
	uv_loop_t *loop;
	ep_health_t *health;
	ep_rng_t rng;
	ep_forward_t *head; /* requests in flight */
	unsigned live;      /* requests not yet freed */
	unsigned sockets;   /* UDP sockets not yet closed */
	bool closing, wake_closed;
	_Atomic uint64_t counters[F_COUNT];
	usock_t *pool[POOL_BUCKETS]; /* sockets taking new tries, by target */
	/* Joined requests woken by other threads. */
	uv_async_t wake;
	pthread_mutex_t ready_lock;
	ep_forward_t *ready;
	/* Shared by every UDP socket of the loop, EP_MMSG_BATCH slots of any
	 * datagram a target can send: replies are read in batches (recvmmsg),
	 * each matched and consumed inside its receive callback. */
	uint8_t *rbuf;
	/* DNS over TLS ([privres]): the open connections, one per target,
	 * name and trust; the CAs they trust, by tlsCa file (NULL: the
	 * system's), read once and kept for the forwarder's life. */
	dconn_t *conns;
	unsigned n_conns; /* connections not yet freed */
	trust_t *trusts;
};

/* The CAs a DNS over TLS target's certificate must chain to. */
struct trust {
	trust_t *next;
	char *file; /* tlsCa, or NULL for the system's trust store */
	tls_client_t *client;
};

/* A DNS over TLS connection to one target (RFC 7858): tries share it,
 * pipelined, matched by ID. */
struct dconn {
	ep_forwarder_t *f;
	dconn_t *next; /* the forwarder's list while it takes new tries */
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_timer_t idle;
	tls_session_t *tls;
	uint32_t addr, source;
	uint16_t port;
	char *name; /* the name verified: tlsHostname, or the rule's address */
	char *file; /* tlsCa, or NULL */
	try_t *tries; /* waiting for a reply on it, sent or not */
	unsigned waiting;
	ep_frame_t frame;   /* plaintext replies */
	int handles;        /* close callbacks still to come */
	bool linked, ready, closing;
	unsigned answered;  /* replies matched on it */
};

/* A connected UDP socket of the pool. */
struct usock {
	uv_udp_t udp;
	ep_forwarder_t *f;
	usock_t *next; /* pool bucket chain while pooled */
	uint32_t addr, source;
	uint16_t port;
	bool pooled, closing;
	uint64_t born; /* uv_now() */
	unsigned uses;
	try_t *tries; /* waiting for a reply on this socket */
};

struct try {
	ep_forward_t *fw;
	int target;
	bool tcp;
	bool closing;
	uint16_t id;
	uint64_t started; /* uv_now() */
	usock_t *sock;     /* UDP */
	try_t *sock_next;  /* UDP: the socket's list */
	uv_tcp_t tcp_handle;
	uv_connect_t connect;
	uv_write_t write;
	uint8_t *out; /* the question with this try's ID (and the TCP prefix) */
	size_t out_len;
	ep_frame_t frame; /* TCP reply reassembly */
	bool dot;          /* a DNS over TLS try */
	bool sent, resent; /* DoT: written; sent again on a new connection */
	dconn_t *conn;     /* DoT: the connection it waits on */
	try_t *conn_next;
};

typedef enum fstate { FW_TRYING, FW_WAITING, FW_DEFERRED, FW_JOINED } fstate_t;

struct ep_forward {
	ep_forwarder_t *f;
	ep_forward_t *prev, *next;
	ep_forward_cb cb;
	void *arg;
	uint8_t *packet;
	size_t len;
	ep_question_t question;
	ep_forward_target_t targets[EP_FORWARD_MAX_TARGETS];
	size_t n_targets;
	uint32_t source;
	uint32_t try_timeout;
	uint64_t deadline;    /* uv_now() */
	uint64_t round_start; /* uv_now() when this round of targets began */
	uint32_t tried_mask;  /* targets tried in this round */
	uv_timer_t timer;
	fstate_t state;
	int deferred_status; /* FW_DEFERRED: the failure to report */
	try_t *cur;
	unsigned tries;
	int handles; /* timer + TCP tries whose close callback is still to come */
	bool done, in_start, timer_closing;
	const char *reason; /* the last try's failure in words (static), or NULL */
	int reason_target;
	/* FW_JOINED */
	resolve_exchange_t *join;
	void *token;         /* the registration, until woken or withdrawn */
	ep_forward_t *rnext; /* the forwarder's ready list */
	bool queued;         /* on the ready list (under ready_lock) */
};

static void count(ep_forwarder_t *f, enum fcounter c)
{
	/* One writer (the loop thread); readers on other threads see a
	 * relaxed value (as the listeners' counters do). */
	uint64_t v = atomic_load_explicit(&f->counters[c], memory_order_relaxed);
	atomic_store_explicit(&f->counters[c], v + 1, memory_order_relaxed);
}

static void forwarder_maybe_free(ep_forwarder_t *f)
{
	if (f->closing && f->live == 0 && f->sockets == 0 && f->n_conns == 0 && f->wake_closed) {
		while (f->trusts != NULL) {
			trust_t *t = f->trusts;
			f->trusts = t->next;
			tls_client_destroy(&t->client);
			free(t->file);
			free(t);
		}
		pthread_mutex_destroy(&f->ready_lock);
		free(f->rbuf);
		free(f);
	}
}

static void forward_maybe_free(ep_forward_t *fw)
{
	if (!fw->done || fw->handles > 0)
		return;
	ep_forwarder_t *f = fw->f;
	free(fw->packet);
	free(fw);
	f->live--;
	forwarder_maybe_free(f);
}

/* --- The UDP socket pool (W-4) --- */

static size_t pool_bucket(uint32_t addr, uint16_t port, uint32_t source)
{
	uint64_t h = ((uint64_t)addr << 16 | port) * 0x9e3779b97f4a7c15ull ^ source;
	return (size_t)(h >> 58) % POOL_BUCKETS;
}

static void on_sock_closed(uv_handle_t *h)
{
	usock_t *s = h->data;
	ep_forwarder_t *f = s->f;
	free(s);
	f->sockets--;
	forwarder_maybe_free(f);
}

/* The socket takes no new try; it closes once no try waits on it. */
static void sock_retire(usock_t *s)
{
	if (s->pooled) {
		usock_t **pp = &s->f->pool[pool_bucket(s->addr, s->port, s->source)];
		while (*pp != s)
			pp = &(*pp)->next;
		*pp = s->next;
		s->next = NULL;
		s->pooled = false;
	}
	if (s->tries == NULL && !s->closing) {
		s->closing = true;
		uv_close((uv_handle_t *)&s->udp, on_sock_closed);
	}
}

static bool sock_worn(const usock_t *s, uint64_t now)
{
	return s->uses >= EP_FORWARD_SOCKET_USES || now - s->born >= EP_FORWARD_SOCKET_MS;
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	usock_t *s = h->data;
	*buf = uv_buf_init((char *)s->f->rbuf, EP_MMSG_BATCH * EP_UDP_SLOT);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags);

static void source_sockaddr(uint32_t source, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(source);
	sin->sin_port = 0; /* W-4: the kernel's random ephemeral port */
}

static void target_sockaddr(const ep_forward_target_t *tg, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(tg->real_address);
	sin->sin_port = htons(tg->real_port);
}

/* A new connected socket to tg. *bind_err: the source address could not be
 * bound (O-1); other errors mean the socket itself failed. */
static int sock_open(ep_forwarder_t *f, const ep_forward_target_t *tg, uint32_t source,
		     usock_t **out, bool *bind_err)
{
	*bind_err = false;
	usock_t *s = pr_calloc(1, sizeof(*s));
	/* Under load many replies wait on one socket: one recvmmsg reads them. */
	int err = uv_udp_init_ex(f->loop, &s->udp, AF_INET | UV_UDP_RECVMMSG);
	if (err != 0) {
		free(s);
		return err; /* no socket (fds exhausted) */
	}
	s->udp.data = s;
	s->f = f;
	s->addr = tg->real_address;
	s->port = tg->real_port;
	s->source = source;
	s->born = uv_now(f->loop);
	f->sockets++;
	/* The pool's sockets never keep the loop alive: requests' timers do. */
	uv_unref((uv_handle_t *)&s->udp);
	struct sockaddr_in sin;
	if (source != 0) {
		source_sockaddr(source, &sin);
		err = uv_udp_bind(&s->udp, (struct sockaddr *)&sin, 0);
		*bind_err = err != 0;
	}
	if (err == 0) {
		/* W-4: without a source address, connect(2) binds the new
		 * socket to a random ephemeral port; with one, bind above
		 * asked for port 0. */
		target_sockaddr(tg, &sin);
		err = uv_udp_connect(&s->udp, (struct sockaddr *)&sin);
	}
	if (err == 0)
		err = uv_udp_recv_start(&s->udp, udp_alloc, udp_recv);
	if (err != 0) {
		sock_retire(s);
		return err;
	}
	atomic_store_explicit(&f->counters[F_UDP_SOCKETS],
			      atomic_load_explicit(&f->counters[F_UDP_SOCKETS],
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	s->pooled = true;
	size_t b = pool_bucket(s->addr, s->port, s->source);
	s->next = f->pool[b];
	f->pool[b] = s;
	*out = s;
	return 0;
}

/* A socket for a try at tg: one of the pool's at random, or a new one while
 * the pool holds fewer than EP_FORWARD_POOL_SOCKETS; worn ones retire. */
static int sock_take(ep_forwarder_t *f, const ep_forward_target_t *tg, uint32_t source,
		     usock_t **out, bool *bind_err)
{
	usock_t *ready[EP_FORWARD_POOL_SOCKETS];
	size_t n = 0;
	uint64_t now = uv_now(f->loop);
	usock_t *s = f->pool[pool_bucket(tg->real_address, tg->real_port, source)];
	while (s != NULL) {
		usock_t *next = s->next;
		if (s->addr == tg->real_address && s->port == tg->real_port &&
		    s->source == source) {
			if (sock_worn(s, now))
				sock_retire(s);
			else if (n < EP_FORWARD_POOL_SOCKETS)
				ready[n++] = s;
		}
		s = next;
	}
	if (n < EP_FORWARD_POOL_SOCKETS)
		return sock_open(f, tg, source, out, bind_err);
	*bind_err = false;
	*out = ready[ep_rng_u16(&f->rng) % n];
	return 0;
}

static try_t *sock_find(const usock_t *s, uint16_t id)
{
	for (try_t *t = s->tries; t != NULL; t = t->sock_next)
		if (t->id == id)
			return t;
	return NULL;
}

/* The try of a DNS over TLS connection's list with this ID, or NULL. */
static try_t *sock_find_in(try_t *list, uint16_t id)
{
	for (try_t *t = list; t != NULL; t = t->conn_next)
		if (t->id == id)
			return t;
	return NULL;
}

static void sock_add(usock_t *s, try_t *t)
{
	/* W-4: a fresh random ID, unique among the tries waiting here, so a
	 * reply names exactly one of them. */
	while (sock_find(s, t->id) != NULL)
		t->id = ep_rng_u16(&s->f->rng);
	t->out[0] = (uint8_t)(t->id >> 8);
	t->out[1] = (uint8_t)t->id;
	t->sock = s;
	t->sock_next = s->tries;
	s->tries = t;
	s->uses++;
}

static void sock_remove(try_t *t)
{
	usock_t *s = t->sock;
	try_t **pp = &s->tries;
	while (*pp != t)
		pp = &(*pp)->sock_next;
	*pp = t->sock_next;
	t->sock = NULL;
	if (!s->pooled)
		sock_retire(s); /* closes it when t was the last */
}

/* --- Tries --- */

static void conn_remove(try_t *t);

static void on_try_closed(uv_handle_t *h)
{
	try_t *t = h->data;
	ep_forward_t *fw = t->fw;
	ep_frame_free(&t->frame);
	free(t->out);
	free(t);
	fw->handles--;
	forward_maybe_free(fw);
}

static void try_close(try_t *t)
{
	if (t == NULL || t->closing)
		return;
	t->closing = true;
	if (t->fw->cur == t)
		t->fw->cur = NULL;
	if (t->tcp) {
		uv_close((uv_handle_t *)&t->tcp_handle, on_try_closed);
		return;
	}
	/* A UDP or DoT try holds no handle: off its socket or connection, and gone. */
	if (t->sock != NULL)
		sock_remove(t);
	if (t->conn != NULL)
		conn_remove(t);
	free(t->out);
	free(t);
}

static void on_timer_closed(uv_handle_t *h)
{
	ep_forward_t *fw = h->data;
	fw->handles--;
	forward_maybe_free(fw);
}

static void forward_unlink(ep_forward_t *fw)
{
	ep_forwarder_t *f = fw->f;
	if (fw->prev != NULL)
		fw->prev->next = fw->next;
	else
		f->head = fw->next;
	if (fw->next != NULL)
		fw->next->prev = fw->prev;
	fw->prev = fw->next = NULL;
}

/* A joined request stops waiting: its registration withdrawn, or, when the
 * wake-up came already, taken off the ready list. */
static void joined_detach(ep_forward_t *fw)
{
	if (fw->join == NULL)
		return;
	if (fw->token == NULL || !resolve_exchange_leave(fw->join, fw->token)) {
		ep_forwarder_t *f = fw->f;
		pthread_mutex_lock(&f->ready_lock);
		if (fw->queued) {
			ep_forward_t **pp = &f->ready;
			while (*pp != fw)
				pp = &(*pp)->rnext;
			*pp = fw->rnext;
			fw->queued = false;
		}
		pthread_mutex_unlock(&f->ready_lock);
	}
	fw->token = NULL;
	fw->join = NULL;
}

static void forward_release(ep_forward_t *fw)
{
	try_close(fw->cur);
	if (!fw->timer_closing) {
		fw->timer_closing = true;
		uv_close((uv_handle_t *)&fw->timer, on_timer_closed);
	}
}

static void on_deferred(uv_timer_t *timer);

/* End the request: the callback, once, then its handles close. reply is
 * borrowed for the callback (the receive buffer, the try's frame, or a
 * joined exchange's reply). */
static void forward_finish(ep_forward_t *fw, int status, const uint8_t *reply, size_t len,
			   const try_t *t)
{
	if (fw->done)
		return;
	if (fw->in_start) {
		/* Never call back from inside ep_forward_start(): the caller
		 * has not even got its handle yet. */
		PR_REQUIRE(status != 0);
		try_close(fw->cur);
		fw->state = FW_DEFERRED;
		fw->deferred_status = status;
		uv_timer_start(&fw->timer, on_deferred, 0, 0);
		return;
	}
	fw->done = true;
	forward_unlink(fw);
	count(fw->f, status == 0 ? F_ANSWERED : F_FAILED);
	if (status == -ECANCELED)
		count(fw->f, F_CANCELLED);
	ep_forward_result_t res = {
		.status = status,
		.reply = status == 0 ? reply : NULL,
		.len = status == 0 ? len : 0,
		.target = status == 0 && t != NULL ? t->target : -1,
		.tcp = status == 0 && t != NULL && t->tcp,
		.tries = fw->tries,
		.reason = status == 0 ? NULL : fw->reason,
		.reason_target = status == 0 ? -1 : fw->reason_target,
	};
	/* Handles close after the callback, so the reply stays valid in it
	 * and the callback may start new requests or close the forwarder. */
	fw->cb(fw->arg, &res);
	forward_release(fw);
}

static void on_deferred(uv_timer_t *timer)
{
	ep_forward_t *fw = timer->data;
	forward_finish(fw, fw->deferred_status, NULL, 0, NULL);
}

static void next_try(ep_forward_t *fw);
static void arm_timer(ep_forward_t *fw, uint64_t at);

static const ep_forward_target_t *try_target(const try_t *t)
{
	return &t->fw->targets[t->target];
}

static void conn_retire(dconn_t *c);

/* F-10: the try failed (timeout or socket error): the target's health takes
 * the failure, and the request moves on. A UDP socket that lost a try takes
 * no other (a fresh port for the next, W-4). */
static void try_failed(try_t *t, enum fcounter why)
{
	ep_forward_t *fw = t->fw;
	const ep_forward_target_t *tg = try_target(t);
	count(fw->f, why);
	ep_health_record_failure(fw->f->health, tg->real_address, tg->real_port, pr_now_ms());
	if (fw->reason != NULL && fw->reason_target == t->target)
		ep_health_note_reason(fw->f->health, tg->real_address, tg->real_port, fw->reason);
	if (t->sock != NULL)
		sock_retire(t->sock);
	if (t->conn != NULL)
		conn_retire(t->conn); /* as a UDP socket is: the next try gets a new one */
	try_close(t);
	next_try(fw);
}

static void try_answered(try_t *t, const uint8_t *reply, size_t len)
{
	const ep_forward_target_t *tg = try_target(t);
	ep_health_record_success(t->fw->f->health, tg->real_address, tg->real_port);
	forward_finish(t->fw, 0, reply, len, t);
}

static const enum fcounter verdict_counter[] = {
	[EP_REPLY_WRONG_SOURCE] = F_WRONG_SOURCE,
	[EP_REPLY_MALFORMED] = F_MALFORMED,
	[EP_REPLY_BAD_ID] = F_BAD_ID,
	[EP_REPLY_BAD_QUESTION] = F_BAD_QUESTION,
};

/* Count a dropped reply; true when it matched. */
static bool reply_accept(try_t *t, const uint8_t *buf, size_t len, const struct sockaddr *from)
{
	const ep_forward_target_t *tg = try_target(t);
	ep_reply_verdict_t v = ep_reply_match(buf, len, from, tg->real_address, tg->real_port,
					      t->id, &t->fw->question);
	if (v == EP_REPLY_OK)
		return true;
	count(t->fw->f, verdict_counter[v]);
	return false;
}

static try_t *try_new(ep_forward_t *fw, int target, bool tcp, bool dot)
{
	try_t *t = pr_calloc(1, sizeof(*t));
	t->fw = fw;
	t->target = target;
	t->tcp = tcp;
	t->dot = dot;
	t->id = ep_rng_u16(&fw->f->rng); /* W-4: a fresh random ID per try */
	t->started = uv_now(fw->f->loop);
	size_t prefix = tcp || dot ? 2 : 0;
	t->out_len = prefix + fw->len;
	t->out = pr_malloc(t->out_len);
	if (prefix) {
		t->out[0] = (uint8_t)(fw->len >> 8);
		t->out[1] = (uint8_t)fw->len;
	}
	memcpy(t->out + prefix, fw->packet, fw->len);
	t->out[prefix] = (uint8_t)(t->id >> 8);
	t->out[prefix + 1] = (uint8_t)t->id;
	ep_frame_init(&t->frame);
	fw->cur = t;
	fw->tries++;
	return t;
}

static void tcp_start(ep_forward_t *fw, int target);

/* Every try waiting on s fails: an ICMP error on a connected socket is its
 * target's (W-4 sockets see only their target's errors). */
static void sock_failed(usock_t *s)
{
	sock_retire(s);
	while (s->tries != NULL && !s->closing)
		try_failed(s->tries, F_TRY_ERRORS);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags)
{
	usock_t *s = h->data;
	if (s->closing)
		return;
	if (nread < 0) {
		sock_failed(s);
		return;
	}
	if (addr == NULL)
		return; /* nothing more to read now, or the end of a batch (MMSG_FREE) */
	ep_forwarder_t *f = s->f;
	if (flags & UV_UDP_PARTIAL) {
		count(f, F_MALFORMED);
		return;
	}
	const uint8_t *msg = (const uint8_t *)buf->base;
	size_t len = (size_t)nread;
	try_t *t = len >= 2 ? sock_find(s, (uint16_t)(msg[0] << 8 | msg[1])) : NULL;
	if (t == NULL) {
		/* No try has this ID: the matcher says why it is dropped. */
		static const ep_question_t none;
		uint16_t other = len >= 2 ? (uint16_t)~(msg[0] << 8 | msg[1]) : 0;
		count(f, verdict_counter[ep_reply_match(msg, len, addr, s->addr, s->port, other,
							&none)]);
		return;
	}
	if (!reply_accept(t, msg, len, addr))
		return; /* W-4: dropped; keep waiting for the real answer */
	if (dns_message_truncated(msg, len)) {
		/* a truncated answer is asked again over TCP, same
		 * target, before anything is returned. */
		ep_forward_t *fw = t->fw;
		int target = t->target;
		try_close(t);
		tcp_start(fw, target);
		return;
	}
	try_answered(t, msg, len);
}

/* Bind to the outbound endpoint's address (O-1). Returns 0, or the bind
 * error after ending the request: sending from another address would make
 * the target see a source the deployment does not have. */
static int bind_source(try_t *t, int err)
{
	if (err == 0)
		return 0;
	count(t->fw->f, F_SOURCE_BIND);
	forward_finish(t->fw, err, NULL, 0, NULL);
	return err;
}

static void udp_start(ep_forward_t *fw, int target)
{
	ep_forwarder_t *f = fw->f;
	try_t *t = try_new(fw, target, false, false);
	usock_t *s = NULL;
	bool bind_err = false;
	int err = sock_take(f, &fw->targets[target], fw->source, &s, &bind_err);
	if (bind_err) {
		bind_source(t, err);
		return;
	}
	if (err != 0) {
		/* The socket itself failed (fds exhausted, no route): the
		 * target was not reached; count it and move on. */
		try_failed(t, F_TRY_ERRORS);
		return;
	}
	sock_add(s, t);
	count(f, F_UDP_TRIES);
	/* Sent at once: a connected socket's send buffer has room for a
	 * question, and nothing waits on a send request. */
	uv_buf_t b = uv_buf_init((char *)t->out, (unsigned)t->out_len);
	int sent = uv_udp_try_send(&s->udp, &b, 1, NULL);
	if (sent < 0) {
		try_failed(t, F_TRY_ERRORS);
		return;
	}
	arm_timer(fw, t->started + fw->try_timeout);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	try_t *t = h->data;
	uint8_t *p;
	size_t n;
	ep_frame_reserve(&t->frame, &p, &n);
	*buf = uv_buf_init((char *)p, (unsigned)n);
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	try_t *t = s->data;
	if (t->closing || t->fw->done)
		return;
	if (nread < 0) {
		try_failed(t, F_TRY_ERRORS); /* EOF or reset before the answer */
		return;
	}
	ep_frame_commit(&t->frame, (size_t)nread);
	for (;;) {
		const uint8_t *msg;
		size_t len;
		int r = ep_frame_next(&t->frame, &msg, &len);
		if (r == 0)
			return;
		if (r < 0) {
			count(t->fw->f, F_MALFORMED);
			try_failed(t, F_TRY_ERRORS);
			return;
		}
		if (reply_accept(t, msg, len, NULL)) {
			try_answered(t, msg, len);
			return;
		}
		ep_frame_consume(&t->frame);
	}
}

static void tcp_written(uv_write_t *req, int status)
{
	try_t *t = req->handle->data;
	if (status < 0 && status != UV_ECANCELED && !t->closing && !t->fw->done)
		try_failed(t, F_TRY_ERRORS);
}

static void tcp_connected(uv_connect_t *req, int status)
{
	try_t *t = req->handle->data;
	if (status == UV_ECANCELED || t->closing || t->fw->done)
		return;
	int err = status;
	if (err == 0)
		err = uv_read_start((uv_stream_t *)&t->tcp_handle, tcp_alloc, tcp_read);
	if (err == 0) {
		uv_buf_t b = uv_buf_init((char *)t->out, (unsigned)t->out_len);
		err = uv_write(&t->write, (uv_stream_t *)&t->tcp_handle, &b, 1, tcp_written);
	}
	if (err != 0)
		try_failed(t, F_TRY_ERRORS);
}

static void tcp_start(ep_forward_t *fw, int target)
{
	ep_forwarder_t *f = fw->f;
	try_t *t = try_new(fw, target, true, false);
	int err = uv_tcp_init(f->loop, &t->tcp_handle);
	PR_REQUIRE(err == 0);
	t->tcp_handle.data = t;
	fw->handles++;
	struct sockaddr_in sin;
	if (fw->source != 0) {
		source_sockaddr(fw->source, &sin);
		/* libuv may defer a bind error to connect (it does for
		 * EADDRINUSE); both paths end the request as a bind error. */
		if (bind_source(t, uv_tcp_bind(&t->tcp_handle, (struct sockaddr *)&sin, 0)) != 0)
			return;
	}
	count(f, F_TCP_TRIES);
	target_sockaddr(&fw->targets[target], &sin);
	err = uv_tcp_connect(&t->connect, &t->tcp_handle, (struct sockaddr *)&sin, tcp_connected);
	if (err == UV_EADDRNOTAVAIL && fw->source != 0) {
		bind_source(t, err);
		return;
	}
	if (err != 0) {
		try_failed(t, F_TRY_ERRORS);
		return;
	}
	/* The TCP retry is a try of its own: a full try timeout, within the
	 * request's deadline. */
	arm_timer(fw, t->started + fw->try_timeout);
}

/* --- DNS over TLS tries ([privres], RFC 7858) ---
 *
 * One connection per target (address, port, source, verified name and CAs)
 * per forwarder, opened by the first try and kept: later tries are written on
 * it at once, pipelined, and their replies come back in any order, matched by
 * ID (unique among the tries waiting on it, W-4) and then checked whole. The
 * connection is unreferenced, like the UDP pool: requests' timers keep the
 * loop alive. */

/* The client credentials trusting file's CAs (NULL: the system's), read once.
 * NULL and *why when the file can't be read or holds no certificate. */
static const tls_client_t *trust_for(ep_forwarder_t *f, const char *file, const char **why)
{
	for (trust_t *t = f->trusts; t != NULL; t = t->next)
		if ((t->file == NULL) == (file == NULL) && (file == NULL || !strcmp(t->file, file)))
			return t->client;
	char *pem = NULL;
	tls_client_t *cl = NULL;
	if (file != NULL && tls_read_file(file, &pem) != 0) {
		*why = "tlsCa file can't be read";
		return NULL;
	}
	int err = tls_client_new(pem, &cl);
	free(pem);
	if (err != 0) {
		*why = file != NULL ? "tlsCa holds no CA certificate" : "no system trust store";
		return NULL;
	}
	trust_t *t = pr_calloc(1, sizeof(*t));
	t->file = file != NULL ? pr_strdup(file) : NULL;
	t->client = cl;
	t->next = f->trusts;
	f->trusts = t;
	return cl;
}

/* RFC 8310 §8: the name the certificate must carry: tlsHostname, or the
 * address the rule names (not the one it is mapped to). */
static const char *verify_name(const ep_forward_target_t *tg, char ip[16])
{
	return tg->tls_hostname != NULL ? tg->tls_hostname : pr_ipv4_format(tg->address, ip);
}

static bool same_text(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (a == NULL || !strcmp(a, b));
}

static dconn_t *conn_find(ep_forwarder_t *f, const ep_forward_target_t *tg, uint32_t source)
{
	char ip[16];
	const char *name = verify_name(tg, ip);
	for (dconn_t *c = f->conns; c != NULL; c = c->next)
		if (c->addr == tg->real_address && c->port == tg->real_port &&
		    c->source == source && !strcmp(c->name, name) && same_text(c->file, tg->tls_ca))
			return c;
	return NULL;
}

static void conn_unlink(dconn_t *c)
{
	if (!c->linked)
		return;
	dconn_t **pp = &c->f->conns;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->next = NULL;
	c->linked = false;
}

static void on_conn_closed(uv_handle_t *h)
{
	dconn_t *c = h->data;
	if (--c->handles > 0)
		return;
	ep_forwarder_t *f = c->f;
	tls_session_destroy(&c->tls);
	ep_frame_free(&c->frame);
	free(c->name);
	free(c->file);
	free(c);
	f->n_conns--;
	forwarder_maybe_free(f);
}

static void conn_close(dconn_t *c)
{
	if (c->closing)
		return;
	conn_unlink(c);
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_closed);
}

/* The connection takes no new try; it closes once no try waits on it. */
static void conn_retire(dconn_t *c)
{
	conn_unlink(c);
	if (c->tries == NULL)
		conn_close(c);
}

static void on_conn_idle(uv_timer_t *timer)
{
	dconn_t *c = timer->data;
	if (c->tries == NULL)
		conn_close(c);
}

static void conn_remove(try_t *t)
{
	dconn_t *c = t->conn;
	try_t **pp = &c->tries;
	while (*pp != t)
		pp = &(*pp)->conn_next;
	*pp = t->conn_next;
	t->conn = NULL;
	c->waiting--;
	if (c->tries != NULL)
		return;
	if (!c->linked)
		conn_close(c);
	else /* RFC 7858 §3.4: an unused connection is closed after a while */
		uv_timer_start(&c->idle, on_conn_idle, EP_DOT_IDLE_MS, 0);
}

static void conn_add(dconn_t *c, try_t *t)
{
	while (sock_find_in(c->tries, t->id) != NULL)
		t->id = ep_rng_u16(&c->f->rng); /* W-4: one try per ID on the connection */
	t->out[2] = (uint8_t)(t->id >> 8);
	t->out[3] = (uint8_t)t->id;
	t->conn = c;
	t->conn_next = c->tries;
	c->tries = t;
	c->waiting++;
	uv_timer_stop(&c->idle);
}

typedef struct wreq {
	uv_write_t req;
	dconn_t *conn;
	size_t len;
	uint8_t data[];
} wreq_t;

static void conn_failed(dconn_t *c, const char *why);

static void on_conn_written(uv_write_t *req, int status)
{
	wreq_t *w = (wreq_t *)req;
	dconn_t *c = w->conn;
	free(w);
	if (status < 0 && status != UV_ECANCELED && !c->closing)
		conn_failed(c, uv_strerror(status));
}

/* Write what the session has for the peer. */
static void conn_flush(dconn_t *c)
{
	const uint8_t *data;
	size_t len = tls_session_output(c->tls, &data);
	if (len == 0 || c->closing)
		return;
	wreq_t *w = pr_malloc(sizeof(*w) + len);
	w->conn = c;
	w->len = len;
	memcpy(w->data, data, len);
	tls_session_output_clear(c->tls);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	int err = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_conn_written);
	if (err != 0) {
		free(w);
		conn_failed(c, uv_strerror(err));
	}
}

/* Write the tries not yet sent, in one flush. */
static void conn_send_waiting(dconn_t *c)
{
	for (try_t *t = c->tries; t != NULL; t = t->conn_next) {
		if (t->sent)
			continue;
		t->sent = true;
		if (tls_session_write(c->tls, t->out, t->out_len) != 0) {
			conn_failed(c, "TLS write failed");
			return;
		}
	}
	conn_flush(c);
}

static void fail_try_why(try_t *t, const char *why)
{
	t->fw->reason = why;
	t->fw->reason_target = t->target;
	try_failed(t, F_TRY_ERRORS);
}

/* Every try waiting on c fails with why: the target counts as failed (F-10). */
static void conn_failed(dconn_t *c, const char *why)
{
	conn_unlink(c);
	if (c->tries == NULL) {
		conn_close(c);
		return;
	}
	while (c->tries != NULL && !c->closing)
		fail_try_why(c->tries, why);
}

static void dot_attach(try_t *t);

/* The server closed the connection (RFC 7766 §6.2.3 lets it, idle or not).
 * Tries that waited on a connection that had answered before are not the
 * target's fault: each is sent once more, on a new connection. */
static void conn_lost(dconn_t *c, const char *why)
{
	conn_unlink(c);
	if (c->answered == 0) {
		conn_failed(c, why);
		return;
	}
	while (c->tries != NULL && !c->closing) {
		try_t *t = c->tries;
		if (t->resent) {
			fail_try_why(t, why);
			continue;
		}
		conn_remove(t);
		t->resent = true;
		t->sent = false;
		dot_attach(t);
	}
	if (c->tries == NULL)
		conn_close(c); /* closed while idle, or every try moved */
}

static void conn_replies(dconn_t *c)
{
	for (;;) {
		const uint8_t *msg;
		size_t len;
		int r = ep_frame_next(&c->frame, &msg, &len);
		if (r == 0)
			return;
		if (r < 0) {
			count(c->f, F_MALFORMED);
			conn_failed(c, "malformed DNS over TLS reply");
			return;
		}
		try_t *t = sock_find_in(c->tries, (uint16_t)(msg[0] << 8 | msg[1]));
		if (t == NULL || !t->sent) {
			count(c->f, F_BAD_ID); /* a try that ended meanwhile, or none */
		} else if (reply_accept(t, msg, len, NULL)) {
			c->answered++;
			/* Its request ends here; a callback may start others on c
			 * or close the forwarder. The frame lives until c is freed. */
			try_answered(t, msg, len);
			if (c->closing)
				return;
		}
		ep_frame_consume(&c->frame);
	}
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	dconn_t *c = h->data;
	*buf = uv_buf_init((char *)c->f->rbuf, EP_MMSG_BATCH * EP_UDP_SLOT);
}

/* The handshake, then the plaintext: whole records in, replies out. */
static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	dconn_t *c = s->data;
	if (c->closing)
		return;
	if (nread < 0) {
		conn_lost(c, nread == UV_EOF ? "the server closed the connection"
					     : uv_strerror((int)nread));
		return;
	}
	tls_session_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread);
	if (!c->ready) {
		int r = tls_session_handshake(c->tls);
		conn_flush(c);
		if (r == -EAGAIN || c->closing)
			return;
		if (r != 0) {
			count(c->f, F_DOT_HANDSHAKE);
			const char *why = tls_session_server_cert_refused(c->tls);
			conn_failed(c, why != NULL ? why : "TLS handshake failed");
			return;
		}
		c->ready = true;
		conn_send_waiting(c);
	}
	while (!c->closing) {
		uint8_t *p;
		size_t room;
		ep_frame_reserve(&c->frame, &p, &room);
		ssize_t n = tls_session_read(c->tls, p, room);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			conn_flush(c);
			conn_lost(c, n == 0 ? "the server closed the connection" : "TLS failure");
			return;
		}
		ep_frame_commit(&c->frame, (size_t)n);
		conn_replies(c);
	}
	conn_flush(c); /* alerts or tickets the session answered */
}

static void conn_connected(uv_connect_t *req, int status)
{
	dconn_t *c = req->handle->data;
	if (status == UV_ECANCELED || c->closing)
		return;
	int err = status;
	if (err == 0)
		err = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
	if (err != 0) {
		conn_failed(c, uv_strerror(err));
		return;
	}
	if (tls_session_handshake(c->tls) == -EPROTO) {
		conn_failed(c, "TLS handshake failed");
		return;
	}
	conn_flush(c); /* the ClientHello */
}

/* A new connection to tg (not yet connected). *bind_err: the source address
 * could not be bound (O-1). *why: what failed otherwise. */
static int conn_open(ep_forwarder_t *f, const ep_forward_target_t *tg, uint32_t source,
		     dconn_t **out, bool *bind_err, const char **why)
{
	*bind_err = false;
	char ip[16];
	const char *name = verify_name(tg, ip);
	const tls_client_t *cl = trust_for(f, tg->tls_ca, why);
	if (cl == NULL)
		return PR_ECONFIG;
	tls_session_t *tls = NULL;
	if (tls_session_client_new(cl, name, TLS_ALPN_DOT, &tls) != 0) {
		*why = "TLS session could not be set up";
		return -EPROTO;
	}
	dconn_t *c = pr_calloc(1, sizeof(*c));
	c->f = f;
	c->tls = tls;
	c->addr = tg->real_address;
	c->port = tg->real_port;
	c->source = source;
	c->name = pr_strdup(name);
	c->file = tg->tls_ca != NULL ? pr_strdup(tg->tls_ca) : NULL;
	ep_frame_init(&c->frame);
	PR_REQUIRE(uv_tcp_init(f->loop, &c->tcp) == 0);
	PR_REQUIRE(uv_timer_init(f->loop, &c->idle) == 0);
	/* Each write is a whole question: no waiting for the ACK of the last. */
	uv_tcp_nodelay(&c->tcp, 1);
	c->tcp.data = c->idle.data = c;
	c->handles = 2;
	uv_unref((uv_handle_t *)&c->tcp);
	uv_unref((uv_handle_t *)&c->idle);
	f->n_conns++;
	count(f, F_DOT_CONNECTIONS);
	struct sockaddr_in sin;
	int err = 0;
	if (source != 0) {
		source_sockaddr(source, &sin);
		err = uv_tcp_bind(&c->tcp, (struct sockaddr *)&sin, 0);
		*bind_err = err != 0;
	}
	if (err == 0) {
		target_sockaddr(tg, &sin);
		err = uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&sin,
				     conn_connected);
		*bind_err = err == UV_EADDRNOTAVAIL && source != 0;
	}
	if (err != 0) {
		*why = uv_strerror(err);
		conn_close(c);
		return err;
	}
	c->linked = true;
	c->next = f->conns;
	f->conns = c;
	*out = c;
	return 0;
}

/* Put t on its target's connection (opened when there is none), sent at
 * once when the handshake is done, else when it is. */
static void dot_attach(try_t *t)
{
	ep_forward_t *fw = t->fw;
	ep_forwarder_t *f = fw->f;
	const ep_forward_target_t *tg = try_target(t);
	dconn_t *c = conn_find(f, tg, fw->source);
	if (c != NULL && c->waiting >= EP_DOT_MAX_WAITING)
		conn_retire(c); /* a fresh connection (and ID space) for the rest */
	if (c == NULL || !c->linked) {
		bool bind_err = false;
		const char *why = NULL;
		int err = conn_open(f, tg, fw->source, &c, &bind_err, &why);
		if (bind_err) {
			bind_source(t, err);
			return;
		}
		if (err != 0) {
			fail_try_why(t, why);
			return;
		}
	}
	conn_add(c, t);
	if (c->ready)
		conn_send_waiting(c);
}

static void dot_start(ep_forward_t *fw, int target)
{
	try_t *t = try_new(fw, target, false, true);
	count(fw->f, F_DOT_TRIES);
	/* Armed first: attaching may fail the try and move on at once. */
	arm_timer(fw, t->started + fw->try_timeout);
	dot_attach(t);
}

/* --- The request's timer: the current try's end, a round's pacing, or the
 * deadline, whichever comes first. --- */

static void on_timer(uv_timer_t *timer);

static void arm_timer(ep_forward_t *fw, uint64_t at)
{
	if (fw->done || fw->state == FW_DEFERRED)
		return;
	if (at > fw->deadline)
		at = fw->deadline;
	uint64_t now = uv_now(fw->f->loop);
	uv_timer_start(&fw->timer, on_timer, at > now ? at - now : 0, 0);
}

static void on_timer(uv_timer_t *timer)
{
	ep_forward_t *fw = timer->data;
	uint64_t now = uv_now(fw->f->loop);
	try_t *t = fw->cur;
	if (now >= fw->deadline) {
		/* A try cut short by the deadline says little about its
		 * target; only one that had its whole time counts (F-10). */
		if (t != NULL && now - t->started >= fw->try_timeout) {
			const ep_forward_target_t *tg = try_target(t);
			count(fw->f, F_TRY_TIMEOUTS);
			ep_health_record_failure(fw->f->health, tg->real_address, tg->real_port,
						 pr_now_ms());
		}
		forward_finish(fw, PR_ETIMEOUT, NULL, 0, NULL);
		return;
	}
	if (t != NULL) {
		fw->reason = NULL; /* no answer in time says it all */
		try_failed(t, F_TRY_TIMEOUTS);
		return;
	}
	next_try(fw); /* FW_WAITING: the next round may begin */
}

static void next_try(ep_forward_t *fw)
{
	if (fw->done || fw->state == FW_DEFERRED)
		return;
	ep_forwarder_t *f = fw->f;
	uint64_t now = uv_now(f->loop);
	int i = ep_health_choose(f->health, fw->targets, fw->n_targets, fw->tried_mask,
				 pr_now_ms());
	if (i < 0) {
		/* Every target had its try in this round. Begin another, as
		 * long as the deadline allows, but no sooner than one try
		 * timeout after the last began: targets that refuse at once
		 * are not hammered in a loop. */
		uint64_t next_round = fw->round_start + fw->try_timeout;
		if (next_round > now) {
			fw->state = FW_WAITING;
			arm_timer(fw, next_round);
			return;
		}
		fw->tried_mask = 0;
		fw->round_start = now;
		i = ep_health_choose(f->health, fw->targets, fw->n_targets, 0, pr_now_ms());
		PR_REQUIRE(i >= 0); /* some target is mapped (checked at start) */
	}
	fw->state = FW_TRYING;
	fw->tried_mask |= 1u << i;
	if (fw->targets[i].tls)
		dot_start(fw, i);
	else
		udp_start(fw, i);
}

/* --- Public API --- */

/* --- Joined requests (Q-6) --- */

/* Any thread, under the exchange's lock: hand the news to the loop. */
static void on_exchange_wake(void *arg)
{
	ep_forward_t *fw = arg;
	ep_forwarder_t *f = fw->f;
	pthread_mutex_lock(&f->ready_lock);
	fw->queued = true;
	fw->rnext = f->ready;
	f->ready = fw;
	pthread_mutex_unlock(&f->ready_lock);
	uv_async_send(&f->wake);
}

/* The exchange's reply (or none) is this request's. */
static void joined_deliver(ep_forward_t *fw)
{
	size_t len = 0;
	const uint8_t *reply = resolve_exchange_reply(fw->join, &len);
	fw->join = NULL;
	fw->token = NULL;
	forward_finish(fw, reply != NULL ? 0 : PR_ETIMEOUT, reply, len, NULL);
}

static void on_ready(uv_async_t *h)
{
	ep_forwarder_t *f = h->data;
	pthread_mutex_lock(&f->ready_lock);
	ep_forward_t *list = f->ready;
	f->ready = NULL;
	for (ep_forward_t *fw = list; fw != NULL; fw = fw->rnext)
		fw->queued = false;
	pthread_mutex_unlock(&f->ready_lock);
	while (list != NULL) {
		ep_forward_t *fw = list;
		list = fw->rnext;
		/* A callback before it may have closed the forwarder, ending it. */
		if (!fw->done)
			joined_deliver(fw);
	}
}

/* The deadline passed before the reply came, or the reply was in already
 * when the request started. */
static void on_joined_timer(uv_timer_t *timer)
{
	ep_forward_t *fw = timer->data;
	if (fw->token == NULL) {
		joined_deliver(fw);
		return;
	}
	if (resolve_exchange_leave(fw->join, fw->token)) {
		fw->token = NULL;
		fw->join = NULL;
		forward_finish(fw, PR_ETIMEOUT, NULL, 0, NULL);
	}
	/* else: woken meanwhile; on_ready delivers it. */
}

static void joined_start(ep_forward_t *fw, resolve_exchange_t *x)
{
	ep_forwarder_t *f = fw->f;
	count(f, F_JOINED);
	fw->state = FW_JOINED;
	fw->join = x;
	/* The token stays set once woken: withdrawing it then finds nothing
	 * (a closed exchange has no registration left), which says "woken". */
	void *token = NULL;
	int in = resolve_exchange_wait(x, on_exchange_wake, fw, &token);
	if (in != 0) {
		/* Never call back inside ep_forward_start(): on the next turn. */
		uv_timer_start(&fw->timer, on_joined_timer, 0, 0);
		return;
	}
	fw->token = token;
	uint64_t now = uv_now(f->loop);
	uv_timer_start(&fw->timer, on_joined_timer, fw->deadline > now ? fw->deadline - now : 0, 0);
}

/* --- Public API --- */

int ep_forwarder_new(uv_loop_t *loop, ep_health_t *health, ep_forwarder_t **out)
{
	PR_REQUIRE(loop != NULL && health != NULL && out != NULL);
	ep_forwarder_t *f = pr_calloc(1, sizeof(*f));
	int err = ep_rng_seed(&f->rng);
	if (err != 0) {
		free(f);
		return err;
	}
	f->loop = loop;
	f->health = health;
	f->rbuf = pr_malloc(EP_MMSG_BATCH * EP_UDP_SLOT);
	PR_REQUIRE(pthread_mutex_init(&f->ready_lock, NULL) == 0);
	PR_REQUIRE(uv_async_init(loop, &f->wake, on_ready) == 0);
	f->wake.data = f;
	uv_unref((uv_handle_t *)&f->wake); /* joined requests' timers keep the loop */
	*out = f;
	return 0;
}

static void on_wake_closed(uv_handle_t *h)
{
	ep_forwarder_t *f = h->data;
	f->wake_closed = true;
	forwarder_maybe_free(f);
}

void ep_forwarder_close(ep_forwarder_t **fp)
{
	if (fp == NULL || *fp == NULL)
		return;
	ep_forwarder_t *f = *fp;
	*fp = NULL;
	f->closing = true;
	/* Each callback learns its request ended; forward_finish() unlinks. */
	while (f->head != NULL) {
		ep_forward_t *fw = f->head;
		fw->in_start = false;
		joined_detach(fw);
		forward_finish(fw, -ECANCELED, NULL, 0, NULL);
	}
	for (size_t i = 0; i < POOL_BUCKETS; i++)
		while (f->pool[i] != NULL)
			sock_retire(f->pool[i]);
	while (f->conns != NULL)
		conn_retire(f->conns);
	/* No request waits on an exchange now: nothing wakes this handle. */
	uv_close((uv_handle_t *)&f->wake, on_wake_closed);
}

void ep_forwarder_stats(const ep_forwarder_t *f, ep_forward_stats_t *out)
{
	uint64_t c[F_COUNT];
	for (int i = 0; i < F_COUNT; i++)
		c[i] = atomic_load_explicit(&f->counters[i], memory_order_relaxed);
	*out = (ep_forward_stats_t){
		.requests = c[F_REQUESTS],
		.answered = c[F_ANSWERED],
		.failed = c[F_FAILED],
		.unmapped_targets = c[F_UNMAPPED],
		.udp_tries = c[F_UDP_TRIES],
		.tcp_tries = c[F_TCP_TRIES],
		.try_timeouts = c[F_TRY_TIMEOUTS],
		.try_errors = c[F_TRY_ERRORS],
		.source_bind_errors = c[F_SOURCE_BIND],
		.dropped_wrong_source = c[F_WRONG_SOURCE],
		.dropped_bad_id = c[F_BAD_ID],
		.dropped_bad_question = c[F_BAD_QUESTION],
		.dropped_malformed = c[F_MALFORMED],
		.cancelled = c[F_CANCELLED],
		.joined = c[F_JOINED],
		.udp_sockets = c[F_UDP_SOCKETS],
		.dot_tries = c[F_DOT_TRIES],
		.dot_connections = c[F_DOT_CONNECTIONS],
		.dot_handshake_failures = c[F_DOT_HANDSHAKE],
	};
}

int ep_forward_start(ep_forwarder_t *f, const ep_forward_request_t *req, ep_forward_cb cb,
		     void *arg, ep_forward_t **out)
{
	PR_REQUIRE(f != NULL && req != NULL && cb != NULL);
	if (f->closing)
		return -ECANCELED;
	ep_question_t q;
	if (req->packet == NULL || req->n_targets == 0 ||
	    req->n_targets > EP_FORWARD_MAX_TARGETS || req->len > EP_TCP_MAX_MESSAGE ||
	    dns_question_read(req->packet, req->len, &q) != 0)
		return -EINVAL;
	ep_forward_t *fw = pr_calloc(1, sizeof(*fw));
	fw->f = f;
	fw->cb = cb;
	fw->arg = arg;
	fw->packet = pr_malloc(req->len);
	memcpy(fw->packet, req->packet, req->len);
	fw->len = req->len;
	fw->question = q;
	memcpy(fw->targets, req->targets, req->n_targets * sizeof(req->targets[0]));
	fw->n_targets = req->n_targets;
	fw->source = req->source_address;
	fw->try_timeout = req->try_timeout_ms ? req->try_timeout_ms : EP_FORWARD_TRY_TIMEOUT_MS;
	uint32_t deadline = req->deadline_ms ? req->deadline_ms : EP_FORWARD_DEADLINE_MS;
	/* The loop's cached time may be a whole iteration old; the deadline
	 * counts from now. */
	uv_update_time(f->loop);
	uint64_t now = uv_now(f->loop);
	fw->deadline = now + deadline;
	fw->round_start = now;
	uv_timer_init(f->loop, &fw->timer);
	fw->timer.data = fw;
	fw->handles = 1;
	fw->next = f->head;
	if (f->head != NULL)
		f->head->prev = fw;
	f->head = fw;
	f->live++;
	count(f, F_REQUESTS);
	if (req->join != NULL) {
		joined_start(fw, req->join);
		if (out != NULL)
			*out = fw;
		return 0;
	}

	bool any_mapped = false;
	for (size_t i = 0; i < fw->n_targets; i++) {
		if (fw->targets[i].mapped)
			any_mapped = true;
		else
			count(f, F_UNMAPPED); /* design.md §4: never contacted */
	}
	fw->in_start = true;
	if (any_mapped)
		next_try(fw);
	else
		forward_finish(fw, PR_EUNMAPPED, NULL, 0, NULL);
	fw->in_start = false;
	if (out != NULL)
		*out = fw;
	return 0;
}

void ep_forward_cancel(ep_forward_t *fw)
{
	if (fw == NULL || fw->done)
		return;
	joined_detach(fw);
	fw->done = true;
	forward_unlink(fw);
	count(fw->f, F_CANCELLED);
	count(fw->f, F_FAILED);
	forward_release(fw);
}
