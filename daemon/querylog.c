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

#define RING_SLOTS 4096 /* per worker; a power of two */
#define MAX_STEPS 24
#define TEXT_BYTES 640  /* the names the steps carry, one after another */
#define QUESTION_BYTES 300 /* header + question: the longest name fits */

/* What a worker copies per query: no formatting on the worker. Strings of the
 * snapshot are copied, since the snapshot may be gone when the writer runs. */
typedef struct step_rec {
	uint8_t kind;
	uint8_t policy_action;
	uint16_t port;
	uint32_t address;
	uint16_t text; /* offset in rec.text, or 0xffff */
	uint16_t text2;
} step_rec_t;

typedef struct rec {
	struct timespec when;
	uint64_t latency_us;
	struct sockaddr_storage client;
	uint16_t question_len;
	int16_t rcode; /* extended (BADVERS is 16); -1: dropped */
	uint8_t tcp, alert, blocked, loop, n_steps, cut;
	uint16_t text_len;
	uint16_t listener; /* offset in text */
	uint16_t subject;  /* W-6: the client certificate's subject, offset in text or 0xffff */
	char transport[4]; /* "dot", "doh", or "" (then tcp says) */
	step_rec_t steps[MAX_STEPS];
	uint8_t question[QUESTION_BYTES];
	char text[TEXT_BYTES];
} rec_t;

typedef struct ring {
	_Atomic uint64_t head; /* next slot the producer writes */
	_Atomic uint64_t tail; /* next slot the writer reads */
	_Atomic uint64_t dropped;
	rec_t *slots;
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

static size_t format_rec(const rec_t *r, char *buf, size_t cap);

static size_t drain(querylog_t *q)
{
	size_t n = 0;
	char line[4096];
	for (unsigned i = 0; i < q->n_rings; i++) {
		ring_t *r = &q->rings[i];
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		for (; tail != head; tail++, n++) {
			size_t len = format_rec(&r->slots[tail & (RING_SLOTS - 1)], line, sizeof(line));
			fwrite(line, 1, len, q->f);
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
	for (unsigned i = 0; i < workers; i++)
		q->rings[i].slots = pr_malloc(RING_SLOTS * sizeof(rec_t));
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
	for (unsigned i = 0; i < q->n_rings; i++)
		free(q->rings[i].slots);
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

/* ---- on the worker: copy, don't format ---------------------------------- */

static uint16_t keep_text(rec_t *r, const char *text)
{
	if (!text)
		return 0xffff;
	size_t len = strlen(text);
	if (r->text_len + len + 1 > TEXT_BYTES) {
		r->cut = 1;
		return 0xffff;
	}
	uint16_t at = r->text_len;
	memcpy(r->text + at, text, len + 1);
	r->text_len = (uint16_t)(at + len + 1);
	return at;
}

static void keep_step(rec_t *r, const resolve_trace_t *t, size_t i)
{
	if (r->n_steps == MAX_STEPS) {
		r->cut = 1;
		return;
	}
	char name[DNS_NAME_TEXT_MAX];
	resolve_step_facts_t f = resolve_step_facts(t, i, name);
	step_rec_t *s = &r->steps[r->n_steps++];
	*s = (step_rec_t){.kind = (uint8_t)f.kind,
			  .policy_action = (uint8_t)f.policy_action,
			  .port = f.port,
			  .address = f.address,
			  .text = keep_text(r, f.text),
			  .text2 = keep_text(r, f.text2)};
}

void querylog_write(querylog_t *q, unsigned worker, const querylog_entry_t *e)
{
	ring_t *ring = &q->rings[worker % q->n_rings];
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	if (head - tail >= RING_SLOTS) {
		atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
		return;
	}
	rec_t *r = &ring->slots[head & (RING_SLOTS - 1)];
	clock_gettime(CLOCK_REALTIME, &r->when);
	r->latency_us = e->latency_us;
	memset(&r->client, 0, sizeof(r->client));
	if (e->client && e->client->sa_family == AF_INET)
		memcpy(&r->client, e->client, sizeof(struct sockaddr_in));
	r->question_len = (uint16_t)(e->query_len < QUESTION_BYTES ? e->query_len : QUESTION_BYTES);
	memcpy(r->question, e->query, r->question_len);
	/* The extended rcode: an EDNS answer keeps its upper bits in the OPT record. */
	r->rcode = (int16_t)(e->answer ? dns_message_rcode(e->answer, e->answer_len) : -1);
	r->tcp = e->tcp;
	r->alert = e->trace && e->trace->alert;
	r->blocked = e->trace && e->trace->blocked;
	r->loop = e->trace && e->trace->loop;
	r->n_steps = 0;
	r->cut = 0;
	r->text_len = 0;
	r->listener = keep_text(r, e->listener ? e->listener : "");
	r->subject = keep_text(r, e->client_subject);
	snprintf(r->transport, sizeof(r->transport), "%s", e->transport ? e->transport : "");
	for (size_t i = 0; e->trace && i < e->trace->n_steps; i++)
		keep_step(r, e->trace, i);
	atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

/* ---- on the writer: one JSON line per record ------------------------------- */

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

static void put_raw(out_t *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

#define PUT_LIT(o, lit) put_raw((o), (lit), sizeof(lit) - 1)

/* A JSON string of untrusted text (names escape oddities as \DDD already). */
static void put_str(out_t *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	PUT_LIT(o, "\"");
	for (; *s && !o->full; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put_raw(o, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put_raw(o, esc, 6);
		} else {
			put_raw(o, (const char *)&c, 1);
		}
	}
	PUT_LIT(o, "\"");
}

static const char *text_at(const rec_t *r, uint16_t at)
{
	return at == 0xffff ? "" : r->text + at;
}

static void put_step(out_t *o, const rec_t *r, const step_rec_t *st)
{
	char buf[DNS_NAME_TEXT_MAX + 128];
	resolve_step_facts_t f = {.kind = (resolve_step_kind_t)st->kind,
				  .text = st->text == 0xffff ? NULL : r->text + st->text,
				  .text2 = st->text2 == 0xffff ? NULL : r->text + st->text2,
				  .address = st->address,
				  .port = st->port,
				  .policy_action = st->policy_action};
	put_str(o, resolve_step_words(&f, buf, sizeof(buf)));
}

static size_t format_rec(const rec_t *r, char *buf, size_t cap)
{
	out_t o = {buf, 0, cap - 8, false}; /* room to close the line */
	/* The writer is one thread: the text of the current second is kept. */
	static time_t last_second = -1;
	static char when[40];
	if (r->when.tv_sec != last_second) {
		struct tm tm;
		gmtime_r(&r->when.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		last_second = r->when.tv_sec;
	}
	put(&o, "{\"time\":\"%s.%03ldZ\",\"listener\":", when, r->when.tv_nsec / 1000000);
	put_str(&o, text_at(r, r->listener));
	const char *view = "";
	for (size_t i = 0; i < r->n_steps && !*view; i++)
		if (r->steps[i].kind == RESOLVE_STEP_VIEW || r->steps[i].kind == RESOLVE_STEP_EXTERNAL)
			view = text_at(r, r->steps[i].text);
	PUT_LIT(&o, ",\"view\":");
	put_str(&o, view);
	char ip[INET6_ADDRSTRLEN] = "";
	unsigned port = 0;
	if (r->client.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->client;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	}
	put(&o, ",\"client\":\"%s:%u\",\"transport\":\"%s\"", ip, port,
	    r->transport[0] ? r->transport : r->tcp ? "tcp" : "udp");
	if (r->subject != 0xffff) {
		PUT_LIT(&o, ",\"clientSubject\":");
		put_str(&o, text_at(r, r->subject));
	}
	char name[DNS_NAME_TEXT_MAX] = "";
	uint16_t qtype = 0;
	if (r->question_len > 12) {
		dns_query_t dq;
		dns_query_parse(r->question, r->question_len, &dq);
		if (dns_name_to_text(dq.qname, name, sizeof(name)) < 0)
			name[0] = '\0';
		qtype = dq.qtype;
	}
	char type[16], rc[16];
	PUT_LIT(&o, ",\"name\":");
	put_str(&o, name);
	put(&o, ",\"type\":\"%s\",\"rcode\":\"%s\"", dns_rrtype_to_text(qtype, type, sizeof(type)),
	    r->rcode < 0 ? "dropped" : dns_rcode_name(r->rcode, rc, sizeof(rc)));
	PUT_LIT(&o, ",\"alert\":");
	put_raw(&o, r->alert ? "true" : "false", r->alert ? 4 : 5);
	PUT_LIT(&o, ",\"blocked\":");
	put_raw(&o, r->blocked ? "true" : "false", r->blocked ? 4 : 5);
	PUT_LIT(&o, ",\"loop\":");
	put_raw(&o, r->loop ? "true" : "false", r->loop ? 4 : 5);
	put(&o, ",\"latencyUs\":%llu,\"path\":[", (unsigned long long)r->latency_us);
	for (size_t i = 0; i < r->n_steps; i++) {
		size_t before = o.len;
		if (i)
			PUT_LIT(&o, ",");
		put_step(&o, r, &r->steps[i]);
		if (o.full) {
			o.len = before; /* keep the line whole: cut at the last whole step */
			o.full = false;
			put(&o, i ? ",\"…\"" : "\"…\"");
			break;
		}
	}
	if (r->cut)
		put(&o, r->n_steps ? ",\"…\"" : "\"…\"");
	o.full = false;
	o.cap = cap;
	put(&o, "]}\n");
	return o.len;
}
