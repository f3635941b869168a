/* Plan: the changes between two deployments (design.md §7 plan/apply), with
 * the immutable properties of I-1, F-7 and N-4 flagged, deletes children
 * first and creates parents first. */
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

static const char *BASE =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-in, addressPrefix: 10.10.0.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: snet-out, addressPrefix: 10.10.1.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"  - name: hub2\n"
	"    addressPrefixes: [10.30.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-in, addressPrefix: 10.30.0.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: snet-out, addressPrefix: 10.30.1.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"  - name: spoke\n"
	"    addressPrefixes: [10.20.0.0/16]\n"
	"    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]\n"
	"dnsResolvers:\n"
	"  - name: hub-resolver\n"
	"    virtualNetwork: @VNET@\n"
	"    inboundEndpoints: [{name: in, subnet: snet-in@IE@}]\n"
	"    outboundEndpoints: [{name: out, subnet: snet-out}]\n"
	"dnsForwardingRulesets:\n"
	"  - name: rs\n"
	"    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
	"    forwardingRules:\n"
	"      - {name: corp, domainName: @DOMAIN@, targetDnsServers: [{ipAddress: @TARGET@}]}\n"
	"@RULES@"
	"    virtualNetworkLinks: [{name: spoke-link, virtualNetwork: spoke}]\n"
	"privateDnsZones:\n"
	"  - name: z.example\n"
	"    recordSets: [{name: www, type: A, records: [10.10.2.5]}]\n"
	"@MORE@";

typedef struct vars {
	const char *vnet, *ie, *domain, *target, *rules, *more;
} vars_t;

static char *subst(const vars_t *v)
{
	const char *keys[] = {"@VNET@", "@IE@", "@DOMAIN@", "@TARGET@", "@RULES@", "@MORE@"};
	const char *vals[] = {v->vnet ? v->vnet : "hub", v->ie ? v->ie : "",
			      v->domain ? v->domain : "corp.example.",
			      v->target ? v->target : "10.100.0.2", v->rules ? v->rules : "",
			      v->more ? v->more : ""};
	pr_buf_t b = {0};
	const char *p = BASE;
	while (*p) {
		size_t k;
		for (k = 0; k < 6; k++)
			if (!strncmp(p, keys[k], strlen(keys[k])))
				break;
		if (k < 6) {
			pr_buf_printf(&b, "%s", vals[k]);
			p += strlen(keys[k]);
		} else {
			pr_buf_append(&b, p++, 1);
		}
	}
	return pr_buf_take(&b);
}

static deployment_t *load(const vars_t *v)
{
	char *text = subst(v);
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	if (deployment_load_text(text, strlen(text), "plan.yaml", &d, diag) != 0) {
		char *t = pr_diag_format(diag);
		fail_msg("%s", t);
	}
	pr_diag_destroy(&diag);
	free(text);
	return d;
}

static json_t *plan_of(const vars_t *a, const vars_t *b)
{
	deployment_t *da = a ? load(a) : NULL, *db = load(b);
	json_t *plan = deployment_plan(da, db);
	deployment_destroy(&da);
	deployment_destroy(&db);
	return plan;
}

static const char *s(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* Index of the change with action and an id ending in suffix, or -1. */
static int find(const json_t *plan, const char *action, const char *suffix)
{
	size_t i;
	json_t *c;
	json_array_foreach(plan, i, c) {
		const char *id = s(c, "id");
		size_t n = strlen(id), m = strlen(suffix);
		if (!strcmp(s(c, "action"), action) && n >= m && !strcmp(id + n - m, suffix))
			return (int)i;
	}
	return -1;
}

static const json_t *prop(const json_t *change, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(change, "changes"), i, p)
		if (!strcmp(s(p, "property"), name))
			return p;
	return NULL;
}

/* From nothing: every resource is created, parents before children, with ARM
 * ids and types of the cloud. */
static void test_plan_from_empty_creates_parents_first(void **state)
{
	(void)state;
	vars_t v = {0};
	json_t *plan = plan_of(NULL, &v);
	size_t i;
	json_t *c;
	json_array_foreach(plan, i, c) assert_string_equal(s(c, "action"), "create");

	int vnet = find(plan, "create", "/virtualNetworks/hub");
	int subnet = find(plan, "create", "/virtualNetworks/hub/subnets/snet-in");
	int res = find(plan, "create", "/dnsResolvers/hub-resolver");
	int ie = find(plan, "create", "/dnsResolvers/hub-resolver/inboundEndpoints/in");
	int rs = find(plan, "create", "/dnsForwardingRulesets/rs");
	int rule = find(plan, "create", "/dnsForwardingRulesets/rs/forwardingRules/corp");
	int link = find(plan, "create", "/dnsForwardingRulesets/rs/virtualNetworkLinks/spoke-link");
	int zone = find(plan, "create", "/privateDnsZones/z.example");
	int rec = find(plan, "create", "/privateDnsZones/z.example/A/www");
	assert_true(vnet >= 0 && subnet > vnet && res > subnet && ie > res && rs > ie &&
		    rule > rs && link > rs);
	assert_true(zone >= 0 && rec > zone);
	c = json_array_get(plan, (size_t)rule);
	assert_string_equal(s(c, "type"),
			    "Microsoft.Network/dnsForwardingRulesets/forwardingRules");
	assert_string_equal(s(c, "name"), "corp");
	assert_non_null(strstr(s(c, "id"), "/subscriptions/"));
	const json_t *p = prop(c, "domainName");
	assert_non_null(p);
	assert_true(json_is_null(json_object_get(p, "from")));
	assert_string_equal(s(p, "to"), "corp.example.");
	assert_string_equal(s(json_array_get(plan, (size_t)rec), "type"),
			    "Microsoft.Network/privateDnsZones/A");
	/* no id is a property change: it derives from the name */
	assert_null(prop(c, "id"));
	json_decref(plan);
}

/* The same deployment twice: no change at all. */
static void test_plan_identical_is_empty(void **state)
{
	(void)state;
	vars_t v = {0};
	json_t *plan = plan_of(&v, &v);
	assert_int_equal(json_array_size(plan), 0);
	json_decref(plan);
}

/* A changed target is an update naming the property with from and to;
 * a new rule is a create; nothing immutable. */
static void test_plan_update_and_create(void **state)
{
	(void)state;
	vars_t a = {0}, b = {.target = "10.100.0.3",
			     .rules = "      - {name: extra, domainName: extra.example., "
				      "targetDnsServers: [{ipAddress: 10.100.0.9}]}\n"};
	json_t *plan = plan_of(&a, &b);
	assert_int_equal(json_array_size(plan), 2);
	int up = find(plan, "update", "/forwardingRules/corp");
	int cr = find(plan, "create", "/forwardingRules/extra");
	assert_true(up >= 0 && cr > up);
	const json_t *c = json_array_get(plan, (size_t)up);
	assert_null(json_object_get(c, "immutable"));
	const json_t *p = prop(c, "targetDnsServers");
	assert_non_null(p);
	assert_string_equal(s(json_array_get(json_object_get(p, "from"), 0), "ipAddress"),
			    "10.100.0.2");
	assert_string_equal(s(json_array_get(json_object_get(p, "to"), 0), "ipAddress"),
			    "10.100.0.3");
	json_decref(plan);
}

/* Deletes take children before parents: the rules and the link of a removed
 * ruleset go before it, the record sets before their zone. */
static void test_plan_deletes_children_first(void **state)
{
	(void)state;
	vars_t a = {.rules = "      - {name: extra, domainName: extra.example., "
			     "targetDnsServers: [{ipAddress: 10.100.0.9}]}\n"};
	deployment_t *da = load(&a);
	/* the same without the ruleset and the zone */
	const char *text =
		"virtualNetworks:\n"
		"  - name: hub\n"
		"    addressPrefixes: [10.10.0.0/16]\n"
		"    subnets:\n"
		"      - {name: snet-in, addressPrefix: 10.10.0.0/28,"
		" delegation: Microsoft.Network/dnsResolvers}\n"
		"      - {name: snet-out, addressPrefix: 10.10.1.0/28,"
		" delegation: Microsoft.Network/dnsResolvers}\n"
		"  - name: hub2\n"
		"    addressPrefixes: [10.30.0.0/16]\n"
		"    subnets:\n"
		"      - {name: snet-in, addressPrefix: 10.30.0.0/28,"
		" delegation: Microsoft.Network/dnsResolvers}\n"
		"      - {name: snet-out, addressPrefix: 10.30.1.0/28,"
		" delegation: Microsoft.Network/dnsResolvers}\n"
		"  - name: spoke\n"
		"    addressPrefixes: [10.20.0.0/16]\n"
		"    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]\n"
		"dnsResolvers:\n"
		"  - name: hub-resolver\n"
		"    virtualNetwork: hub\n"
		"    inboundEndpoints: [{name: in, subnet: snet-in}]\n"
		"    outboundEndpoints: [{name: out, subnet: snet-out}]\n";
	deployment_t *db = NULL;
	pr_diag_t *diag = pr_diag_new();
	assert_int_equal(deployment_load_text(text, strlen(text), "b.yaml", &db, diag), 0);
	json_t *plan = deployment_plan(da, db);
	int r1 = find(plan, "delete", "/forwardingRules/corp");
	int r2 = find(plan, "delete", "/forwardingRules/extra");
	int l = find(plan, "delete", "/virtualNetworkLinks/spoke-link");
	int rs = find(plan, "delete", "/dnsForwardingRulesets/rs");
	int rec = find(plan, "delete", "/privateDnsZones/z.example/A/www");
	int z = find(plan, "delete", "/privateDnsZones/z.example");
	assert_true(r1 >= 0 && r2 >= 0 && l >= 0 && rs > r1 && rs > r2 && rs > l);
	assert_true(rec >= 0 && z > rec);
	assert_int_equal(json_array_size(plan), 6);
	json_decref(plan);
	pr_diag_destroy(&diag);
	deployment_destroy(&da);
	deployment_destroy(&db);
}

/* F-7: a rule's domainName changed in place is flagged immutable. */
static void test_plan_f7_domain_immutable(void **state)
{
	(void)state;
	vars_t a = {0}, b = {.domain = "other.example."};
	json_t *plan = plan_of(&a, &b);
	int up = find(plan, "update", "/forwardingRules/corp");
	assert_true(up >= 0);
	const json_t *c = json_array_get(plan, (size_t)up);
	assert_true(json_is_true(json_object_get(c, "immutable")));
	assert_string_equal(s(c, "rule"), "F-7");
	const json_t *p = prop(c, "domainName");
	assert_true(json_is_true(json_object_get(p, "immutable")));
	assert_ptr_equal(deployment_plan_first_immutable(plan), c);
	json_decref(plan);

	/* case only: the same domain (W-5), so no F-7, only the text changed */
	vars_t c2 = {.domain = "CORP.example."};
	plan = plan_of(&a, &c2);
	assert_null(deployment_plan_first_immutable(plan));
	json_decref(plan);
}

/* I-1: an inbound endpoint's allocation method can't change. */
static void test_plan_i1_allocation_immutable(void **state)
{
	(void)state;
	vars_t a = {0},
	       b = {.ie = ", privateIpAllocationMethod: Static, privateIpAddress: 10.10.0.4"};
	json_t *plan = plan_of(&a, &b);
	const json_t *c = deployment_plan_first_immutable(plan);
	assert_non_null(c);
	assert_string_equal(s(c, "rule"), "I-1");
	assert_non_null(strstr(s(c, "id"), "/inboundEndpoints/in"));
	const json_t *p = prop(c, "privateIpAllocationMethod");
	assert_non_null(p);
	assert_true(json_is_true(json_object_get(p, "immutable")));
	json_decref(plan);

	/* Dynamic written out is the default: no I-1 (the model resolves both) */
	vars_t d = {.ie = ", privateIpAllocationMethod: Dynamic"};
	plan = plan_of(&a, &d);
	assert_null(deployment_plan_first_immutable(plan));
	assert_true(find(plan, "update", "/inboundEndpoints/in") >= 0);
	json_decref(plan);
}

/* N-4: a resolver's VNet can't change; the same VNet named by its ARM id is
 * no N-4 change. */
static void test_plan_n4_vnet_immutable(void **state)
{
	(void)state;
	vars_t a = {0}, b = {.vnet = "hub2"};
	json_t *plan = plan_of(&a, &b);
	const json_t *c = deployment_plan_first_immutable(plan);
	assert_non_null(c);
	assert_string_equal(s(c, "rule"), "N-4");
	assert_non_null(strstr(s(c, "id"), "/dnsResolvers/hub-resolver"));
	json_decref(plan);

	vars_t byid = {.vnet = "/subscriptions/00000000-0000-0000-0000-000000000000/"
			       "resourceGroups/privres/providers/Microsoft.Network/"
			       "virtualNetworks/hub"};
	plan = plan_of(&a, &byid);
	assert_null(deployment_plan_first_immutable(plan));
	json_decref(plan);
}

/* Settings outside the cloud's resources are one resource of their own. */
static void test_plan_settings(void **state)
{
	(void)state;
	vars_t a = {0}, b = {.more = "emulator: {listen: loopback, unresponsiveSeconds: 5}\n"};
	json_t *plan = plan_of(&a, &b);
	assert_int_equal(json_array_size(plan), 1);
	const json_t *c = json_array_get(plan, 0);
	assert_string_equal(s(c, "type"), "privres/settings");
	const json_t *p = prop(c, "emulator");
	assert_non_null(p);
	json_decref(plan);

	vars_t c3 = {.more = "emulator: {listen: loopback, unresponsiveSeconds: 6}\n"};
	plan = plan_of(&b, &c3);
	assert_int_equal(json_array_size(plan), 1);
	assert_non_null(prop(json_array_get(plan, 0), "emulator.unresponsiveSeconds"));
	json_decref(plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_from_empty_creates_parents_first),
		cmocka_unit_test(test_plan_identical_is_empty),
		cmocka_unit_test(test_plan_update_and_create),
		cmocka_unit_test(test_plan_deletes_children_first),
		cmocka_unit_test(test_plan_f7_domain_immutable),
		cmocka_unit_test(test_plan_i1_allocation_immutable),
		cmocka_unit_test(test_plan_n4_vnet_immutable),
		cmocka_unit_test(test_plan_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
