/* The ARM surface over HTTP/2 (RFC 9113): a server session over nghttp2
 * with no transport of its own (front.c puts it in TLS, the fuzzer feeds it
 * directly). Each whole request becomes the same arm_request_t the HTTP/1.1
 * path builds, so arm_handle() stays the one home of the semantics.
 *
 * Bad input: framing and HPACK violations are nghttp2's to answer (GOAWAY or
 * RST_STREAM, its rapid-reset limit included); what is ours is answered
 * with the cloud's error body: a body over ARM_MAX_BODY (413, the rest is
 * not kept), too many headers (431). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "arm/arm_p.h"

#define H2_MAX_HEADERS 100     /* fields in one request */
#define H2_MAX_HEADER_LIST 65536 /* SETTINGS_MAX_HEADER_LIST_SIZE */

typedef struct hstream hstream_t;

struct arm_h2 {
	nghttp2_session *ng;
	arm_h2_callbacks_t cb;
	void *arg;
	hstream_t *streams; /* every open stream: nghttp2_session_del() does not
			     * close them through the callback */
};

/* The request's fields as they arrive (owned), then the answer being sent. */
enum { F_METHOD, F_PATH, F_AUTHORITY, F_HOST, F_AUTH, F_IF_MATCH, F_IF_NONE_MATCH, F_COUNT };
static const char *const field_names[F_COUNT] = {
	":method", ":path", ":authority", "host", "authorization", "if-match", "if-none-match",
};

struct hstream {
	hstream_t *prev, *next;
	char *field[F_COUNT];
	unsigned headers;
	int refused; /* a status decided before the request is whole */
	bool handed;  /* given to cb.request: the answer comes from arm_h2_respond */
	bool answered;
	pr_buf_t body;
	char *resp;
	size_t resp_len, resp_off;
};

static void stream_free(arm_h2_t *h, hstream_t *st)
{
	if (!st)
		return;
	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	for (int i = 0; i < F_COUNT; i++)
		free(st->field[i]);
	pr_buf_free(&st->body);
	free(st->resp);
	free(st);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	arm_h2_t *h = arg;
	hstream_t *st = pr_calloc(1, sizeof(*st));
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *arg)
{
	hstream_t *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (!st || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers are ignored */
	if (++st->headers > H2_MAX_HEADERS) {
		st->refused = 431;
		return 0;
	}
	for (int i = 0; i < F_COUNT; i++) {
		if (strlen(field_names[i]) == namelen && !memcmp(field_names[i], name, namelen)) {
			free(st->field[i]);
			st->field[i] = pr_strndup((const char *)value, valuelen);
		}
	}
	return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t stream, const uint8_t *data,
		   size_t len, void *arg)
{
	hstream_t *st = nghttp2_session_get_stream_user_data(ng, stream);
	if (!st || st->refused)
		return 0;
	if (st->body.len + len > ARM_MAX_BODY) {
		st->refused = 413;
		pr_buf_free(&st->body);
		return 0;
	}
	pr_buf_append(&st->body, data, len);
	return 0;
}

/* A query's name or value percent-decoded, '+' a space as in a form
 * (owned; NULL when malformed). */
static char *query_decode(const char *s, size_t n)
{
	char *v = arm_pct_decode(s, n);
	for (char *c = v; c && *c; c++)
		if (*c == '+')
			*c = ' ';
	return v;
}

/* The value of parameter name in query q (owned); NULL when absent. */
static char *query_param(const char *q, const char *name)
{
	for (const char *p = q; p && *p;) {
		size_t len = strcspn(p, "&"), nl = strcspn(p, "=&");
		char *key = query_decode(p, nl);
		bool match = key && !strcmp(key, name);
		free(key);
		if (match)
			return query_decode(p + nl + (nl < len), len - nl - (nl < len));
		p = p[len] ? p + len + 1 : NULL;
	}
	return NULL;
}

static void hand_over(arm_h2_t *h, int32_t stream, hstream_t *st)
{
	const char *target = st->field[F_PATH];
	const char *q = strchr(target, '?');
	char *path = pr_strndup(target, q ? (size_t)(q - target) : strlen(target));
	enum { Q_VERSION, Q_TOP, Q_SKIP, Q_SKIP_LOWER, Q_COUNT };
	static const char *const params[Q_COUNT] = {"api-version", "$top", "$skipToken",
						    "$skiptoken"};
	char *v[Q_COUNT];
	for (int i = 0; i < Q_COUNT; i++)
		v[i] = q ? query_param(q + 1, params[i]) : NULL;
	arm_request_t rq = {
		.method = st->field[F_METHOD],
		.path = path,
		.api_version = v[Q_VERSION],
		.top = v[Q_TOP],
		.skip_token = v[Q_SKIP] ? v[Q_SKIP] : v[Q_SKIP_LOWER],
		.authorization = st->field[F_AUTH],
		.if_match = st->field[F_IF_MATCH],
		.if_none_match = st->field[F_IF_NONE_MATCH],
		.host = st->field[F_AUTHORITY] ? st->field[F_AUTHORITY] : st->field[F_HOST],
		.body = st->body.data,
		.body_len = st->body.len,
	};
	st->handed = true;
	h->cb.request(h->arg, stream, &rq);
	for (int i = 0; i < Q_COUNT; i++)
		free(v[i]);
	free(path);
}

static void request_done(arm_h2_t *h, int32_t stream, hstream_t *st)
{
	if (st->handed || st->answered)
		return;
	if (!st->refused && (!st->field[F_METHOD] || !st->field[F_PATH]))
		st->refused = 400; /* nghttp2 checks pseudo-headers; kept for safety */
	if (!st->refused)
		return hand_over(h, stream, st);
	arm_response_t rs;
	if (st->refused == 413)
		arm_response_error(&rs, 413, "RequestEntityTooLarge", ARM_TOO_LARGE);
	else if (st->refused == 431)
		arm_response_error(&rs, 431, "RequestHeaderFieldsTooLarge",
				   "The request has more header fields than privres accepts.");
	else
		arm_response_error(&rs, 400, "BadRequest", "The request is malformed.");
	arm_h2_respond(h, stream, &rs);
	arm_response_clear(&rs);
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	hstream_t *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (st)
		request_done(arg, frame->hd.stream_id, st);
	return 0;
}

static int on_close(nghttp2_session *ng, int32_t stream, uint32_t code, void *arg)
{
	stream_free(arg, nghttp2_session_get_stream_user_data(ng, stream));
	nghttp2_session_set_stream_user_data(ng, stream, NULL);
	return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t stream, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	hstream_t *st = nghttp2_session_get_stream_user_data(ng, stream);
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t n = st->resp_len - st->resp_off;
	if (n > len)
		n = len;
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

int arm_h2_respond(arm_h2_t *h, int32_t stream, const arm_response_t *rs)
{
	hstream_t *st = nghttp2_session_get_stream_user_data(h->ng, stream);
	if (!st || st->answered)
		return 0; /* reset by the client meanwhile, or answered */
	st->answered = true;
	arm_header_t hd[ARM_RESPONSE_HEADERS];
	char ra[16], code[8], clen[24];
	char lower[ARM_RESPONSE_HEADERS][32];
	size_t n = arm_response_headers(rs, hd, ra);
	st->resp_len = rs->body ? strlen(rs->body) : 0;
	st->resp = pr_strndup(rs->body ? rs->body : "", st->resp_len);
	snprintf(code, sizeof(code), "%d", rs->status);
	snprintf(clen, sizeof(clen), "%zu", st->resp_len);
	nghttp2_nv nv[ARM_RESPONSE_HEADERS + 2] = {
		{(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen),
		 NGHTTP2_NV_FLAG_NONE},
	};
	for (size_t i = 0; i < n; i++) {
		/* HTTP/2 field names are lower case (RFC 9113 §8.2.1) */
		size_t len = strlen(hd[i].name);
		for (size_t c = 0; c <= len; c++)
			lower[i][c] = (char)tolower((unsigned char)hd[i].name[c]);
		nv[2 + i] = (nghttp2_nv){(uint8_t *)lower[i], (uint8_t *)hd[i].value, len,
					 strlen(hd[i].value), NGHTTP2_NV_FLAG_NONE};
	}
	nghttp2_data_provider prd = {.read_callback = read_body};
	return nghttp2_submit_response(h->ng, stream, nv, n + 2, st->resp_len ? &prd : NULL) == 0
		       ? 0
		       : -EPROTO;
}

int arm_h2_new(const arm_h2_callbacks_t *cb, void *arg, arm_h2_t **out)
{
	arm_h2_t *h = pr_calloc(1, sizeof(*h));
	nghttp2_session_callbacks *cbs = NULL;
	int r = -ENOMEM;
	h->cb = *cb;
	h->arg = arg;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		goto cleanup;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
	if (nghttp2_session_server_new(&h->ng, cbs, h) != 0) {
		h->ng = NULL;
		goto cleanup;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, ARM_H2_MAX_STREAMS},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST},
	};
	r = nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 2) == 0 ? 0 : -EPROTO;
cleanup:
	nghttp2_session_callbacks_del(cbs);
	if (r < 0)
		arm_h2_destroy(&h);
	else
		*out = h;
	return r;
}

void arm_h2_destroy(arm_h2_t **hp)
{
	if (!hp || !*hp)
		return;
	arm_h2_t *h = *hp;
	if (h->ng)
		nghttp2_session_del(h->ng);
	while (h->streams)
		stream_free(h, h->streams);
	free(h);
	*hp = NULL;
}

int arm_h2_recv(arm_h2_t *h, const uint8_t *data, size_t len)
{
	ssize_t n = nghttp2_session_mem_recv(h->ng, data, len);
	if (n < 0) {
		/* not HTTP/2 (a bad preface) or a connection error: a GOAWAY
		 * says so when the session still can */
		nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
		return -EPROTO;
	}
	return 0;
}

int arm_h2_flush(arm_h2_t *h)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(h->ng, &p);
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			return 0;
		int r = h->cb.send(h->arg, p, (size_t)n);
		if (r != 0)
			return r;
	}
}

bool arm_h2_finished(const arm_h2_t *h)
{
	return !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
}
