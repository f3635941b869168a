/*
 * bench_policies — microbenchmark of the DNS security policy matcher (S-3).
 *
 * For lists of 10, 10,000 and 100,000 domains (MODEL_MAX_DOMAINS_PER_LIST),
 * builds the zero-trust pattern — an Allow list of that size at priority 100,
 * a small Alert list at 200, Block "." at 65000 — and times evaluations of a
 * fixed mix of query names: exact hits, hits one to three labels below a
 * listed domain, near misses (a listed label under the wrong parent) and names
 * under no list (Block "." takes them). The per-evaluation cost should not
 * grow with the list size (policies.h). Build time is reported apart from the
 * YAML load (model/) that precedes it.
 *
 * Usage: bench_policies [evaluations per size]   (default 4,000,000)
 * Build without sanitizers for meaningful figures (-DPRIVRES_SANITIZE=OFF).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns.h"
#include "model/model.h"
#include "policies/policies.h"

#define QUERIES 8192 /* a power of two: the loop indexes with a mask */
#define RUNS 5

static void domain_name(char *buf, size_t len, unsigned i)
{
	/* Domains of 2 to 4 labels sharing parents, as threat and allow lists do. */
	switch (i % 3) {
	case 0:
		snprintf(buf, len, "site%u.com.", i);
		break;
	case 1:
		snprintf(buf, len, "cdn%u.edge%u.example.net.", i, i % 50);
		break;
	default:
		snprintf(buf, len, "api%u.svc.contoso.com.", i);
		break;
	}
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Names packed one after the other, so the matcher, not the benchmark's own
 * array, is what misses the cache. */
typedef struct names {
	uint8_t *wire;
	uint32_t off[QUERIES];
	int expect[QUERIES]; /* the action each name must get */
} names_t;

static void make_queries(names_t *names, unsigned ndomains)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t used = 0;
	names->wire = pr_malloc((size_t)QUERIES * DNS_NAME_MAXLEN);
	for (unsigned q = 0; q < QUERIES; q++) {
		unsigned i = (unsigned)(rng_next(&seed) % ndomains);
		char dom[128], text[256];
		domain_name(dom, sizeof(dom), i);
		int expect = POLICY_ALLOW;
		switch (q % 8) {
		case 0:
		case 1:
			snprintf(text, sizeof(text), "%s", dom); /* exact */
			break;
		case 2:
		case 3:
			snprintf(text, sizeof(text), "www.%s", dom);
			break;
		case 4:
			snprintf(text, sizeof(text), "a.b.C.%s", dom);
			break;
		case 5:
			snprintf(text, sizeof(text), "tracker%u.ads.example.", i % 5);
			expect = POLICY_ALERT;
			break;
		case 6:
			/* a near miss: the listed label under another parent */
			snprintf(text, sizeof(text), "site%u.org.", i);
			expect = POLICY_BLOCK;
			break;
		default:
			snprintf(text, sizeof(text), "host%u.unlisted%u.example.org.", q, i);
			expect = POLICY_BLOCK;
			break;
		}
		dns_name_info_t info;
		if (dns_name_from_text(text, names->wire + used, &info, NULL) != 0) {
			fprintf(stderr, "bad name %s\n", text);
			exit(1);
		}
		names->off[q] = (uint32_t)used;
		names->expect[q] = expect;
		used += info.wire_len;
	}
}

static char *make_deployment(unsigned ndomains)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "location: eastus\n"
			  "virtualNetworks:\n"
			  "  - {name: spoke, addressPrefixes: [10.20.0.0/16],\n"
			  "     subnets: [{name: default, addressPrefix: 10.20.0.0/24}]}\n"
			  "dnsResolverDomainLists:\n"
			  "  - {name: ads, domains: [ads.example.]}\n"
			  "  - {name: everything, domains: [\".\"]}\n"
			  "  - name: needed\n"
			  "    domains:\n");
	for (unsigned i = 0; i < ndomains; i++) {
		char dom[128];
		domain_name(dom, sizeof(dom), i);
		pr_buf_printf(&b, "      - %s\n", dom);
	}
	pr_buf_printf(&b, "dnsResolverPolicies:\n"
			  "  - name: zero-trust\n"
			  "    dnsSecurityRules:\n"
			  "      - {name: allow-needed, priority: 100,\n"
			  "         action: {actionType: Allow},\n"
			  "         dnsResolverDomainLists: [needed]}\n"
			  "      - {name: alert-ads, priority: 200, action: {actionType: Alert},\n"
			  "         dnsResolverDomainLists: [ads]}\n"
			  "      - {name: block-rest, priority: 65000,\n"
			  "         action: {actionType: Block},\n"
			  "         dnsResolverDomainLists: [everything]}\n"
			  "    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n");
	return pr_buf_take(&b);
}

static int run(unsigned ndomains, unsigned long evals)
{
	char *text = make_deployment(ndomains);
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	policy_set_t *s = NULL;
	names_t names;
	int ret = 1;

	uint64_t t0 = pr_now_ns();
	if (deployment_load_text(text, strlen(text), "bench.yaml", &d, diag) != 0) {
		char *msg = pr_diag_format(diag);
		fprintf(stderr, "deployment: %s\n", msg);
		free(msg);
		goto cleanup;
	}
	uint64_t t1 = pr_now_ns();
	if (policy_set_build(d, &s, diag) != 0) {
		fprintf(stderr, "policy_set_build failed\n");
		goto cleanup;
	}
	uint64_t t2 = pr_now_ns();

	make_queries(&names, ndomains);
	/* Correctness first: a fast wrong matcher is no result. */
	for (unsigned q = 0; q < QUERIES; q++) {
		policy_verdict_t v;
		if (policy_evaluate(s, 0, names.wire + names.off[q], &v) != 0 ||
		    (int)v.action != names.expect[q]) {
			char t[DNS_NAME_TEXT_MAX];
			dns_name_to_text(names.wire + names.off[q], t, sizeof(t));
			fprintf(stderr, "%s: got %s, expected %s\n", t,
				policy_action_name(v.action),
				policy_action_name((policy_action_t)names.expect[q]));
			free(names.wire);
			goto cleanup;
		}
	}

	double best = 1e30;
	unsigned long sink = 0;
	for (int r = 0; r < RUNS; r++) {
		uint64_t a = pr_now_ns();
		for (unsigned long i = 0; i < evals; i++) {
			policy_verdict_t v;
			policy_evaluate(s, 0, names.wire + names.off[i & (QUERIES - 1)], &v);
			sink += (unsigned long)v.action;
		}
		double ns = (double)(pr_now_ns() - a) / (double)evals;
		if (ns < best)
			best = ns;
	}
	printf("%7u domains  load %8.1f ms  build %7.2f ms  %6.1f ns/eval  (%zu in table; %lu)\n",
	       ndomains, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, best,
	       policy_set_domain_count(s, 0), sink % 7);
	free(names.wire);
	ret = 0;
cleanup:
	policy_set_destroy(&s);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(text);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long evals = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000000ul;
	if (evals == 0)
		evals = 1;
	static const unsigned sizes[] = {10, 10000, MODEL_MAX_DOMAINS_PER_LIST};
	printf("policy_evaluate, zero-trust pattern, best of %d runs of %lu evaluations\n", RUNS,
	       evals);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (run(sizes[i], evals) != 0)
			return 1;
	return 0;
}
