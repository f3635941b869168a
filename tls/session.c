/* Server credentials and sessions over memory buffers: GnuTLS pulls from what
 * the caller fed and pushes into an output buffer, so a session never touches
 * a socket (the caller's loop does). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls/tls.h"

/* RFC 8310 §9 and RFC 7858 §3: TLS 1.3 or 1.2, nothing older. */
#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct tls_server {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_datum_t ticket_key; /* session resumption (RFC 5077; TLS 1.3 tickets) */
	bool require_client;
	bool verify_client;
};

typedef struct iobuf {
	uint8_t *data;
	size_t start, end, cap;
} iobuf_t;

struct tls_client {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
};

struct tls_session {
	gnutls_session_t gs;
	const tls_server_t *srv;
	iobuf_t in, out;
	bool done;
	int last_error;
	unsigned verify_status; /* client: the server certificate's, when refused */
	char *subject;
	char *verify_name;      /* client: the name checked */
	bool by_ip;             /* client: verify_ip is the name */
	uint8_t verify_ip[4];
};

static void iobuf_append(iobuf_t *b, const void *data, size_t len)
{
	if (b->start > 0 && b->start == b->end)
		b->start = b->end = 0;
	if (b->end + len > b->cap && b->start > 0) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	if (b->end + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->end + len)
			cap *= 2;
		b->data = pr_realloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->end, data, len);
	b->end += len;
}

/* --- Server credentials. --- */

static void diag_tls(pr_diag_t *diag, int code, const char *what, int gerr)
{
	if (diag)
		pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", code, "%s: %s", what,
			    gnutls_strerror(gerr));
}

/* W-6: a client certificate that does not chain to the client CA ends the
 * handshake with an alert, before any query is read. */
static int verify_client(gnutls_session_t gs)
{
	const tls_server_t *srv = gnutls_session_get_ptr(gs);
	unsigned status = 0;
	unsigned n = 0;
	if (gnutls_certificate_get_peers(gs, &n) == NULL || n == 0)
		return srv && srv->require_client ? GNUTLS_E_NO_CERTIFICATE_FOUND : 0;
	if (gnutls_certificate_verify_peers2(gs, &status) < 0 || status != 0)
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	return 0;
}

int tls_server_new(const tls_server_spec_t *spec, tls_server_t **out, pr_diag_t *diag)
{
	tls_server_t *srv = pr_calloc(1, sizeof(*srv));
	int r = PR_EPARSE, g;
	if (spec->require_client_cert && spec->client_ca_pem == NULL) {
		r = -EINVAL;
		if (diag)
			pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r,
				    "a client certificate is required but no client CA is given");
		goto cleanup;
	}
	if (spec->cert_pem == NULL || spec->key_pem == NULL) {
		r = -EINVAL;
		goto cleanup;
	}
	if ((g = gnutls_certificate_allocate_credentials(&srv->cred)) < 0) {
		srv->cred = NULL;
		diag_tls(diag, r, "credentials", g);
		goto cleanup;
	}
	gnutls_datum_t c = {(unsigned char *)spec->cert_pem, (unsigned)strlen(spec->cert_pem)};
	gnutls_datum_t k = {(unsigned char *)spec->key_pem, (unsigned)strlen(spec->key_pem)};
	if ((g = gnutls_certificate_set_x509_key_mem2(srv->cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL,
						      0)) < 0) {
		diag_tls(diag, r, "certificate and private key", g);
		goto cleanup;
	}
	if (spec->client_ca_pem != NULL) {
		gnutls_datum_t ca = {(unsigned char *)spec->client_ca_pem,
				     (unsigned)strlen(spec->client_ca_pem)};
		g = gnutls_certificate_set_x509_trust_mem(srv->cred, &ca, GNUTLS_X509_FMT_PEM);
		if (g <= 0) {
			diag_tls(diag, r, "client CA", g < 0 ? g : GNUTLS_E_BASE64_DECODING_ERROR);
			goto cleanup;
		}
		srv->verify_client = true;
		gnutls_certificate_set_verify_function(srv->cred, verify_client);
	}
	srv->require_client = spec->require_client_cert;
	if ((g = gnutls_priority_init(&srv->prio, TLS_PRIORITY, NULL)) < 0) {
		srv->prio = NULL;
		diag_tls(diag, r, "priorities", g);
		goto cleanup;
	}
	if ((g = gnutls_session_ticket_key_generate(&srv->ticket_key)) < 0) {
		diag_tls(diag, r, "session ticket key", g);
		goto cleanup;
	}
	r = 0;
cleanup:
	if (r < 0)
		tls_server_destroy(&srv);
	else
		*out = srv;
	return r;
}

/* What server and client credentials both hold. */
static void creds_free(gnutls_certificate_credentials_t cred, gnutls_priority_t prio)
{
	if (cred)
		gnutls_certificate_free_credentials(cred);
	if (prio)
		gnutls_priority_deinit(prio);
}

void tls_server_destroy(tls_server_t **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	tls_server_t *srv = *sp;
	creds_free(srv->cred, srv->prio);
	if (srv->ticket_key.data) {
		memset(srv->ticket_key.data, 0, srv->ticket_key.size);
		gnutls_free(srv->ticket_key.data);
	}
	free(srv);
	*sp = NULL;
}

bool tls_server_requires_client_cert(const tls_server_t *srv)
{
	return srv->require_client;
}

/* --- Sessions. --- */

static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	tls_session_t *s = p;
	size_t avail = s->in.end - s->in.start;
	if (avail == 0) {
		gnutls_transport_set_errno(s->gs, EAGAIN);
		return -1;
	}
	size_t n = avail < len ? avail : len;
	memcpy(buf, s->in.data + s->in.start, n);
	s->in.start += n;
	return (ssize_t)n;
}

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	tls_session_t *s = p;
	iobuf_append(&s->out, buf, len);
	return (ssize_t)len;
}

static ssize_t push_vec(gnutls_transport_ptr_t p, const giovec_t *iov, int n)
{
	ssize_t total = 0;
	for (int i = 0; i < n; i++)
		total += push(p, iov[i].iov_base, iov[i].iov_len);
	return total;
}

static void set_transport(tls_session_t *s)
{
	gnutls_transport_set_ptr(s->gs, s);
	gnutls_transport_set_pull_function(s->gs, pull);
	gnutls_transport_set_push_function(s->gs, push);
	gnutls_transport_set_vec_push_function(s->gs, push_vec);
}

int tls_session_new(const tls_server_t *srv, const char *alpn, tls_session_t **out)
{
	tls_session_t *s = pr_calloc(1, sizeof(*s));
	int r = -EPROTO;
	if (gnutls_init(&s->gs, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		s->gs = NULL;
		goto cleanup;
	}
	s->srv = srv;
	gnutls_session_set_ptr(s->gs, (void *)srv);
	if (gnutls_priority_set(s->gs, srv->prio) < 0 ||
	    gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE, srv->cred) < 0 ||
	    gnutls_session_ticket_enable_server(s->gs, &srv->ticket_key) < 0)
		goto cleanup;
	if (srv->verify_client)
		gnutls_certificate_server_set_request(
			s->gs, srv->require_client ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
	if (alpn != NULL) {
		gnutls_datum_t proto = {(unsigned char *)alpn, (unsigned)strlen(alpn)};
		if (gnutls_alpn_set_protocols(s->gs, &proto, 1, GNUTLS_ALPN_MANDATORY) < 0)
			goto cleanup;
	}
	set_transport(s);
	r = 0;
cleanup:
	if (r < 0)
		tls_session_destroy(&s);
	else
		*out = s;
	return r;
}

/* --- Client credentials and sessions. --- */

int tls_client_new(const char *ca_pem, tls_client_t **out)
{
	tls_client_t *cl = pr_calloc(1, sizeof(*cl));
	int r = -EPROTO, g;
	if (gnutls_certificate_allocate_credentials(&cl->cred) < 0) {
		cl->cred = NULL;
		goto cleanup;
	}
	if (ca_pem != NULL) {
		gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
		g = gnutls_certificate_set_x509_trust_mem(cl->cred, &ca, GNUTLS_X509_FMT_PEM);
		if (g <= 0) {
			r = PR_EPARSE;
			goto cleanup;
		}
	} else if (gnutls_certificate_set_x509_system_trust(cl->cred) < 0) {
		goto cleanup;
	}
	if (gnutls_priority_init(&cl->prio, TLS_PRIORITY, NULL) < 0) {
		cl->prio = NULL;
		goto cleanup;
	}
	r = 0;
cleanup:
	if (r < 0)
		tls_client_destroy(&cl);
	else
		*out = cl;
	return r;
}

void tls_client_destroy(tls_client_t **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	tls_client_t *cl = *cp;
	creds_free(cl->cred, cl->prio);
	free(cl);
	*cp = NULL;
}

/* RFC 8310 §8: the server is authenticated by a name the client was given, a
 * host name or an address; gnutls checks it with the chain, in the handshake. */
static int set_verify_name(tls_session_t *s, const char *name)
{
	s->verify_name = pr_strdup(name);
	struct in_addr a;
	if (inet_pton(AF_INET, name, &a) == 1) {
		/* The chain in the handshake; the address once it is done
		 * (gnutls' own typed-data check does not look at IP names). */
		memcpy(s->verify_ip, &a, 4);
		s->by_ip = true;
		gnutls_session_set_verify_cert(s->gs, NULL, 0);
		return 0;
	}
	gnutls_session_set_verify_cert(s->gs, s->verify_name, 0);
	return gnutls_server_name_set(s->gs, GNUTLS_NAME_DNS, name, strlen(name)) < 0 ? -EPROTO
										       : 0;
}

int tls_session_client_new(const tls_client_t *cl, const char *name, const char *alpn,
			   tls_session_t **out)
{
	tls_session_t *s = pr_calloc(1, sizeof(*s));
	int r = -EPROTO;
	if (gnutls_init(&s->gs, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		s->gs = NULL;
		goto cleanup;
	}
	if (gnutls_priority_set(s->gs, cl->prio) < 0 ||
	    gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE, cl->cred) < 0 ||
	    set_verify_name(s, name) < 0)
		goto cleanup;
	if (alpn != NULL) {
		gnutls_datum_t proto = {(unsigned char *)alpn, (unsigned)strlen(alpn)};
		if (gnutls_alpn_set_protocols(s->gs, &proto, 1, 0) < 0)
			goto cleanup;
	}
	set_transport(s);
	r = 0;
cleanup:
	if (r < 0)
		tls_session_destroy(&s);
	else
		*out = s;
	return r;
}

void tls_session_destroy(tls_session_t **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	tls_session_t *s = *sp;
	if (s->gs)
		gnutls_deinit(s->gs);
	free(s->in.data);
	free(s->out.data);
	free(s->subject);
	free(s->verify_name);
	free(s);
	*sp = NULL;
}

void tls_session_feed(tls_session_t *s, const uint8_t *data, size_t len)
{
	iobuf_append(&s->in, data, len);
}

/* The verified client certificate's subject, for the query log (W-6). */
static void keep_subject(tls_session_t *s)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s->gs, &n);
	gnutls_x509_crt_t crt;
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return;
	gnutls_datum_t dn = {0};
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		s->subject = pr_strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
}

/* RFC 8310 §8, RFC 6125: the server's certificate names the address. */
static bool peer_has_ip(tls_session_t *s)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s->gs, &n);
	gnutls_x509_crt_t crt;
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return false;
	bool ok = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
		  gnutls_x509_crt_check_ip(crt, s->verify_ip, 4, 0) != 0;
	gnutls_x509_crt_deinit(crt);
	return ok;
}

int tls_session_handshake(tls_session_t *s)
{
	if (s->done)
		return 0;
	int g;
	do {
		g = gnutls_handshake(s->gs);
	} while (g < 0 && !gnutls_error_is_fatal(g) && g != GNUTLS_E_AGAIN);
	if (g == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (g < 0) {
		s->last_error = g;
		if (g == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR && s->verify_name)
			s->verify_status = gnutls_session_get_verify_cert_status(s->gs);
		gnutls_alert_send_appropriate(s->gs, g);
		return -EPROTO;
	}
	if (s->by_ip && !peer_has_ip(s)) {
		s->last_error = GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
		s->verify_status = GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER;
		gnutls_alert_send(s->gs, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
		return -EPROTO;
	}
	s->done = true;
	keep_subject(s);
	return 0;
}

bool tls_session_handshake_done(const tls_session_t *s)
{
	return s->done;
}

ssize_t tls_session_read(tls_session_t *s, uint8_t *buf, size_t cap)
{
	for (;;) {
		size_t before = s->in.start;
		ssize_t n = gnutls_record_recv(s->gs, buf, cap);
		if (n >= 0)
			return n;
		/* A TLS 1.3 post-handshake message (a client's session tickets)
		 * ends a call with AGAIN though a record may follow in what was
		 * fed: go on while input is being consumed. */
		if (n == GNUTLS_E_AGAIN && s->in.start != before && s->in.start < s->in.end)
			continue;
		if (n == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n)) {
			/* A warning alert or a TLS 1.2 renegotiation request: we do
			 * not renegotiate (RFC 8310 §9), and carry on. */
			if (n == GNUTLS_E_REHANDSHAKE)
				gnutls_alert_send(s->gs, GNUTLS_AL_WARNING,
						  GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		s->last_error = (int)n;
		return -EPROTO;
	}
}

int tls_session_write(tls_session_t *s, const uint8_t *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = gnutls_record_send(s->gs, data + off, len - off);
		if (n < 0) {
			if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
				continue; /* never from a memory push; kept for safety */
			s->last_error = (int)n;
			return -EPROTO;
		}
		off += (size_t)n;
	}
	return 0;
}

void tls_session_cork(tls_session_t *s)
{
	if (s->done)
		gnutls_record_cork(s->gs);
}

int tls_session_uncork(tls_session_t *s)
{
	if (!s->done)
		return 0;
	int g = gnutls_record_uncork(s->gs, GNUTLS_RECORD_WAIT);
	if (g < 0) {
		s->last_error = g;
		return -EPROTO;
	}
	return 0;
}

void tls_session_bye(tls_session_t *s)
{
	if (s->done)
		gnutls_bye(s->gs, GNUTLS_SHUT_WR);
}

size_t tls_session_output(const tls_session_t *s, const uint8_t **data)
{
	*data = s->out.data + s->out.start;
	return s->out.end - s->out.start;
}

void tls_session_output_clear(tls_session_t *s)
{
	s->out.start = s->out.end = 0;
}

const char *tls_session_peer_subject(const tls_session_t *s)
{
	return s->subject;
}

const char *tls_session_alpn(const tls_session_t *s)
{
	static __thread char buf[32];
	gnutls_datum_t p = {0};
	if (!s->done || gnutls_alpn_get_selected_protocol(s->gs, &p) < 0 || p.size >= sizeof(buf))
		return NULL;
	memcpy(buf, p.data, p.size);
	buf[p.size] = '\0';
	return buf;
}

bool tls_session_resumed(const tls_session_t *s)
{
	return s->done && gnutls_session_is_resumed(s->gs);
}

const char *tls_session_version(const tls_session_t *s)
{
	const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(s->gs));
	return v ? v : "";
}

bool tls_session_client_cert_refused(const tls_session_t *s)
{
	switch (s->last_error) {
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_ERROR:
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

const char *tls_session_server_cert_refused(const tls_session_t *s)
{
	static const struct {
		unsigned flag;
		const char *words;
	} why[] = {
		{GNUTLS_CERT_UNEXPECTED_OWNER, "certificate does not match the name"},
		{GNUTLS_CERT_SIGNER_NOT_FOUND, "certificate not issued by a trusted CA"},
		{GNUTLS_CERT_EXPIRED, "certificate expired"},
		{GNUTLS_CERT_NOT_ACTIVATED, "certificate not yet valid"},
		{GNUTLS_CERT_REVOKED, "certificate revoked"},
		{GNUTLS_CERT_INSECURE_ALGORITHM, "certificate signed with an insecure algorithm"},
		{GNUTLS_CERT_SIGNATURE_FAILURE, "certificate signature does not verify"},
		{GNUTLS_CERT_PURPOSE_MISMATCH, "certificate not for TLS servers"},
	};
	if (s->verify_name == NULL || s->last_error != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
		return NULL;
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++)
		if (s->verify_status & why[i].flag)
			return why[i].words;
	return "certificate not trusted";
}

const char *tls_session_error(const tls_session_t *s)
{
	return s->last_error ? gnutls_strerror(s->last_error) : "";
}
