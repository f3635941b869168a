/* emulator.tls and emulator.encryptedListeners (W-6, [privres]): what is
 * decoded, and every finding with its rule id, path and position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#undef malloc
#undef calloc
#undef realloc
#undef free

#include "model/model.h"

static const char *HUB =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"dnsResolvers:\n"
	"  - name: hub-resolver\n"
	"    virtualNetwork: hub\n"
	"    inboundEndpoints: [{name: in, subnet: snet-in}]\n"
	"externalDnsServers:\n"
	"  - {name: onprem, ipAddress: 10.100.0.2}\n"
	"emulator:\n";

/* HUB + emulator lines: the deployment (or NULL) and the findings text. */
static deployment_t *load(const char *emulator, char **findings)
{
	char *text = pr_asprintf("%s%s", HUB, emulator);
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	deployment_load_text(text, strlen(text), "test.yaml", &d, diag);
	*findings = pr_diag_format(diag);
	pr_diag_destroy(&diag);
	free(text);
	return d;
}

static void expect_finding(const char *emulator, const char *text)
{
	char *f = NULL;
	deployment_t *d = load(emulator, &f);
	if (d != NULL || strstr(f, text) == NULL || strstr(f, "(W-6)") == NULL)
		fprintf(stderr, "expected '%s' (W-6), got:\n%s", text, f);
	assert_null(d);
	assert_non_null(strstr(f, text));
	assert_non_null(strstr(f, "(W-6)"));
	free(f);
}

static void test_decoded(void **state)
{
	char *f = NULL;
	deployment_t *d = load("  tls: {certificate: s.pem, privateKey: s.key, clientCa: c.pem}\n"
			       "  encryptedListeners:\n"
			       "    hub-resolver/in: {dot: 127.0.0.1:8853, doh: true}\n"
			       "    azure-dns/hub: {doh: 127.0.0.1:8443, plainDns: false,\n"
			       "                    requireClientCertificate: true}\n",
			       &f);
	if (d == NULL)
		fprintf(stderr, "%s", f);
	assert_non_null(d);
	const model_emulator_t *em = &d->emulator;
	assert_string_equal(em->tls->certificate, "s.pem");
	assert_string_equal(em->tls->private_key, "s.key");
	assert_string_equal(em->tls->client_ca, "c.pem");
	assert_int_equal(em->n_encrypted, 2);
	const model_encrypted_listener_t *l = model_encrypted_listener(em, "hub-resolver/in");
	assert_non_null(l);
	assert_true(l->dot && l->doh && l->plain_dns && !l->require_client_certificate);
	assert_int_equal(l->dot_address, 0x7f000001u);
	assert_int_equal(l->dot_port, 8853);
	assert_int_equal(l->doh_port, 0); /* true: the default address */
	l = model_encrypted_listener(em, "azure-dns/hub");
	assert_true(!l->dot && l->doh && !l->plain_dns && l->require_client_certificate);
	assert_null(model_encrypted_listener(em, "nope/in"));
	deployment_destroy(&d);
	free(f);
	/* Without the keys: nothing encrypted, no tls. */
	d = load("  basePort: 0\n", &f);
	assert_non_null(d);
	assert_null(d->emulator.tls);
	assert_int_equal(d->emulator.n_encrypted, 0);
	deployment_destroy(&d);
	free(f);
}

static void test_findings(void **state)
{
	expect_finding("  encryptedListeners:\n    hub-resolver/nope: {dot: true}\n",
		       "no listener 'hub-resolver/nope'");
	expect_finding("  encryptedListeners:\n    external/onprem: {dot: true}\n",
		       "not external servers");
	expect_finding("  encryptedListeners:\n    hub-resolver/in: {plainDns: false}\n",
		       "needs dot, doh or both");
	expect_finding("  encryptedListeners:\n    hub-resolver/in: {dot: 8853}\n",
		       "must be IPv4 address:port");
	expect_finding("  encryptedListeners:\n    hub-resolver/in: {dot: true, dohh: true}\n",
		       "unknown property 'dohh'");
	expect_finding("  encryptedListeners:\n    hub-resolver/in: {dot: true, plainDns: no}\n",
		       "must be true or false");
	expect_finding("  encryptedListeners: [a]\n", "must be a mapping");
	expect_finding("  encryptedListeners:\n"
		       "    hub-resolver/in: {dot: 127.0.0.1:8853, doh: 127.0.0.1:8853}\n",
		       "127.0.0.1:8853 is already listener 'hub-resolver/in'");
	expect_finding("  listeners: {azure-dns/hub: 127.0.0.1:8853}\n"
		       "  encryptedListeners:\n    hub-resolver/in: {dot: 127.0.0.1:8853}\n",
		       "is already listener 'azure-dns/hub'");
	expect_finding("  tls: {certificate: s.pem}\n", "'privateKey' is required");
	expect_finding("  tls: {certificate: s.pem, privateKey: k.pem, ca: x}\n",
		       "unknown property 'ca'");
	expect_finding("  tls: {certificate: s.pem, privateKey: k.pem}\n"
		       "  encryptedListeners:\n"
		       "    hub-resolver/in: {dot: true, requireClientCertificate: true}\n",
		       "no clientCa");
	/* Positions: file, line and column of the key. */
	char *f = NULL;
	deployment_t *d = load("  encryptedListeners:\n    hub-resolver/in: {dot: 1.2.3}\n", &f);
	assert_null(d);
	assert_non_null(strstr(f, "test.yaml:14:"));
	assert_non_null(strstr(f, "emulator.encryptedListeners[hub-resolver/in].dot"));
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoded),
		cmocka_unit_test(test_findings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
