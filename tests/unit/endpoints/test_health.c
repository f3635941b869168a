/* Target health (F-10) with an injected clock: the first target is preferred,
 * failures back off exponentially, EP_HEALTH_UNRESPONSIVE_AFTER failures in a
 * row make a target unresponsive and skipped, when every target is
 * unresponsive the least recently failed one is tried, a target comes back
 * after unresponsive_ms, a success resets it; health is per address:port,
 * shared by rules and threads. And the W-4 reply matcher, the question reader
 * and the ChaCha20 generator behind the random IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints.h"
#include "endpoints/forward_p.h"

#include <cmocka.h>

#define LO 0x7f000001u
#define BASE 100u  /* backoff base in these tests */
#define UNRESP 2000u

static ep_forward_target_t tgt(uint32_t addr, uint16_t port)
{
	return (ep_forward_target_t){.address = 0x0a640002u, .port = 53, .real_address = addr,
				     .real_port = port, .mapped = true};
}

static ep_health_t *health(void)
{
	ep_health_t *h = ep_health_new(UNRESP);
	ep_health_set_backoff(h, BASE, 10 * BASE);
	return h;
}

static void fail_n(ep_health_t *h, const ep_forward_target_t *t, int n, uint64_t now)
{
	for (int i = 0; i < n; i++)
		ep_health_record_failure(h, t->real_address, t->real_port, now);
}

static void test_first_target_preferred_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[3] = {tgt(LO, 5301), tgt(LO, 5302), tgt(LO, 5303)};
	assert_int_equal(ep_health_choose(h, t, 3, 0, 1000), 0);
	/* Within one round a request moves on in rule order. */
	assert_int_equal(ep_health_choose(h, t, 3, 1u << 0, 1000), 1);
	assert_int_equal(ep_health_choose(h, t, 3, (1u << 0) | (1u << 1), 1000), 2);
	assert_int_equal(ep_health_choose(h, t, 3, 7, 1000), -1);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000, NULL), EP_TARGET_HEALTHY);
	ep_health_destroy(&h);
	assert_null(h);
	ep_health_destroy(&h); /* accepts NULL */
}

static void test_backoff_is_exponential_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[2] = {tgt(LO, 5301), tgt(LO, 5302)};
	ep_health_entry_t e;

	fail_n(h, &t[0], 1, 1000);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000, &e), EP_TARGET_BACKOFF);
	assert_int_equal(e.consecutive_failures, 1);
	assert_int_equal(e.last_failure_ms, 1000);
	assert_int_equal(e.backoff_until_ms, 1000 + BASE);
	assert_int_equal(e.unresponsive_until_ms, 0);
	/* Just failed: not retried before its backoff expires. */
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + BASE - 1), 1);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000 + BASE, NULL), EP_TARGET_FAILING);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + BASE), 0);

	/* The second failure doubles the backoff. */
	fail_n(h, &t[0], 1, 2000);
	ep_health_get(h, LO, 5301, 2000, &e);
	assert_int_equal(e.backoff_until_ms, 2000 + 2 * BASE);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 2000 + 2 * BASE - 1), 1);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 2000 + 2 * BASE), 0);

	/* The ceiling holds however many failures. */
	ep_health_t *h2 = health();
	fail_n(h2, &t[0], 40, 5000);
	ep_health_get(h2, LO, 5301, 5000, &e);
	assert_int_equal(e.backoff_until_ms, 5000 + 10 * BASE);
	assert_int_equal(e.consecutive_failures, 40);
	ep_health_destroy(&h2);
	ep_health_destroy(&h);
}

static void test_backoff_target_tried_when_only_choice_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[2] = {tgt(LO, 5301), tgt(LO, 5302)};
	fail_n(h, &t[0], 1, 1000);
	/* One target, backing off: still tried (nothing else to try). */
	assert_int_equal(ep_health_choose(h, t, 1, 0, 1001), 0);
	/* Both backing off: the first in rule order. */
	fail_n(h, &t[1], 1, 1000);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1001), 0);
	/* The second already tried in this round: the first anyway. */
	assert_int_equal(ep_health_choose(h, t, 2, 1u << 1, 1001), 0);
	ep_health_destroy(&h);
}

static void test_unresponsive_skipped_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[2] = {tgt(LO, 5301), tgt(LO, 5302)};
	ep_health_entry_t e;
	fail_n(h, &t[0], EP_HEALTH_UNRESPONSIVE_AFTER - 1, 1000);
	assert_int_not_equal(ep_health_get(h, LO, 5301, 1000, NULL), EP_TARGET_UNRESPONSIVE);
	fail_n(h, &t[0], 1, 1000);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000, &e), EP_TARGET_UNRESPONSIVE);
	assert_int_equal(e.consecutive_failures, EP_HEALTH_UNRESPONSIVE_AFTER);
	assert_int_equal(e.unresponsive_until_ms, 1000 + UNRESP);
	/* Skipped, even after its backoff is over, for all of unresponsive_ms. */
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + UNRESP - 1), 1);
	/* ... and not tried even when the healthy one has had its try. */
	assert_int_equal(ep_health_choose(h, t, 2, 1u << 1, 1000 + UNRESP - 1), -1);
	ep_health_destroy(&h);
}

static void test_all_unresponsive_least_recently_failed_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[3] = {tgt(LO, 5301), tgt(LO, 5302), tgt(LO, 5303)};
	fail_n(h, &t[0], 3, 1300);
	fail_n(h, &t[1], 3, 1100);
	fail_n(h, &t[2], 3, 1200);
	assert_int_equal(ep_health_choose(h, t, 3, 0, 1500), 1);
	assert_int_equal(ep_health_choose(h, t, 3, 1u << 1, 1500), 2);
	assert_int_equal(ep_health_choose(h, t, 3, (1u << 1) | (1u << 2), 1500), 0);
	assert_int_equal(ep_health_choose(h, t, 3, 7, 1500), -1);
	/* Once the chosen one fails again, another becomes the oldest failure. */
	fail_n(h, &t[1], 1, 1600);
	assert_int_equal(ep_health_choose(h, t, 3, 0, 1600), 2);
	ep_health_destroy(&h);
}

static void test_recovery_after_unresponsive_ms_f10(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[2] = {tgt(LO, 5301), tgt(LO, 5302)};
	ep_health_entry_t e;
	fail_n(h, &t[0], 3, 1000);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + UNRESP - 1), 1);
	/* unresponsive_ms later it is the first choice again. */
	assert_int_equal(ep_health_get(h, LO, 5301, 1000 + UNRESP, NULL), EP_TARGET_FAILING);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + UNRESP), 0);
	/* Failing that retry puts it straight back for another period. */
	fail_n(h, &t[0], 1, 1000 + UNRESP);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000 + UNRESP, &e), EP_TARGET_UNRESPONSIVE);
	assert_int_equal(e.unresponsive_until_ms, 1000 + 2 * UNRESP);
	/* A success resets everything. */
	ep_health_record_success(h, LO, 5301);
	assert_int_equal(ep_health_get(h, LO, 5301, 1000 + UNRESP, &e), EP_TARGET_HEALTHY);
	assert_int_equal(e.consecutive_failures, 0);
	assert_int_equal(e.unresponsive_until_ms, 0);
	assert_int_equal(e.last_failure_ms, 1000 + UNRESP); /* kept for TargetHealth */
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000 + UNRESP), 0);
	/* After a reset it takes the full count again. */
	fail_n(h, &t[0], 2, 5000);
	assert_int_not_equal(ep_health_get(h, LO, 5301, 5000, NULL), EP_TARGET_UNRESPONSIVE);
	ep_health_destroy(&h);
}

static void test_unmapped_never_chosen(void **state)
{
	ep_health_t *h = health();
	ep_forward_target_t t[2] = {tgt(LO, 5301), tgt(LO, 5302)};
	t[0].mapped = false; /* design.md §4 */
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1000), 1);
	assert_int_equal(ep_health_choose(h, t, 2, 1u << 1, 1000), -1);
	/* An unmapped target does not count for "every target unresponsive". */
	fail_n(h, &t[1], 3, 1000);
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1001), 1);
	t[1].mapped = false;
	assert_int_equal(ep_health_choose(h, t, 2, 0, 1001), -1);
	ep_health_destroy(&h);
}

static void test_keyed_by_address_and_port_shared_by_rules_f10(void **state)
{
	ep_health_t *h = health();
	/* Two rules naming the same real target, in different positions. */
	ep_forward_target_t rule_a[2] = {tgt(LO, 5301), tgt(LO + 1, 5301)};
	ep_forward_target_t rule_b[2] = {tgt(LO + 1, 5301), tgt(LO, 5301)};
	fail_n(h, &rule_a[0], 3, 1000);
	assert_int_equal(ep_health_choose(h, rule_b, 2, 0, 1001), 0);
	assert_int_equal(ep_health_choose(h, rule_b, 2, 1u << 0, 1001), -1);
	/* Same address, other port: another target. */
	assert_int_equal(ep_health_get(h, LO, 5302, 1001, NULL), EP_TARGET_HEALTHY);
	/* 0.0.0.0:0 is a key like any other, not a free slot. */
	ep_health_record_failure(h, 0, 0, 1000);
	assert_int_equal(ep_health_get(h, 0, 0, 1000, NULL), EP_TARGET_BACKOFF);

	ep_health_entry_t e[4];
	size_t n = ep_health_list(h, 1001, e, 4);
	assert_int_equal(n, 2);
	bool seen_lo = false, seen_zero = false;
	for (size_t i = 0; i < n; i++) {
		if (e[i].address == LO && e[i].port == 5301) {
			seen_lo = true;
			assert_int_equal(e[i].state, EP_TARGET_UNRESPONSIVE);
			assert_int_equal(e[i].consecutive_failures, 3);
			assert_int_equal(e[i].last_failure_ms, 1000);
			assert_int_equal(e[i].unresponsive_until_ms, 1000 + UNRESP);
		} else if (e[i].address == 0 && e[i].port == 0) {
			seen_zero = true;
		}
	}
	assert_true(seen_lo && seen_zero);
	/* A list shorter than the table: the count still says how many. */
	assert_int_equal(ep_health_list(h, 1001, e, 1), 2);
	/* A success on an untracked target adds nothing. */
	ep_health_record_success(h, LO + 7, 53);
	assert_int_equal(ep_health_list(h, 1001, NULL, 0), 2);
	assert_string_equal(ep_target_state_name(EP_TARGET_UNRESPONSIVE), "unresponsive");
	assert_string_equal(ep_target_state_name(EP_TARGET_BACKOFF), "backoff");
	ep_health_destroy(&h);
}

static void test_table_full_stops_tracking(void **state)
{
	ep_health_t *h = health();
	for (uint32_t i = 0; i < EP_HEALTH_CAPACITY + 10; i++)
		ep_health_record_failure(h, 0x0a000000u + i, 53, 1000);
	assert_int_equal(ep_health_list(h, 1000, NULL, 0), EP_HEALTH_CAPACITY);
	/* Every tracked target still found after the table filled up. */
	for (uint32_t i = 0; i < EP_HEALTH_CAPACITY; i++)
		assert_int_equal(ep_health_get(h, 0x0a000000u + i, 53, 1000, NULL),
				 EP_TARGET_BACKOFF);
	assert_int_equal(ep_health_get(h, 0x0a000000u + EP_HEALTH_CAPACITY + 5, 53, 1000, NULL),
			 EP_TARGET_HEALTHY);
	ep_health_destroy(&h);
}

#define THREADS 4
#define PER_THREAD 1000
static ep_health_t *shared;

static void *hammer(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * PER_THREAD;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		ep_health_record_failure(shared, 0x0b000000u + base + i, 53, 1000);
		ep_health_record_failure(shared, LO, 53, 1000); /* one key for all */
	}
	return NULL;
}

static void test_shared_by_workers_without_lock_f10(void **state)
{
	shared = health();
	pthread_t th[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* Each key claimed exactly once, every failure of the shared key counted. */
	assert_int_equal(ep_health_list(shared, 1000, NULL, 0), THREADS * PER_THREAD + 1);
	ep_health_entry_t e;
	ep_health_get(shared, LO, 53, 1000, &e);
	assert_int_equal(e.consecutive_failures, THREADS * PER_THREAD);
	ep_health_destroy(&shared);
}

/* --- W-4: the reply matcher --- */

/* A query for "Www.Example.COM" A IN, ID 0x1234. */
static size_t make_msg(uint8_t *buf, uint16_t id, bool qr, const char *labels, uint16_t qtype,
		       uint16_t qclass)
{
	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = qr ? 0x81 : 0x01;
	buf[5] = 1;
	size_t pos = 12;
	/* labels: "3Www7Example3COM" style, digits as lengths. */
	for (const char *p = labels; *p;) {
		int l = *p++ - '0';
		buf[pos++] = (uint8_t)l;
		memcpy(buf + pos, p, (size_t)l);
		pos += (size_t)l;
		p += l;
	}
	buf[pos++] = 0;
	buf[pos++] = qtype >> 8;
	buf[pos++] = qtype & 0xff;
	buf[pos++] = qclass >> 8;
	buf[pos++] = qclass & 0xff;
	return pos;
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	s.sin_addr.s_addr = htonl(addr);
	s.sin_port = htons(port);
	return s;
}

static void test_question_read(void **state)
{
	uint8_t m[600];
	ep_question_t q;
	size_t len = make_msg(m, 1, false, "3Www7Example3COM", 1, 1);
	assert_int_equal(dns_question_read(m, len, &q), 0);
	assert_int_equal(q.name_len, 17);
	assert_memory_equal(q.name, "\3Www\7Example\3COM", 17);
	assert_int_equal(q.qtype, 1);
	assert_int_equal(q.qclass, 1);
	/* Truncated anywhere: refused. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(dns_question_read(m, cut, &q), PR_EPARSE);
	/* No question. */
	m[5] = 0;
	assert_int_equal(dns_question_read(m, len, &q), PR_EPARSE);
	m[5] = 1;
	/* A compression pointer as the question name. */
	m[12] = 0xC0;
	assert_int_equal(dns_question_read(m, len, &q), PR_EPARSE);
	/* A name longer than 255 octets. */
	memset(m, 0, sizeof(m));
	m[5] = 1;
	size_t pos = 12;
	for (int i = 0; i < 5; i++) {
		m[pos] = 63;
		memset(m + pos + 1, 'a', 63);
		pos += 64;
	}
	m[pos++] = 0;
	pos += 4;
	assert_int_equal(dns_question_read(m, pos, &q), PR_EPARSE);
}

static void test_reply_match_w4(void **state)
{
	uint8_t qm[512], r[512];
	ep_question_t q;
	size_t qlen = make_msg(qm, 0x1234, false, "3Www7Example3COM", 1, 1);
	assert_int_equal(dns_question_read(qm, qlen, &q), 0);
	struct sockaddr_in good = sin_of(LO, 5301);
	const struct sockaddr *from = (const struct sockaddr *)&good;

	size_t len = make_msg(r, 0x1234, true, "3Www7Example3COM", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_OK);
	/* W-5: the target may change the case of the name. */
	len = make_msg(r, 0x1234, true, "3wWW7eXAMPLE3com", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_OK);
	/* Over TCP the connection is the proof of source. */
	assert_int_equal(ep_reply_match(r, len, NULL, LO, 5301, 0x1234, &q), EP_REPLY_OK);

	/* Another port, another address, another family. */
	struct sockaddr_in other_port = sin_of(LO, 5302), other_addr = sin_of(LO + 1, 5301);
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(5301)};
	assert_int_equal(ep_reply_match(r, len, (struct sockaddr *)&other_port, LO, 5301, 0x1234,
					&q), EP_REPLY_WRONG_SOURCE);
	assert_int_equal(ep_reply_match(r, len, (struct sockaddr *)&other_addr, LO, 5301, 0x1234,
					&q), EP_REPLY_WRONG_SOURCE);
	assert_int_equal(ep_reply_match(r, len, (struct sockaddr *)&v6, LO, 5301, 0x1234, &q),
			 EP_REPLY_WRONG_SOURCE);

	/* Short, or not a response. */
	assert_int_equal(ep_reply_match(r, 11, from, LO, 5301, 0x1234, &q), EP_REPLY_MALFORMED);
	len = make_msg(r, 0x1234, false, "3Www7Example3COM", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_MALFORMED);

	/* Another ID: one bit off. */
	len = make_msg(r, 0x1235, true, "3Www7Example3COM", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_ID);

	/* Another question: name, a longer name, type, class, none, two. */
	len = make_msg(r, 0x1234, true, "3Www7Example3ORG", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	len = make_msg(r, 0x1234, true, "1a3Www7Example3COM", 1, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	len = make_msg(r, 0x1234, true, "3Www7Example3COM", 28, 1);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	len = make_msg(r, 0x1234, true, "3Www7Example3COM", 1, 3);
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	len = make_msg(r, 0x1234, true, "3Www7Example3COM", 1, 1);
	r[5] = 0;
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	r[5] = 2;
	assert_int_equal(ep_reply_match(r, len, from, LO, 5301, 0x1234, &q), EP_REPLY_BAD_QUESTION);
	/* A question cut short. */
	r[5] = 1;
	assert_int_equal(ep_reply_match(r, len - 2, from, LO, 5301, 0x1234, &q),
			 EP_REPLY_MALFORMED);
}

/* --- The ID generator --- */

static void test_chacha20_rfc8439_vector(void **state)
{
	/* RFC 8439 §2.3.2: key 00..1f, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00. */
	uint32_t key[8];
	for (int i = 0; i < 8; i++)
		key[i] = (uint32_t)(4 * i) | (uint32_t)(4 * i + 1) << 8 |
			 (uint32_t)(4 * i + 2) << 16 | (uint32_t)(4 * i + 3) << 24;
	uint32_t nonce[3] = {0x09000000, 0x4a000000, 0};
	ep_rng_t r;
	ep_rng_seed_with(&r, key, 1, nonce);
	uint8_t out[64];
	ep_rng_bytes(&r, out, 5);
	ep_rng_bytes(&r, out + 5, 59); /* split reads see one stream */
	static const uint8_t want[64] = {
		0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3,
		0x20, 0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22,
		0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa,
		0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1,
		0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
	};
	assert_memory_equal(out, want, 64);
}

static void test_ids_spread_w4(void **state)
{
	ep_rng_t a, b;
	assert_int_equal(ep_rng_seed(&a), 0);
	assert_int_equal(ep_rng_seed(&b), 0);
	/* 4096 IDs out of 65536: a uniform source repeats about 120 of them;
	 * many more repeats, or two generators in step, would be a bug. */
	static uint8_t seen[65536];
	memset(seen, 0, sizeof(seen));
	int dup = 0, same = 0;
	for (int i = 0; i < 4096; i++) {
		uint16_t x = ep_rng_u16(&a);
		dup += seen[x]++ ? 1 : 0;
		same += x == ep_rng_u16(&b);
	}
	assert_true(dup < 250);
	assert_true(same < 10);
}

/* [privres] Why a target last failed: kept with its health, cleared by the
 * next failure (a timeout says nothing more), kept across a success. */
static void test_failure_reason_f10(void **state)
{
	ep_health_t *h = health();
	ep_health_entry_t e;
	ep_health_get(h, LO, 853, 1000, &e);
	assert_null(e.last_failure_reason);
	ep_health_record_failure(h, LO, 853, 1000);
	ep_health_note_reason(h, LO, 853, "certificate does not match the name");
	ep_health_get(h, LO, 853, 1000, &e);
	assert_int_equal(e.consecutive_failures, 1);
	assert_string_equal(e.last_failure_reason, "certificate does not match the name");
	ep_health_entry_t all[4];
	assert_int_equal(ep_health_list(h, 1000, all, 4), 1);
	assert_string_equal(all[0].last_failure_reason, "certificate does not match the name");
	ep_health_record_failure(h, LO, 853, 2000);
	ep_health_get(h, LO, 853, 2000, &e);
	assert_null(e.last_failure_reason);
	ep_health_note_reason(h, LO, 853, "connection refused");
	ep_health_record_success(h, LO, 853);
	ep_health_get(h, LO, 853, 3000, &e);
	assert_int_equal(e.state, EP_TARGET_HEALTHY);
	assert_string_equal(e.last_failure_reason, "connection refused");
	ep_health_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_target_preferred_f10),
		cmocka_unit_test(test_failure_reason_f10),
		cmocka_unit_test(test_backoff_is_exponential_f10),
		cmocka_unit_test(test_backoff_target_tried_when_only_choice_f10),
		cmocka_unit_test(test_unresponsive_skipped_f10),
		cmocka_unit_test(test_all_unresponsive_least_recently_failed_f10),
		cmocka_unit_test(test_recovery_after_unresponsive_ms_f10),
		cmocka_unit_test(test_unmapped_never_chosen),
		cmocka_unit_test(test_keyed_by_address_and_port_shared_by_rules_f10),
		cmocka_unit_test(test_table_full_stops_tracking),
		cmocka_unit_test(test_shared_by_workers_without_lock_f10),
		cmocka_unit_test(test_question_read),
		cmocka_unit_test(test_reply_match_w4),
		cmocka_unit_test(test_chacha20_rfc8439_vector),
		cmocka_unit_test(test_ids_spread_w4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
