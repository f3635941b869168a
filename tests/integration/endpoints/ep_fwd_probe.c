/*
 * ep_fwd_probe: one forwarder and one health table on a libuv loop, driven
 * line by line from stdin by test_forward.py, against real servers on
 * loopback (unbound, and small misbehaving ones).
 *
 *   ep_fwd_probe UNRESPONSIVE_MS BACKOFF_BASE_MS
 *   query NAME TYPE TRY_MS DEADLINE_MS SOURCE|- [!]ADDR:PORT...   ('!': unmapped)
 *     → result status=N target=I tcp=0|1 tries=N ms=N reply=HEX|-
 *   health → health ADDR:PORT=STATE/FAILURES ...
 *   stats  → stats key=value ...
 *   quit   → closed N   (uv_loop_close()'s result; exit status 0 only if 0)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "endpoints/endpoints.h"

#define CLIENT_ID 0xABCD /* the client's ID: never the one that goes out (W-4) */

static bool done;

static void on_result(void *arg, const ep_forward_result_t *res)
{
	uint64_t started = *(uint64_t *)arg;
	printf("result status=%d target=%d tcp=%d tries=%u ms=%llu reply=", res->status,
	       res->target, res->tcp ? 1 : 0, res->tries,
	       (unsigned long long)(pr_now_ms() - started));
	if (res->status != 0)
		printf("-");
	for (size_t i = 0; i < res->len; i++)
		printf("%02x", res->reply[i]);
	printf("\n");
	fflush(stdout);
	done = true;
}

static size_t build_query(const char *name, const char *type, uint8_t *buf)
{
	uint8_t wire[DNS_NAME_MAXLEN];
	dns_name_info_t info;
	uint16_t qtype;
	const char *why;
	if (dns_name_from_text(name, wire, &info, &why) != 0 || dns_rrtype_from_text(type, &qtype))
		return 0;
	memset(buf, 0, 12);
	buf[0] = CLIENT_ID >> 8;
	buf[1] = CLIENT_ID & 0xff;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;
	memcpy(buf + 12, wire, info.wire_len);
	size_t pos = 12 + info.wire_len;
	buf[pos++] = qtype >> 8;
	buf[pos++] = qtype & 0xff;
	buf[pos++] = 0;
	buf[pos++] = 1; /* IN */
	return pos;
}

static void do_query(uv_loop_t *loop, ep_forwarder_t *f, char *args)
{
	char *save = NULL;
	const char *name = strtok_r(args, " \n", &save);
	const char *type = strtok_r(NULL, " \n", &save);
	const char *try_ms = strtok_r(NULL, " \n", &save);
	const char *deadline = strtok_r(NULL, " \n", &save);
	const char *source = strtok_r(NULL, " \n", &save);
	uint8_t pkt[512];
	ep_forward_request_t req = {.packet = pkt};
	if (name == NULL || type == NULL || try_ms == NULL || deadline == NULL ||
	    source == NULL || (req.len = build_query(name, type, pkt)) == 0) {
		printf("error usage\n");
		return;
	}
	req.try_timeout_ms = (uint32_t)atoi(try_ms);
	req.deadline_ms = (uint32_t)atoi(deadline);
	if (strcmp(source, "-") != 0 && pr_ipv4_parse(source, &req.source_address) != 0) {
		printf("error source\n");
		return;
	}
	for (char *t; (t = strtok_r(NULL, " \n", &save)) != NULL;) {
		if (req.n_targets == EP_FORWARD_MAX_TARGETS) {
			printf("error targets\n");
			return;
		}
		ep_forward_target_t *tg = &req.targets[req.n_targets++];
		tg->mapped = t[0] != '!';
		if (pr_hostport_parse(tg->mapped ? t : t + 1, &tg->real_address,
				      &tg->real_port) != 0) {
			printf("error target %s\n", t);
			return;
		}
		/* The rule's own address: here the same (loopback is the map). */
		tg->address = tg->real_address;
		tg->port = tg->real_port;
	}
	uint64_t started = pr_now_ms();
	done = false;
	int err = ep_forward_start(f, &req, on_result, &started, NULL);
	if (err != 0) {
		printf("result status=%d target=-1 tcp=0 tries=0 ms=0 reply=-\n", err);
		return;
	}
	if (done) {
		/* The callback must never run inside ep_forward_start(). */
		printf("error callback inside start\n");
		return;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	if (!done)
		printf("error no callback\n");
}

static void do_health(ep_health_t *h)
{
	ep_health_entry_t e[64];
	size_t n = ep_health_list(h, pr_now_ms(), e, 64);
	printf("health");
	for (size_t i = 0; i < n && i < 64; i++) {
		char a[16];
		printf(" %s:%u=%s/%u", pr_ipv4_format(e[i].address, a), e[i].port,
		       ep_target_state_name(e[i].state), e[i].consecutive_failures);
	}
	printf("\n");
}

static void do_stats(const ep_forwarder_t *f)
{
	ep_forward_stats_t s;
	ep_forwarder_stats(f, &s);
	printf("stats requests=%llu answered=%llu failed=%llu unmapped_targets=%llu "
	       "udp_tries=%llu tcp_tries=%llu try_timeouts=%llu try_errors=%llu "
	       "source_bind_errors=%llu dropped_wrong_source=%llu dropped_bad_id=%llu "
	       "dropped_bad_question=%llu dropped_malformed=%llu cancelled=%llu\n",
	       (unsigned long long)s.requests, (unsigned long long)s.answered,
	       (unsigned long long)s.failed, (unsigned long long)s.unmapped_targets,
	       (unsigned long long)s.udp_tries, (unsigned long long)s.tcp_tries,
	       (unsigned long long)s.try_timeouts, (unsigned long long)s.try_errors,
	       (unsigned long long)s.source_bind_errors,
	       (unsigned long long)s.dropped_wrong_source, (unsigned long long)s.dropped_bad_id,
	       (unsigned long long)s.dropped_bad_question,
	       (unsigned long long)s.dropped_malformed, (unsigned long long)s.cancelled);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s UNRESPONSIVE_MS BACKOFF_BASE_MS\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_t loop;
	uv_loop_init(&loop);
	ep_health_t *h = ep_health_new((uint32_t)atoi(argv[1]));
	uint32_t base = (uint32_t)atoi(argv[2]);
	ep_health_set_backoff(h, base, base * 64);
	ep_forwarder_t *f = NULL;
	if (ep_forwarder_new(&loop, h, &f) != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	char line[1024];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "query ", 6) == 0)
			do_query(&loop, f, line + 6);
		else if (strncmp(line, "health", 6) == 0)
			do_health(h);
		else if (strncmp(line, "stats", 5) == 0)
			do_stats(f);
		else if (strncmp(line, "quit", 4) == 0)
			break;
		else
			printf("error unknown\n");
		fflush(stdout);
	}
	ep_forwarder_close(&f);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	ep_health_destroy(&h);
	printf("closed %d\n", rc);
	return rc == 0 ? 0 : 1;
}
