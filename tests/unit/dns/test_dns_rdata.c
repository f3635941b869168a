/* Record values as in a zone file (design.md §5), read with libzscanner. */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* Under UNIT_TESTING cmocka renames the allocator; the library allocates with
 * the real one, so the tests free with it too. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "base/base.h"
#include "dns/dns.h"

static uint8_t origin[DNS_NAME_MAXLEN];

static int setup(void **state)
{
	assert_int_equal(dns_name_from_text("contoso.com.", origin, NULL, NULL), 0);
	return 0;
}

static void test_rrtype_text(void **state)
{
	uint16_t t = 0;
	char buf[32];
	assert_int_equal(dns_rrtype_from_text("MX", &t), 0);
	assert_int_equal(t, KNOT_RRTYPE_MX);
	assert_int_equal(dns_rrtype_from_text("srv", &t), 0);
	assert_int_equal(t, KNOT_RRTYPE_SRV);
	assert_int_equal(dns_rrtype_from_text("TYPE65280", &t), 0);
	assert_int_equal(t, 65280);
	t = 7;
	assert_int_equal(dns_rrtype_from_text("NOPE", &t), PR_EPARSE);
	assert_int_equal(t, 7); /* out-param untouched on failure (style 5) */
	assert_string_equal(dns_rrtype_to_text(KNOT_RRTYPE_AAAA, buf, sizeof(buf)), "AAAA");
	assert_string_equal(dns_rrtype_to_text(65280, buf, sizeof(buf)), "TYPE65280");
}

static void test_a_and_aaaa(void **state)
{
	uint8_t rd[64];
	size_t len = 0;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_A, "10.10.2.5", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(rd, "\x0a\x0a\x02\x05", 4);
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_AAAA, "fd00::5", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(len, 16);
	assert_int_equal(rd[0], 0xfd);
	assert_int_equal(rd[15], 5);
}

static void test_mx_relative_name_completed(void **state)
{
	uint8_t rd[300];
	size_t len = 0;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_MX, "10 mail", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(knot_wire_read_u16(rd), 10);
	uint8_t want[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text("mail.contoso.com.", want, NULL, NULL), 0);
	assert_int_equal(len, 2 + knot_dname_size(want));
	assert_memory_equal(rd + 2, want, knot_dname_size(want));
	/* Absolute names are kept as they are. */
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_MX, "10 mail.fabrikam.com.", origin, rd,
					     sizeof(rd), &len, NULL), 0);
	assert_int_equal(dns_name_from_text("mail.fabrikam.com.", want, NULL, NULL), 0);
	assert_memory_equal(rd + 2, want, knot_dname_size(want));
}

static void test_srv(void **state)
{
	uint8_t rd[300];
	size_t len = 0;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_SRV, "0 5 5060 sip.contoso.com.", NULL, rd,
					     sizeof(rd), &len, NULL), 0);
	assert_int_equal(knot_wire_read_u16(rd), 0);
	assert_int_equal(knot_wire_read_u16(rd + 2), 5);
	assert_int_equal(knot_wire_read_u16(rd + 4), 5060);
}

static void test_txt_forms(void **state)
{
	uint8_t rd[2048];
	size_t len = 0;
	/* A bare value is one string, spaces included (the cloud's meaning). */
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_TXT, "v=spf1 -all", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(len, 12);
	assert_int_equal(rd[0], 11);
	assert_memory_equal(rd + 1, "v=spf1 -all", 11);
	/* Quoted: zone-file strings, here two of them. */
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_TXT, "\"one\" \"two\"", origin, rd,
					     sizeof(rd), &len, NULL), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(rd, "\x03one\x03two", 8);
	/* A bare value may hold quotes and backslashes; they are taken literally. */
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_TXT, "a\"b\\c;d", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(rd + 1, "a\"b\\c;d", 7);
	/* Longer than 255 octets: split in 255-octet strings. */
	char longtxt[301];
	memset(longtxt, 'x', 300);
	longtxt[300] = 0;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_TXT, longtxt, origin, rd, sizeof(rd),
					     &len, NULL), 0);
	assert_int_equal(len, 302);
	assert_int_equal(rd[0], 255);
	assert_int_equal(rd[256], 45);
}

static void test_bad_values_explain(void **state)
{
	uint8_t rd[300];
	size_t len = 99;
	char *why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_MX, "mail.contoso.com.", origin, rd,
					     sizeof(rd), &len, &why), PR_EPARSE);
	assert_non_null(why);
	assert_non_null(strstr(why, "MX needs 'preference exchange'"));
	assert_non_null(strstr(why, "10 mail.contoso.com."));
	assert_int_equal(len, 99);
	free(why);

	why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_A, "10.0.0.300", origin, rd, sizeof(rd),
					     &len, &why), PR_EPARSE);
	assert_non_null(strstr(why, "A needs an IPv4 address"));
	free(why);

	why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_SRV, "0 5 sip.contoso.com.", origin, rd,
					     sizeof(rd), &len, &why), PR_EPARSE);
	assert_non_null(strstr(why, "priority weight port target"));
	free(why);

	/* A newline could smuggle a second record in. */
	why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_A, "10.0.0.1\nx 0 IN A 10.0.0.2", origin,
					     rd, sizeof(rd), &len, &why), PR_EPARSE);
	assert_non_null(why);
	free(why);

	why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_A, "", origin, rd, sizeof(rd), &len, &why),
			 PR_EPARSE);
	assert_non_null(why);
	free(why);

	/* Too small a buffer is not a parse error. */
	why = NULL;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_A, "10.0.0.1", origin, rd, 2, &len, &why),
			 -ENOSPC);
	free(why);
}

static void test_rdata_to_text_roundtrip(void **state)
{
	uint8_t rd[300];
	size_t len = 0;
	assert_int_equal(dns_rdata_from_text(KNOT_RRTYPE_MX, "10 mail", origin, rd, sizeof(rd),
					     &len, NULL), 0);
	knot_rrset_t rr;
	knot_rrset_init(&rr, origin, KNOT_RRTYPE_MX, KNOT_CLASS_IN, 300);
	assert_int_equal(knot_rrset_add_rdata(&rr, rd, (uint16_t)len, NULL), 0);
	char out[256];
	assert_true(dns_rdata_to_text(&rr, 0, out, sizeof(out)) > 0);
	assert_string_equal(out, "10 mail.contoso.com.");
	assert_int_equal(dns_rdata_to_text(&rr, 1, out, sizeof(out)), -EINVAL);
	knot_rdataset_clear(&rr.rrs, NULL);
}

/* An HTTPS value from an outside answer whose target name runs past the
 * value (found by fuzz_log_sections): worded in RFC 3597's generic form. */
static void test_rdata_to_text_broken_name_generic(void **state)
{
	(void)state;
	static const uint8_t rd[] = {0x0b, 'b', 'l', 'o', 'c', 'o', 'k', 'p', 'l', 'i', 'c', 'y',
				     0x08, 'a', 'z', 'u', 'r', 'e', 'd', 'n', 's'};
	knot_rrset_t rr;
	knot_rrset_init(&rr, origin, KNOT_RRTYPE_HTTPS, KNOT_CLASS_IN, 60);
	assert_int_equal(knot_rrset_add_rdata(&rr, rd, sizeof(rd), NULL), 0);
	char out[256];
	assert_true(dns_rdata_to_text(&rr, 0, out, sizeof(out)) > 0);
	assert_string_equal(out, "\\# 21 0b626c6f636f6b706c69637908617a757265646e73");
	char small[8];
	assert_int_equal(dns_rdata_to_text(&rr, 0, small, sizeof(small)), -ENOSPC);
	knot_rdataset_clear(&rr.rrs, NULL);
}

/* Values whose own lengths run past their end (found by fuzz_update: an
 * NSEC3 with a salt of 255 octets in 11) are worded generically; whole ones
 * keep their own form. */
static void test_rdata_to_text_inner_lengths_checked(void **state)
{
	(void)state;
	static const struct {
		uint16_t type;
		uint8_t rd[12];
		uint16_t len;
		bool whole;
	} cases[] = {
		{KNOT_RRTYPE_NSEC3, {0, 0, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0}, 11, false},
		{KNOT_RRTYPE_NSEC3, {1, 0, 0, 10, 1, 0xab, 2, 1, 2, 0, 1, 0x40}, 12, true},
		{KNOT_RRTYPE_NSEC3PARAM, {1, 0, 0, 10, 4, 0xab}, 6, false},
		{KNOT_RRTYPE_NSEC, {0, 0, 40}, 3, false},
		{KNOT_RRTYPE_NSEC, {0, 0, 1, 0x40}, 4, true},
		{KNOT_RRTYPE_CSYNC, {0, 0, 0, 1, 0, 0, 7, 1}, 8, false},
		{KNOT_RRTYPE_CAA, {0, 9, 'i', 's', 's'}, 5, false},
		{KNOT_RRTYPE_TXT, {3, 'a', 'b'}, 3, false},
		{KNOT_RRTYPE_TXT, {2, 'a', 'b', 1, 'c'}, 5, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		knot_rrset_t rr;
		knot_rrset_init(&rr, origin, cases[i].type, KNOT_CLASS_IN, 60);
		assert_int_equal(knot_rrset_add_rdata(&rr, cases[i].rd, cases[i].len, NULL), 0);
		char out[512];
		assert_true(dns_rdata_to_text(&rr, 0, out, sizeof(out)) > 0);
		if (cases[i].whole != (strncmp(out, "\\# ", 3) != 0))
			fail_msg("case %zu: %s", i, out);
		knot_rdataset_clear(&rr.rrs, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rrtype_text),
		cmocka_unit_test(test_a_and_aaaa),
		cmocka_unit_test(test_mx_relative_name_completed),
		cmocka_unit_test(test_srv),
		cmocka_unit_test(test_txt_forms),
		cmocka_unit_test(test_bad_values_explain),
		cmocka_unit_test(test_rdata_to_text_roundtrip),
		cmocka_unit_test(test_rdata_to_text_broken_name_generic),
		cmocka_unit_test(test_rdata_to_text_inner_lengths_checked),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
