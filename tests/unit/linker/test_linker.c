/* Views (Q-2, Q-3 through F-8/F-9) and loop detection (P-1, P-2). */
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

#include "linker/linker.h"

static deployment_t *load_ok(const char *text)
{
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_load_text(text, strlen(text), "test.yaml", &d, diag);
	if (rc != 0) {
		char *s = pr_diag_format(diag);
		fprintf(stderr, "%s", s);
		free(s);
	}
	assert_int_equal(rc, 0);
	pr_diag_destroy(&diag);
	return d;
}

static const char *DOC_EXAMPLE =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"  - {name: spoke, addressPrefixes: [10.20.0.0/16]}\n"
	"privateDnsZones:\n"
	"  - {name: azure.contoso.com, virtualNetworkLinks: [{name: l, virtualNetwork: hub}]}\n"
	"dnsResolvers:\n"
	"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
	"dnsForwardingRulesets:\n"
	"  - name: rs\n"
	"    dnsResolverOutboundEndpoints: [r/out]\n"
	"    forwardingRules:\n"
	"      - {name: Contoso, domainName: contoso.com., targetDnsServers: [10.100.0.2]}\n"
	"      - {name: AzurePrivate, domainName: azure.contoso.com., targetDnsServers: [10.10.0.4]}\n"
	"      - {name: Wildcard, domainName: ., targetDnsServers: [10.100.0.2]}\n"
	"      - {name: Windows, domainName: windows.net., targetDnsServers: [10.100.0.2]}\n"
	"      - {name: Off, domainName: off.example., targetDnsServers: [10.100.0.2], forwardingRuleState: Disabled}\n"
	"    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n";

static const char *rule_for(const linker_view_t *v, const char *qname, ruleset_match_kind_t *kind)
{
	ruleset_match_t m;
	assert_int_equal(ruleset_matcher_match_text(v->rules, qname, &m), 0);
	*kind = m.kind;
	return m.kind == RULESET_MATCH_USER ? ((const model_rule_t *)m.value)->name : m.domain;
}

static void test_F8_F9_views_of_the_documentation_example(void **state)
{
	(void)state;
	deployment_t *d = load_ok(DOC_EXAMPLE);
	pr_diag_t *diag = pr_diag_new();
	linker_t *l = NULL;
	assert_int_equal(linker_build(d, &l, diag), 0);
	const linker_view_t *spoke = linker_view(l, deployment_find_vnet(d, "spoke"));
	const linker_view_t *hub = linker_view(l, deployment_find_vnet(d, "hub"));
	assert_int_equal(hub->ruleset, -1);
	assert_null(hub->rules);
	assert_int_equal(hub->n_zones, 1);
	assert_int_equal(spoke->n_zones, 0);
	ruleset_match_kind_t k;
	assert_string_equal(rule_for(spoke, "secure.store.azure.contoso.com", &k), "AzurePrivate");
	assert_string_equal(rule_for(spoke, "contoso.com", &k), "Contoso");
	assert_string_equal(rule_for(spoke, "example.org", &k), "Wildcard");
	assert_string_equal(rule_for(spoke, "db.database.windows.net", &k), "Windows");
	/* F-9: reserved core.windows.net is longer than the windows.net. rule */
	rule_for(spoke, "x.blob.core.windows.net", &k);
	assert_int_equal(k, RULESET_MATCH_RESERVED);
	/* F-6: a disabled rule is ignored, the wildcard takes the name */
	assert_string_equal(rule_for(spoke, "a.off.example", &k), "Wildcard");
	/* the hub's zone matcher */
	ruleset_match_t m;
	assert_int_equal(ruleset_matcher_match_text(hub->zone_matcher, "web.azure.contoso.com", &m), 0);
	assert_int_equal(m.kind, RULESET_MATCH_USER);
	char *summary = linker_summary(l);
	assert_non_null(strstr(summary, "r/in  10.10.0.4  (Dynamic, VNet hub)"));
	free(summary);
	linker_destroy(&l);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

static bool has(const pr_diag_t *diag, const char *rule, const char *text)
{
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if (e->rule && !strcmp(e->rule, rule) && strstr(e->message, text))
			return true;
	}
	char *s = pr_diag_format(diag);
	fprintf(stderr, "findings:\n%s", s);
	free(s);
	return false;
}

static void test_P1_ruleset_linked_into_its_target_vnet(void **state)
{
	(void)state;
	char *t = pr_asprintf("%s", DOC_EXAMPLE);
	/* link the ruleset to the hub as well: AzurePrivate targets the hub's own IE */
	char *hub = pr_asprintf("%s      - {name: hubl, virtualNetwork: hub}\n", t);
	hub = (char *)realloc(hub, strlen(hub) + 1);
	/* rewrite the links line into a block list */
	char *p = strstr(hub, "    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n");
	assert_non_null(p);
	char *fixed = pr_asprintf("%.*s    virtualNetworkLinks:\n      - {name: l, virtualNetwork: spoke}\n"
				  "      - {name: hubl, virtualNetwork: hub}\n",
				  (int)(p - hub), hub);
	deployment_t *d = load_ok(fixed);
	pr_diag_t *diag = pr_diag_new();
	linker_t *l = NULL;
	assert_int_equal(linker_build(d, &l, diag), PR_ELOOP);
	assert_null(l);
	assert_true(has(diag, "P-1", "its rule 'AzurePrivate' forwards 'azure.contoso.com.' to "
				     "inbound endpoint r/in (10.10.0.4), which is in 'hub' itself"));
	const pr_diag_entry_t *e = pr_diag_get(diag, 0);
	assert_string_equal(e->path, "dnsForwardingRulesets[rs].virtualNetworkLinks[hubl].virtualNetwork");
	assert_true(e->line > 0);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(fixed);
	free(hub);
	free(t);
}

/* Three VNets, each with a resolver and a ruleset that sends x.contoso.com to
 * the next one's inbound endpoint. */
static char *three_hops(const char *third_domain)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "virtualNetworks:\n");
	for (int i = 1; i <= 3; i++)
		pr_buf_printf(&b,
			      "  - name: v%d\n    addressPrefixes: [10.%d.0.0/16]\n    subnets:\n"
			      "      - {name: i, addressPrefix: 10.%d.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
			      "      - {name: o, addressPrefix: 10.%d.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n",
			      i, i, i, i);
	pr_buf_printf(&b, "dnsResolvers:\n");
	for (int i = 1; i <= 3; i++)
		pr_buf_printf(&b, "  - {name: r%d, virtualNetwork: v%d, inboundEndpoints: [{name: in, subnet: i}], "
				  "outboundEndpoints: [{name: out, subnet: o}]}\n",
			      i, i);
	pr_buf_printf(&b, "dnsForwardingRulesets:\n");
	for (int i = 1; i <= 3; i++)
		pr_buf_printf(&b,
			      "  - name: rs%d\n    dnsResolverOutboundEndpoints: [r%d/out]\n"
			      "    forwardingRules: [{name: X, domainName: %s, targetDnsServers: [10.%d.0.4]}]\n"
			      "    virtualNetworkLinks: [{name: l, virtualNetwork: v%d}]\n",
			      i, i, i == 3 ? third_domain : "x.contoso.com.", i % 3 + 1, i);
	return pr_buf_take(&b);
}

static void test_P2_three_hop_cycle_printed(void **state)
{
	(void)state;
	char *t = three_hops("contoso.com.");
	deployment_t *d = load_ok(t);
	pr_diag_t *diag = pr_diag_new();
	assert_int_equal(linker_check_loops(d, diag), PR_ELOOP);
	/* v3 forwards all of contoso.com. back: the loop is for x.contoso.com. */
	assert_true(has(diag, "P-2",
			"forwarding loop for x.contoso.com.: v1 -[rs1: x.contoso.com.]-> r2/in (v2) "
			"-[rs2: x.contoso.com.]-> r3/in (v3) -[rs3: contoso.com.]-> r1/in (v1)"));
	/* one cycle, reported once, not from each of its three nodes */
	assert_int_equal(pr_diag_count(diag), 1);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
	/* a third rule for another name breaks the cycle */
	t = three_hops("y.contoso.com.");
	d = load_ok(t);
	diag = pr_diag_new();
	assert_int_equal(linker_check_loops(d, diag), 0);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(t);
}

static void test_P2_cycle_through_an_external_server(void **state)
{
	(void)state;
	const char *t =
		"virtualNetworks:\n"
		"  - name: hub\n"
		"    addressPrefixes: [10.10.0.0/16]\n"
		"    subnets:\n"
		"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"dnsResolvers:\n"
		"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
		"dnsForwardingRulesets:\n"
		"  - name: rs\n"
		"    dnsResolverOutboundEndpoints: [r/out]\n"
		"    forwardingRules: [{name: Corp, domainName: corp.example., targetDnsServers: [10.100.0.2]}]\n"
		"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
		"externalDnsServers:\n"
		"  - name: onprem\n"
		"    ipAddress: 10.100.0.2\n"
		"    forwarders: [{domainName: ., targetDnsServers: [10.10.0.4]}]\n";
	deployment_t *d = load_ok(t);
	pr_diag_t *diag = pr_diag_new();
	assert_int_equal(linker_check_loops(d, diag), PR_ELOOP);
	assert_true(has(diag, "P-2", "hub -[rs: corp.example.]-> onprem (10.100.0.2:53) "
				     "-[onprem forwarder: .]-> r/in (hub)"));
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

static void test_P2_zone_and_reserved_end_paths(void **state)
{
	(void)state;
	/* The default deployment forwards between spokes, the hub and on-premises
	 * without a loop: the hub's zone answers azure.contoso.com. */
	const char *text = model_default_deployment_text();
	deployment_t *d = load_ok(text);
	pr_diag_t *diag = pr_diag_new();
	assert_int_equal(linker_check_loops(d, diag), 0);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}


/* ---- after a change (linker_build_after) ---------------------------------------- */

/* d's document with resource (JSON text; NULL: none) put into kind k under
 * parent, or the resource named del removed, as control/ edits it; then the
 * deployment of it after d. */
static deployment_t *changed(const deployment_t *d, model_kind_id_t k, const char *parent,
			     const char *resource, const char *del)
{
	json_t *doc = model_doc_edit_copy(deployment_source_json(d), model_kind(k), parent);
	json_t *r = resource ? json_loads(resource, 0, NULL) : NULL;
	if (resource)
		assert_int_equal(model_doc_put(doc, model_kind(k), parent, r), 0);
	if (del)
		assert_int_equal(model_doc_remove(doc, model_kind(k), parent, del, NULL), 0);
	json_decref(r);
	model_doc_t *md = model_doc_adopt(doc, "change");
	pr_diag_t *diag = pr_diag_new();
	deployment_t *out = NULL;
	assert_int_equal(deployment_from_doc_after(d, &md, &out, diag), 0);
	pr_diag_destroy(&diag);
	return out;
}

/* P-2: a rule that closes a loop through rulesets the change left alone. */
static void test_P2_change_closes_loop_through_untouched_rulesets(void **state)
{
	(void)state;
	char *t = three_hops("y.contoso.com.");
	deployment_t *d1 = load_ok(t), *d2 = NULL, *d3 = NULL;
	pr_diag_t *diag = pr_diag_new();
	linker_t *l1 = NULL, *l2 = NULL, *l3 = NULL;
	assert_int_equal(linker_build(d1, &l1, diag), 0);
	/* a rule out of privres: no loop; the other rulesets keep their matchers */
	d2 = changed(d1, MODEL_KIND_RULE, "rs1",
		     "{\"name\": \"Y\", \"domainName\": \"y.example.\", "
		     "\"targetDnsServers\": [{\"ipAddress\": \"10.100.0.2\"}]}", NULL);
	assert_int_equal(linker_build_after(l1, d2, &l2, diag), 0);
	assert_ptr_equal(linker_view(l2, 1)->rules, linker_view(l1, 1)->rules);
	assert_ptr_not_equal(linker_view(l2, 0)->rules, linker_view(l1, 0)->rules);
	/* rs3 now sends all of contoso.com. back to v1 */
	d3 = changed(d2, MODEL_KIND_RULE, "rs3",
		     "{\"name\": \"X\", \"domainName\": \"contoso.com.\", "
		     "\"targetDnsServers\": [{\"ipAddress\": \"10.1.0.4\"}]}", NULL);
	assert_int_equal(linker_build_after(l2, d3, &l3, diag), PR_ELOOP);
	assert_null(l3);
	assert_true(has(diag, "P-2", "-[rs1: x.contoso.com.]-> r2/in (v2)"));
	linker_destroy(&l2);
	linker_destroy(&l1);
	deployment_destroy(&d3);
	deployment_destroy(&d2);
	deployment_destroy(&d1);
	pr_diag_destroy(&diag);
	free(t);
}

/* One change after *d and *l, which it replaces when it is accepted;
 * returns linker_build_after's result. */
static int step(deployment_t **d, linker_t **l, pr_diag_t *diag, model_kind_id_t k,
		const char *parent, const char *resource, const char *del)
{
	deployment_t *next = changed(*d, k, parent, resource, del);
	linker_t *nl = NULL;
	int rc = linker_build_after(*l, next, &nl, diag);
	if (rc != 0) {
		deployment_destroy(&next);
		return rc;
	}
	linker_destroy(l);
	deployment_destroy(d);
	*d = next;
	*l = nl;
	return 0;
}

/* The three VNets without a loop, built. */
static void three_hops_built(deployment_t **d, linker_t **l, pr_diag_t **diag)
{
	char *t = three_hops("y.contoso.com.");
	*d = load_ok(t);
	free(t);
	*diag = pr_diag_new();
	*l = NULL;
	assert_int_equal(linker_build(*d, l, *diag), 0);
}

static void three_hops_free(deployment_t **d, linker_t **l, pr_diag_t **diag)
{
	linker_destroy(l);
	deployment_destroy(d);
	pr_diag_destroy(diag);
}

/* P-2: a link that closes a loop through rulesets the change left alone. */
static void test_P2_change_link_closes_loop(void **state)
{
	(void)state;
	deployment_t *d;
	linker_t *l;
	pr_diag_t *diag;
	three_hops_built(&d, &l, &diag);
	assert_int_equal(step(&d, &l, diag, MODEL_KIND_RULESET_LINK, "rs3", NULL, "l"), 0);
	assert_int_equal(step(&d, &l, diag, MODEL_KIND_RULE, "rs3",
			      "{\"name\": \"X\", \"domainName\": \"contoso.com.\", "
			      "\"targetDnsServers\": [{\"ipAddress\": \"10.1.0.4\"}]}",
			      NULL),
			 0);
	assert_int_equal(step(&d, &l, diag, MODEL_KIND_RULESET_LINK, "rs3",
			      "{\"name\": \"l\", \"virtualNetwork\": \"v3\"}", NULL),
			 PR_ELOOP);
	assert_true(has(diag, "P-2", "-[rs3: contoso.com.]-> r1/in (v1)"));
	three_hops_free(&d, &l, &diag);
}

/* P-1: a ruleset left alone gets a link into the VNet its rule targets. */
static void test_P1_change_links_ruleset_into_its_target(void **state)
{
	(void)state;
	deployment_t *d;
	linker_t *l;
	pr_diag_t *diag;
	three_hops_built(&d, &l, &diag);
	/* v2 free of rs2 (L-9), then rs1, which forwards x.contoso.com. to r2/in,
	 * linked to it */
	assert_int_equal(step(&d, &l, diag, MODEL_KIND_RULESET_LINK, "rs2", NULL, "l"), 0);
	assert_int_equal(step(&d, &l, diag, MODEL_KIND_RULESET_LINK, "rs1",
			      "{\"name\": \"l2\", \"virtualNetwork\": \"v2\"}", NULL),
			 PR_ELOOP);
	assert_true(has(diag, "P-1", "which is in 'v2' itself"));
	three_hops_free(&d, &l, &diag);
}

static void test_targets_classified(void **state)
{
	(void)state;
	deployment_t *d = load_ok(model_default_deployment_text());
	linker_target_t t;
	uint32_t a;
	pr_ipv4_parse("10.10.0.4", &a);
	linker_classify_target(d, a, 53, &t);
	assert_int_equal(t.kind, LINKER_TARGET_INBOUND);
	assert_int_equal(t.vnet, deployment_find_vnet(d, "hub"));
	linker_classify_target(d, a, 5353, &t);
	assert_int_equal(t.kind, LINKER_TARGET_OUTSIDE);
	pr_ipv4_parse("10.100.0.2", &a);
	linker_classify_target(d, a, 53, &t);
	assert_int_equal(t.kind, LINKER_TARGET_EXTERNAL);
	deployment_destroy(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_F8_F9_views_of_the_documentation_example),
		cmocka_unit_test(test_P1_ruleset_linked_into_its_target_vnet),
		cmocka_unit_test(test_P2_three_hop_cycle_printed),
		cmocka_unit_test(test_P2_cycle_through_an_external_server),
		cmocka_unit_test(test_P2_zone_and_reserved_end_paths),
		cmocka_unit_test(test_targets_classified),
		cmocka_unit_test(test_P2_change_closes_loop_through_untouched_rulesets),
		cmocka_unit_test(test_P2_change_link_closes_loop),
		cmocka_unit_test(test_P1_change_links_ruleset_into_its_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
