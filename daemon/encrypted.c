/* The TLS credentials of DoT and DoH listeners and their specs (W-6,
 * [privres]). Control thread only: start-up, SIGHUP and API changes build
 * listener specs here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_p.h"
#include "tls/tls.h"

typedef struct creds {
	char *listener;
	bool require;
	tls_server_t *srv;
} creds_t;

/* One owner: the daemon's control thread, from encrypted_open() to
 * encrypted_close(). Credentials are kept for the daemon's life, so a
 * listener's pointer stays valid across reloads. */
static struct {
	bool open, loaded;
	char *state_dir;
	tls_ca_t *ca;           /* the local CA, when emulator.tls is absent */
	char *cert, *key, *client_ca; /* emulator.tls's files, read at start */
	creds_t *creds;
	size_t n, cap;
} store;

/* A certificate from the local CA naming the listener — "hub-resolver/in"
 * as in.hub-resolver.privres, "azure-dns/spoke" as spoke.azure-dns.privres —
 * and localhost, with its virtual address, loopback and its DoT/DoH
 * addresses. */
static int issue_for(const model_encrypted_listener_t *ml, const resolve_listener_t *l,
		     char **cert, char **key)
{
	const char *slash = strchr(l->name, '/');
	char *host = slash ? pr_asprintf("%s.%.*s.privres", slash + 1, (int)(slash - l->name),
					 l->name)
			   : pr_asprintf("%s.privres", l->name);
	const char *names[] = {host, "localhost"};
	uint32_t ips[4] = {0x7f000001u};
	size_t n_ips = 1;
	if (l->virtual_address)
		ips[n_ips++] = l->virtual_address;
	if (ml->dot && ml->dot_address && ml->dot_address != 0x7f000001u)
		ips[n_ips++] = ml->dot_address;
	if (ml->doh && ml->doh_address && ml->doh_address != 0x7f000001u)
		ips[n_ips++] = ml->doh_address;
	tls_issue_t req = {.common_name = host, .dns_names = names, .n_dns_names = 2,
			   .ip_addresses = ips, .n_ip_addresses = n_ips};
	int r = tls_ca_issue(store.ca, &req, cert, key);
	free(host);
	return r;
}

static int load_material(const model_emulator_t *em, pr_diag_t *diag);

static tls_server_t *creds_for(const model_encrypted_listener_t *ml, const resolve_listener_t *l,
			       const model_emulator_t *em, pr_diag_t *diag)
{
	for (size_t i = 0; i < store.n; i++)
		if (!strcmp(store.creds[i].listener, l->name) &&
		    store.creds[i].require == ml->require_client_certificate)
			return store.creds[i].srv;
	char *cert = NULL, *key = NULL;
	tls_server_t *srv = NULL;
	/* The first encrypted listener may come with a reload or an API change. */
	if (!store.loaded && load_material(em, diag) != 0)
		return NULL;
	tls_server_spec_t spec = {.cert_pem = store.cert, .key_pem = store.key,
				  .client_ca_pem = store.client_ca,
				  .require_client_cert = ml->require_client_certificate};
	if (store.ca != NULL) {
		if (issue_for(ml, l, &cert, &key) != 0) {
			if (diag)
				pr_diag_add(diag, NULL, 0, 0, ml->origin.path, "W-6", -EPROTO,
					    "the local CA could not issue a certificate for %s",
					    l->name);
			return NULL;
		}
		spec = (tls_server_spec_t){.cert_pem = cert, .key_pem = key,
					   .client_ca_pem = tls_ca_pem(store.ca),
					   .require_client_cert = ml->require_client_certificate};
	}
	int r = tls_server_new(&spec, &srv, diag);
	if (key)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	if (r != 0)
		return NULL;
	pr_grow(&store.creds, &store.cap, store.n + 1, sizeof(*store.creds));
	store.creds[store.n++] = (creds_t){pr_strdup(l->name), ml->require_client_certificate, srv};
	return srv;
}

static int read_tls_file(const char *path, const char *key, char **out, pr_diag_t *diag)
{
	int r = tls_read_file(path, out);
	if (r != 0)
		pr_diag_add(diag, NULL, 0, 0, "emulator.tls", "W-6", r, "%s: can't read '%s'", key,
			    path);
	return r;
}

/* emulator.tls's files, or the local CA: once, for every listener. */
static int load_material(const model_emulator_t *em, pr_diag_t *diag)
{
	int r = 0;
	free(store.cert);
	free(store.key);
	free(store.client_ca);
	store.cert = store.key = store.client_ca = NULL;
	if (em->tls != NULL) {
		r = read_tls_file(em->tls->certificate, "certificate", &store.cert, diag);
		if (r == 0)
			r = read_tls_file(em->tls->private_key, "privateKey", &store.key, diag);
		if (r == 0 && em->tls->client_ca)
			r = read_tls_file(em->tls->client_ca, "clientCa", &store.client_ca, diag);
	} else if (store.state_dir != NULL) {
		char *dir = pr_asprintf("%s/tls", store.state_dir);
		r = tls_ca_open(dir, &store.ca, diag);
		free(dir);
	} else {
		r = tls_ca_generate("privres local CA", &store.ca);
	}
	store.loaded = r == 0;
	return r;
}

int encrypted_open(const resolve_snapshot_t *snap, const char *state_dir, pr_diag_t *diag)
{
	const model_emulator_t *em = &resolve_snapshot_deployment(snap)->emulator;
	int r = 0;
	store.open = true;
	store.state_dir = state_dir ? pr_strdup(state_dir) : NULL;
	/* Every encrypted listener's credentials now: a bad certificate is
	 * an error at start, not a listener silently missing. */
	for (size_t i = 0; i < em->n_encrypted && r == 0; i++) {
		const resolve_listener_t *l =
			resolve_snapshot_find_listener(snap, em->encrypted[i].listener);
		if (l != NULL && creds_for(&em->encrypted[i], l, em, diag) == NULL)
			r = PR_ECONFIG;
	}
	return r;
}

void encrypted_close(void)
{
	for (size_t i = 0; i < store.n; i++) {
		free(store.creds[i].listener);
		tls_server_destroy(&store.creds[i].srv);
	}
	free(store.creds);
	tls_ca_destroy(&store.ca);
	free(store.cert);
	if (store.key)
		memset(store.key, 0, strlen(store.key));
	free(store.key);
	free(store.client_ca);
	free(store.state_dir);
	memset(&store, 0, sizeof(store));
}

/* Where an encrypted listener listens: as configured, or the default —
 * the virtual address's well-known port (virtual mode) or a free port on
 * the plain listener's loopback address. */
static ep_listener_spec_t spec_for(const model_emulator_t *em, const ep_listener_spec_t *plain,
				   ep_protocol_t p, uint32_t addr, uint16_t port,
				   tls_server_t *srv)
{
	ep_listener_spec_t s = *plain;
	s.protocol = p;
	s.tls = srv;
	if (port != 0) {
		s.addr = addr;
		s.port = port;
	} else if (em->listen == MODEL_LISTEN_VIRTUAL) {
		s.port = p == EP_DOT ? MODEL_DOT_PORT : MODEL_DOH_PORT;
	} else {
		s.port = 0;
	}
	return s;
}

size_t encrypted_specs(const model_emulator_t *em, const resolve_listener_t *l,
		       const ep_listener_spec_t *plain, ep_listener_spec_t *out,
		       const resolve_listener_t **of)
{
	const model_encrypted_listener_t *ml = model_encrypted_listener(em, l->name);
	size_t n = 0;
	if (ml == NULL || ml->plain_dns)
		out[n++] = *plain;
	tls_server_t *srv = NULL;
	if (ml != NULL && store.open) {
		pr_diag_t *diag = pr_diag_new();
		srv = creds_for(ml, l, em, diag);
		if (srv == NULL) {
			char *text = pr_diag_format(diag);
			fprintf(stderr, "privresd: %s: no DoT/DoH: %s\n", l->name, text);
			free(text);
		}
		pr_diag_destroy(&diag);
	}
	if (srv != NULL && ml->dot)
		out[n++] = spec_for(em, plain, EP_DOT, ml->dot_address, ml->dot_port, srv);
	if (srv != NULL && ml->doh)
		out[n++] = spec_for(em, plain, EP_DOH, ml->doh_address, ml->doh_port, srv);
	for (size_t i = 0; i < n; i++)
		of[i] = l;
	return n;
}
