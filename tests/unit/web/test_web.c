/* Unit tests of web/ (the OpenMetrics text, the routes over a real loopback
 * socket, readiness) and of the daemon's per-worker tallies that /metrics
 * sums (daemon/tally.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Strings the library allocates go back to libc, not to cmocka's free. */
static void libc_free(void *p)
{
	free(p);
}

/* cmocka's order: these three first, and cmocka.h after every libc header
 * (under UNIT_TESTING it redefines malloc and free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/daemon_p.h"
#include "web/web.h"

/* One HTTP/1.0 GET over a real socket; the whole response (owned by libc). */
static char *get(uint16_t port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t cap = 1 << 16, len = 0;
	char *buf = calloc(1, cap);
	ssize_t r;
	while ((r = read(fd, buf + len, cap - len - 1)) > 0)
		len += (size_t)r;
	close(fd);
	return buf;
}

static int calls;

static void metrics(void *ctx, web_text_t *t)
{
	calls++;
	web_metric_family(t, "privres_things", WEB_COUNTER, NULL, "Things.");
	const char *labels[] = {"name", "a \"quoted\\ name\nwith a newline", NULL};
	web_metric_u64(t, "privres_things", "_total", labels, 42);
	web_metric_family(t, "privres_level", WEB_GAUGE, "seconds", "A level.");
	web_metric_double(t, "privres_level", "", NULL, 1.5);
	(void)ctx;
}

static void routes_and_readiness(void **state)
{
	(void)state;
	web_t *w = NULL;
	char *why = NULL;
	web_sources_t src = {.metrics = metrics};
	assert_int_equal(web_start("127.0.0.1:0", &src, &w, &why), 0);
	uint16_t port = web_port(w);
	assert_true(port > 0);

	char *r = get(port, "/healthz");
	assert_non_null(strstr(r, "200 OK"));
	free(r);
	/* not ready: nothing published, nothing bound */
	r = get(port, "/readyz");
	assert_non_null(strstr(r, "503"));
	assert_non_null(strstr(r, "no deployment applied yet"));
	assert_non_null(strstr(r, "listeners not bound yet"));
	free(r);
	web_set_ready(w, true, true);
	r = get(port, "/readyz");
	assert_non_null(strstr(r, "503")); /* still no deployment */
	assert_null(strstr(r, "listeners not bound"));
	free(r);

	r = get(port, "/metrics");
	assert_int_equal(calls, 1);
	/* Prometheus text: the counter's TYPE names its _total; label values escaped */
	assert_non_null(strstr(r, "# TYPE privres_things_total counter\n"));
	assert_non_null(strstr(r, "privres_things_total{name=\"a \\\"quoted\\\\ name"
				  "\\nwith a newline\"} 42\n"));
	assert_non_null(strstr(r, "privres_level 1.500000\n"));
	assert_null(strstr(r, "# EOF"));
	assert_non_null(strstr(r, "privres_ready 0\n"));
	free(r);

	r = get(port, "/no/such");
	assert_non_null(strstr(r, "404"));
	free(r);
	r = get(port, "/api/explain?vnet=x&name=y");
	assert_non_null(strstr(r, "503")); /* no snapshot to explain with */
	free(r);
	r = get(port, "/");
	assert_non_null(strstr(r, "<svg id=\"diagram\""));
	free(r);
	web_stop(&w);
	assert_null(w);
	web_stop(&w); /* accepts NULL */
}

static void bad_listen_address(void **state)
{
	(void)state;
	web_t *w = NULL;
	char *why = NULL;
	web_sources_t src = {0};
	assert_int_equal(web_start("localhost", &src, &w, &why), PR_EPARSE);
	assert_non_null(strstr(why, "not an address"));
	libc_free(why);
	why = NULL;
	assert_int_equal(web_start("127.0.0.1:99999", &src, &w, &why), PR_EPARSE);
	libc_free(why);
	assert_null(w);
}

static void tallies_sum_across_workers(void **state)
{
	(void)state;
	tally_t *t[2] = {tally_new(), tally_new()};
	tally_query_t q = {.listener = "azure-dns/spoke", .transport = TALLY_UDP, .rcode = 0,
			   .latency_us = 100};
	tally_query(t[0], &q); /* exactly on a bound: in that bucket */
	q.latency_us = 101;
	tally_query(t[1], &q);
	q.rcode = 16; /* BADVERS, an extended rcode */
	q.transport = TALLY_TCP;
	q.latency_us = 10000000; /* beyond every bound */
	tally_query(t[1], &q);
	q.rcode = -1; /* dropped */
	tally_query(t[0], &q);
	q.listener = "hub/in";
	q.rcode = 3;
	tally_query(t[0], &q);

	tally_totals_t tt;
	tally_sum(t, 2, &tt);
	assert_int_equal(tt.n_listeners, 2);
	const tally_listener_t *l = strcmp(tt.listeners[0].name, "azure-dns/spoke")
					    ? &tt.listeners[1] : &tt.listeners[0];
	assert_string_equal(l->name, "azure-dns/spoke");
	assert_int_equal(l->queries[TALLY_UDP][0], 2);
	assert_int_equal(l->queries[TALLY_TCP][TALLY_RCODE_BADVERS], 1);
	assert_int_equal(l->queries[TALLY_TCP][TALLY_RCODE_DROPPED], 1);
	assert_int_equal(l->latency[0], 1);  /* le 100 µs */
	assert_int_equal(l->latency[1], 1);  /* le 250 µs */
	assert_int_equal(l->latency[TALLY_BUCKETS], 2); /* +Inf only */
	assert_int_equal(l->latency_sum_us, 100 + 101 + 2 * 10000000ull);
	char buf[16];
	assert_string_equal(tally_rcode_label(TALLY_RCODE_BADVERS, buf, sizeof(buf)), "BADVERS");
	assert_string_equal(tally_rcode_label(3, buf, sizeof(buf)), "NXDOMAIN");
	assert_string_equal(tally_rcode_label(TALLY_RCODE_DROPPED, buf, sizeof(buf)), "dropped");
	assert_int_equal(tally_bucket_us(0), 100);
	assert_int_equal(tt.overflow, 0);
	tally_totals_free(&tt);
	tally_destroy(&t[0]);
	tally_destroy(&t[1]);
	assert_null(t[0]);
}

static void tally_table_full_is_counted(void **state)
{
	(void)state;
	tally_t *t = tally_new();
	char name[32];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "listener-%d", i);
		tally_query_t q = {.listener = name, .transport = TALLY_UDP};
		tally_query(t, &q);
	}
	tally_totals_t tt;
	tally_sum(&t, 1, &tt);
	assert_int_equal(tt.n_listeners + tt.overflow, 200);
	assert_true(tt.overflow > 0);
	tally_totals_free(&tt);
	tally_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_and_readiness),
		cmocka_unit_test(bad_listen_address),
		cmocka_unit_test(tallies_sum_across_workers),
		cmocka_unit_test(tally_table_full_is_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
