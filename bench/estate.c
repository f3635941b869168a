/* The benchmarks' generated estate (estate.h). */
#include "bench/estate.h"
#include "base/base.h"

char *bench_estate_yaml(const bench_estate_t *est)
{
	int n_rulesets = est->rulesets, n_links = est->links_per_ruleset;
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
	int spokes = n_rulesets * n_links + est->spare_vnets;
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
		for (int k = 0; k < est->rules_per_ruleset; k++)
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
	for (int k = 0; k < est->big_zone_records; k++)
		pr_buf_printf(&b, "      - {name: host%d, type: A, records: [10.200.%d.%d]}\n", k,
			      k / 250, k % 250);
	pr_buf_printf(&b, "    virtualNetworkLinks: [{name: l, virtualNetwork: hub0}]\n");
	for (int z = 0; z < est->zones; z++)
		pr_buf_printf(&b, "  - name: z%d.internal\n    recordSets: [{name: www, type: A, records: "
				  "[10.201.0.1]}, {name: '@', type: MX, records: ['10 mail']}]\n"
				  "    virtualNetworkLinks: [{name: l, virtualNetwork: hub0}]\n",
			      z);
	return pr_buf_take(&b);
}

