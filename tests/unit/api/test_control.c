/*
 * Resource RPCs as changes of the deployment: every change is validated by the
 * model as a whole document (a change with an error changes nothing), answers
 * carry computed outputs (ids, I-2 addresses). Handlers are called through the
 * registry as the server calls them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* the library allocates with the C allocator; tests free with it too */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "api/api_p.h"
#include "base/base.h"
#include "control/control.h"
#include "model/model.h"
#include "resolve/resolve.h"
#include <libknot/libknot.h>

typedef struct fixture {
	control_t *owner;
	api_control_t *control;
	api_registry_t *reg;
	int commits;
	bool refuse;
} fixture_t;

/* The data plane's side of a change: binding can fail (a full disk is the
 * same answer to the client: the change is not saved); publishing counts. */
static int bind_hook(void *ctx, const resolve_snapshot_t *next, pr_diag_t *diag)
{
	fixture_t *f = ctx;
	if (f->refuse && diag) {
		pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_EIO, "disk full");
		return PR_EIO;
	}
	return 0;
}

static void publish(void *ctx, resolve_snapshot_t *next)
{
	fixture_t *f = ctx;
	f->commits++;
	resolve_snapshot_unref(&next);
}

static const control_hooks_t hooks = {bind_hook, publish};

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;

	int ret = control_load_source(NULL, &doc, diag);
	if (ret == 0)
		ret = control_new(&doc, NULL, &f->owner, diag);
	if (ret != 0) {
		char *t = pr_diag_format(diag);
		fail_msg("default deployment: %s", t);
	}
	pr_diag_destroy(&diag);
	control_set_hooks(f->owner, &hooks, f);
	assert_int_equal(api_control_new(f->owner, &f->control), 0);
	f->reg = api_registry_new();
	assert_int_equal(api_control_register(f->control, f->reg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	api_control_destroy(&f->control);
	control_destroy(&f->owner);
	api_registry_destroy(&f->reg);
	free(f);
	return 0;
}

/* One call as the server makes it; returns the status code, *out the JSON. */
static int rpc(fixture_t *f, const char *method, const char *json, json_t **out,
	       api_status_t *st)
{
	char *path = pr_asprintf("/privres.v1.%s", method);
	const api_method_t *m = api_registry_find(f->reg, path, strlen(path));
	ProtobufCMessage *req = NULL, *resp = NULL;
	char *why = NULL;

	assert_non_null(m);
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	if (pbjson_to_message(m->in, j, &req, &why) != 0)
		fail_msg("request: %s", why);
	memset(st, 0, sizeof(*st));
	int ret = m->fn(m->ctx, req, &resp, st);
	if (out)
		*out = NULL;
	if (ret == 0) {
		assert_ptr_equal(resp->descriptor, m->out);
		if (out)
			assert_int_equal(pbjson_from_message(resp, out), 0);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	protobuf_c_message_free_unpacked(req, NULL);
	json_decref(j);
	free(path);
	return ret == 0 ? 0 : st->code;
}

static const char *s(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* Get reads back computed outputs: the ARM id and the IE's address (I-2). */
static void test_control_get_has_outputs(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;

	assert_int_equal(rpc(f, "DnsResolverService/Get", "{\"name\": \"hub-resolver\"}", &r, &st),
			 0);
	assert_string_equal(s(r, "virtualNetwork"), "hub");
	assert_non_null(strstr(s(r, "id"), "/providers/Microsoft.Network/dnsResolvers/hub-resolver"));
	json_decref(r);

	assert_int_equal(rpc(f, "InboundEndpointService/Get",
			     "{\"dnsResolverName\": \"hub-resolver\", \"name\": \"in\"}", &r, &st),
			 0);
	assert_string_equal(s(r, "privateIpAddress"), "10.10.0.4");
	assert_string_equal(s(r, "dnsResolver"), "hub-resolver");
	json_decref(r);

	assert_int_equal(rpc(f, "InboundEndpointService/Get",
			     "{\"dnsResolverName\": \"nope\", \"name\": \"in\"}", &r, &st),
			 API_STATUS_NOT_FOUND);
	assert_int_equal(rpc(f, "DnsResolverService/Get", "{\"name\": \"nope\"}", &r, &st),
			 API_STATUS_NOT_FOUND);
}

static size_t count_rules(fixture_t *f)
{
	api_status_t st;
	json_t *r = NULL;
	assert_int_equal(rpc(f, "ForwardingRuleService/List", "{\"rulesetName\": \"hub-rules\"}", &r,
			     &st),
			 0);
	size_t n = json_array_size(json_object_get(r, "value"));
	json_decref(r);
	return n;
}

/* F-5 through the API: rejected with the rule id, and nothing changes. */
static void test_control_invalid_change_changes_nothing(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	size_t before = count_rules(f);

	assert_int_equal(rpc(f, "ForwardingRuleService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"forwardingRule\": {\"name\": \"Bad\","
			     " \"domainName\": \"bad.contoso.com.\", \"targetDnsServers\":"
			     " [{\"ipAddress\": \"168.63.129.16\"}]}}",
			     NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "F-5"));
	assert_int_equal(count_rules(f), before);
	assert_int_equal(f->commits, 0);
}

/* Create, read back, update, delete a forwarding rule (F-1..F-6). */
static void test_control_rule_lifecycle(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	size_t before = count_rules(f);

	assert_int_equal(rpc(f, "ForwardingRuleService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"forwardingRule\": {\"name\": \"Corp2\","
			     " \"domainName\": \"corp2.contoso.com.\", \"targetDnsServers\":"
			     " [{\"ipAddress\": \"10.100.0.3\", \"port\": 5353}],"
			     " \"metadata\": {\"owner\": \"net\"}}}",
			     &r, &st),
			 0);
	assert_string_equal(s(r, "dnsForwardingRuleset"), "hub-rules");
	assert_non_null(strstr(s(r, "id"), "forwardingRules/Corp2"));
	json_decref(r);
	assert_int_equal(count_rules(f), before + 1);
	assert_int_equal(f->commits, 1);

	/* update in place: disabled (F-6) */
	assert_int_equal(rpc(f, "ForwardingRuleService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"forwardingRule\": {\"name\": \"Corp2\","
			     " \"domainName\": \"corp2.contoso.com.\", \"forwardingRuleState\": \"Disabled\","
			     " \"targetDnsServers\": [{\"ipAddress\": \"10.100.0.3\"}]}}",
			     &r, &st),
			 0);
	json_decref(r);
	assert_int_equal(rpc(f, "ForwardingRuleService/Get",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Corp2\"}", &r, &st),
			 0);
	assert_string_equal(s(r, "forwardingRuleState"), "Disabled");
	json_decref(r);
	assert_int_equal(count_rules(f), before + 1);

	assert_int_equal(rpc(f, "ForwardingRuleService/Delete",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Corp2\"}", &r, &st),
			 0);
	assert_non_null(strstr(s(r, "id"), "forwardingRules/Corp2"));
	json_decref(r);
	assert_int_equal(rpc(f, "ForwardingRuleService/Get",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Corp2\"}", &r, &st),
			 API_STATUS_NOT_FOUND);
	assert_int_equal(rpc(f, "ForwardingRuleService/Delete",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Corp2\"}", &r, &st),
			 API_STATUS_NOT_FOUND);
	assert_int_equal(count_rules(f), before);
}

/* Updating a parent keeps its children; a refused commit changes nothing (§7). */
static void test_control_parent_update_and_refused_commit(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	size_t before = count_rules(f);

	assert_int_equal(rpc(f, "DnsForwardingRulesetService/Get", "{\"name\": \"hub-rules\"}", &r,
			     &st),
			 0);
	json_t *put = json_pack("{s:O}", "dnsForwardingRuleset", r);
	json_decref(r);
	char *text = json_dumps(put, 0);
	json_decref(put);
	assert_int_equal(rpc(f, "DnsForwardingRulesetService/CreateOrUpdate", text, &r, &st), 0);
	json_decref(r);
	assert_int_equal(count_rules(f), before);

	f->refuse = true;
	assert_int_equal(rpc(f, "ForwardingRuleService/Delete",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Contoso\"}", &r, &st),
			 API_STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.message, "disk full"));
	assert_int_equal(count_rules(f), before);
	free(text);
}

/* O-4: an outbound endpoint used by a ruleset can't go. */
static void test_control_delete_in_use_refused(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;

	int code = rpc(f, "OutboundEndpointService/Delete",
		       "{\"dnsResolverName\": \"hub-resolver\", \"name\": \"out\"}", &r, &st);
	assert_int_not_equal(code, 0);
	assert_int_equal(rpc(f, "OutboundEndpointService/Get",
			     "{\"dnsResolverName\": \"hub-resolver\", \"name\": \"out\"}", &r, &st),
			 0);
	json_decref(r);
}

static void test_control_export(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;

	assert_int_equal(rpc(f, "DeploymentService/Export", "{\"format\": \"json\"}", &r, &st), 0);
	json_t *doc = json_loads(s(r, "document"), 0, NULL);
	assert_non_null(doc);
	assert_true(json_array_size(json_object_get(doc, "dnsForwardingRulesets")) > 0);
	json_decref(doc);
	json_decref(r);
	assert_int_equal(rpc(f, "DeploymentService/Export", "{}", &r, &st), 0);
	assert_string_equal(s(r, "format"), "yaml");
	assert_non_null(strstr(s(r, "document"), "hub-rules"));
	json_decref(r);
}


/* P-1 through the API: linking hub-rules (whose AzurePrivate rule targets the
 * hub's own inbound endpoint) to the hub is refused, with the rule id. */
static void test_control_p1_loop_refused(void **state)
{
	fixture_t *f = *state;
	api_status_t st;

	assert_int_equal(rpc(f, "VirtualNetworkLinkService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"virtualNetworkLink\": {\"name\": "
			     "\"hub-link\", \"virtualNetwork\": \"hub\"}}",
			     NULL, &st),
			 API_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "P-1"));
	assert_int_equal(f->commits, 0);
	assert_int_equal(rpc(f, "VirtualNetworkLinkService/Get",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"hub-link\"}", NULL, &st),
			 API_STATUS_NOT_FOUND);
}

/* F-7: a rule's domainName can't change in place; the message names the rule
 * id and the resource id. Delete and create works. */
static void test_control_f7_immutable_refused(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;

	assert_int_equal(rpc(f, "ForwardingRuleService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"forwardingRule\": {\"name\": "
			     "\"Contoso\", \"domainName\": \"fabrikam.com.\", \"targetDnsServers\":"
			     " [{\"ipAddress\": \"10.100.0.2\"}]}}",
			     NULL, &st),
			 API_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "F-7"));
	assert_non_null(
		strstr(st.message, "dnsForwardingRulesets/hub-rules/forwardingRules/Contoso"));
	assert_int_equal(rpc(f, "ForwardingRuleService/Get",
			     "{\"rulesetName\": \"hub-rules\", \"name\": \"Contoso\"}", &r, &st),
			 0);
	assert_string_equal(s(r, "domainName"), "contoso.com.");
	json_decref(r);
	/* I-1 likewise: Dynamic to Static in place */
	assert_int_equal(rpc(f, "InboundEndpointService/CreateOrUpdate",
			     "{\"dnsResolverName\": \"hub-resolver\","
			     " \"inboundEndpoint\": {\"name\":"
			     " \"in\", \"subnet\": \"snet-inbound\", \"privateIpAllocationMethod\":"
			     " \"Static\", \"privateIpAddress\": \"10.10.0.4\"}}",
			     NULL, &st),
			 API_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "I-1"));
	assert_int_equal(f->commits, 0);
}

static const char *CHANGED =
	"location: eastus\n"
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: snet-inbound,  addressPrefix: 10.10.0.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: snet-outbound, addressPrefix: 10.10.1.0/28,"
	" delegation: Microsoft.Network/dnsResolvers}\n"
	"  - name: spoke1\n"
	"    addressPrefixes: [10.20.0.0/16]\n"
	"    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]\n"
	"dnsResolvers:\n"
	"  - name: hub-resolver\n"
	"    virtualNetwork: hub\n"
	"    inboundEndpoints: [{name: in, subnet: snet-inbound}]\n"
	"    outboundEndpoints: [{name: out, subnet: snet-outbound}]\n"
	"dnsForwardingRulesets:\n"
	"  - name: hub-rules\n"
	"    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
	"    forwardingRules:\n"
	"      - {name: Contoso, domainName: contoso.com.,"
	" targetDnsServers: [{ipAddress: 10.100.0.3}]}\n"
	"      - {name: Fabrikam, domainName: fabrikam.com.,"
	" targetDnsServers: [{ipAddress: 10.100.0.4}]}\n"
	"    virtualNetworkLinks:\n"
	"      - {name: spoke1-link, virtualNetwork: spoke1}\n";

static const json_t *change_for(const json_t *result, const char *action, const char *suffix)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(result, "changes"), i, c) {
		const char *id = s(c, "id");
		size_t n = strlen(id), m = strlen(suffix);
		if (!strcmp(s(c, "action"), action) && n >= m && !strcmp(id + n - m, suffix))
			return c;
	}
	return NULL;
}

static char *deploy_request(const char *doc, const char *extra)
{
	json_t *j = json_pack("{s:s, s:s}", "document", doc, "fileName", "changed.yaml");
	json_t *x = json_loads(extra, 0, NULL);
	json_object_update(j, x);
	char *text = json_dumps(j, 0);
	json_decref(j);
	json_decref(x);
	return text;
}

/* design.md §7: Plan shows create, update and delete and changes nothing;
 * Apply with prune brings the deployment to the document. */
static void test_control_plan_and_apply(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	size_t before = count_rules(f);
	char *req = deploy_request(CHANGED, "{\"prune\": true}");

	assert_int_equal(rpc(f, "DeploymentService/Plan", req, &r, &st), 0);
	assert_null(json_object_get(r, "errors"));
	assert_false(json_is_true(json_object_get(r, "applied")));
	const json_t *up = change_for(r, "update", "/forwardingRules/Contoso");
	assert_non_null(up);
	assert_string_equal(s(json_array_get(json_object_get(up, "changes"), 0), "property"),
			    "targetDnsServers");
	assert_non_null(strstr(s(json_array_get(json_object_get(up, "changes"), 0), "after"),
			       "10.100.0.3"));
	assert_non_null(change_for(r, "create", "/forwardingRules/Fabrikam"));
	assert_non_null(change_for(r, "delete", "/forwardingRules/Wildcard"));
	assert_non_null(change_for(r, "delete", "/virtualNetworks/spoke2"));
	assert_non_null(change_for(r, "delete", "/privateDnsZones/azure.contoso.com"));
	json_decref(r);
	assert_int_equal(count_rules(f), before);
	assert_int_equal(f->commits, 0);

	assert_int_equal(rpc(f, "DeploymentService/Apply", req, &r, &st), 0);
	assert_true(json_is_true(json_object_get(r, "applied")));
	assert_non_null(change_for(r, "create", "/forwardingRules/Fabrikam"));
	json_decref(r);
	assert_int_equal(f->commits, 1);
	assert_int_equal(count_rules(f), 2);
	assert_int_equal(rpc(f, "VirtualNetworkService/Get", "{\"name\": \"spoke2\"}", NULL, &st),
			 API_STATUS_NOT_FOUND);

	/* the same document again: no change, no commit */
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, &r, &st), 0);
	assert_int_equal(json_array_size(json_object_get(r, "changes")), 0);
	json_decref(r);
	assert_int_equal(f->commits, 1);
	free(req);
}

/* Without prune a document adds and updates, never deletes. */
static void test_control_apply_merge(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	size_t before = count_rules(f);
	char *req = deploy_request(
		"{\"dnsForwardingRulesets\": [{\"name\": \"hub-rules\", \"forwardingRules\": "
		"[{\"name\": \"Extra\", \"domainName\": \"extra.com.\", \"targetDnsServers\": "
		"[{\"ipAddress\": \"10.100.0.9\"}]}]}]}",
		"{\"format\": \"json\"}");
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, &r, &st), 0);
	assert_int_equal(json_array_size(json_object_get(r, "changes")), 1);
	assert_non_null(change_for(r, "create", "/forwardingRules/Extra"));
	json_decref(r);
	assert_int_equal(count_rules(f), before + 1);
	free(req);
}

/* Apply refuses a document with findings (F-5, with file and line), a loop
 * (P-1) and an immutable change (F-7); Plan reports the same as errors. */
static void test_control_apply_refusals(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	char *bad = pr_strdup(CHANGED);
	char *p = strstr(bad, "10.100.0.4"); /* Fabrikam's target becomes Azure DNS */
	char *doc = pr_asprintf("%.*s168.63.129.16%s", (int)(p - bad), bad, p + 10);
	char *req = deploy_request(doc, "{\"prune\": true}");
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "F-5"));
	assert_non_null(strstr(st.message, "changed.yaml:"));
	assert_int_equal(rpc(f, "DeploymentService/Plan", req, &r, &st), 0);
	const json_t *e = json_array_get(json_object_get(r, "errors"), 0);
	assert_string_equal(s(e, "rule"), "F-5");
	assert_string_equal(s(e, "file"), "changed.yaml");
	assert_true(json_integer_value(json_object_get(e, "line")) > 0);
	json_decref(r);
	free(req);
	free(doc);
	free(bad);

	/* F-7 through a document */
	char *imm = pr_strdup(CHANGED);
	p = strstr(imm, "domainName: contoso.com.");
	memcpy(p + 12, "contosa", 7);
	req = deploy_request(imm, "{\"prune\": true}");
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, NULL, &st),
			 API_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "F-7"));
	assert_non_null(strstr(st.message, "forwardingRules/Contoso"));
	assert_int_equal(rpc(f, "DeploymentService/Plan", req, &r, &st), 0);
	assert_string_equal(s(json_array_get(json_object_get(r, "errors"), 0), "rule"), "F-7");
	json_decref(r);
	free(req);
	free(imm);

	/* not a document */
	req = deploy_request("[1, 2", "{}");
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	free(req);
	req = deploy_request("x: 1", "{\"format\": \"toml\"}");
	assert_int_equal(rpc(f, "DeploymentService/Apply", req, NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	free(req);
	assert_int_equal(f->commits, 0);
}

/* Diagnostics: without a provider UNAVAILABLE; with one, its JSON becomes the
 * response; the VNet of Explain must exist; provider errors map to statuses. */
typedef struct fake {
	int calls;
	char vnet[64], name[64], type[16];
	bool fail;
} fake_t;

/* The answer the current snapshot gives for name (A) in the hub, as text. */
static char *hub_answer(fixture_t *f, const char *name)
{
	json_t *j = NULL;
	assert_int_equal(resolve_explain(control_snapshot(f->owner), "hub", name, KNOT_RRTYPE_A,
					 &j),
			 0);
	char *text = json_dumps(json_object_get(j, "answer"), JSON_COMPACT);
	json_decref(j);
	return text;
}

static void assert_hub_answer(fixture_t *f, const char *name, const char *want)
{
	char *got = hub_answer(f, name);
	if (!strstr(got, want))
		fail_msg("%s: wanted %s in %s", name, want, got);
	free(got);
}

/* A change shares the compiled zones it leaves alone with the next snapshot
 * (O(change)); whatever is shared, every answer is the new deployment's: a
 * zone changed is compiled again, one left alone answers as before, and the
 * hosts registered by Z-3 stay. */
static void test_control_zones_after_changes(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;

	assert_hub_answer(f, "web.azure.contoso.com", "NOERROR");
	assert_hub_answer(f, "app1.azure.contoso.com", "NOERROR");
	assert_int_equal(rpc(f, "ForwardingRuleService/CreateOrUpdate",
			     "{\"rulesetName\": \"hub-rules\", \"forwardingRule\": {\"name\": \"Other\","
			     " \"domainName\": \"other.example.\", \"targetDnsServers\":"
			     " [{\"ipAddress\": \"10.100.0.3\"}]}}",
			     &r, &st),
			 0);
	json_decref(r);
	assert_hub_answer(f, "web.azure.contoso.com", "NOERROR");
	assert_hub_answer(f, "app1.azure.contoso.com", "NOERROR");
	assert_hub_answer(f, "fresh.azure.contoso.com", "NXDOMAIN");

	assert_int_equal(rpc(f, "RecordSetService/CreateOrUpdate",
			     "{\"zoneName\": \"azure.contoso.com\", \"recordSet\": {\"name\": \"fresh\","
			     " \"type\": \"A\", \"ttl\": 30, \"records\": [\"10.10.9.77\"]}}",
			     &r, &st),
			 0);
	json_decref(r);
	assert_hub_answer(f, "fresh.azure.contoso.com", "10.10.9.77");
	assert_hub_answer(f, "app1.azure.contoso.com", "NOERROR");

	assert_int_equal(rpc(f, "RecordSetService/Delete",
			     "{\"zoneName\": \"azure.contoso.com\", \"name\": \"fresh\","
			     " \"recordType\": \"A\"}",
			     &r, &st),
			 0);
	json_decref(r);
	assert_hub_answer(f, "fresh.azure.contoso.com", "NXDOMAIN");
	assert_hub_answer(f, "web.azure.contoso.com", "NOERROR");
}

static int fake_explain(void *ctx, const deployment_t *d, const char *vnet, const char *name,
			const char *type, json_t **out, char **why)
{
	fake_t *fk = ctx;
	fk->calls++;
	snprintf(fk->vnet, sizeof(fk->vnet), "%s", vnet);
	snprintf(fk->name, sizeof(fk->name), "%s", name);
	snprintf(fk->type, sizeof(fk->type), "%s", type);
	if (fk->fail) {
		*why = pr_strdup("name does not parse");
		return PR_EPARSE;
	}
	*out = json_pack("{s:s, s:s, s:s, s:[s], s:s}", "view", vnet, "step", "Q-2", "zone",
			 "azure.contoso.com.", "answers",
			 "web.azure.contoso.com. 300 IN A 10.10.2.5",
			 "rcode", "NOERROR");
	(void)d;
	return 0;
}

static int fake_stats(void *ctx, json_t **out, char **why)
{
	fake_t *fk = ctx;
	fk->calls++;
	(void)why;
	*out = json_pack("{s:{s:I, s:I}}", "counters", "queries", (json_int_t)42, "forwarded",
			 (json_int_t)7);
	return 0;
}

static void test_control_diagnostics(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	json_t *r = NULL;
	fake_t fk = {0};

	assert_int_equal(rpc(f, "DiagnosticsService/Stats", "{}", NULL, &st),
			 API_STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.message, "no data plane"));

	static const api_diagnostics_t ops = {.explain = fake_explain, .stats = fake_stats};
	api_control_set_diagnostics(f->control, &ops, &fk);
	assert_int_equal(rpc(f, "DiagnosticsService/Stats", "{}", &r, &st), 0);
	assert_string_equal(s(json_object_get(r, "counters"), "queries"), "42");
	json_decref(r);
	/* an op the provider lacks */
	assert_int_equal(rpc(f, "DiagnosticsService/TargetHealth", "{}", NULL, &st),
			 API_STATUS_UNAVAILABLE);

	assert_int_equal(rpc(f, "DiagnosticsService/Explain",
			     "{\"virtualNetwork\": \"hub\","
			     " \"name\": \"web.azure.contoso.com\"}",
			     &r, &st),
			 0);
	assert_string_equal(fk.type, "A");
	assert_string_equal(fk.name, "web.azure.contoso.com");
	assert_string_equal(s(r, "step"), "Q-2");
	assert_int_equal(json_array_size(json_object_get(r, "answers")), 1);
	json_decref(r);
	int calls = fk.calls;
	assert_int_equal(rpc(f, "DiagnosticsService/Explain",
			     "{\"virtualNetwork\": \"nowhere\", \"name\": \"x.com\"}", NULL, &st),
			 API_STATUS_NOT_FOUND);
	assert_int_equal(rpc(f, "DiagnosticsService/Explain", "{\"name\": \"x.com\"}", NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	assert_int_equal(fk.calls, calls);
	fk.fail = true;
	assert_int_equal(rpc(f, "DiagnosticsService/Explain",
			     "{\"virtualNetwork\": \"hub\", \"name\": \"x..com\","
			     " \"type\": \"MX\"}",
			     NULL, &st),
			 API_STATUS_INVALID_ARGUMENT);
	assert_string_equal(fk.type, "MX");
	assert_non_null(strstr(st.message, "name does not parse"));
	api_control_set_diagnostics(f->control, NULL, NULL);
	assert_int_equal(rpc(f, "DiagnosticsService/Stats", "{}", NULL, &st),
			 API_STATUS_UNAVAILABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_control_get_has_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_invalid_change_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_rule_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_parent_update_and_refused_commit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_delete_in_use_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_p1_loop_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_f7_immutable_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_plan_and_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_apply_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_apply_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_diagnostics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_zones_after_changes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
