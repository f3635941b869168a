/*
 * DNS over HTTPS (RFC 8484) as an HTTP/2 server session over nghttp2, with no
 * transport of its own: octets in through doh_recv(), out through the send
 * callback (secure.c puts them in TLS; the fuzzer feeds them directly).
 * GET carries the query base64url-encoded in ?dns=, POST as its body, both
 * application/dns-message on EP_DOH_PATH. Bad requests get their HTTP status
 * (RFC 8484 §4.2.1, RFC 9110); protocol violations a GOAWAY (nghttp2).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "endpoints/endpoints_p.h"

#define DOH_CONTENT_TYPE "application/dns-message"
#define DOH_MAX_HEADERS 64 /* header fields per request; more resets the stream */

typedef struct dstream dstream_t;

struct doh {
	nghttp2_session *ng;
	doh_callbacks_t cb;
	void *arg;
	uint64_t bad;
	dstream_t *streams; /* every open stream's state: nghttp2_session_del()
			     * does not close streams through the callback */
};

/* One request, as its frames arrive, then its response. */
struct dstream {
	dstream_t *prev, *next;
	char method[16];
	char content_type[64];
	char *path;
	bool has_method, has_ct, responded;
	int header_error; /* an HTTP status decided while reading headers */
	unsigned headers;
	uint8_t *body;
	size_t body_len;
	uint8_t *resp; /* the answer being sent */
	size_t resp_len, resp_off;
};

/* --- Requests (pure; the fuzzer's first target). --- */

static int b64url_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/* RFC 4648 §5 without padding (RFC 8484 §4.1); trailing '=' tolerated.
 * Returns the decoded length, or -1 (bad text) or -2 (over cap). */
static long b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -2;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

/* The value of parameter name in a query string, or NULL; *len its length. */
static const char *query_param(const char *qs, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = qs; p && *p;) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		if (plen > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			*len = plen - nl - 1;
			return p + nl + 1;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static bool is_dns_message(const char *ct)
{
	size_t n = strlen(DOH_CONTENT_TYPE);
	/* Media types are case-insensitive; parameters (";...") ignored. */
	if (strncasecmp(ct, DOH_CONTENT_TYPE, n) != 0)
		return false;
	while (ct[n] == ' ' || ct[n] == '\t')
		n++;
	return ct[n] == '\0' || ct[n] == ';';
}

int doh_parse_request(const doh_request_t *r, uint8_t *scratch, const uint8_t **msg,
		      size_t *len)
{
	if (r->method == NULL || r->path == NULL)
		return 400;
	const char *q = strchr(r->path, '?');
	size_t plen = q ? (size_t)(q - r->path) : strlen(r->path);
	if (plen != strlen(EP_DOH_PATH) || strncmp(r->path, EP_DOH_PATH, plen) != 0)
		return 404;
	if (!strcmp(r->method, "GET")) {
		size_t vlen = 0;
		const char *v = q ? query_param(q + 1, "dns", &vlen) : NULL;
		if (v == NULL)
			return 400;
		long n = b64url_decode(v, vlen, scratch, DOH_MAX_BODY);
		if (n == -2)
			return 413;
		if (n < EP_DNS_HEADER_LEN)
			return 400;
		*msg = scratch;
		*len = (size_t)n;
		return 200;
	}
	if (!strcmp(r->method, "POST")) {
		if (r->content_type == NULL || !is_dns_message(r->content_type))
			return 415;
		if (r->body_len > DOH_MAX_BODY)
			return 413;
		if (r->body_len < EP_DNS_HEADER_LEN)
			return 400;
		*msg = r->body;
		*len = r->body_len;
		return 200;
	}
	return 405;
}

/* --- The HTTP/2 session. --- */

static void stream_free(doh_t *d, dstream_t *st)
{
	if (st == NULL)
		return;
	if (st->prev)
		st->prev->next = st->next;
	else
		d->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st->path);
	free(st->body);
	free(st->resp);
	free(st);
}

static int submit(doh_t *d, int32_t stream, int status, const uint8_t *body, size_t len);

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	doh_t *d = arg;
	dstream_t *st = pr_calloc(1, sizeof(*st));
	st->next = d->streams;
	if (d->streams)
		d->streams->prev = st;
	d->streams = st;
	nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
	return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n, bool *ok)
{
	*ok = n < cap;
	if (!*ok)
		return;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *arg)
{
	dstream_t *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (st == NULL || frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers are ignored */
	if (++st->headers > DOH_MAX_HEADERS)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	bool ok = true;
	if (namelen == 7 && !memcmp(name, ":method", 7)) {
		copy_value(st->method, sizeof(st->method), value, valuelen, &ok);
		st->has_method = ok;
		if (!ok)
			st->header_error = 405;
	} else if (namelen == 5 && !memcmp(name, ":path", 5)) {
		if (valuelen > DOH_MAX_PATH) {
			st->header_error = 414;
		} else {
			free(st->path);
			st->path = pr_strndup((const char *)value, valuelen);
		}
	} else if (namelen == 12 && !memcmp(name, "content-type", 12)) {
		copy_value(st->content_type, sizeof(st->content_type), value, valuelen, &ok);
		st->has_ct = ok;
		if (!ok)
			st->header_error = 415;
	}
	return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t stream, const uint8_t *data,
		   size_t len, void *arg)
{
	doh_t *d = arg;
	dstream_t *st = nghttp2_session_get_stream_user_data(ng, stream);
	if (st == NULL || st->responded)
		return 0;
	if (st->body_len + len > DOH_MAX_BODY) {
		/* Oversized: answered at once, the rest is not kept. */
		d->bad++;
		submit(d, stream, 413, NULL, 0);
		return 0;
	}
	/* Grown as it comes: a stream holds what its client sent, no more. */
	if (len == 0)
		return 0;
	st->body = pr_realloc(st->body, st->body_len + len);
	memcpy(st->body + st->body_len, data, len);
	st->body_len += len;
	return 0;
}

static void request_done(doh_t *d, int32_t stream, dstream_t *st)
{
	if (st->responded)
		return;
	int status = st->header_error;
	const uint8_t *msg = NULL;
	size_t len = 0;
	uint8_t *scratch = NULL;
	if (status == 0) {
		doh_request_t r = {st->has_method ? st->method : NULL, st->path,
				   st->has_ct ? st->content_type : NULL, st->body, st->body_len};
		scratch = pr_malloc(DOH_MAX_BODY);
		status = doh_parse_request(&r, scratch, &msg, &len);
	}
	if (status == 200) {
		st->responded = true; /* by the handler, now or later */
		d->cb.query(d->arg, stream, msg, len);
	} else {
		d->bad++;
		submit(d, stream, status, NULL, 0);
	}
	free(scratch);
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
	doh_t *d = arg;
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	dstream_t *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (st != NULL)
		request_done(d, frame->hd.stream_id, st);
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
	dstream_t *st = nghttp2_session_get_stream_user_data(ng, stream);
	if (st == NULL)
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

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static int submit(doh_t *d, int32_t stream, int status, const uint8_t *body, size_t len)
{
	dstream_t *st = nghttp2_session_get_stream_user_data(d->ng, stream);
	if (st == NULL || (st->resp != NULL))
		return 0; /* reset by the client meanwhile, or answered */
	st->responded = true;
	char code[8], clen[16];
	snprintf(code, sizeof(code), "%d", status);
	snprintf(clen, sizeof(clen), "%zu", len);
	nghttp2_nv ok[] = {NV(":status", code), NV("content-type", DOH_CONTENT_TYPE),
			   NV("content-length", clen)};
	nghttp2_nv err[] = {NV(":status", code), NV("content-length", "0")};
	if (status != 200)
		return nghttp2_submit_response(d->ng, stream, err, 2, NULL) == 0 ? 0 : -EPROTO;
	st->resp = pr_malloc(len ? len : 1);
	memcpy(st->resp, body, len);
	st->resp_len = len;
	nghttp2_data_provider prd = {.read_callback = read_body};
	return nghttp2_submit_response(d->ng, stream, ok, 3, &prd) == 0 ? 0 : -EPROTO;
}

int doh_answer(doh_t *d, int32_t stream, const uint8_t *msg, size_t len)
{
	return submit(d, stream, 200, msg, len);
}

int doh_error(doh_t *d, int32_t stream, int status)
{
	dstream_t *st = nghttp2_session_get_stream_user_data(d->ng, stream);
	if (st != NULL)
		st->responded = false;
	return submit(d, stream, status, NULL, 0);
}

int doh_new(const doh_callbacks_t *cb, void *arg, uint32_t max_streams, doh_t **out)
{
	doh_t *d = pr_calloc(1, sizeof(*d));
	nghttp2_session_callbacks *cbs = NULL;
	int r = -ENOMEM;
	d->cb = *cb;
	d->arg = arg;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		goto cleanup;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
	if (nghttp2_session_server_new(&d->ng, cbs, d) != 0) {
		d->ng = NULL;
		goto cleanup;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
	};
	r = nghttp2_submit_settings(d->ng, NGHTTP2_FLAG_NONE, iv, 2) == 0 ? 0 : -EPROTO;
cleanup:
	nghttp2_session_callbacks_del(cbs);
	if (r < 0)
		doh_destroy(&d);
	else
		*out = d;
	return r;
}

void doh_destroy(doh_t **dp)
{
	if (dp == NULL || *dp == NULL)
		return;
	doh_t *d = *dp;
	if (d->ng)
		nghttp2_session_del(d->ng);
	while (d->streams != NULL)
		stream_free(d, d->streams);
	free(d);
	*dp = NULL;
}

int doh_recv(doh_t *d, const uint8_t *data, size_t len)
{
	ssize_t n = nghttp2_session_mem_recv(d->ng, data, len);
	if (n < 0) {
		/* Not HTTP/2 at all (a bad preface) or a connection error:
		 * say so with a GOAWAY when the session still can. */
		nghttp2_session_terminate_session(d->ng, NGHTTP2_PROTOCOL_ERROR);
		return -EPROTO;
	}
	return 0;
}

int doh_flush(doh_t *d)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(d->ng, &p);
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			return 0;
		int r = d->cb.send(d->arg, p, (size_t)n);
		if (r != 0)
			return r;
	}
}

bool doh_finished(const doh_t *d)
{
	return !nghttp2_session_want_read(d->ng) && !nghttp2_session_want_write(d->ng);
}

uint64_t doh_bad_requests(const doh_t *d)
{
	return d->bad;
}
