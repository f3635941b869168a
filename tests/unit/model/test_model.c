/* The validation rules of semantics.md §1–§5, §8, §9, with their boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* The library allocates with the C allocator; so do these tests. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "model/model.h"

/* A hub with a resolver (inbound + outbound endpoint) and a spoke; tests add
 * what they need after it. */
static const char *HUB =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: workload, addressPrefix: 10.10.2.0/24}\n"
	"  - name: spoke\n"
	"    addressPrefixes: [10.20.0.0/16]\n"
	"    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]\n"
	"dnsResolvers:\n"
	"  - name: hub-resolver\n"
	"    virtualNetwork: hub\n"
	"    inboundEndpoints: [{name: in, subnet: snet-in}]\n"
	"    outboundEndpoints: [{name: out, subnet: snet-out}]\n";

/* Load text; returns the diag (owned) and the deployment, if valid. */
static pr_diag_t *load(const char *text, deployment_t **out)
{
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_load_text(text, strlen(text), "test.yaml", &d, diag);
	if (rc == 0)
		assert_int_equal(pr_diag_count(diag), 0);
	else
		assert_null(d);
	if (out)
		*out = d;
	else
		deployment_destroy(&d);
	return diag;
}

/* Does some finding cite rule and hold text? */
static bool has_finding(const pr_diag_t *diag, const char *rule, const char *text)
{
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if ((!rule || (e->rule && !strcmp(e->rule, rule))) &&
		    (!text || strstr(e->message, text)))
			return true;
	}
	return false;
}

static void dump(const pr_diag_t *diag)
{
	char *s = pr_diag_format(diag);
	fprintf(stderr, "%s", s);
	free(s);
}

static void expect_valid(const char *text)
{
	pr_diag_t *diag = load(text, NULL);
	if (pr_diag_count(diag))
		dump(diag);
	assert_int_equal(pr_diag_count(diag), 0);
	pr_diag_destroy(&diag);
}

static void expect_finding(const char *text, const char *rule, const char *msg)
{
	pr_diag_t *diag = load(text, NULL);
	if (!has_finding(diag, rule, msg))
		dump(diag);
	assert_true(has_finding(diag, rule, msg));
	pr_diag_destroy(&diag);
}

/* A ruleset with n rules (distinct domains), each with t targets. */
static char *ruleset_with(size_t n_rules, size_t n_targets, const char *extra_rule)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "%sdnsForwardingRulesets:\n  - name: rs\n"
			  "    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
			  "    forwardingRules:\n",
		      HUB);
	for (size_t i = 0; i < n_rules; i++) {
		pr_buf_printf(&b, "      - {name: r%zu, domainName: d%zu.contoso.com., targetDnsServers: [",
			      i, i);
		for (size_t t = 0; t < n_targets; t++)
			pr_buf_printf(&b, "%s{ipAddress: 10.100.0.%zu}", t ? ", " : "", t + 1);
		pr_buf_printf(&b, "]}\n");
	}
	if (extra_rule)
		pr_buf_printf(&b, "      - %s\n", extra_rule);
	return pr_buf_take(&b);
}

static void test_L1_rules_per_ruleset(void **state)
{
	(void)state;
	char *ok = ruleset_with(1000, 1, NULL);
	expect_valid(ok);
	char *over = ruleset_with(1001, 1, NULL);
	expect_finding(over, "L-1", "1001 forwarding rules, limit 1000");
	free(ok);
	free(over);
}

static char *links_with(size_t n)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "%s", HUB);
	for (size_t i = 0; i < n; i++)
		pr_buf_printf(&b, "  - {name: hub-resolver-x%zu, virtualNetwork: v%zu}\n", i, i);
	/* the resolvers above are not wanted: rebuild with vnets instead */
	pr_buf_free(&b);
	pr_buf_printf(&b, "virtualNetworks:\n"
			  "  - name: hub\n"
			  "    addressPrefixes: [10.10.0.0/16]\n"
			  "    subnets: [{name: snet-out, addressPrefix: 10.10.1.0/28, delegation: "
			  "Microsoft.Network/dnsResolvers}]\n");
	for (size_t i = 0; i < n; i++)
		pr_buf_printf(&b, "  - {name: v%zu, addressPrefixes: [10.%zu.%zu.0/24]}\n", i,
			      20 + i / 250, i % 250);
	pr_buf_printf(&b, "dnsResolvers:\n  - {name: r, virtualNetwork: hub, outboundEndpoints: "
			  "[{name: out, subnet: snet-out}]}\n"
			  "dnsForwardingRulesets:\n  - name: rs\n"
			  "    dnsResolverOutboundEndpoints: [r/out]\n    virtualNetworkLinks:\n");
	for (size_t i = 0; i < n; i++)
		pr_buf_printf(&b, "      - {name: l%zu, virtualNetwork: v%zu}\n", i, i);
	return pr_buf_take(&b);
}

static void test_L2_links_per_ruleset(void **state)
{
	(void)state;
	char *ok = links_with(500);
	expect_valid(ok);
	char *over = links_with(501);
	expect_finding(over, "L-2", "501 virtual network links, limit 500");
	free(ok);
	free(over);
}

static void test_L5_targets_per_rule(void **state)
{
	(void)state;
	char *ok = ruleset_with(1, 6, NULL);
	expect_valid(ok);
	char *over = ruleset_with(1, 7, NULL);
	expect_finding(over, "L-5", "7 target DNS servers, limit 6");
	free(ok);
	free(over);
}

static char *domain_of_labels(int n)
{
	pr_buf_t b = {0};
	for (int i = 0; i < n; i++)
		pr_buf_printf(&b, "l%d.", i);
	return pr_buf_take(&b);
}

static void test_F2_domain_labels(void **state)
{
	(void)state;
	char *d34 = domain_of_labels(34), *d35 = domain_of_labels(35);
	char rule[512];
	snprintf(rule, sizeof(rule), "{name: Deep, domainName: %s, targetDnsServers: [10.1.1.1]}", d34);
	char *ok = ruleset_with(0, 1, rule);
	expect_valid(ok);
	snprintf(rule, sizeof(rule), "{name: Deep, domainName: %s, targetDnsServers: [10.1.1.1]}", d35);
	char *over = ruleset_with(0, 1, rule);
	expect_finding(over, "F-2", "has 35 labels; valid: 0 to 34");
	free(ok);
	free(over);
	free(d34);
	free(d35);
	/* The wildcard and single-label names are valid (F-2). */
	char *wild = ruleset_with(0, 1, "{name: All, domainName: ., targetDnsServers: [10.1.1.1]}");
	expect_valid(wild);
	free(wild);
	char *single = ruleset_with(0, 1, "{name: Tld, domainName: corp., targetDnsServers: [10.1.1.1]}");
	expect_valid(single);
	free(single);
	char *label64 = ruleset_with(0, 1,
				     "{name: Long, domainName: "
				     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com., "
				     "targetDnsServers: [10.1.1.1]}");
	expect_finding(label64, "F-2", "longer than 63");
	free(label64);
}

static void test_F5_azure_dns_refused(void **state)
{
	(void)state;
	char *t = ruleset_with(0, 1, "{name: Az, domainName: x.com., targetDnsServers: [{ipAddress: 168.63.129.16}]}");
	expect_finding(t, "F-5", "168.63.129.16 (Azure DNS) is never a valid target");
	/* the service's own text stays as a suffix for people who search for it */
	expect_finding(t, "F-5", "Exception while making add request for rule");
	free(t);
}

static void test_F1_F3_F4_F6_rules(void **state)
{
	(void)state;
	char *t = ruleset_with(0, 1, "{name: _bad, domainName: x.com., targetDnsServers: [10.1.1.1]}");
	expect_finding(t, "F-1", "not a valid rule name");
	free(t);
	char name81[90];
	memset(name81, 'a', 81);
	name81[81] = '\0';
	char rule[256];
	snprintf(rule, sizeof(rule), "{name: %s, domainName: x.com., targetDnsServers: [10.1.1.1]}", name81);
	t = ruleset_with(0, 1, rule);
	expect_finding(t, "F-1", "1 to 80 characters");
	free(t);
	name81[80] = '\0';
	snprintf(rule, sizeof(rule), "{name: %s, domainName: x.com., targetDnsServers: [10.1.1.1]}", name81);
	t = ruleset_with(0, 1, rule);
	expect_valid(t);
	free(t);
	t = ruleset_with(1, 1, "{name: Dup, domainName: D0.Contoso.COM., targetDnsServers: [10.1.1.1]}");
	expect_finding(t, "F-3", "already forwards 'd0.contoso.com.'");
	free(t);
	t = ruleset_with(0, 1, "{name: P, domainName: x.com., targetDnsServers: [{ipAddress: 10.1.1.1, port: 0}]}");
	expect_finding(t, NULL, "0 is out of range; valid: 1..65535");
	free(t);
	t = ruleset_with(0, 1, "{name: P, domainName: x.com., targetDnsServers: [{ipAddress: 'fd00::1'}]}");
	expect_finding(t, "F-4", "IPv4 only");
	free(t);
	t = ruleset_with(0, 1, "{name: P, domainName: x.com., targetDnsServers: []}");
	expect_finding(t, "F-4", "at least one target");
	free(t);
	t = ruleset_with(0, 1, "{name: P, domainName: x.com., targetDnsServers: [10.1.1.1], forwardingRuleState: Off}");
	expect_finding(t, "F-6", "valid: Enabled, Disabled");
	free(t);
}

static char *endpoint_in(const char *prefix, const char *ie_extra)
{
	return pr_asprintf("virtualNetworks:\n"
			   "  - name: hub\n"
			   "    addressPrefixes: [10.10.0.0/16]\n"
			   "    subnets: [{name: s, addressPrefix: %s, delegation: "
			   "Microsoft.Network/dnsResolvers}]\n"
			   "dnsResolvers:\n"
			   "  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: s%s}]}\n",
			   prefix, ie_extra);
}

static void test_I2_dynamic_fifth_address(void **state)
{
	(void)state;
	char *t = endpoint_in("10.10.0.0/28", "");
	deployment_t *d = NULL;
	pr_diag_t *diag = load(t, &d);
	assert_non_null(d);
	assert_int_equal(d->resolvers[0].inbound[0].allocation, MODEL_ALLOC_DYNAMIC);
	char ip[16];
	assert_string_equal(pr_ipv4_format(d->resolvers[0].inbound[0].address, ip), "10.10.0.4");
	const model_resolver_t *r = NULL;
	assert_non_null(deployment_find_inbound_by_address(d, d->resolvers[0].inbound[0].address, &r));
	assert_ptr_equal(r, &d->resolvers[0]);
	assert_string_equal(d->resolvers[0].inbound[0].id,
			    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
			    "privres/providers/Microsoft.Network/dnsResolvers/r/inboundEndpoints/in");
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
}

static void test_I3_static_addresses(void **state)
{
	(void)state;
	const char *reserved[] = {"10.10.0.0", "10.10.0.1", "10.10.0.2", "10.10.0.3", "10.10.0.15"};
	for (size_t i = 0; i < 5; i++) {
		char extra[128];
		snprintf(extra, sizeof(extra),
			 ", privateIpAllocationMethod: Static, privateIpAddress: %s", reserved[i]);
		char *t = endpoint_in("10.10.0.0/28", extra);
		expect_finding(t, "I-3", "is reserved");
		free(t);
	}
	char *t = endpoint_in("10.10.0.0/28", ", privateIpAllocationMethod: Static, privateIpAddress: 10.10.0.14");
	deployment_t *d = NULL;
	pr_diag_t *diag = load(t, &d);
	assert_non_null(d);
	char ip[16];
	assert_string_equal(pr_ipv4_format(d->resolvers[0].inbound[0].address, ip), "10.10.0.14");
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
	t = endpoint_in("10.10.0.0/28", ", privateIpAllocationMethod: Static, privateIpAddress: 10.10.1.4");
	expect_finding(t, "I-3", "is not in subnet");
	free(t);
	t = endpoint_in("10.10.0.0/28", ", privateIpAllocationMethod: Static");
	expect_finding(t, "I-3", "Static allocation needs 'privateIpAddress'");
	free(t);
	t = endpoint_in("10.10.0.0/28", ", privateIpAllocationMethod: Automatic");
	expect_finding(t, "I-1", "valid: Dynamic, Static");
	free(t);
}

static void test_N3_subnet_sizes(void **state)
{
	(void)state;
	char *t = endpoint_in("10.10.0.0/29", "");
	expect_finding(t, "N-3", "an endpoint's subnet is /28 to /24");
	free(t);
	t = endpoint_in("10.10.0.0/23", "");
	expect_finding(t, "N-3", "an endpoint's subnet is /28 to /24");
	free(t);
	t = endpoint_in("10.10.0.0/24", "");
	expect_valid(t);
	free(t);
	t = endpoint_in("10.10.0.0/28", "");
	expect_valid(t);
	free(t);
}

static void test_N3_one_endpoint_per_subnet(void **state)
{
	(void)state;
	char *t = pr_asprintf("%s", "virtualNetworks:\n"
				    "  - name: hub\n"
				    "    addressPrefixes: [10.10.0.0/16]\n"
				    "    subnets: [{name: s, addressPrefix: 10.10.0.0/28, delegation: "
				    "Microsoft.Network/dnsResolvers}]\n"
				    "dnsResolvers:\n"
				    "  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: s}],"
				    " outboundEndpoints: [{name: out, subnet: s}]}\n");
	expect_finding(t, "N-3", "already holds inbound endpoint r/in");
	free(t);
	/* nothing else either: a host in an endpoint subnet */
	t = pr_asprintf("%s", "virtualNetworks:\n"
			      "  - name: hub\n"
			      "    addressPrefixes: [10.10.0.0/16]\n"
			      "    subnets: [{name: s, addressPrefix: 10.10.0.0/28, delegation: "
			      "Microsoft.Network/dnsResolvers}]\n"
			      "dnsResolvers:\n"
			      "  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: s}]}\n"
			      "virtualMachines: [{name: vm1, virtualNetwork: hub, subnet: s}]\n");
	expect_finding(t, "N-3", "exactly one endpoint and nothing else");
	free(t);
}

static void test_L9_one_ruleset_per_vnet(void **state)
{
	(void)state;
	char *t = pr_asprintf("%sdnsForwardingRulesets:\n"
			      "  - {name: a, dnsResolverOutboundEndpoints: [hub-resolver/out], virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]}\n"
			      "  - {name: b, dnsResolverOutboundEndpoints: [hub-resolver/out], virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]}\n",
			      HUB);
	expect_finding(t, "L-9", "already linked to ruleset 'a'");
	free(t);
}

static void test_L4_rulesets_per_outbound(void **state)
{
	(void)state;
	char *t = pr_asprintf("%sdnsForwardingRulesets:\n"
			      "  - {name: a, dnsResolverOutboundEndpoints: [hub-resolver/out]}\n"
			      "  - {name: b, dnsResolverOutboundEndpoints: [hub-resolver/out]}\n"
			      "  - {name: c, dnsResolverOutboundEndpoints: [hub-resolver/out]}\n",
			      HUB);
	expect_finding(t, "L-4", "3 rulesets use this outbound endpoint, limit 2");
	free(t);
}

static void test_limits_override(void **state)
{
	(void)state;
	char *rules = ruleset_with(3, 1, NULL);
	char *t = pr_asprintf("limits: {rulesPerRuleset: 2}\n%s", rules);
	expect_finding(t, "L-1", "3 forwarding rules, limit 2 (overridden by limits:)");
	free(t);
	t = pr_asprintf("limits: {rulesPerRulesett: 2}\n%s", rules);
	expect_finding(t, NULL, "did you mean 'rulesPerRuleset'");
	free(t);
	free(rules);
}

static void test_references_by_arm_id(void **state)
{
	(void)state;
	const char *t =
		"virtualNetworks:\n"
		"  - {name: hub, addressPrefixes: [10.10.0.0/16], subnets: [{name: s, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}]}\n"
		"dnsResolvers:\n"
		"  - name: r\n"
		"    virtualNetwork: {id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/privres/providers/Microsoft.Network/virtualNetworks/hub}\n"
		"    inboundEndpoints:\n"
		"      - name: in\n"
		"        ipConfigurations:\n"
		"          - subnet: {id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/privres/providers/Microsoft.Network/virtualNetworks/hub/subnets/s}\n"
		"            privateIpAllocationMethod: Dynamic\n";
	expect_valid(t);
	/* an id in another resource group is not found */
	const char *other =
		"virtualNetworks: [{name: hub, addressPrefixes: [10.10.0.0/16]}]\n"
		"dnsResolvers:\n"
		"  - {name: r, virtualNetwork: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/hub}\n";
	expect_finding(other, NULL, "does not exist");
}

static void test_all_findings_at_once_with_positions(void **state)
{
	(void)state;
	const char *t = "virtualNetworks:\n"
			"  - {name: hub, addressPrefixes: [10.10.0.0/33]}\n"
			"  - {name: hub, addressPrefixes: [10.20.0.0/16]}\n"
			"privateDnsZones:\n"
			"  - {name: single}\n";
	pr_diag_t *diag = load(t, NULL);
	assert_true(pr_diag_count(diag) >= 3);
	assert_true(has_finding(diag, "N-1", "prefix length must be 0..32"));
	assert_true(has_finding(diag, NULL, "virtual network 'hub' is defined twice"));
	assert_true(has_finding(diag, "Z-1", "valid: 2 to 34"));
	const pr_diag_entry_t *e = pr_diag_get(diag, 0);
	assert_string_equal(e->file, "test.yaml");
	assert_int_equal(e->line, 2);
	assert_true(e->column > 0);
	pr_diag_destroy(&diag);
}

/* A zone named twice, whatever the case or the final dot (its canonical name). */
static void test_zone_defined_twice(void **state)
{
	(void)state;
	pr_diag_t *diag = load("privateDnsZones:\n"
			       "  - {name: Contoso.Internal}\n"
			       "  - {name: other.internal}\n"
			       "  - {name: contoso.internal.}\n",
			       NULL);
	assert_int_equal(pr_diag_count(diag), 1);
	assert_true(has_finding(diag, NULL, "private DNS zone 'contoso.internal.' is defined twice"));
	assert_int_equal(pr_diag_get(diag, 0)->line, 4);
	pr_diag_destroy(&diag);
}

/* A VNet linked twice by one owner: among a ruleset's many links (hashed) and
 * a zone's few (compared), the first link is named. */
static void test_vnet_linked_twice(void **state)
{
	(void)state;
	pr_buf_t b = {0};
	pr_buf_printf(&b, "virtualNetworks:\n");
	for (int i = 0; i < 20; i++)
		pr_buf_printf(&b, "  - {name: v%d, addressPrefixes: [10.%d.0.0/16]}\n", i, i);
	pr_buf_printf(&b, "dnsForwardingRulesets:\n  - name: rs\n    virtualNetworkLinks:\n");
	for (int i = 0; i < 20; i++)
		pr_buf_printf(&b, "      - {name: l%d, virtualNetwork: v%d}\n", i, i);
	pr_buf_printf(&b, "      - {name: again, virtualNetwork: v7}\n"
			  "privateDnsZones:\n  - name: z.internal\n    virtualNetworkLinks:\n"
			  "      - {name: a, virtualNetwork: v1}\n      - {name: b, virtualNetwork: v1}\n");
	pr_diag_t *diag = load(b.data, NULL);
	assert_true(has_finding(diag, NULL, "virtual network 'v7' is already linked by 'l7'"));
	assert_true(has_finding(diag, NULL, "virtual network 'v1' is already linked by 'a'"));
	pr_diag_destroy(&diag);
	pr_buf_free(&b);
}

static void test_Z1_records(void **state)
{
	(void)state;
	char *base = pr_asprintf("%s", "privateDnsZones:\n  - name: contoso.internal\n    recordSets:\n");
	struct {
		const char *rs, *rule, *msg;
	} cases[] = {
		{"{name: www, type: A, records: [10.0.0.300]}", "Z-1", "not valid A data"},
		{"{name: mx, type: MX, records: [mail.contoso.internal.]}", "Z-1", "not valid MX data"},
		{"{name: x, type: HINFO, records: [a b]}", "Z-1", "not a supported record type"},
		{"{name: a.*.b, type: A, records: [10.0.0.1]}", "Z-1", "wildcard"},
		{"{name: www.other.com., type: A, records: [10.0.0.1]}", "Z-1", "outside zone"},
		{"{name: '@', type: CNAME, records: [x.com.]}", "Z-1", "apex"},
		{"{name: c, type: CNAME, records: [x.com., y.com.]}", "Z-1", "exactly one record"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *t = pr_asprintf("%s      - %s\n", base, cases[i].rs);
		expect_finding(t, cases[i].rule, cases[i].msg);
		free(t);
	}
	char *t = pr_asprintf("%s      - {name: c, type: CNAME, records: [x.com.]}\n"
			      "      - {name: c, type: A, records: [10.0.0.1]}\n",
			      base);
	expect_finding(t, "Z-1", "a CNAME stands alone");
	free(t);
	t = pr_asprintf("%s      - {name: '*', type: A, records: [10.0.0.1]}\n"
			"      - {name: '@', type: MX, records: ['10 mail']}\n"
			"      - {name: _sip._tcp, type: SRV, records: ['0 5 5060 sip.contoso.internal.']}\n"
			"      - {name: '@', type: TXT, records: ['v=spf1 -all']}\n"
			"      - {name: 4.0.0.10.in-addr.arpa., type: PTR, records: [x.]}\n",
			base);
	/* the PTR is outside the zone: only that one is refused */
	pr_diag_t *diag = load(t, NULL);
	assert_int_equal(pr_diag_count(diag), 1);
	assert_true(has_finding(diag, "Z-1", "outside zone"));
	pr_diag_destroy(&diag);
	free(t);
	/* L-11: 20 records per set */
	pr_buf_t b = {0};
	pr_buf_printf(&b, "%s      - {name: many, type: A, records: [", base);
	for (int i = 0; i < 21; i++)
		pr_buf_printf(&b, "%s10.0.0.%d", i ? ", " : "", i + 1);
	pr_buf_printf(&b, "]}\n");
	expect_finding(b.data, "L-11", "21 records, limit 20");
	pr_buf_free(&b);
	free(base);
}

static void test_Z2_soa_defaults(void **state)
{
	(void)state;
	deployment_t *d = NULL;
	pr_diag_t *diag = load("privateDnsZones: [{name: Contoso.Internal}]\n", &d);
	assert_non_null(d);
	assert_string_equal(d->zones[0].name, "contoso.internal.");
	assert_int_equal(d->zones[0].soa.serial, 1);
	assert_int_equal(d->zones[0].soa.refresh, 3600);
	assert_int_equal(d->zones[0].soa.retry, 300);
	assert_int_equal(d->zones[0].soa.expire, 2419200);
	assert_int_equal(d->zones[0].soa.minimum, 300);
	assert_int_equal(d->zones[0].soa.ttl, 3600);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

static void test_Z3_registration_and_hosts(void **state)
{
	(void)state;
	char *t = pr_asprintf("%s"
			      "virtualMachines:\n"
			      "  - {name: vm1, virtualNetwork: hub, subnet: workload}\n"
			      "  - {name: vm2, virtualNetwork: hub, subnet: workload, privateIpAddress: 10.10.2.4}\n"
			      "privateDnsZones:\n"
			      "  - {name: a.internal, virtualNetworkLinks: [{name: l, virtualNetwork: hub, registrationEnabled: true}]}\n",
			      HUB);
	deployment_t *d = NULL;
	pr_diag_t *diag = load(t, &d);
	assert_non_null(d);
	char ip[16];
	/* the static host keeps .4; the dynamic one gets the next free address */
	assert_string_equal(pr_ipv4_format(d->vms[1].address, ip), "10.10.2.4");
	assert_string_equal(pr_ipv4_format(d->vms[0].address, ip), "10.10.2.5");
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
	t = pr_asprintf("%s"
			"privateDnsZones:\n"
			"  - {name: a.internal, virtualNetworkLinks: [{name: l, virtualNetwork: hub, registrationEnabled: true}]}\n"
			"  - {name: b.internal, virtualNetworkLinks: [{name: l, virtualNetwork: hub, registrationEnabled: true}]}\n",
			HUB);
	expect_finding(t, "Z-3", "already has a registration zone");
	free(t);
	t = pr_asprintf("%svirtualMachines: [{name: 'bad_name', virtualNetwork: hub, subnet: workload}]\n", HUB);
	expect_finding(t, "Z-3", "not a valid host name");
	free(t);
}

static void test_S1_S2_policies(void **state)
{
	(void)state;
	char *t = pr_asprintf(
		"%s"
		"dnsResolverDomainLists: [{name: all, domains: [.]}, {name: west, location: westus, domains: [x.com.]}]\n"
		"dnsResolverPolicies:\n"
		"  - name: p\n"
		"    dnsSecurityRules:\n"
		"      - {name: a, priority: 100, action: {actionType: Allow}, dnsResolverDomainLists: [all]}\n"
		"      - {name: b, priority: 100, action: {actionType: Block}, dnsResolverDomainLists: [all]}\n"
		"      - {name: c, priority: 200, action: {actionType: Deny}, dnsResolverDomainLists: [nope]}\n"
		"      - {name: d, priority: 300, action: {actionType: Block, blockResponseCode: NXDOMAIN}, dnsResolverDomainLists: [west]}\n"
		"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n",
		HUB);
	pr_diag_t *diag = load(t, NULL);
	assert_true(has_finding(diag, "S-1", "priority 100 is already used"));
	assert_true(has_finding(diag, "S-1", "valid: Allow, Alert, Block"));
	assert_true(has_finding(diag, "S-1", "domain list 'nope' does not exist"));
	assert_true(has_finding(diag, "S-3", "valid: SERVFAIL"));
	assert_true(has_finding(diag, "S-2", "domain list 'west' is in 'westus'"));
	pr_diag_destroy(&diag);
	free(t);
	t = pr_asprintf("%s"
			"dnsResolverDomainLists: [{name: all, domains: [.]}]\n"
			"dnsResolverPolicies:\n"
			"  - name: p\n"
			"    location: westus\n"
			"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n",
			HUB);
	expect_finding(t, "S-2", "only virtual networks of the same region");
	free(t);
}

static void test_O2_O3_rulesets(void **state)
{
	(void)state;
	char *t = pr_asprintf("%sdnsForwardingRulesets:\n  - {name: a, dnsResolverOutboundEndpoints: [hub-resolver/nope]}\n", HUB);
	expect_finding(t, "O-2", "does not exist");
	free(t);
	t = pr_asprintf("%sdnsForwardingRulesets:\n  - {name: a}\n", HUB);
	expect_finding(t, "O-2", "is required");
	free(t);
	t = pr_asprintf("%s"
			"  - {name: far, location: westus, addressPrefixes: [10.50.0.0/16]}\n"
			"dnsForwardingRulesets:\n"
			"  - {name: a, dnsResolverOutboundEndpoints: [hub-resolver/out], virtualNetworkLinks: [{name: l, virtualNetwork: far}]}\n",
			"virtualNetworks:\n"
			"  - name: hub\n"
			"    addressPrefixes: [10.10.0.0/16]\n"
			"    subnets: [{name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}]\n");
	char *full = pr_asprintf("%sdnsResolvers: [{name: hub-resolver, virtualNetwork: hub, outboundEndpoints: [{name: out, subnet: o}]}]\n", t);
	expect_finding(full, "O-3", "only virtual networks of the same region");
	free(full);
	free(t);
}

static void test_export_round_trip(void **state)
{
	(void)state;
	const char *text = model_default_deployment_text();
	deployment_t *d = NULL;
	pr_diag_t *diag = load(text, &d);
	assert_non_null(d);
	json_t *j = deployment_to_json(d);
	/* computed: ids and allocated addresses */
	json_t *ie = json_array_get(json_object_get(json_array_get(json_object_get(j, "dnsResolvers"), 0),
						    "inboundEndpoints"),
				    0);
	assert_string_equal(json_string_value(json_object_get(ie, "privateIpAddress")), "10.10.0.4");
	assert_non_null(strstr(json_string_value(json_object_get(ie, "id")), "/inboundEndpoints/in"));
	/* read back as an API document, and as YAML text */
	model_doc_t *doc = model_doc_from_json(j, "export");
	deployment_t *d2 = NULL;
	assert_int_equal(deployment_from_doc(&doc, &d2, diag), 0);
	assert_null(doc);
	assert_int_equal(d2->n_zones, d->n_zones);
	assert_int_equal(d2->resolvers[0].inbound[0].address, d->resolvers[0].inbound[0].address);
	char *yaml = model_json_to_yaml(j);
	deployment_t *d3 = NULL;
	assert_int_equal(deployment_load_text(yaml, strlen(yaml), "yaml", &d3, diag), 0);
	json_t *j3 = deployment_to_json(d3);
	assert_true(json_equal(j, j3));
	json_decref(j3);
	free(yaml);
	deployment_destroy(&d3);
	deployment_destroy(&d2);
	json_decref(j);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

static void test_yaml_scalars_and_errors(void **state)
{
	(void)state;
	/* an address is never a number; a quoted port still reads as a number */
	char *t = ruleset_with(0, 1, "{name: P, domainName: x.com., targetDnsServers: [{ipAddress: 10.1.1.1, port: '5353'}]}");
	deployment_t *d = NULL;
	pr_diag_t *diag = load(t, &d);
	assert_non_null(d);
	assert_int_equal(d->rulesets[0].rules[0].targets[0].port, 5353);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
	expect_finding("virtualNetworks: {name: hub}\n", NULL, "must be a list, not a mapping");
	expect_finding("- a\n- b\n", NULL, "a deployment is a mapping");
	expect_finding("a: 1\na: 2\n", NULL, "duplicate key 'a'");
	expect_finding("a: 1\n---\nb: 2\n", NULL, "one YAML document");
	expect_finding("a: *nothing\n", NULL, "unknown alias");
	expect_valid("");
}

static void test_external_servers(void **state)
{
	(void)state;
	char *t = pr_asprintf("%s"
			      "externalDnsServers:\n"
			      "  - name: onprem\n"
			      "    ipAddress: 10.100.0.2\n"
			      "    zones: [{name: corp.contoso.com, recordSets: [{name: www, type: A, records: [10.100.1.1]}]}]\n"
			      "    forwarders: [{domainName: azure.contoso.com., targetDnsServers: [10.10.0.4]}]\n"
			      "  - {name: dup, ipAddress: 10.100.0.2}\n"
			      "  - {name: ie, ipAddress: 10.10.0.4}\n"
			      "  - {name: fw, ipAddress: 10.100.0.3, forwarders: [{domainName: x.com, targetDnsServers: [168.63.129.16]}]}\n",
			      HUB);
	pr_diag_t *diag = load(t, NULL);
	assert_true(has_finding(diag, NULL, "10.100.0.2:53 is already server 'onprem'"));
	assert_true(has_finding(diag, NULL, "is an inbound endpoint's address"));
	assert_true(has_finding(diag, "F-2", "must end with a dot"));
	assert_true(has_finding(diag, "F-5", "never a valid target"));
	assert_int_equal(pr_diag_count(diag), 4);
	pr_diag_destroy(&diag);
	free(t);
}

static void test_emulator_settings(void **state)
{
	(void)state;
	char *t = pr_asprintf("%s"
			      "emulator:\n"
			      "  listen: loopback\n"
			      "  listeners: {hub-resolver/in: 127.0.0.1:5353, azure-dns/spoke: 127.0.0.1:5354}\n"
			      "  addressMap: {'10.100.0.2:53': '127.0.0.1:5399'}\n"
			      "  unresponsiveSeconds: 5\n",
			      HUB);
	deployment_t *d = NULL;
	pr_diag_t *diag = load(t, &d);
	assert_non_null(d);
	assert_int_equal(d->emulator.n_listeners, 2);
	assert_int_equal(d->emulator.listeners[0].port, 5353);
	assert_int_equal(d->emulator.n_address_map, 1);
	assert_int_equal(d->emulator.address_map[0].real_port, 5399);
	assert_int_equal(d->emulator.unresponsive_seconds, 5);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
	t = pr_asprintf("%semulator: {listen: virtal, listeners: {nope/in: 127.0.0.1:1}, addressMap: {'x': 'y'}}\n", HUB);
	diag = load(t, NULL);
	assert_true(has_finding(diag, NULL, "valid: loopback, virtual"));
	assert_true(has_finding(diag, NULL, "no listener 'nope/in'"));
	assert_true(has_finding(diag, NULL, "must be IPv4 address:port"));
	pr_diag_destroy(&diag);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_L1_rules_per_ruleset),
		cmocka_unit_test(test_L2_links_per_ruleset),
		cmocka_unit_test(test_L5_targets_per_rule),
		cmocka_unit_test(test_F2_domain_labels),
		cmocka_unit_test(test_F5_azure_dns_refused),
		cmocka_unit_test(test_F1_F3_F4_F6_rules),
		cmocka_unit_test(test_I2_dynamic_fifth_address),
		cmocka_unit_test(test_I3_static_addresses),
		cmocka_unit_test(test_N3_subnet_sizes),
		cmocka_unit_test(test_N3_one_endpoint_per_subnet),
		cmocka_unit_test(test_L9_one_ruleset_per_vnet),
		cmocka_unit_test(test_L4_rulesets_per_outbound),
		cmocka_unit_test(test_limits_override),
		cmocka_unit_test(test_references_by_arm_id),
		cmocka_unit_test(test_all_findings_at_once_with_positions),
		cmocka_unit_test(test_zone_defined_twice),
		cmocka_unit_test(test_vnet_linked_twice),
		cmocka_unit_test(test_Z1_records),
		cmocka_unit_test(test_Z2_soa_defaults),
		cmocka_unit_test(test_Z3_registration_and_hosts),
		cmocka_unit_test(test_S1_S2_policies),
		cmocka_unit_test(test_O2_O3_rulesets),
		cmocka_unit_test(test_export_round_trip),
		cmocka_unit_test(test_yaml_scalars_and_errors),
		cmocka_unit_test(test_external_servers),
		cmocka_unit_test(test_emulator_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
