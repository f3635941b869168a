/* Unit tests of policies/: DNS security policy matching and Block answers
 * (S-1, S-2, S-3, Q-1, W-5). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

/* Strings the library allocates go back to libc, not to cmocka's free. */
static void libc_free(void *p)
{
	free(p);
}

/* cmocka's order: these three first, and cmocka.h after every libc header
 * (under UNIT_TESTING it redefines malloc and free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "base/base.h"
#include "dns/dns.h"
#include "model/model.h"
#include "policies/policies.h"

/* Two VNets in one region; the policies of each test follow. */
static const char BASE[] = "location: eastus\n"
			   "virtualNetworks:\n"
			   "  - {name: hub, addressPrefixes: [10.10.0.0/16],\n"
			   "     subnets: [{name: default, addressPrefix: 10.10.0.0/24}]}\n"
			   "  - {name: spoke, addressPrefixes: [10.20.0.0/16],\n"
			   "     subnets: [{name: default, addressPrefix: 10.20.0.0/24}]}\n";

typedef struct fixture {
	deployment_t *d;
	policy_set_t *s;
} fixture_t;

/* Load BASE + tail and compile its policies; fails the test on any finding. */
static void load(fixture_t *f, const char *tail)
{
	char *text = pr_asprintf("%s%s", BASE, tail);
	pr_diag_t *diag = pr_diag_new();
	int rc = deployment_load_text(text, strlen(text), "test.yaml", &f->d, diag);
	if (rc != 0) {
		char *msg = pr_diag_format(diag);
		fail_msg("deployment rejected: %s", msg);
	}
	f->s = NULL;
	rc = policy_set_build(f->d, &f->s, diag);
	if (rc != 0) {
		char *msg = pr_diag_format(diag);
		fail_msg("policy_set_build: %s: %s", pr_strerror(rc), msg);
	}
	assert_non_null(f->s);
	pr_diag_destroy(&diag);
	libc_free(text);
}

static void unload(fixture_t *f)
{
	policy_set_destroy(&f->s);
	assert_null(f->s);
	deployment_destroy(&f->d);
}

static policy_verdict_t eval(const fixture_t *f, int policy, const char *name)
{
	policy_verdict_t v;
	memset(&v, 0xa5, sizeof(v));
	int rc = policy_evaluate_text(f->s, policy, name, &v);
	if (rc != 0)
		fail_msg("%s: %s", name, pr_strerror(rc));
	return v;
}

static void assert_verdict(const fixture_t *f, int policy, const char *name,
			   policy_action_t action, const char *rule, const char *domain)
{
	policy_verdict_t v = eval(f, policy, name);
	if (v.action != action)
		fail_msg("%s: expected %s (%s), got %s (%s)", name, policy_action_name(action),
			 rule ? rule : "-", policy_action_name(v.action), v.rule ? v.rule : "-");
	if (action == POLICY_NONE) {
		assert_null(v.rule);
		assert_null(v.domain);
		assert_null(v.list);
		assert_int_equal(v.rule_index, -1);
		return;
	}
	assert_string_equal(v.rule, rule);
	assert_string_equal(v.domain, domain);
}

/* S-3: Block answers with the CNAME by default; a name under a listed domain
 * matches, its parent does not. */
static void test_s3_block_cname(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [malware.example., phish.example.net.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block-bad, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [bad]}\n"
		 "    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n");
	policy_verdict_t v = eval(&f, 0, "malware.example.");
	assert_int_equal(v.action, POLICY_BLOCK);
	assert_int_equal(v.block_response, MODEL_BLOCK_CNAME);
	assert_string_equal(v.rule, "block-bad");
	assert_int_equal(v.priority, 100);
	assert_int_equal(v.rule_index, 0);
	assert_string_equal(v.domain, "malware.example.");
	assert_int_equal(v.domain_labels, 2);
	assert_string_equal(v.list, "bad");
	assert_int_equal(v.list_index, 0);
	assert_verdict(&f, 0, "a.b.malware.example", POLICY_BLOCK, "block-bad", "malware.example.");
	assert_verdict(&f, 0, "www.phish.example.net", POLICY_BLOCK, "block-bad",
		       "phish.example.net.");
	assert_verdict(&f, 0, "example.", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "example.net.", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, ".", POLICY_NONE, NULL, NULL);
	assert_int_equal(policy_set_count(f.s), 1);
	assert_string_equal(policy_set_name(f.s, 0), "p");
	assert_null(policy_set_name(f.s, 1));
	assert_int_equal(policy_set_domain_count(f.s, 0), 2);
	unload(&f);
}

/* S-4: a policy in Audit mode turns its Block rules into WOULD_BLOCK (the rule
 * and domain still named); Allow and Alert are unchanged; Enforce, the
 * default, still blocks; an unknown mode is refused with the rule id. */
static void test_s4_audit_mode(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: ok, domains: [contoso.com.]}\n"
		 "  - {name: all, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: audit\n"
		 "    mode: Audit\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: allow-ok, priority: 100, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [ok]}\n"
		 "      - {name: block-rest, priority: 65000, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [all]}\n"
		 "  - name: enforce\n"
		 "    mode: Enforce\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block-rest, priority: 65000, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [all]}\n");
	assert_verdict(&f, 0, "www.contoso.com", POLICY_ALLOW, "allow-ok", "contoso.com.");
	assert_verdict(&f, 0, "evil.example", POLICY_WOULD_BLOCK, "block-rest", ".");
	assert_verdict(&f, 1, "evil.example", POLICY_BLOCK, "block-rest", ".");
	assert_string_equal(policy_action_name(POLICY_WOULD_BLOCK), "would-block");
	unload(&f);

	const char *bad = "location: eastus\n"
			  "dnsResolverPolicies:\n"
			  "  - {name: p, mode: Permissive}\n";
	deployment_t *d = NULL;
	pr_diag_t *diag = pr_diag_new();
	assert_int_not_equal(deployment_load_text(bad, strlen(bad), "t.yaml", &d, diag), 0);
	assert_null(d);
	char *msg = pr_diag_format(diag);
	assert_non_null(strstr(msg, "S-4"));
	assert_non_null(strstr(msg, "Audit"));
	libc_free(msg);
	pr_diag_destroy(&diag);
}

/* S-3: blockResponseCode SERVFAIL. */
static void test_s3_block_servfail(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [malware.example.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: sf, priority: 300,\n"
		 "         action: {actionType: Block, blockResponseCode: SERVFAIL},\n"
		 "         dnsResolverDomainLists: [bad]}\n");
	policy_verdict_t v = eval(&f, 0, "x.malware.example.");
	assert_int_equal(v.action, POLICY_BLOCK);
	assert_int_equal(v.block_response, MODEL_BLOCK_SERVFAIL);
	assert_int_equal(v.priority, 300);
	unload(&f);
}

/* S-3: the lowest priority number decides — Allow 100 beats Block 200 for the
 * same name, and Block 100 beats Allow 200. */
static void test_s3_allow_100_beats_block_200(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: a, domains: [contoso.com.]}\n"
		 "  - {name: b, domains: [contoso.com., fabrikam.com.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 /* written in the opposite order: priority, not position, decides */
		 "      - {name: block, priority: 200, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [b]}\n"
		 "      - {name: allow, priority: 100, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [a]}\n");
	policy_verdict_t v = eval(&f, 0, "www.contoso.com");
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_string_equal(v.rule, "allow");
	assert_int_equal(v.rule_index, 1);
	assert_string_equal(v.list, "a");
	assert_verdict(&f, 0, "www.fabrikam.com", POLICY_BLOCK, "block", "fabrikam.com.");
	unload(&f);
}

static void test_s3_block_100_beats_allow_200(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: a, domains: [contoso.com.]}\n"
		 "  - {name: b, domains: [contoso.com.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: allow, priority: 200, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [a]}\n"
		 "      - {name: block, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [b]}\n");
	assert_verdict(&f, 0, "contoso.com", POLICY_BLOCK, "block", "contoso.com.");
	assert_verdict(&f, 0, "deep.www.contoso.com", POLICY_BLOCK, "block", "contoso.com.");
	unload(&f);
}

/* S-3: a less specific domain with a lower number beats a more specific one
 * with a higher number (priority, not the longest match, decides), and on a
 * tie inside one rule the longer domain is the one reported. */
static void test_s3_priority_not_longest_match(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: wide, domains: [contoso.com.]}\n"
		 "  - {name: narrow, domains: [app.contoso.com.]}\n"
		 "  - {name: both, domains: [fabrikam.com., web.fabrikam.com.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block-wide, priority: 300, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [wide]}\n"
		 "      - {name: allow-narrow, priority: 400, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [narrow]}\n"
		 "      - {name: alert-both, priority: 500, action: {actionType: Alert},\n"
		 "         dnsResolverDomainLists: [both]}\n");
	assert_verdict(&f, 0, "x.app.contoso.com", POLICY_BLOCK, "block-wide", "contoso.com.");
	policy_verdict_t v = eval(&f, 0, "a.web.fabrikam.com");
	assert_int_equal(v.action, POLICY_ALERT);
	assert_string_equal(v.domain, "web.fabrikam.com.");
	assert_int_equal(v.domain_labels, 3);
	assert_int_equal(v.block_response, MODEL_BLOCK_CNAME);
	assert_verdict(&f, 0, "fabrikam.com", POLICY_ALERT, "alert-both", "fabrikam.com.");
	unload(&f);
}

/* S-1, S-3: "." matches every name — the zero-trust pattern: allow and alert
 * lists at low numbers, Block "." at 65000. */
static void test_s3_zero_trust_dot_matches_everything(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: needed, domains: [contoso.com., windows.net.]}\n"
		 "  - {name: ads, domains: [tracker.example.]}\n"
		 "  - {name: everything, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: zero-trust\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: allow-needed, priority: 100, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [needed]}\n"
		 "      - {name: alert-ads, priority: 200, action: {actionType: Alert},\n"
		 "         dnsResolverDomainLists: [ads]}\n"
		 "      - {name: block-rest, priority: 65000, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [everything]}\n"
		 "    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n");
	assert_verdict(&f, 0, "www.contoso.com", POLICY_ALLOW, "allow-needed", "contoso.com.");
	assert_verdict(&f, 0, "x.blob.core.windows.net", POLICY_ALLOW, "allow-needed",
		       "windows.net.");
	assert_verdict(&f, 0, "pixel.tracker.example", POLICY_ALERT, "alert-ads",
		       "tracker.example.");
	assert_verdict(&f, 0, "evil.com", POLICY_BLOCK, "block-rest", ".");
	assert_verdict(&f, 0, "com", POLICY_BLOCK, "block-rest", ".");
	assert_verdict(&f, 0, ".", POLICY_BLOCK, "block-rest", ".");
	policy_verdict_t v = eval(&f, 0, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.");
	assert_int_equal(v.action, POLICY_BLOCK);
	assert_int_equal(v.domain_labels, 0);
	assert_int_equal(v.priority, 65000);
	assert_string_equal(v.list, "everything");
	unload(&f);
}

/* S-3: matching is by whole labels. */
static void test_s3_whole_labels(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [contoso.com.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [bad]}\n");
	assert_verdict(&f, 0, "contoso.com", POLICY_BLOCK, "block", "contoso.com.");
	assert_verdict(&f, 0, "notcontoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "www.notcontoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "contoso.com.evil", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "contoso.co", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "com", POLICY_NONE, NULL, NULL);
	/* A label holding a dot (\.) is one label, not two. */
	assert_verdict(&f, 0, "x\\.y.contoso.com", POLICY_BLOCK, "block", "contoso.com.");
	assert_verdict(&f, 0, "www.x\\.contoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "contoso\\.com", POLICY_NONE, NULL, NULL);
	unload(&f);
}

/* W-5: names compare case-insensitively, list and query alike. */
static void test_w5_case_insensitive(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [Malware.EXAMPLE.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [bad]}\n");
	assert_verdict(&f, 0, "WWW.MALWARE.EXAMPLE", POLICY_BLOCK, "block", "malware.example.");
	assert_verdict(&f, 0, "wWw.mAlWaRe.ExAmPlE.", POLICY_BLOCK, "block", "malware.example.");
	/* The wire form as received, case kept. */
	static const uint8_t wire[] = "\x03WwW\x07MALWARE\x07" "Example";
	policy_verdict_t v;
	assert_int_equal(policy_evaluate(f.s, 0, wire, &v), 0);
	assert_int_equal(v.action, POLICY_BLOCK);
	unload(&f);
}

/* S-1: a disabled rule takes no part; the next one decides. */
static void test_s1_disabled_rules_ignored(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: l1, domains: [contoso.com.]}\n"
		 "  - {name: l2, domains: [fabrikam.com.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: off, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [l1, l2], dnsSecurityRuleState: Disabled}\n"
		 "      - {name: on, priority: 200, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [l1], dnsSecurityRuleState: Enabled}\n");
	assert_verdict(&f, 0, "www.contoso.com", POLICY_ALLOW, "on", "contoso.com.");
	assert_verdict(&f, 0, "www.fabrikam.com", POLICY_NONE, NULL, NULL);
	assert_int_equal(policy_set_domain_count(f.s, 0), 1);
	unload(&f);
}

/* S-2: two policies linked to two VNets decide independently; a VNet without
 * a policy (index -1) gets NONE. */
static void test_s2_two_policies_two_vnets(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: social, domains: [social.example.]}\n"
		 "  - {name: everything, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: hub-policy\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block-social, priority: 1000, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [social]}\n"
		 "    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
		 "  - name: spoke-policy\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: allow-social, priority: 100, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [social]}\n"
		 "      - {name: alert-all, priority: 500, action: {actionType: Alert},\n"
		 "         dnsResolverDomainLists: [everything]}\n"
		 "    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]\n");
	int hub = deployment_policy_for_vnet(f.d, deployment_find_vnet(f.d, "hub"));
	int spoke = deployment_policy_for_vnet(f.d, deployment_find_vnet(f.d, "spoke"));
	assert_true(hub >= 0 && spoke >= 0 && hub != spoke);
	assert_string_equal(policy_set_name(f.s, (size_t)hub), "hub-policy");
	assert_verdict(&f, hub, "chat.social.example", POLICY_BLOCK, "block-social",
		       "social.example.");
	assert_verdict(&f, spoke, "chat.social.example", POLICY_ALLOW, "allow-social",
		       "social.example.");
	assert_verdict(&f, hub, "www.contoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, spoke, "www.contoso.com", POLICY_ALERT, "alert-all", ".");
	assert_verdict(&f, -1, "chat.social.example", POLICY_NONE, NULL, NULL);
	unload(&f);
}

/* A policy with no rules, and one whose rules are all disabled, match nothing. */
static void test_s1_empty_policy(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: everything, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - {name: empty}\n"
		 "  - name: off\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: r, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [everything],\n"
		 "         dnsSecurityRuleState: Disabled}\n");
	assert_verdict(&f, 0, "contoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 1, "contoso.com", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 1, ".", POLICY_NONE, NULL, NULL);
	unload(&f);
}

/* Q-1 input is untrusted: a malformed wire name is PR_EPARSE, never a crash,
 * and the verdict is left untouched. */
static void test_w3_malformed_wire(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: everything, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: r, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [everything]}\n");
	policy_verdict_t v, before;
	memset(&v, 0x5a, sizeof(v));
	before = v;
	static const uint8_t pointer[] = {0xc0, 0x0c};
	assert_int_equal(policy_evaluate(f.s, 0, pointer, &v), PR_EPARSE);
	static const uint8_t too_long_label[] = {64, 'a'};
	assert_int_equal(policy_evaluate(f.s, 0, too_long_label, &v), PR_EPARSE);
	/* 128 one-octet labels: 256 octets with the root, one past RFC 1035. */
	uint8_t long_name[300];
	for (int i = 0; i < 128; i++) {
		long_name[2 * i] = 1;
		long_name[2 * i + 1] = 'a';
	}
	long_name[256] = 0;
	assert_int_equal(policy_evaluate(f.s, 0, long_name, &v), PR_EPARSE);
	assert_memory_equal(&v, &before, sizeof(v));
	/* 127 labels (255 octets) is the longest legal name and evaluates. */
	long_name[254] = 0;
	assert_int_equal(policy_evaluate(f.s, 0, long_name, &v), 0);
	assert_int_equal(v.action, POLICY_BLOCK);
	assert_int_equal(policy_evaluate_text(f.s, 0, "a..b", &v), PR_EPARSE);
	unload(&f);
}

/* Lists of 100,000 domains (MODEL_MAX_DOMAINS_PER_LIST) build and match. */
#define BIG MODEL_MAX_DOMAINS_PER_LIST

static void test_s1_hundred_thousand_domains(void **state)
{
	(void)state;
	pr_buf_t b = {0};
	pr_buf_printf(&b, "dnsResolverDomainLists:\n  - name: big\n    domains:\n");
	for (int i = 0; i < BIG; i++)
		pr_buf_printf(&b, "      - d%d.Zone%d.example.\n", i, i % 97);
	pr_buf_printf(&b, "  - {name: allow, domains: [d77.zone77.example.]}\n"
			   "dnsResolverPolicies:\n"
			   "  - name: p\n"
			   "    dnsSecurityRules:\n"
			   "      - {name: allow, priority: 100, action: {actionType: Allow},\n"
			   "         dnsResolverDomainLists: [allow]}\n"
			   "      - {name: block-big, priority: 200, action: {actionType: Block},\n"
			   "         dnsResolverDomainLists: [big]}\n");
	char *tail = pr_buf_take(&b);
	fixture_t f;
	load(&f, tail);
	libc_free(tail);
	assert_int_equal(policy_set_domain_count(f.s, 0), BIG);
	for (int i = 0; i < BIG; i += 7) {
		char name[64], domain[64];
		snprintf(name, sizeof(name), "www.D%d.zone%d.EXAMPLE", i, i % 97);
		snprintf(domain, sizeof(domain), "d%d.zone%d.example.", i, i % 97);
		policy_verdict_t v = eval(&f, 0, name);
		if (i == 77) {
			assert_int_equal(v.action, POLICY_ALLOW);
			continue;
		}
		if (v.action != POLICY_BLOCK)
			fail_msg("%s: expected block, got %s", name, policy_action_name(v.action));
		assert_string_equal(v.domain, domain);
		/* The right label under the wrong zone, and the zone alone, are out. */
		snprintf(name, sizeof(name), "d%d.zone%d.example", i, (i + 1) % 97);
		assert_int_equal(eval(&f, 0, name).action, POLICY_NONE);
	}
	assert_verdict(&f, 0, "zone5.example", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "d100000.zone90.example", POLICY_NONE, NULL, NULL);
	assert_verdict(&f, 0, "d99999.zone89.example", POLICY_BLOCK, "block-big",
		       "d99999.zone89.example.");
	unload(&f);
}

/* One list named by many rules of many policies is compiled once and
 * decides per policy. */
static void test_s3_shared_list(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: shared, domains: [contoso.com., fabrikam.com.]}\n"
		 "  - {name: unused, domains: [unused.example.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p1\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: a, priority: 100, action: {actionType: Alert},\n"
		 "         dnsResolverDomainLists: [shared, shared]}\n"
		 "  - name: p2\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: b, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [shared]}\n");
	assert_verdict(&f, 0, "fabrikam.com", POLICY_ALERT, "a", "fabrikam.com.");
	assert_verdict(&f, 1, "fabrikam.com", POLICY_BLOCK, "b", "fabrikam.com.");
	assert_int_equal(policy_set_domain_count(f.s, 0), 2);
	assert_verdict(&f, 0, "unused.example", POLICY_NONE, NULL, NULL);
	unload(&f);
}

/* policy_evaluate() is lock-free and shared: threads evaluating one set at
 * once all see the same verdicts. */
typedef struct thread_arg {
	const policy_set_t *s;
	int errors;
} thread_arg_t;

static void *evaluate_many(void *p)
{
	thread_arg_t *a = p;
	for (int i = 0; i < 20000; i++) {
		policy_verdict_t v;
		static const char *const names[] = {"www.contoso.com", "evil.com", "x."};
		const char *name = names[i % 3];
		if (policy_evaluate_text(a->s, 0, name, &v) != 0)
			a->errors++;
		else if (v.action != (i % 3 == 0 ? POLICY_ALLOW : POLICY_BLOCK))
			a->errors++;
	}
	return NULL;
}

static void test_threads_share_a_set(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: needed, domains: [contoso.com.]}\n"
		 "  - {name: everything, domains: [\".\"]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: allow, priority: 100, action: {actionType: Allow},\n"
		 "         dnsResolverDomainLists: [needed]}\n"
		 "      - {name: block, priority: 65000, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [everything]}\n");
	pthread_t t[4];
	thread_arg_t args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thread_arg_t){f.s, 0};
		assert_int_equal(pthread_create(&t[i], NULL, evaluate_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
	unload(&f);
}

/* examples/zero-trust.yaml decides as its header comment says (S-2, S-3,
 * the CNAME target of cdn.contoso.com is checked on its own). */
static void test_example_zero_trust(void **state)
{
	(void)state;
	fixture_t f;
	pr_diag_t *diag = pr_diag_new();
	int rc = deployment_load_file(PRIVRES_SOURCE_DIR "/examples/zero-trust.yaml", &f.d, diag);
	if (rc != 0) {
		char *msg = pr_diag_format(diag);
		fail_msg("examples/zero-trust.yaml: %s", msg);
	}
	f.s = NULL;
	assert_int_equal(policy_set_build(f.d, &f.s, diag), 0);
	pr_diag_destroy(&diag);
	int spoke = deployment_policy_for_vnet(f.d, deployment_find_vnet(f.d, "spoke"));
	int hub = deployment_policy_for_vnet(f.d, deployment_find_vnet(f.d, "hub"));
	assert_true(spoke >= 0);
	assert_int_equal(hub, -1);
	assert_string_equal(policy_set_name(f.s, (size_t)spoke), "zero-trust");
	assert_verdict(&f, spoke, "web.azure.contoso.com", POLICY_ALLOW, "allow-needed",
		       "azure.contoso.com.");
	assert_verdict(&f, spoke, "www.contoso.com", POLICY_ALLOW, "allow-needed", "contoso.com.");
	assert_verdict(&f, spoke, "contosostorage.blob.core.windows.net", POLICY_ALLOW,
		       "allow-needed", "windows.net.");
	assert_verdict(&f, spoke, "login.microsoft.com", POLICY_ALLOW, "allow-needed",
		       "microsoft.com.");
	assert_verdict(&f, spoke, "pixel.ads.example", POLICY_ALERT, "alert-ads", "ads.example.");
	assert_verdict(&f, spoke, "www.example.com", POLICY_BLOCK, "block-rest", ".");
	assert_verdict(&f, spoke, "anything.else.org", POLICY_BLOCK, "block-rest", ".");
	assert_verdict(&f, spoke, "cdn.contoso.com", POLICY_ALLOW, "allow-needed", "contoso.com.");
	assert_verdict(&f, spoke, "contoso.azureedge.net", POLICY_BLOCK, "block-rest", ".");
	assert_verdict(&f, hub, "www.example.com", POLICY_NONE, NULL, NULL);
	unload(&f);
}

/* The deployment is validated by model/, but the compiler does not trust it
 * blindly: a domain that does not parse is a finding (S-1) and a priority the
 * slots cannot hold is PR_ELIMIT; nothing is built and *out is untouched. */
static void test_s1_unvalidated_input_reported(void **state)
{
	(void)state;
	const char *domains[] = {"good.example.", "bad..example."};
	model_domain_list_t list = {.origin = {NULL, "dnsResolverDomainLists[l]"},
				    .name = "l", .domains = domains, .n_domains = 2};
	int lists[] = {0};
	model_security_rule_t rule = {.name = "r", .priority = 100,
				      .action = MODEL_ACTION_BLOCK, .enabled = true,
				      .lists = lists, .n_lists = 1};
	model_policy_t pol = {.origin = {NULL, "dnsResolverPolicies[p]"}, .name = "p",
			      .rules = &rule, .n_rules = 1};
	deployment_t d = {.domain_lists = &list, .n_domain_lists = 1, .policies = &pol,
			  .n_policies = 1};
	pr_diag_t *diag = pr_diag_new();
	policy_set_t *s = (policy_set_t *)&d; /* a sentinel: must stay as it is */
	assert_int_equal(policy_set_build(&d, &s, diag), PR_ECONFIG);
	assert_ptr_equal(s, &d);
	assert_int_equal(pr_diag_count(diag), 1);
	const pr_diag_entry_t *e = pr_diag_get(diag, 0);
	assert_string_equal(e->rule, "S-1");
	assert_string_equal(e->path, "dnsResolverDomainLists[l]");
	assert_non_null(strstr(e->message, "bad..example."));

	pr_diag_clear(diag);
	domains[1] = "also-good.example.";
	rule.priority = 70000;
	assert_int_equal(policy_set_build(&d, &s, diag), PR_ELIMIT);
	assert_ptr_equal(s, &d);
	assert_int_equal(pr_diag_first_code(diag), PR_ELIMIT);

	rule.priority = 65000;
	s = NULL;
	assert_int_equal(policy_set_build(&d, &s, NULL), 0);
	policy_verdict_t v;
	assert_int_equal(policy_evaluate_text(s, 0, "x.also-good.example", &v), 0);
	assert_int_equal(v.action, POLICY_BLOCK);
	assert_int_equal(v.priority, 65000);
	policy_set_destroy(&s);
	policy_set_destroy(&s); /* NULL is accepted */
	pr_diag_destroy(&diag);
}

/* ---- Block answers ---------------------------------------------------------- */

/* A query for name/type as a client sends it (case kept), optionally with
 * EDNS; returns its length. */
static size_t make_query(uint8_t *buf, size_t cap, const char *name, uint16_t type, bool edns)
{
	knot_pkt_t *pkt = knot_pkt_new(NULL, KNOT_WIRE_MAX_PKTSIZE, NULL);
	assert_non_null(pkt);
	knot_wire_set_id(pkt->wire, 0x4242);
	knot_wire_set_rd(pkt->wire);
	knot_dname_t *owner = knot_dname_from_str_alloc(name);
	assert_non_null(owner);
	assert_int_equal(knot_pkt_put_question(pkt, owner, KNOT_CLASS_IN, type), 0);
	if (edns) {
		knot_rrset_t opt;
		assert_int_equal(knot_edns_init(&opt, 1232, 0, 0, NULL), 0);
		assert_int_equal(knot_pkt_begin(pkt, KNOT_ADDITIONAL), 0);
		assert_int_equal(knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &opt, 0), 0);
		knot_rrset_clear(&opt, NULL);
	}
	size_t len = pkt->size;
	assert_true(len <= cap);
	memcpy(buf, pkt->wire, len);
	knot_dname_free(owner, NULL);
	knot_pkt_free(pkt);
	return len;
}

/* The owner of answer record i as written on the wire, case kept (libknot's
 * parser lowercases the owners it hands back, W-5 is about the octets). */
static void wire_owner_text(const knot_pkt_t *pkt, uint16_t i, char *out, size_t outlen)
{
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	uint8_t owner[KNOT_DNAME_MAXLEN];
	assert_true(knot_dname_unpack(owner, pkt->wire + knot_pkt_rr_offset(an, i),
				      sizeof(owner), pkt->wire) > 0);
	assert_non_null(knot_dname_to_str(out, owner, outlen));
}

/* S-3, W-5: the Block answer parsed back with libknot: NOERROR, one CNAME
 * whose owner keeps the question's case, target blockpolicy.azuredns.invalid.,
 * TTL POLICY_BLOCK_TTL. */
static void test_s3_block_answer_cname_parsed(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [malware.example.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block, priority: 100, action: {actionType: Block},\n"
		 "         dnsResolverDomainLists: [bad]}\n");
	for (int edns = 0; edns <= 1; edns++) {
		uint8_t qbuf[512], abuf[DNS_UDP_PAYLOAD_OURS];
		size_t qlen = make_query(qbuf, sizeof(qbuf), "WwW.MalWare.Example.",
					 KNOT_RRTYPE_AAAA, edns);
		dns_query_t q;
		dns_query_parse(qbuf, qlen, &q);
		assert_int_equal(q.verdict, DNS_QUERY_OK);
		policy_verdict_t v;
		assert_int_equal(policy_evaluate(f.s, 0, q.qname, &v), 0);
		assert_int_equal(v.action, POLICY_BLOCK);
		size_t alen = policy_block_answer(abuf, sizeof(abuf), &q, false, &v);
		assert_true(alen > 12);

		knot_pkt_t *pkt = knot_pkt_new(abuf, alen, NULL);
		assert_non_null(pkt);
		assert_int_equal(knot_pkt_parse(pkt, 0), 0);
		assert_int_equal(knot_wire_get_id(pkt->wire), 0x4242);
		assert_true(knot_wire_get_qr(pkt->wire));
		assert_true(knot_wire_get_rd(pkt->wire));
		assert_int_equal(knot_pkt_ext_rcode(pkt), KNOT_RCODE_NOERROR);
		assert_int_equal(knot_pkt_qtype(pkt), KNOT_RRTYPE_AAAA);
		const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
		assert_int_equal(an->count, 1);
		const knot_rrset_t *rr = knot_pkt_rr(an, 0);
		assert_int_equal(rr->type, KNOT_RRTYPE_CNAME);
		assert_int_equal(rr->rclass, KNOT_CLASS_IN);
		assert_int_equal(rr->ttl, POLICY_BLOCK_TTL);
		char owner[DNS_NAME_TEXT_MAX], target[DNS_NAME_TEXT_MAX];
		assert_non_null(knot_dname_to_str(owner, rr->owner, sizeof(owner)));
		assert_string_equal(owner, "www.malware.example.");
		wire_owner_text(pkt, 0, owner, sizeof(owner));
		assert_string_equal(owner, "WwW.MalWare.Example.");
		assert_non_null(knot_dname_to_str(target, knot_cname_name(rr->rrs.rdata),
						  sizeof(target)));
		assert_string_equal(target, "blockpolicy.azuredns.invalid.");
		assert_int_equal(knot_pkt_section(pkt, KNOT_AUTHORITY)->count, 0);
		assert_int_equal(pkt->opt_rr != NULL, edns);
		knot_pkt_free(pkt);
	}
	char text[DNS_NAME_TEXT_MAX];
	assert_true(dns_name_to_text(policy_block_cname_target(), text, sizeof(text)) > 0);
	assert_string_equal(text, "blockpolicy.azuredns.invalid.");
	unload(&f);
}

/* S-3: blockResponseCode SERVFAIL gives SERVFAIL with the question and no
 * records. */
static void test_s3_block_answer_servfail_parsed(void **state)
{
	(void)state;
	fixture_t f;
	load(&f, "dnsResolverDomainLists:\n"
		 "  - {name: bad, domains: [malware.example.]}\n"
		 "dnsResolverPolicies:\n"
		 "  - name: p\n"
		 "    dnsSecurityRules:\n"
		 "      - {name: block, priority: 100,\n"
		 "         action: {actionType: Block, blockResponseCode: SERVFAIL},\n"
		 "         dnsResolverDomainLists: [bad]}\n");
	uint8_t qbuf[512], abuf[512];
	size_t qlen = make_query(qbuf, sizeof(qbuf), "Malware.Example.", KNOT_RRTYPE_A, false);
	dns_query_t q;
	dns_query_parse(qbuf, qlen, &q);
	policy_verdict_t v;
	assert_int_equal(policy_evaluate(f.s, 0, q.qname, &v), 0);
	size_t alen = policy_block_answer(abuf, sizeof(abuf), &q, true, &v);
	assert_true(alen > 12);
	knot_pkt_t *pkt = knot_pkt_new(abuf, alen, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), 0);
	assert_int_equal(knot_wire_get_rcode(pkt->wire), KNOT_RCODE_SERVFAIL);
	assert_int_equal(knot_wire_get_qdcount(pkt->wire), 1);
	assert_int_equal(knot_wire_get_ancount(pkt->wire), 0);
	knot_pkt_free(pkt);
	/* A buffer too small for the header and question: nothing to send. */
	assert_int_equal(policy_block_answer(abuf, 8, &q, false, &v), 0);
	unload(&f);
}

/* S-3, Q-5: a name met along a CNAME chain is blocked with its own owner, in
 * an answer that already holds the chain's first record. */
static void test_q5_block_cname_mid_chain(void **state)
{
	(void)state;
	uint8_t qbuf[512], abuf[512];
	size_t qlen = make_query(qbuf, sizeof(qbuf), "App.Contoso.com.", KNOT_RRTYPE_A, false);
	dns_query_t q;
	dns_query_parse(qbuf, qlen, &q);
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, abuf, sizeof(abuf), &q, false), 0);
	/* app.contoso.com. CNAME cdn.tracker.example. */
	uint8_t chained[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text("cdn.tracker.example.", chained, NULL, NULL), 0);
	knot_rrset_t *cn = knot_rrset_new(q.qname_lower, KNOT_RRTYPE_CNAME, KNOT_CLASS_IN, 300,
					  NULL);
	assert_int_equal(knot_rrset_add_rdata(cn, chained, (uint16_t)knot_dname_size(chained),
					      NULL),
			 0);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, cn, NULL), 0);
	knot_rrset_free(cn, NULL);
	assert_int_equal(policy_block_add_cname(&a, chained), 0);
	size_t alen = dns_answer_finish(&a);

	knot_pkt_t *pkt = knot_pkt_new(abuf, alen, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), 0);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	assert_int_equal(an->count, 2);
	const knot_rrset_t *rr = knot_pkt_rr(an, 1);
	char owner[DNS_NAME_TEXT_MAX], target[DNS_NAME_TEXT_MAX];
	wire_owner_text(pkt, 1, owner, sizeof(owner));
	knot_dname_to_str(target, knot_cname_name(rr->rrs.rdata), sizeof(target));
	assert_string_equal(owner, "cdn.tracker.example.");
	assert_string_equal(target, "blockpolicy.azuredns.invalid.");
	assert_int_equal(rr->ttl, POLICY_BLOCK_TTL);
	wire_owner_text(pkt, 0, owner, sizeof(owner));
	assert_string_equal(owner, "App.Contoso.com.");
	knot_pkt_free(pkt);
}

/* policy_block_answer() is only for BLOCK verdicts (a contract, PR_REQUIRE). */
static void test_block_answer_requires_block(void **state)
{
	(void)state;
	uint8_t qbuf[512], abuf[512];
	size_t qlen = make_query(qbuf, sizeof(qbuf), "contoso.com.", KNOT_RRTYPE_A, false);
	dns_query_t q;
	dns_query_parse(qbuf, qlen, &q);
	policy_verdict_t v = {.action = POLICY_ALLOW};
	expect_assert_failure(policy_block_answer(abuf, sizeof(abuf), &q, false, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_block_cname),
		cmocka_unit_test(test_s3_block_servfail),
		cmocka_unit_test(test_s3_allow_100_beats_block_200),
		cmocka_unit_test(test_s3_block_100_beats_allow_200),
		cmocka_unit_test(test_s3_priority_not_longest_match),
		cmocka_unit_test(test_s3_zero_trust_dot_matches_everything),
		cmocka_unit_test(test_s3_whole_labels),
		cmocka_unit_test(test_w5_case_insensitive),
		cmocka_unit_test(test_s1_disabled_rules_ignored),
		cmocka_unit_test(test_s2_two_policies_two_vnets),
		cmocka_unit_test(test_s1_empty_policy),
		cmocka_unit_test(test_w3_malformed_wire),
		cmocka_unit_test(test_s1_hundred_thousand_domains),
		cmocka_unit_test(test_s3_shared_list),
		cmocka_unit_test(test_threads_share_a_set),
		cmocka_unit_test(test_example_zero_trust),
		cmocka_unit_test(test_s1_unvalidated_input_reported),
		cmocka_unit_test(test_s3_block_answer_cname_parsed),
		cmocka_unit_test(test_s3_block_answer_servfail_parsed),
		cmocka_unit_test(test_q5_block_cname_mid_chain),
		cmocka_unit_test(test_block_answer_requires_block),
		cmocka_unit_test(test_s4_audit_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
