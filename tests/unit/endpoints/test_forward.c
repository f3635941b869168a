/* The forwarder's life cycle over real loopback sockets, in process, on one
 * libuv loop with a small responder: requests refused at start (-EINVAL),
 * callbacks never inside ep_forward_start(), cancel (no callback), close with
 * requests in flight (-ECANCELED), callbacks that close the forwarder or
 * chain a new request, many concurrent requests each matched to its own reply
 * (W-4), a deadline shorter than a try (PR_ETIMEOUT; F-10: a try cut short is
 * not the target's failure), and every loop closing (style.md §10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints.h"

#include <cmocka.h>
/* Library code frees what it allocates with the C library's allocator. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#define LO 0x7f000001u

typedef struct responder {
	uv_udp_t udp;
	uint16_t port;
	bool answer; /* false: a black hole */
	unsigned seen;
} responder_t;

static void resp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char b[65536];
	*buf = uv_buf_init(b, sizeof(b));
}

static void resp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		      const struct sockaddr *addr, unsigned flags)
{
	responder_t *r = h->data;
	if (nread <= 0 || addr == NULL)
		return;
	r->seen++;
	if (!r->answer)
		return;
	buf->base[2] |= (char)0x80; /* the question back, as a response */
	uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
	assert_int_equal(uv_udp_try_send(h, &out, 1, addr), nread);
}

static void responder_start(uv_loop_t *loop, responder_t *r, bool answer)
{
	memset(r, 0, sizeof(*r));
	r->answer = answer;
	assert_int_equal(uv_udp_init(loop, &r->udp), 0);
	r->udp.data = r;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(LO);
	assert_int_equal(uv_udp_bind(&r->udp, (struct sockaddr *)&sin, 0), 0);
	int len = sizeof(sin);
	assert_int_equal(uv_udp_getsockname(&r->udp, (struct sockaddr *)&sin, &len), 0);
	r->port = ntohs(sin.sin_port);
	assert_int_equal(uv_udp_recv_start(&r->udp, resp_alloc, resp_recv), 0);
}

static void responder_stop(responder_t *r)
{
	uv_close((uv_handle_t *)&r->udp, NULL);
}

/* "www.example.com." A IN, ID 0xABCD. */
static const uint8_t query[] = {0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				3, 'c', 'o', 'm', 0, 0, 1, 0, 1};

static ep_forward_request_t request(uint16_t port, uint32_t try_ms, uint32_t deadline_ms)
{
	ep_forward_request_t r = {.packet = query, .len = sizeof(query), .n_targets = 1,
				  .try_timeout_ms = try_ms, .deadline_ms = deadline_ms};
	r.targets[0] = (ep_forward_target_t){.address = LO, .port = port, .real_address = LO,
					     .real_port = port, .mapped = true};
	return r;
}

typedef struct outcome {
	int calls;
	int status;
	uint16_t reply_id;
	size_t len;
	ep_forwarder_t **close_me; /* close the forwarder from the callback */
	ep_forwarder_t *chain;     /* start one more request from the callback */
	uint16_t chain_port;
	int chain_err;
} outcome_t;

static void on_done(void *arg, const ep_forward_result_t *res)
{
	outcome_t *o = arg;
	o->calls++;
	o->status = res->status;
	o->len = res->len;
	if (res->status == 0)
		o->reply_id = (uint16_t)((res->reply[0] << 8) | res->reply[1]);
	if (o->close_me != NULL)
		ep_forwarder_close(o->close_me);
	if (o->chain != NULL) {
		ep_forward_request_t req = request(o->chain_port, 200, 1000);
		ep_forwarder_t *f = o->chain;
		o->chain = NULL; /* once */
		o->chain_err = ep_forward_start(f, &req, on_done, o, NULL);
	}
}

typedef struct fixture {
	uv_loop_t loop;
	ep_health_t *health;
	ep_forwarder_t *f;
	responder_t good, hole;
} fixture_t;

static int setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->health = ep_health_new(2000);
	assert_int_equal(ep_forwarder_new(&fx->loop, fx->health, &fx->f), 0);
	responder_start(&fx->loop, &fx->good, true);
	responder_start(&fx->loop, &fx->hole, false);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *fx = *state;
	ep_forwarder_close(&fx->f);
	responder_stop(&fx->good);
	responder_stop(&fx->hole);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	ep_health_destroy(&fx->health);
	free(fx);
	return 0;
}

/* Run the loop until the outcome has its callback (bounded: the requests
 * have deadlines; responders keep the loop alive). */
static void run_until(fixture_t *fx, const int *calls, int want)
{
	uint64_t end = uv_now(&fx->loop) + 3000;
	while (*calls < want && uv_now(&fx->loop) < end)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

static void test_bad_requests_refused(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {0};
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	req.n_targets = 0;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), -EINVAL);
	req = request(fx->good.port, 0, 0);
	req.len = 12; /* a header, no question */
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), -EINVAL);
	req.packet = NULL;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), -EINVAL);
	assert_int_equal(o.calls, 0);
}

static void test_answer_with_fresh_id_w4(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {0};
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	ep_forward_t *handle = NULL;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, &handle), 0);
	assert_non_null(handle);
	assert_int_equal(o.calls, 0); /* never inside start */
	run_until(fx, &o.calls, 1);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.len, sizeof(query));
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.answered, 1);
	assert_int_equal(st.udp_tries, 1);
}

static void test_unmapped_only_fails_after_start(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {0};
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	req.targets[0].mapped = false;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), 0);
	assert_int_equal(o.calls, 0);
	run_until(fx, &o.calls, 1);
	assert_int_equal(o.status, PR_EUNMAPPED);
	assert_int_equal(fx->good.seen, 0); /* design.md §4 */
}

static void test_cancel_means_no_callback(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {0};
	ep_forward_request_t req = request(fx->hole.port, 100, 500);
	ep_forward_t *handle = NULL;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, &handle), 0);
	while (fx->hole.seen == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	ep_forward_cancel(handle);
	/* Past the deadline: had it not been cancelled, it would call back. */
	uint64_t end = uv_now(&fx->loop) + 700;
	while (uv_now(&fx->loop) < end)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(o.calls, 0);
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.cancelled, 1);
	/* A cancelled try says nothing about the target. */
	assert_int_equal(ep_health_get(fx->health, LO, fx->hole.port, pr_now_ms(), NULL),
			 EP_TARGET_HEALTHY);
}

static void test_close_with_requests_in_flight(void **state)
{
	fixture_t *fx = *state;
	outcome_t o[3] = {{0}};
	ep_forward_request_t req = request(fx->hole.port, 1000, 2000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o[i], NULL), 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	/* A callback run by the close may try to start another request. */
	o[0].chain = fx->f;
	o[0].chain_port = fx->good.port;
	ep_forwarder_close(&fx->f);
	assert_null(fx->f);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o[i].calls, 1);
		assert_int_equal(o[i].status, -ECANCELED);
	}
	assert_int_equal(o[0].chain_err, -ECANCELED);
	assert_int_equal(fx->good.seen, 0);
	/* teardown runs the loop to its end: loop_close == 0 proves every
	 * socket and timer closed, ASan that the forwarder was freed. */
}

static void test_callback_may_close_forwarder(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {.close_me = &fx->f};
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), 0);
	run_until(fx, &o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_null(fx->f);
}

static void test_callback_may_chain_a_request(void **state)
{
	/* resolve_resume() may ask for another forward (a CNAME into another
	 * rule): the callback starts it at once. */
	fixture_t *fx = *state;
	outcome_t o = {.chain = fx->f, .chain_port = fx->good.port};
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), 0);
	run_until(fx, &o.calls, 2);
	assert_int_equal(o.calls, 2);
	assert_int_equal(o.chain_err, 0);
	assert_int_equal(o.status, 0);
	assert_int_equal(fx->good.seen, 2);
}

static void test_concurrent_requests_matched_w4(void **state)
{
	fixture_t *fx = *state;
	enum { N = 200 };
	static outcome_t o[N];
	memset(o, 0, sizeof(o));
	ep_forward_request_t req = request(fx->good.port, 0, 0);
	int calls = 0;
	for (int i = 0; i < N; i++)
		assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o[i], NULL), 0);
	uint64_t end = uv_now(&fx->loop) + 3000;
	while (calls < N && uv_now(&fx->loop) < end) {
		uv_run(&fx->loop, UV_RUN_ONCE);
		calls = 0;
		for (int i = 0; i < N; i++)
			calls += o[i].calls;
	}
	int distinct_ids = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(o[i].calls, 1);
		assert_int_equal(o[i].status, 0);
		distinct_ids += o[i].reply_id != 0xABCD;
	}
	assert_true(distinct_ids >= N - 2); /* the client's ID never goes out */
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.answered, N);
	assert_int_equal(st.udp_tries, N); /* one try each: every reply found its request */
}

static void test_deadline_shorter_than_try_f10(void **state)
{
	fixture_t *fx = *state;
	outcome_t o = {0};
	ep_forward_request_t req = request(fx->hole.port, 800, 150);
	uint64_t t0 = pr_now_ms();
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, &o, NULL), 0);
	run_until(fx, &o.calls, 1);
	uint64_t took = pr_now_ms() - t0;
	assert_int_equal(o.status, PR_ETIMEOUT);
	assert_true(took >= 140 && took < 600);
	/* Cut short by the deadline, the try is not held against the target. */
	assert_int_equal(ep_health_get(fx->health, LO, fx->hole.port, pr_now_ms(), NULL),
			 EP_TARGET_HEALTHY);
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.try_timeouts, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_requests_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_with_fresh_id_w4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_only_fails_after_start, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel_means_no_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_requests_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_callback_may_close_forwarder, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_callback_may_chain_a_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_requests_matched_w4, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deadline_shorter_than_try_f10, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
