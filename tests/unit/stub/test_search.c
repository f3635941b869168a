/* The Windows DNS Client service's search (stub/search.c), driven by a clock
 * of the test's own: the 1 s / 2 s / 2 s / 4 s / 8 s steps, the preferred
 * adapter by metric, negative answers removing an adapter, failures falling
 * through at once, adapters that answered nothing skipped for 30 s, faster
 * servers moving up. */
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "stub/stub.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* A laptop: vpn (metric 5) with servers A and B, wifi (metric 25) with C,
 * wifi declared first so that the metric, not the order, must decide. */
typedef struct laptop {
	stub_client_t *c;
	int a, b, cc;
} laptop_t;

static laptop_t laptop(void)
{
	laptop_t l = {stub_client_new(), 0, 0, 0};
	int wifi = stub_client_add_adapter(l.c, "wifi", 25);
	int vpn = stub_client_add_adapter(l.c, "vpn", 5);
	assert_true(wifi >= 0 && vpn >= 0);
	l.cc = stub_client_add_server(l.c, wifi, IP(192, 168, 1, 4), 53);
	l.a = stub_client_add_server(l.c, vpn, IP(10, 10, 0, 4), 53);
	l.b = stub_client_add_server(l.c, vpn, IP(10, 10, 0, 5), 53);
	return l;
}

/* Poll at now and check exactly the servers asked (any order). */
static void expect_asks(stub_search_t *s, uint64_t now, const int *want, size_t n_want)
{
	int ask[STUB_MAX_SERVERS];
	size_t n = stub_search_poll(s, now, ask, STUB_MAX_SERVERS);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n_want; i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found |= ask[j] == want[i];
		assert_true(found);
	}
}

#define ASKS(s, now, ...)                                                         \
	do {                                                                      \
		const int w_[] = {__VA_ARGS__};                                   \
		expect_asks((s), (now), w_, sizeof(w_) / sizeof(w_[0]));          \
	} while (0)
#define NO_ASKS(s, now) expect_asks((s), (now), NULL, 0)

static void test_answer_from_preferred_first_server(void **state)
{
	laptop_t l = laptop();
	stub_search_t *s = stub_search_new(l.c, 100000);
	ASKS(s, 100000, l.a); /* vpn has the lower metric */
	assert_int_equal(stub_search_deadline(s), 101000);
	stub_search_reply(s, 100012, l.a, STUB_REPLY_POSITIVE, DNS_RCODE_NOERROR);
	int by;
	assert_int_equal(stub_search_outcome(s, &by), STUB_ANSWERED);
	assert_int_equal(by, l.a);
	assert_int_equal(stub_search_deadline(s), UINT64_MAX);
	NO_ASKS(s, 200000);
	stub_search_destroy(&s);
	stub_client_destroy(&l.c);
}

/* Nothing answers: the whole schedule, then a timeout at 17 s, and both
 * adapters skipped for 30 s. */
static void test_full_schedule_then_skip(void **state)
{
	laptop_t l = laptop();
	uint64_t t0 = 5000;
	stub_search_t *s = stub_search_new(l.c, t0);
	ASKS(s, t0, l.a);
	NO_ASKS(s, t0 + 999);
	ASKS(s, t0 + 1000, l.a, l.cc); /* the first server of every adapter */
	assert_int_equal(stub_search_deadline(s), t0 + 3000);
	ASKS(s, t0 + 3000, l.a, l.b, l.cc); /* all servers, 2 s */
	assert_int_equal(stub_search_deadline(s), t0 + 5000);
	ASKS(s, t0 + 5000, l.a, l.b, l.cc); /* 4 s */
	assert_int_equal(stub_search_deadline(s), t0 + 9000);
	ASKS(s, t0 + 9000, l.a, l.b, l.cc); /* 8 s */
	assert_int_equal(stub_search_deadline(s), t0 + 17000);
	NO_ASKS(s, t0 + 16999);
	assert_int_equal(stub_search_outcome(s, NULL), STUB_PENDING);
	NO_ASKS(s, t0 + 17000);
	assert_int_equal(stub_search_outcome(s, NULL), STUB_TIMEOUT);

	/* The step of each ask, as the log shows it. */
	static const uint64_t at[] = {0, 1000, 1000, 3000, 3000, 3000, 5000, 5000, 5000,
				      9000, 9000, 9000};
	static const int step[] = {1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5};
	size_t k = 0;
	for (size_t i = 0; i < stub_search_n_events(s); i++) {
		uint64_t when;
		bool ask;
		int server, st;
		stub_search_event(s, i, &when, &ask, &server, &st);
		if (!ask)
			continue;
		assert_true(k < 12);
		assert_int_equal(when, at[k]);
		assert_int_equal(st, step[k]);
		k++;
	}
	assert_int_equal(k, 12);
	stub_search_destroy(&s);

	/* Skipped for 30 s: answered with a timeout at once, nothing sent. */
	assert_true(stub_client_adapter_skipped(l.c, 0, t0 + 17000 + 29999));
	s = stub_search_new(l.c, t0 + 20000);
	NO_ASKS(s, t0 + 20000);
	assert_int_equal(stub_search_outcome(s, NULL), STUB_TIMEOUT);
	pr_buf_t b = {0};
	stub_search_format_events(s, &b);
	assert_non_null(strstr(b.data, "\"skipped\":\"vpn\""));
	assert_non_null(strstr(b.data, "\"end\":\"timeout\""));
	pr_buf_free(&b);
	stub_search_destroy(&s);
	/* After 30 s they are asked again. */
	s = stub_search_new(l.c, t0 + 17000 + 30000);
	int ask[STUB_MAX_SERVERS];
	assert_int_equal(stub_search_poll(s, t0 + 47000, ask, STUB_MAX_SERVERS), 1);
	stub_search_destroy(&s);
	stub_client_destroy(&l.c);
}

/* The VPN silent, the Wi-Fi server says NXDOMAIN: the Wi-Fi adapter leaves
 * the search, the VPN's servers go on being asked, and when time runs out the
 * negative answer is returned; only the silent adapter is skipped after. */
static void test_negative_removes_adapter(void **state)
{
	laptop_t l = laptop();
	stub_search_t *s = stub_search_new(l.c, 0);
	ASKS(s, 0, l.a);
	ASKS(s, 1000, l.a, l.cc);
	stub_search_reply(s, 1030, l.cc, STUB_REPLY_NEGATIVE, DNS_RCODE_NXDOMAIN);
	NO_ASKS(s, 1030); /* the VPN's server is still awaited */
	assert_int_equal(stub_search_outcome(s, NULL), STUB_PENDING);
	ASKS(s, 3000, l.a, l.b); /* not the Wi-Fi server */
	ASKS(s, 5000, l.a, l.b);
	ASKS(s, 9000, l.a, l.b);
	NO_ASKS(s, 17000);
	int by;
	assert_int_equal(stub_search_outcome(s, &by), STUB_NEGATIVE);
	assert_int_equal(by, l.cc);
	stub_search_destroy(&s);
	assert_true(stub_client_adapter_skipped(l.c, 1, 17001));  /* vpn */
	assert_false(stub_client_adapter_skipped(l.c, 0, 17001)); /* wifi answered */
	stub_client_destroy(&l.c);
}

/* Negative answers from every adapter end the search at once. */
static void test_negative_everywhere(void **state)
{
	laptop_t l = laptop();
	stub_search_t *s = stub_search_new(l.c, 0);
	ASKS(s, 0, l.a);
	stub_search_reply(s, 20, l.a, STUB_REPLY_NEGATIVE, DNS_RCODE_NXDOMAIN);
	/* the vpn is out: the step ends at once, the Wi-Fi's first server is asked */
	ASKS(s, 20, l.cc);
	assert_int_equal(stub_search_deadline(s), 2020);
	stub_search_reply(s, 40, l.cc, STUB_REPLY_NEGATIVE, DNS_RCODE_NXDOMAIN);
	NO_ASKS(s, 40);
	int by;
	assert_int_equal(stub_search_outcome(s, &by), STUB_NEGATIVE);
	assert_int_equal(by, l.cc);
	stub_search_destroy(&s);
	stub_client_destroy(&l.c);
}

/* An overlay agent (metric 1) answers SERVFAIL: the search falls through at
 * once to the next step without asking the agent again. */
static void test_failure_falls_through(void **state)
{
	stub_client_t *c = stub_client_new();
	int lan = stub_client_add_adapter(c, "lan", 10);
	int overlay = stub_client_add_adapter(c, "overlay", 1);
	int dns = stub_client_add_server(c, lan, IP(192, 168, 10, 4), 53);
	int agent = stub_client_add_server(c, overlay, IP(127, 0, 0, 2), 53);
	stub_search_t *s = stub_search_new(c, 0);
	ASKS(s, 0, agent);
	stub_search_reply(s, 1, agent, STUB_REPLY_FAILURE, DNS_RCODE_SERVFAIL);
	ASKS(s, 1, dns);
	stub_search_reply(s, 5, dns, STUB_REPLY_POSITIVE, DNS_RCODE_NOERROR);
	int by;
	assert_int_equal(stub_search_outcome(s, &by), STUB_ANSWERED);
	assert_int_equal(by, dns);
	stub_search_destroy(&s);

	/* Every server failing: SERVFAIL to the client without waiting. */
	s = stub_search_new(c, 100);
	ASKS(s, 100, agent);
	stub_search_reply(s, 101, agent, STUB_REPLY_FAILURE, DNS_RCODE_SERVFAIL);
	ASKS(s, 101, dns);
	stub_search_reply(s, 102, dns, STUB_REPLY_FAILURE, DNS_RCODE_REFUSED);
	NO_ASKS(s, 102);
	assert_int_equal(stub_search_outcome(s, &by), STUB_FAILED);
	assert_int_equal(by, dns);
	stub_search_destroy(&s);
	stub_client_destroy(&c);
}

/* A server that answers faster moves ahead of one that was silent. */
static void test_faster_server_moves_up(void **state)
{
	laptop_t l = laptop();
	assert_int_equal(stub_client_rank(l.c, 1, 0), l.a);
	stub_search_t *s = stub_search_new(l.c, 0);
	ASKS(s, 0, l.a);
	ASKS(s, 1000, l.a, l.cc);
	ASKS(s, 3000, l.a, l.b, l.cc);
	stub_search_reply(s, 3004, l.b, STUB_REPLY_POSITIVE, DNS_RCODE_NOERROR);
	assert_int_equal(stub_search_outcome(s, NULL), STUB_ANSWERED);
	stub_search_destroy(&s);
	/* A was waited for 3 s, B answered in 4 ms: B is the VPN's first now. */
	assert_int_equal(stub_client_rank(l.c, 1, 0), l.b);
	assert_int_equal(stub_client_rank(l.c, 1, 1), l.a);
	s = stub_search_new(l.c, 10000);
	ASKS(s, 10000, l.b);
	stub_search_destroy(&s);
	stub_client_destroy(&l.c);
}

/* A timer that fires late does not stretch the schedule; replies nobody
 * asked for, and replies after the end, change nothing. */
static void test_late_timer_and_stray_replies(void **state)
{
	laptop_t l = laptop();
	stub_search_t *s = stub_search_new(l.c, 0);
	ASKS(s, 0, l.a);
	stub_search_reply(s, 10, l.b, STUB_REPLY_POSITIVE, DNS_RCODE_NOERROR); /* not asked */
	assert_int_equal(stub_search_outcome(s, NULL), STUB_PENDING);
	ASKS(s, 1400, l.a, l.cc);
	assert_int_equal(stub_search_deadline(s), 3000);
	stub_search_reply(s, 1500, l.cc, STUB_REPLY_POSITIVE, DNS_RCODE_NOERROR);
	stub_search_reply(s, 1501, l.a, STUB_REPLY_NEGATIVE, DNS_RCODE_NXDOMAIN);
	int by;
	assert_int_equal(stub_search_outcome(s, &by), STUB_ANSWERED);
	assert_int_equal(by, l.cc);
	pr_buf_t b = {0};
	stub_search_format_events(s, &b);
	assert_non_null(strstr(b.data, "{\"atMs\":0,\"step\":1,\"ask\":\"10.10.0.4:53\","
				       "\"adapter\":\"vpn\"}"));
	assert_non_null(strstr(b.data, "{\"atMs\":1500,\"from\":\"192.168.1.4:53\","
				       "\"adapter\":\"wifi\",\"rcode\":\"NOERROR\","
				       "\"reply\":\"positive\"}"));
	assert_non_null(strstr(b.data, "\"rcode\":\"NXDOMAIN\",\"reply\":\"negative\","
				       "\"ignored\":true"));
	assert_non_null(strstr(b.data, "\"end\":\"answered\""));
	pr_buf_free(&b);
	stub_search_destroy(&s);
	stub_client_destroy(&l.c);
}

/* No adapters at all, and the limits of the client. */
static void test_client_limits(void **state)
{
	stub_client_t *c = stub_client_new();
	stub_search_t *s = stub_search_new(c, 0);
	NO_ASKS(s, 0);
	assert_int_equal(stub_search_outcome(s, NULL), STUB_TIMEOUT);
	stub_search_destroy(&s);
	assert_int_equal(stub_client_add_adapter(c, "x", 1), 0);
	assert_int_equal(stub_client_add_adapter(c, "x", 2), PR_EEXIST);
	assert_int_equal(stub_client_add_server(c, 7, 1, 53), -EINVAL);
	for (int i = 1; i < STUB_MAX_ADAPTERS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "a%d", i);
		assert_int_equal(stub_client_add_adapter(c, name, 1), i);
	}
	assert_int_equal(stub_client_add_adapter(c, "one-more", 1), PR_ELIMIT);
	for (int i = 0; i < STUB_MAX_SERVERS; i++)
		assert_int_equal(stub_client_add_server(c, 0, (uint32_t)i + 1, 53), i);
	assert_int_equal(stub_client_add_server(c, 0, 9999, 53), PR_ELIMIT);
	assert_int_equal(stub_client_find_server(c, 5, 53), 4);
	assert_int_equal(stub_client_find_server(c, 5, 54), -1);
	stub_client_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_from_preferred_first_server),
		cmocka_unit_test(test_full_schedule_then_skip),
		cmocka_unit_test(test_negative_removes_adapter),
		cmocka_unit_test(test_negative_everywhere),
		cmocka_unit_test(test_failure_falls_through),
		cmocka_unit_test(test_faster_server_moves_up),
		cmocka_unit_test(test_late_timer_and_stray_replies),
		cmocka_unit_test(test_client_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
