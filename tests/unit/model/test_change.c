/* A change of one resource (deployment_from_doc_after, design.md §3): what it
 * leaves alone is shared with the deployment before, and every rule still
 * holds — each test below fails when a part is shared where it must not be. */
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

static const char *BASE =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"  - name: spoke\n"
	"    addressPrefixes: [10.20.0.0/16]\n"
	"  - name: spoke2\n"
	"    addressPrefixes: [10.30.0.0/16]\n"
	"dnsResolvers:\n"
	"  - name: hub-resolver\n"
	"    virtualNetwork: hub\n"
	"    inboundEndpoints: [{name: in, subnet: snet-in}]\n"
	"    outboundEndpoints: [{name: out, subnet: snet-out}]\n"
	"dnsForwardingRulesets:\n"
	"  - name: rs-a\n"
	"    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
	"    forwardingRules:\n"
	"      - {name: a1, domainName: a1.corp., targetDnsServers: [{ipAddress: 192.168.0.1}]}\n"
	"    virtualNetworkLinks: [{name: l-spoke, virtualNetwork: spoke}]\n"
	"  - name: rs-b\n"
	"    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
	"    forwardingRules:\n"
	"      - {name: b1, domainName: b1.corp., targetDnsServers: [{ipAddress: 192.168.0.2}]}\n"
	"      - {name: b2, domainName: b2.corp., targetDnsServers: [{ipAddress: 192.168.0.3}]}\n"
	"    virtualNetworkLinks: [{name: l-spoke2, virtualNetwork: spoke2}]\n"
	"privateDnsZones:\n"
	"  - name: z1.example\n"
	"    recordSets:\n"
	"      - {name: '@', type: SOA, records: ['ns1.z1.example. admin.z1.example. 7 3600 300 2419200 300']}\n"
	"      - {name: web, type: A, records: [10.10.2.4]}\n"
	"  - name: z2.example\n"
	"    recordSets: [{name: db, type: A, records: [10.10.2.5]}]\n"
	"    virtualNetworkLinks: [{name: zl, virtualNetwork: spoke}]\n";

static deployment_t *base(void)
{
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	assert_int_equal(deployment_load_text(BASE, strlen(BASE), "base.yaml", &d, diag), 0);
	pr_diag_destroy(&diag);
	return d;
}

/* d's document with resource (JSON text) put into kind k under parent, as
 * control/ edits it; NULL resource: the root copied only. */
static json_t *edited(const deployment_t *d, model_kind_id_t k, const char *parent,
		      const char *resource)
{
	json_t *doc = model_doc_edit_copy(deployment_source_json(d), model_kind(k), parent);
	if (resource) {
		json_t *r = json_loads(resource, 0, NULL);
		assert_non_null(r);
		assert_int_equal(model_doc_put(doc, model_kind(k), parent, r), 0);
		json_decref(r);
	}
	return doc;
}

/* The deployment of doc (consumed) after prev; diag (may be NULL) gets the
 * findings. */
static int after(const deployment_t *prev, json_t *doc, deployment_t **out, pr_diag_t *diag)
{
	pr_diag_t *own = diag ? NULL : pr_diag_new();
	model_doc_t *md = model_doc_adopt(doc, "change");
	int rc = deployment_from_doc_after(prev, &md, out, diag ? diag : own);
	pr_diag_destroy(&own);
	return rc;
}

static bool has_finding(const pr_diag_t *diag, const char *rule, const char *text)
{
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if ((!rule || (e->rule && !strcmp(e->rule, rule))) && strstr(e->message, text))
			return true;
	}
	return false;
}

/* A rule added to rs-a: rs-b's rules, the VNets and the zones' record sets
 * are the deployment before's, and stay readable once it is gone. */
static void test_change_shares_untouched_parts(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL, *d3 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULE, "rs-a",
			     "{\"name\": \"a2\", \"domainName\": \"a2.corp.\", "
			     "\"targetDnsServers\": [{\"ipAddress\": \"192.168.0.9\"}]}");
	assert_int_equal(after(d1, doc, &d2, NULL), 0);
	assert_ptr_equal(d2->rulesets[1].rules, d1->rulesets[1].rules);
	assert_ptr_not_equal(d2->rulesets[0].rules, d1->rulesets[0].rules);
	assert_int_equal(d2->rulesets[0].n_rules, 2);
	assert_ptr_equal(d2->vnets, d1->vnets);
	assert_ptr_equal(d2->zones[0].record_sets, d1->zones[0].record_sets);
	deployment_destroy(&d1);
	/* a change after a change: shared parts outlive the deployment they came from */
	doc = edited(d2, MODEL_KIND_RULE, "rs-a", NULL);
	assert_int_equal(after(d2, doc, &d3, NULL), 0);
	deployment_destroy(&d2);
	assert_string_equal(d3->rulesets[1].rules[1].domain_name, "b2.corp.");
	assert_non_null(strstr(d3->rulesets[1].rules[1].id, "/dnsForwardingRulesets/rs-b/"));
	assert_string_equal(d3->vnets[2].name, "spoke2");
	assert_string_equal(d3->zones[0].soa.host, "ns1.z1.example.");
	assert_int_equal(d3->zones[0].soa.serial, 7);
	deployment_destroy(&d3);
}

/* L-1: lowered limits apply to the rulesets the change left alone. */
static void test_change_limits_recheck_untouched(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULE, "rs-a", NULL);
	json_object_set_new(doc, "limits", json_pack("{s:i}", "rulesPerRuleset", 1));
	pr_diag_t *diag = pr_diag_new();
	assert_int_not_equal(after(d1, doc, &d2, diag), 0);
	assert_true(has_finding(diag, "L-1", "forwarding rules"));
	assert_null(d2);
	pr_diag_destroy(&diag);
	deployment_destroy(&d1);
}

/* The ids of rules left alone follow a new subscription. */
static void test_change_subscription_renames_ids(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULE, "rs-a", NULL);
	json_object_set_new(doc, "subscription", json_string("11111111-2222-3333-4444-555555555555"));
	assert_int_equal(after(d1, doc, &d2, NULL), 0);
	assert_non_null(strstr(d2->rulesets[1].rules[0].id, "/subscriptions/11111111-"));
	assert_non_null(strstr(d2->vnets[0].id, "/subscriptions/11111111-"));
	deployment_destroy(&d2);
	deployment_destroy(&d1);
}

/* A ruleset of another name over the same rules list: its rules' ids and
 * paths are its own, not those of the ruleset the list came from. */
static void test_change_renamed_ruleset_rules_are_its_own(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULESET, NULL, NULL);
	json_t *list = json_object_get(doc, "dnsForwardingRulesets");
	json_t *rs = json_copy(json_array_get(list, 1)); /* shares forwardingRules */
	json_object_set_new(rs, "name", json_string("rs-c"));
	json_array_set_new(list, 1, rs);
	assert_int_equal(after(d1, doc, &d2, NULL), 0);
	assert_non_null(strstr(d2->rulesets[1].rules[0].id, "/dnsForwardingRulesets/rs-c/"));
	assert_non_null(strstr(d2->rulesets[1].rules[0].origin.path, "[rs-c]"));
	deployment_destroy(&d2);
	deployment_destroy(&d1);
}

/* A zone put with a new SOA keeps its record sets (child resources) yet
 * takes the new SOA (Z-2); the record sets are checked against the zone. */
static void test_change_zone_put_takes_new_soa(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_ZONE, NULL,
			     "{\"name\": \"z2.example\", \"soa\": {\"email\": "
			     "\"dns.z2.example.\", \"refreshTime\": 1800}}");
	assert_int_equal(after(d1, doc, &d2, NULL), 0);
	assert_int_equal(d2->zones[1].n_record_sets, 1);
	assert_int_equal(d2->zones[1].soa.refresh, 1800);
	assert_string_equal(d2->zones[1].soa.email, "dns.z2.example.");
	assert_int_equal(d1->zones[1].soa.refresh, 3600);
	deployment_destroy(&d2);
	deployment_destroy(&d1);
}

/* Deleting a VNet that links the change left alone point at is refused: the
 * links of every ruleset and zone are resolved again. */
static void test_change_vnet_delete_refused_for_untouched_links(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_VNET, NULL, NULL);
	assert_int_equal(model_doc_remove(doc, model_kind(MODEL_KIND_VNET), NULL, "spoke2", NULL),
			 0);
	pr_diag_t *diag = pr_diag_new();
	assert_int_not_equal(after(d1, doc, &d2, diag), 0);
	assert_true(has_finding(diag, NULL, "spoke2"));
	pr_diag_destroy(&diag);
	deployment_destroy(&d1);
}

/* F-3 in the ruleset a change touches: a rule for a domain an untouched rule
 * of the same ruleset already forwards is refused. */
static void test_change_duplicate_domain_in_touched_ruleset(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULE, "rs-b",
			     "{\"name\": \"b3\", \"domainName\": \"B1.corp.\", "
			     "\"targetDnsServers\": [{\"ipAddress\": \"192.168.0.9\"}]}");
	pr_diag_t *diag = pr_diag_new();
	assert_int_not_equal(after(d1, doc, &d2, diag), 0);
	assert_true(has_finding(diag, "F-3", "b1.corp."));
	pr_diag_destroy(&diag);
	deployment_destroy(&d1);
}

/* O-3: a ruleset put in another region keeps its links (child resources),
 * which are checked against its new region. */
static void test_change_ruleset_put_rechecks_its_links(void **state)
{
	(void)state;
	deployment_t *d1 = base(), *d2 = NULL;
	json_t *doc = edited(d1, MODEL_KIND_RULESET, NULL,
			     "{\"name\": \"rs-b\", \"location\": \"westus\", "
			     "\"dnsResolverOutboundEndpoints\": [\"hub-resolver/out\"]}");
	pr_diag_t *diag = pr_diag_new();
	assert_int_not_equal(after(d1, doc, &d2, diag), 0);
	assert_true(has_finding(diag, "O-3", "virtual network 'spoke2' is in 'eastus'"));
	pr_diag_destroy(&diag);
	deployment_destroy(&d1);
}

/* Many changes in a row: the arenas a deployment holds stay bounded. */
static void test_change_chain_is_bounded(void **state)
{
	(void)state;
	deployment_t *d = base();
	size_t most = 0, cuts = 0;
	for (int i = 0; i < 80; i++) {
		char rule[160];
		snprintf(rule, sizeof(rule),
			 "{\"name\": \"a1\", \"domainName\": \"a1.corp.\", \"targetDnsServers\": "
			 "[{\"ipAddress\": \"192.168.1.%d\"}]}",
			 i + 1);
		deployment_t *next = NULL;
		assert_int_equal(after(d, edited(d, MODEL_KIND_RULE, "rs-a", rule), &next, NULL), 0);
		cuts += next->n_kept < d->n_kept;
		deployment_destroy(&d);
		d = next;
		most = d->n_kept > most ? d->n_kept : most;
	}
	assert_true(most >= 2); /* parts were shared */
	assert_true(cuts > 0);  /* and the chain was let go */
	assert_int_equal(d->rulesets[0].rules[0].targets[0].address, 0xc0a80150u);
	deployment_destroy(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_shares_untouched_parts),
		cmocka_unit_test(test_change_limits_recheck_untouched),
		cmocka_unit_test(test_change_subscription_renames_ids),
		cmocka_unit_test(test_change_renamed_ruleset_rules_are_its_own),
		cmocka_unit_test(test_change_zone_put_takes_new_soa),
		cmocka_unit_test(test_change_vnet_delete_refused_for_untouched_links),
		cmocka_unit_test(test_change_duplicate_domain_in_touched_ruleset),
		cmocka_unit_test(test_change_ruleset_put_rechecks_its_links),
		cmocka_unit_test(test_change_chain_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
