/* EDNS(0) padding of answers over DoT and DoH (RFC 7830, RFC 8467 §4.1; W-6):
 * block lengths, an echoed padding option replaced, answers without OPT or
 * malformed left alone, queries that ask and queries that do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "dns/dns.h"

/* A message: header, web.example. A IN, optional answer A, optional OPT
 * with the given options. Returns its length. */
static size_t message(uint8_t *w, bool response, bool answer, const uint8_t *opts, size_t olen,
		      bool opt)
{
	static const uint8_t q[] = {3, 'w', 'e', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
				    0, 1, 0, 1};
	size_t n = 0;
	uint8_t hdr[12] = {0x12, 0x34, response ? 0x81 : 0x01, 0, 0, 1, 0, answer, 0, 0, 0, opt};
	memcpy(w, hdr, 12);
	n = 12;
	memcpy(w + n, q, sizeof(q));
	n += sizeof(q);
	if (answer) {
		static const uint8_t a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 10, 2, 5};
		memcpy(w + n, a, sizeof(a));
		n += sizeof(a);
	}
	if (opt) {
		uint8_t o[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, (uint8_t)(olen >> 8),
				 (uint8_t)olen};
		memcpy(w + n, o, sizeof(o));
		n += sizeof(o);
		if (olen > 0)
			memcpy(w + n, opts, olen);
		n += olen;
	}
	return n;
}

static void test_wants_padding(void **state)
{
	uint8_t w[512];
	static const uint8_t pad[] = {0, 12, 0, 3, 0, 0, 0};
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_true(dns_query_wants_padding(w, message(w, false, false, pad, sizeof(pad), true)));
	assert_false(dns_query_wants_padding(w, message(w, false, false, cookie, sizeof(cookie), true)));
	assert_false(dns_query_wants_padding(w, message(w, false, false, NULL, 0, true)));
	assert_false(dns_query_wants_padding(w, message(w, false, false, NULL, 0, false)));
	assert_false(dns_query_wants_padding(w, 5));
}

static void test_block_length(void **state)
{
	uint8_t a[512], out[2048];
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	size_t n = message(a, true, true, cookie, sizeof(cookie), true);
	size_t m = dns_pad_answer(a, n, 468, out, sizeof(out));
	assert_int_equal(m, 468);
	assert_memory_equal(out, a, 12); /* header and counts unchanged */
	/* The cookie is kept, the padding follows it, the RDLENGTH covers both. */
	size_t rd = n - sizeof(cookie);
	assert_memory_equal(out + rd, cookie, sizeof(cookie));
	assert_int_equal(out[rd + 12], 0);
	assert_int_equal(out[rd + 13], 12);
	assert_int_equal((out[rd - 2] << 8 | out[rd - 1]), m - rd);
	/* Block 128: the next multiple. */
	assert_int_equal(dns_pad_answer(a, n, 128, out, sizeof(out)) % 128, 0);
}

static void test_echoed_padding_replaced(void **state)
{
	uint8_t a[1024], out[2048];
	uint8_t pad[304] = {0, 12, 1, 44}; /* 300 octets of the query's padding, echoed */
	size_t n = message(a, true, true, pad, sizeof(pad), true);
	size_t m = dns_pad_answer(a, n, 468, out, sizeof(out));
	assert_int_equal(m, 468); /* not 468 * 2: the echo is gone */
}

static void test_left_alone(void **state)
{
	uint8_t a[512], out[2048];
	size_t n = message(a, true, true, NULL, 0, false);
	assert_int_equal(dns_pad_answer(a, n, 468, out, sizeof(out)), 0); /* no OPT */
	n = message(a, true, true, NULL, 0, true);
	assert_int_equal(dns_pad_answer(a, n - 3, 468, out, sizeof(out)), 0); /* cut */
	assert_int_equal(dns_pad_answer(a, n, 468, out, 100), 0);               /* no room */
	assert_int_equal(dns_pad_answer(a, n, 0, out, sizeof(out)), 0);
	static const uint8_t bad[] = {0, 12, 0, 9, 0}; /* an option longer than the RDATA */
	n = message(a, true, true, bad, sizeof(bad), true);
	assert_int_equal(dns_pad_answer(a, n, 468, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_padding),
		cmocka_unit_test(test_block_length),
		cmocka_unit_test(test_echoed_padding_replaced),
		cmocka_unit_test(test_left_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
