/*
 * pbjson: the proto3 JSON mapping both ways, for every field kind, and the
 * cloud's property names for privres.proto resources (design.md §5, §6).
 */
#include <math.h>
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
#include "api/privres.pb-c.h"
#include "base/base.h"
#include "pbjson_test.pb-c.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return j;
}

/* Convert text to a message of desc; returns the message (owned) or NULL with
 * *why (owned). */
static ProtobufCMessage *from_text(const ProtobufCMessageDescriptor *desc, const char *text,
				   char **why)
{
	json_t *j = parse(text);
	ProtobufCMessage *m = NULL;
	int ret = pbjson_to_message(desc, j, &m, why);
	json_decref(j);
	if (ret == 0)
		assert_non_null(m);
	else
		assert_int_equal(ret, PR_EPARSE);
	return ret == 0 ? m : NULL;
}

static void assert_json_equal(const json_t *got, const char *expected_text)
{
	json_t *expected = parse(expected_text);
	if (!json_equal(got, expected)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		char *e = json_dumps(expected, JSON_SORT_KEYS);
		print_error("got      %s\nexpected %s\n", g, e);
		free(g);
		free(e);
		json_decref(expected);
		fail();
	}
	json_decref(expected);
}

static const char all_json[] =
	"{\"anInt32\": -5, \"aSint32\": -7, \"aSfixed32\": 9, \"aUint32\": 4000000000,"
	" \"aFixed32\": 1, \"anInt64\": \"-9223372036854775808\", \"aSint64\": \"-3\","
	" \"aUint64\": \"18446744073709551615\", \"aFixed64\": \"7\", \"aFloat\": 1.5,"
	" \"aDouble\": 0.25, \"aBool\": true, \"aString\": \"h\\u00e9llo\","
	" \"someBytes\": \"AAEC/w==\", \"aColor\": \"GREEN\","
	" \"inner\": {\"label\": \"in\", \"weight\": 3},"
	" \"names\": [\"a\", \"b\"], \"numbers\": [1, -2, 3],"
	" \"inners\": [{\"label\": \"x\"}, {\"weight\": 2}],"
	" \"colors\": [\"RED\", \"GREEN\"],"
	" \"labels\": {\"k1\": \"v1\", \"k2\": \"\"},"
	" \"byId\": {\"7\": {\"label\": \"seven\"}},"
	" \"choiceInner\": {\"label\": \"picked\"},"
	" \"blobs\": [\"aGk=\", \"\"], \"bigNumbers\": [\"1\", \"-1099511627776\"],"
	" \"flags\": {\"true\": \"5\"}}";

/* Every kind of field, JSON -> message -> JSON gives the same document. */
static void test_pbjson_round_trip_all_kinds(void **state)
{
	char *why = NULL;
	ProtobufCMessage *m = from_text(&pbjsontest__all__descriptor, all_json, &why);
	assert_null(why);
	Pbjsontest__All *a = (Pbjsontest__All *)m;

	assert_int_equal(a->an_int32, -5);
	assert_int_equal(a->a_uint32, 4000000000u);
	assert_true(a->an_int64 == INT64_MIN);
	assert_true(a->a_uint64 == UINT64_MAX);
	assert_true(a->a_float == 1.5f);
	assert_true(a->a_bool);
	assert_string_equal(a->a_string, "h\xc3\xa9llo");
	assert_int_equal(a->some_bytes.len, 4);
	assert_int_equal(a->some_bytes.data[3], 0xff);
	assert_int_equal(a->a_color, PBJSONTEST__COLOR__GREEN);
	assert_string_equal(a->inner->label, "in");
	assert_int_equal(a->n_numbers, 3);
	assert_int_equal(a->numbers[1], -2);
	assert_int_equal(a->n_inners, 2);
	assert_int_equal(a->inners[1]->weight, 2);
	assert_int_equal(a->n_labels, 2);
	assert_int_equal(a->n_by_id, 1);
	assert_int_equal(a->by_id[0]->key, 7);
	assert_string_equal(a->by_id[0]->value->label, "seven");
	assert_int_equal(a->choice_case, PBJSONTEST__ALL__CHOICE_CHOICE_INNER);
	assert_string_equal(a->choice_inner->label, "picked");
	assert_int_equal(a->n_blobs, 2);
	assert_int_equal(a->blobs[1].len, 0);
	assert_true(a->big_numbers[1] == -1099511627776LL);
	assert_true(a->flags[0]->key);
	assert_true(a->flags[0]->value == 5);

	/* through the wire too: pack, unpack, back to JSON */
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n);
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *m2 = protobuf_c_message_unpack(&pbjsontest__all__descriptor, NULL, n, buf);
	assert_non_null(m2);
	json_t *out = NULL;
	assert_int_equal(pbjson_from_message(m2, &out), 0);
	assert_json_equal(out, all_json);

	json_decref(out);
	free(buf);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* proto3: fields at their default are omitted; an empty message is {}. */
static void test_pbjson_defaults_omitted(void **state)
{
	Pbjsontest__All a = PBJSONTEST__ALL__INIT;
	Pbjsontest__Inner inner = PBJSONTEST__INNER__INIT;
	json_t *out = NULL;

	assert_int_equal(pbjson_from_message(&a.base, &out), 0);
	assert_json_equal(out, "{}");
	json_decref(out);

	/* a set sub-message is present even when empty; zero oneof members too */
	a.inner = &inner;
	a.choice_case = PBJSONTEST__ALL__CHOICE_CHOICE_NUMBER;
	a.choice_number = 0;
	a.a_double = -0.0;
	assert_int_equal(pbjson_from_message(&a.base, &out), 0);
	assert_json_equal(out, "{\"inner\": {}, \"choiceNumber\": 0, \"aDouble\": -0.0}");
	json_decref(out);
}

/* Original proto names are accepted as well as lowerCamelCase; null is absent;
 * numbers may come as strings and integral reals; enums as numbers. */
static void test_pbjson_input_forms(void **state)
{
	char *why = NULL;
	ProtobufCMessage *m = from_text(&pbjsontest__all__descriptor,
					"{\"an_int32\": \"12\", \"a_uint64\": 3, \"aDouble\": \"NaN\","
					" \"aFloat\": \"-Infinity\", \"aColor\": 1, \"names\": null,"
					" \"a_sint32\": 2.0, \"someBytes\": \"-_8\"}",
					&why);
	assert_null(why);
	Pbjsontest__All *a = (Pbjsontest__All *)m;
	assert_int_equal(a->an_int32, 12);
	assert_true(a->a_uint64 == 3);
	assert_true(isnan(a->a_double));
	assert_true(isinf(a->a_float) && a->a_float < 0);
	assert_int_equal(a->a_color, PBJSONTEST__COLOR__RED);
	assert_int_equal(a->n_names, 0);
	assert_int_equal(a->a_sint32, 2);
	/* URL-safe alphabet without padding: "-_8" is 0xfb 0xff */
	assert_int_equal(a->some_bytes.len, 2);
	assert_int_equal(a->some_bytes.data[0], 0xfb);

	json_t *out = NULL;
	assert_int_equal(pbjson_from_message(m, &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "aDouble")), "NaN");
	assert_string_equal(json_string_value(json_object_get(out, "aFloat")), "-Infinity");
	assert_string_equal(json_string_value(json_object_get(out, "someBytes")), "+/8=");
	json_decref(out);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
			 const char *fragment)
{
	char *why = NULL;
	ProtobufCMessage *m = from_text(desc, text, &why);
	assert_null(m);
	assert_non_null(why);
	if (!strstr(why, fragment))
		fail_msg("error \"%s\" does not say \"%s\"", why, fragment);
	free(why);
}

/* Unknown keys are errors naming the path, with a "did you mean" (style.md §12). */
static void test_pbjson_unknown_keys_rejected(void **state)
{
	expect_error(&pbjsontest__all__descriptor, "{\"nope\": 1}", "nope: unknown field");
	expect_error(&pbjsontest__all__descriptor, "{\"inner\": {\"lable\": \"x\"}}",
		     "inner.lable: unknown field of pbjsontest.Inner");
	expect_error(&pbjsontest__all__descriptor, "{\"AnInt32\": 1}", "did you mean \"anInt32\"");
	expect_error(&pbjsontest__all__descriptor, "{\"inners\": [{}, {\"x\": 1}]}",
		     "inners[1].x: unknown field");
}

/* Wrong types, ranges and values name the field and what was expected. */
static void test_pbjson_wrong_types_rejected(void **state)
{
	const ProtobufCMessageDescriptor *d = &pbjsontest__all__descriptor;

	expect_error(d, "[]", "expected an object");
	expect_error(d, "{\"anInt32\": \"x\"}", "anInt32: expected an integer");
	expect_error(d, "{\"anInt32\": 2147483648}", "out of range");
	expect_error(d, "{\"anInt32\": 1.5}", "expected an integer");
	expect_error(d, "{\"aUint32\": -1}", "expected an unsigned integer");
	expect_error(d, "{\"aUint64\": \"-1\"}", "expected an unsigned integer");
	expect_error(d, "{\"aString\": 5}", "aString: expected a string, got an integer");
	expect_error(d, "{\"aBool\": \"true\"}", "aBool: expected true or false");
	expect_error(d, "{\"aColor\": \"BLUE\"}", "\"BLUE\" is not one of");
	expect_error(d, "{\"someBytes\": \"!!\"}", "someBytes: not valid base64");
	expect_error(d, "{\"inner\": []}", "inner: expected an object, got an array");
	expect_error(d, "{\"names\": \"a\"}", "names: expected an array");
	expect_error(d, "{\"names\": [\"a\", null]}", "names[1]: null is not allowed");
	expect_error(d, "{\"numbers\": [1, \"two\"]}", "numbers[1]: expected an integer");
	expect_error(d, "{\"labels\": [\"a\"]}", "labels: expected an object (a map)");
	expect_error(d, "{\"byId\": {\"seven\": {}}}", "byId[\"seven\"]");
	expect_error(d, "{\"flags\": {\"yes\": \"1\"}}", "is not true or false");
	expect_error(d, "{\"aFloat\": 1e39}", "does not fit a float");
	expect_error(d, "{\"aString\": \"a\\u0000b\"}", "NUL");
	/* one oneof, one member; a field given under both of its names */
	expect_error(d, "{\"choiceText\": \"a\", \"choiceNumber\": 1}", "same oneof");
	expect_error(d, "{\"anInt32\": 1, \"an_int32\": 2}", "given twice");
}

/* privres.proto resources read and write the cloud's property names
 * (addressPrefixes, targetDnsServers, forwardingRuleState, ...; design.md §5). */
static void test_pbjson_cloud_property_names(void **state)
{
	static const char rule[] =
		"{\"name\": \"OnPrem\", \"domainName\": \"corp.contoso.com.\","
		" \"targetDnsServers\": [{\"ipAddress\": \"10.100.0.2\", \"port\": 53},"
		"                        {\"ipAddress\": \"10.100.0.3\"}],"
		" \"forwardingRuleState\": \"Enabled\", \"metadata\": {\"owner\": \"net\"}}";
	static const char vnet[] =
		"{\"name\": \"hub\", \"location\": \"eastus\", \"addressPrefixes\": [\"10.10.0.0/16\"],"
		" \"subnets\": [{\"name\": \"snet-inbound\", \"addressPrefix\": \"10.10.0.0/28\","
		" \"delegation\": \"Microsoft.Network/dnsResolvers\"}]}";
	static const char ie[] =
		"{\"name\": \"in\", \"subnet\": \"snet-inbound\","
		" \"privateIpAllocationMethod\": \"Dynamic\", \"privateIpAddress\": \"10.10.0.4\"}";
	static const char link[] =
		"{\"name\": \"hub-link\", \"virtualNetwork\": \"hub\", \"registrationEnabled\": true,"
		" \"resolutionPolicy\": \"NxDomainRedirect\"}";
	static const char dsr[] =
		"{\"name\": \"block-rest\", \"priority\": 65000, \"action\": {\"actionType\": \"Block\"},"
		" \"dnsResolverDomainLists\": [\"everything\"], \"dnsSecurityRuleState\": \"Enabled\"}";
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *text;
	} cases[] = {
		{&privres__v1__forwarding_rule__descriptor, rule},
		{&privres__v1__virtual_network__descriptor, vnet},
		{&privres__v1__inbound_endpoint__descriptor, ie},
		{&privres__v1__private_zone_virtual_network_link__descriptor, link},
		{&privres__v1__dns_security_rule__descriptor, dsr},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *why = NULL;
		ProtobufCMessage *m = from_text(cases[i].d, cases[i].text, &why);
		assert_null(why);
		json_t *out = NULL;
		assert_int_equal(pbjson_from_message(m, &out), 0);
		assert_json_equal(out, cases[i].text);
		json_decref(out);
		protobuf_c_message_free_unpacked(m, NULL);
	}

	char *why = NULL;
	Privres__V1__ForwardingRule *r = (Privres__V1__ForwardingRule *)from_text(
		&privres__v1__forwarding_rule__descriptor, rule, &why);
	assert_int_equal(r->n_target_dns_servers, 2);
	assert_int_equal(r->target_dns_servers[0]->port, 53);
	assert_int_equal(r->target_dns_servers[1]->port, 0); /* default 53 is the model's (F-4) */
	assert_string_equal(r->metadata[0]->key, "owner");
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_pbjson_camel_name(void **state)
{
	static const char *const cases[][2] = {
		{"address_prefixes", "addressPrefixes"},
		{"dns_resolver_outbound_endpoints", "dnsResolverOutboundEndpoints"},
		{"name", "name"},
		{"private_ip_address", "privateIpAddress"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = pbjson_camel_name(cases[i][0]);
		assert_string_equal(c, cases[i][1]);
		free(c);
	}
}

/* The method table of the schema: every service has its operations. */
static void test_pbjson_schema_methods(void **state)
{
	const ProtobufCMessageDescriptor *in = NULL, *out = NULL;

	assert_int_equal(api_schema_method("/privres.v1.ForwardingRuleService/CreateOrUpdate", &in,
					   &out),
			 0);
	assert_ptr_equal(in, &privres__v1__create_or_update_forwarding_rule_request__descriptor);
	assert_ptr_equal(out, &privres__v1__forwarding_rule__descriptor);
	assert_int_equal(api_schema_method("DeploymentService/Apply", &in, &out), 0);
	assert_ptr_equal(out, &privres__v1__deployment_result__descriptor);
	assert_int_equal(api_schema_method("/privres.v1.ForwardingRuleService/Nope", &in, &out),
			 PR_ENOTFOUND);
	assert_int_equal(api_schema_method("/privres.v1.Nope/Get", &in, &out), PR_ENOTFOUND);
	assert_int_equal(api_schema_method("nothing", &in, &out), PR_ENOTFOUND);

	const ProtobufCServiceDescriptor *const *s = api_schema_services();
	size_t n = 0;
	for (; s[n]; n++) {
		if (strcmp(s[n]->short_name, "DeploymentService") == 0 ||
		    strcmp(s[n]->short_name, "DiagnosticsService") == 0)
			continue;
		/* CreateOrUpdate, Get, List, Delete per resource type (design.md §6);
		 * external servers also Scavenge (E-4) */
		bool external = strcmp(s[n]->short_name, "ExternalDnsServerService") == 0;
		assert_int_equal(s[n]->n_methods, external ? 5 : 4);
		assert_non_null(protobuf_c_service_descriptor_get_method_by_name(s[n], "List"));
	}
	assert_int_equal(n, 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pbjson_round_trip_all_kinds),
		cmocka_unit_test(test_pbjson_defaults_omitted),
		cmocka_unit_test(test_pbjson_input_forms),
		cmocka_unit_test(test_pbjson_unknown_keys_rejected),
		cmocka_unit_test(test_pbjson_wrong_types_rejected),
		cmocka_unit_test(test_pbjson_cloud_property_names),
		cmocka_unit_test(test_pbjson_camel_name),
		cmocka_unit_test(test_pbjson_schema_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
