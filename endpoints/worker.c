/*
 * The worker side: one libuv loop per thread, its UDP and TCP listeners, TCP
 * connections and the pool of query contexts. Everything here runs on the
 * worker's thread, except worker_push() (control thread, under w->mu) and
 * the setup/adoption done before the thread starts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoints/endpoints_p.h"

static void on_async(uv_async_t *a);
static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags);
static void on_accept(uv_stream_t *server, int status);
static void conn_close(conn_t *c);
static void conn_dispatch(conn_t *c);

/* --- Queries: a per-worker free list, so the hot path does not allocate. --- */

ep_query_t *query_get(worker_t *w, const uint8_t *msg, size_t len)
{
	if (w->live_queries >= w->s->cfg.options.max_queries)
		return NULL;
	ep_query_t *q = w->free_queries;
	if (q != NULL)
		w->free_queries = q->next_free;
	else
		q = pr_malloc(sizeof(*q));
	q->w = w;
	q->live = true;
	q->conn = NULL;
	q->sconn = NULL;
	q->heap = NULL;
	q->next_free = NULL;
	uint8_t *dst = q->inline_buf;
	if (len > sizeof(q->inline_buf))
		dst = q->heap = pr_malloc(len);
	memcpy(dst, msg, len);
	q->data = dst;
	q->len = len;
	w->live_queries++;
	return q;
}

static void wl_maybe_free(wlistener_t *wl)
{
	if (!wl->closing || wl->handles > 0 || wl->refs > 0)
		return;
	free(wl->name);
	free(wl);
}

void wl_unref(wlistener_t *wl)
{
	PR_REQUIRE(wl->refs > 0);
	wl->refs--;
	wl_maybe_free(wl);
}

static void conn_maybe_free(conn_t *c)
{
	if (!c->closing || c->handles > 0 || c->budget.inflight > 0)
		return;
	ep_frame_free(&c->frame);
	if (c->wl != NULL)
		wl_unref(c->wl);
	free(c);
}

static void idle_timer_restart(conn_t *c);

/* RFC 7766 §6.2.4: after the client's EOF, finish the queries in flight and
 * flush their answers, then close. */
static void conn_maybe_finish(conn_t *c)
{
	const uint8_t *msg;
	size_t len;
	if (c->closing || !c->eof || c->budget.inflight > 0 || c->budget.queued > 0)
		return;
	if (ep_frame_next(&c->frame, &msg, &len) == 1)
		return;
	conn_close(c);
}

static void conn_query_done(conn_t *c)
{
	ep_budget_query_end(&c->budget);
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (ep_budget_is_idle(&c->budget))
		idle_timer_restart(c);
	/* Reading was paused at the in-flight cap: hand out what is buffered,
	 * and resume. Not from inside conn_dispatch(), whose loop goes on. */
	if (!c->dispatching)
		conn_dispatch(c);
}

void query_release(ep_query_t *q)
{
	worker_t *w = q->w;
	PR_REQUIRE(q->live);
	q->live = false;
	free(q->heap);
	q->heap = NULL;
	if (q->sconn != NULL)
		sconn_query_done(q);
	else if (q->transport == EP_TCP)
		conn_query_done(q->conn);
	else
		wl_unref(q->wl);
	q->next_free = w->free_queries;
	w->free_queries = q;
	w->live_queries--;
}

/* --- Query accessors. --- */

const uint8_t *ep_query_data(const ep_query_t *q)
{
	return q->data;
}

size_t ep_query_len(const ep_query_t *q)
{
	return q->len;
}

ep_transport_t ep_query_transport(const ep_query_t *q)
{
	return q->transport;
}

const struct sockaddr *ep_query_peer(const ep_query_t *q)
{
	return (const struct sockaddr *)&q->peer;
}

void *ep_query_listener_cookie(const ep_query_t *q)
{
	return q->wl->cookie;
}

ep_protocol_t ep_query_protocol(const ep_query_t *q)
{
	return q->wl->protocol;
}

const char *ep_query_client_subject(const ep_query_t *q)
{
	return q->sconn != NULL ? sconn_subject(q->sconn) : NULL;
}

const char *ep_query_listener_name(const ep_query_t *q)
{
	return q->wl->name;
}

unsigned ep_query_worker_index(const ep_query_t *q)
{
	return q->w->index;
}

void *ep_query_worker_state(const ep_query_t *q)
{
	return q->w->state;
}

uv_loop_t *ep_query_loop(const ep_query_t *q)
{
	return &q->w->loop;
}

size_t ep_query_max_answer(const ep_query_t *q)
{
	return q->transport == EP_TCP ? EP_TCP_MAX_MESSAGE : EP_UDP_MAX_MESSAGE;
}

void ep_query_drop(ep_query_t *q)
{
	query_release(q);
}

/* --- Answers. --- */

static void udp_send_done(uv_udp_send_t *req, int status)
{
	ep_query_t *q = req->data;
	if (status != UV_ECANCELED) /* cancelled: the listener closed */
		counter_add(q->w, status == 0 ? C_ANSWERS_SENT : C_SEND_ERRORS, 1);
	query_release(q);
}

/* Keep the answer in the query's own pooled buffer (the question is no
 * longer needed; buf may point into it). */
static void keep_answer(ep_query_t *q, const uint8_t *buf, size_t len)
{
	uint8_t *dst = q->inline_buf;
	if (len > sizeof(q->inline_buf)) {
		dst = pr_malloc(len);
		memcpy(dst, buf, len);
		free(q->heap);
		q->heap = dst;
	} else {
		memmove(dst, buf, len);
	}
	q->data = dst;
	q->len = len;
}

/* The socket would block: libuv sends the kept answer when it can. */
static int udp_queue(ep_query_t *q)
{
	uv_buf_t b = uv_buf_init((char *)q->data, (unsigned)q->len);
	q->send.data = q;
	int r = uv_udp_send(&q->send, &q->wl->udp, &b, 1, (const struct sockaddr *)&q->peer,
			    udp_send_done);
	if (r < 0) {
		counter_add(q->w, C_SEND_ERRORS, 1);
		query_release(q);
	}
	return r;
}

/* Send the held answers (answer_udp()) with sendmmsg(2): what the socket
 * cannot take now is queued as one answer would be, an answer it refuses is
 * counted as a send error; every held query is released. */
static void udp_flush(worker_t *w)
{
	unsigned n = w->n_held, i = 0;
	wlistener_t *wl = w->held_wl;
	struct mmsghdr msgs[EP_MMSG_BATCH];
	struct iovec iov[EP_MMSG_BATCH];
	int fd = -1;
	if (n == 0)
		return;
	w->n_held = 0;
	w->held_wl = NULL;
	uv_fileno((const uv_handle_t *)&wl->udp, &fd);
	for (unsigned k = 0; k < n; k++) {
		ep_query_t *q = w->held[k];
		iov[k] = (struct iovec){.iov_base = (void *)q->data, .iov_len = q->len};
		msgs[k].msg_hdr = (struct msghdr){.msg_name = &q->peer,
			.msg_namelen = sizeof(q->peer), .msg_iov = &iov[k], .msg_iovlen = 1};
	}
	while (i < n) {
		int r = sendmmsg(fd, msgs + i, n - i, 0);
		if (r > 0) {
			counter_add(w, C_ANSWERS_SENT, r);
			for (int k = 0; k < r; k++)
				query_release(w->held[i++]);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			while (i < n)
				udp_queue(w->held[i++]);
			break;
		}
		counter_add(w, C_SEND_ERRORS, 1); /* this answer only; the rest go on */
		query_release(w->held[i++]);
	}
}

static int answer_udp(ep_query_t *q, const uint8_t *buf, size_t len)
{
	worker_t *w = q->w;
	wlistener_t *wl = q->wl;
	if (wl->closing) {
		query_release(q);
		return -ENOTCONN;
	}
	/* Answered while its batch is handed out, with nothing queued before it
	 * (answers stay in order): held for the batch's sendmmsg. */
	if (wl == w->recv_wl && len <= sizeof(q->inline_buf) && wl->udp.send_queue_count == 0) {
		if (w->n_held > 0 && w->held_wl != wl)
			udp_flush(w);
		keep_answer(q, buf, len);
		w->held_wl = wl;
		w->held[w->n_held++] = q;
		if (w->n_held == EP_MMSG_BATCH)
			udp_flush(w);
		return 0;
	}
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int r = uv_udp_try_send(&wl->udp, &b, 1, (const struct sockaddr *)&q->peer);
	if (r >= 0) {
		counter_add(w, C_ANSWERS_SENT, 1);
		query_release(q);
		return 0;
	}
	if (r != UV_EAGAIN && r != UV_ENOSYS) {
		counter_add(w, C_SEND_ERRORS, 1);
		query_release(q);
		return r;
	}
	keep_answer(q, buf, len);
	return udp_queue(q);
}

typedef struct write_req {
	uv_write_t req;
	conn_t *conn;
	size_t len;
	uint8_t data[];
} write_req_t;

static void tcp_write_done(uv_write_t *req, int status)
{
	write_req_t *wr = (write_req_t *)req;
	conn_t *c = wr->conn;
	ep_budget_write_done(&c->budget, wr->len);
	free(wr);
	if (status < 0 && status != UV_ECANCELED) {
		counter_add(c->w, C_SEND_ERRORS, 1);
		conn_close(c);
		return;
	}
	conn_maybe_finish(c);
}

static int answer_tcp(ep_query_t *q, const uint8_t *buf, size_t len)
{
	worker_t *w = q->w;
	conn_t *c = q->conn;
	int r = 0;
	if (c->closing) {
		r = -ENOTCONN;
		goto cleanup;
	}
	uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	uv_buf_t bufs[2] = {uv_buf_init((char *)prefix, 2),
			    uv_buf_init((char *)buf, (unsigned)len)};
	size_t total = len + 2, written = 0;
	r = uv_try_write((uv_stream_t *)&c->tcp, bufs, 2);
	if (r >= 0) {
		written = (size_t)r;
	} else if (r != UV_EAGAIN && r != UV_ENOSYS) {
		counter_add(w, C_SEND_ERRORS, 1);
		conn_close(c);
		goto cleanup;
	}
	r = 0;
	if (written < total) {
		/* Partial write: the rest waits in a request, within the cap. */
		size_t rest = total - written;
		if (ep_budget_write_admit(&c->budget, rest) != 0) {
			counter_add(w, C_TCP_CLOSED_SLOW, 1);
			conn_close(c);
			r = -ENOBUFS;
			goto cleanup;
		}
		write_req_t *wr = pr_malloc(sizeof(*wr) + rest);
		wr->conn = c;
		wr->len = rest;
		uint8_t *p = wr->data;
		if (written < 2) {
			memcpy(p, prefix + written, 2 - written);
			p += 2 - written;
			memcpy(p, buf, len);
		} else {
			memcpy(p, buf + (written - 2), rest);
		}
		uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)rest);
		r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, tcp_write_done);
		if (r < 0) {
			ep_budget_write_done(&c->budget, rest);
			free(wr);
			counter_add(w, C_SEND_ERRORS, 1);
			conn_close(c);
			goto cleanup;
		}
	}
	counter_add(w, C_ANSWERS_SENT, 1);
cleanup:
	query_release(q);
	return r;
}

int ep_query_answer(ep_query_t *q, const uint8_t *buf, size_t len)
{
	PR_REQUIRE(q->live);
	if (len > ep_query_max_answer(q)) {
		counter_add(q->w, C_SEND_ERRORS, 1);
		query_release(q);
		return -EMSGSIZE;
	}
	if (q->sconn != NULL)
		return sconn_answer(q, buf, len);
	if (q->transport == EP_TCP)
		return answer_tcp(q, buf, len);
	return answer_udp(q, buf, len);
}

/* --- UDP. --- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	wlistener_t *wl = h->data;
	/* One buffer per worker: libuv fills it with up to EP_MMSG_BATCH
	 * datagrams and calls udp_recv for each before it reads again, and the
	 * handler gets a copy in its query context. */
	*buf = uv_buf_init((char *)wl->w->rbuf, EP_MMSG_BATCH * EP_UDP_SLOT);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	wlistener_t *wl = h->data;
	worker_t *w = wl->w;
	if (nread < 0) {
		counter_add(w, C_RECV_ERRORS, 1);
		return;
	}
	/* addr == NULL: nothing more to read now, or (UV_UDP_MMSG_FREE) the end
	 * of a recvmmsg batch whose buffer libuv hands back to be freed; ours is
	 * the worker's own and stays. Either way the batch's answers go out. A
	 * datagram with addr set may be empty. */
	if (addr == NULL) {
		udp_flush(w);
		return;
	}
	if ((flags & UV_UDP_PARTIAL) || addr->sa_family != AF_INET) {
		counter_add(w, C_RECV_ERRORS, 1);
		return;
	}
	/* W-3: without a full header there is not even an ID to answer to. */
	if ((size_t)nread < EP_DNS_HEADER_LEN) {
		counter_add(w, C_DROPPED_SHORT, 1);
		return;
	}
	ep_query_t *q = query_get(w, (const uint8_t *)buf->base, (size_t)nread);
	if (q == NULL) {
		counter_add(w, C_DROPPED_BUSY, 1);
		return;
	}
	q->transport = EP_UDP;
	q->wl = wl;
	memcpy(&q->peer, addr, sizeof(q->peer));
	wl->refs++;
	counter_add(w, C_UDP_QUERIES, 1);
	/* Only a datagram of a recvmmsg batch is sure to be followed by the
	 * batch's end (UV_UDP_MMSG_FREE), where held answers are sent. */
	w->recv_wl = (flags & UV_UDP_MMSG_CHUNK) ? wl : NULL;
	w->s->cfg.handler(w->s->cfg.ctx, q);
	w->recv_wl = NULL;
}

/* --- TCP connections. --- */

static void conn_unlink(conn_t *c)
{
	worker_t *w = c->w;
	if (!c->linked)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conn_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->conn_tail = c->prev;
	c->prev = c->next = NULL;
	c->linked = false;
	w->nconns--;
}

static void conn_link_tail(conn_t *c)
{
	worker_t *w = c->w;
	c->prev = w->conn_tail;
	c->next = NULL;
	if (w->conn_tail)
		w->conn_tail->next = c;
	else
		w->conn_head = c;
	w->conn_tail = c;
	c->linked = true;
	w->nconns++;
}

/* Activity: the connection becomes the most recently active one. */
static void conn_touch(conn_t *c)
{
	if (c->linked && c->w->conn_tail != c) {
		conn_unlink(c);
		conn_link_tail(c);
	}
}

static void conn_handle_closed(uv_handle_t *h)
{
	conn_t *c = h->data;
	c->handles--;
	conn_maybe_free(c);
}

static void conn_close(conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->linked) {
		conn_unlink(c);
		counter_add(c->w, C_TCP_OPEN, -1);
	}
	/* Pending writes are cancelled (their callbacks run before the close
	 * callback); queries in flight keep c alive and answer into nothing. */
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	if (c->handles == 2)
		uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void on_idle(uv_timer_t *t)
{
	conn_t *c = t->data;
	if (!ep_budget_is_idle(&c->budget)) {
		idle_timer_restart(c);
		return;
	}
	counter_add(c->w, C_TCP_CLOSED_IDLE, 1);
	conn_close(c);
}

static void idle_timer_restart(conn_t *c)
{
	uv_timer_start(&c->timer, on_idle, c->w->s->cfg.options.tcp_idle_timeout_ms, 0);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	conn_t *c = h->data;
	uint8_t *p;
	size_t len;
	ep_frame_reserve(&c->frame, &p, &len);
	*buf = uv_buf_init((char *)p, (unsigned)len);
}

static void tcp_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void conn_set_reading(conn_t *c, bool on)
{
	if (on == c->reading)
		return;
	int r = on ? uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc, tcp_read)
		   : uv_read_stop((uv_stream_t *)&c->tcp);
	if (r < 0) {
		counter_add(c->w, C_RECV_ERRORS, 1);
		conn_close(c);
		return;
	}
	c->reading = on;
}

/* Hand every complete buffered message to the handler, within the in-flight
 * cap (RFC 7766 §6.2.1.1: pipelined queries are processed concurrently and
 * answered as they complete), then read on or pause. */
static void conn_dispatch(conn_t *c)
{
	worker_t *w = c->w;
	const uint8_t *msg;
	size_t len;
	c->dispatching = true;
	while (!c->closing && ep_budget_may_read(&c->budget)) {
		int r = ep_frame_next(&c->frame, &msg, &len);
		if (r == 0)
			break;
		if (r < 0) {
			counter_add(w, C_TCP_CLOSED_BADLEN, 1);
			conn_close(c);
			break;
		}
		ep_query_t *q = query_get(w, msg, len);
		if (q == NULL) {
			/* The worker is saturated: closing lets the client retry
			 * elsewhere, where a silent drop would stall the stream. */
			counter_add(w, C_DROPPED_BUSY, 1);
			conn_close(c);
			break;
		}
		ep_frame_consume(&c->frame);
		conn_touch(c);
		idle_timer_restart(c);
		q->transport = EP_TCP;
		q->conn = c;
		q->wl = c->wl;
		q->peer = c->peer;
		ep_budget_query_start(&c->budget);
		counter_add(w, C_TCP_QUERIES, 1);
		w->s->cfg.handler(w->s->cfg.ctx, q);
	}
	c->dispatching = false;
	if (c->closing)
		return;
	conn_set_reading(c, !c->eof && ep_budget_may_read(&c->budget));
	conn_maybe_finish(c);
}

static void tcp_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	conn_t *c = st->data;
	if (nread > 0) {
		/* Only a whole message counts as activity (conn_dispatch): a
		 * client sending a byte now and then (slow-loris) is idle. */
		ep_frame_commit(&c->frame, (size_t)nread);
		conn_dispatch(c);
	} else if (nread == UV_EOF) {
		c->eof = true;
		conn_set_reading(c, false);
		conn_maybe_finish(c);
	} else if (nread < 0) {
		conn_close(c);
	}
}

/* The least recently active connection with no query in flight, or NULL. */
static conn_t *oldest_idle(worker_t *w)
{
	for (conn_t *c = w->conn_head; c != NULL; c = c->next)
		if (ep_budget_is_idle(&c->budget))
			return c;
	return NULL;
}

static void on_accept(uv_stream_t *server, int status)
{
	wlistener_t *wl = server->data;
	worker_t *w = wl->w;
	const ep_options_t *o = &w->s->cfg.options;
	if (status < 0) {
		counter_add(w, C_RECV_ERRORS, 1);
		return;
	}
	conn_t *c = pr_calloc(1, sizeof(*c));
	c->w = w;
	ep_frame_init(&c->frame);
	ep_budget_init(&c->budget, o->tcp_max_inflight, o->tcp_max_write_queue);
	uv_tcp_init(&w->loop, &c->tcp);
	c->tcp.data = c;
	c->handles = 1;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		counter_add(w, C_RECV_ERRORS, 1);
		conn_close(c);
		return;
	}
	counter_add(w, C_TCP_ACCEPTED, 1);
	/* The connection cap: make room by closing the least recently active
	 * idle connection (RFC 7766 §6.2.3 lets a server close idle ones); when
	 * every connection has queries in flight, the new one is closed. */
	if (w->nconns >= o->tcp_max_connections) {
		conn_t *victim = oldest_idle(w);
		counter_add(w, C_TCP_CLOSED_CAP, 1);
		if (victim == NULL) {
			conn_close(c);
			return;
		}
		conn_close(victim);
	}
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->wl = wl;
	wl->refs++;
	int len = sizeof(c->peer);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
		memset(&c->peer, 0, sizeof(c->peer));
	uv_tcp_nodelay(&c->tcp, 1); /* answers are small; pipelined ones must not wait */
	conn_link_tail(c);
	counter_add(w, C_TCP_OPEN, 1);
	idle_timer_restart(c);
	conn_set_reading(c, true);
}

/* --- Listeners on this worker. --- */

static void wl_handle_closed(uv_handle_t *h)
{
	wlistener_t *wl = h->data;
	wl->handles--;
	wl_maybe_free(wl);
}

static void wl_close(wlistener_t *wl)
{
	worker_t *w = wl->w;
	if (wl->closing)
		return;
	if (w->held_wl == wl)
		udp_flush(w); /* answers made before the close go out */
	wl->closing = true;
	for (wlistener_t **pp = &w->listeners; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wl) {
			*pp = wl->next;
			break;
		}
	}
	/* Its connections go with it: a removed endpoint answers nothing. */
	conn_t *next;
	for (conn_t *c = w->conn_head; c != NULL; c = next) {
		next = c->next;
		if (c->wl == wl)
			conn_close(c);
	}
	sconn_close_listener(w, wl);
	uv_close((uv_handle_t *)&wl->udp, wl_handle_closed);
	uv_close((uv_handle_t *)&wl->tcp, wl_handle_closed);
}

int worker_add_listener(worker_t *w, uint64_t id, const char *name, void *cookie, int udp_fd,
			int tcp_fd, ep_protocol_t protocol, const tls_server_t *tls)
{
	wlistener_t *wl = pr_calloc(1, sizeof(*wl));
	int r;
	wl->w = w;
	wl->id = id;
	wl->name = pr_strdup(name);
	wl->cookie = cookie;
	wl->protocol = protocol;
	wl->tls = tls;
	uv_udp_init_ex(&w->loop, &wl->udp, AF_UNSPEC | UV_UDP_RECVMMSG);
	uv_tcp_init(&w->loop, &wl->tcp);
	wl->udp.data = wl->tcp.data = wl;
	wl->handles = 2;
	wl->next = w->listeners;
	w->listeners = wl;
	/* From here, wl_close() closes the fds that were adopted. */
	/* DoT and DoH listen on TCP only: their UDP handle stays unopened. */
	r = udp_fd >= 0 ? uv_udp_open(&wl->udp, udp_fd) : 0;
	if (r < 0) {
		close(udp_fd);
		close(tcp_fd);
		goto cleanup;
	}
	r = uv_tcp_open(&wl->tcp, tcp_fd);
	if (r < 0) {
		close(tcp_fd);
		goto cleanup;
	}
	r = udp_fd >= 0 ? uv_udp_recv_start(&wl->udp, udp_alloc, udp_recv) : 0;
	if (r < 0)
		goto cleanup;
	r = uv_listen((uv_stream_t *)&wl->tcp, (int)w->s->cfg.options.tcp_backlog,
		      protocol == EP_PLAIN ? on_accept : sconn_on_accept);
cleanup:
	if (r < 0)
		wl_close(wl);
	return r;
}

static wlistener_t *wl_find(worker_t *w, uint64_t id)
{
	for (wlistener_t *wl = w->listeners; wl != NULL; wl = wl->next)
		if (wl->id == id)
			return wl;
	return NULL;
}

/* --- The worker's life. --- */

int worker_setup(worker_t *w, ep_server_t *s, unsigned index)
{
	w->s = s;
	w->index = index;
	w->cmds_tail = &w->cmds;
	int r = uv_loop_init(&w->loop);
	if (r < 0)
		return r;
	r = uv_async_init(&w->loop, &w->async, on_async);
	if (r < 0) {
		uv_loop_close(&w->loop);
		return r;
	}
	w->async.data = w;
	w->rbuf = pr_malloc(EP_MMSG_BATCH * EP_UDP_SLOT);
	w->loop_ready = true;
	return 0;
}

void worker_begin_stop(worker_t *w)
{
	if (w->stopped)
		return;
	w->stopped = true;
	while (w->listeners != NULL)
		wl_close(w->listeners);
	while (w->conn_head != NULL)
		conn_close(w->conn_head);
	sconn_close_listener(w, NULL);
	/* The handler closes its own handles and lets go of its queries. */
	if (w->state_ready && w->s->cfg.worker_stop != NULL)
		w->s->cfg.worker_stop(w->s->cfg.ctx, w->state);
	uv_close((uv_handle_t *)&w->async, NULL);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int worker_drain(worker_t *w)
{
	int err = 0;
	uv_run(&w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&w->loop) != 0) {
		/* A handler left handles open: close them so the loop can go,
		 * and say so (style.md §10). */
		err = -EBUSY;
		uv_walk(&w->loop, close_leftover, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
	}
	if (w->live_queries != 0)
		err = -EBUSY; /* queries never answered nor dropped */
	if (w->state_ready && w->s->cfg.worker_fini != NULL)
		w->s->cfg.worker_fini(w->s->cfg.ctx, w->state);
	w->state_ready = false;
	while (w->free_queries != NULL) {
		ep_query_t *q = w->free_queries;
		w->free_queries = q->next_free;
		free(q);
	}
	free(w->rbuf);
	w->rbuf = NULL;
	w->loop_ready = false;
	pthread_mutex_lock(&w->mu);
	cmd_t *c = w->cmds;
	w->cmds = NULL;
	w->cmds_tail = &w->cmds;
	pthread_mutex_unlock(&w->mu);
	while (c != NULL) {
		cmd_t *next = c->next;
		cmd_free(c);
		c = next;
	}
	return err;
}

void cmd_free(cmd_t *c)
{
	if (c == NULL)
		return;
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	if (c->tcp_fd >= 0)
		close(c->tcp_fd);
	free(c->name);
	free(c);
}

void worker_push(worker_t *w, cmd_t *c)
{
	pthread_mutex_lock(&w->mu);
	c->next = NULL;
	*w->cmds_tail = c;
	w->cmds_tail = &c->next;
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->async);
}

static void ack(worker_t *w, int err)
{
	ep_server_t *s = w->s;
	pthread_mutex_lock(&s->mu);
	if (err != 0 && s->batch_err == 0)
		s->batch_err = err;
	s->acks++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

/* Messages from the control thread (style.md §11): listener changes, stop. */
static void on_async(uv_async_t *a)
{
	worker_t *w = a->data;
	pthread_mutex_lock(&w->mu);
	cmd_t *c = w->cmds;
	w->cmds = NULL;
	w->cmds_tail = &w->cmds;
	pthread_mutex_unlock(&w->mu);
	while (c != NULL) {
		cmd_t *next = c->next;
		wlistener_t *wl;
		int r;
		switch (c->type) {
		case CMD_ADD:
			r = worker_add_listener(w, c->id, c->name, c->cookie, c->udp_fd, c->tcp_fd,
						c->protocol, c->tls);
			c->udp_fd = c->tcp_fd = -1; /* transferred */
			if (r < 0 && w->result == 0)
				w->result = r;
			break;
		case CMD_REMOVE:
			wl = wl_find(w, c->id);
			if (wl != NULL)
				wl_close(wl);
			break;
		case CMD_COOKIE:
			wl = wl_find(w, c->id);
			if (wl != NULL)
				wl->cookie = c->cookie;
			break;
		case CMD_STOP:
			worker_begin_stop(w);
			break;
		}
		if (c->ack) {
			ack(w, w->result);
			w->result = 0;
		}
		cmd_free(c);
		c = next;
	}
}

void worker_main(void *arg)
{
	worker_t *w = arg;
	w->drain_err = worker_drain(w);
}
