/*
 * Validating and compiling the largest legal deployment (semantics.md §1):
 * 15 resolvers (L-8) with 5 inbound and 5 outbound endpoints each (L-6),
 * 30 rulesets of 1,000 rules (L-1) with 2 targets, each linked to 500 VNets
 * (L-2), 1,000 private zones (L-10) and one zone of 25,000 record sets (L-11).
 * Prints the time of each stage and the peak memory.
 *   bench_model [rulesets (default 30)] [links per ruleset (default 500)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "linker/linker.h"
#include "model/model.h"

static char *generate(int n_rulesets, int n_links)
{
	pr_buf_t b = {0};
	int resolvers = 15;
	pr_buf_printf(&b, "virtualNetworks:\n");
	for (int r = 0; r < resolvers; r++) {
		pr_buf_printf(&b, "  - name: hub%d\n    addressPrefixes: [10.%d.0.0/16]\n    subnets:\n",
			      r, r);
		for (int e = 0; e < 10; e++)
			pr_buf_printf(&b, "      - {name: s%d, addressPrefix: 10.%d.%d.0/28, "
					  "delegation: Microsoft.Network/dnsResolvers}\n",
				      e, r, e);
	}
	int spokes = n_rulesets * n_links;
	for (int s = 0; s < spokes; s++)
		pr_buf_printf(&b, "  - {name: spoke%d, addressPrefixes: [172.%d.%d.0/24]}\n", s,
			      16 + s / 65536, (s / 256) % 256);
	pr_buf_printf(&b, "dnsResolvers:\n");
	for (int r = 0; r < resolvers; r++) {
		pr_buf_printf(&b, "  - name: r%d\n    virtualNetwork: hub%d\n    inboundEndpoints:\n", r, r);
		for (int e = 0; e < 5; e++)
			pr_buf_printf(&b, "      - {name: in%d, subnet: s%d}\n", e, e);
		pr_buf_printf(&b, "    outboundEndpoints:\n");
		for (int e = 0; e < 5; e++)
			pr_buf_printf(&b, "      - {name: out%d, subnet: s%d}\n", e, e + 5);
	}
	pr_buf_printf(&b, "dnsForwardingRulesets:\n");
	for (int i = 0; i < n_rulesets; i++) {
		pr_buf_printf(&b, "  - name: rs%d\n    dnsResolverOutboundEndpoints: [r%d/out%d]\n"
				  "    forwardingRules:\n",
			      i, i % resolvers, (i / resolvers) % 5);
		for (int k = 0; k < 1000; k++)
			pr_buf_printf(&b, "      - {name: rule%d, domainName: d%d.zone%d.corp.example., "
					  "targetDnsServers: [{ipAddress: 192.168.%d.4}, {ipAddress: 192.168.%d.5}]}\n",
				      k, k, i, k % 250, k % 250);
		pr_buf_printf(&b, "    virtualNetworkLinks:\n");
		for (int l = 0; l < n_links; l++)
			pr_buf_printf(&b, "      - {name: link%d, virtualNetwork: spoke%d}\n", l,
				      i * n_links + l);
	}
	pr_buf_printf(&b, "privateDnsZones:\n");
	pr_buf_printf(&b, "  - name: big.internal\n    recordSets:\n");
	for (int k = 0; k < 25000; k++)
		pr_buf_printf(&b, "      - {name: host%d, type: A, records: [10.200.%d.%d]}\n", k,
			      k / 250, k % 250);
	pr_buf_printf(&b, "    virtualNetworkLinks: [{name: l, virtualNetwork: hub0}]\n");
	for (int z = 0; z < 999; z++)
		pr_buf_printf(&b, "  - name: z%d.internal\n    recordSets: [{name: www, type: A, records: "
				  "[10.201.0.1]}, {name: '@', type: MX, records: ['10 mail']}]\n"
				  "    virtualNetworkLinks: [{name: l, virtualNetwork: hub0}]\n",
			      z);
	return pr_buf_take(&b);
}

static double ms_since(uint64_t t0)
{
	return (double)(pr_now_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	int n_rulesets = argc > 1 ? atoi(argv[1]) : 30;
	int n_links = argc > 2 ? atoi(argv[2]) : 500;
	uint64_t t0 = pr_now_ns();
	char *text = generate(n_rulesets, n_links);
	printf("deployment: %d rulesets x 1000 rules, %d VNet links each, 1000 zones, "
	       "25000 record sets in one; %.1f MB of YAML (generated in %.0f ms)\n",
	       n_rulesets, n_links, strlen(text) / 1e6, ms_since(t0));
	pr_diag_t *diag = pr_diag_new();
	t0 = pr_now_ns();
	model_doc_t *doc = NULL;
	if (model_doc_load_text(text, strlen(text), "bench.yaml", &doc, diag) != 0)
		goto fail;
	double t_yaml = ms_since(t0);
	t0 = pr_now_ns();
	deployment_t *d = NULL;
	if (deployment_from_doc(&doc, &d, diag) != 0)
		goto fail;
	double t_validate = ms_since(t0);
	t0 = pr_now_ns();
	linker_t *l = NULL;
	if (linker_build(d, &l, diag) != 0)
		goto fail;
	double t_link = ms_since(t0);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("YAML parse        %8.0f ms\n", t_yaml);
	printf("decode + validate %8.0f ms\n", t_validate);
	printf("views + loops     %8.0f ms\n", t_link);
	printf("total             %8.0f ms, peak RSS %ld MB\n", t_yaml + t_validate + t_link,
	       ru.ru_maxrss / 1024);
	linker_destroy(&l);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(text);
	return 0;
fail:;
	char *s = pr_diag_format(diag);
	fprintf(stderr, "%.2000s", s);
	free(s);
	return 1;
}
