/*
 * The pipeline of design.md §1 as a state machine (semantics.md §6, §7).
 *
 * A query is a stack of frames. Frame 0 answers the client in the view of its
 * listener. When a rule sends the name to one of our own inbound endpoints or
 * to an external server, a frame is pushed that answers as that resolver would
 * (hops+1, P-3); its finished answer is handed to the frame below exactly as a
 * reply from outside would be. A frame that needs a target outside privres
 * stops the machine (RESOLVE_FORWARD); resolve_resume() hands the reply to the
 * top frame and the machine goes on. Every frame writes its answer into its
 * own buffer as it goes (CNAME links first, then the last link's authority and
 * additional records), so nothing per query is allocated once a worker's
 * query objects are warm; replies are parsed into the query's arena.
 */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

#define FRAME_BUF DNS_TCP_MESSAGE_MAX
#define MAX_AUTHORITY 8
#define FREE_LIST_MAX 1024 /* query objects a worker keeps for reuse */
#define ARENA_CHUNK 16384

typedef enum frame_kind { FRAME_VIEW, FRAME_EXTERNAL } frame_kind_t;
typedef enum frame_state { FRAME_RUNNING, FRAME_WAITING, FRAME_DONE } frame_state_t;

/* What a step did with the frame's current name. */
typedef enum step {
	STEP_PASS,    /* not this step's business: the next step decides */
	STEP_CHASE,   /* a CNAME was followed: the chain goes on from Q-1 */
	STEP_DONE,    /* the frame's answer is finished */
	STEP_PUSHED,  /* an in-process target answers in a new frame */
	STEP_FORWARD, /* a target outside privres must be asked */
} step_t;

typedef struct frame {
	frame_kind_t kind;
	int index; /* VIEW: the VNet; EXTERNAL: the external server */
	int hops;  /* P-3 */
	const char *who;
	frame_state_t state;
	dns_query_t dq; /* the question this frame answers */
	bool tcp;
	size_t cap;
	uint8_t *buf; /* FRAME_BUF octets, kept with the query object */
	dns_answer_t ans;
	uint8_t name[DNS_NAME_MAXLEN]; /* the chain's current name, lowercase */
	int links;                     /* CNAMEs followed */
	bool wrote;                    /* answer records written */
	bool aa;
	uint16_t rcode;
	const knot_rrset_t *authority[MAX_AUTHORITY];
	uint8_t nauthority;
	const knot_rrset_t *additional[ZONE_MAX_ADDITIONAL];
	uint8_t nadditional;
	size_t len; /* DONE: the answer's length */
} frame_t;

struct resolve_worker {
	resolve_query_t *free_list;
	size_t n_free;
	rs_cache_t *cache;              /* the process's (borrowed) or own_cache */
	rs_cache_t *own_cache;          /* when no cache is shared with it */
	rs_counters_t stats;
	uint64_t (*now_ms)(void *ctx); /* the cache's clock */
	void *now_ctx;
	resolve_inflight_t *inflight;   /* P-3 outside; borrowed, process-wide */
	/* The snapshot the worker's queries borrow: one reference for them all,
	 * counted here (held_users) rather than in the snapshot's count, which
	 * every worker's queries would bounce between the cores. */
	resolve_snapshot_t *held;
	uint32_t held_users;
	bool held_stale; /* resolve_worker_let_go(): dropped when unused */
	/* The last listener looked up in held, by name (a copy; "" for none). */
	char li_name[64];
	int li_index;
};

struct resolve_query {
	resolve_worker_t *w;
	resolve_query_t *next_free;
	resolve_snapshot_t *s; /* for the query's life: its own reference when s_owned,
				* else borrowed from the worker's (held) */
	bool s_owned;
	pr_arena_t *arena;
	knot_mm_t mm;
	frame_t frames[RESOLVE_MAX_DEPTH];
	int depth; /* the top frame */
	uint32_t client; /* IPv4 source, host order; 0 when none */
	const char *fail_reason; /* resolve_query_note_failure(), for the next NO_REPLY */
	resolve_forward_t fwd;
	uint64_t fwd_scope;  /* the cache key's scope of the question out */
	uint64_t inflight_h; /* P-3: the question counted in the in-flight table */
	bool inflight_held;
	bool may_reenter; /* P-3: arrived where an outside server can send it back */
	resolve_inflight_t *inflight; /* the table it is counted in */
	resolve_exchange_t *lead;     /* the exchange its question opened */
	resolve_exchange_t *join;     /* the exchange it waits on instead */
	const uint8_t *answer;
	size_t answer_len;
	resolve_trace_t trace;
	resolve_step_t spare_step; /* written when the trace is full */
};

/* ---- Trace -------------------------------------------------------------------- */

static resolve_step_t *trace(resolve_query_t *q, resolve_step_kind_t kind, const frame_t *f)
{
	resolve_trace_t *t = &q->trace;
	resolve_step_t *st = &q->spare_step;
	if (t->n_steps < RESOLVE_TRACE_MAX)
		st = &t->steps[t->n_steps++];
	else
		t->dropped_steps++;
	*st = (resolve_step_t){.kind = kind, .cname = -1, .rcode = -1};
	if (f) {
		st->depth = (uint8_t)(f - q->frames);
		st->hops = (uint8_t)(f->hops > 255 ? 255 : f->hops);
		st->view = f->who;
	}
	return st;
}

const resolve_trace_t *resolve_query_trace(const resolve_query_t *q)
{
	return &q->trace;
}

/* ---- Frames ------------------------------------------------------------------- */

static int hop_limit(const resolve_query_t *q)
{
	int limit = q->s->d->emulator.hop_limit;
	return limit > 0 ? limit : MODEL_DEFAULT_HOP_LIMIT;
}

static resolve_step_t *loop_found(resolve_query_t *q, const frame_t *f)
{
	q->trace.loop = true;
	rs_count(&q->w->stats.loops, 1);
	return trace(q, RESOLVE_STEP_LOOP, f);
}

/* Start the frame's answer to its question; -EINVAL when cap holds not even
 * the question. */
static int frame_begin(frame_t *f)
{
	if (!f->buf)
		f->buf = pr_malloc(FRAME_BUF);
	int rc = dns_answer_begin(&f->ans, f->buf, f->cap, &f->dq, f->tcp);
	if (rc != 0)
		return rc;
	memcpy(f->name, f->dq.qname_lower, f->dq.qname_len);
	f->state = FRAME_RUNNING;
	f->links = 0;
	f->wrote = false;
	f->aa = false;
	f->rcode = DNS_RCODE_NOERROR;
	f->nauthority = 0;
	f->nadditional = 0;
	f->len = 0;
	return 0;
}

/* The last link's authority and additional records, the rcode and AA. */
static step_t frame_finish(frame_t *f)
{
	for (uint8_t i = 0; i < f->nauthority && !dns_answer_truncated(&f->ans); i++)
		(void)dns_answer_add(&f->ans, DNS_SECTION_AUTHORITY, f->authority[i], NULL);
	for (uint8_t i = 0; i < f->nadditional && !dns_answer_truncated(&f->ans); i++)
		(void)dns_answer_add(&f->ans, DNS_SECTION_ADDITIONAL, f->additional[i], NULL);
	dns_answer_set_rcode(&f->ans, f->rcode);
	dns_answer_set_aa(&f->ans, f->aa);
	f->len = dns_answer_finish(&f->ans);
	f->state = FRAME_DONE;
	return STEP_DONE;
}

/* Drop whatever was written and answer rcode alone (SERVFAIL for the whole
 * chain, P-3, Q-5). */
static step_t frame_fail(frame_t *f, uint16_t rcode)
{
	/* It began once with the same question and buffer: it begins again. */
	(void)dns_answer_begin(&f->ans, f->buf, f->cap, &f->dq, f->tcp);
	f->nauthority = 0;
	f->nadditional = 0;
	f->aa = false;
	f->rcode = rcode;
	return frame_finish(f);
}

static void frame_set_context(resolve_query_t *q, frame_t *f, frame_kind_t kind, int index)
{
	const deployment_t *d = q->s->d;
	f->kind = kind;
	f->index = index;
	f->who = kind == FRAME_VIEW ? d->vnets[index].name : d->external_servers[index].name;
}

/* ---- CNAME chasing --------------------------------------------------------- */

/* Follow n links to target (lowercase wire, borrowed). */
static step_t chase(resolve_query_t *q, frame_t *f, const uint8_t *target, int n)
{
	if (f->links + n > RESOLVE_MAX_CNAME) {
		trace(q, RESOLVE_STEP_CNAME_LIMIT, f);
		return frame_fail(f, DNS_RCODE_SERVFAIL);
	}
	f->links += n;
	size_t len = knot_dname_size(target);
	memmove(f->name, target, len);
	dns_name_lower(f->name);
	resolve_step_t *st = trace(q, RESOLVE_STEP_CNAME, f);
	if (q->trace.n_cnames <= RESOLVE_MAX_CNAME) {
		memcpy(q->trace.cnames[q->trace.n_cnames], f->name, len);
		st->cname = (int)q->trace.n_cnames++;
	}
	return STEP_CHASE;
}

/* Write a zone's answer for the current name (Q-2, Q-4, external zones). */
static step_t answer_from_zone(resolve_query_t *q, frame_t *f, const zone_result_t *r, bool aa)
{
	if (!f->wrote)
		f->aa = aa; /* the first link says whose answer it is */
	switch (r->kind) {
	case ZONE_ANSWER:
	case ZONE_CNAME:
		for (uint8_t i = 0; i < r->nanswer; i++)
			/* RFC 4592: synthesized records carry the name asked. */
			if (dns_answer_add(&f->ans, DNS_SECTION_ANSWER, r->answer[i],
					   r->synthesized ? f->name : NULL) != 0)
				return frame_finish(f); /* truncated, TC set */
		f->wrote = true;
		if (r->kind == ZONE_CNAME)
			return chase(q, f, r->cname_target, 1);
		for (uint8_t i = 0; i < r->nadditional && f->nadditional < ZONE_MAX_ADDITIONAL; i++)
			f->additional[f->nadditional++] = r->additional[i];
		return frame_finish(f);
	case ZONE_NXDOMAIN:
		f->rcode = DNS_RCODE_NXDOMAIN;
		/* fall through */
	case ZONE_NODATA:
		/* RFC 2308: the SOA goes in the authority section. */
		f->authority[f->nauthority++] = r->soa;
		return frame_finish(f);
	}
	return frame_fail(f, DNS_RCODE_SERVFAIL);
}

/* ---- Targets: in-process or outside (Q-3, design.md §4) --------------------------- */

static bool address_mapped(const deployment_t *d, uint32_t addr, uint16_t port,
			   resolve_target_t *t)
{
	for (size_t i = 0; i < d->emulator.n_address_map; i++) {
		const model_address_map_t *m = &d->emulator.address_map[i];
		if (m->virtual_address == addr && m->virtual_port == port) {
			t->real_address = m->real_address;
			t->real_port = m->real_port;
			return true;
		}
	}
	return false;
}

/* Where a target is really reached; mapped false: never contacted. */
static resolve_target_t target_mapping(const deployment_t *d, uint32_t addr, uint16_t port)
{
	resolve_target_t t = {.address = addr, .port = port};
	t.mapped = address_mapped(d, addr, port, &t);
	if (!t.mapped && d->emulator.listen == MODEL_LISTEN_VIRTUAL) {
		t.real_address = addr;
		t.real_port = port;
		t.mapped = true;
	}
	return t;
}

bool resolve_target_where(const deployment_t *d, uint32_t address, uint16_t port,
			  uint32_t *real_address, uint16_t *real_port)
{
	resolve_target_t t = target_mapping(d, address, port);
	if (t.mapped) {
		*real_address = t.real_address;
		*real_port = t.real_port;
	}
	return t.mapped;
}

/* Push a frame that answers as our own inbound endpoint or external server. */
static step_t dispatch_in_process(resolve_query_t *q, frame_t *f, const linker_target_t *lt,
				  uint32_t addr, uint16_t port)
{
	resolve_step_t *st = trace(q, RESOLVE_STEP_IN_PROCESS, f);
	st->address = addr;
	st->port = port;
	int hops = f->hops + 1;
	if (hops > hop_limit(q) || q->depth + 1 >= RESOLVE_MAX_DEPTH) {
		/* P-3: the query keeps coming back through our own forwarding. */
		loop_found(q, f);
		return frame_fail(f, DNS_RCODE_SERVFAIL);
	}
	frame_t *c = &q->frames[++q->depth];
	if (lt->kind == LINKER_TARGET_INBOUND)
		frame_set_context(q, c, FRAME_VIEW, lt->vnet); /* I-4 */
	else
		frame_set_context(q, c, FRAME_EXTERNAL, lt->external);
	c->hops = hops;
	/* The question as a resolver would send it: RD, no EDNS, over a transport
	 * with room for any answer (the client's limit applies at frame 0). */
	memset(&c->dq, 0, sizeof(c->dq));
	c->dq.verdict = DNS_QUERY_OK;
	c->dq.rd = true;
	c->dq.has_question = true;
	c->dq.qname_len = (uint16_t)knot_dname_size(f->name);
	memcpy(c->dq.qname, f->name, c->dq.qname_len);
	memcpy(c->dq.qname_lower, f->name, c->dq.qname_len);
	c->dq.qtype = f->dq.qtype;
	c->dq.qclass = KNOT_CLASS_IN;
	c->dq.udp_size = DNS_UDP_PAYLOAD_DEFAULT;
	c->tcp = true;
	c->cap = FRAME_BUF;
	(void)frame_begin(c); /* a name of at most 255 octets always fits */
	trace(q, c->kind == FRAME_VIEW ? RESOLVE_STEP_VIEW : RESOLVE_STEP_EXTERNAL, c);
	f->state = FRAME_WAITING;
	return STEP_PUSHED;
}

/* The question to send outside privres (W-2: DO and, for the client's own
 * name, its options passed on; the forwarder sets the ID, W-4). */
static void build_forward_question(resolve_query_t *q, frame_t *f)
{
	bool first = f == q->frames && f->links == 0;
	const uint8_t *name = first ? f->dq.qname : f->name;
	size_t nlen = knot_dname_size(name);
	uint16_t olen = first && f->dq.edns ? f->dq.edns_options_len : 0;
	size_t len = KNOT_WIRE_HEADER_SIZE + nlen + 4 + KNOT_EDNS_MIN_SIZE + olen;
	uint8_t *p = pr_arena_alloc(q->arena, len);
	knot_wire_set_rd(p);
	if (f->dq.cd)
		knot_wire_set_cd(p);
	knot_wire_set_qdcount(p, 1);
	knot_wire_set_arcount(p, 1);
	size_t off = KNOT_WIRE_HEADER_SIZE;
	memcpy(p + off, name, nlen);
	off += nlen;
	knot_wire_write_u16(p + off, f->dq.qtype);
	knot_wire_write_u16(p + off + 2, KNOT_CLASS_IN);
	off += 4;
	p[off] = 0; /* OPT: root owner */
	knot_wire_write_u16(p + off + 1, KNOT_RRTYPE_OPT);
	knot_wire_write_u16(p + off + 3, DNS_UDP_PAYLOAD_OURS);
	knot_wire_write_u32(p + off + 5, f->dq.edns_do ? KNOT_EDNS_DO_MASK : 0);
	knot_wire_write_u16(p + off + 9, olen);
	if (olen)
		memcpy(p + off + KNOT_EDNS_MIN_SIZE, f->dq.edns_options, olen);
	q->fwd.packet = p;
	q->fwd.len = len;
}

static void handle_reply(resolve_query_t *q, frame_t *f, const knot_pkt_t *pkt);

/* ---- the cache, at the point where a question would leave privres ------------ */

/* Who forwards (the view or external server, by name: indexes move between
 * snapshots) to which targets, mapped where, from which outbound endpoint. A
 * changed rule or addressMap gives another scope, so an old entry is never
 * found again; a removed rule or a new zone never reaches the lookup. */
static uint64_t forward_scope(const frame_t *f, const resolve_forward_t *fw)
{
	uint64_t h = PR_HASH_INIT;
	uint8_t kind = (uint8_t)f->kind;
	h = pr_hash_bytes(h, &kind, sizeof(kind));
	h = pr_hash_bytes(h, f->who, strlen(f->who) + 1);
	for (size_t i = 0; i < fw->n_targets; i++) {
		const resolve_target_t *t = &fw->targets[i];
		uint32_t v[4] = {t->address, t->port, t->mapped ? t->real_address : 0,
				 t->mapped ? 0x10000u | t->real_port : 0};
		h = pr_hash_bytes(h, v, sizeof(v));
	}
	h = pr_hash_bytes(h, &fw->source_address, sizeof(fw->source_address));
	return pr_hash_final(h);
}

static rs_cache_key_t cache_key(const resolve_query_t *q, const frame_t *f)
{
	return (rs_cache_key_t){.scope = q->fwd_scope, .name = f->name, .qtype = f->dq.qtype,
				.flags = (uint8_t)((f->dq.edns_do ? RS_CACHE_DO : 0) |
						   (f->dq.cd ? RS_CACHE_CD : 0))};
}

static uint64_t cache_now(const resolve_query_t *q)
{
	return q->w->now_ms(q->w->now_ctx);
}

/* A cached reply for the question about to leave: handled as the target's
 * reply would be (Q-5 chase included); *out is the frame's next step. */
static bool answer_from_cache(resolve_query_t *q, frame_t *f, const model_target_t *t,
			      step_t *out)
{
	q->fwd_scope = forward_scope(f, &q->fwd);
	uint32_t capacity = q->s->d->emulator.cache_entries;
	rs_cache_key_t k = cache_key(q, f);
	size_t len = 0;
	uint8_t *wire = cache_lookup(q->w->cache, &q->w->stats, &k, capacity,
				     capacity ? cache_now(q) : 0, q->arena, &len);
	if (!wire)
		return false;
	knot_pkt_t *pkt = knot_pkt_new(wire, (uint16_t)len, &q->mm);
	if (!pkt || knot_pkt_parse(pkt, KNOT_PF_NOCANON) != KNOT_EOK)
		return false; /* it parsed when stored; ask the target then */
	resolve_step_t *st = trace(q, RESOLVE_STEP_CACHE, f);
	st->address = t->address;
	st->port = t->port;
	st->rcode = knot_pkt_ext_rcode(pkt);
	handle_reply(q, f, pkt);
	*out = f->state == FRAME_DONE ? STEP_DONE : STEP_CHASE;
	return true;
}

/* A target's reply (the arena's copy) kept for the next question. */
static void cache_reply(resolve_query_t *q, const frame_t *f, const uint8_t *wire, size_t len)
{
	uint32_t capacity = q->s->d->emulator.cache_entries;
	rs_cache_key_t k = cache_key(q, f);
	cache_insert(q->w->cache, &q->w->stats, &k, capacity, capacity ? cache_now(q) : 0, wire,
		     len);
}

/* ---- P-3 through outside servers ------------------------------------------------ */

/* hopLimit copies of this question already out there: it is coming back to us
 * through an outside server. */
static bool outside_loop(resolve_query_t *q, frame_t *f, const model_target_t *t)
{
	resolve_inflight_t *tab = q->w->inflight;
	/* Outside servers reach privres only at inbound endpoints (168.63.129.16
	 * is not reachable from outside a VNet): only a question that came in
	 * there can be one of ours coming back. Clients of a VNet's Azure DNS
	 * asking the same new name at once are never taken for a loop. */
	if (!tab || !q->may_reenter ||
	    inflight_count(tab, inflight_hash(f->name, f->dq.qtype)) < (uint32_t)hop_limit(q))
		return false;
	resolve_step_t *st = loop_found(q, f);
	st->address = t->address;
	st->port = t->port;
	return true;
}

/* A copy of this question goes out: counted until its reply (P-3). */
static void inflight_hold(resolve_query_t *q, frame_t *f)
{
	resolve_inflight_t *tab = q->w->inflight;
	if (!tab)
		return;
	uint64_t h = inflight_hash(f->name, f->dq.qtype);
	inflight_enter(tab, h);
	q->inflight = tab;
	q->inflight_h = h;
	q->inflight_held = true;
}

/* the same question already out joins it (a question from an inbound
 * endpoint never does: P-3 must see it go out); otherwise this one opens the
 * exchange others may join. True when the query joined. */
static bool join_or_lead(resolve_query_t *q, frame_t *f)
{
	resolve_inflight_t *tab = q->w->inflight;
	q->fwd.join = NULL;
	if (!tab)
		return false;
	rs_cache_key_t k = cache_key(q, f);
	bool leader = false;
	resolve_exchange_t *x =
		exchange_open_or_join(tab, &k, rs_cache_key_hash(&k), !q->may_reenter, &leader);
	if (!x)
		return false;
	if (leader) {
		q->lead = x;
		return false;
	}
	q->join = x;
	q->fwd.join = x;
	return true;
}

/* The exchange this query leads is over: its reply (or none) goes to every
 * query that joined it. */
static void lead_release(resolve_query_t *q, const uint8_t *reply, size_t len)
{
	if (!q->lead)
		return;
	exchange_close(q->lead, reply, len);
	exchange_unref(&q->lead);
}

static void inflight_release(resolve_query_t *q)
{
	if (!q->inflight_held)
		return;
	inflight_leave(q->inflight, q->inflight_h);
	q->inflight_held = false;
}

/*
 * Send the name to a list of targets: the first usable one decides (our own
 * endpoint or external server: in-process; an outside one: forwarded with the
 * whole list, in order, for the forwarder's health logic, F-10). Targets the
 * user did not map are never contacted (design.md §4).
 */
/* E-1: an external server waits its own timeout (Windows' 3 s by default)
 * for each forwarder, in list order, and the query lasts long enough for
 * every one to have its turn. */
static void external_timing(const model_external_server_t *x, size_t n, resolve_forward_t *fw)
{
	fw->try_timeout_ms = x->forwarder_timeout_s * 1000u;
	uint32_t all = fw->try_timeout_ms * (uint32_t)n + 1000u;
	if (fw->deadline_ms < all)
		fw->deadline_ms = all;
}

static step_t send_to_targets(resolve_query_t *q, frame_t *f, const model_target_t *targets,
			      size_t n, uint32_t source_address)
{
	const deployment_t *d = q->s->d;
	if (n > MODEL_MAX_TARGETS_PER_RULE)
		n = MODEL_MAX_TARGETS_PER_RULE;
	for (size_t i = 0; i < n; i++) {
		linker_target_t lt;
		linker_classify_target(d, targets[i].address, targets[i].port, &lt);
		if (lt.kind != LINKER_TARGET_OUTSIDE)
			return dispatch_in_process(q, f, &lt, targets[i].address, targets[i].port);
		if (!target_mapping(d, targets[i].address, targets[i].port).mapped) {
			q->trace.unmapped = true;
			continue;
		}
		resolve_forward_t *fw = &q->fwd;
		fw->n_targets = 0;
		for (size_t j = 0; j < n; j++) {
			resolve_target_t *t = &fw->targets[fw->n_targets++];
			*t = target_mapping(d, targets[j].address, targets[j].port);
			t->tls = targets[j].tls;
			t->tls_hostname = targets[j].tls_hostname;
			t->tls_ca = targets[j].tls_ca;
		}
		fw->source_address = d->emulator.listen == MODEL_LISTEN_VIRTUAL ? source_address : 0;
		fw->deadline_ms = d->emulator.query_deadline_ms;
		fw->try_timeout_ms = d->emulator.forward_timeout_ms;
		if (f->kind == FRAME_EXTERNAL)
			external_timing(&d->external_servers[f->index], n, fw);
		step_t cached;
		if (answer_from_cache(q, f, &targets[i], &cached))
			return cached;
		if (outside_loop(q, f, &targets[i]))
			return frame_fail(f, DNS_RCODE_SERVFAIL);
		bool joined = join_or_lead(q, f);
		if (!joined)
			inflight_hold(q, f);
		build_forward_question(q, f);
		resolve_step_t *st =
			trace(q, joined ? RESOLVE_STEP_JOINED : RESOLVE_STEP_FORWARD, f);
		st->address = targets[i].address;
		st->port = targets[i].port;
		f->state = FRAME_WAITING;
		return STEP_FORWARD;
	}
	trace(q, RESOLVE_STEP_UNMAPPED, f);
	q->trace.unmapped = true;
	return frame_fail(f, DNS_RCODE_SERVFAIL);
}

/* ---- The steps of a view (Q-1 … Q-4) ----------------------------------------------- */

/* Q-1, S-3: the security policy linked to the view decides first, for the
 * name asked and for every name met along a CNAME chain. Block answers with a
 * CNAME to blockpolicy.azuredns.invalid. (not chased: .invalid never
 * resolves) or SERVFAIL; Alert and Allow go on. */
static step_t policy_step(resolve_query_t *q, frame_t *f, const linker_view_t *v)
{
	policy_verdict_t pv;
	if (v->policy < 0 || policy_evaluate(q->s->policies, v->policy, f->name, &pv) != 0 ||
	    pv.action == POLICY_NONE)
		return STEP_PASS;
	resolve_step_t *st = trace(q, RESOLVE_STEP_POLICY, f);
	st->policy_rule = pv.rule;
	st->policy_action = (int)pv.action;
	st->domain = pv.domain;
	if (pv.action == POLICY_ALERT)
		q->trace.alert = true;
	if (pv.action == POLICY_WOULD_BLOCK)
		q->trace.would_block = true; /* S-4: answered, logged */
	if (pv.action != POLICY_BLOCK)
		return STEP_PASS;
	q->trace.blocked = true;
	if (pv.block_response == MODEL_BLOCK_SERVFAIL)
		return frame_fail(f, DNS_RCODE_SERVFAIL);
	if (!f->wrote)
		f->aa = false;
	/* The owner equal to the question keeps its case (W-5); a chased name is
	 * written as met. */
	if (policy_block_add_cname(&f->ans, f->name) == 0)
		f->wrote = true;
	return frame_finish(f);
}

/* the longest linked private zone answers, authoritatively; a miss does
 * not fall through, unless NxDomainRedirect lets an NXDOMAIN for A, AAAA or
 * CNAME go on to the rules. */
static step_t private_zone_step(resolve_query_t *q, frame_t *f, const linker_view_t *v)
{
	ruleset_match_t m;
	if (!v->zone_matcher || ruleset_matcher_match(v->zone_matcher, f->name, &m) != 0 ||
	    m.kind != RULESET_MATCH_USER)
		return STEP_PASS;
	const linker_zone_link_t *zl = m.value;
	const model_zone_t *mz = &q->s->d->zones[zl->zone];
	zone_result_t r;
	if (zone_lookup(q->s->private_zones[zl->zone], f->name, f->dq.qtype, &r) != 0)
		return STEP_PASS;
	uint16_t t = f->dq.qtype;
	if (r.kind == ZONE_NXDOMAIN && zl->link->resolution == MODEL_RESOLUTION_NXDOMAIN_REDIRECT &&
	    (t == KNOT_RRTYPE_A || t == KNOT_RRTYPE_AAAA || t == KNOT_RRTYPE_CNAME)) {
		trace(q, RESOLVE_STEP_REDIRECT, f)->zone = mz->name;
		return STEP_PASS;
	}
	resolve_step_t *st = trace(q, RESOLVE_STEP_ZONE, f);
	st->zone = mz->name;
	st->rcode = r.kind == ZONE_NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR;
	return answer_from_zone(q, f, &r, true);
}

/* the linked ruleset (F-8 longest suffix, F-9 reserved domains). */
static step_t ruleset_step(resolve_query_t *q, frame_t *f, const linker_view_t *v)
{
	ruleset_match_t m;
	if (!v->rules || ruleset_matcher_match(v->rules, f->name, &m) != 0 ||
	    m.kind == RULESET_MATCH_NONE)
		return STEP_PASS;
	if (m.kind == RULESET_MATCH_RESERVED) {
		trace(q, RESOLVE_STEP_RESERVED, f)->domain = m.domain;
		return STEP_PASS; /* F-9: Azure DNS answers */
	}
	const model_rule_t *rule = m.value;
	resolve_step_t *st = trace(q, RESOLVE_STEP_RULE, f);
	st->rule = rule;
	st->domain = m.domain;
	/* O-1: queries leave through the ruleset's first outbound endpoint. */
	const deployment_t *d = q->s->d;
	const model_ruleset_t *rs = &d->rulesets[v->ruleset];
	uint32_t source = 0;
	if (rs->n_outbound > 0 && rs->outbound[0].resolver >= 0) {
		const model_resolver_t *res = &d->resolvers[rs->outbound[0].resolver];
		source = res->outbound[rs->outbound[0].endpoint].source_address;
	}
	return send_to_targets(q, f, rule->targets, rule->n_targets, source);
}

/* Azure DNS: the public zones, else the public upstreams, else REFUSED. */
static step_t azure_dns_step(resolve_query_t *q, frame_t *f)
{
	const resolve_snapshot_t *s = q->s;
	ruleset_match_t m;
	if (ruleset_matcher_match(s->public_matcher, f->name, &m) == 0 &&
	    m.kind == RULESET_MATCH_USER) {
		zone_t *const *zp = m.value;
		size_t i = (size_t)(zp - s->public_zones);
		zone_result_t r;
		if (zone_lookup(*zp, f->name, f->dq.qtype, &r) == 0) {
			resolve_step_t *st = trace(q, RESOLVE_STEP_PUBLIC_ZONE, f);
			st->zone = s->d->public_dns.zones[i].name;
			st->rcode = r.kind == ZONE_NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR;
			/* A recursive resolver's answer: not authoritative. */
			return answer_from_zone(q, f, &r, false);
		}
	}
	if (s->d->public_dns.n_upstreams > 0) {
		trace(q, RESOLVE_STEP_UPSTREAM, f);
		return send_to_targets(q, f, s->d->public_dns.upstreams,
				       s->d->public_dns.n_upstreams, 0);
	}
	trace(q, RESOLVE_STEP_REFUSED, f);
	f->rcode = DNS_RCODE_REFUSED;
	return frame_finish(f);
}

static step_t resolve_in_view(resolve_query_t *q, frame_t *f)
{
	const linker_view_t *v = linker_view(q->s->linker, f->index);
	step_t st = policy_step(q, f, v);
	if (st == STEP_PASS)
		st = private_zone_step(q, f, v);
	if (st == STEP_PASS)
		st = ruleset_step(q, f, v);
	if (st == STEP_PASS)
		st = azure_dns_step(q, f);
	return st;
}

/* An external server [privres]: its longest zone or forwarder, else REFUSED. */
static step_t resolve_as_external(resolve_query_t *q, frame_t *f)
{
	const rs_external_t *x = &q->s->externals[f->index];
	const model_external_server_t *mx = &q->s->d->external_servers[f->index];
	ruleset_match_t m;
	if (ruleset_matcher_match(x->matcher, f->name, &m) != 0 || m.kind != RULESET_MATCH_USER) {
		trace(q, RESOLVE_STEP_REFUSED, f);
		f->rcode = DNS_RCODE_REFUSED;
		return frame_finish(f);
	}
	const rs_ext_entry_t *e = m.value;
	if (e->is_zone) {
		zone_result_t r;
		if (zone_lookup(x->zones[e->index], f->name, f->dq.qtype, &r) != 0)
			return frame_fail(f, DNS_RCODE_SERVFAIL);
		resolve_step_t *st = trace(q, RESOLVE_STEP_ZONE, f);
		st->zone = mx->zones[e->index].name;
		st->rcode = r.kind == ZONE_NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR;
		return answer_from_zone(q, f, &r, true);
	}
	if (!mx->recursion) { /* E-1: its own zones only */
		trace(q, RESOLVE_STEP_REFUSED, f);
		f->rcode = DNS_RCODE_REFUSED;
		return frame_finish(f);
	}
	const model_forwarder_t *fw = &mx->forwarders[e->index];
	trace(q, RESOLVE_STEP_FORWARDER, f)->domain = fw->domain_name;
	return send_to_targets(q, f, fw->targets, fw->n_targets, 0);
}

/* Run a frame's chain until it is done or waits for a target. */
static step_t run_frame(resolve_query_t *q, frame_t *f)
{
	for (;;) {
		step_t st = f->kind == FRAME_VIEW ? resolve_in_view(q, f) : resolve_as_external(q, f);
		if (st != STEP_CHASE)
			return st;
		if (dns_answer_truncated(&f->ans))
			return frame_finish(f);
	}
}

/* ---- Replies (Q-5, Q-6) ----------------------------------------------------------- */

static void *arena_mm_alloc(void *ctx, size_t len)
{
	return pr_arena_alloc(ctx, len);
}

static void arena_mm_free(void *p)
{
	(void)p; /* the arena is reset with the query */
}

/* Does the reply's answer chain stop at a CNAME with nothing for the question
 * type after it? *end is where it stops; *followed the links taken. */
static bool reply_needs_chase(const knot_pkt_t *pkt, const frame_t *f, uint8_t *end,
			      int *followed)
{
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	const knot_pktsection_t *ns = knot_pkt_section(pkt, KNOT_AUTHORITY);
	uint16_t qtype = f->dq.qtype;
	bool data = false;
	memcpy(end, f->name, knot_dname_size(f->name));
	*followed = 0;
	for (uint16_t round = 0; round <= an->count && !data; round++) {
		bool moved = false;
		for (uint16_t i = 0; i < an->count && !moved; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(an, i);
			if (!knot_dname_is_case_equal(rr->owner, end))
				continue;
			if (rr->type == qtype || qtype == KNOT_RRTYPE_ANY) {
				data = true;
			} else if (rr->type == KNOT_RRTYPE_CNAME && rr->rrs.count > 0) {
				const knot_dname_t *t = knot_cname_name(rr->rrs.rdata);
				memcpy(end, t, knot_dname_size(t));
				dns_name_lower(end);
				moved = true;
				(*followed)++;
			}
		}
		if (!moved)
			break;
	}
	if (data || *followed == 0 || knot_pkt_ext_rcode(pkt) != KNOT_RCODE_NOERROR)
		return false;
	/* A NODATA for the last name (SOA in authority) is an answer too. */
	for (uint16_t i = 0; i < ns->count; i++)
		if (knot_pkt_rr(ns, i)->type == KNOT_RRTYPE_SOA)
			return false;
	return true;
}

/* the target's answer as it sent it, under the client's header, question
 * and EDNS; truncated to the client's size. */
static void return_reply(frame_t *f, const knot_pkt_t *pkt)
{
	(void)dns_answer_begin(&f->ans, f->buf, f->cap, &f->dq, f->tcp);
	f->nauthority = 0;
	f->nadditional = 0;
	for (int s = KNOT_ANSWER; s <= KNOT_ADDITIONAL; s++) {
		const knot_pktsection_t *sec = knot_pkt_section(pkt, s);
		for (uint16_t i = 0; i < sec->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(sec, i);
			if (rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG)
				continue;
			if (dns_answer_add(&f->ans, (dns_section_t)(s - KNOT_ANSWER), rr, NULL) != 0 &&
			    dns_answer_truncated(&f->ans))
				goto done;
		}
	}
done:
	f->aa = knot_wire_get_aa(pkt->wire);
	f->rcode = knot_pkt_ext_rcode(pkt);
	frame_finish(f);
	/* still truncated after the forwarder's TCP retry (or without one):
	 * a UDP client must know to ask over TCP. */
	if (knot_wire_get_tc(pkt->wire) && !f->tcp && f->len >= KNOT_WIRE_HEADER_SIZE)
		knot_wire_set_tc(f->buf);
}

/* A reply (borrowed; NULL: no target answered) for the frame's question;
 * outside: from a target outside privres, which the cache may keep. */
static void deliver_reply(resolve_query_t *q, frame_t *f, const uint8_t *reply, size_t len,
			  bool outside)
{
	knot_pkt_t *pkt = NULL;
	uint8_t *copy = NULL;
	if (reply && len >= KNOT_WIRE_HEADER_SIZE && len <= DNS_TCP_MESSAGE_MAX) {
		copy = pr_arena_alloc(q->arena, len);
		memcpy(copy, reply, len);
		pkt = knot_pkt_new(copy, (uint16_t)len, &q->mm);
		if (pkt && knot_pkt_parse(pkt, KNOT_PF_NOCANON) != KNOT_EOK)
			pkt = NULL;
	}
	/* kept by the query that asked (one that joined got the same reply),
	 * before the exchange closes: a question arriving in between finds it. */
	if (pkt && outside && !q->join)
		cache_reply(q, f, copy, len);
	if (outside) {
		lead_release(q, reply, len);
		exchange_unref(&q->join); /* the reply is the arena's copy now */
	}
	if (!pkt) {
		trace(q, RESOLVE_STEP_NO_REPLY, f)->reason = q->fail_reason;
		q->fail_reason = NULL;
		frame_fail(f, DNS_RCODE_SERVFAIL);
		return;
	}
	trace(q, RESOLVE_STEP_REPLY, f)->rcode = knot_pkt_ext_rcode(pkt);
	handle_reply(q, f, pkt);
}

/* A parsed reply for the frame's question: returned as it is, or its CNAME
 * chain taken over and chased. */
static void handle_reply(resolve_query_t *q, frame_t *f, const knot_pkt_t *pkt)
{
	uint16_t rcode = knot_pkt_ext_rcode(pkt);
	uint8_t end[DNS_NAME_MAXLEN];
	int followed = 0;
	bool more = reply_needs_chase(pkt, f, end, &followed);
	if (!f->wrote && !more) {
		return_reply(f, pkt);
		return;
	}
	if (rcode == DNS_RCODE_SERVFAIL) {
		frame_fail(f, DNS_RCODE_SERVFAIL);
		return;
	}
	/* The chain so far, then what the target added to it. */
	if (!f->wrote)
		f->aa = knot_wire_get_aa(pkt->wire);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++)
		if (dns_answer_add(&f->ans, DNS_SECTION_ANSWER, knot_pkt_rr(an, i), NULL) != 0) {
			frame_finish(f);
			return;
		}
	f->wrote = true;
	if (more) {
		if (chase(q, f, end, followed) == STEP_CHASE)
			f->state = FRAME_RUNNING;
		return;
	}
	if (f->links + followed > RESOLVE_MAX_CNAME) {
		trace(q, RESOLVE_STEP_CNAME_LIMIT, f);
		frame_fail(f, DNS_RCODE_SERVFAIL);
		return;
	}
	f->links += followed;
	const knot_pktsection_t *ns = knot_pkt_section(pkt, KNOT_AUTHORITY);
	for (uint16_t i = 0; i < ns->count && f->nauthority < MAX_AUTHORITY; i++)
		f->authority[f->nauthority++] = knot_pkt_rr(ns, i);
	f->rcode = rcode;
	frame_finish(f);
}

/* ---- Driving --------------------------------------------------------------------- */

static resolve_status_t run(resolve_query_t *q, const resolve_forward_t **fwd)
{
	for (;;) {
		frame_t *f = &q->frames[q->depth];
		if (f->state == FRAME_RUNNING) {
			step_t st = run_frame(q, f);
			if (st == STEP_PUSHED)
				continue;
			if (st == STEP_FORWARD) {
				*fwd = &q->fwd;
				return RESOLVE_FORWARD;
			}
		}
		PR_REQUIRE(f->state == FRAME_DONE);
		if (q->depth == 0) {
			q->answer = f->buf;
			q->answer_len = f->len;
			return RESOLVE_DONE;
		}
		/* An in-process answer is the reply of the frame below. */
		q->depth--;
		deliver_reply(q, &q->frames[q->depth], f->buf, f->len, false);
	}
}

/* ---- The snapshot a query reads --------------------------------------------------- */

static void held_drop(resolve_worker_t *w)
{
	resolve_snapshot_unref(&w->held);
	w->held_stale = false;
	w->li_name[0] = '\0';
}

static void snapshot_take(resolve_query_t *q, resolve_snapshot_t *s)
{
	resolve_worker_t *w = q->w;
	if (w->held != s && w->held_users == 0) {
		held_drop(w);
		resolve_snapshot_ref(s);
		w->held = s;
	}
	q->s = s;
	q->s_owned = w->held != s; /* the worker's is still borrowed by others */
	if (q->s_owned)
		resolve_snapshot_ref(s);
	else
		w->held_users++;
}

static void snapshot_give_back(resolve_query_t *q)
{
	resolve_worker_t *w = q->w;
	if (!q->s)
		return;
	if (q->s_owned) {
		resolve_snapshot_unref(&q->s);
		return;
	}
	q->s = NULL;
	if (--w->held_users == 0 && w->held_stale)
		held_drop(w);
}

/* A query that waits outlives the call that started it: it takes its own
 * reference, so that the worker can move to a newer snapshot meanwhile. */
static resolve_status_t settle(resolve_query_t *q, resolve_status_t st)
{
	if (st == RESOLVE_FORWARD && !q->s_owned) {
		resolve_snapshot_t *s = q->s;
		resolve_snapshot_ref(s);
		snapshot_give_back(q);
		q->s = s;
		q->s_owned = true;
	}
	return st;
}

/* snapshot_listener_index() of the held snapshot, remembered for the next
 * query (most come in on the listener of the one before). */
static int listener_index(resolve_query_t *q, const char *name)
{
	resolve_worker_t *w = q->w;
	if (q->s_owned || !name || strlen(name) >= sizeof(w->li_name))
		return snapshot_listener_index(q->s, name);
	if (w->li_name[0] == '\0' || strcmp(w->li_name, name) != 0) {
		w->li_index = snapshot_listener_index(q->s, name);
		strcpy(w->li_name, name);
	}
	return w->li_index;
}

void resolve_worker_let_go(resolve_worker_t *w)
{
	PR_REQUIRE(w);
	if (w->held_users == 0)
		held_drop(w);
	else
		w->held_stale = true;
}

static void query_reset(resolve_query_t *q, const resolve_snapshot_t *s)
{
	if (q->s != s) {
		snapshot_give_back(q);
		snapshot_take(q, (resolve_snapshot_t *)s);
	}
	inflight_release(q);
	lead_release(q, NULL, 0);
	exchange_unref(&q->join);
	pr_arena_reset(q->arena);
	q->depth = 0;
	q->answer = NULL;
	q->answer_len = 0;
	q->client = 0;
	q->may_reenter = false;
	q->fail_reason = NULL;
	memset(&q->fwd, 0, sizeof(q->fwd));
	q->trace.n_steps = 0;
	q->trace.dropped_steps = 0;
	q->trace.n_cnames = 0;
	q->trace.loop = false;
	q->trace.unmapped = false;
	q->trace.alert = false;
	q->trace.blocked = false;
}

static void answer_error(resolve_query_t *q, frame_t *f, uint16_t rcode)
{
	if (!f->buf)
		f->buf = pr_malloc(FRAME_BUF);
	q->answer = f->buf;
	q->answer_len = dns_answer_error(f->buf, f->cap, &f->dq, rcode, f->tcp);
}

/* The VNet a client of 168.63.129.16 is in, in virtual mode (design.md §4):
 * the one whose prefixes hold its address, the listener's own when it is one
 * of several; -1 when none does (W-7: refused). */
static int view_for_source(const deployment_t *d, int listener_vnet, uint32_t client)
{
	int found = -1;
	for (size_t v = 0; v < d->n_vnets; v++)
		for (size_t p = 0; p < d->vnets[v].n_prefixes; p++)
			if (pr_prefix_contains(d->vnets[v].prefixes[p], client)) {
				if ((int)v == listener_vnet)
					return listener_vnet;
				if (found < 0)
					found = (int)v;
			}
	return found;
}

/* Parse the packet into frame 0 and answer what needs no view (W-3). Returns
 * true when the query goes on. */
static bool accept_query(resolve_query_t *q, const uint8_t *packet, size_t len, bool tcp,
			 size_t max_answer)
{
	frame_t *f = &q->frames[0];
	/* The packet is borrowed only for this call; the parsed question keeps
	 * pointing into it (EDNS options) while the query waits. */
	uint8_t *copy = pr_arena_alloc(q->arena, len ? len : 1);
	memcpy(copy, packet, len);
	dns_query_parse(copy, len, &f->dq);
	f->tcp = tcp;
	f->cap = max_answer < FRAME_BUF ? max_answer : FRAME_BUF;
	f->hops = 0;
	f->who = NULL;
	if (f->dq.verdict != DNS_QUERY_OK) {
		trace(q, RESOLVE_STEP_INVALID, f)->rcode = dns_verdict_rcode(f->dq.verdict);
		int rc = dns_verdict_rcode(f->dq.verdict);
		answer_error(q, f, (uint16_t)(rc < 0 ? 0 : rc));
		if (f->dq.verdict == DNS_QUERY_DROP)
			q->answer_len = 0;
		return false;
	}
	return true;
}

static resolve_status_t start_frame0(resolve_query_t *q, frame_kind_t kind, int index, int hops,
				     const resolve_forward_t **fwd)
{
	frame_t *f = &q->frames[0];
	frame_set_context(q, f, kind, index);
	f->hops = hops;
	if (frame_begin(f) != 0) {
		answer_error(q, f, DNS_RCODE_SERVFAIL);
		return RESOLVE_DONE;
	}
	trace(q, kind == FRAME_VIEW ? RESOLVE_STEP_VIEW : RESOLVE_STEP_EXTERNAL, f);
	if (hops > hop_limit(q)) {
		loop_found(q, f);
		frame_fail(f, DNS_RCODE_SERVFAIL);
	}
	return run(q, fwd);
}

static resolve_status_t start(resolve_worker_t *w, const resolve_snapshot_t *s,
			      const resolve_input_t *in, resolve_query_t *q,
			      const resolve_forward_t **fwd)
{
	query_reset(q, s);
	if (in->client && in->client->sa_family == AF_INET)
		q->client = ntohl(((const struct sockaddr_in *)in->client)->sin_addr.s_addr);
	if (!accept_query(q, in->packet, in->len, in->tcp, in->max_answer))
		return RESOLVE_DONE;
	int li = listener_index(q, in->listener);
	if (li < 0) {
		/* A listener of an older snapshot: nobody answers there any more. */
		answer_error(q, &q->frames[0], DNS_RCODE_REFUSED);
		return RESOLVE_DONE;
	}
	const rs_listener_target_t *lt = &s->listener_targets[li];
	q->may_reenter = s->listeners[li].kind == RESOLVE_LISTENER_INBOUND;
	switch (s->listeners[li].kind) {
	case RESOLVE_LISTENER_EXTERNAL:
		return start_frame0(q, FRAME_EXTERNAL, lt->external, in->hops, fwd);
	case RESOLVE_LISTENER_AZURE_DNS:
		if (s->d->emulator.listen == MODEL_LISTEN_VIRTUAL && q->client) {
			int v = view_for_source(s->d, lt->vnet, q->client);
			if (v < 0) {
				/* W-7: Azure DNS answers only clients inside a VNet */
				answer_error(q, &q->frames[0], DNS_RCODE_REFUSED);
				return RESOLVE_DONE;
			}
			return start_frame0(q, FRAME_VIEW, v, in->hops, fwd);
		}
		/* fall through */
	case RESOLVE_LISTENER_INBOUND:
		break;
	}
	return start_frame0(q, FRAME_VIEW, lt->vnet, in->hops, fwd); /* I-4 */
}

resolve_status_t resolve_start(resolve_worker_t *w, const resolve_snapshot_t *s,
			       const resolve_input_t *in, resolve_query_t *q,
			       const resolve_forward_t **fwd)
{
	PR_REQUIRE(w && s && in && q && fwd && q->w == w);
	PR_REQUIRE(in->packet || in->len == 0);
	return settle(q, start(w, s, in, q, fwd));
}

resolve_status_t resolve_start_in_view(resolve_worker_t *w, const resolve_snapshot_t *s, int vnet,
				       const uint8_t *packet, size_t len, resolve_query_t *q,
				       const resolve_forward_t **fwd)
{
	PR_REQUIRE(w && s && q && fwd && vnet >= 0 && (size_t)vnet < s->d->n_vnets);
	query_reset(q, s);
	if (!accept_query(q, packet, len, true, DNS_TCP_MESSAGE_MAX))
		return RESOLVE_DONE;
	return settle(q, start_frame0(q, FRAME_VIEW, vnet, 0, fwd));
}

resolve_status_t resolve_resume(resolve_worker_t *w, resolve_query_t *q, const uint8_t *reply,
				size_t len, const resolve_forward_t **fwd)
{
	PR_REQUIRE(w && q && fwd && q->s && q->frames[q->depth].state == FRAME_WAITING);
	inflight_release(q); /* P-3: this copy is back */
	deliver_reply(q, &q->frames[q->depth], reply, len, true);
	return run(q, fwd);
}

void resolve_query_note_failure(resolve_query_t *q, const char *why)
{
	q->fail_reason = why;
}

const uint8_t *resolve_query_answer(const resolve_query_t *q, size_t *len)
{
	*len = q->answer_len;
	return q->answer;
}

/* ---- Workers and query objects ------------------------------------------------------ */

static uint64_t default_clock(void *ctx)
{
	(void)ctx;
	return pr_now_ms();
}

resolve_worker_t *resolve_worker_new(const model_emulator_t *settings)
{
	(void)settings; /* the snapshot's settings apply per query, cacheEntries too */
	resolve_worker_t *w = pr_calloc(1, sizeof(resolve_worker_t));
	w->own_cache = cache_new();
	w->cache = w->own_cache;
	w->now_ms = default_clock;
	return w;
}

void resolve_worker_set_clock(resolve_worker_t *w, uint64_t (*now_ms)(void *ctx), void *ctx)
{
	PR_REQUIRE(w && now_ms);
	w->now_ms = now_ms;
	w->now_ctx = ctx;
}

void resolve_worker_set_cache(resolve_worker_t *w, resolve_cache_t *c)
{
	PR_REQUIRE(w);
	w->cache = c ? c : w->own_cache;
}

void resolve_worker_set_inflight(resolve_worker_t *w, resolve_inflight_t *t)
{
	PR_REQUIRE(w);
	w->inflight = t;
}

void resolve_worker_stats(const resolve_worker_t *w, resolve_worker_stats_t *out)
{
	PR_REQUIRE(w && out);
	/* Any thread: the counters are atomics, read one by one. */
	rs_counters_t *c = (rs_counters_t *)&w->stats;
	*out = (resolve_worker_stats_t){
		.cache_hits = atomic_load_explicit(&c->cache_hits, memory_order_relaxed),
		.cache_misses = atomic_load_explicit(&c->cache_misses, memory_order_relaxed),
		.cache_inserts = atomic_load_explicit(&c->cache_inserts, memory_order_relaxed),
		.cache_evictions = atomic_load_explicit(&c->cache_evictions, memory_order_relaxed),
		.cache_expired = atomic_load_explicit(&c->cache_expired, memory_order_relaxed),
		.cache_entries = atomic_load_explicit(&c->cache_entries, memory_order_relaxed),
		.cache_bytes = atomic_load_explicit(&c->cache_bytes, memory_order_relaxed),
		.loops = atomic_load_explicit(&c->loops, memory_order_relaxed),
	};
}

static void query_destroy(resolve_query_t *q)
{
	snapshot_give_back(q);
	for (int i = 0; i < RESOLVE_MAX_DEPTH; i++)
		free(q->frames[i].buf);
	pr_arena_destroy(&q->arena);
	free(q);
}

void resolve_worker_destroy(resolve_worker_t **wp)
{
	if (!wp || !*wp)
		return;
	resolve_worker_t *w = *wp;
	*wp = NULL;
	while (w->free_list) {
		resolve_query_t *q = w->free_list;
		w->free_list = q->next_free;
		query_destroy(q);
	}
	held_drop(w);
	cache_destroy(&w->own_cache);
	free(w);
}

resolve_query_t *resolve_query_new(resolve_worker_t *w)
{
	PR_REQUIRE(w);
	resolve_query_t *q = w->free_list;
	if (q) {
		w->free_list = q->next_free;
		w->n_free--;
		q->next_free = NULL;
		return q;
	}
	q = pr_calloc(1, sizeof(*q));
	q->w = w;
	q->arena = pr_arena_new(ARENA_CHUNK);
	q->mm = (knot_mm_t){.ctx = q->arena, .alloc = arena_mm_alloc, .free = arena_mm_free};
	return q;
}

void resolve_query_free(resolve_query_t **qp)
{
	if (!qp || !*qp)
		return;
	resolve_query_t *q = *qp;
	*qp = NULL;
	/* A query given up while it waits (the daemon stopping) is out no more;
	 * the queries that joined its question get no reply (SERVFAIL). */
	inflight_release(q);
	lead_release(q, NULL, 0);
	exchange_unref(&q->join);
	/* Give the snapshot back now: a swap must not wait for the next query. */
	snapshot_give_back(q);
	resolve_worker_t *w = q->w;
	if (w->n_free >= FREE_LIST_MAX) {
		query_destroy(q);
		return;
	}
	pr_arena_reset(q->arena);
	q->answer = NULL;
	q->answer_len = 0;
	q->next_free = w->free_list;
	w->free_list = q;
	w->n_free++;
}
