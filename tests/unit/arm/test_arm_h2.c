/* arm/ over HTTP/2 without I/O: the ClientHello's ALPN as the front reads it
 * (ClientHellos written by GnuTLS itself), and an arm_h2 session driven by
 * an nghttp2 client session in memory: the request handed on as the
 * HTTP/1.1 path builds it (query decoded, :authority as host), the answer's
 * status, headers and body, a body over ARM_MAX_BODY refused with 413. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <nghttp2/nghttp2.h>

#include "arm/arm_p.h"

/* ---- ClientHellos ---------------------------------------------------------------------- */

static pr_buf_t hello;

static ssize_t capture(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	pr_buf_append(&hello, data, len);
	return (ssize_t)len;
}

static ssize_t nothing(gnutls_transport_ptr_t p, void *data, size_t len)
{
	errno = EAGAIN;
	return -1;
}

/* The first flight of a GnuTLS client offering alpn (n protocols). */
static void client_hello(const char *const *alpn, unsigned n)
{
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	pr_buf_free(&hello);
	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_set_default_priority(s);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_datum_t protos[4];
	for (unsigned i = 0; i < n; i++)
		protos[i] = (gnutls_datum_t){(unsigned char *)alpn[i], (unsigned)strlen(alpn[i])};
	if (n)
		gnutls_alpn_set_protocols(s, protos, n, 0);
	gnutls_transport_set_push_function(s, capture);
	gnutls_transport_set_pull_function(s, nothing);
	assert_int_equal(gnutls_handshake(s), GNUTLS_E_AGAIN);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
}

static void test_client_hello(void **state)
{
	const char *both[] = {"h2", "http/1.1"}, *h1[] = {"http/1.1"}, *h2[] = {"h2"};
	client_hello(both, 2);
	const uint8_t *p = (const uint8_t *)hello.data;
	assert_int_equal(arm_client_hello_h2(p, hello.len), 1);
	/* not all there yet: every shorter prefix asks for more */
	for (size_t n = 0; n < hello.len; n += 37)
		assert_int_equal(arm_client_hello_h2(p, n), -EAGAIN);
	client_hello(h2, 1);
	assert_int_equal(arm_client_hello_h2((const uint8_t *)hello.data, hello.len), 1);
	client_hello(h1, 1);
	assert_int_equal(arm_client_hello_h2((const uint8_t *)hello.data, hello.len), 0);
	client_hello(NULL, 0);
	assert_int_equal(arm_client_hello_h2((const uint8_t *)hello.data, hello.len), 0);
	/* plain HTTP, and lengths that lie */
	assert_int_equal(arm_client_hello_h2((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0);
	uint8_t lie[64] = {0x16, 3, 1, 0, 59, 1, 0, 0, 55};
	memset(lie + 9, 0xff, sizeof(lie) - 9);
	assert_int_equal(arm_client_hello_h2(lie, sizeof(lie)), 0);
	uint8_t huge[5] = {0x16, 3, 1, 0xff, 0xff};
	assert_int_equal(arm_client_hello_h2(huge, sizeof(huge)), 0);
	pr_buf_free(&hello);
}

/* ---- an h2 session in memory ---------------------------------------------------------- */

typedef struct pair {
	arm_h2_t *server;
	nghttp2_session *client;
	pr_buf_t to_client;
	int requests;
	char path[64], version[16], top[8], host[32], auth[32], async_op[32];
	size_t body_len;
	int status;
	pr_buf_t body;
} pair_t;

static void on_request(void *arg, int32_t stream, const arm_request_t *rq)
{
	pair_t *p = arg;
	p->requests++;
	/* kept in the pair's arrays: the test's own allocator is not the library's */
	snprintf(p->path, sizeof(p->path), "%s", rq->path);
	snprintf(p->version, sizeof(p->version), "%s", rq->api_version ? rq->api_version : "");
	snprintf(p->top, sizeof(p->top), "%s", rq->top ? rq->top : "");
	snprintf(p->host, sizeof(p->host), "%s", rq->host ? rq->host : "");
	snprintf(p->auth, sizeof(p->auth), "%s", rq->authorization ? rq->authorization : "");
	p->body_len = rq->body_len;
	arm_response_t rs = {.status = 202, .body = pr_strdup("{\"ok\":true}"),
			     .async_operation = pr_strdup("https://h/op")};
	assert_int_equal(arm_h2_respond(p->server, stream, &rs), 0);
	arm_response_clear(&rs);
}

static int to_client(void *arg, const uint8_t *data, size_t len)
{
	pr_buf_append(&((pair_t *)arg)->to_client, data, len);
	return 0;
}

static int on_client_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
			    size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *arg)
{
	pair_t *p = arg;
	if (nl == 7 && !memcmp(name, ":status", 7) && vl == 3)
		p->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
	if (nl == 20 && !memcmp(name, "azure-asyncoperation", 20))
		snprintf(p->async_op, sizeof(p->async_op), "%.*s", (int)vl, (const char *)value);
	return 0;
}

static int on_client_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			  size_t len, void *arg)
{
	pr_buf_append(&((pair_t *)arg)->body, data, len);
	return 0;
}

/* Move octets both ways until neither side has more. */
static void exchange(pair_t *p)
{
	for (int round = 0; round < 100; round++) {
		const uint8_t *out;
		ssize_t n, moved = 0;
		while ((n = nghttp2_session_mem_send(p->client, &out)) > 0) {
			assert_int_equal(arm_h2_recv(p->server, out, (size_t)n), 0);
			moved += n;
		}
		assert_int_equal(arm_h2_flush(p->server), 0);
		if (p->to_client.len) {
			assert_true(nghttp2_session_mem_recv(p->client, (uint8_t *)p->to_client.data,
							     p->to_client.len) >= 0);
			moved += (ssize_t)p->to_client.len;
			p->to_client.len = 0;
		}
		if (!moved)
			return;
	}
	fail_msg("the sessions did not settle");
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t big_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
			nghttp2_data_source *src, void *arg)
{
	size_t *left = src->ptr;
	size_t n = len < *left ? len : *left;
	memset(buf, 'x', n);
	*left -= n;
	if (!*left)
		*fl |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void pair_open(pair_t *p)
{
	memset(p, 0, sizeof(*p));
	arm_h2_callbacks_t cb = {.request = on_request, .send = to_client};
	assert_int_equal(arm_h2_new(&cb, p, &p->server), 0);
	nghttp2_session_callbacks *cbs;
	nghttp2_session_callbacks_new(&cbs);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_client_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_client_data);
	assert_int_equal(nghttp2_session_client_new(&p->client, cbs, p), 0);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(p->client, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void pair_close(pair_t *p)
{
	nghttp2_session_del(p->client);
	arm_h2_destroy(&p->server);
	pr_buf_free(&p->to_client);
	pr_buf_free(&p->body);
}

static void test_session(void **state)
{
	pair_t p;
	pair_open(&p);
	nghttp2_nv hd[] = {NV(":method", "PUT"),
			   NV(":path", "/subscriptions/s/x%20y?api-version=2022-07-01&%24top=5"),
			   NV(":scheme", "https"), NV(":authority", "127.0.0.1:8443"),
			   NV("authorization", "Bearer a.b.c")};
	size_t left = 1000;
	nghttp2_data_provider body = {.source.ptr = &left, .read_callback = big_body};
	assert_true(nghttp2_submit_request(p.client, NULL, hd, 5, &body, NULL) > 0);
	exchange(&p);
	assert_int_equal(p.requests, 1);
	assert_string_equal(p.path, "/subscriptions/s/x%20y"); /* the route decodes segments */
	assert_string_equal(p.version, "2022-07-01");
	assert_string_equal(p.top, "5");
	assert_string_equal(p.host, "127.0.0.1:8443");
	assert_string_equal(p.auth, "Bearer a.b.c");
	assert_int_equal(p.body_len, 1000);
	assert_int_equal(p.status, 202);
	assert_string_equal(p.async_op, "https://h/op");
	assert_int_equal(p.body.len, 11);
	assert_memory_equal(p.body.data, "{\"ok\":true}", 11);
	pair_close(&p);
}

static void test_too_large(void **state)
{
	pair_t p;
	pair_open(&p);
	nghttp2_nv hd[] = {NV(":method", "PUT"), NV(":path", "/x"), NV(":scheme", "https"),
			   NV(":authority", "h")};
	size_t left = ARM_MAX_BODY + 1;
	nghttp2_data_provider body = {.source.ptr = &left, .read_callback = big_body};
	assert_true(nghttp2_submit_request(p.client, NULL, hd, 4, &body, NULL) > 0);
	for (int i = 0; i < 2000 && p.status == 0; i++)
		exchange(&p);
	assert_int_equal(p.requests, 0); /* never handed on */
	assert_int_equal(p.status, 413);
	pr_buf_append(&p.body, "", 1);
	assert_non_null(strstr(p.body.data, "RequestEntityTooLarge"));
	pair_close(&p);
}

static void test_garbage(void **state)
{
	pair_t p;
	pair_open(&p);
	static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(arm_h2_recv(p.server, junk, sizeof(junk) - 1), -EPROTO);
	assert_int_equal(arm_h2_flush(p.server), 0);
	assert_true(p.to_client.len > 0); /* SETTINGS and GOAWAY */
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_hello),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
