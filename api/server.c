/*
 * server — gRPC over HTTP/2 cleartext (prior knowledge, as gRPC clients speak
 * it) with nghttp2 driven by hand on a libuv loop: bytes read are fed to
 * nghttp2_session_mem_recv, what the session wants to send is drained with
 * nghttp2_session_mem_send into one uv_write per flush (design.md §6).
 *
 * A call is answered when its request stream ends: the method is found in the
 * registry, its single length-prefixed message decoded, the handler run on this
 * loop, and the response sent as HEADERS, DATA, then trailers with grpc-status
 * and grpc-message. Anything wrong is answered "trailers-only" with a status;
 * a peer can never make us assert (style.md §7).
 */
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_p.h"
#include "base/base.h"

#define MAX_CONNECTIONS 64
#define MAX_STREAMS_PER_CONN 32
#define MAX_HEADER_VALUE 4096
#define READ_BUF_SIZE 65536
#define DEADLINE_TICK_MS 10

typedef struct conn conn_t;

typedef struct stream {
	int32_t id;
	conn_t *conn;
	struct stream *prev, *next;
	char *path, *content_type, *authorization, *method;
	bool bad_timeout, header_too_long;
	uint64_t deadline_ms; /* pr_now_ms() value; 0 = none */
	uint8_t *body;
	size_t body_len, body_cap;
	bool answered;
	/* the framed response message, sent by the data provider */
	uint8_t *resp;
	size_t resp_len, resp_off;
} stream_t;

struct conn {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	api_server_t *srv;
	nghttp2_session *session;
	bool over_tcp; /* TCP calls must carry the bearer token */
	bool closing;
	conn_t *prev, *next;
	stream_t *streams;
	uint8_t rbuf[READ_BUF_SIZE];
};

struct api_server {
	uv_loop_t *loop;
	api_registry_t *reg;
	uv_pipe_t pipe;
	uv_tcp_t tcp;
	uv_timer_t deadline_timer;
	bool has_pipe, has_tcp;
	char *unix_path;
	char *token;
	size_t max_message;
	int tcp_port;
	int open_handles; /* close callbacks still to come (style.md §10) */
	bool closing;
	conn_t *conns;
	int nconns;
	uint64_t calls;
};

typedef struct write_req {
	uv_write_t req;
	uv_buf_t buf;
} write_req_t;

static void server_handle_closed(api_server_t *srv)
{
	if (--srv->open_handles == 0 && srv->closing) {
		free(srv->unix_path);
		free(srv->token);
		free(srv);
	}
}

static void on_server_handle_close(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

/* ---- streams ---------------------------------------------------------------- */

static void stream_free(stream_t *s)
{
	free(s->path);
	free(s->content_type);
	free(s->authorization);
	free(s->method);
	free(s->body);
	free(s->resp);
	free(s);
}

static void stream_unlink(stream_t *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->conn->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

#define NV(n, v) \
	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static ssize_t read_response(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			     size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			     void *user_data)
{
	stream_t *s = source->ptr;
	size_t n = s->resp_len - s->resp_off;

	if (n > length)
		n = length;
	memcpy(buf, s->resp + s->resp_off, n);
	s->resp_off += n;
	if (s->resp_off == s->resp_len) {
		/* the stream ends with the trailers, not with the last DATA frame */
		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		nghttp2_nv trailers[] = {NV("grpc-status", "0")};
		if (nghttp2_submit_trailer(session, stream_id, trailers, 1) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

/* Answer with a status only ("Trailers-Only" in PROTOCOL-HTTP2.md). */
static void stream_fail(stream_t *s, int code, const char *message)
{
	char codebuf[16];
	char *enc = api_percent_encode(message ? message : "");

	if (s->answered) {
		free(enc);
		return;
	}
	s->answered = true;
	s->conn->srv->calls++;
	snprintf(codebuf, sizeof(codebuf), "%d", code);
	nghttp2_nv hdrs[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-status", codebuf),
		NV("grpc-message", enc),
	};
	/* failure to queue means the session is going away; nothing to answer */
	(void)nghttp2_submit_response(s->conn->session, s->id, hdrs, *enc ? 4 : 3, NULL);
	free(enc);
	/* what the client still sends is dropped; the body is not needed */
	free(s->body);
	s->body = NULL;
	s->body_len = s->body_cap = 0;
}

static void stream_http_error(stream_t *s, const char *status)
{
	s->answered = true;
	nghttp2_nv hdrs[] = {NV(":status", status)};
	(void)nghttp2_submit_response(s->conn->session, s->id, hdrs, 1, NULL);
}

static void stream_succeed(stream_t *s, uint8_t *framed, size_t len)
{
	s->answered = true;
	s->conn->srv->calls++;
	s->resp = framed;
	s->resp_len = len;
	nghttp2_nv hdrs[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
	};
	nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_response};
	(void)nghttp2_submit_response(s->conn->session, s->id, hdrs, 2, &prd);
}

static bool token_matches(const char *expected, const char *auth)
{
	static const char prefix[] = "Bearer ";
	size_t elen = strlen(expected);
	unsigned char diff = 0;

	if (!auth || strncmp(auth, prefix, sizeof(prefix) - 1) != 0)
		return false;
	auth += sizeof(prefix) - 1;
	if (strlen(auth) != elen)
		return false;
	/* constant time in the token's content */
	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char)(expected[i] ^ auth[i]);
	return diff == 0;
}

static void deadline_tick(uv_timer_t *t);

/* Checks that can be made once the request headers are in: answered early so
 * that a rejected call never buffers its body. */
static void stream_check_headers(stream_t *s)
{
	api_server_t *srv = s->conn->srv;

	if (s->header_too_long) {
		stream_http_error(s, "431");
		return;
	}
	if (!s->method || strcmp(s->method, "POST") != 0) {
		stream_http_error(s, "405");
		return;
	}
	/* PROTOCOL-HTTP2.md: a content type that is not gRPC gets HTTP 415 */
	if (!s->content_type || strncmp(s->content_type, "application/grpc", 16) != 0 ||
	    (s->content_type[16] != '\0' && s->content_type[16] != '+' &&
	     s->content_type[16] != ';')) {
		stream_http_error(s, "415");
		return;
	}
	if (s->conn->over_tcp && !token_matches(srv->token, s->authorization)) {
		stream_fail(s, API_STATUS_UNAUTHENTICATED,
			    s->authorization ? "invalid bearer token"
					     : "missing authorization: Bearer <token>");
		return;
	}
	if (s->bad_timeout) {
		stream_fail(s, API_STATUS_INVALID_ARGUMENT, "invalid grpc-timeout");
		return;
	}
	if (!s->path || !api_registry_find(srv->reg, s->path, strlen(s->path))) {
		char *msg = pr_asprintf("unknown method %s", s->path ? s->path : "(none)");
		stream_fail(s, API_STATUS_UNIMPLEMENTED, msg);
		free(msg);
		return;
	}
	if (s->deadline_ms && !uv_is_active((uv_handle_t *)&srv->deadline_timer))
		uv_timer_start(&srv->deadline_timer, deadline_tick, DEADLINE_TICK_MS,
			       DEADLINE_TICK_MS);
}

static void stream_run(stream_t *s)
{
	api_server_t *srv = s->conn->srv;
	const api_method_t *m = api_registry_find(srv->reg, s->path, strlen(s->path));
	ProtobufCMessage *req = NULL, *resp = NULL;
	api_status_t status = {0};
	const uint8_t *msg = NULL;
	size_t len = 0;
	const char *why = NULL;
	uint8_t *framed = NULL;

	PR_REQUIRE(m != NULL); /* stream_check_headers found it */
	int code = api_frame_unpack(s->body, s->body_len, &msg, &len, &why);
	if (code != 0) {
		stream_fail(s, code, why);
		goto cleanup;
	}
	req = protobuf_c_message_unpack(m->in, NULL, len, msg);
	if (!req) {
		char *text = pr_asprintf("malformed %s message", m->in->name);
		stream_fail(s, API_STATUS_INVALID_ARGUMENT, text);
		free(text);
		goto cleanup;
	}
	int ret = m->fn(m->ctx, req, &resp, &status);
	if (s->deadline_ms && pr_now_ms() >= s->deadline_ms) {
		/* the client gave up; whatever the handler did, it hears the deadline */
		stream_fail(s, API_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
		goto cleanup;
	}
	if (ret != 0 || status.code != API_STATUS_OK) {
		int c = status.code != API_STATUS_OK ? status.code : API_STATUS_INTERNAL;
		stream_fail(s, c, status.message[0] ? status.message : api_status_name(c));
		goto cleanup;
	}
	PR_REQUIRE(resp && resp->descriptor == m->out);
	size_t n = protobuf_c_message_get_packed_size(resp);
	framed = pr_malloc(API_GRPC_HEADER_LEN + n);
	api_frame_header(framed, n);
	protobuf_c_message_pack(resp, framed + API_GRPC_HEADER_LEN);
	stream_succeed(s, framed, API_GRPC_HEADER_LEN + n);
	framed = NULL;
cleanup:
	free(framed);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(s->body);
	s->body = NULL;
	s->body_len = s->body_cap = 0;
}

/* ---- nghttp2 callbacks ------------------------------------------------------ */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	conn_t *c = user_data;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	stream_t *s = pr_calloc(1, sizeof(stream_t));
	s->id = frame->hd.stream_id;
	s->conn = c;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static void set_header(stream_t *s, char **slot, const uint8_t *value, size_t len)
{
	if (len > MAX_HEADER_VALUE) {
		s->header_too_long = true;
		return;
	}
	free(*slot);
	*slot = pr_strndup((const char *)value, len);
}

#define NAME_IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers of a request carry nothing for a unary call */
	stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s)
		return 0;
	if (NAME_IS(":path")) {
		set_header(s, &s->path, value, valuelen);
	} else if (NAME_IS(":method")) {
		set_header(s, &s->method, value, valuelen);
	} else if (NAME_IS("content-type")) {
		set_header(s, &s->content_type, value, valuelen);
	} else if (NAME_IS("authorization")) {
		set_header(s, &s->authorization, value, valuelen);
	} else if (NAME_IS("grpc-timeout")) {
		uint64_t ms;
		if (api_timeout_parse((const char *)value, valuelen, &ms) < 0)
			s->bad_timeout = true;
		else
			s->deadline_ms = pr_now_ms() + (ms ? ms : 1);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
	conn_t *c = user_data;

	if (!s || s->answered)
		return 0;
	if (s->body_len + len > c->srv->max_message + API_GRPC_HEADER_LEN) {
		char *msg = pr_asprintf("request message larger than %zu bytes",
					c->srv->max_message);
		stream_fail(s, API_STATUS_RESOURCE_EXHAUSTED, msg);
		free(msg);
		return 0;
	}
	if (s->body_len + len > s->body_cap) {
		size_t cap = s->body_cap ? s->body_cap : 1024;
		while (cap < s->body_len + len)
			cap *= 2;
		s->body = pr_realloc(s->body, cap);
		s->body_cap = cap;
	}
	memcpy(s->body + s->body_len, data, len);
	s->body_len += len;
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		stream_check_headers(s);
	if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->answered)
		stream_run(s);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	stream_unlink(s);
	stream_free(s);
	return 0;
}

/* ---- connections ------------------------------------------------------------ */

static void on_conn_close(uv_handle_t *h)
{
	conn_t *c = h->data;
	api_server_t *srv = c->srv;

	/* nghttp2 calls on_stream_close for the streams it still holds */
	if (c->session)
		nghttp2_session_del(c->session);
	while (c->streams) {
		stream_t *s = c->streams;
		stream_unlink(s);
		stream_free(s);
	}
	free(c);
	server_handle_closed(srv);
}

static void conn_close(conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->srv->nconns--;
	uv_close(&c->io.handle, on_conn_close);
}

static void on_write(uv_write_t *req, int status)
{
	write_req_t *w = (write_req_t *)req;

	free(w->buf.base);
	free(w);
}

/* Send what the session has queued; close when neither side wants more. */
static void conn_flush(conn_t *c)
{
	pr_buf_t out = {0};
	const uint8_t *data;
	ssize_t n;

	if (c->closing)
		return;
	while ((n = nghttp2_session_mem_send(c->session, &data)) > 0)
		pr_buf_append(&out, data, (size_t)n);
	if (n < 0) {
		pr_buf_free(&out);
		conn_close(c);
		return;
	}
	if (out.len > 0) {
		write_req_t *w = pr_malloc(sizeof(*w));
		w->buf = uv_buf_init(out.data, (unsigned)out.len);
		if (uv_write(&w->req, &c->io.stream, &w->buf, 1, on_write) != 0) {
			free(out.data);
			free(w);
			conn_close(c);
			return;
		}
	} else {
		pr_buf_free(&out);
	}
	if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
		conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	conn_t *c = h->data;

	*buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	conn_t *c = stream->data;

	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	ssize_t used = nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base,
					       (size_t)nread);
	if (used < 0) {
		/* not HTTP/2 (no client preface) or a fatal protocol error */
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static int conn_start_session(conn_t *c)
{
	nghttp2_session_callbacks *cbs = NULL;
	int ret;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	ret = nghttp2_session_server_new(&c->session, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (ret != 0)
		return -ENOMEM;
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS_PER_CONN},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
	};
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2) != 0)
		return -ENOMEM;
	return 0;
}

/* The connection accepted longest ago with no call open, other than c, or
 * NULL (the list holds the newest first). */
static conn_t *oldest_idle(api_server_t *srv, const conn_t *c)
{
	conn_t *found = NULL;
	for (conn_t *o = srv->conns; o; o = o->next)
		if (o != c && !o->closing && !o->streams)
			found = o;
	return found;
}

static void on_connection(uv_stream_t *listener, int status)
{
	api_server_t *srv = listener->data;
	bool over_tcp = listener == (uv_stream_t *)&srv->tcp;

	if (status < 0 || srv->closing)
		return;
	conn_t *c = pr_calloc(1, sizeof(conn_t));
	c->srv = srv;
	c->over_tcp = over_tcp;
	if (over_tcp)
		uv_tcp_init(srv->loop, &c->io.tcp);
	else
		uv_pipe_init(srv->loop, &c->io.pipe, 0);
	c->io.handle.data = c;
	srv->open_handles++;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	/* At the cap, an idle connection makes room for the newcomer: connections
	 * left open and silent must not lock the management surface out. */
	if (srv->nconns > MAX_CONNECTIONS && oldest_idle(srv, c))
		conn_close(oldest_idle(srv, c));
	if (uv_accept(listener, &c->io.stream) != 0 || srv->nconns > MAX_CONNECTIONS ||
	    conn_start_session(c) != 0 || uv_read_start(&c->io.stream, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	if (over_tcp)
		uv_tcp_nodelay(&c->io.tcp, 1);
	conn_flush(c); /* our SETTINGS go first */
}

/* grpc-timeout: answer the calls whose deadline passed before their request
 * completed (a handler that runs past it is caught in stream_run). */
static void deadline_tick(uv_timer_t *t)
{
	api_server_t *srv = t->data;
	uint64_t now = pr_now_ms();
	bool pending = false;

	for (conn_t *c = srv->conns; c; c = c->next) {
		bool touched = false;
		for (stream_t *s = c->streams; s; s = s->next) {
			if (!s->deadline_ms || s->answered)
				continue;
			if (now >= s->deadline_ms) {
				stream_fail(s, API_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
				touched = true;
			} else {
				pending = true;
			}
		}
		if (touched)
			conn_flush(c);
	}
	if (!pending)
		uv_timer_stop(t);
}

/* ---- start and stop ---------------------------------------------------------- */

static int read_token(const char *file, char **out, char **why)
{
	char buf[4097];
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*why = pr_asprintf("token file %s: %s", file, strerror(errno));
		return PR_EIO;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		*why = pr_asprintf("token file %s: %s", file, strerror(errno));
		return PR_EIO;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0 || n >= 4096 || strlen(buf) != (size_t)n) {
		*why = pr_asprintf("token file %s: empty, too long or not text", file);
		return PR_ECONFIG;
	}
	for (ssize_t i = 0; i < n; i++) {
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] > 0x7e) {
			*why = pr_asprintf("token file %s: the token must be printable ASCII "
					   "without spaces",
					   file);
			return PR_ECONFIG;
		}
	}
	*out = pr_strdup(buf);
	return 0;
}

/* Remove a socket file left by a server that is gone; refuse to take over a
 * live one or to delete anything that is not a socket. */
static int clear_stale_socket(const char *path, char **why)
{
	struct stat st;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : (*why = pr_asprintf("%s: %s", path, strerror(errno)),
					      PR_EIO);
	if (!S_ISSOCK(st.st_mode)) {
		*why = pr_asprintf("%s exists and is not a socket", path);
		return PR_EIO;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = pr_asprintf("socket: %s", strerror(errno));
		return PR_EIO;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	if (live) {
		*why = pr_asprintf("%s: another server is listening there", path);
		return PR_EIO;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		*why = pr_asprintf("%s: %s", path, strerror(errno));
		return PR_EIO;
	}
	return 0;
}

static int parse_loopback(const char *text, struct sockaddr_in *sa)
{
	const char *colon = strrchr(text, ':');
	uint32_t addr;
	char host[32];
	char *end = NULL;

	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return PR_ECONFIG;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (pr_ipv4_parse(host, &addr) != 0 || (addr >> 24) != 127)
		return PR_ECONFIG; /* loopback only: the API is never exposed */
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return PR_ECONFIG;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(addr);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int listen_unix(api_server_t *srv, const char *path, char **why)
{
	struct sockaddr_un sa;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*why = pr_asprintf("%s: socket path longer than %zu bytes", path,
				   sizeof(sa.sun_path) - 1);
		return PR_ECONFIG;
	}
	if ((ret = clear_stale_socket(path, why)) < 0)
		return ret;
	uv_pipe_init(srv->loop, &srv->pipe, 0);
	srv->pipe.data = srv;
	srv->has_pipe = true;
	srv->open_handles++;
	if ((ret = uv_pipe_bind(&srv->pipe, path)) != 0 ||
	    (ret = uv_listen((uv_stream_t *)&srv->pipe, 16, on_connection)) != 0) {
		*why = pr_asprintf("%s: %s", path, uv_strerror(ret));
		return PR_EIO;
	}
	srv->unix_path = pr_strdup(path);
	/* the socket is the API's only guard on this side: owner only */
	chmod(path, 0600);
	return 0;
}

static int listen_tcp(api_server_t *srv, const char *address, char **why)
{
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	int ret;

	if (parse_loopback(address, &sa) < 0) {
		*why = pr_asprintf("%s: expected a loopback address 127.x.y.z:port", address);
		return PR_ECONFIG;
	}
	uv_tcp_init(srv->loop, &srv->tcp);
	srv->tcp.data = srv;
	srv->has_tcp = true;
	srv->open_handles++;
	if ((ret = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&sa, 0)) != 0 ||
	    (ret = uv_listen((uv_stream_t *)&srv->tcp, 16, on_connection)) != 0 ||
	    (ret = uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len)) != 0) {
		*why = pr_asprintf("%s: %s", address, uv_strerror(ret));
		return PR_EIO;
	}
	srv->tcp_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

int api_server_start(uv_loop_t *loop, const api_server_options_t *opts, api_registry_t *reg,
		     api_server_t **out, char **why)
{
	api_server_t *srv = NULL;
	char *msg = NULL;
	int ret = 0;

	PR_REQUIRE(loop && opts && reg && out);
	if (!opts->unix_path && !opts->tcp_address) {
		msg = pr_strdup("no Unix socket path and no TCP address to listen on");
		ret = PR_ECONFIG;
		goto cleanup;
	}
	if (opts->tcp_address && !opts->token_file) {
		msg = pr_strdup("a TCP listener needs a token file (bearer authentication)");
		ret = PR_ECONFIG;
		goto cleanup;
	}
	srv = pr_calloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->reg = reg;
	srv->max_message = opts->max_message_size ? opts->max_message_size
						   : API_DEFAULT_MAX_MESSAGE;
	uv_timer_init(loop, &srv->deadline_timer);
	srv->deadline_timer.data = srv;
	srv->open_handles++;
	if (opts->token_file && (ret = read_token(opts->token_file, &srv->token, &msg)) < 0)
		goto cleanup;
	if (opts->unix_path && (ret = listen_unix(srv, opts->unix_path, &msg)) < 0)
		goto cleanup;
	if (opts->tcp_address && (ret = listen_tcp(srv, opts->tcp_address, &msg)) < 0)
		goto cleanup;
	*out = srv;
	srv = NULL;
cleanup:
	if (srv)
		api_server_close(&srv);
	if (ret < 0 && why)
		*why = msg;
	else
		free(msg);
	return ret;
}

int api_server_tcp_port(const api_server_t *srv)
{
	return srv->tcp_port;
}

uint64_t api_server_calls(const api_server_t *srv)
{
	return srv->calls;
}

void api_server_close(api_server_t **sp)
{
	if (!sp || !*sp)
		return;
	api_server_t *srv = *sp;
	*sp = NULL;
	srv->closing = true;
	/* a failed start may have left the unix_path unset: only remove our own */
	if (srv->unix_path)
		unlink(srv->unix_path);
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->has_pipe)
		uv_close((uv_handle_t *)&srv->pipe, on_server_handle_close);
	if (srv->has_tcp)
		uv_close((uv_handle_t *)&srv->tcp, on_server_handle_close);
	uv_close((uv_handle_t *)&srv->deadline_timer, on_server_handle_close);
}
