/* The Windows DNS Client service's search over its adapters, as a state
 * machine with no I/O and no clock of its own (stub.h). The order is the one
 * of "DNS Processes and Interactions" ("Querying a DNS server") with the
 * default DNSQueryTimeouts (1 2 2 4 8): the preferred adapter's first server,
 * then the first server of every adapter still under consideration, then all
 * of their servers three times; a negative answer takes its adapter out of
 * the search. [privres] where the documents are silent:
 *  - a server that fails (SERVFAIL, REFUSED…) is not asked again in the same
 *    search, and a step whose servers have all failed or been removed ends at
 *    once (an overlay agent's SERVFAIL falls through without a wait);
 *  - when the steps run out after a negative answer, that answer is returned;
 *  - "answered nothing" is judged when a search runs out of time: adapters
 *    still under consideration none of whose servers replied are skipped for
 *    STUB_ADAPTER_SKIP_MS, and a search with every adapter skipped ends at
 *    once with a timeout;
 *  - a server's rank is a smoothed reply time (a silent server is charged the
 *    time it was waited for); its adapter's servers are ordered by it, those
 *    never measured ranking as STUB_RANK_UNKNOWN_MS, ties in declared order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "stub/stub.h"

const uint32_t STUB_STEP_MS[STUB_STEPS] = {1000, 2000, 2000, 4000, 8000};

typedef struct adapter {
	char *name;
	uint32_t metric;
	int servers[STUB_MAX_SERVERS]; /* ids, declared order */
	size_t n_servers;
	uint64_t skip_until;
} adapter_t;

typedef struct server {
	uint32_t addr;
	uint16_t port;
	int adapter;
	bool measured;
	uint32_t srtt_ms;
} server_t;

struct stub_client {
	adapter_t adapters[STUB_MAX_ADAPTERS];
	size_t n_adapters;
	server_t servers[STUB_MAX_SERVERS];
	size_t n_servers;
};

stub_client_t *stub_client_new(void)
{
	return pr_calloc(1, sizeof(stub_client_t));
}

void stub_client_destroy(stub_client_t **cp)
{
	if (!cp || !*cp)
		return;
	for (size_t i = 0; i < (*cp)->n_adapters; i++)
		free((*cp)->adapters[i].name);
	free(*cp);
	*cp = NULL;
}

int stub_client_add_adapter(stub_client_t *c, const char *name, uint32_t metric)
{
	if (c->n_adapters >= STUB_MAX_ADAPTERS)
		return PR_ELIMIT;
	for (size_t i = 0; i < c->n_adapters; i++)
		if (!strcmp(c->adapters[i].name, name))
			return PR_EEXIST;
	adapter_t *a = &c->adapters[c->n_adapters];
	memset(a, 0, sizeof(*a));
	a->name = pr_strdup(name);
	a->metric = metric;
	return (int)c->n_adapters++;
}

int stub_client_add_server(stub_client_t *c, int adapter, uint32_t addr, uint16_t port)
{
	if (adapter < 0 || (size_t)adapter >= c->n_adapters)
		return -EINVAL;
	if (c->n_servers >= STUB_MAX_SERVERS)
		return PR_ELIMIT;
	adapter_t *a = &c->adapters[adapter];
	int id = (int)c->n_servers++;
	c->servers[id] = (server_t){addr, port, adapter, false, STUB_RANK_UNKNOWN_MS};
	a->servers[a->n_servers++] = id;
	return id;
}

size_t stub_client_n_servers(const stub_client_t *c)
{
	return c->n_servers;
}

void stub_client_server(const stub_client_t *c, int id, uint32_t *addr, uint16_t *port,
			int *adapter)
{
	PR_REQUIRE(id >= 0 && (size_t)id < c->n_servers);
	const server_t *s = &c->servers[id];
	if (addr)
		*addr = s->addr;
	if (port)
		*port = s->port;
	if (adapter)
		*adapter = s->adapter;
}

const char *stub_client_adapter_name(const stub_client_t *c, int adapter)
{
	PR_REQUIRE(adapter >= 0 && (size_t)adapter < c->n_adapters);
	return c->adapters[adapter].name;
}

int stub_client_find_server(const stub_client_t *c, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < c->n_servers; i++)
		if (c->servers[i].addr == addr && c->servers[i].port == port)
			return (int)i;
	return -1;
}

static uint32_t rank_of(const stub_client_t *c, int id)
{
	return c->servers[id].measured ? c->servers[id].srtt_ms : STUB_RANK_UNKNOWN_MS;
}

int stub_client_rank(const stub_client_t *c, int adapter, size_t i)
{
	const adapter_t *a = &c->adapters[adapter];
	if (i >= a->n_servers)
		return -1;
	/* A stable insertion sort of a handful of servers by rank. */
	int order[STUB_MAX_SERVERS];
	for (size_t k = 0; k < a->n_servers; k++) {
		size_t j = k;
		for (; j > 0 && rank_of(c, order[j - 1]) > rank_of(c, a->servers[k]); j--)
			order[j] = order[j - 1];
		order[j] = a->servers[k];
	}
	return order[i];
}

bool stub_client_adapter_skipped(const stub_client_t *c, int adapter, uint64_t now_ms)
{
	return now_ms < c->adapters[adapter].skip_until;
}

/* Smoothed reply time, as resolvers keep it (7/8 old, 1/8 new). */
static void learn(stub_client_t *c, int id, uint64_t sample_ms)
{
	server_t *s = &c->servers[id];
	uint32_t v = sample_ms > 60000 ? 60000 : (uint32_t)sample_ms;
	s->srtt_ms = s->measured ? (uint32_t)(((uint64_t)s->srtt_ms * 7 + v) / 8) : v;
	s->measured = true;
}

/* ---- The search --------------------------------------------------------------- */

typedef enum ev_kind { EV_ASK, EV_REPLY, EV_SKIPPED, EV_END } ev_kind_t;

typedef struct event {
	uint64_t at_ms;
	ev_kind_t kind;
	int server;  /* EV_ASK, EV_REPLY; adapter for EV_SKIPPED */
	int step;    /* 0-based */
	stub_reply_t reply;
	int rcode;
	bool ignored;
} event_t;

struct stub_search {
	stub_client_t *c;
	uint64_t start_ms, step_end_ms;
	int step; /* -1 before the first */
	stub_outcome_t outcome;
	int decided_by;
	int negative_by, failed_by;
	bool removed[STUB_MAX_ADAPTERS];
	bool skipped[STUB_MAX_ADAPTERS];
	bool answered[STUB_MAX_ADAPTERS]; /* any server of it replied */
	bool asked[STUB_MAX_SERVERS], in_step[STUB_MAX_SERVERS];
	bool failed[STUB_MAX_SERVERS], replied[STUB_MAX_SERVERS];
	uint64_t first_sent[STUB_MAX_SERVERS], last_sent[STUB_MAX_SERVERS];
	event_t *events;
	size_t n_events, cap_events;
};

static void record(stub_search_t *s, event_t e)
{
	pr_grow(&s->events, &s->cap_events, s->n_events + 1, sizeof(*s->events));
	e.at_ms -= s->start_ms;
	s->events[s->n_events++] = e;
}

stub_search_t *stub_search_new(stub_client_t *c, uint64_t now_ms)
{
	stub_search_t *s = pr_calloc(1, sizeof(*s));
	s->c = c;
	s->start_ms = s->step_end_ms = now_ms;
	s->step = -1;
	s->decided_by = s->negative_by = s->failed_by = -1;
	for (size_t a = 0; a < c->n_adapters; a++) {
		s->skipped[a] = stub_client_adapter_skipped(c, (int)a, now_ms);
		if (s->skipped[a])
			record(s, (event_t){.at_ms = now_ms, .kind = EV_SKIPPED, .server = (int)a});
	}
	return s;
}

void stub_search_destroy(stub_search_t **sp)
{
	if (!sp || !*sp)
		return;
	free((*sp)->events);
	free(*sp);
	*sp = NULL;
}

/* The first server of adapter a this search may still ask, or -1. */
static int first_server(const stub_search_t *s, int a)
{
	for (size_t i = 0;; i++) {
		int id = stub_client_rank(s->c, a, i);
		if (id < 0 || !s->failed[id])
			return id;
	}
}

/* Under consideration: not removed by a negative answer, not skipped, and
 * with a server that has not failed. */
static bool considered(const stub_search_t *s, int a)
{
	return !s->removed[a] && !s->skipped[a] && first_server(s, a) >= 0;
}

/* Adapters under consideration, preferred first (lower metric, then the
 * order declared); returns how many. */
static size_t adapters_in_order(const stub_search_t *s, int *out)
{
	size_t n = 0;
	for (size_t a = 0; a < s->c->n_adapters; a++) {
		if (!considered(s, (int)a))
			continue;
		size_t j = n++;
		for (; j > 0 && s->c->adapters[out[j - 1]].metric > s->c->adapters[a].metric; j--)
			out[j] = out[j - 1];
		out[j] = (int)a;
	}
	return n;
}

static void finish(stub_search_t *s, uint64_t now_ms, bool ran_out)
{
	if (s->negative_by >= 0) {
		s->outcome = STUB_NEGATIVE;
		s->decided_by = s->negative_by;
	} else if (s->failed_by >= 0 && !ran_out) {
		s->outcome = STUB_FAILED;
		s->decided_by = s->failed_by;
	} else {
		s->outcome = STUB_TIMEOUT;
	}
	for (size_t id = 0; id < s->c->n_servers; id++)
		if (s->asked[id] && !s->replied[id])
			learn(s->c, (int)id, now_ms - s->first_sent[id]);
	for (size_t a = 0; ran_out && a < s->c->n_adapters; a++)
		if (considered(s, (int)a) && !s->answered[a])
			s->c->adapters[a].skip_until = now_ms + STUB_ADAPTER_SKIP_MS;
	s->step_end_ms = UINT64_MAX;
	record(s, (event_t){.at_ms = now_ms, .kind = EV_END, .server = s->decided_by});
}

/* Every server asked in this step has failed or lost its adapter: waiting
 * longer cannot bring an answer from them. */
static bool step_settled(const stub_search_t *s)
{
	for (size_t id = 0; id < s->c->n_servers; id++)
		if (s->in_step[id] && !s->failed[id] && !s->removed[s->c->servers[id].adapter])
			return false;
	return true;
}

/* Start the next step at now: the servers it asks into ask. */
static size_t start_step(stub_search_t *s, uint64_t now_ms, int *ask, size_t cap)
{
	int order[STUB_MAX_ADAPTERS];
	size_t n_ad = adapters_in_order(s, order), n = 0;
	/* A step ended early starts now; one that ran its time starts when it
	 * was due, so a late timer does not stretch the schedule. */
	uint64_t begin = s->step < 0		     ? s->start_ms
			 : now_ms < s->step_end_ms ? now_ms
						   : s->step_end_ms;
	s->step++;
	s->step_end_ms = begin + STUB_STEP_MS[s->step];
	memset(s->in_step, 0, sizeof(s->in_step));
	size_t adapters = s->step == 0 ? (n_ad ? 1 : 0) : n_ad;
	for (size_t k = 0; k < adapters; k++) {
		int a = order[k];
		/* Steps 1 and 2 ask an adapter's first server, the others all. */
		for (size_t i = 0;; i++) {
			int id = s->step >= 2 ? stub_client_rank(s->c, a, i)
					      : i == 0 ? first_server(s, a)
							: -1;
			if (id < 0)
				break;
			if (s->failed[id])
				continue;
			if (n < cap)
				ask[n++] = id;
			if (!s->asked[id])
				s->first_sent[id] = now_ms;
			s->asked[id] = s->in_step[id] = true;
			s->last_sent[id] = now_ms;
			record(s, (event_t){.at_ms = now_ms, .kind = EV_ASK, .server = id,
					    .step = s->step});
		}
	}
	return n;
}

size_t stub_search_poll(stub_search_t *s, uint64_t now_ms, int *ask, size_t cap)
{
	size_t n = 0;
	while (s->outcome == STUB_PENDING) {
		if (s->step >= 0 && now_ms < s->step_end_ms && !step_settled(s))
			break;
		int order[STUB_MAX_ADAPTERS];
		if (adapters_in_order(s, order) == 0) {
			finish(s, now_ms, false);
			break;
		}
		if (s->step + 1 >= STUB_STEPS) {
			finish(s, s->step_end_ms < now_ms ? s->step_end_ms : now_ms, true);
			break;
		}
		n += start_step(s, now_ms, ask + n, cap - n);
	}
	return n;
}

uint64_t stub_search_deadline(const stub_search_t *s)
{
	return s->outcome == STUB_PENDING ? s->step_end_ms : UINT64_MAX;
}

void stub_search_reply(stub_search_t *s, uint64_t now_ms, int id, stub_reply_t kind, int rcode)
{
	if (id < 0 || (size_t)id >= s->c->n_servers)
		return;
	int a = s->c->servers[id].adapter;
	bool ignored = s->outcome != STUB_PENDING || !s->asked[id] || s->removed[a] ||
		       s->failed[id];
	record(s, (event_t){.at_ms = now_ms, .kind = EV_REPLY, .server = id, .reply = kind,
			    .rcode = rcode, .ignored = ignored});
	if (!s->asked[id])
		return;
	if (!s->replied[id] && kind != STUB_REPLY_FAILURE)
		learn(s->c, id, now_ms - s->last_sent[id]);
	s->replied[id] = true;
	s->answered[a] = true;
	if (ignored)
		return;
	switch (kind) {
	case STUB_REPLY_POSITIVE:
		s->outcome = STUB_ANSWERED;
		s->decided_by = id;
		s->step_end_ms = UINT64_MAX;
		record(s, (event_t){.at_ms = now_ms, .kind = EV_END, .server = id});
		return;
	case STUB_REPLY_NEGATIVE:
		s->removed[a] = true; /* every server of the adapter leaves the search */
		s->negative_by = id;
		break;
	case STUB_REPLY_FAILURE:
		s->failed[id] = true;
		s->failed_by = id;
		break;
	}
}

stub_outcome_t stub_search_outcome(const stub_search_t *s, int *server)
{
	if (server)
		*server = s->outcome == STUB_PENDING ? -1 : s->decided_by;
	return s->outcome;
}

const char *stub_outcome_name(stub_outcome_t o)
{
	static const char *const names[] = {"pending", "answered", "negative", "failed",
					    "timeout"};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

size_t stub_search_n_events(const stub_search_t *s)
{
	return s->n_events;
}

void stub_search_event(const stub_search_t *s, size_t i, uint64_t *at_ms, bool *ask, int *server,
		       int *step)
{
	PR_REQUIRE(i < s->n_events);
	const event_t *e = &s->events[i];
	*at_ms = e->at_ms;
	*ask = e->kind == EV_ASK;
	*server = e->kind == EV_ASK || e->kind == EV_REPLY ? e->server : -1;
	*step = e->kind == EV_ASK ? e->step + 1 : 0;
}

static void server_text(const stub_client_t *c, int id, pr_buf_t *b)
{
	char ip[16];
	pr_buf_printf(b, "\"%s:%u\",\"adapter\":", pr_ipv4_format(c->servers[id].addr, ip),
		      (unsigned)c->servers[id].port);
	stub_json_string(b, c->adapters[c->servers[id].adapter].name);
}

void stub_search_format_events(const stub_search_t *s, pr_buf_t *b)
{
	static const char *const kinds[] = {"positive", "negative", "failure"};
	char rc[16];
	for (size_t i = 0; i < s->n_events; i++) {
		const event_t *e = &s->events[i];
		pr_buf_printf(b, "%s{\"atMs\":%llu,", i ? "," : "", (unsigned long long)e->at_ms);
		switch (e->kind) {
		case EV_ASK:
			pr_buf_printf(b, "\"step\":%d,\"ask\":", e->step + 1);
			server_text(s->c, e->server, b);
			break;
		case EV_REPLY:
			pr_buf_printf(b, "\"from\":");
			server_text(s->c, e->server, b);
			pr_buf_printf(b, ",\"rcode\":\"%s\",\"reply\":\"%s\"%s",
				      dns_rcode_name(e->rcode, rc, sizeof(rc)), kinds[e->reply],
				      e->ignored ? ",\"ignored\":true" : "");
			break;
		case EV_SKIPPED:
			pr_buf_printf(b, "\"skipped\":");
			stub_json_string(b, s->c->adapters[e->server].name);
			break;
		case EV_END:
			pr_buf_printf(b, "\"end\":\"%s\"", stub_outcome_name(s->outcome));
			break;
		}
		pr_buf_printf(b, "}");
	}
}
