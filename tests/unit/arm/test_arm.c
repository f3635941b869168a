/* arm/: the protocol without I/O over the real control and the embedded
 * default deployment: routes from the schema, tokens, api-versions, the
 * cloud's status codes, etags (M-2), long-running operation headers, shapes
 * and refusals with rule ids (F-5, F-7, O-4); operations that stay in
 * progress for emulator.arm.operationSeconds. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arm/arm_p.h"
#include "control/control.h"

#define NET "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/privres/" \
	    "providers/Microsoft.Network"
#define TOKEN "Bearer aGVhZA.Ym9keQ.c2ln"

typedef struct fixture {
	control_t *control;
	arm_t *arm;
	arm_response_t rs;
	json_t *body;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	int ret = control_load_source(NULL, &doc, diag);
	if (ret == 0)
		ret = control_new(&doc, NULL, &f->control, diag);
	assert_int_equal(ret, 0);
	pr_diag_destroy(&diag);
	assert_int_equal(arm_new(f->control, NULL, &f->arm), 0);
	*state = f;
	return 0;
}

/* The same with operations that stay in progress for SLOW_MS. */
#define SLOW_MS 300
static int setup_slow(void **state)
{
	setup(state);
	fixture_t *f = *state;
	arm_destroy(&f->arm);
	arm_settings_t set = {.operation_ms = SLOW_MS};
	assert_int_equal(arm_new(f->control, &set, &f->arm), 0);
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	arm_response_clear(&f->rs);
	json_decref(f->body);
	arm_destroy(&f->arm);
	control_destroy(&f->control);
	free(f);
	return 0;
}

/* One request; the answer's status, and its body parsed in f->body. */
static int req(fixture_t *f, const char *method, const char *path, const char *version,
	       const char *body, const char *if_match)
{
	arm_request_t rq = {.method = method, .path = path, .api_version = version,
			    .authorization = TOKEN, .if_match = if_match, .host = "127.0.0.1:1",
			    .body = body, .body_len = body ? strlen(body) : 0};
	arm_response_clear(&f->rs);
	json_decref(f->body);
	arm_handle(f->arm, &rq, &f->rs);
	f->body = f->rs.body ? json_loads(f->rs.body, 0, NULL) : NULL;
	return f->rs.status;
}

static const char *error_code(const fixture_t *f)
{
	return json_string_value(json_object_get(json_object_get(f->body, "error"), "code"));
}

static void test_routes_from_the_schema(void **state)
{
	(void)state;
	arm_route_t r;
	assert_int_equal(arm_route_parse(NET "/dnsForwardingRulesets/hub-rules/forwardingRules/X", &r),
			 0);
	assert_int_equal(r.target, ARM_RESOURCE);
	assert_int_equal(r.kind->id, MODEL_KIND_RULE);
	assert_string_equal(r.parent, "hub-rules");
	assert_string_equal(r.name, "X");
	arm_route_clear(&r);
	/* "virtualNetworkLinks" is three kinds: the parent decides */
	assert_int_equal(arm_route_parse(NET "/privateDnsZones/z.example/virtualNetworkLinks", &r), 0);
	assert_int_equal(r.target, ARM_COLLECTION);
	assert_int_equal(r.kind->id, MODEL_KIND_ZONE_LINK);
	arm_route_clear(&r);
	assert_int_equal(arm_route_parse(NET "/privateDnsZones/z.example/mx/%40", &r), 0);
	assert_int_equal(r.kind->id, MODEL_KIND_RECORD_SET);
	assert_string_equal(r.type, "MX");
	assert_string_equal(r.name, "@");
	arm_route_clear(&r);
	assert_int_equal(arm_route_parse(NET "/privateDnsZones/z.example/ALL", &r), 0);
	assert_null(r.type);
	arm_route_clear(&r);
	assert_int_equal(arm_route_parse(NET "/privateDnsZones/z.example/BOGUS/x", &r), PR_EPARSE);
	assert_int_equal(arm_route_parse(NET "/dnsResolvers/a%2", &r), PR_EPARSE);
	assert_int_equal(arm_route_parse(NET "/dnsResolvers/a%00b", &r), PR_EPARSE);
	assert_int_equal(arm_route_parse("/subscriptions/s/providers/Microsoft.Network/locations/"
					 "eastus/dnsResolverOperationStatuses/1", &r), 0);
	assert_int_equal(r.target, ARM_OPERATION);
	arm_route_clear(&r);
}

static void test_tokens_and_versions(void **state)
{
	fixture_t *f = *state;
	arm_request_t rq = {.method = "GET", .path = NET "/dnsResolvers", .api_version = "2022-07-01"};
	arm_handle(f->arm, &rq, &f->rs);
	assert_int_equal(f->rs.status, 401);
	arm_response_clear(&f->rs);
	rq.authorization = "Bearer not-a-jwt";
	arm_handle(f->arm, &rq, &f->rs);
	assert_int_equal(f->rs.status, 401);
	assert_int_equal(req(f, "GET", NET "/dnsResolvers", NULL, NULL, NULL), 400);
	assert_string_equal(error_code(f), "MissingApiVersionParameter");
	assert_int_equal(req(f, "GET", NET "/privateDnsZones", "2022-07-01", NULL, NULL), 400);
	assert_string_equal(error_code(f), "InvalidApiVersionParameter");
	assert_int_equal(req(f, "GET", NET "/privateDnsZones", "2024-06-01", NULL, NULL), 200);
}

static void test_a_rule_round_trip(void **state)
{
	fixture_t *f = *state;
	const char *path = NET "/dnsForwardingRulesets/hub-rules/forwardingRules/Fabrikam";
	const char *body = "{\"properties\": {\"domainName\": \"fabrikam.com.\", "
			   "\"targetDnsServers\": [{\"ipAddress\": \"10.100.0.5\"}]}}";
	assert_int_equal(req(f, "PUT", path, "2022-07-01", body, NULL), 201);
	assert_null(f->rs.async_operation); /* rules answer at once */
	json_t *p = json_object_get(f->body, "properties");
	assert_string_equal(json_string_value(json_object_get(p, "forwardingRuleState")), "Enabled");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(p, "targetDnsServers"), 0), "port")),
			 53);
	char etag[64];
	snprintf(etag, sizeof(etag), "%s", json_string_value(json_object_get(f->body, "etag")));
	assert_int_equal(req(f, "PUT", path, "2022-07-01", body, etag), 200);
	const char *changed = "{\"properties\": {\"domainName\": \"fabrikam.com.\", "
			      "\"forwardingRuleState\": \"Disabled\", "
			      "\"targetDnsServers\": [{\"ipAddress\": \"10.100.0.5\"}]}}";
	assert_int_equal(req(f, "PUT", path, "2022-07-01", changed, etag), 200);
	/* M-2: the etag changed with the write; the old one is stale */
	assert_int_equal(req(f, "PUT", path, "2022-07-01", body, etag), 412);
	assert_string_equal(error_code(f), "PreconditionFailed");
	/* F-7: the domain name can't change in place */
	assert_int_equal(req(f, "PUT", path, "2022-07-01",
			     "{\"properties\": {\"domainName\": \"other.com.\", "
			     "\"targetDnsServers\": [{\"ipAddress\": \"10.100.0.5\"}]}}",
			     NULL),
			 409);
	assert_non_null(strstr(f->rs.body, "F-7"));
	assert_int_equal(req(f, "DELETE", path, "2022-07-01", NULL, NULL), 200);
	assert_int_equal(req(f, "GET", path, "2022-07-01", NULL, NULL), 404);
	assert_string_equal(error_code(f), "ResourceNotFound");
	assert_int_equal(req(f, "DELETE", path, "2022-07-01", NULL, NULL), 204);
}

static void test_refusals_and_operations(void **state)
{
	fixture_t *f = *state;
	assert_int_equal(req(f, "PUT", NET "/dnsForwardingRulesets/hub-rules/forwardingRules/B",
			     "2022-07-01",
			     "{\"properties\": {\"domainName\": \"b.com.\", \"targetDnsServers\": "
			     "[{\"ipAddress\": \"168.63.129.16\"}]}}",
			     NULL),
			 400);
	assert_string_equal(error_code(f), "BadRequest");
	assert_non_null(strstr(f->rs.body, "F-5"));
	assert_int_equal(req(f, "PUT", NET "/dnsResolvers/x", "2022-07-01", "{\"a\":", NULL), 400);
	assert_string_equal(error_code(f), "InvalidRequestContent");
	/* O-4: the ruleset uses the outbound endpoint */
	assert_int_equal(req(f, "DELETE", NET "/dnsResolvers/hub-resolver/outboundEndpoints/out",
			     "2022-07-01", NULL, NULL),
			 409);
	assert_string_equal(error_code(f), "InUseResourceCannotBeDeleted");
	/* a long-running delete: 202, and the operation it names is Succeeded */
	assert_int_equal(req(f, "DELETE", NET "/privateDnsZones/privatelink.blob.core.windows.net",
			     "2020-06-01", NULL, NULL),
			 202);
	assert_non_null(f->rs.async_operation);
	const char *op = strstr(f->rs.async_operation, "/subscriptions/");
	char path[512];
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(op, "?"), op);
	assert_int_equal(req(f, "GET", path, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(json_string_value(json_object_get(f->body, "status")), "Succeeded");
	assert_int_equal(req(f, "GET", "/subscriptions/00000000-0000-0000-0000-000000000000/providers/"
				       "Microsoft.Network/locations/eastus/operations/nope",
			     "2022-07-01", NULL, NULL),
			 404);
}

static const char *state_of(const fixture_t *f)
{
	return json_string_value(
		json_object_get(json_object_get(f->body, "properties"), "provisioningState"));
}

/* The path of an absolute URL header, without its query. */
static void path_of(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "/subscriptions/");
	snprintf(out, cap, "%.*s", (int)strcspn(p, "?"), p);
}

static void test_operations_take_time(void **state)
{
	fixture_t *f = *state;
	const char *zone = NET "/privateDnsZones/slow.example";
	char status[512], result[512];
	assert_int_equal(req(f, "PUT", zone, "2020-06-01", "{\"location\": \"global\"}", NULL), 201);
	assert_string_equal(state_of(f), "Creating");
	assert_true(f->rs.retry_after >= 1);
	path_of(f->rs.async_operation, status, sizeof(status));
	assert_int_equal(req(f, "GET", zone, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(state_of(f), "Creating");
	/* M-3: no other change while the operation runs, the operation named */
	assert_int_equal(req(f, "PATCH", zone, "2020-06-01", "{\"tags\": {\"a\": \"c\"}}", NULL),
			 409);
	assert_string_equal(error_code(f), "AnotherOperationInProgress");
	assert_non_null(strstr(f->rs.body, status));
	assert_int_equal(req(f, "DELETE", NET "/privateDnsZones/SLOW.example", "2020-06-01", NULL,
			     NULL), 409);
	assert_int_equal(req(f, "GET", status, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(json_string_value(json_object_get(f->body, "status")), "InProgress");
	usleep((SLOW_MS + 50) * 1000);
	assert_int_equal(req(f, "GET", status, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(json_string_value(json_object_get(f->body, "status")), "Succeeded");
	assert_int_equal(req(f, "GET", zone, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(state_of(f), "Succeeded");
	/* a PATCH updates: 200, Updating */
	assert_int_equal(req(f, "PATCH", zone, "2020-06-01", "{\"tags\": {\"a\": \"b\"}}", NULL),
			 200);
	assert_string_equal(state_of(f), "Updating");
	usleep((SLOW_MS + 50) * 1000);
	/* a deletion: gone from lists at once, Deleting for a GET until done */
	assert_int_equal(req(f, "DELETE", zone, "2020-06-01", NULL, NULL), 202);
	path_of(f->rs.location, result, sizeof(result));
	assert_int_equal(req(f, "GET", zone, "2020-06-01", NULL, NULL), 200);
	assert_string_equal(state_of(f), "Deleting");
	assert_int_equal(req(f, "PUT", zone, "2020-06-01", "{\"location\": \"global\"}", NULL), 409);
	assert_int_equal(req(f, "GET", result, "2020-06-01", NULL, NULL), 202);
	assert_non_null(f->rs.location);
	assert_int_equal(req(f, "GET", NET "/privateDnsZones", "2020-06-01", NULL, NULL), 200);
	assert_null(strstr(f->rs.body, "slow.example"));
	usleep((SLOW_MS + 50) * 1000);
	assert_int_equal(req(f, "GET", result, "2020-06-01", NULL, NULL), 204);
	assert_int_equal(req(f, "GET", zone, "2020-06-01", NULL, NULL), 404);
}

static void test_paging(void **state)
{
	fixture_t *f = *state;
	arm_request_t rq = {.method = "GET", .path = NET "/privateDnsZones/azure.contoso.com/ALL",
			    .api_version = "2020-06-01", .top = "2", .authorization = TOKEN,
			    .host = "h"};
	size_t seen = 0;
	char skip[16] = "";
	for (int pages = 0; pages < 10; pages++) {
		rq.skip_token = *skip ? skip : NULL;
		arm_response_clear(&f->rs);
		arm_handle(f->arm, &rq, &f->rs);
		assert_int_equal(f->rs.status, 200);
		json_t *b = json_loads(f->rs.body, 0, NULL);
		seen += json_array_size(json_object_get(b, "value"));
		const char *next = json_string_value(json_object_get(b, "nextLink"));
		const char *tok = next ? strstr(next, "$skipToken=") : NULL;
		snprintf(skip, sizeof(skip), "%s", tok ? tok + 11 : "");
		json_decref(b);
		if (!next)
			break;
	}
	/* the default's six record sets and the SOA */
	assert_int_equal(seen, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_from_the_schema),
		cmocka_unit_test_setup_teardown(test_tokens_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_rule_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_and_operations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operations_take_time, setup_slow, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
