/* The query log: per-worker single-producer rings, one writer thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "policies/policies.h"

#define RING_SLOTS 4096 /* per worker; a power of two */
#define STREAM_RING_SLOTS 64 /* the live view alone: 50 entries a second per worker */
#define STREAM_GAP_NS 20000000ull /* the live view alone: 50 entries a second per worker */
#define MAX_STEPS 24
#define TEXT_BYTES 640  /* the names the steps carry, one after another */
#define QUESTION_BYTES 300 /* header + question: the longest name fits */
#define ANSWER_BYTES 1232  /* the cloud's format logs the records (an EDNS-sized answer) */

/* What a worker copies per query: no formatting on the worker. Strings of the
 * snapshot are copied, since the snapshot may be gone when the writer runs. */
typedef struct step_rec {
	uint8_t kind;
	uint8_t policy_action;
	uint16_t port;
	uint32_t address;
	uint16_t text; /* offset in rec.text, or 0xffff */
	uint16_t text2;
	uint8_t depth; /* 0: the client's view */
} step_rec_t;

typedef struct rec {
	struct timespec when;
	uint64_t latency_us;
	struct sockaddr_storage client;
	uint16_t question_len;
	int16_t rcode; /* extended (BADVERS is 16); -1: dropped */
	uint8_t tcp, alert, blocked, would_block, loop, n_steps, cut;
	uint16_t text_len;
	uint16_t listener; /* offset in text */
	uint16_t subject;  /* W-6: the client certificate's subject, offset in text or 0xffff */
	char transport[4]; /* "dot", "doh", or "" (then tcp says) */
	uint16_t rule_id;  /* the first forwarding rule's ARM id, offset in text or 0xffff */
	uint16_t answer_len; /* azure format: the answer's first ANSWER_BYTES */
	step_rec_t steps[MAX_STEPS];
	uint8_t question[QUESTION_BYTES];
	char text[TEXT_BYTES];
	uint8_t answer[ANSWER_BYTES];
} rec_t;

typedef struct ring {
	_Atomic uint64_t head; /* next slot the producer writes */
	_Atomic uint64_t tail; /* next slot the writer reads */
	_Atomic uint64_t dropped;
	uint64_t next_stream_ns; /* the producer's: when the live view gets its next entry */
	rec_t *slots;
} ring_t;

struct querylog {
	char *path; /* NULL: no file, the live stream only */
	model_query_log_format_t format;
	web_t *web; /* the live view's stream, or NULL */
	pthread_mutex_t lock; /* context */
	json_t *context; /* names → ARM ids for the azure format (azure.c) */
	FILE *f;
	bool is_stdout;
	ring_t *rings;
	unsigned n_rings;
	size_t ring_slots; /* RING_SLOTS, or STREAM_RING_SLOTS without a file */
	uv_thread_t writer;
	_Atomic bool stop;
	_Atomic bool reopen;
	_Atomic uint64_t written;
	_Atomic bool streaming; /* a live view watches: workers make entries */
};

static int open_file(querylog_t *q)
{
	if (q->is_stdout) {
		q->f = stdout;
		return 0;
	}
	if (!q->path)
		return 0;
	FILE *f = fopen(q->path, "a");
	if (!f)
		return -errno;
	if (q->f)
		fclose(q->f);
	q->f = f;
	return 0;
}

static size_t format_rec(const rec_t *r, char *buf, size_t cap);
static size_t format_azure(const rec_t *r, const json_t *context, char *buf, size_t cap);

/* One record to the file, in its format, and to the live stream in privres's
 * (which carries the path the view draws). */
static void write_rec(querylog_t *q, const rec_t *rec, const json_t *context, bool stream)
{
	char line[8192];
	size_t len = 0;
	if (q->f) {
		len = q->format == MODEL_QUERY_LOG_AZURE
			      ? format_azure(rec, context, line, sizeof(line))
			      : format_rec(rec, line, sizeof(line));
		fwrite(line, 1, len, q->f);
	}
	if (!stream)
		return;
	if (!q->f || q->format != MODEL_QUERY_LOG_PRIVRES)
		len = format_rec(rec, line, sizeof(line));
	pthread_mutex_lock(&q->lock);
	if (q->web)
		web_stream_line(q->web, line, len && line[len - 1] == '\n' ? len - 1 : len);
	pthread_mutex_unlock(&q->lock);
}

static size_t drain(querylog_t *q)
{
	size_t n = 0;
	pthread_mutex_lock(&q->lock);
	json_t *context = json_incref(q->context);
	bool stream = web_stream_wanted(q->web);
	pthread_mutex_unlock(&q->lock);
	/* The workers ask this flag, never the web object itself. */
	atomic_store_explicit(&q->streaming, stream, memory_order_relaxed);
	for (unsigned i = 0; i < q->n_rings; i++) {
		ring_t *r = &q->rings[i];
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		for (; tail != head; tail++, n++)
			write_rec(q, &r->slots[tail & (q->ring_slots - 1)], context, stream);
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	json_decref(context);
	if (n) {
		if (q->f)
			fflush(q->f);
		atomic_fetch_add_explicit(&q->written, n, memory_order_relaxed);
	}
	return n;
}

bool querylog_wanted(querylog_t *q, unsigned worker, uint64_t now_ns)
{
	if (q->f)
		return true;
	if (!atomic_load_explicit(&q->streaming, memory_order_relaxed))
		return false;
	/* The live view only: at most one entry per STREAM_GAP_NS per worker,
	 * so a view open under load costs the queries nothing measurable. */
	ring_t *ring = &q->rings[worker % q->n_rings];
	if (now_ns < ring->next_stream_ns)
		return false;
	ring->next_stream_ns = now_ns + STREAM_GAP_NS;
	return true;
}

void querylog_set_web(querylog_t *q, web_t *web)
{
	pthread_mutex_lock(&q->lock);
	q->web = web;
	pthread_mutex_unlock(&q->lock);
}

bool querylog_wants_context(const querylog_t *q)
{
	return q->format == MODEL_QUERY_LOG_AZURE;
}

void querylog_set_context(querylog_t *q, json_t *context)
{
	pthread_mutex_lock(&q->lock);
	json_t *old = q->context;
	q->context = context;
	pthread_mutex_unlock(&q->lock);
	json_decref(old);
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

int querylog_open(const char *path, model_query_log_format_t format, unsigned workers,
		  querylog_t **out)
{
	querylog_t *q = pr_calloc(1, sizeof(*q));
	q->path = path ? pr_strdup(path) : NULL;
	q->format = format;
	q->is_stdout = path && !strcmp(path, "-");
	pthread_mutex_init(&q->lock, NULL);
	int rc = open_file(q);
	if (rc != 0) {
		pthread_mutex_destroy(&q->lock);
		free(q->path);
		free(q);
		return rc;
	}
	q->n_rings = workers;
	q->ring_slots = path ? RING_SLOTS : STREAM_RING_SLOTS;
	q->rings = pr_calloc(workers, sizeof(*q->rings));
	for (unsigned i = 0; i < workers; i++)
		q->rings[i].slots = pr_malloc(q->ring_slots * sizeof(rec_t));
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
	json_decref(q->context);
	pthread_mutex_destroy(&q->lock);
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
			  .text2 = keep_text(r, f.text2),
			  .depth = t->steps[i].depth};
	if (f.kind == RESOLVE_STEP_RULE && r->rule_id == 0xffff && t->steps[i].rule)
		r->rule_id = keep_text(r, t->steps[i].rule->id);
}

void querylog_write(querylog_t *q, unsigned worker, const querylog_entry_t *e)
{
	ring_t *ring = &q->rings[worker % q->n_rings];
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	if (head - tail >= q->ring_slots) {
		atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
		return;
	}
	rec_t *r = &ring->slots[head & (q->ring_slots - 1)];
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
	r->would_block = e->trace && e->trace->would_block;
	r->loop = e->trace && e->trace->loop;
	r->n_steps = 0;
	r->cut = 0;
	r->text_len = 0;
	r->listener = keep_text(r, e->listener ? e->listener : "");
	r->subject = keep_text(r, e->client_subject);
	snprintf(r->transport, sizeof(r->transport), "%s", e->transport ? e->transport : "");
	r->rule_id = 0xffff;
	r->answer_len = 0;
	if (q->format == MODEL_QUERY_LOG_AZURE && e->answer) {
		size_t n = e->answer_len < ANSWER_BYTES ? e->answer_len : ANSWER_BYTES;
		r->answer_len = (uint16_t)n;
		memcpy(r->answer, e->answer, r->answer_len);
	}
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

/* "2026-11-23T04:29:18" of the record's second. The writer is one thread:
 * the text of the current second is kept. */
static const char *second_text(const rec_t *r)
{
	static time_t last_second = -1;
	static char when[40];
	if (r->when.tv_sec != last_second) {
		struct tm tm;
		gmtime_r(&r->when.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		last_second = r->when.tv_sec;
	}
	return when;
}

/* The question's name (text) and type of a record. */
static uint16_t rec_question(const rec_t *r, char *name)
{
	name[0] = '\0';
	if (r->question_len <= 12)
		return 0;
	dns_query_t dq;
	dns_query_parse(r->question, r->question_len, &dq);
	if (dns_name_to_text(dq.qname, name, DNS_NAME_TEXT_MAX) < 0)
		name[0] = '\0';
	return dq.qtype;
}

static unsigned rec_client(const rec_t *r, char *ip)
{
	ip[0] = '\0';
	if (r->client.ss_family != AF_INET)
		return 0;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->client;
	inet_ntop(AF_INET, &sin->sin_addr, ip, INET6_ADDRSTRLEN);
	return ntohs(sin->sin_port);
}

static size_t format_rec(const rec_t *r, char *buf, size_t cap)
{
	out_t o = {buf, 0, cap - 8, false}; /* room to close the line */
	put(&o, "{\"time\":\"%s.%03ldZ\",\"listener\":", second_text(r),
	    r->when.tv_nsec / 1000000);
	put_str(&o, text_at(r, r->listener));
	const char *view = "";
	for (size_t i = 0; i < r->n_steps && !*view; i++)
		if (r->steps[i].kind == RESOLVE_STEP_VIEW || r->steps[i].kind == RESOLVE_STEP_EXTERNAL)
			view = text_at(r, r->steps[i].text);
	PUT_LIT(&o, ",\"view\":");
	put_str(&o, view);
	char ip[INET6_ADDRSTRLEN];
	unsigned port = rec_client(r, ip);
	put(&o, ",\"client\":\"%s:%u\",\"transport\":\"%s\"", ip, port,
	    r->transport[0] ? r->transport : r->tcp ? "tcp" : "udp");
	if (r->subject != 0xffff) {
		PUT_LIT(&o, ",\"clientSubject\":");
		put_str(&o, text_at(r, r->subject));
	}
	char name[DNS_NAME_TEXT_MAX];
	uint16_t qtype = rec_question(r, name);
	char type[16], rc[16];
	PUT_LIT(&o, ",\"name\":");
	put_str(&o, name);
	put(&o, ",\"type\":\"%s\",\"rcode\":\"%s\"", dns_rrtype_to_text(qtype, type, sizeof(type)),
	    r->rcode < 0 ? "dropped" : dns_rcode_name(r->rcode, rc, sizeof(rc)));
	PUT_LIT(&o, ",\"alert\":");
	put_raw(&o, r->alert ? "true" : "false", r->alert ? 4 : 5);
	PUT_LIT(&o, ",\"blocked\":");
	put_raw(&o, r->blocked ? "true" : "false", r->blocked ? 4 : 5);
	if (r->would_block) /* S-4: only in Audit mode, so older readers see no change */
		PUT_LIT(&o, ",\"wouldBlock\":true");
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

/* ---- the cloud's DNSQueryLogs record (reference/azure.md §3.6) --------------- */

/* The first step of the client's own view (depth 0) that decides where the
 * answer comes from: [privres] names for ResolutionPath beside the documented
 * PrivateDnsResolution. */
static const char *resolution_path(const rec_t *r)
{
	if (r->blocked)
		return "DnsSecurityPolicy";
	for (size_t i = 0; i < r->n_steps; i++) {
		const step_rec_t *st = &r->steps[i];
		if (st->depth)
			continue;
		switch ((resolve_step_kind_t)st->kind) {
		case RESOLVE_STEP_ZONE:
		case RESOLVE_STEP_REDIRECT:
			return "PrivateDnsResolution";
		case RESOLVE_STEP_RULE:
		case RESOLVE_STEP_FORWARDER:
			return "DnsForwardingRuleset";
		case RESOLVE_STEP_RESERVED:
		case RESOLVE_STEP_PUBLIC_ZONE:
		case RESOLVE_STEP_UPSTREAM:
		case RESOLVE_STEP_REFUSED:
			return "PublicDnsResolution";
		default:
			break;
		}
	}
	return "";
}

static const step_rec_t *first_step(const rec_t *r, resolve_step_kind_t kind)
{
	for (size_t i = 0; i < r->n_steps; i++)
		if (r->steps[i].kind == kind)
			return &r->steps[i];
	return NULL;
}

/* ResolverPolicyRuleAction: the observed values (Allow, Deny, NoMatch, None)
 * and Alert (S-3); None when no policy is linked to the VNet. [privres]
 * AuditDeny: a Block rule of a policy in Audit mode (S-4), answered. */
static const char *policy_action_word(const step_rec_t *st, bool has_policy)
{
	if (!st)
		return has_policy ? "NoMatch" : "None";
	switch ((policy_action_t)st->policy_action) {
	case POLICY_ALLOW:
		return "Allow";
	case POLICY_ALERT:
		return "Alert";
	case POLICY_BLOCK:
		return "Deny";
	case POLICY_WOULD_BLOCK:
		return "AuditDeny";
	default:
		return "NoMatch";
	}
}

static const char *ctx_str(const json_t *context, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(json_object_get(context, a), b);
	v = c ? json_object_get(v, c) : v;
	return json_is_string(v) ? json_string_value(v) : "";
}

static void put_key_str(out_t *o, const char *key, const char *value)
{
	put(o, ",\"%s\":", key);
	put_str(o, value);
}

/* Where the query went: the outside target, else the in-process one, else
 * the address the client asked (the inbound endpoint or 168.63.129.16). */
static void put_destination(out_t *o, const rec_t *r, const json_t *context, const char *listener)
{
	const step_rec_t *to = first_step(r, RESOLVE_STEP_FORWARD);
	if (!to)
		to = first_step(r, RESOLVE_STEP_IN_PROCESS);
	char ip[16];
	if (to) {
		put(o, ",\"DestinationIpAddress\":\"%s\",\"DestinationPort\":%u",
		    pr_ipv4_format(to->address, ip), to->port);
		return;
	}
	const json_t *l = json_object_get(json_object_get(context, "listeners"), listener);
	const char *address = json_string_value(json_object_get(l, "address"));
	put_key_str(o, "DestinationIpAddress", address ? address : "");
	put(o, ",\"DestinationPort\":%lld", json_integer_value(json_object_get(l, "port")));
}

static void put_sections(out_t *o, const rec_t *r)
{
	static const char *const keys[] = {"Answer", "Authority", "AdditionalRecords"};
	char text[2048];
	for (int s = 0; s < 3; s++) {
		dns_message_section_text(r->answer, r->answer_len, s, text, sizeof(text));
		put_key_str(o, keys[s], text);
	}
}

static size_t format_azure(const rec_t *r, const json_t *context, char *buf, size_t cap)
{
	out_t o = {buf, 0, cap - 8, false};
	const char *listener = text_at(r, r->listener);
	const step_rec_t *view = first_step(r, RESOLVE_STEP_VIEW);
	const char *vnet = view ? text_at(r, view->text) : "";
	const step_rec_t *policy = first_step(r, RESOLVE_STEP_POLICY);
	const step_rec_t *rule = first_step(r, RESOLVE_STEP_RULE);
	put(&o, "{\"TimeGenerated\":\"%s.%03ldZ\",\"OperationName\":\"%s\"", second_text(r),
	    r->when.tv_nsec / 1000000, r->rcode < 0 ? "RESPONSE_FAILURE" : "RESPONSE_SUCCESS");
	const char *region = json_string_value(json_object_get(context, "region"));
	put_key_str(&o, "Region", region ? region : "");
	put_key_str(&o, "VirtualNetworkId", ctx_str(context, "vnets", vnet, "id"));
	char ip[INET6_ADDRSTRLEN], name[DNS_NAME_TEXT_MAX], type[16];
	unsigned port = rec_client(r, ip);
	put(&o, ",\"SourceIpAddress\":\"%s\",\"SourcePort\":%u,\"Transport\":\"%s\"", ip, port,
	    r->tcp ? "TCP" : "UDP");
	uint16_t qtype = rec_question(r, name);
	put_key_str(&o, "QueryName", name);
	put(&o, ",\"QueryType\":\"%s\",\"QueryClass\":\"IN\",\"ResponseCode\":%d",
	    dns_rrtype_to_text(qtype, type, sizeof(type)), r->rcode < 0 ? 2 : r->rcode);
	put(&o, ",\"QueryResponseTime\":%.3f", (double)r->latency_us / 1000.0);
	put_key_str(&o, "ResolutionPath", resolution_path(r));
	const char *policy_id = ctx_str(context, "vnets", vnet, "policy");
	put_key_str(&o, "ResolverPolicyId", policy_id);
	put_key_str(&o, "ResolverPolicyRuleAction", policy_action_word(policy, *policy_id));
	const char *policy_rule = policy ? text_at(r, policy->text) : "";
	const json_t *of_vnet = json_object_get(json_object_get(context, "vnets"), vnet);
	const json_t *lists = json_object_get(of_vnet, "rules");
	const char *list = json_string_value(json_object_get(lists, policy_rule));
	put_key_str(&o, "ResolverPolicyDomainListId", list ? list : "");
	/* A rule's id ends in /forwardingRules/<name>: its ruleset's is the rest. */
	char ruleset[512] = "";
	const char *rule_id = text_at(r, r->rule_id);
	const char *cut = strstr(rule_id, "/forwardingRules/");
	if (cut)
		snprintf(ruleset, sizeof(ruleset), "%.*s", (int)(cut - rule_id), rule_id);
	put_key_str(&o, "DnsForwardingRulesetId", ruleset);
	put_key_str(&o, "DnsForwardingRulesetDomain", rule ? text_at(r, rule->text2) : "");
	put_destination(&o, r, context, listener);
	put_key_str(&o, "PrivateResolverEndpointId",
		    ctx_str(context, "listeners", listener, "endpoint"));
	put_sections(&o, r);
	o.full = false;
	o.cap = cap;
	put(&o, ",\"Version\":\"1.0\"}\n");
	return o.len;
}
