/*
 * DoT and DoH connections (W-6, [privres]): a TCP stream carrying one TLS
 * session (tls/), and over it either RFC 7858 framing (the 2-octet length of
 * RFC 1035 §4.2.2, as plain TCP) or an HTTP/2 session (doh.c). Queries are
 * pipelined and answered as they complete, so possibly out of order (RFC 7766
 * §6.2.1.1, RFC 7858 §3.3); the idle timeout and the per-connection budget
 * are plain TCP's (ep_options_t); the connection cap is per worker, and closes
 * the least recently active idle connection to make room.
 * Everything here runs on the worker's loop.
 */
#include <string.h>

#include "dns/dns.h"
#include "endpoints/endpoints_p.h"

/* The largest TLS record's plaintext (RFC 8446 §5.1). */
#define TLS_RECORD_MAX 16384

struct sconn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	worker_t *w;
	wlistener_t *wl;
	struct sockaddr_in peer;
	tls_session_t *tls;
	ep_protocol_t protocol;
	ep_frame_t frame; /* DoT: plaintext, reassembled */
	doh_t *doh;       /* DoH */
	ep_budget_t budget;
	int handles;
	bool closing, linked, eof, dispatching, reading, failed;
	uint64_t doh_bad; /* the session's bad requests already counted */
	sconn_t *prev, *next;
};

static void sconn_close(sconn_t *c);
static void pump(sconn_t *c);

/* --- The worker's list, least recently active first. --- */

static void unlink_conn(sconn_t *c)
{
	worker_t *w = c->w;
	if (!c->linked)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->sconn_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->sconn_tail = c->prev;
	c->prev = c->next = NULL;
	c->linked = false;
	w->nsconns--;
}

static void link_tail(sconn_t *c)
{
	worker_t *w = c->w;
	c->prev = w->sconn_tail;
	c->next = NULL;
	if (w->sconn_tail)
		w->sconn_tail->next = c;
	else
		w->sconn_head = c;
	w->sconn_tail = c;
	c->linked = true;
	w->nsconns++;
}

static void touch(sconn_t *c)
{
	if (c->linked && c->w->sconn_tail != c) {
		unlink_conn(c);
		link_tail(c);
	}
}

/* --- Life and death. --- */

static void maybe_free(sconn_t *c)
{
	if (!c->closing || c->handles > 0 || c->budget.inflight > 0)
		return;
	ep_frame_free(&c->frame);
	doh_destroy(&c->doh);
	tls_session_destroy(&c->tls);
	if (c->wl != NULL)
		wl_unref(c->wl);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	sconn_t *c = h->data;
	c->handles--;
	maybe_free(c);
}

static void sconn_close(sconn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->linked) {
		unlink_conn(c);
		counter_add(c->w, C_TCP_OPEN, -1);
	}
	uv_close((uv_handle_t *)&c->tcp, handle_closed);
	if (c->handles == 2)
		uv_close((uv_handle_t *)&c->timer, handle_closed);
}

void sconn_close_listener(worker_t *w, wlistener_t *wl)
{
	sconn_t *next;
	for (sconn_t *c = w->sconn_head; c != NULL; c = next) {
		next = c->next;
		if (wl == NULL || c->wl == wl)
			sconn_close(c);
	}
}

const char *sconn_subject(const sconn_t *c)
{
	return c->tls ? tls_session_peer_subject(c->tls) : NULL;
}

/* --- Writing: the session's ciphertext to the socket, within the budget. --- */

typedef struct swrite {
	uv_write_t req;
	sconn_t *c;
	size_t len;
	uint8_t data[];
} swrite_t;

static void maybe_finish(sconn_t *c);

static void write_done(uv_write_t *req, int status)
{
	swrite_t *wr = (swrite_t *)req;
	sconn_t *c = wr->c;
	ep_budget_write_done(&c->budget, wr->len);
	free(wr);
	if (status < 0 && status != UV_ECANCELED) {
		counter_add(c->w, C_SEND_ERRORS, 1);
		sconn_close(c);
		return;
	}
	if (!c->closing)
		maybe_finish(c);
}

/* Send what the session has queued; 0, or an error after which c is closing. */
static int flush(sconn_t *c)
{
	const uint8_t *p;
	size_t n = c->tls ? tls_session_output(c->tls, &p) : 0;
	if (n == 0 || c->closing)
		return c->closing ? -ENOTCONN : 0;
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	size_t written = r > 0 ? (size_t)r : 0;
	if (r < 0 && r != UV_EAGAIN && r != UV_ENOSYS) {
		tls_session_output_clear(c->tls);
		counter_add(c->w, C_SEND_ERRORS, 1);
		sconn_close(c);
		return r;
	}
	if (written < n) {
		size_t rest = n - written;
		if (ep_budget_write_admit(&c->budget, rest) != 0) {
			/* The client does not read its answers. */
			tls_session_output_clear(c->tls);
			counter_add(c->w, C_TCP_CLOSED_SLOW, 1);
			sconn_close(c);
			return -ENOBUFS;
		}
		swrite_t *wr = pr_malloc(sizeof(*wr) + rest);
		wr->c = c;
		wr->len = rest;
		memcpy(wr->data, p + written, rest);
		b = uv_buf_init((char *)wr->data, (unsigned)rest);
		r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_done);
		if (r < 0) {
			ep_budget_write_done(&c->budget, rest);
			free(wr);
			tls_session_output_clear(c->tls);
			counter_add(c->w, C_SEND_ERRORS, 1);
			sconn_close(c);
			return r;
		}
	}
	tls_session_output_clear(c->tls);
	return 0;
}

/* RFC 7766 §6.2.4 / RFC 7858 §3.4: after the client's EOF (or close_notify),
 * answer what is in flight, then close. */
static void maybe_finish(sconn_t *c)
{
	if (c->closing || !c->eof || c->budget.inflight > 0 || c->budget.queued > 0)
		return;
	tls_session_bye(c->tls);
	flush(c);
	sconn_close(c);
}

/* --- Answers. --- */

/* W-6: RFC 8467 §4.1 block-length padding when the query asked for it. */
static const uint8_t *padded(const ep_query_t *q, const uint8_t *buf, size_t *len, uint8_t **heap)
{
	*heap = NULL;
	if (!dns_query_wants_padding(q->data, q->len))
		return buf;
	size_t cap = *len + 4 + EP_PADDING_BLOCK + 2;
	uint8_t *out = pr_malloc(cap);
	/* DoT: room for the length prefix in front. */
	size_t n = dns_pad_answer(buf, *len, EP_PADDING_BLOCK, out + 2, cap - 2);
	if (n == 0) {
		free(out);
		return buf;
	}
	*heap = out;
	*len = n;
	return out + 2;
}

int sconn_answer(ep_query_t *q, const uint8_t *buf, size_t len)
{
	sconn_t *c = q->sconn;
	int r = 0;
	uint8_t *heap = NULL, *framed = NULL;
	if (c->closing) {
		r = -ENOTCONN;
		goto cleanup;
	}
	const uint8_t *msg = padded(q, buf, &len, &heap);
	if (c->protocol == EP_DOH) {
		r = doh_answer(c->doh, q->stream, msg, len);
		if (r == 0)
			r = doh_flush(c->doh);
	} else {
		/* One record for prefix and message (RFC 7858 §3.3 asks for it). */
		if (heap == NULL)
			framed = pr_malloc(len + 2);
		uint8_t *f = heap ? heap : framed;
		if (heap == NULL)
			memcpy(f + 2, msg, len);
		f[0] = (uint8_t)(len >> 8);
		f[1] = (uint8_t)len;
		r = tls_session_write(c->tls, f, len + 2);
	}
	/* DoT answered while pump() hands out queries: it flushes once for all
	 * (DoH answers go out at once: corking them stalled dnsperf's client). */
	if (r == 0 && !(c->dispatching && c->protocol == EP_DOT))
		r = flush(c);
	else if (r != 0)
		sconn_close(c);
	if (r == 0)
		counter_add(c->w, C_ANSWERS_SENT, 1);
	else
		counter_add(c->w, C_SEND_ERRORS, 1);
cleanup:
	free(heap);
	free(framed);
	query_release(q);
	return r;
}

void sconn_query_done(ep_query_t *q)
{
	sconn_t *c = q->sconn;
	ep_budget_query_end(&c->budget);
	if (c->closing) {
		maybe_free(c);
		return;
	}
	/* Reading paused at the in-flight cap: go on with what is buffered. */
	if (!c->dispatching)
		pump(c);
}

/* --- Reading. --- */

static ep_query_t *new_query(sconn_t *c, const uint8_t *msg, size_t len)
{
	ep_query_t *q = query_get(c->w, msg, len);
	if (q == NULL) {
		counter_add(c->w, C_DROPPED_BUSY, 1);
		return NULL;
	}
	q->transport = EP_TCP; /* a stream: no truncation */
	q->sconn = c;
	q->wl = c->wl;
	q->peer = c->peer;
	ep_budget_query_start(&c->budget);
	return q;
}

/* DoT: every complete message buffered, within the in-flight cap. */
static void dot_dispatch(sconn_t *c)
{
	worker_t *w = c->w;
	const uint8_t *msg;
	size_t len;
	while (!c->closing && ep_budget_may_read(&c->budget)) {
		int r = ep_frame_next(&c->frame, &msg, &len);
		if (r == 0)
			break;
		if (r < 0) {
			counter_add(w, C_TCP_CLOSED_BADLEN, 1);
			sconn_close(c);
			break;
		}
		ep_query_t *q = new_query(c, msg, len);
		if (q == NULL) {
			sconn_close(c); /* saturated: the client retries elsewhere */
			break;
		}
		ep_frame_consume(&c->frame);
		q->stream = -1;
		counter_add(w, C_DOT_QUERIES, 1);
		w->s->cfg.handler(w->s->cfg.ctx, q);
	}
}

static void doh_query(void *arg, int32_t stream, const uint8_t *msg, size_t len)
{
	sconn_t *c = arg;
	worker_t *w = c->w;
	/* W-3 over DoH: a body without a header gets 400. */
	ep_query_t *q = len >= EP_DNS_HEADER_LEN ? new_query(c, msg, len) : NULL;
	if (q == NULL) {
		counter_add(w, C_DOH_BAD_REQUESTS, len < EP_DNS_HEADER_LEN);
		doh_error(c->doh, stream, len < EP_DNS_HEADER_LEN ? 400 : 503);
		return;
	}
	q->stream = stream;
	counter_add(w, C_DOH_QUERIES, 1);
	w->s->cfg.handler(w->s->cfg.ctx, q);
}

static int doh_send(void *arg, const uint8_t *data, size_t len)
{
	sconn_t *c = arg;
	return tls_session_write(c->tls, data, len);
}

static void set_reading(sconn_t *c, bool on);

/* Once the handshake is done: the protocol's own state. */
static int on_handshake(sconn_t *c)
{
	counter_add(c->w, C_TLS_ACCEPTED, 1);
	if (c->protocol == EP_DOT) {
		ep_frame_init(&c->frame);
		return 0;
	}
	static const doh_callbacks_t cb = {doh_query, doh_send};
	int r = doh_new(&cb, c, c->w->s->cfg.options.tcp_max_inflight, &c->doh);
	return r == 0 ? doh_flush(c->doh) : r;
}

/* Decrypt what is buffered and hand it to the protocol, as long as the
 * budget lets queries start; then write what the session queued. */
static void pump(sconn_t *c)
{
	uint8_t plain[TLS_RECORD_MAX];
	c->dispatching = true;
	if (c->protocol == EP_DOT)
		tls_session_cork(c->tls);
	while (!c->closing && tls_session_handshake_done(c->tls) &&
	       ep_budget_may_read(&c->budget)) {
		if (c->protocol == EP_DOT) {
			dot_dispatch(c);
			if (c->closing || !ep_budget_may_read(&c->budget))
				break;
		}
		ssize_t n = tls_session_read(c->tls, plain, sizeof(plain));
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			c->eof = true; /* close_notify (0), or a TLS failure */
			c->failed = n < 0;
			break;
		}
		if (c->protocol == EP_DOT) {
			uint8_t *p;
			size_t room;
			for (size_t off = 0; off < (size_t)n; off += room) {
				ep_frame_reserve(&c->frame, &p, &room);
				room = room < (size_t)n - off ? room : (size_t)n - off;
				memcpy(p, plain + off, room);
				ep_frame_commit(&c->frame, room);
			}
		} else if (doh_recv(c->doh, plain, (size_t)n) < 0) {
			c->eof = true; /* a GOAWAY is queued: send it, then close */
			break;
		}
	}
	if (c->protocol == EP_DOT && !c->closing && tls_session_handshake_done(c->tls))
		dot_dispatch(c);
	c->dispatching = false;
	if (c->closing)
		return;
	if (c->protocol == EP_DOT && tls_session_uncork(c->tls) != 0)
		c->failed = true;
	if (c->doh != NULL) {
		uint64_t bad = doh_bad_requests(c->doh);
		counter_add(c->w, C_DOH_BAD_REQUESTS, (int64_t)(bad - c->doh_bad));
		c->doh_bad = bad;
		if (doh_flush(c->doh) != 0)
			c->eof = true;
	}
	if (flush(c) != 0)
		return;
	if (c->failed) {
		sconn_close(c);
		return;
	}
	if (c->doh != NULL && doh_finished(c->doh))
		c->eof = true;
	set_reading(c, !c->eof && ep_budget_may_read(&c->budget));
	maybe_finish(c);
}

static void on_idle(uv_timer_t *t)
{
	sconn_t *c = t->data;
	if (!ep_budget_is_idle(&c->budget)) {
		uv_timer_again(t);
		return;
	}
	/* RFC 7858 §3.4: the server closes idle sessions, politely. */
	counter_add(c->w, C_TCP_CLOSED_IDLE, 1);
	if (tls_session_handshake_done(c->tls))
		tls_session_bye(c->tls);
	flush(c);
	sconn_close(c);
}

static void idle_restart(sconn_t *c)
{
	uint64_t ms = c->w->s->cfg.options.tcp_idle_timeout_ms;
	uv_timer_start(&c->timer, on_idle, ms, ms);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	sconn_t *c = h->data;
	/* The worker's receive buffer: the ciphertext is copied into the
	 * session at once, before anything else reads into it. */
	*buf = uv_buf_init((char *)c->w->rbuf, EP_UDP_SLOT);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	sconn_t *c = st->data;
	if (nread == UV_EOF) {
		c->eof = true;
		set_reading(c, false);
		maybe_finish(c);
		return;
	}
	if (nread < 0) {
		sconn_close(c);
		return;
	}
	if (nread == 0)
		return;
	tls_session_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread);
	touch(c);
	idle_restart(c);
	if (!tls_session_handshake_done(c->tls)) {
		int r = tls_session_handshake(c->tls);
		if (r == -EPROTO) {
			/* Garbage, another protocol, a refused client certificate
			 * (W-6): the alert goes out, the connection closes. */
			counter_add(c->w, C_TLS_FAILED, 1);
			counter_add(c->w, C_TLS_CLIENT_CERT_REFUSED,
				    tls_session_client_cert_refused(c->tls));
			flush(c);
			sconn_close(c);
			return;
		}
		if (r == 0 && on_handshake(c) != 0) {
			sconn_close(c);
			return;
		}
	}
	pump(c);
}

static void set_reading(sconn_t *c, bool on)
{
	if (on == c->reading || c->closing)
		return;
	int r = on ? uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)
		   : uv_read_stop((uv_stream_t *)&c->tcp);
	if (r < 0) {
		counter_add(c->w, C_RECV_ERRORS, 1);
		sconn_close(c);
		return;
	}
	c->reading = on;
}

static sconn_t *oldest_idle(worker_t *w)
{
	for (sconn_t *c = w->sconn_head; c != NULL; c = c->next)
		if (ep_budget_is_idle(&c->budget))
			return c;
	return NULL;
}

void sconn_on_accept(uv_stream_t *server, int status)
{
	wlistener_t *wl = server->data;
	worker_t *w = wl->w;
	const ep_options_t *o = &w->s->cfg.options;
	if (status < 0) {
		counter_add(w, C_RECV_ERRORS, 1);
		return;
	}
	sconn_t *c = pr_calloc(1, sizeof(*c));
	c->w = w;
	c->protocol = wl->protocol;
	ep_budget_init(&c->budget, o->tcp_max_inflight, o->tcp_max_write_queue);
	uv_tcp_init(&w->loop, &c->tcp);
	c->tcp.data = c;
	c->handles = 1;
	const char *alpn = c->protocol == EP_DOH ? TLS_ALPN_H2 : TLS_ALPN_DOT;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    tls_session_new(wl->tls, alpn, &c->tls) != 0) {
		counter_add(w, C_RECV_ERRORS, 1);
		sconn_close(c);
		return;
	}
	counter_add(w, C_TCP_ACCEPTED, 1);
	/* The cap, as for plain TCP: room is made by closing the least
	 * recently active idle connection (1000 idle TLS clients cost one
	 * session each, never more). */
	if (w->nsconns >= o->tcp_max_connections) {
		sconn_t *victim = oldest_idle(w);
		counter_add(w, C_TCP_CLOSED_CAP, 1);
		if (victim == NULL) {
			sconn_close(c);
			return;
		}
		sconn_close(victim);
	}
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->wl = wl;
	wl->refs++;
	int len = sizeof(c->peer);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
		memset(&c->peer, 0, sizeof(c->peer));
	uv_tcp_nodelay(&c->tcp, 1);
	link_tail(c);
	counter_add(w, C_TCP_OPEN, 1);
	idle_restart(c);
	set_reading(c, true);
}
