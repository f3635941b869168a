/*
 * gRPC as data: length-prefixed framing, grpc-timeout, percent-encoded
 * grpc-message, the method registry, status and exit code mappings
 * (design.md §6).
 */
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

static void test_frame_unpack_single_message(void **state)
{
	uint8_t body[5 + 3];
	const uint8_t *msg = NULL;
	size_t len = 0;
	const char *why = NULL;

	api_frame_header(body, 3);
	memcpy(body + 5, "abc", 3);
	assert_int_equal(api_frame_unpack(body, sizeof(body), &msg, &len, &why), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(msg, "abc", 3);

	/* an empty message is 5 bytes of header and valid */
	api_frame_header(body, 0);
	assert_int_equal(api_frame_unpack(body, 5, &msg, &len, &why), 0);
	assert_int_equal(len, 0);

	/* big-endian length */
	api_frame_header(body, 0x01020304);
	assert_int_equal(body[0], 0);
	assert_int_equal(body[1], 1);
	assert_int_equal(body[4], 4);
}

static void test_frame_unpack_rejects(void **state)
{
	uint8_t body[16] = {0};
	const uint8_t *msg = NULL;
	size_t len = 0;
	const char *why = NULL;

	assert_int_equal(api_frame_unpack(body, 0, &msg, &len, &why), API_STATUS_INVALID_ARGUMENT);
	assert_string_equal(why, "no request message");
	assert_int_equal(api_frame_unpack(body, 4, &msg, &len, &why), API_STATUS_INVALID_ARGUMENT);
	/* length says 10, 3 bytes follow */
	api_frame_header(body, 10);
	assert_int_equal(api_frame_unpack(body, 8, &msg, &len, &why), API_STATUS_INVALID_ARGUMENT);
	assert_string_equal(why, "truncated gRPC message");
	/* two messages in a unary call */
	api_frame_header(body, 0);
	api_frame_header(body + 5, 0);
	assert_int_equal(api_frame_unpack(body, 10, &msg, &len, &why), API_STATUS_INVALID_ARGUMENT);
	/* compressed flag: we announce no encoding, so UNIMPLEMENTED */
	api_frame_header(body, 0);
	body[0] = 1;
	assert_int_equal(api_frame_unpack(body, 5, &msg, &len, &why), API_STATUS_UNIMPLEMENTED);
	body[0] = 0x80;
	assert_int_equal(api_frame_unpack(body, 5, &msg, &len, &why), API_STATUS_INVALID_ARGUMENT);
}

static void test_timeout_parse(void **state)
{
	static const struct {
		const char *text;
		int ret;
		uint64_t ms;
	} cases[] = {
		{"100m", 0, 100},	 {"5S", 0, 5000},	  {"2M", 0, 120000},
		{"1H", 0, 3600000},	 {"1500u", 0, 2},	  {"1n", 0, 1},
		{"99999999m", 0, 99999999}, {"123456789m", PR_EPARSE, 0}, {"m", PR_EPARSE, 0},
		{"10x", PR_EPARSE, 0},	 {"1 m", PR_EPARSE, 0},   {"-1S", PR_EPARSE, 0},
		{"", PR_EPARSE, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 77;
		int ret = api_timeout_parse(cases[i].text, strlen(cases[i].text), &ms);
		assert_int_equal(ret, cases[i].ret);
		assert_true(ms == (ret == 0 ? cases[i].ms : 77)); /* written only on success */
	}
}

static void test_percent_encoding(void **state)
{
	char *e = api_percent_encode("F-5: 168.63.129.16 is 100% invalid\n\xc3\xa9");
	assert_string_equal(e, "F-5: 168.63.129.16 is 100%25 invalid%0A%C3%A9");
	char *d = api_percent_decode(e, strlen(e));
	assert_string_equal(d, "F-5: 168.63.129.16 is 100% invalid\n\xc3\xa9");
	free(e);
	free(d);
	/* invalid escapes pass through unchanged */
	d = api_percent_decode("50%zz%4", 7);
	assert_string_equal(d, "50%zz%4");
	free(d);
}

static int dummy_handler(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			 api_status_t *status)
{
	return api_status_set(status, API_STATUS_INTERNAL, "unused");
}

static void test_registry(void **state)
{
	api_registry_t *r = api_registry_new();
	const ProtobufCMessageDescriptor *d = &privres__v1__get_dns_resolver_request__descriptor;
	static const char *const paths[] = {"/privres.v1.B/Get", "/privres.v1.A/List",
					    "/privres.v1.C/Delete", "/privres.v1.A/Get"};

	for (size_t i = 0; i < 4; i++)
		assert_int_equal(api_registry_add(r, paths[i], d, d, dummy_handler, NULL), 0);
	assert_int_equal(api_registry_add(r, "/privres.v1.A/Get", d, d, dummy_handler, NULL),
			 PR_EEXIST);
	assert_int_equal(api_registry_add(r, "privres.v1.A/Get", d, d, dummy_handler, NULL),
			 PR_ECONFIG);
	assert_int_equal(api_registry_add(r, "/privres.v1.A/", d, d, dummy_handler, NULL),
			 PR_ECONFIG);
	assert_int_equal(api_registry_add(r, "/A/B/C", d, d, dummy_handler, NULL), PR_ECONFIG);
	for (size_t i = 0; i < 4; i++) {
		const api_method_t *m = api_registry_find(r, paths[i], strlen(paths[i]));
		assert_non_null(m);
		assert_string_equal(m->path, paths[i]);
	}
	/* lengths are honoured: a prefix of a path is not that path */
	assert_null(api_registry_find(r, "/privres.v1.A/Ge", 16));
	assert_non_null(api_registry_find(r, "/privres.v1.A/Getxyz", 17));
	assert_null(api_registry_find(r, "/privres.v1.A/Put", 17));
	api_registry_destroy(&r);
	assert_null(r);
	api_registry_destroy(&r);
}

/* Errors of the contract become the status a gRPC client sees, and
 * privresctl's exit codes follow (design.md §6: 1 rejected, 3 unreachable). */
static void test_status_mappings(void **state)
{
	assert_int_equal(api_status_from_error(0), API_STATUS_OK);
	assert_int_equal(api_status_from_error(PR_ECONFIG), API_STATUS_INVALID_ARGUMENT);
	assert_int_equal(api_status_from_error(PR_ELOOP), API_STATUS_FAILED_PRECONDITION); /* P-1 */
	assert_int_equal(api_status_from_error(PR_EIMMUTABLE),
			 API_STATUS_FAILED_PRECONDITION); /* F-7 */
	assert_int_equal(api_status_from_error(PR_ENOTFOUND), API_STATUS_NOT_FOUND);
	assert_int_equal(api_status_from_error(PR_EEXIST), API_STATUS_ALREADY_EXISTS);
	assert_int_equal(api_status_from_error(PR_ELIMIT), API_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(api_status_from_error(PR_EINUSE), API_STATUS_FAILED_PRECONDITION);
	assert_int_equal(api_status_from_error(PR_EIO), API_STATUS_INTERNAL);

	assert_int_equal(api_exit_code_for_status(API_STATUS_OK), 0);
	assert_int_equal(api_exit_code_for_status(API_STATUS_INVALID_ARGUMENT), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_NOT_FOUND), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_ALREADY_EXISTS), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_FAILED_PRECONDITION), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_RESOURCE_EXHAUSTED), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_UNAUTHENTICATED), 1);
	assert_int_equal(api_exit_code_for_status(API_STATUS_UNAVAILABLE), 3);
	assert_int_equal(api_exit_code_for_status(API_STATUS_DEADLINE_EXCEEDED), 3);

	assert_string_equal(api_status_name(API_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED");
	assert_string_equal(api_status_name(API_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(api_status_name(99), "UNKNOWN");
	assert_string_equal(api_status_name(-1), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_unpack_single_message),
		cmocka_unit_test(test_frame_unpack_rejects),
		cmocka_unit_test(test_timeout_parse),
		cmocka_unit_test(test_percent_encoding),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_status_mappings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
