/* The query log: per-worker single-producer rings, one writer thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "policies/policies.h"

#define RING_SLOTS 4096  /* per worker; a power of two */
#define SLOT_BYTES 1024  /* one JSON line; longer paths are cut at a step */

typedef struct ring {
	_Atomic uint64_t head; /* next slot the producer writes */
	_Atomic uint64_t tail; /* next slot the writer reads */
	_Atomic uint64_t dropped;
	char (*slots)[SLOT_BYTES];
	uint16_t *lens;
} ring_t;

struct querylog {
	char *path;
	FILE *f;
	bool is_stdout;
	ring_t *rings;
	unsigned n_rings;
	uv_thread_t writer;
	_Atomic bool stop;
	_Atomic bool reopen;
	_Atomic uint64_t written;
};

static int open_file(querylog_t *q)
{
	if (q->is_stdout) {
		q->f = stdout;
		return 0;
	}
	FILE *f = fopen(q->path, "a");
	if (!f)
		return -errno;
	if (q->f)
		fclose(q->f);
	q->f = f;
	return 0;
}

static size_t drain(querylog_t *q)
{
	size_t n = 0;
	for (unsigned i = 0; i < q->n_rings; i++) {
		ring_t *r = &q->rings[i];
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		for (; tail != head; tail++, n++) {
			size_t s = tail & (RING_SLOTS - 1);
			fwrite(r->slots[s], 1, r->lens[s], q->f);
		}
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	if (n) {
		fflush(q->f);
		atomic_fetch_add_explicit(&q->written, n, memory_order_relaxed);
	}
	return n;
}

static void writer_main(void *arg)
{
	querylog_t *q = arg;
	for (;;) {
		bool stopping = atomic_load(&q->stop);
		if (atomic_exchange(&q->reopen, false) && open_file(q) != 0)
			fprintf(stderr, "privresd: query log: cannot reopen %s\n", q->path);
		if (drain(q) == 0) {
			if (stopping)
				return;
			uv_sleep(20);
		}
	}
}

int querylog_open(const char *path, unsigned workers, querylog_t **out)
{
	querylog_t *q = pr_calloc(1, sizeof(*q));
	q->path = pr_strdup(path);
	q->is_stdout = !strcmp(path, "-");
	int rc = open_file(q);
	if (rc != 0) {
		free(q->path);
		free(q);
		return rc;
	}
	q->n_rings = workers;
	q->rings = pr_calloc(workers, sizeof(*q->rings));
	for (unsigned i = 0; i < workers; i++) {
		q->rings[i].slots = pr_malloc(RING_SLOTS * SLOT_BYTES);
		q->rings[i].lens = pr_calloc(RING_SLOTS, sizeof(uint16_t));
	}
	if (uv_thread_create(&q->writer, writer_main, q) != 0) {
		q->stop = true;
		querylog_close(&q);
		return -EAGAIN;
	}
	*out = q;
	return 0;
}

void querylog_close(querylog_t **qp)
{
	if (!qp || !*qp)
		return;
	querylog_t *q = *qp;
	if (!atomic_exchange(&q->stop, true))
		uv_thread_join(&q->writer);
	drain(q);
	if (q->f && !q->is_stdout)
		fclose(q->f);
	for (unsigned i = 0; i < q->n_rings; i++) {
		free(q->rings[i].slots);
		free(q->rings[i].lens);
	}
	free(q->rings);
	free(q->path);
	free(q);
	*qp = NULL;
}

void querylog_reopen(querylog_t *q)
{
	if (q)
		atomic_store(&q->reopen, true);
}

void querylog_counts(const querylog_t *q, uint64_t *written, uint64_t *dropped)
{
	*written = atomic_load_explicit(&q->written, memory_order_relaxed);
	*dropped = 0;
	for (unsigned i = 0; i < q->n_rings; i++)
		*dropped += atomic_load_explicit(&q->rings[i].dropped, memory_order_relaxed);
}

/* ---- formatting (on the worker, only when the log is on) ------------------- */

typedef struct out {
	char *p;
	size_t len, cap;
	bool full;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/* A JSON string of untrusted text (names escape oddities as \DDD already). */
static void put_str(out_t *o, const char *s)
{
	put(o, "\"");
	for (; *s && !o->full; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

static void put_step(out_t *o, const resolve_trace_t *t, const resolve_step_t *st)
{
	char buf[DNS_NAME_TEXT_MAX + 64], ip[16];
	const char *rule = resolve_step_rule_id(st->kind);
	switch (st->kind) {
	case RESOLVE_STEP_VIEW:
	case RESOLVE_STEP_EXTERNAL:
		snprintf(buf, sizeof(buf), "%s %s", resolve_step_name(st->kind), st->view ? st->view : "");
		break;
	case RESOLVE_STEP_ZONE:
	case RESOLVE_STEP_PUBLIC_ZONE:
	case RESOLVE_STEP_REDIRECT:
		snprintf(buf, sizeof(buf), "%s %s %s", rule, resolve_step_name(st->kind),
			 st->zone ? st->zone : "");
		break;
	case RESOLVE_STEP_RULE:
		snprintf(buf, sizeof(buf), "%s rule %s (%s)", rule, st->rule ? st->rule->name : "",
			 st->domain ? st->domain : "");
		break;
	case RESOLVE_STEP_RESERVED:
	case RESOLVE_STEP_FORWARDER:
		snprintf(buf, sizeof(buf), "%s %s %s", rule, resolve_step_name(st->kind),
			 st->domain ? st->domain : "");
		break;
	case RESOLVE_STEP_IN_PROCESS:
	case RESOLVE_STEP_FORWARD:
		snprintf(buf, sizeof(buf), "%s %s:%u", resolve_step_name(st->kind),
			 pr_ipv4_format(st->address, ip), st->port);
		break;
	case RESOLVE_STEP_POLICY:
		snprintf(buf, sizeof(buf), "%s policy %s %s", rule,
			 policy_action_name((policy_action_t)st->policy_action),
			 st->policy_rule ? st->policy_rule : "");
		break;
	case RESOLVE_STEP_CNAME: {
		char name[DNS_NAME_TEXT_MAX] = "";
		if (st->cname >= 0 && (size_t)st->cname < t->n_cnames)
			dns_name_to_text(t->cnames[st->cname], name, sizeof(name));
		snprintf(buf, sizeof(buf), "%s cname %s", rule, name);
		break;
	}
	default:
		snprintf(buf, sizeof(buf), "%s %s", rule, resolve_step_name(st->kind));
		break;
	}
	put_str(o, buf);
}

static const char *rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED"};
	return rcode >= 0 && rcode < 6 ? names[rcode] : "OTHER";
}

void querylog_write(querylog_t *q, unsigned worker, const querylog_entry_t *e)
{
	ring_t *r = &q->rings[worker % q->n_rings];
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (head - tail >= RING_SLOTS) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return;
	}
	size_t slot = head & (RING_SLOTS - 1);
	out_t o = {r->slots[slot], 0, SLOT_BYTES - 16, false}; /* room to close the line */

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	put(&o, "{\"time\":\"%s.%03ldZ\",\"listener\":", when, ts.tv_nsec / 1000000);
	put_str(&o, e->listener ? e->listener : "");
	const char *view = NULL;
	for (size_t i = 0; e->trace && i < e->trace->n_steps && !view; i++)
		if (e->trace->steps[i].kind == RESOLVE_STEP_VIEW ||
		    e->trace->steps[i].kind == RESOLVE_STEP_EXTERNAL)
			view = e->trace->steps[i].view;
	put(&o, ",\"view\":");
	put_str(&o, view ? view : "");
	char ip[INET6_ADDRSTRLEN] = "";
	unsigned port = 0;
	if (e->client && e->client->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)e->client;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	}
	put(&o, ",\"client\":\"%s:%u\",\"transport\":\"%s\"", ip, port, e->tcp ? "tcp" : "udp");
	char name[DNS_NAME_TEXT_MAX] = "";
	uint16_t qtype = 0;
	if (e->query_len > 12) {
		dns_query_t dq;
		dns_query_parse(e->query, e->query_len, &dq);
		if (dns_name_to_text(dq.qname, name, sizeof(name)) < 0)
			name[0] = '\0';
		qtype = dq.qtype;
	}
	char type[16];
	put(&o, ",\"name\":");
	put_str(&o, name);
	put(&o, ",\"type\":\"%s\"", dns_rrtype_to_text(qtype, type, sizeof(type)));
	if (e->answer && e->answer_len >= 12)
		put(&o, ",\"rcode\":\"%s\"", rcode_name(e->answer[3] & 0x0f));
	else
		put(&o, ",\"rcode\":\"dropped\"");
	if (e->trace)
		put(&o, ",\"alert\":%s,\"blocked\":%s,\"loop\":%s", e->trace->alert ? "true" : "false",
		    e->trace->blocked ? "true" : "false", e->trace->loop ? "true" : "false");
	put(&o, ",\"latencyUs\":%llu,\"path\":[", (unsigned long long)e->latency_us);
	for (size_t i = 0; e->trace && i < e->trace->n_steps; i++) {
		size_t before = o.len;
		if (i)
			put(&o, ",");
		put_step(&o, e->trace, &e->trace->steps[i]);
		if (o.full) {
			/* keep the line whole: cut the path at the last whole step */
			o.len = before;
			o.full = false;
			put(&o, i ? ",\"…\"" : "\"…\"");
			break;
		}
	}
	o.full = false;
	o.cap = SLOT_BYTES;
	put(&o, "]}\n");
	r->lens[slot] = (uint16_t)o.len;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}
