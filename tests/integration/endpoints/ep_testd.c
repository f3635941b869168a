/*
 * ep_testd — an ep_server on 127.0.0.1 with a small DNS handler (libknot), for
 * the integration tests of endpoints/ driven by real clients (dig, kdig,
 * dnspython). Not a resolver: it answers every name itself.
 *
 *   A     → 192.0.2.1
 *   TXT   → "listener=NAME transport=udp|tcp worker=I"
 *   a first label "delay-N" → answered N ms later from a uv_timer (async)
 *   a first label "big-N"   → a TXT of about N octets (UDP: TC)
 *   unparsable with a header → FORMERR (W-3)
 *
 * Usage: ep_testd [--workers N] [--idle-ms N] [--max-conns N] [--max-inflight N]
 *                 [--max-write-queue N] [--port P] [--name NAME] [--delay-ms N]
 * Prints "ready NAME PORT" then reads commands on stdin, one a line:
 *   add NAME PORT | remove NAME | stats | quit
 * and answers "ok ...", "err ..." or "stats k=v ...". quit stops the server
 * and exits 0 when stop() returned 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "endpoints/endpoints.h"

typedef struct pending {
	uv_timer_t timer;
	ep_query_t *q;
	struct pending *prev, *next;
	struct wstate *ws;
} pending_t;

typedef struct wstate {
	pending_t *head;
} wstate_t;

typedef struct app {
	int delay_ms;
} app_t;

/* A label "prefix-N" at the head of the question name: N, or -1. */
static long label_number(const knot_dname_t *qname, const char *prefix)
{
	size_t pl = strlen(prefix);
	size_t ll = qname[0];
	if (ll <= pl || ll > 20 || strncasecmp((const char *)qname + 1, prefix, pl) != 0)
		return -1;
	char num[24];
	memcpy(num, qname + 1 + pl, ll - pl);
	num[ll - pl] = '\0';
	char *end;
	long v = strtol(num, &end, 10);
	return *end == '\0' && v >= 0 ? v : -1;
}

static void formerr(ep_query_t *q)
{
	uint8_t hdr[KNOT_WIRE_HEADER_SIZE] = {0};
	memcpy(hdr, ep_query_data(q), 2); /* the ID, so the client can match it */
	knot_wire_set_qr(hdr);
	knot_wire_set_rcode(hdr, KNOT_RCODE_FORMERR);
	ep_query_answer(q, hdr, sizeof(hdr));
}

static void answer(ep_query_t *q)
{
	knot_pkt_t *query = knot_pkt_new((void *)ep_query_data(q), (uint16_t)ep_query_len(q), NULL);
	knot_pkt_t *resp = NULL;
	knot_rrset_t rr;
	knot_rrset_init_empty(&rr);
	if (query == NULL || knot_pkt_parse(query, 0) != KNOT_EOK ||
	    knot_wire_get_qr(query->wire) || knot_wire_get_qdcount(query->wire) != 1) {
		formerr(q);
		goto cleanup;
	}
	bool udp = ep_query_transport(q) == EP_UDP;
	uint16_t size = udp ? KNOT_WIRE_MIN_PKTSIZE : (uint16_t)ep_query_max_answer(q);
	if (udp && query->opt_rr != NULL && knot_edns_get_payload(query->opt_rr) > size)
		size = knot_edns_get_payload(query->opt_rr);
	resp = knot_pkt_new(NULL, size, NULL);
	if (resp == NULL || knot_pkt_init_response(resp, query) != KNOT_EOK) {
		ep_query_drop(q);
		goto cleanup;
	}
	knot_pkt_begin(resp, KNOT_ANSWER);
	const knot_dname_t *qname = knot_pkt_qname(query);
	uint16_t qtype = knot_pkt_qtype(query);
	long big = label_number(qname, "big-");
	knot_rrset_init(&rr, (knot_dname_t *)qname, KNOT_RRTYPE_TXT, KNOT_CLASS_IN, 60);
	if (big >= 0) {
		/* About big octets of TXT: strings of 255. */
		static uint8_t rdata[65000];
		size_t n = 0;
		while (n + 256 <= (size_t)big && n + 256 <= sizeof(rdata)) {
			rdata[n] = 255;
			memset(rdata + n + 1, 'x', 255);
			n += 256;
		}
		knot_rrset_add_rdata(&rr, rdata, (uint16_t)n, NULL);
	} else if (qtype == KNOT_RRTYPE_A) {
		static const uint8_t a[4] = {192, 0, 2, 1};
		rr.type = KNOT_RRTYPE_A;
		knot_rrset_add_rdata(&rr, a, 4, NULL);
	} else if (qtype == KNOT_RRTYPE_TXT) {
		uint8_t rdata[256];
		int n = snprintf((char *)rdata + 1, 255, "listener=%s transport=%s worker=%u",
				 ep_query_listener_name(q), udp ? "udp" : "tcp",
				 ep_query_worker_index(q));
		rdata[0] = (uint8_t)n;
		knot_rrset_add_rdata(&rr, rdata, (uint16_t)(n + 1), NULL);
	}
	if (!knot_rrset_empty(&rr) && knot_pkt_put(resp, KNOT_COMPR_HINT_QNAME, &rr, 0) != KNOT_EOK)
		knot_wire_set_tc(resp->wire); /* does not fit the client's size */
	ep_query_answer(q, resp->wire, resp->size);
cleanup:
	knot_rdataset_clear(&rr.rrs, NULL);
	knot_pkt_free(resp);
	knot_pkt_free(query);
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

static void handler(void *ctx, ep_query_t *q)
{
	app_t *app = ctx;
	long delay = app->delay_ms;
	const uint8_t *d = ep_query_data(q);
	size_t len = ep_query_len(q);
	/* The first label of the question, if it is in the packet. */
	if (len > KNOT_WIRE_HEADER_SIZE + 1 && d[KNOT_WIRE_HEADER_SIZE] < 64 &&
	    len > KNOT_WIRE_HEADER_SIZE + 1u + d[KNOT_WIRE_HEADER_SIZE]) {
		long v = label_number(d + KNOT_WIRE_HEADER_SIZE, "delay-");
		if (v >= 0)
			delay = v;
	}
	if (delay <= 0) {
		answer(q);
		return;
	}
	wstate_t *ws = ep_query_worker_state(q);
	pending_t *p = calloc(1, sizeof(*p));
	p->q = q;
	p->ws = ws;
	p->next = ws->head;
	if (ws->head)
		ws->head->prev = p;
	ws->head = p;
	uv_timer_init(ep_query_loop(q), &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, on_delay, (uint64_t)delay, 0);
}

static int w_init(void *ctx, unsigned index, uv_loop_t *loop, void **state)
{
	*state = calloc(1, sizeof(wstate_t));
	return 0;
}

/* Stop: pending delayed answers are dropped and their timers closed. */
static void w_stop(void *ctx, void *state)
{
	wstate_t *ws = state;
	while (ws->head != NULL) {
		pending_t *p = ws->head;
		pending_unlink(p);
		ep_query_drop(p->q);
		uv_close((uv_handle_t *)&p->timer, pending_closed);
	}
}

static void w_fini(void *ctx, void *state)
{
	free(state);
}

#define MAX_LISTENERS 16

typedef struct listeners {
	ep_listener_spec_t spec[MAX_LISTENERS];
	char *names[MAX_LISTENERS];
	size_t n;
} listeners_t;

static void print_stats(ep_server_t *s)
{
	ep_stats_t st;
	ep_server_stats(s, &st);
	printf("stats udp_queries=%llu tcp_queries=%llu tcp_accepted=%llu tcp_open=%llu "
	       "tcp_closed_idle=%llu tcp_closed_cap=%llu tcp_closed_slow=%llu "
	       "tcp_closed_badlen=%llu dropped_short=%llu dropped_busy=%llu answers_sent=%llu "
	       "send_errors=%llu recv_errors=%llu\n",
	       (unsigned long long)st.udp_queries, (unsigned long long)st.tcp_queries,
	       (unsigned long long)st.tcp_accepted, (unsigned long long)st.tcp_open,
	       (unsigned long long)st.tcp_closed_idle, (unsigned long long)st.tcp_closed_cap,
	       (unsigned long long)st.tcp_closed_slow, (unsigned long long)st.tcp_closed_badlen,
	       (unsigned long long)st.dropped_short, (unsigned long long)st.dropped_busy,
	       (unsigned long long)st.answers_sent, (unsigned long long)st.send_errors,
	       (unsigned long long)st.recv_errors);
}

static void print_diag(pr_diag_t *d, int r)
{
	char *text = pr_diag_format(d);
	printf("err %s\n", pr_diag_count(d) > 0 ? text : pr_strerror(r));
	fprintf(stderr, "ep_testd: %s\n", pr_diag_count(d) > 0 ? text : pr_strerror(r));
	free(text);
	pr_diag_clear(d);
}

int main(int argc, char **argv)
{
	app_t app = {0};
	ep_config_t cfg = {0};
	listeners_t ls = {0};
	const char *name = "main";
	long port = 0;
	ep_options_default(&cfg.options);
	cfg.options.workers = 2;
	for (int i = 1; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--workers") == 0)
			cfg.options.workers = (unsigned)v;
		else if (strcmp(argv[i], "--idle-ms") == 0)
			cfg.options.tcp_idle_timeout_ms = (uint32_t)v;
		else if (strcmp(argv[i], "--max-conns") == 0)
			cfg.options.tcp_max_connections = (uint32_t)v;
		else if (strcmp(argv[i], "--max-inflight") == 0)
			cfg.options.tcp_max_inflight = (uint32_t)v;
		else if (strcmp(argv[i], "--max-write-queue") == 0)
			cfg.options.tcp_max_write_queue = (uint32_t)v;
		else if (strcmp(argv[i], "--port") == 0)
			port = v;
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--delay-ms") == 0)
			app.delay_ms = (int)v;
		else {
			fprintf(stderr, "ep_testd: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg.handler = handler;
	cfg.ctx = &app;
	cfg.worker_init = w_init;
	cfg.worker_stop = w_stop;
	cfg.worker_fini = w_fini;
	ep_server_t *s = NULL;
	pr_diag_t *d = pr_diag_new();
	int r = ep_server_new(&cfg, &s);
	if (r < 0) {
		fprintf(stderr, "ep_testd: %s\n", pr_strerror(r));
		pr_diag_destroy(&d);
		return 1;
	}
	ls.names[0] = strdup(name);
	ls.spec[0] = (ep_listener_spec_t){.name = ls.names[0], .addr = 0x7f000001u,
					  .port = (uint16_t)port};
	ls.n = 1;
	r = ep_server_start(s, ls.spec, ls.n, d);
	if (r < 0) {
		print_diag(d, r);
		goto cleanup;
	}
	printf("ready %s %u\n", name, ep_server_listener_port(s, 0));

	char line[256];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32] = "", arg[64] = "";
		long p = 0;
		if (sscanf(line, "%31s %63s %ld", cmd, arg, &p) < 1)
			continue;
		if (strcmp(cmd, "quit") == 0) {
			break;
		} else if (strcmp(cmd, "stats") == 0) {
			print_stats(s);
		} else if (strcmp(cmd, "add") == 0 && ls.n < MAX_LISTENERS) {
			listeners_t next = ls;
			next.names[next.n] = strdup(arg);
			next.spec[next.n] = (ep_listener_spec_t){.name = next.names[next.n],
								 .addr = 0x7f000001u,
								 .port = (uint16_t)p};
			next.n++;
			r = ep_server_set_listeners(s, next.spec, next.n, d);
			if (r < 0) {
				free(next.names[next.n - 1]);
				print_diag(d, r);
				continue;
			}
			ls = next;
			printf("ok %s %u\n", arg, ep_server_listener_port(s, ls.n - 1));
		} else if (strcmp(cmd, "remove") == 0) {
			listeners_t next = {0};
			char *gone = NULL;
			for (size_t i = 0; i < ls.n; i++) {
				if (strcmp(ls.names[i], arg) == 0) {
					gone = ls.names[i];
					continue;
				}
				next.names[next.n] = ls.names[i];
				next.spec[next.n++] = ls.spec[i];
			}
			r = ep_server_set_listeners(s, next.spec, next.n, d);
			if (r < 0) {
				print_diag(d, r);
				continue;
			}
			free(gone);
			ls = next;
			printf("ok\n");
		} else {
			printf("err unknown command\n");
		}
	}
	r = ep_server_stop(s);
	printf("stopped %d\n", r);
cleanup:
	ep_server_destroy(&s);
	for (size_t i = 0; i < ls.n; i++)
		free(ls.names[i]);
	pr_diag_destroy(&d);
	return r < 0 ? 1 : 0;
}
