/*
 * tls — TLS sessions over GnuTLS for every encrypted surface (design.md §2),
 * and the local CA that issues the certificates of DNS over TLS and DNS over
 * HTTPS listeners (W-6, [privres]).
 *
 * A session does no I/O: the caller feeds it the ciphertext it read, takes
 * the ciphertext it must write, and reads and writes plaintext. So the same
 * session serves a libuv stream, a unit test or a fuzzer.
 *
 * Threads: a tls_server_t is immutable once built and may be shared by every
 * worker (GnuTLS credentials and the session-ticket key are read-only after
 * creation). A tls_session_t belongs to one thread. tls_ca_* run on the
 * control thread (or any one thread at a time).
 * Ownership: as each function says (style.md §8).
 * Input: every byte fed to a session is untrusted; a TLS failure is returned,
 * never asserted. Certificate and key files are the user's and are checked.
 * Errors: the base.h space: PR_EIO (a file), PR_EPARSE (PEM that is not a
 * certificate or key), -EPROTO (a TLS failure; tls_session_error() says
 * which), -EAGAIN (more input needed).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"

typedef struct tls_ca tls_ca_t;
typedef struct tls_server tls_server_t;
typedef struct tls_session tls_session_t;
typedef struct tls_client tls_client_t;

/* ALPN protocol ids (RFC 7858 §3.1 with RFC 8310 "dot"; RFC 8484 §5.2 "h2"). */
#define TLS_ALPN_DOT "dot"
#define TLS_ALPN_H2 "h2"

/* Days an issued certificate is valid. */
#define TLS_CA_DAYS 3650
#define TLS_CERT_DAYS 825

/* The CA's files inside its directory (the state directory's tls/). */
#define TLS_CA_CERT_FILE "ca.pem"
#define TLS_CA_KEY_FILE "ca.key"

/* ---- Files -------------------------------------------------------------- */

/* The whole file at path into *out (owned, NUL-terminated). 0 or PR_EIO. */
int tls_read_file(const char *path, char **out);

/* ---- The local CA --------------------------------------------------------- */

/* A new CA in memory: an ECDSA P-256 key and a self-signed certificate whose
 * subject is "CN=<name>". Returns 0 and *out (owned), or -EPROTO. */
int tls_ca_generate(const char *name, tls_ca_t **out);

/*
 * The CA of directory dir: loaded from dir/ca.pem and dir/ca.key when both
 * exist, else generated and saved there (dir is created, mode 0700; the key
 * is written 0600, atomically). Returns 0 and *out (owned); PR_EIO when the
 * directory or files can't be read or written; PR_EPARSE when the files are
 * not a certificate and its key (diag, may be NULL, says which file).
 */
int tls_ca_open(const char *dir, tls_ca_t **out, pr_diag_t *diag);

/* The CA's certificate as PEM (borrowed, valid with ca). */
const char *tls_ca_pem(const tls_ca_t *ca);

/* What a certificate is for and whom it names. Borrowed by tls_ca_issue(). */
typedef struct tls_issue {
	const char *common_name;        /* required: the subject's CN */
	const char *const *dns_names;   /* subjectAltName DNS entries */
	size_t n_dns_names;
	const uint32_t *ip_addresses;   /* subjectAltName IPv4 entries, host order */
	size_t n_ip_addresses;
	bool client;                    /* TLS client auth; else TLS server auth */
	unsigned days;                  /* 0: TLS_CERT_DAYS */
} tls_issue_t;

/* Issue a certificate and a fresh key signed by ca. Returns 0 and *cert_pem
 * and *key_pem (both owned), -EINVAL without a common name, or -EPROTO. */
int tls_ca_issue(const tls_ca_t *ca, const tls_issue_t *req, char **cert_pem, char **key_pem);

/* Accepts NULL; clears *cap. */
void tls_ca_destroy(tls_ca_t **cap);

/* ---- Server credentials --------------------------------------------------- */

/* Borrowed by tls_server_new(); the PEM text is copied into GnuTLS. */
typedef struct tls_server_spec {
	const char *cert_pem;       /* required: the certificate (and chain) */
	const char *key_pem;        /* required: its private key */
	const char *client_ca_pem;  /* CAs client certificates must chain to; may be NULL */
	bool require_client_cert;   /* W-6: no verified client certificate, no handshake */
} tls_server_spec_t;

/*
 * Server credentials with a session-ticket key (resumption, RFC 5077 and
 * TLS 1.3 tickets) and TLS 1.3/1.2 only (RFC 8310 §9). Returns 0 and *out
 * (owned), PR_EPARSE when the certificate, key or client CAs can't be read
 * or do not match (diag says which), -EINVAL when a client certificate is
 * required without a client CA.
 */
int tls_server_new(const tls_server_spec_t *spec, tls_server_t **out, pr_diag_t *diag);
/* Accepts NULL; clears *sp. No session may still use it. */
void tls_server_destroy(tls_server_t **sp);
bool tls_server_requires_client_cert(const tls_server_t *srv);

/* ---- Client credentials ([privres]: forwarding over DNS over TLS) --------- */

/* The CAs a client trusts: ca_pem (borrowed; copied into GnuTLS), or the
 * system's trust store when NULL. Returns 0 and *out (owned), PR_EPARSE when
 * ca_pem holds no certificate, or -EPROTO. */
int tls_client_new(const char *ca_pem, tls_client_t **out);
/* Accepts NULL; clears *cp. No session may still use it. */
void tls_client_destroy(tls_client_t **cp);

/* ---- Sessions -------------------------------------------------------------- */

/* A server-side session on srv (borrowed; must outlive it) offering one
 * ALPN protocol (copied). A client that offers ALPN without it is refused;
 * one that offers none is served. Returns 0 and *out (owned), or -EPROTO. */
int tls_session_new(const tls_server_t *srv, const char *alpn, tls_session_t **out);
/* A client session on cl (borrowed; must outlive it) offering one ALPN
 * protocol (copied), that accepts the server only with a certificate that
 * chains to cl's CAs and names name (copied): a host name (also sent as SNI),
 * or an IPv4 address in text, matched against the certificate's IP
 * subjectAltName (RFC 8310 §8). The handshake starts with the first
 * tls_session_handshake(). Returns 0 and *out (owned), or -EPROTO. */
int tls_session_client_new(const tls_client_t *cl, const char *name, const char *alpn,
			   tls_session_t **out);
/* Accepts NULL; clears *sp. */
void tls_session_destroy(tls_session_t **sp);

/* Ciphertext read from the peer (copied). */
void tls_session_feed(tls_session_t *s, const uint8_t *data, size_t len);

/* Advance the handshake with the input fed so far: 0 when complete (also
 * when it already was), -EAGAIN when more input is needed, -EPROTO when it
 * failed (an alert is queued in the output when one applies). */
int tls_session_handshake(tls_session_t *s);
bool tls_session_handshake_done(const tls_session_t *s);

/* Plaintext from the input fed so far: > 0 octets into buf, -EAGAIN when no
 * whole record is buffered, 0 when the peer closed (close_notify), -EPROTO
 * on a TLS failure. */
ssize_t tls_session_read(tls_session_t *s, uint8_t *buf, size_t cap);

/* Encrypt len octets (all of them) into the output. 0 or -EPROTO. */
int tls_session_write(tls_session_t *s, const uint8_t *data, size_t len);

/* Gather what tls_session_write() is given into as few records as possible
 * until tls_session_uncork() (answers produced in one read of pipelined
 * queries go out as one record and one write). Uncork: 0 or -EPROTO. */
void tls_session_cork(tls_session_t *s);
int tls_session_uncork(tls_session_t *s);

/* Queue a close_notify alert in the output. */
void tls_session_bye(tls_session_t *s);

/* The ciphertext waiting to be written: *data (borrowed, valid until the next
 * call on s) and its length; tls_session_output_clear() once it is taken. */
size_t tls_session_output(const tls_session_t *s, const uint8_t **data);
void tls_session_output_clear(tls_session_t *s);

/* After the handshake: the verified client certificate's subject DN
 * (borrowed; NULL without one), the negotiated ALPN protocol (borrowed; NULL
 * without), whether the session was resumed, and the protocol version
 * ("TLS1.3"). */
const char *tls_session_peer_subject(const tls_session_t *s);
const char *tls_session_alpn(const tls_session_t *s);
bool tls_session_resumed(const tls_session_t *s);
const char *tls_session_version(const tls_session_t *s);
/* Whether the handshake failed for the client's certificate: none given
 * where one is required, or one that does not chain to the client CAs (W-6). */
bool tls_session_client_cert_refused(const tls_session_t *s);
/* After a client session's handshake failed: why the server's certificate
 * was refused, in words (static: "certificate does not match the name", …),
 * or NULL when the failure was not the certificate's. */
const char *tls_session_server_cert_refused(const tls_session_t *s);
/* The last TLS failure, as GnuTLS words it (static), or "". */
const char *tls_session_error(const tls_session_t *s);
