/* The listeners over real loopback sockets, in process: UDP and TCP answers
 * (W-1), short messages dropped (W-3), bind failures reported with the
 * address, live listener changes, answers after a connection closed, and
 * clean stops (style.md §10: every loop closes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "endpoints/endpoints.h"

/* cmocka last: under UNIT_TESTING it redefines malloc and free. */
#include <cmocka.h>
/* The handler allocates on worker threads; cmocka's allocation tracking is
 * not thread-safe, so this file uses the C library's (ASan checks leaks). */
#undef malloc
#undef calloc
#undef realloc
#undef free

#define LO 0x7f000001u

#ifdef EP_WRAP_SLOW
/* Built a second time with -Wl,--wrap (style.md §15) so that every answer
 * takes the slow paths: UDP sockets always "would block" (queued sends from
 * the pooled query contexts), TCP writes are partial — 1 octet, then 3, then
 * none — so the rest is queued, split inside the prefix or after it. */
int __real_uv_try_write(uv_stream_t *h, const uv_buf_t bufs[], unsigned int n);
static _Atomic unsigned wrapped_udp, wrapped_tcp;

int __wrap_uv_udp_try_send(uv_udp_t *h, const uv_buf_t bufs[], unsigned int n,
			   const struct sockaddr *addr)
{
	wrapped_udp++;
	return UV_EAGAIN;
}

/* The answers of a recvmmsg batch leave together with sendmmsg(2). */
int __wrap_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	wrapped_udp++;
	errno = EAGAIN;
	return -1;
}

int __wrap_uv_try_write(uv_stream_t *h, const uv_buf_t bufs[], unsigned int n)
{
	static _Thread_local unsigned calls;
	wrapped_tcp++;
	unsigned want = (calls++ % 3 == 0) ? 1 : 3;
	if (calls % 3 == 0)
		return UV_EAGAIN;
	uv_buf_t part[2];
	unsigned k = 0;
	for (unsigned i = 0; i < n && want > 0; i++) {
		unsigned take = bufs[i].len < want ? (unsigned)bufs[i].len : want;
		part[k++] = uv_buf_init(bufs[i].base, take);
		want -= take;
	}
	return __real_uv_try_write(h, part, k);
}
#endif

/* The handler's per-worker state: delayed answers still pending. */
typedef struct pending {
	uv_timer_t timer;
	ep_query_t *q;
	struct pending *next, *prev;
	struct wstate *ws;
} pending_t;

typedef struct wstate {
	pending_t *head;
	unsigned index;
} wstate_t;

typedef struct test_ctx {
	int delay_ms; /* 0: answer inside the handler */
	_Atomic int inits, stops, finis, bad;
} test_ctx_t;

/* The answer: the query with QR set, then the listener's name, then the
 * transport letter, so the client can see who answered. */
static void answer(ep_query_t *q)
{
	uint8_t buf[2048];
	size_t len = ep_query_len(q);
	const char *name = ep_query_listener_name(q);
	if (len > 1024) {
		ep_query_drop(q);
		return;
	}
	memcpy(buf, ep_query_data(q), len);
	buf[2] |= 0x80;
	size_t nl = strlen(name);
	memcpy(buf + len, name, nl);
	buf[len + nl] = ep_query_transport(q) == EP_TCP ? 'T' : 'U';
	ep_query_answer(q, buf, len + nl + 1);
}

static void pending_unlink(pending_t *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		p->ws->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
}

static void pending_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_delay(uv_timer_t *t)
{
	pending_t *p = t->data;
	pending_unlink(p);
	answer(p->q);
	uv_close((uv_handle_t *)&p->timer, pending_closed);
}

static void handler(void *vctx, ep_query_t *q)
{
	test_ctx_t *ctx = vctx;
	wstate_t *ws = ep_query_worker_state(q);
	/* Worker threads cannot fail a cmocka test: count, check on the main one. */
	if (ws == NULL || ws->index != ep_query_worker_index(q) ||
	    ep_query_listener_cookie(q) != (void *)(intptr_t)ep_query_listener_name(q)[0] ||
	    ep_query_peer(q)->sa_family != AF_INET) {
		ctx->bad++;
		ep_query_drop(q);
		return;
	}
	if (ctx->delay_ms == 0) {
		answer(q);
		return;
	}
	pending_t *p = calloc(1, sizeof(*p));
	p->q = q;
	p->ws = ws;
	p->next = ws->head;
	if (ws->head)
		ws->head->prev = p;
	ws->head = p;
	uv_timer_init(ep_query_loop(q), &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, on_delay, (uint64_t)ctx->delay_ms, 0);
}

static int w_init(void *vctx, unsigned index, uv_loop_t *loop, void **state)
{
	test_ctx_t *ctx = vctx;
	wstate_t *ws = calloc(1, sizeof(*ws));
	ws->index = index;
	ctx->inits++;
	*state = ws;
	return 0;
}

static void w_stop(void *vctx, void *state)
{
	test_ctx_t *ctx = vctx;
	wstate_t *ws = state;
	ctx->stops++;
	while (ws->head != NULL) {
		pending_t *p = ws->head;
		pending_unlink(p);
		ep_query_drop(p->q);
		uv_close((uv_handle_t *)&p->timer, pending_closed);
	}
}

static void w_fini(void *vctx, void *state)
{
	test_ctx_t *ctx = vctx;
	ctx->finis++;
	free(state);
}

static ep_server_t *server_new(test_ctx_t *ctx, unsigned workers)
{
	ep_config_t cfg = {0};
	ep_options_default(&cfg.options);
	cfg.options.workers = workers;
	cfg.handler = handler;
	cfg.ctx = ctx;
	cfg.worker_init = w_init;
	cfg.worker_stop = w_stop;
	cfg.worker_fini = w_fini;
	ep_server_t *s = NULL;
	assert_int_equal(ep_server_new(&cfg, &s), 0);
	return s;
}

/* Cookies are the first letter of the name, so the handler can check them. */
static ep_listener_spec_t spec(const char *name, uint16_t port)
{
	return (ep_listener_spec_t){.name = name, .addr = LO, .port = port,
				    .cookie = (void *)(intptr_t)name[0]};
}

static struct sockaddr_in lo_addr(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(LO);
	return sa;
}

static const uint8_t QUERY[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				1, 'a', 0, 0, 1, 0, 1};

/* Send a UDP datagram, wait up to ms for an answer; its length or -1. */
static ssize_t udp_ask(uint16_t port, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
		       int ms)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo_addr(port);
	assert_true(fd >= 0);
	assert_int_equal(sendto(fd, msg, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n = -1;
	if (poll(&pfd, 1, ms) == 1)
		n = recv(fd, out, cap, 0);
	close(fd);
	return n;
}

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = lo_addr(port);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read exactly n octets within ms; the count read (less on EOF/timeout). */
static size_t read_full(int fd, uint8_t *out, size_t n, int ms)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, ms) != 1)
			break;
		ssize_t r = read(fd, out + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* One framed answer from a TCP stream; its length or -1. */
static ssize_t tcp_read_answer(int fd, uint8_t *out, size_t cap, int ms)
{
	uint8_t pre[2];
	if (read_full(fd, pre, 2, ms) != 2)
		return -1;
	size_t len = ((size_t)pre[0] << 8) | pre[1];
	assert_true(len <= cap);
	return read_full(fd, out, len, ms) == len ? (ssize_t)len : -1;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void check_answer(const uint8_t *ans, ssize_t n, const char *name, char transport)
{
	size_t nl = strlen(name);
	assert_int_equal(n, (ssize_t)(sizeof(QUERY) + nl + 1));
	assert_int_equal(ans[0], 0x12);
	assert_int_equal(ans[1], 0x34);
	assert_true(ans[2] & 0x80);
	assert_memory_equal(ans + sizeof(QUERY), name, nl);
	assert_int_equal(ans[sizeof(QUERY) + nl], transport);
}

static void wait_stats(ep_server_t *s, ep_stats_t *st, size_t off, uint64_t want)
{
	for (int i = 0; i < 200; i++) {
		ep_server_stats(s, st);
		if (*(uint64_t *)((char *)st + off) >= want)
			return;
		usleep(10000);
	}
	fail_msg("counter at offset %zu did not reach %llu", off, (unsigned long long)want);
}

/* W-1: UDP and TCP answers on one port chosen by the system (port 0), on
 * every worker; W-3: short datagrams are dropped and counted. */
static void test_udp_tcp_answers_w1_w3(void **state)
{
	test_ctx_t ctx = {0};
	ep_server_t *s = server_new(&ctx, 2);
	ep_listener_spec_t l[] = {spec("alpha", 0)};
	uint8_t ans[4096];
	assert_int_equal(ep_server_start(s, l, 1, NULL), 0);
	assert_int_equal(ctx.inits, 2);
	uint16_t port = ep_server_listener_port(s, 0);
	assert_true(port != 0);
	assert_string_equal(ep_server_listener_name(s, 0), "alpha");
	for (int i = 0; i < 20; i++) {
		ssize_t n = udp_ask(port, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000);
		check_answer(ans, n, "alpha", 'U');
	}
	/* W-3: 0, 1 and 11 octets: no header, no answer */
	static const uint8_t junk[11] = {1, 2, 3};
	assert_int_equal(udp_ask(port, junk, 0, ans, sizeof(ans), 100), -1);
	assert_int_equal(udp_ask(port, junk, 1, ans, sizeof(ans), 100), -1);
	assert_int_equal(udp_ask(port, junk, 11, ans, sizeof(ans), 100), -1);
	ep_stats_t st;
	wait_stats(s, &st, offsetof(ep_stats_t, dropped_short), 3);
	assert_int_equal(st.dropped_short, 3);
	assert_int_equal(st.udp_queries, 20);

	/* Two pipelined queries in one write, then one split in two writes. */
	int fd = tcp_connect(port);
	assert_true(fd >= 0);
	uint8_t two[2 * (2 + sizeof(QUERY))];
	for (int i = 0; i < 2; i++) {
		two[i * (2 + sizeof(QUERY))] = 0;
		two[i * (2 + sizeof(QUERY)) + 1] = sizeof(QUERY);
		memcpy(two + i * (2 + sizeof(QUERY)) + 2, QUERY, sizeof(QUERY));
	}
	assert_int_equal(write(fd, two, sizeof(two)), (ssize_t)sizeof(two));
	check_answer(ans, tcp_read_answer(fd, ans, sizeof(ans), 2000), "alpha", 'T');
	check_answer(ans, tcp_read_answer(fd, ans, sizeof(ans), 2000), "alpha", 'T');
	assert_int_equal(write(fd, two, 5), 5);
	usleep(20000);
	assert_int_equal(write(fd, two + 5, sizeof(QUERY) + 2 - 5), (ssize_t)sizeof(QUERY) + 2 - 5);
	check_answer(ans, tcp_read_answer(fd, ans, sizeof(ans), 2000), "alpha", 'T');
	close(fd);
	wait_stats(s, &st, offsetof(ep_stats_t, tcp_queries), 3);
	assert_int_equal(st.tcp_accepted, 1);
#ifdef EP_WRAP_SLOW
	assert_true(wrapped_udp >= 20 && wrapped_tcp >= 3); /* the slow paths did run */
#endif
	assert_int_equal(ep_server_stop(s), 0);
	assert_int_equal(ctx.stops, 2);
	assert_int_equal(ctx.finis, 2);
	ep_server_destroy(&s);
	assert_int_equal(ctx.bad, 0);
	assert_null(s);
}

/* W-1: a burst of queries from one client, read by the workers in recvmmsg
 * batches whose answers leave together (sendmmsg, or queued when the socket
 * would block): every query is answered once, to its own ID. */
static void test_udp_burst_answered(void **state)
{
	enum { N = 100 };
	test_ctx_t ctx = {0};
	ep_server_t *s = server_new(&ctx, 2);
	ep_listener_spec_t l[] = {spec("alpha", 0)};
	assert_int_equal(ep_server_start(s, l, 1, NULL), 0);
	struct sockaddr_in sa = lo_addr(ep_server_listener_port(s, 0));
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	uint8_t msg[sizeof(QUERY)], ans[512];
	bool seen[N] = {false};
	memcpy(msg, QUERY, sizeof(QUERY));
	for (int i = 0; i < N; i++) {
		msg[0] = (uint8_t)(i >> 8);
		msg[1] = (uint8_t)i;
		assert_int_equal(sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&sa, sizeof(sa)),
				 (ssize_t)sizeof(msg));
	}
	int got = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	while (got < N && poll(&pfd, 1, 3000) == 1) {
		ssize_t n = recv(fd, ans, sizeof(ans), 0);
		assert_int_equal(n, (ssize_t)(sizeof(QUERY) + strlen("alpha") + 1));
		int id = ans[0] << 8 | ans[1];
		assert_true(id < N && !seen[id] && (ans[2] & 0x80));
		seen[id] = true;
		got++;
	}
	close(fd);
	assert_int_equal(got, N);
	ep_stats_t st;
	wait_stats(s, &st, offsetof(ep_stats_t, answers_sent), N);
	assert_int_equal(st.answers_sent, N);
	assert_int_equal(st.send_errors, 0);
	assert_int_equal(ep_server_stop(s), 0);
	ep_server_destroy(&s);
	assert_int_equal(ctx.bad, 0);
}

/* A bind failure names the listener and address, and leaves nothing open. */
static void test_bind_failure_names_address(void **state)
{
	test_ctx_t ctx = {0};
	int before = count_fds();
	/* A plain socket without SO_REUSEPORT holds the port. */
	int busy = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo_addr(0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
	uint16_t port = ntohs(sa.sin_port);

	ep_server_t *s = server_new(&ctx, 2);
	ep_listener_spec_t l[] = {spec("good", 0), spec("taken", port)};
	pr_diag_t *d = pr_diag_new();
	assert_int_equal(ep_server_start(s, l, 2, d), -EADDRINUSE);
	assert_int_equal(pr_diag_count(d), 1);
	char *text = pr_diag_format(d);
	char want[64];
	snprintf(want, sizeof(want), "listeners[taken]: 127.0.0.1:%u", port);
	assert_non_null(strstr(text, want));
	free(text);
	assert_int_equal(ctx.inits, 0);
	assert_int_equal(count_fds(), before + 1);
	/* Another process's SO_REUSEPORT socket on the port: joining its group
	 * would share its traffic, so that is refused too. */
	int shared = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	struct sockaddr_in sb = lo_addr(0);
	sl = sizeof(sb);
	setsockopt(shared, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	assert_int_equal(bind(shared, (struct sockaddr *)&sb, sizeof(sb)), 0);
	assert_int_equal(getsockname(shared, (struct sockaddr *)&sb, &sl), 0);
	ep_listener_spec_t l2[] = {spec("shared", ntohs(sb.sin_port))};
	assert_int_equal(ep_server_start(s, l2, 1, NULL), -EADDRINUSE);
	close(shared);
	/* Two listeners on one address and port are a mistake, not a group. */
	ep_listener_spec_t l3[] = {spec("one", 5353), spec("two", 5353)};
	assert_int_equal(ep_server_start(s, l3, 2, NULL), -EADDRINUSE);
	assert_int_equal(ctx.inits, 0);
	/* The server can still start once the port is free. */
	close(busy);
	l[1].port = 0;
	assert_int_equal(ep_server_start(s, l, 2, NULL), 0);
	ep_server_destroy(&s);
	assert_int_equal(ctx.bad, 0);
	assert_int_equal(ctx.finis, 2);
	pr_diag_destroy(&d);
	assert_int_equal(count_fds(), before);
}

/* Listener changes at run time: added ones answer at once with their own
 * name and cookie, removed ones are gone, kept ones are not disturbed. */
static void test_set_listeners_live(void **state)
{
	test_ctx_t ctx = {0};
	ep_server_t *s = server_new(&ctx, 2);
	ep_listener_spec_t one[] = {spec("alpha", 0)};
	uint8_t ans[4096];
	assert_int_equal(ep_server_start(s, one, 1, NULL), 0);
	uint16_t p_alpha = ep_server_listener_port(s, 0);
	int keep = tcp_connect(p_alpha);
	assert_true(keep >= 0);

	ep_listener_spec_t two[] = {spec("beta", 0), spec("alpha", 0)};
	assert_int_equal(ep_server_set_listeners(s, two, 2, NULL), 0);
	assert_int_equal(ep_server_listener_count(s), 2);
	uint16_t p_beta = ep_server_listener_port(s, 0);
	assert_int_equal(ep_server_listener_port(s, 1), p_alpha);
	check_answer(ans, udp_ask(p_beta, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000), "beta",
		     'U');
	check_answer(ans, udp_ask(p_alpha, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000), "alpha",
		     'U');

	/* The connection to the kept listener still works. */
	uint8_t framed[2 + sizeof(QUERY)] = {0, sizeof(QUERY)};
	memcpy(framed + 2, QUERY, sizeof(QUERY));
	assert_int_equal(write(keep, framed, sizeof(framed)), (ssize_t)sizeof(framed));
	check_answer(ans, tcp_read_answer(keep, ans, sizeof(ans), 2000), "alpha", 'T');

	/* Remove alpha: its UDP port is silent, TCP refused, its connection closed. */
	ep_listener_spec_t only_beta[] = {spec("beta", 0)};
	assert_int_equal(ep_server_set_listeners(s, only_beta, 1, NULL), 0);
	assert_int_equal(ep_server_listener_port(s, 0), p_beta);
	assert_int_equal(udp_ask(p_alpha, QUERY, sizeof(QUERY), ans, sizeof(ans), 200), -1);
	assert_int_equal(tcp_connect(p_alpha), -1);
	assert_int_equal(read_full(keep, ans, 1, 2000), 0); /* EOF */
	close(keep);
	check_answer(ans, udp_ask(p_beta, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000), "beta",
		     'U');

	/* A failing change changes nothing. */
	int busy = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = lo_addr(0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
	ep_listener_spec_t bad[] = {spec("gamma", ntohs(sa.sin_port))};
	assert_int_equal(ep_server_set_listeners(s, bad, 1, NULL), -EADDRINUSE);
	close(busy);
	assert_int_equal(ep_server_listener_count(s), 1);
	check_answer(ans, udp_ask(p_beta, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000), "beta",
		     'U');
	assert_int_equal(ep_server_stop(s), 0);
	ep_server_destroy(&s);
	assert_int_equal(ctx.bad, 0);
}

/* Answers given after the client closed its TCP connection go nowhere, and
 * stop() with answers still pending drops them cleanly. */
static void test_async_answer_after_close(void **state)
{
	test_ctx_t ctx = {.delay_ms = 150};
	ep_server_t *s = server_new(&ctx, 1);
	ep_listener_spec_t l[] = {spec("alpha", 0)};
	uint8_t ans[4096];
	assert_int_equal(ep_server_start(s, l, 1, NULL), 0);
	uint16_t port = ep_server_listener_port(s, 0);
	uint8_t framed[2 + sizeof(QUERY)] = {0, sizeof(QUERY)};
	memcpy(framed + 2, QUERY, sizeof(QUERY));
	int fd = tcp_connect(port);
	assert_int_equal(write(fd, framed, sizeof(framed)), (ssize_t)sizeof(framed));
	/* Let the server read it, then reset the connection. */
	ep_stats_t st;
	wait_stats(s, &st, offsetof(ep_stats_t, tcp_queries), 1);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	usleep(400000); /* the delayed answer fires on a closed connection */
	ep_server_stats(s, &st);
	assert_int_equal(st.tcp_open, 0);
	assert_int_equal(st.answers_sent, 0);

	/* Delayed answers still arrive, and in time. */
	check_answer(ans, udp_ask(port, QUERY, sizeof(QUERY), ans, sizeof(ans), 2000), "alpha",
		     'U');

	/* Stop while a UDP and a TCP query wait: the stop hook drops them. */
	int fd2 = tcp_connect(port);
	assert_int_equal(write(fd2, framed, sizeof(framed)), (ssize_t)sizeof(framed));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo_addr(port);
	sendto(u, QUERY, sizeof(QUERY), 0, (struct sockaddr *)&sa, sizeof(sa));
	wait_stats(s, &st, offsetof(ep_stats_t, tcp_queries), 2);
	wait_stats(s, &st, offsetof(ep_stats_t, udp_queries), 2);
	assert_int_equal(ep_server_stop(s), 0);
	assert_int_equal(ctx.stops, 1);
	assert_int_equal(read_full(fd2, ans, 1, 2000), 0); /* closed, unanswered */
	close(fd2);
	close(u);
	ep_server_destroy(&s);
	assert_int_equal(ctx.bad, 0);
}

static void test_config_rejected(void **state)
{
	ep_config_t cfg = {0};
	ep_server_t *s = NULL;
	ep_options_default(&cfg.options);
	assert_int_equal(ep_server_new(&cfg, &s), -EINVAL); /* no handler */
	cfg.handler = handler;
	cfg.options.tcp_max_write_queue = 1000; /* below one whole answer */
	assert_int_equal(ep_server_new(&cfg, &s), -EINVAL);
	assert_null(s);
	ep_server_destroy(NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_tcp_answers_w1_w3),
		cmocka_unit_test(test_udp_burst_answered),
		cmocka_unit_test(test_bind_failure_names_address),
		cmocka_unit_test(test_set_listeners_live),
		cmocka_unit_test(test_async_answer_after_close),
		cmocka_unit_test(test_config_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
