/* Unit tests of TCP framing (RFC 1035 §4.2.2, RFC 7766 §8; W-1, W-3) and of the
 * per-connection budget (in-flight cap, write-queue cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include "endpoints/endpoints_p.h"

/* cmocka last: under UNIT_TESTING it redefines malloc and free. */
#include <cmocka.h>

/* Append a framed message of len octets, byte i = (seed + i). */
static size_t put_msg(uint8_t *out, size_t len, uint8_t seed)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	for (size_t i = 0; i < len; i++)
		out[2 + i] = (uint8_t)(seed + i);
	return len + 2;
}

/* Feed n octets in chunks of at most chunk octets through reserve/commit. */
static void feed(ep_frame_t *f, const uint8_t *data, size_t n, size_t chunk)
{
	while (n > 0) {
		uint8_t *p;
		size_t room;
		ep_frame_reserve(f, &p, &room);
		assert_true(room > 0);
		size_t k = n < chunk ? n : chunk;
		if (k > room)
			k = room;
		memcpy(p, data, k);
		ep_frame_commit(f, k);
		data += k;
		n -= k;
	}
}

static void check_msg(const uint8_t *msg, size_t len, size_t want_len, uint8_t seed)
{
	assert_int_equal(len, want_len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(msg[i], (uint8_t)(seed + i));
}

/* W-1: a message split across reads byte by byte is reassembled whole. */
static void test_frame_partial_reads_w1(void **state)
{
	uint8_t wire[64];
	size_t n = put_msg(wire, 40, 7);
	ep_frame_t f;
	const uint8_t *msg;
	size_t len;
	ep_frame_init(&f);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ep_frame_next(&f, &msg, &len), 0);
		feed(&f, wire + i, 1, 1);
	}
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 40, 7);
	ep_frame_consume(&f);
	assert_int_equal(ep_frame_buffered(&f), 0);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 0);
	ep_frame_free(&f);
}

/* RFC 7766 §6.2.1.1: several pipelined messages in one read come out one by
 * one, in order, and a trailing partial one waits for its rest. */
static void test_frame_pipelined_in_one_read_w1(void **state)
{
	uint8_t wire[256];
	size_t n = 0;
	n += put_msg(wire + n, 12, 1);
	n += put_msg(wire + n, 30, 2);
	n += put_msg(wire + n, 50, 3);
	ep_frame_t f;
	const uint8_t *msg;
	size_t len;
	ep_frame_init(&f);
	feed(&f, wire, n - 10, n);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 12, 1);
	ep_frame_consume(&f);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 30, 2);
	ep_frame_consume(&f);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 0);
	feed(&f, wire + n - 10, 10, 10);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 50, 3);
	ep_frame_consume(&f);
	assert_int_equal(ep_frame_buffered(&f), 0);
	ep_frame_free(&f);
}

/* W-3: a length of 0, or under a DNS header's 12 octets, is an error. */
static void test_frame_bad_lengths_w3(void **state)
{
	static const uint8_t zero[] = {0, 0};
	static const uint8_t eleven[] = {0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	static const uint8_t twelve[] = {0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	ep_frame_t f;
	const uint8_t *msg;
	size_t len;

	ep_frame_init(&f);
	feed(&f, zero, 1, 1);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 0); /* prefix incomplete */
	feed(&f, zero + 1, 1, 1);
	assert_int_equal(ep_frame_next(&f, &msg, &len), PR_EPARSE);
	ep_frame_free(&f);

	ep_frame_init(&f);
	feed(&f, eleven, 2, 2); /* known bad from the prefix alone */
	assert_int_equal(ep_frame_next(&f, &msg, &len), PR_EPARSE);
	ep_frame_free(&f);

	ep_frame_init(&f);
	feed(&f, twelve, sizeof(twelve), 5);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	assert_int_equal(len, 12);
	ep_frame_free(&f);
}

/* The largest message (65535 octets) fits, arriving in uneven chunks after a
 * small one, and the buffer never needs more than one message of room. */
static void test_frame_largest_message(void **state)
{
	size_t n = 0;
	uint8_t *wire = malloc(2 + 20 + 2 + 65535);
	n += put_msg(wire + n, 20, 9);
	n += put_msg(wire + n, 65535, 4);
	ep_frame_t f;
	const uint8_t *msg;
	size_t len;
	ep_frame_init(&f);
	feed(&f, wire, n, 3000);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 20, 9);
	ep_frame_consume(&f);
	assert_int_equal(ep_frame_next(&f, &msg, &len), 1);
	check_msg(msg, len, 65535, 4);
	ep_frame_consume(&f);
	assert_true(f.cap <= 2 + 65535 + EP_FRAME_INITIAL);
	ep_frame_free(&f);
	free(wire);
}

/* A long-lived connection with a steady stream of partial reads keeps its
 * first buffer: the partial message is compacted to the front. */
static void test_frame_compaction_bounds_memory(void **state)
{
	uint8_t wire[128];
	ep_frame_t f;
	const uint8_t *msg;
	size_t len;
	size_t got = 0;
	ep_frame_init(&f);
	for (int i = 0; i < 2000; i++) {
		size_t n = put_msg(wire, 100, (uint8_t)i);
		/* two uneven pieces per message, the first ending mid-message */
		feed(&f, wire, 37, 37);
		while (ep_frame_next(&f, &msg, &len) == 1) {
			ep_frame_consume(&f);
			got++;
		}
		feed(&f, wire + 37, n - 37, 64);
		while (ep_frame_next(&f, &msg, &len) == 1) {
			check_msg(msg, len, 100, (uint8_t)i);
			ep_frame_consume(&f);
			got++;
		}
	}
	assert_int_equal(got, 2000);
	assert_int_equal(f.cap, EP_FRAME_INITIAL);
	ep_frame_free(&f);
}

/* RFC 7766 §6.2.1.1 with a cap: reading stops at max in flight and resumes
 * when one completes; a connection with queries in flight is not idle. */
static void test_budget_inflight_cap(void **state)
{
	ep_budget_t b;
	ep_budget_init(&b, 3, 100000);
	assert_true(ep_budget_is_idle(&b));
	for (int i = 0; i < 3; i++) {
		assert_true(ep_budget_may_read(&b));
		ep_budget_query_start(&b);
		assert_false(ep_budget_is_idle(&b));
	}
	assert_false(ep_budget_may_read(&b));
	ep_budget_query_end(&b);
	assert_true(ep_budget_may_read(&b));
	ep_budget_query_end(&b);
	ep_budget_query_end(&b);
	assert_true(ep_budget_is_idle(&b));
	/* a broken contract, not input: PR_REQUIRE */
	expect_assert_failure(ep_budget_query_end(&b));
}

/* W-3: unsent answer octets are capped; over the cap nothing is accounted and
 * the caller closes the connection. */
static void test_budget_write_queue_cap_w3(void **state)
{
	ep_budget_t b;
	ep_budget_init(&b, 10, 1000);
	assert_int_equal(ep_budget_write_admit(&b, 600), 0);
	assert_int_equal(ep_budget_write_admit(&b, 400), 0);
	assert_int_equal(b.queued, 1000);
	assert_int_equal(ep_budget_write_admit(&b, 1), -ENOBUFS);
	assert_int_equal(b.queued, 1000);
	ep_budget_write_done(&b, 600);
	assert_int_equal(ep_budget_write_admit(&b, 500), 0);
	assert_int_equal(ep_budget_write_admit(&b, (size_t)-1), -ENOBUFS); /* no overflow */
	assert_int_equal(b.queued, 900);
	expect_assert_failure(ep_budget_write_done(&b, 901));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_partial_reads_w1),
		cmocka_unit_test(test_frame_pipelined_in_one_read_w1),
		cmocka_unit_test(test_frame_bad_lengths_w3),
		cmocka_unit_test(test_frame_largest_message),
		cmocka_unit_test(test_frame_compaction_bounds_memory),
		cmocka_unit_test(test_budget_inflight_cap),
		cmocka_unit_test(test_budget_write_queue_cap_w3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
