/* The forwarder's socket pool (W-4, RFC 5452) and requests that join the same
 * question in flight, over real loopback sockets on one libuv loop:
 * sequential tries share at most EP_FORWARD_POOL_SOCKETS ports, each port
 * serves at most EP_FORWARD_SOCKET_USES tries, every try has its own ID, a try
 * that timed out leaves its port behind; a joined request sends nothing and is
 * answered from the exchange's reply when another thread closes it, at once
 * when it was closed already, with PR_ETIMEOUT at its deadline, never after a
 * cancel, and with -ECANCELED when the forwarder closes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints.h"
#include "resolve/resolve_p.h"

#include <cmocka.h>
/* Library code frees what it allocates with the C library's allocator. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#define LO 0x7f000001u
#define SEEN_MAX 1024

/* A UDP server that keeps the source port and ID of every question, and
 * answers it (or not) with the question turned into a response. */
typedef struct server {
	uv_udp_t udp;
	uint16_t port;
	bool answer;
	size_t n;
	uint16_t ports[SEEN_MAX], ids[SEEN_MAX];
} server_t;

static void srv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char b[65536];
	*buf = uv_buf_init(b, sizeof(b));
}

static void srv_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags)
{
	server_t *s = h->data;
	if (nread < 12 || addr == NULL || s->n >= SEEN_MAX)
		return;
	const uint8_t *m = (const uint8_t *)buf->base;
	s->ports[s->n] = ntohs(((const struct sockaddr_in *)addr)->sin_port);
	s->ids[s->n] = (uint16_t)(m[0] << 8 | m[1]);
	s->n++;
	if (!s->answer)
		return;
	buf->base[2] |= (char)0x80;
	uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
	assert_int_equal(uv_udp_try_send(h, &out, 1, addr), nread);
}

static void server_start(uv_loop_t *loop, server_t *s, bool answer)
{
	memset(s, 0, sizeof(*s));
	s->answer = answer;
	assert_int_equal(uv_udp_init(loop, &s->udp), 0);
	s->udp.data = s;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(LO)};
	assert_int_equal(uv_udp_bind(&s->udp, (struct sockaddr *)&sin, 0), 0);
	int len = sizeof(sin);
	assert_int_equal(uv_udp_getsockname(&s->udp, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(uv_udp_recv_start(&s->udp, srv_alloc, srv_recv), 0);
}

/* How many times the most used port was seen, and how many ports. */
static size_t port_use(const server_t *s, size_t *distinct)
{
	size_t most = 0;
	*distinct = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t uses = 0, first = i;
		for (size_t j = 0; j < s->n; j++)
			if (s->ports[j] == s->ports[i]) {
				uses++;
				if (j < first)
					first = j;
			}
		if (first == i)
			(*distinct)++;
		if (uses > most)
			most = uses;
	}
	return most;
}

/* "pool.example." A IN. */
static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				4, 'p', 'o', 'o', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				0, 0, 1, 0, 1};

typedef struct fixture {
	uv_loop_t loop;
	ep_health_t *health;
	ep_forwarder_t *f;
	server_t good, hole;
	int calls, status;
	size_t len;
	uint8_t reply[512];
} fixture_t;

static void on_done(void *arg, const ep_forward_result_t *res)
{
	fixture_t *fx = arg;
	fx->calls++;
	fx->status = res->status;
	fx->len = res->len;
	if (res->status == 0 && res->len <= sizeof(fx->reply))
		memcpy(fx->reply, res->reply, res->len);
}

static ep_forward_request_t request(uint16_t port, uint32_t try_ms, uint32_t deadline_ms)
{
	ep_forward_request_t r = {.packet = query, .len = sizeof(query), .n_targets = 1,
				  .try_timeout_ms = try_ms, .deadline_ms = deadline_ms};
	r.targets[0] = (ep_forward_target_t){.address = LO, .port = port, .real_address = LO,
					     .real_port = port, .mapped = true};
	return r;
}

static int setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->health = ep_health_new(2000);
	ep_health_set_backoff(fx->health, 0, 0);
	assert_int_equal(ep_forwarder_new(&fx->loop, fx->health, &fx->f), 0);
	server_start(&fx->loop, &fx->good, true);
	server_start(&fx->loop, &fx->hole, false);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *fx = *state;
	ep_forwarder_close(&fx->f);
	uv_close((uv_handle_t *)&fx->good.udp, NULL);
	uv_close((uv_handle_t *)&fx->hole.udp, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	ep_health_destroy(&fx->health);
	free(fx);
	return 0;
}

static void run_until(fixture_t *fx, int want)
{
	uint64_t end = uv_now(&fx->loop) + 3000;
	while (fx->calls < want && uv_now(&fx->loop) < end)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

/* One request at a time, n times; every one answered. */
static void ask_n(fixture_t *fx, uint16_t port, int n)
{
	for (int i = 0; i < n; i++) {
		ep_forward_request_t req = request(port, 500, 1000);
		int want = fx->calls + 1;
		assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
		run_until(fx, want);
		assert_int_equal(fx->calls, want);
		assert_int_equal(fx->status, 0);
	}
}

/* W-4: a handful of ports for many tries, each a fresh ID, no port for more
 * than EP_FORWARD_SOCKET_USES tries: sockets rotate. */
static void test_pool_rotates_ports_w4(void **state)
{
	fixture_t *fx = *state;
	ask_n(fx, fx->good.port, 20);
	size_t distinct = 0;
	port_use(&fx->good, &distinct);
	assert_true(distinct >= 2 && distinct <= EP_FORWARD_POOL_SOCKETS);
	ask_n(fx, fx->good.port, 300);
	assert_true(port_use(&fx->good, &distinct) <= EP_FORWARD_SOCKET_USES);
	assert_true(distinct >= 320 / EP_FORWARD_SOCKET_USES);
	/* The ID of each try is drawn anew (16 random bits: a repeat in 320 is
	 * possible, many are not). */
	size_t repeats = 0;
	for (size_t i = 0; i < fx->good.n; i++)
		for (size_t j = i + 1; j < fx->good.n; j++)
			repeats += fx->good.ids[i] == fx->good.ids[j];
	assert_true(repeats < 10);
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.udp_tries, 320);
	assert_int_equal(st.udp_sockets, distinct);
	assert_int_equal(st.answered, 320);
}

/* Concurrent tries on the pool's sockets: each reply goes to its own try. */
static void test_pool_concurrent_tries_w4(void **state)
{
	fixture_t *fx = *state;
	for (int i = 0; i < 200; i++) {
		ep_forward_request_t req = request(fx->good.port, 500, 1000);
		assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
	}
	run_until(fx, 200);
	assert_int_equal(fx->calls, 200);
	size_t distinct = 0;
	assert_true(port_use(&fx->good, &distinct) <= EP_FORWARD_SOCKET_USES);
	assert_true(distinct <= 200 / EP_FORWARD_SOCKET_USES + EP_FORWARD_POOL_SOCKETS);
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.answered, 200);
	assert_int_equal(st.dropped_bad_id + st.dropped_bad_question, 0);
}

/* A try that got no answer leaves its port behind: the next try to the same
 * target comes from another socket (RFC 5452: a port an attacker may have
 * been flooding is not kept). */
static void test_timed_out_try_retires_its_socket_w4(void **state)
{
	fixture_t *fx = *state;
	for (int i = 0; i < 3; i++) {
		ep_forward_request_t req = request(fx->hole.port, 100, 150);
		assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
		run_until(fx, i + 1);
		assert_int_equal(fx->status, PR_ETIMEOUT);
	}
	assert_true(fx->hole.n >= 3); /* a second try fits before some deadlines */
	size_t distinct = 0;
	assert_int_equal(port_use(&fx->hole, &distinct), 1);
	assert_int_equal(distinct, fx->hole.n);
}

/* ---- joined requests ------------------------------------------------------------- */

typedef struct exch {
	resolve_inflight_t *t;
	resolve_exchange_t *x;
	uint8_t name[32];
} exch_t;

/* An exchange opened as resolve/ opens one for a question out. */
static void exch_open(exch_t *e, const char *label)
{
	e->t = resolve_inflight_new();
	size_t n = strlen(label);
	e->name[0] = (uint8_t)n;
	memcpy(e->name + 1, label, n);
	e->name[n + 1] = 0;
	rs_cache_key_t k = {.scope = 1, .name = e->name, .qtype = 1};
	bool leader = false;
	e->x = exchange_open_or_join(e->t, &k, rs_cache_key_hash(&k), true, &leader);
	assert_true(leader);
}

static void exch_done(exch_t *e)
{
	exchange_unref(&e->x);
	resolve_inflight_destroy(&e->t);
}

static const uint8_t answer[] = {0x99, 0x99, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
				 4, 'p', 'o', 'o', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				 0, 0, 1, 0, 1};

static void *close_later(void *arg)
{
	exch_t *e = arg;
	usleep(50000);
	exchange_close(e->x, answer, sizeof(answer));
	return NULL;
}

/* A request joining a new exchange, started. */
static ep_forward_request_t join_started(fixture_t *fx, exch_t *e, uint32_t deadline_ms)
{
	exch_open(e, "pool");
	ep_forward_request_t req = request(fx->good.port, 100, deadline_ms);
	req.join = e->x;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
	return req;
}

/* Woken from another thread: the exchange's reply, nothing sent. */
static void test_joined_answered_from_other_thread_q6(void **state)
{
	fixture_t *fx = *state;
	exch_t e;
	ep_forward_request_t req = join_started(fx, &e, 2000);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, close_later, &e), 0);
	run_until(fx, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->status, 0);
	assert_int_equal(fx->len, sizeof(answer));
	assert_memory_equal(fx->reply, answer, sizeof(answer));
	assert_int_equal(fx->good.n, 0);
	ep_forward_stats_t st;
	ep_forwarder_stats(fx->f, &st);
	assert_int_equal(st.joined, 1);
	assert_int_equal(st.udp_tries, 0);
	/* Closed already: answered on the next turn, never inside start. */
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
	assert_int_equal(fx->calls, 1);
	run_until(fx, 2);
	assert_int_equal(fx->status, 0);
	exch_done(&e);
}

/* The deadline before the reply: PR_ETIMEOUT, and the close that follows
 * wakes nobody. A cancelled one never hears back; the forwarder's close ends
 * the rest with -ECANCELED. */
static void test_joined_deadline_cancel_close_q6(void **state)
{
	fixture_t *fx = *state;
	exch_t e;
	ep_forward_request_t req = join_started(fx, &e, 100);
	run_until(fx, 1);
	assert_int_equal(fx->status, PR_ETIMEOUT);
	ep_forward_t *h = NULL;
	req.deadline_ms = 2000;
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, &h), 0);
	ep_forward_cancel(h);
	assert_int_equal(ep_forward_start(fx->f, &req, on_done, fx, NULL), 0);
	ep_forwarder_close(&fx->f);
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->status, -ECANCELED);
	exchange_close(e.x, answer, sizeof(answer));
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->calls, 2);
	exch_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pool_rotates_ports_w4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_concurrent_tries_w4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_out_try_retires_its_socket_w4, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_joined_answered_from_other_thread_q6, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_joined_deadline_cancel_close_q6, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
