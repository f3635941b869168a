/* The local CA: generate, save, load, issue (W-6, [privres]). Keys are ECDSA
 * P-256: small, fast to generate, accepted by every client we test with. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls/tls.h"

struct tls_ca {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	char *pem;
};

int tls_read_file(const char *path, char **out)
{
	size_t len;
	return pr_read_file(path, out, &len) == 0 ? 0 : PR_EIO;
}

/* A serial of 16 random octets, positive (RFC 5280 §4.1.2.2). */
static int set_serial(gnutls_x509_crt_t crt)
{
	uint8_t serial[16];
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		return -EPROTO;
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	return gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ? -EPROTO : 0;
}

static int new_key(gnutls_x509_privkey_t *out)
{
	gnutls_x509_privkey_t key;
	if (gnutls_x509_privkey_init(&key) < 0)
		return -EPROTO;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		gnutls_x509_privkey_deinit(key);
		return -EPROTO;
	}
	*out = key;
	return 0;
}

/* The fields every certificate we make shares: version, serial, validity,
 * subject CN, key and its id. */
static int crt_basics(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn,
		      unsigned days)
{
	time_t now = time(NULL);
	char *dn = NULL;
	int r = -EPROTO;
	/* An RFC 4514 DN: escape what would end or split the CN. */
	pr_buf_t b = {0};
	pr_buf_printf(&b, "CN=");
	for (const char *p = cn; *p; p++) {
		if (strchr(",+\"\\<>;=#", *p))
			pr_buf_printf(&b, "\\");
		pr_buf_printf(&b, "%c", *p);
	}
	dn = pr_buf_take(&b);
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || set_serial(crt) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400) < 0 ||
	    gnutls_x509_crt_set_dn(crt, dn, NULL) < 0 || gnutls_x509_crt_set_key(crt, key) < 0)
		goto cleanup;
	uint8_t id[64];
	size_t idlen = sizeof(id);
	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &idlen) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, id, idlen) < 0)
		goto cleanup;
	r = 0;
cleanup:
	free(dn);
	return r;
}

static int export_crt(gnutls_x509_crt_t crt, char **out)
{
	gnutls_datum_t d = {0};
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		return -EPROTO;
	*out = pr_strndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return 0;
}

static int export_key(gnutls_x509_privkey_t key, char **out)
{
	gnutls_datum_t d = {0};
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0)
		return -EPROTO;
	*out = pr_strndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return 0;
}

int tls_ca_generate(const char *name, tls_ca_t **out)
{
	tls_ca_t *ca = pr_calloc(1, sizeof(*ca));
	int r = -EPROTO;
	if (gnutls_x509_crt_init(&ca->crt) < 0) {
		ca->crt = NULL;
		goto cleanup;
	}
	r = new_key(&ca->key);
	if (r < 0)
		goto cleanup;
	r = crt_basics(ca->crt, ca->key, name, TLS_CA_DAYS);
	if (r < 0)
		goto cleanup;
	r = -EPROTO;
	if (gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0) < 0 ||
	    gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN |
							   GNUTLS_KEY_CRL_SIGN |
							   GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0) < 0)
		goto cleanup;
	r = export_crt(ca->crt, &ca->pem);
cleanup:
	if (r < 0) {
		tls_ca_destroy(&ca);
		return r;
	}
	*out = ca;
	return 0;
}

const char *tls_ca_pem(const tls_ca_t *ca)
{
	return ca->pem;
}

void tls_ca_destroy(tls_ca_t **cap)
{
	if (cap == NULL || *cap == NULL)
		return;
	tls_ca_t *ca = *cap;
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->key)
		gnutls_x509_privkey_deinit(ca->key);
	free(ca->pem);
	free(ca);
	*cap = NULL;
}

/* Write text to dir/name atomically (temp file, fsync, rename) with mode. */
static int write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *tmp = pr_asprintf("%s/.%s.tmp", dir, name);
	char *path = pr_asprintf("%s/%s", dir, name);
	int r = PR_EIO;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto cleanup;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == len && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0)
			r = 0;
	}
cleanup:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	free(path);
	return r;
}

static int load_ca(const char *cpath, const char *kpath, tls_ca_t **out, pr_diag_t *diag)
{
	char *cpem = NULL, *kpem = NULL;
	tls_ca_t *ca = pr_calloc(1, sizeof(*ca));
	int r = tls_read_file(cpath, &cpem);
	if (r == 0)
		r = tls_read_file(kpath, &kpem);
	if (r < 0) {
		if (diag)
			pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r,
				    "local CA: can't read %s or %s", cpath, kpath);
		goto cleanup;
	}
	gnutls_datum_t cd = {(unsigned char *)cpem, (unsigned)strlen(cpem)};
	gnutls_datum_t kd = {(unsigned char *)kpem, (unsigned)strlen(kpem)};
	r = PR_EPARSE;
	if (gnutls_x509_crt_init(&ca->crt) < 0 || gnutls_x509_privkey_init(&ca->key) < 0 ||
	    gnutls_x509_crt_import(ca->crt, &cd, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_privkey_import(ca->key, &kd, GNUTLS_X509_FMT_PEM) < 0) {
		if (diag)
			pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r,
				    "local CA: %s is not a PEM certificate or %s not its key",
				    cpath, kpath);
		goto cleanup;
	}
	r = 0;
	ca->pem = cpem;
	cpem = NULL;
cleanup:
	free(cpem);
	free(kpem);
	if (r < 0)
		tls_ca_destroy(&ca);
	else
		*out = ca;
	return r;
}

/* mkdir -p, mode 0700: the state directory may not exist yet. */
static int make_dirs(const char *dir)
{
	char *p = pr_strdup(dir);
	int r = 0;
	for (char *s = p + 1; *s && r == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			r = -errno;
		*s = '/';
	}
	if (r == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
		r = -errno;
	free(p);
	return r;
}

int tls_ca_open(const char *dir, tls_ca_t **out, pr_diag_t *diag)
{
	char *cpath = pr_asprintf("%s/%s", dir, TLS_CA_CERT_FILE);
	char *kpath = pr_asprintf("%s/%s", dir, TLS_CA_KEY_FILE);
	tls_ca_t *ca = NULL;
	char *kpem = NULL;
	int r;
	if (access(cpath, F_OK) == 0 || access(kpath, F_OK) == 0) {
		r = load_ca(cpath, kpath, &ca, diag);
		goto cleanup;
	}
	if (make_dirs(dir) != 0) {
		r = PR_EIO;
		if (diag)
			pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r,
				    "local CA: can't create %s", dir);
		goto cleanup;
	}
	r = tls_ca_generate("privres local CA", &ca);
	if (r == 0)
		r = export_key(ca->key, &kpem);
	/* The key first: a certificate without its key would be refused at the
	 * next start, a key without its certificate is generated again. */
	if (r == 0)
		r = write_file(dir, TLS_CA_KEY_FILE, kpem, 0600);
	if (r == 0)
		r = write_file(dir, TLS_CA_CERT_FILE, ca->pem, 0644);
	if (r < 0 && diag)
		pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r,
			    "local CA: can't write it in %s", dir);
cleanup:
	if (kpem) {
		memset(kpem, 0, strlen(kpem));
		free(kpem);
	}
	free(cpath);
	free(kpath);
	if (r < 0) {
		tls_ca_destroy(&ca);
		return r;
	}
	*out = ca;
	return 0;
}

static int add_names(gnutls_x509_crt_t crt, const tls_issue_t *req)
{
	for (size_t i = 0; i < req->n_dns_names; i++)
		if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
							 req->dns_names[i],
							 (unsigned)strlen(req->dns_names[i]),
							 GNUTLS_FSAN_APPEND) < 0)
			return -EPROTO;
	for (size_t i = 0; i < req->n_ip_addresses; i++) {
		uint32_t a = req->ip_addresses[i];
		uint8_t ip[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8),
				 (uint8_t)a};
		if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
							 GNUTLS_FSAN_APPEND) < 0)
			return -EPROTO;
	}
	return 0;
}

int tls_ca_issue(const tls_ca_t *ca, const tls_issue_t *req, char **cert_pem, char **key_pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	char *cpem = NULL, *kpem = NULL;
	int r;
	if (req->common_name == NULL || req->common_name[0] == '\0')
		return -EINVAL;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -EPROTO;
	r = new_key(&key);
	if (r < 0)
		goto cleanup;
	r = crt_basics(crt, key, req->common_name, req->days ? req->days : TLS_CERT_DAYS);
	if (r == 0)
		r = add_names(crt, req);
	if (r < 0)
		goto cleanup;
	uint8_t id[64];
	size_t idlen = sizeof(id);
	r = -EPROTO;
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, id, &idlen, NULL) < 0 ||
	    gnutls_x509_crt_set_authority_key_id(crt, id, idlen) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(
		    crt, req->client ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
	    gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0) < 0)
		goto cleanup;
	r = export_crt(crt, &cpem);
	if (r == 0)
		r = export_key(key, &kpem);
	if (r == 0) {
		*cert_pem = cpem;
		*key_pem = kpem;
		cpem = kpem = NULL;
	}
cleanup:
	free(cpem);
	free(kpem);
	gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}
