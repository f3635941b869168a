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
#include "model/model.h"

typedef struct fixture {
	api_control_t *control;
	api_registry_t *reg;
	int commits;
	bool refuse;
} fixture_t;

static int commit(void *ctx, const deployment_t *next, char **why)
{
	fixture_t *f = ctx;
	if (f->refuse) {
		*why = pr_strdup("disk full");
		return PR_EIO;
	}
	f->commits++;
	return 0;
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	deployment_t *d = NULL;
	pr_diag_t *diag = pr_diag_new();
	const char *text = model_default_deployment_text();

	int ret = deployment_load_text(text, strlen(text), model_default_deployment_name(), &d,
				       diag);
	if (ret != 0) {
		char *t = pr_diag_format(diag);
		fail_msg("default deployment: %s", t);
	}
	pr_diag_destroy(&diag);
	assert_int_equal(api_control_new(d, commit, f, &f->control), 0);
	f->reg = api_registry_new();
	assert_int_equal(api_control_register(f->control, f->reg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	api_control_destroy(&f->control);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
