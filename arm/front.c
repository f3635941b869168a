/* The ARM listener's front: one thread with its own libuv loop owns the
 * listening socket. Each connection's TLS ClientHello is read without being
 * taken (MSG_PEEK): a client whose ALPN offers "h2" is served here (a tls/
 * session and an arm_h2 session, requests to the control thread through
 * arm_server_run()); any other goes whole to libmicrohttpd, which does its
 * own TLS and HTTP/1.1. So one port speaks both, and the HTTP/1.1 path is
 * the library's unchanged.
 *
 * Bad input: a ClientHello that does not come within the idle time, or
 * never whole, closes the connection; h2 violations are arm_h2's (GOAWAY);
 * a client that does not read its answers stops being read (ARM_H2_BACKLOG). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm/arm_p.h"
#include "tls/tls.h"

#define FRONT_IDLE_MS 30000      /* the same as libmicrohttpd's connection timeout */
#define FRONT_HELLO_RETRY_MS 20  /* a ClientHello not whole yet is looked at again */
#define FRONT_MAX_CONNECTIONS 4096 /* h2 connections and ones being classified */
#define ARM_H2_BACKLOG (1u << 20) /* unsent octets past which a client is not read */
#define TLS_RECORD_MAX (5 + 16384 + 2048)

typedef struct conn conn_t;

struct arm_front {
	arm_server_t *server;
	uv_loop_t loop;
	uv_poll_t listener;
	int listen_fd;
	uv_async_t wakeup; /* answers are back, or stop */
	pthread_t thread;
	pthread_mutex_t mu;
	arm_job_t *answered; /* jobs back from the control thread */
	bool stopping;
	tls_server_t *tls;
	conn_t *conns;
	unsigned n_conns;
};

struct conn {
	conn_t *prev, *next;
	arm_front_t *f;
	int fd;
	uv_poll_t poll;
	uv_timer_t timer; /* idle, and ClientHello retries */
	uint64_t hello_deadline;
	tls_session_t *tls;
	arm_h2_t *h2;
	pr_buf_t out; /* ciphertext not yet sent */
	size_t out_off;
	unsigned pending; /* requests at the control thread */
	int closed_handles;
	bool closing;
};

/* A request of an h2 stream, owned while it is at the control thread. */
typedef struct h2job {
	arm_job_t job; /* first */
	arm_request_t rq;
	conn_t *c;
	int32_t stream;
} h2job_t;

/* ---- the ClientHello ---------------------------------------------------------------- */

static size_t be16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* Skip a vector with a length prefix of w octets at *off; false past end. */
static bool skip_vec(const uint8_t *p, size_t end, size_t *off, int w)
{
	if (*off + (size_t)w > end)
		return false;
	size_t n = w == 1 ? p[*off] : be16(p + *off);
	*off += (size_t)w + n;
	return *off <= end;
}

static bool alpn_has_h2(const uint8_t *p, size_t n)
{
	if (n < 2 || be16(p) != n - 2)
		return false;
	for (size_t off = 2; off < n;) {
		size_t len = p[off];
		if (off + 1 + len > n)
			return false;
		if (len == 2 && !memcmp(p + off + 1, TLS_ALPN_H2, 2))
			return true;
		off += 1 + len;
	}
	return false;
}

int arm_client_hello_h2(const uint8_t *buf, size_t len)
{
	if (len < 5)
		return -EAGAIN;
	if (buf[0] != 0x16) /* not a TLS handshake record */
		return 0;
	size_t end = 5 + be16(buf + 3);
	if (len < end)
		return end > TLS_RECORD_MAX ? 0 : -EAGAIN;
	/* handshake header (type 1: ClientHello, 3 octets of length), version,
	 * random, then session id, cipher suites, compression methods */
	size_t off = 5;
	if (end < off + 4 + 2 + 32 || buf[off] != 1)
		return 0;
	off += 4 + 2 + 32;
	if (!skip_vec(buf, end, &off, 1) || !skip_vec(buf, end, &off, 2) ||
	    !skip_vec(buf, end, &off, 1) || off + 2 > end)
		return 0;
	size_t ext_end = off + 2 + be16(buf + off);
	if (ext_end > end)
		ext_end = end; /* a hello longer than its first record: what is there */
	for (off += 2; off + 4 <= ext_end;) {
		size_t type = be16(buf + off), n = be16(buf + off + 2);
		if (off + 4 + n > ext_end)
			return 0;
		if (type == 16) /* application_layer_protocol_negotiation */
			return alpn_has_h2(buf + off + 4, n) ? 1 : 0;
		off += 4 + n;
	}
	return 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_close(conn_t *c);
static void on_io(uv_poll_t *p, int status, int events);
static void on_idle(uv_timer_t *t);

static void maybe_free(conn_t *c)
{
	if (c->closed_handles < 2 || c->pending)
		return;
	arm_front_t *f = c->f;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	f->n_conns--;
	arm_h2_destroy(&c->h2);
	tls_session_destroy(&c->tls);
	pr_buf_free(&c->out);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	conn_t *c = h->data;
	c->closed_handles++;
	maybe_free(c);
}

/* Stop watching fd and close the handles; fd itself when close_fd. */
static void conn_release(conn_t *c, bool close_fd)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_poll_stop(&c->poll);
	if (close_fd)
		close(c->fd);
	c->fd = -1;
	uv_close((uv_handle_t *)&c->poll, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void conn_close(conn_t *c)
{
	conn_release(c, true);
}

/* Write what is waiting; watch for writability while some is left. */
static void conn_write(conn_t *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return conn_close(c);
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->h2 && arm_h2_finished(c->h2))
			return conn_close(c);
	}
	int events = c->out.len - c->out_off > ARM_H2_BACKLOG ? 0 : UV_READABLE;
	if (c->out_off < c->out.len)
		events |= UV_WRITABLE;
	uv_poll_start(&c->poll, events, on_io);
}

/* The TLS session's output into the connection's. */
static void take_output(conn_t *c)
{
	const uint8_t *data;
	size_t n = tls_session_output(c->tls, &data);
	pr_buf_append(&c->out, data, n);
	tls_session_output_clear(c->tls);
}

static int h2_send(void *arg, const uint8_t *data, size_t len)
{
	conn_t *c = arg;
	if (tls_session_write(c->tls, data, len) != 0)
		return -EPROTO;
	take_output(c);
	return 0;
}

/* Send what the h2 session has queued, in as few records as it can. */
static void flush(conn_t *c)
{
	if (c->closing)
		return;
	tls_session_cork(c->tls);
	int rc = arm_h2_flush(c->h2);
	if (tls_session_uncork(c->tls) != 0)
		rc = -EPROTO;
	take_output(c);
	if (rc != 0)
		return conn_close(c);
	conn_write(c);
}

static void answered(arm_job_t *j)
{
	h2job_t *hj = (h2job_t *)j;
	arm_front_t *f = hj->c->f;
	pthread_mutex_lock(&f->mu);
	j->next = f->answered;
	f->answered = j;
	pthread_mutex_unlock(&f->mu);
	uv_async_send(&f->wakeup);
}

static char *dup_or_null(const char *s)
{
	return s ? pr_strdup(s) : NULL;
}

static void h2job_free(h2job_t *hj)
{
	arm_request_t *rq = &hj->rq;
	char *owned[] = {(char *)rq->method, (char *)rq->path, (char *)rq->api_version,
			 (char *)rq->top, (char *)rq->skip_token, (char *)rq->authorization,
			 (char *)rq->if_match, (char *)rq->if_none_match, (char *)rq->host,
			 (char *)rq->body};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		free(owned[i]);
	arm_response_clear(&hj->job.rs);
	free(hj);
}

static void h2_request(void *arg, int32_t stream, const arm_request_t *rq)
{
	conn_t *c = arg;
	h2job_t *hj = pr_calloc(1, sizeof(*hj));
	hj->c = c;
	hj->stream = stream;
	hj->rq = (arm_request_t){
		.method = dup_or_null(rq->method),
		.path = dup_or_null(rq->path),
		.api_version = dup_or_null(rq->api_version),
		.top = dup_or_null(rq->top),
		.skip_token = dup_or_null(rq->skip_token),
		.authorization = dup_or_null(rq->authorization),
		.if_match = dup_or_null(rq->if_match),
		.if_none_match = dup_or_null(rq->if_none_match),
		.host = dup_or_null(rq->host),
		.body = rq->body ? pr_strndup(rq->body, rq->body_len) : NULL,
		.body_len = rq->body_len,
	};
	hj->job.rq = &hj->rq;
	hj->job.done = answered;
	c->pending++;
	arm_server_run(c->f->server, &hj->job);
}

static void stop_all(arm_front_t *f);

/* The answers back from the control thread, to their streams; or stop. */
static void on_wakeup(uv_async_t *a)
{
	arm_front_t *f = a->data;
	pthread_mutex_lock(&f->mu);
	arm_job_t *j = f->answered;
	f->answered = NULL;
	bool stopping = f->stopping;
	pthread_mutex_unlock(&f->mu);
	while (j) {
		arm_job_t *next = j->next;
		h2job_t *hj = (h2job_t *)j;
		conn_t *c = hj->c;
		if (!c->closing) {
			arm_response_t busy = {0};
			if (!j->rs.status)
				arm_response_error(&busy, 503, "ServiceUnavailable",
						   "privresd is stopping.");
			arm_h2_respond(c->h2, hj->stream, j->rs.status ? &j->rs : &busy);
			arm_response_clear(&busy);
			flush(c);
		}
		h2job_free(hj);
		c->pending--;
		maybe_free(c);
		j = next;
	}
	if (stopping)
		stop_all(f);
}

/* Ciphertext in: the handshake, then HTTP/2. */
static void h2_input(conn_t *c, const uint8_t *data, size_t len)
{
	tls_session_feed(c->tls, data, len);
	if (!tls_session_handshake_done(c->tls)) {
		int rc = tls_session_handshake(c->tls);
		take_output(c);
		if (rc == -EAGAIN)
			return conn_write(c);
		const char *alpn = tls_session_alpn(c->tls);
		arm_h2_callbacks_t cb = {.request = h2_request, .send = h2_send};
		if (rc != 0 || !alpn || strcmp(alpn, TLS_ALPN_H2) != 0 ||
		    arm_h2_new(&cb, c, &c->h2) != 0) {
			conn_write(c); /* the alert, if any */
			return conn_close(c);
		}
	}
	uint8_t buf[16384];
	for (;;) {
		ssize_t n = tls_session_read(c->tls, buf, sizeof(buf));
		if (n == -EAGAIN)
			break;
		if (n <= 0 || arm_h2_recv(c->h2, buf, (size_t)n) != 0) {
			flush(c); /* the GOAWAY, if any */
			return conn_close(c);
		}
		if (c->closing)
			return;
	}
	flush(c);
}

static void on_idle(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_hello_retry(uv_timer_t *t)
{
	conn_t *c = t->data;
	uv_timer_start(&c->timer, on_idle, FRONT_IDLE_MS, 0);
	uv_poll_start(&c->poll, UV_READABLE, on_io);
}

/* Look at the ClientHello: h2 stays here, anything else goes to HTTP/1.1. */
static void classify(conn_t *c)
{
	uint8_t buf[TLS_RECORD_MAX];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return conn_close(c);
	int h2 = arm_client_hello_h2(buf, (size_t)n);
	if (h2 == -EAGAIN) {
		/* not whole yet: look again shortly rather than spin on the
		 * level-triggered poll */
		uv_poll_stop(&c->poll);
		if (uv_now(&c->f->loop) >= c->hello_deadline)
			return conn_close(c);
		uv_timer_start(&c->timer, on_hello_retry, FRONT_HELLO_RETRY_MS, 0);
		return;
	}
	if (h2 == 1) {
		if (tls_session_new(c->f->tls, TLS_ALPN_H2, &c->tls) != 0)
			return conn_close(c);
		uv_timer_start(&c->timer, on_idle, FRONT_IDLE_MS, 0);
		uv_poll_start(&c->poll, UV_READABLE, on_io);
		return;
	}
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int fd = c->fd;
	getpeername(fd, (struct sockaddr *)&sa, &len);
	conn_release(c, false);
	arm_server_http1(c->f->server, fd, (struct sockaddr *)&sa, len);
}

static void on_io(uv_poll_t *p, int status, int events)
{
	conn_t *c = p->data;
	if (status < 0)
		return conn_close(c);
	if (!c->tls)
		return classify(c);
	if (events & UV_WRITABLE) {
		conn_write(c);
		if (c->closing)
			return;
	}
	if (!(events & UV_READABLE))
		return;
	uint8_t buf[65536];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return conn_close(c);
	uv_timer_start(&c->timer, on_idle, FRONT_IDLE_MS, 0);
	h2_input(c, buf, (size_t)n);
}

static void on_accept(uv_poll_t *p, int status, int events)
{
	arm_front_t *f = p->data;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (f->n_conns >= FRONT_MAX_CONNECTIONS) {
			close(fd);
			continue;
		}
		conn_t *c = pr_calloc(1, sizeof(*c));
		c->f = f;
		c->fd = fd;
		c->next = f->conns;
		if (f->conns)
			f->conns->prev = c;
		f->conns = c;
		f->n_conns++;
		uv_poll_init(&f->loop, &c->poll, fd);
		uv_timer_init(&f->loop, &c->timer);
		c->poll.data = c->timer.data = c;
		c->hello_deadline = uv_now(&f->loop) + FRONT_IDLE_MS;
		uv_timer_start(&c->timer, on_idle, FRONT_IDLE_MS, 0);
		uv_poll_start(&c->poll, UV_READABLE, on_io);
	}
}

/* ---- the thread ----------------------------------------------------------------------- */

static void stop_all(arm_front_t *f)
{
	if (!uv_is_closing((uv_handle_t *)&f->listener)) {
		uv_close((uv_handle_t *)&f->listener, NULL);
		uv_close((uv_handle_t *)&f->wakeup, NULL);
	}
	for (conn_t *c = f->conns; c; c = c->next)
		conn_close(c);
}

static void *run(void *arg)
{
	arm_front_t *f = arg;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	return NULL;
}

int arm_front_start(arm_server_t *s, int listen_fd, const char *cert_pem, const char *key_pem,
		    arm_front_t **out, char **why)
{
	arm_front_t *f = pr_calloc(1, sizeof(*f));
	f->server = s;
	f->listen_fd = listen_fd;
	pr_diag_t *diag = pr_diag_new();
	tls_server_spec_t spec = {.cert_pem = cert_pem, .key_pem = key_pem};
	int rc = tls_server_new(&spec, &f->tls, diag);
	if (rc != 0) {
		char *text = pr_diag_format(diag);
		*why = pr_asprintf("the server certificate: %s", text ? text : pr_strerror(rc));
		free(text);
		pr_diag_destroy(&diag);
		close(listen_fd);
		free(f);
		return rc;
	}
	pr_diag_destroy(&diag);
	pthread_mutex_init(&f->mu, NULL);
	uv_loop_init(&f->loop);
	uv_async_init(&f->loop, &f->wakeup, on_wakeup);
	uv_poll_init(&f->loop, &f->listener, listen_fd);
	f->wakeup.data = f->listener.data = f;
	uv_poll_start(&f->listener, UV_READABLE, on_accept);
	if ((rc = pthread_create(&f->thread, NULL, run, f)) != 0) {
		*why = pr_asprintf("can't start the listener's thread: %s", strerror(rc));
		stop_all(f);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		f->thread = pthread_self();
		arm_front_stop(&f);
		return PR_EIO;
	}
	*out = f;
	return 0;
}

void arm_front_stop(arm_front_t **fp)
{
	if (!fp || !*fp)
		return;
	arm_front_t *f = *fp;
	*fp = NULL;
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_mutex_unlock(&f->mu);
	if (!pthread_equal(f->thread, pthread_self())) {
		uv_async_send(&f->wakeup);
		pthread_join(f->thread, NULL);
	}
	/* answers that came back after the loop ended: their connections are
	 * closed, so they are only freed */
	arm_job_t *j = f->answered;
	while (j) {
		arm_job_t *next = j->next;
		h2job_t *hj = (h2job_t *)j;
		hj->c->pending--;
		maybe_free(hj->c);
		h2job_free(hj);
		j = next;
	}
	uv_loop_close(&f->loop);
	close(f->listen_fd);
	tls_server_destroy(&f->tls);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
