/*
 * client — one unary gRPC call over HTTP/2 cleartext with nghttp2, blocking on
 * poll(2): what privresctl needs, no more. Connects to the daemon's Unix socket
 * or a loopback TCP port (never anything else: the API is local, design.md §6).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_p.h"
#include "base/base.h"

#define MAX_RESPONSE (64u << 20)

typedef struct call {
	int fd;
	int32_t stream_id;
	bool closed;
	uint32_t close_error;
	const uint8_t *req;
	size_t req_len, req_off;
	int http_status;
	int grpc_status; /* -1 until a grpc-status header arrives */
	char *grpc_message;
	pr_buf_t body;
	bool too_large;
} call_t;

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			    void *user_data)
{
	call_t *c = user_data;
	size_t n = c->req_len - c->req_off;

	if (n > length)
		n = length;
	memcpy(buf, c->req + c->req_off, n);
	c->req_off += n;
	if (c->req_off == c->req_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	call_t *c = user_data;
	char num[16];

	if (frame->hd.stream_id != c->stream_id)
		return 0;
	if ((namelen == 7 && memcmp(name, ":status", 7) == 0) ||
	    (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)) {
		if (valuelen == 0 || valuelen >= sizeof(num))
			return 0;
		memcpy(num, value, valuelen);
		num[valuelen] = '\0';
		if (name[0] == ':')
			c->http_status = atoi(num);
		else
			c->grpc_status = atoi(num);
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		free(c->grpc_message);
		c->grpc_message = api_percent_decode((const char *)value, valuelen);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	call_t *c = user_data;

	if (stream_id != c->stream_id || c->too_large)
		return 0;
	if (c->body.len + len > MAX_RESPONSE) {
		c->too_large = true;
		return 0;
	}
	pr_buf_append(&c->body, data, len);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	call_t *c = user_data;

	if (stream_id == c->stream_id) {
		c->closed = true;
		c->close_error = error_code;
	}
	return 0;
}

/* The status gRPC gives a response without grpc-status, from its HTTP status
 * (grpc/doc/http-grpc-status-mapping.md). */
static int status_from_http(int http)
{
	switch (http) {
	case 400:
		return API_STATUS_INTERNAL;
	case 401:
		return API_STATUS_UNAUTHENTICATED;
	case 403:
		return API_STATUS_PERMISSION_DENIED;
	case 404:
		return API_STATUS_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return API_STATUS_UNAVAILABLE;
	default:
		return API_STATUS_UNKNOWN;
	}
}

static int connect_target(const api_client_target_t *t, char *err, size_t errlen)
{
	int fd = -1;

	if (t->unix_path) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(t->unix_path) >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "%s: path too long", t->unix_path);
			return -1;
		}
		memcpy(sa.sun_path, t->unix_path, strlen(t->unix_path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		snprintf(err, errlen, "%s: %s", t->unix_path, strerror(errno));
	} else {
		uint32_t addr;
		uint16_t port;
		if (pr_hostport_parse(t->tcp_address, &addr, &port) != 0 || (addr >> 24) != 127) {
			snprintf(err, errlen, "%s: expected a loopback address 127.x.y.z:port",
				 t->tcp_address);
			return -1;
		}
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(addr)};
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		snprintf(err, errlen, "%s: %s", t->tcp_address, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Drive the session until the stream closes or the wait runs out. */
static int run_session(nghttp2_session *s, call_t *c, uint64_t deadline, char *err, size_t errlen)
{
	uint8_t buf[16384];

	while (!c->closed) {
		const uint8_t *data;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(s, &data)) > 0) {
			size_t off = 0;
			while (off < (size_t)n) {
				ssize_t w = send(c->fd, data + off, (size_t)n - off, MSG_NOSIGNAL);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					snprintf(err, errlen, "send: %s", strerror(errno));
					return API_STATUS_UNAVAILABLE;
				}
				off += (size_t)w;
			}
		}
		if (n < 0) {
			snprintf(err, errlen, "http2: %s", nghttp2_strerror((int)n));
			return API_STATUS_INTERNAL;
		}
		uint64_t now = pr_now_ms();
		if (now >= deadline) {
			snprintf(err, errlen, "no answer in time");
			return API_STATUS_DEADLINE_EXCEEDED;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(deadline - now > 1000 ? 1000 : deadline - now));
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return API_STATUS_UNAVAILABLE;
		}
		if (pr <= 0)
			continue;
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "connection closed by the server");
			return API_STATUS_UNAVAILABLE;
		}
		if (nghttp2_session_mem_recv(s, buf, (size_t)r) < 0) {
			snprintf(err, errlen, "http2 protocol error from the server");
			return API_STATUS_INTERNAL;
		}
	}
	return API_STATUS_OK;
}

static nghttp2_session *client_session(call_t *c, char *err, size_t errlen)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_session *session = NULL;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	if (nghttp2_session_client_new(&session, cbs, c) != 0) {
		snprintf(err, errlen, "out of memory");
		session = NULL;
	} else {
		nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, NULL, 0);
	}
	nghttp2_session_callbacks_del(cbs);
	return session;
}

/* The gRPC request's headers and body on a new stream; its id, or < 0. */
static int32_t submit_call(nghttp2_session *session, const api_client_target_t *target,
			   const char *path)
{
	char timeout[24], *auth = NULL;
	nghttp2_nv hdrs[8];
	size_t nh = 0;
#define ADD(n, v) \
	hdrs[nh++] = (nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), \
				  NGHTTP2_NV_FLAG_NONE}
	ADD(":method", "POST");
	ADD(":scheme", "http");
	ADD(":authority", target->unix_path ? "localhost" : target->tcp_address);
	ADD(":path", path);
	ADD("content-type", "application/grpc");
	ADD("te", "trailers");
	if (target->timeout_ms) {
		snprintf(timeout, sizeof(timeout), "%llum", (unsigned long long)target->timeout_ms);
		ADD("grpc-timeout", timeout);
	}
	if (target->token && !target->unix_path) {
		auth = pr_asprintf("Bearer %s", target->token);
		ADD("authorization", auth);
	}
#undef ADD
	nghttp2_data_provider prd = {.read_callback = read_request};
	/* nghttp2 copies the header values it is given */
	int32_t id = nghttp2_submit_request(session, NULL, hdrs, nh, &prd, NULL);
	free(auth);
	return id;
}

/* The gRPC status and message of a finished call, and its one message. */
static int read_response(const call_t *c, uint8_t **resp, size_t *resp_len, char *err,
			 size_t errlen)
{
	if (c->grpc_status < 0) {
		snprintf(err, errlen, "no grpc-status in the response (HTTP %d)", c->http_status);
		return c->http_status == 200 ? API_STATUS_INTERNAL : status_from_http(c->http_status);
	}
	snprintf(err, errlen, "%s", c->grpc_message ? c->grpc_message : "");
	if (c->grpc_status != API_STATUS_OK)
		return c->grpc_status;
	const uint8_t *msg = NULL;
	size_t len = 0;
	const char *why = NULL;
	if (c->too_large) {
		snprintf(err, errlen, "response larger than %u bytes", MAX_RESPONSE);
		return API_STATUS_RESOURCE_EXHAUSTED;
	}
	if (api_frame_unpack((const uint8_t *)c->body.data, c->body.len, &msg, &len, &why) != 0) {
		snprintf(err, errlen, "bad response: %s", why);
		return API_STATUS_INTERNAL;
	}
	*resp = pr_malloc(len ? len : 1);
	memcpy(*resp, msg, len);
	*resp_len = len;
	return API_STATUS_OK;
}

int api_client_call(const api_client_target_t *target, const char *path, const uint8_t *req,
		    size_t req_len, uint8_t **resp, size_t *resp_len, api_status_t *status)
{
	nghttp2_session *session = NULL;
	call_t c = {.fd = -1, .grpc_status = -1};
	uint8_t *framed = NULL;
	char err[API_STATUS_MESSAGE_MAX] = "";
	int code = API_STATUS_INTERNAL;

	if (!target || (!target->unix_path && !target->tcp_address) || !path || path[0] != '/')
		return PR_ECONFIG;
	uint64_t wait = target->wait_ms ? target->wait_ms
			: target->timeout_ms ? target->timeout_ms + 1000
					     : 30000;
	uint64_t deadline = pr_now_ms() + wait;

	c.fd = connect_target(target, err, sizeof(err));
	if (c.fd < 0) {
		code = API_STATUS_UNAVAILABLE;
		goto cleanup;
	}
	framed = pr_malloc(API_GRPC_HEADER_LEN + req_len);
	api_frame_header(framed, req_len);
	if (req_len)
		memcpy(framed + API_GRPC_HEADER_LEN, req, req_len);
	c.req = framed;
	c.req_len = API_GRPC_HEADER_LEN + req_len;
	if (!(session = client_session(&c, err, sizeof(err))))
		goto cleanup;
	c.stream_id = submit_call(session, target, path);
	if (c.stream_id < 0) {
		snprintf(err, sizeof(err), "http2: %s", nghttp2_strerror(c.stream_id));
		goto cleanup;
	}
	code = run_session(session, &c, deadline, err, sizeof(err));
	if (code == API_STATUS_OK)
		code = read_response(&c, resp, resp_len, err, sizeof(err));
cleanup:
	status->code = code;
	snprintf(status->message, sizeof(status->message), "%s", err);
	if (session)
		nghttp2_session_del(session);
	if (c.fd >= 0)
		close(c.fd);
	free(framed);
	free(c.grpc_message);
	pr_buf_free(&c.body);
	return 0;
}

int api_client_call_json(const api_client_target_t *target, const char *path, const json_t *req,
			 json_t **resp, api_status_t *status)
{
	const ProtobufCMessageDescriptor *in, *out;
	ProtobufCMessage *msg = NULL;
	uint8_t *packed = NULL, *answer = NULL;
	size_t answer_len = 0;
	char *why = NULL;
	int ret = 0;

	if (api_schema_method(path, &in, &out) != 0) {
		api_status_set(status, API_STATUS_UNIMPLEMENTED, "unknown method %s", path);
		goto cleanup;
	}
	if (pbjson_to_message(in, req, &msg, &why) != 0) {
		api_status_set(status, API_STATUS_INVALID_ARGUMENT, "%s", why);
		goto cleanup;
	}
	size_t n = protobuf_c_message_get_packed_size(msg);
	packed = pr_malloc(n ? n : 1);
	protobuf_c_message_pack(msg, packed);
	ret = api_client_call(target, path, packed, n, &answer, &answer_len, status);
	if (ret < 0 || status->code != API_STATUS_OK)
		goto cleanup;
	protobuf_c_message_free_unpacked(msg, NULL);
	msg = protobuf_c_message_unpack(out, NULL, answer_len, answer);
	if (!msg) {
		api_status_set(status, API_STATUS_INTERNAL, "malformed %s from the server",
			       out->name);
		goto cleanup;
	}
	if (pbjson_from_message(msg, resp) != 0)
		api_status_set(status, API_STATUS_INTERNAL, "response does not convert to JSON");
cleanup:
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	free(packed);
	free(answer);
	free(why);
	return ret;
}
