/* The local CA (generate, save, load, issue) and server sessions driven over
 * memory against a real GnuTLS client: TLS 1.3 with ALPN, client
 * certificates required, refused and logged, resumption (W-6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls/tls.h"

#include <cmocka.h>
#undef malloc
#undef calloc
#undef realloc
#undef free

#define LO 0x7f000001u

/* --- The CA. --- */

static gnutls_x509_crt_t crt_of(const char *pem)
{
	gnutls_x509_crt_t crt;
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	return crt;
}

static unsigned verify(const char *ca_pem, const char *pem)
{
	gnutls_x509_crt_t ca = crt_of(ca_pem), crt = crt_of(pem);
	unsigned status = 99;
	assert_int_equal(gnutls_x509_crt_verify(crt, &ca, 1, 0, &status), 0);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);
	return status;
}

static void test_issue_server(void **state)
{
	tls_ca_t *ca = NULL, *other = NULL;
	assert_int_equal(tls_ca_generate("test CA", &ca), 0);
	assert_int_equal(tls_ca_generate("other CA", &other), 0);
	const char *names[] = {"in.hub-resolver.privres"};
	uint32_t ips[] = {0x0a0a0004u};
	tls_issue_t req = {.common_name = "hub-resolver/in", .dns_names = names, .n_dns_names = 1,
			   .ip_addresses = ips, .n_ip_addresses = 1};
	char *cert = NULL, *key = NULL;
	assert_int_equal(tls_ca_issue(ca, &req, &cert, &key), 0);
	assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(key, "PRIVATE KEY"));
	assert_int_equal(verify(tls_ca_pem(ca), cert), 0);
	assert_int_not_equal(verify(tls_ca_pem(other), cert), 0); /* another CA's: refused */

	gnutls_x509_crt_t crt = crt_of(cert);
	assert_true(gnutls_x509_crt_check_hostname(crt, "in.hub-resolver.privres"));
	assert_true(gnutls_x509_crt_check_ip(crt, (const unsigned char *)"\x0a\x0a\x00\x04", 4, 0));
	assert_false(gnutls_x509_crt_check_hostname(crt, "other.example"));
	char oid[128];
	size_t len = sizeof(oid);
	assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &len, NULL), 0);
	assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
	unsigned ca_flag = 1;
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca_flag, NULL), 0);
	assert_int_equal(ca_flag, 0);
	gnutls_x509_crt_deinit(crt);
	free(cert);
	free(key);

	req = (tls_issue_t){.common_name = NULL};
	assert_int_equal(tls_ca_issue(ca, &req, &cert, &key), -EINVAL);
	tls_ca_destroy(&ca);
	tls_ca_destroy(&other);
	assert_null(ca);
	tls_ca_destroy(NULL);
}

static void test_issue_client(void **state)
{
	tls_ca_t *ca = NULL;
	assert_int_equal(tls_ca_generate("test CA", &ca), 0);
	tls_issue_t req = {.common_name = "laptop, a=1", .client = true, .days = 2};
	char *cert = NULL, *key = NULL;
	assert_int_equal(tls_ca_issue(ca, &req, &cert, &key), 0);
	gnutls_x509_crt_t crt = crt_of(cert);
	char oid[128], dn[256];
	size_t len = sizeof(oid), dlen = sizeof(dn);
	assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &len, NULL), 0);
	assert_string_equal(oid, GNUTLS_KP_TLS_WWW_CLIENT);
	assert_int_equal(gnutls_x509_crt_get_dn(crt, dn, &dlen), 0);
	assert_string_equal(dn, "CN=laptop\\, a=1"); /* one CN, not split at the comma */
	time_t left = gnutls_x509_crt_get_expiration_time(crt) - time(NULL);
	assert_true(left > 86400 && left <= 2 * 86400);
	gnutls_x509_crt_deinit(crt);
	free(cert);
	free(key);
	tls_ca_destroy(&ca);
}

static void test_ca_open(void **state)
{
	char tmpl[] = "/tmp/privres-tls-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *dir = pr_asprintf("%s/tls", tmpl);
	tls_ca_t *a = NULL, *b = NULL;
	assert_int_equal(tls_ca_open(dir, &a, NULL), 0); /* generated and saved */
	assert_int_equal(tls_ca_open(dir, &b, NULL), 0); /* loaded: the same CA */
	assert_string_equal(tls_ca_pem(a), tls_ca_pem(b));
	char *kpath = pr_asprintf("%s/%s", dir, TLS_CA_KEY_FILE);
	char *cpath = pr_asprintf("%s/%s", dir, TLS_CA_CERT_FILE);
	struct stat st;
	assert_int_equal(stat(kpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* One the loaded CA issues verifies against the saved one. */
	tls_issue_t req = {.common_name = "x"};
	char *cert = NULL, *key = NULL;
	assert_int_equal(tls_ca_issue(b, &req, &cert, &key), 0);
	assert_int_equal(verify(tls_ca_pem(a), cert), 0);
	free(cert);
	free(key);
	tls_ca_destroy(&b);
	/* A damaged key is refused with the file named, never replaced. */
	FILE *f = fopen(kpath, "w");
	fputs("not a key\n", f);
	fclose(f);
	pr_diag_t *d = pr_diag_new();
	assert_int_equal(tls_ca_open(dir, &b, d), PR_EPARSE);
	assert_null(b);
	char *text = pr_diag_format(d);
	assert_non_null(strstr(text, TLS_CA_KEY_FILE));
	free(text);
	pr_diag_destroy(&d);
	unlink(kpath);
	unlink(cpath);
	rmdir(dir);
	rmdir(tmpl);
	free(kpath);
	free(cpath);
	free(dir);
	tls_ca_destroy(&a);
}

/* --- Sessions against a GnuTLS client, in memory. --- */

typedef struct pipe_end {
	uint8_t buf[1 << 16];
	size_t len, off;
} pipe_end_t;

typedef struct client {
	gnutls_session_t gs;
	gnutls_certificate_credentials_t cred;
	pipe_end_t in; /* from the server */
	pipe_end_t out; /* to the server */
} client_t;

static ssize_t c_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	client_t *c = p;
	if (c->in.off == c->in.len) {
		gnutls_transport_set_errno(c->gs, EAGAIN);
		return -1;
	}
	size_t n = c->in.len - c->in.off < len ? c->in.len - c->in.off : len;
	memcpy(buf, c->in.buf + c->in.off, n);
	c->in.off += n;
	return (ssize_t)n;
}

static ssize_t c_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	client_t *c = p;
	assert_true(c->out.len + len <= sizeof(c->out.buf));
	memcpy(c->out.buf + c->out.len, buf, len);
	c->out.len += len;
	return (ssize_t)len;
}

static client_t *client_new(const char *ca_pem, const char *cert, const char *key,
			    const char *alpn, gnutls_datum_t *resume)
{
	client_t *c = calloc(1, sizeof(*c));
	assert_int_equal(gnutls_certificate_allocate_credentials(&c->cred), 0);
	gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
	assert_int_equal(gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM), 1);
	if (cert) {
		gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)strlen(cert)};
		gnutls_datum_t kd = {(unsigned char *)key, (unsigned)strlen(key)};
		assert_int_equal(gnutls_certificate_set_x509_key_mem(c->cred, &cd, &kd,
								     GNUTLS_X509_FMT_PEM),
				 0);
	}
	assert_int_equal(gnutls_init(&c->gs, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
	assert_int_equal(gnutls_set_default_priority(c->gs), 0);
	gnutls_credentials_set(c->gs, GNUTLS_CRD_CERTIFICATE, c->cred);
	gnutls_session_set_verify_cert(c->gs, "in.hub-resolver.privres", 0);
	gnutls_server_name_set(c->gs, GNUTLS_NAME_DNS, "in.hub-resolver.privres", 23);
	if (alpn) {
		gnutls_datum_t p = {(unsigned char *)alpn, (unsigned)strlen(alpn)};
		gnutls_alpn_set_protocols(c->gs, &p, 1, 0);
	}
	if (resume)
		assert_int_equal(gnutls_session_set_data(c->gs, resume->data, resume->size), 0);
	gnutls_transport_set_ptr(c->gs, c);
	gnutls_transport_set_pull_function(c->gs, c_pull);
	gnutls_transport_set_push_function(c->gs, c_push);
	return c;
}

static void client_free(client_t *c)
{
	gnutls_deinit(c->gs);
	gnutls_certificate_free_credentials(c->cred);
	free(c);
}

/* Move bytes both ways until neither side has more to say. */
static void pump(client_t *c, tls_session_t *s, int *crc, int *src)
{
	for (int round = 0; round < 20; round++) {
		if (*crc != 0)
			*crc = gnutls_handshake(c->gs);
		if (c->out.len) {
			tls_session_feed(s, c->out.buf, c->out.len);
			c->out.len = 0;
		}
		if (*src == -EAGAIN)
			*src = tls_session_handshake(s);
		const uint8_t *p;
		size_t n = tls_session_output(s, &p);
		if (n) {
			memmove(c->in.buf, c->in.buf + c->in.off, c->in.len - c->in.off);
			c->in.len -= c->in.off;
			c->in.off = 0;
			memcpy(c->in.buf + c->in.len, p, n);
			c->in.len += n;
			tls_session_output_clear(s);
		} else if (c->out.len == 0 && (*crc == 0 || gnutls_error_is_fatal(*crc)) &&
			   *src != -EAGAIN) {
			return;
		}
	}
}

typedef struct fixture {
	tls_ca_t *ca, *other;
	char *srv_cert, *srv_key, *cli_cert, *cli_key, *bad_cert, *bad_key;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	assert_int_equal(tls_ca_generate("test CA", &f->ca), 0);
	assert_int_equal(tls_ca_generate("other CA", &f->other), 0);
	const char *names[] = {"in.hub-resolver.privres"};
	uint32_t ips[] = {LO};
	tls_issue_t s = {.common_name = "in", .dns_names = names, .n_dns_names = 1,
			 .ip_addresses = ips, .n_ip_addresses = 1};
	tls_issue_t c = {.common_name = "laptop", .client = true};
	assert_int_equal(tls_ca_issue(f->ca, &s, &f->srv_cert, &f->srv_key), 0);
	assert_int_equal(tls_ca_issue(f->ca, &c, &f->cli_cert, &f->cli_key), 0);
	assert_int_equal(tls_ca_issue(f->other, &c, &f->bad_cert, &f->bad_key), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	tls_ca_destroy(&f->ca);
	tls_ca_destroy(&f->other);
	free(f->srv_cert);
	free(f->srv_key);
	free(f->cli_cert);
	free(f->cli_key);
	free(f->bad_cert);
	free(f->bad_key);
	free(f);
	return 0;
}

static tls_server_t *server(fixture_t *f, bool require)
{
	tls_server_spec_t spec = {.cert_pem = f->srv_cert, .key_pem = f->srv_key,
				  .client_ca_pem = require ? tls_ca_pem(f->ca) : NULL,
				  .require_client_cert = require};
	tls_server_t *srv = NULL;
	assert_int_equal(tls_server_new(&spec, &srv, NULL), 0);
	return srv;
}

static void test_session_exchange(void **state)
{
	fixture_t *f = *state;
	tls_server_t *srv = server(f, false);
	tls_session_t *s = NULL;
	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	client_t *c = client_new(tls_ca_pem(f->ca), NULL, NULL, TLS_ALPN_DOT, NULL);
	int crc = -1, src = -EAGAIN;
	pump(c, s, &crc, &src);
	assert_int_equal(crc, 0);
	assert_int_equal(src, 0);
	assert_true(tls_session_handshake_done(s));
	assert_string_equal(tls_session_alpn(s), "dot");
	assert_string_equal(tls_session_version(s), "TLS1.3");
	assert_null(tls_session_peer_subject(s));
	/* Plaintext both ways. */
	assert_int_equal(gnutls_record_send(c->gs, "ping", 4), 4);
	tls_session_feed(s, c->out.buf, c->out.len);
	c->out.len = 0;
	uint8_t buf[64];
	assert_int_equal(tls_session_read(s, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(tls_session_read(s, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(tls_session_write(s, (const uint8_t *)"pong", 4), 0);
	const uint8_t *p;
	size_t n = tls_session_output(s, &p);
	memcpy(c->in.buf + c->in.len, p, n);
	c->in.len += n;
	tls_session_output_clear(s);
	ssize_t got;
	do
		got = gnutls_record_recv(c->gs, buf, sizeof(buf));
	while (got == GNUTLS_E_AGAIN && c->in.off < c->in.len);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "pong", 4);
	/* close_notify reads as the end. */
	gnutls_bye(c->gs, GNUTLS_SHUT_WR);
	tls_session_feed(s, c->out.buf, c->out.len);
	assert_int_equal(tls_session_read(s, buf, sizeof(buf)), 0);
	client_free(c);
	tls_session_destroy(&s);
	tls_server_destroy(&srv);
}

static void test_session_alpn_refused(void **state)
{
	fixture_t *f = *state;
	tls_server_t *srv = server(f, false);
	tls_session_t *s = NULL;
	assert_int_equal(tls_session_new(srv, TLS_ALPN_H2, &s), 0);
	client_t *c = client_new(tls_ca_pem(f->ca), NULL, NULL, "http/1.1", NULL);
	int crc = -1, src = -EAGAIN;
	pump(c, s, &crc, &src);
	assert_int_equal(src, -EPROTO);
	assert_true(crc < 0);
	assert_string_not_equal(tls_session_error(s), "");
	client_free(c);
	tls_session_destroy(&s);
	tls_server_destroy(&srv);
}

static void test_session_garbage(void **state)
{
	fixture_t *f = *state;
	tls_server_t *srv = server(f, false);
	tls_session_t *s = NULL;
	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	const char *junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	tls_session_feed(s, (const uint8_t *)junk, strlen(junk));
	assert_int_equal(tls_session_handshake(s), -EPROTO);
	tls_session_destroy(&s);
	tls_server_destroy(&srv);
}

/* W-6: required client certificates. */
static int handshake_with(fixture_t *f, tls_server_t *srv, const char *cert, const char *key,
			  char **subject)
{
	tls_session_t *s = NULL;
	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	client_t *c = client_new(tls_ca_pem(f->ca), cert, key, TLS_ALPN_DOT, NULL);
	int crc = -1, src = -EAGAIN;
	pump(c, s, &crc, &src);
	if (src == 0 && subject)
		*subject = strdup(tls_session_peer_subject(s) ? tls_session_peer_subject(s) : "");
	client_free(c);
	tls_session_destroy(&s);
	return src;
}

static void test_client_certificates(void **state)
{
	fixture_t *f = *state;
	tls_server_t *srv = server(f, true);
	assert_true(tls_server_requires_client_cert(srv));
	char *subject = NULL;
	assert_int_equal(handshake_with(f, srv, f->cli_cert, f->cli_key, &subject), 0);
	assert_string_equal(subject, "CN=laptop");
	free(subject);
	assert_int_equal(handshake_with(f, srv, NULL, NULL, NULL), -EPROTO);
	assert_int_equal(handshake_with(f, srv, f->bad_cert, f->bad_key, NULL), -EPROTO);
	tls_server_destroy(&srv);

	/* Required without a CA to check against: refused at configuration. */
	tls_server_spec_t spec = {.cert_pem = f->srv_cert, .key_pem = f->srv_key,
				  .require_client_cert = true};
	pr_diag_t *d = pr_diag_new();
	assert_int_equal(tls_server_new(&spec, &srv, d), -EINVAL);
	assert_int_equal(pr_diag_count(d), 1);
	/* A key that is not the certificate's. */
	spec = (tls_server_spec_t){.cert_pem = f->srv_cert, .key_pem = f->cli_key};
	assert_int_equal(tls_server_new(&spec, &srv, d), PR_EPARSE);
	assert_null(srv);
	pr_diag_destroy(&d);
}

static void test_resumption(void **state)
{
	fixture_t *f = *state;
	tls_server_t *srv = server(f, false);
	tls_session_t *s = NULL;
	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	client_t *c = client_new(tls_ca_pem(f->ca), NULL, NULL, TLS_ALPN_DOT, NULL);
	int crc = -1, src = -EAGAIN;
	pump(c, s, &crc, &src);
	assert_int_equal(src, 0);
	/* TLS 1.3 tickets arrive after the handshake: read them. */
	uint8_t buf[16];
	while (gnutls_record_recv(c->gs, buf, sizeof(buf)) == GNUTLS_E_AGAIN &&
	       c->in.off < c->in.len)
		;
	gnutls_datum_t data = {0};
	assert_int_equal(gnutls_session_get_data2(c->gs, &data), 0);
	assert_false(tls_session_resumed(s));
	client_free(c);
	tls_session_destroy(&s);

	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	c = client_new(tls_ca_pem(f->ca), NULL, NULL, TLS_ALPN_DOT, &data);
	crc = -1;
	src = -EAGAIN;
	pump(c, s, &crc, &src);
	assert_int_equal(src, 0);
	assert_true(tls_session_resumed(s));
	gnutls_free(data.data);
	client_free(c);
	tls_session_destroy(&s);
	tls_server_destroy(&srv);
}

/* --- Client sessions ([privres]: forwarding over DNS over TLS) --- */

/* Hand what from has for its peer to to. */
static void hand_over(tls_session_t *from, tls_session_t *to)
{
	const uint8_t *p;
	size_t n = tls_session_output(from, &p);
	if (n) {
		tls_session_feed(to, p, n);
		tls_session_output_clear(from);
	}
}

/* A client session trusting trust and checking name, against the fixture's
 * server: the client's handshake result, and *why when it refused. */
static int dial(fixture_t *f, const char *trust, const char *name, const char **why)
{
	tls_server_t *srv = server(f, false);
	tls_client_t *cl = NULL;
	tls_session_t *s = NULL, *c = NULL;
	assert_int_equal(tls_client_new(trust, &cl), 0);
	assert_int_equal(tls_session_new(srv, TLS_ALPN_DOT, &s), 0);
	assert_int_equal(tls_session_client_new(cl, name, TLS_ALPN_DOT, &c), 0);
	int crc = -EAGAIN, src = -EAGAIN;
	for (int i = 0; i < 20 && (crc == -EAGAIN || src == -EAGAIN); i++) {
		if (crc == -EAGAIN)
			crc = tls_session_handshake(c);
		hand_over(c, s);
		if (src == -EAGAIN)
			src = tls_session_handshake(s);
		hand_over(s, c);
	}
	*why = crc == 0 ? NULL : tls_session_server_cert_refused(c);
	if (crc == 0) {
		assert_int_equal(src, 0);
		assert_string_equal(tls_session_alpn(c), "dot");
		/* The server's TLS 1.3 session tickets and an answer arrive in
		 * one read: the answer is returned at once. */
		assert_int_equal(tls_session_write(s, (const uint8_t *)"pong", 4), 0);
		hand_over(s, c);
		uint8_t buf[16];
		assert_int_equal(tls_session_read(c, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "pong", 4);
		assert_int_equal(tls_session_read(c, buf, sizeof(buf)), -EAGAIN);
	}
	tls_session_destroy(&c);
	tls_session_destroy(&s);
	tls_client_destroy(&cl);
	tls_server_destroy(&srv);
	return crc;
}

static void test_client_sessions(void **state)
{
	fixture_t *f = *state;
	const char *why = "unset";
	/* RFC 8310 §8: by host name, or by the address in the IP subjectAltName */
	assert_int_equal(dial(f, tls_ca_pem(f->ca), "in.hub-resolver.privres", &why), 0);
	assert_null(why);
	assert_int_equal(dial(f, tls_ca_pem(f->ca), "127.0.0.1", &why), 0);
	assert_int_equal(dial(f, tls_ca_pem(f->ca), "elsewhere.example", &why), -EPROTO);
	assert_string_equal(why, "certificate does not match the name");
	assert_int_equal(dial(f, tls_ca_pem(f->ca), "10.0.0.1", &why), -EPROTO);
	assert_string_equal(why, "certificate does not match the name");
	assert_int_equal(dial(f, tls_ca_pem(f->other), "in.hub-resolver.privres", &why), -EPROTO);
	assert_string_equal(why, "certificate not issued by a trusted CA");
	tls_client_t *cl = NULL;
	assert_int_equal(tls_client_new("not a certificate", &cl), PR_EPARSE);
	assert_null(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_server),
		cmocka_unit_test(test_issue_client),
		cmocka_unit_test(test_ca_open),
		cmocka_unit_test_setup_teardown(test_session_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_alpn_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_certificates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resumption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_sessions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
