/*
 * The answer cache (Q-6, RFC 2308) and loops through outside servers (P-3),
 * without sockets: one worker kept across queries, a clock the tests move,
 * replies made as a target would send them.
 */
#include <arpa/inet.h>
#include <libknot/libknot.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* The library allocates with the C allocator; so do these tests. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "resolve/resolve.h"
#include "resolve/resolve_p.h"

/* ---- Helpers ------------------------------------------------------------------ */

/* hub holds the resolver; VNet a and VNet b each have a ruleset of their own
 * through the same outbound endpoint. %s: ruleset a's rules; %u: cacheEntries. */
#define CACHE_YAML                                                                              \
	"virtualNetworks:\n"                                                                    \
	"  - name: hub\n"                                                                       \
	"    addressPrefixes: [10.10.0.0/16]\n"                                                 \
	"    subnets:\n"                                                                        \
	"      - {name: i, addressPrefix: 10.10.0.0/28,\n"                                     \
	"         delegation: Microsoft.Network/dnsResolvers}\n"                               \
	"      - {name: o, addressPrefix: 10.10.1.0/28,\n"                                     \
	"         delegation: Microsoft.Network/dnsResolvers}\n"                               \
	"  - {name: a, addressPrefixes: [10.20.0.0/16]}\n"                                      \
	"  - {name: b, addressPrefixes: [10.30.0.0/16]}\n"                                      \
	"dnsResolvers:\n"                                                                       \
	"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}],\n"       \
	"     outboundEndpoints: [{name: out, subnet: o}]}\n"                                   \
	"dnsForwardingRulesets:\n"                                                              \
	"  - name: rsa\n"                                                                       \
	"    dnsResolverOutboundEndpoints: [r/out]\n"                                           \
	"    forwardingRules: [%s]\n"                                                           \
	"    virtualNetworkLinks: [{name: la, virtualNetwork: a}]\n"                            \
	"  - name: rsb\n"                                                                       \
	"    dnsResolverOutboundEndpoints: [r/out]\n"                                           \
	"    forwardingRules:\n"                                                               \
	"      - {name: Corp, domainName: corp.test., targetDnsServers: [10.100.0.2]}\n"       \
	"    virtualNetworkLinks: [{name: lb, virtualNetwork: b}%s]\n"                          \
	"emulator:\n"                                                                           \
	"  addressMap: {\"10.100.0.2:53\": \"127.0.0.1:5353\",\n"                          \
	"               \"10.100.0.3:53\": \"127.0.0.1:5354\"}\n"                            \
	"  cacheEntries: %u\n"                                                                  \
	"  hopLimit: 2\n"

#define RULE_TO_2 "{name: Corp, domainName: corp.test., targetDnsServers: [10.100.0.2]}"
#define RULE_TO_3 "{name: Corp, domainName: corp.test., targetDnsServers: [10.100.0.3]}"
#define RULE_ELSEWHERE "{name: Other, domainName: other.test., targetDnsServers: [10.100.0.2]}"

/* hub_link: rsb is linked to the hub too, so its inbound endpoint forwards. */
static resolve_snapshot_t *snapshot_linked(const char *rules, unsigned cache_entries,
					   bool hub_link)
{
	char *text = pr_asprintf(CACHE_YAML, rules,
				 hub_link ? ", {name: lh, virtualNetwork: hub}" : "", cache_entries);
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_load_text(text, strlen(text), "test.yaml", &d, diag);
	resolve_snapshot_t *s = NULL;
	if (rc == 0)
		rc = resolve_snapshot_build(&d, &s, diag);
	if (rc != 0) {
		char *msg = pr_diag_format(diag);
		fprintf(stderr, "%s", msg);
		free(msg);
	}
	assert_int_equal(rc, 0);
	pr_diag_destroy(&diag);
	free(text);
	return s;
}

static resolve_snapshot_t *snapshot_with(const char *rules, unsigned cache_entries)
{
	return snapshot_linked(rules, cache_entries, false);
}

static uint64_t fake_now = 1000000;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static resolve_worker_t *worker_of(resolve_snapshot_t *s)
{
	resolve_worker_t *w = resolve_worker_new(&resolve_snapshot_deployment(s)->emulator);
	resolve_worker_set_clock(w, fake_clock, NULL);
	return w;
}

typedef struct ask {
	uint16_t id;
	bool edns, dnssec_ok, tcp;
} ask_t;

typedef struct run {
	resolve_worker_t *w;
	resolve_query_t *q;
	resolve_status_t status;
	const resolve_forward_t *fwd;
	knot_pkt_t *pkt;
	uint8_t packet[512];
} run_t;

static size_t make_query(uint8_t *buf, const char *name, uint16_t qtype, const ask_t *o)
{
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, o->id ? o->id : 0x4242);
	knot_wire_set_rd(buf);
	knot_wire_set_qdcount(buf, 1);
	size_t off = KNOT_WIRE_HEADER_SIZE;
	assert_int_equal(dns_name_from_text(name, buf + off, NULL, NULL), 0);
	size_t n = knot_dname_size(buf + off);
	/* dns_name_from_text lowercases; the question keeps the case asked (W-5). */
	for (size_t p = off, i = 0; buf[p]; p += buf[p] + 1) {
		while (name[i] == '.')
			i++;
		memcpy(buf + p + 1, name + i, buf[p]);
		i += buf[p];
	}
	off += n;
	knot_wire_write_u16(buf + off, qtype);
	knot_wire_write_u16(buf + off + 2, KNOT_CLASS_IN);
	off += 4;
	if (o->edns || o->dnssec_ok) {
		knot_wire_set_arcount(buf, 1);
		buf[off] = 0;
		knot_wire_write_u16(buf + off + 1, KNOT_RRTYPE_OPT);
		knot_wire_write_u16(buf + off + 3, 1232);
		knot_wire_write_u32(buf + off + 5, o->dnssec_ok ? KNOT_EDNS_DO_MASK : 0);
		knot_wire_write_u16(buf + off + 9, 0);
		off += 11;
	}
	return off;
}

static void parse_answer(run_t *r)
{
	knot_pkt_free(r->pkt);
	r->pkt = NULL;
	size_t len;
	const uint8_t *a = resolve_query_answer(r->q, &len);
	assert_true(len > 0);
	r->pkt = knot_pkt_new((void *)a, (uint16_t)len, NULL);
	assert_non_null(r->pkt);
	assert_int_equal(knot_pkt_parse(r->pkt, KNOT_PF_NOCANON), KNOT_EOK);
}

static void ask(run_t *r, resolve_worker_t *w, resolve_snapshot_t *s, const char *listener,
		const char *name, const ask_t *o)
{
	static const ask_t none;
	memset(r, 0, sizeof(*r));
	r->w = w;
	r->q = resolve_query_new(w);
	size_t len = make_query(r->packet, name, KNOT_RRTYPE_A, o ? o : &none);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	inet_pton(AF_INET, "10.20.0.4", &sin.sin_addr);
	resolve_input_t in = {.listener = listener, .client = (struct sockaddr *)&sin,
			      .tcp = o && o->tcp, .packet = r->packet, .len = len,
			      .max_answer = o && o->tcp ? 65535 : 512};
	r->status = resolve_start(w, s, &in, r->q, &r->fwd);
	if (r->status == RESOLVE_DONE)
		parse_answer(r);
}

static void resume(run_t *r, const uint8_t *reply, size_t len)
{
	r->status = resolve_resume(r->w, r->q, reply, len, &r->fwd);
	if (r->status == RESOLVE_DONE)
		parse_answer(r);
}

static void done(run_t *r)
{
	knot_pkt_free(r->pkt);
	r->pkt = NULL;
	resolve_query_free(&r->q);
}

static bool has_step(const run_t *r, resolve_step_kind_t kind)
{
	const resolve_trace_t *t = resolve_query_trace(r->q);
	for (size_t i = 0; i < t->n_steps; i++)
		if (t->steps[i].kind == kind)
			return true;
	return false;
}

static void put_rr(knot_pkt_t *pkt, const char *owner, uint16_t type, uint32_t ttl,
		   const char *value)
{
	uint8_t own[DNS_NAME_MAXLEN], rd[512];
	size_t rdlen;
	assert_true(dns_name_from_text(owner, own, NULL, NULL) == 0);
	assert_int_equal(dns_rdata_from_text(type, value, NULL, rd, sizeof(rd), &rdlen, NULL), 0);
	knot_rrset_t rr;
	knot_rrset_init(&rr, own, type, KNOT_CLASS_IN, ttl);
	assert_int_equal(knot_rrset_add_rdata(&rr, rd, (uint16_t)rdlen, NULL), KNOT_EOK);
	/* Written to the wire at once; the packet keeps no use for the copy. */
	assert_int_equal(knot_pkt_put(pkt, 0, &rr, 0), KNOT_EOK);
	knot_rdataset_clear(&rr.rrs, NULL);
}

typedef struct reply_spec {
	uint16_t rcode;
	const char *owner; /* an answer record, or NULL */
	uint16_t type;
	const char *value;
	uint32_t ttl;
	uint32_t soa_ttl, soa_minimum; /* an SOA in authority when soa_ttl */
	bool tc;
} reply_spec_t;

/* The target's reply to the forwarded question. */
static size_t make_reply(const resolve_forward_t *fwd, uint8_t *buf, size_t cap,
			 const reply_spec_t *sp)
{
	knot_pkt_t *pkt = knot_pkt_new(buf, (uint16_t)cap, NULL);
	knot_pkt_t *qp = knot_pkt_new((void *)fwd->packet, (uint16_t)fwd->len, NULL);
	assert_int_equal(knot_pkt_parse(qp, 0), KNOT_EOK);
	assert_int_equal(knot_pkt_init_response(pkt, qp), KNOT_EOK);
	knot_wire_set_id(pkt->wire, 0x9999);
	knot_wire_set_rcode(pkt->wire, (uint8_t)sp->rcode);
	if (sp->tc)
		knot_wire_set_tc(pkt->wire);
	assert_int_equal(knot_pkt_begin(pkt, KNOT_ANSWER), KNOT_EOK);
	if (sp->owner)
		put_rr(pkt, sp->owner, sp->type, sp->ttl, sp->value);
	assert_int_equal(knot_pkt_begin(pkt, KNOT_AUTHORITY), KNOT_EOK);
	if (sp->soa_ttl) {
		char soa[128];
		snprintf(soa, sizeof(soa), "ns.corp.test. admin.corp.test. 1 3600 300 2419200 %u",
			 sp->soa_minimum);
		put_rr(pkt, "corp.test.", KNOT_RRTYPE_SOA, sp->soa_ttl, soa);
	}
	size_t len = pkt->size;
	knot_pkt_free(qp);
	knot_pkt_free(pkt);
	return len;
}

static void answer_with(run_t *r, const reply_spec_t *sp)
{
	assert_int_equal(r->status, RESOLVE_FORWARD);
	uint8_t reply[1024];
	size_t len = make_reply(r->fwd, reply, sizeof(reply), sp);
	resume(r, reply, len);
	assert_int_equal(r->status, RESOLVE_DONE);
}

static const knot_rrset_t *first_of(const run_t *r, knot_section_t sec, uint16_t type)
{
	const knot_pktsection_t *s = knot_pkt_section(r->pkt, sec);
	for (uint16_t i = 0; i < s->count; i++)
		if (knot_pkt_rr(s, i)->type == type)
			return knot_pkt_rr(s, i);
	return NULL;
}

static resolve_worker_stats_t stats_of(const resolve_worker_t *w)
{
	resolve_worker_stats_t st;
	resolve_worker_stats(w, &st);
	return st;
}

static const reply_spec_t A_300 = {.rcode = KNOT_RCODE_NOERROR, .owner = "web.corp.test.",
				   .type = KNOT_RRTYPE_A, .value = "192.0.2.7", .ttl = 300};

/* ---- hits, TTLs, expiry ----------------------------------------------------- */

/* a forwarded answer is cached; the next client is answered from it with
 * its own ID, case and EDNS, TTL counted down, a "cache hit" step, and the
 * target is not asked. Past the TTL the entry is gone. */
static void test_q6_hit_counts_ttl_down_then_expires(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	assert_int_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->ttl, 300);
	assert_false(has_step(&r, RESOLVE_STEP_CACHE));
	done(&r);
	assert_int_equal(stats_of(w).cache_inserts, 1);
	assert_int_equal(stats_of(w).cache_misses, 1);
	assert_int_equal(stats_of(w).cache_entries, 1);

	fake_now += 100500; /* 100.5 s: whole seconds count */
	ask(&r, w, s, "azure-dns/a", "WEB.Corp.test", &(ask_t){.id = 0xabcd, .edns = true});
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_wire_get_id(r.pkt->wire), 0xabcd);
	assert_int_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->ttl, 200);
	/* W-5: the owner reads as this client asked. */
	assert_memory_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->owner,
			    "\x03WEB\x04" "Corp\x04test", 15);
	assert_non_null(r.pkt->opt_rr); /* this client's EDNS (W-2) */
	assert_true(has_step(&r, RESOLVE_STEP_CACHE));
	assert_false(has_step(&r, RESOLVE_STEP_FORWARD));
	assert_false(has_step(&r, RESOLVE_STEP_REPLY));
	assert_string_equal(resolve_step_name(RESOLVE_STEP_CACHE), "cache hit");
	assert_string_equal(resolve_step_rule_id(RESOLVE_STEP_CACHE), "Q-6");
	done(&r);
	assert_int_equal(stats_of(w).cache_hits, 1);

	fake_now += 199400; /* 299.9 s after it was stored: still there, TTL 1 */
	ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->ttl, 1);
	done(&r);

	fake_now += 100; /* 300 s: expired, the target is asked again */
	ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	assert_int_equal(r.fwd->targets[0].real_port, 5353);
	done(&r);
	assert_int_equal(stats_of(w).cache_expired, 1);
	assert_int_equal(stats_of(w).cache_entries, 0);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* Q-6 keys on DO: a DNSSEC-OK question is another entry than a plain one. */
static void test_q6_do_bit_separates_entries(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	done(&r);
	ask(&r, w, s, "azure-dns/a", "web.corp.test", &(ask_t){.dnssec_ok = true});
	assert_int_equal(r.status, RESOLVE_FORWARD);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NOERROR, .owner = "web.corp.test.",
					.type = KNOT_RRTYPE_A, .value = "192.0.2.8", .ttl = 300});
	done(&r);
	/* Each finds its own. */
	ask(&r, w, s, "azure-dns/a", "web.corp.test", &(ask_t){.dnssec_ok = true});
	assert_int_equal(r.status, RESOLVE_DONE);
	uint8_t want[4] = {192, 0, 2, 8};
	assert_memory_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->rrs.rdata->data, want, 4);
	done(&r);
	ask(&r, w, s, "azure-dns/a", "web.corp.test", &(ask_t){.edns = true});
	assert_int_equal(r.status, RESOLVE_DONE);
	want[3] = 7;
	assert_memory_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->rrs.rdata->data, want, 4);
	done(&r);
	assert_int_equal(stats_of(w).cache_entries, 2);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* RFC 2308 §5: NXDOMAIN lives min(SOA TTL, SOA MINIMUM); NODATA without an
 * SOA the [privres] default; SERVFAIL and truncated replies are not kept. */
static void test_q6_negative_answers_rfc2308(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	ask(&r, w, s, "azure-dns/a", "nope.corp.test", NULL);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NXDOMAIN, .soa_ttl = 3600,
					.soa_minimum = 30});
	assert_int_equal(knot_pkt_ext_rcode(r.pkt), KNOT_RCODE_NXDOMAIN);
	done(&r);
	uint64_t t0 = fake_now;
	fake_now = t0 + 29999;
	ask(&r, w, s, "azure-dns/a", "nope.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_pkt_ext_rcode(r.pkt), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(first_of(&r, KNOT_AUTHORITY, KNOT_RRTYPE_SOA)->ttl, 3600 - 29);
	done(&r);
	fake_now = t0 + 30000;
	ask(&r, w, s, "azure-dns/a", "nope.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD); /* the SOA MINIMUM, not its TTL */
	/* The SOA TTL when it is the smaller. */
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NXDOMAIN, .soa_ttl = 10,
					.soa_minimum = 300});
	done(&r);
	fake_now += 10000;
	ask(&r, w, s, "azure-dns/a", "nope.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);

	/* NODATA without an SOA. */
	ask(&r, w, s, "azure-dns/a", "empty.corp.test", NULL);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NOERROR});
	done(&r);
	t0 = fake_now;
	fake_now = t0 + (RESOLVE_CACHE_NEGATIVE_TTL - 1) * 1000;
	ask(&r, w, s, "azure-dns/a", "empty.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_pkt_section(r.pkt, KNOT_ANSWER)->count, 0);
	done(&r);
	fake_now = t0 + RESOLVE_CACHE_NEGATIVE_TTL * 1000;
	ask(&r, w, s, "azure-dns/a", "empty.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);

	/* SERVFAIL is not cached. */
	ask(&r, w, s, "azure-dns/a", "broken.corp.test", NULL);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_SERVFAIL});
	assert_int_equal(knot_pkt_ext_rcode(r.pkt), KNOT_RCODE_SERVFAIL);
	done(&r);
	ask(&r, w, s, "azure-dns/a", "broken.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);

	/* a reply still truncated keeps TC for a UDP client and is not kept. */
	ask(&r, w, s, "azure-dns/a", "big.corp.test", NULL);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NOERROR, .owner = "big.corp.test.",
					.type = KNOT_RRTYPE_A, .value = "192.0.2.9", .ttl = 300,
					.tc = true});
	assert_true(knot_wire_get_tc(r.pkt->wire));
	done(&r);
	ask(&r, w, s, "azure-dns/a", "big.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* Bounded memory: at cacheEntries the least recently used entry goes. */
static void test_q6_eviction_at_capacity(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 2);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	const char *names[] = {"n1.corp.test", "n2.corp.test", "n3.corp.test"};
	for (int i = 0; i < 2; i++) {
		ask(&r, w, s, "azure-dns/a", names[i], NULL);
		answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NXDOMAIN, .soa_ttl = 300,
						.soa_minimum = 300});
		done(&r);
	}
	ask(&r, w, s, "azure-dns/a", names[0], NULL); /* n1 used: n2 is the oldest now */
	assert_int_equal(r.status, RESOLVE_DONE);
	done(&r);
	ask(&r, w, s, "azure-dns/a", names[2], NULL);
	answer_with(&r, &(reply_spec_t){.rcode = KNOT_RCODE_NXDOMAIN, .soa_ttl = 300,
					.soa_minimum = 300});
	done(&r);
	resolve_worker_stats_t st = stats_of(w);
	assert_int_equal(st.cache_entries, 2);
	assert_int_equal(st.cache_evictions, 1);
	assert_true(st.cache_bytes > 0 &&
		    st.cache_bytes <= 2 * RESOLVE_CACHE_BYTES_PER_ENTRY + 65536);
	ask(&r, w, s, "azure-dns/a", names[0], NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	done(&r);
	ask(&r, w, s, "azure-dns/a", names[2], NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	done(&r);
	ask(&r, w, s, "azure-dns/a", names[1], NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* A snapshot that changes VNet a's rule: a's entry is not found any more, b's
 * is; a rule removed stops answering from the cache at once (the integration
 * test's SIGHUP case); an identical rebuild keeps every entry. */
static void test_q6_snapshot_change_invalidates_one_view(void **state)
{
	(void)state;
	resolve_snapshot_t *s1 = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s1);
	run_t r;
	ask(&r, w, s1, "azure-dns/a", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	done(&r);
	ask(&r, w, s1, "azure-dns/b", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD); /* each view has its own entries */
	answer_with(&r, &A_300);
	done(&r);

	resolve_snapshot_t *same = snapshot_with(RULE_TO_2, 100);
	ask(&r, w, same, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_true(has_step(&r, RESOLVE_STEP_CACHE));
	done(&r);
	resolve_snapshot_unref(&same);

	resolve_snapshot_t *s2 = snapshot_with(RULE_TO_3, 100);
	ask(&r, w, s2, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	assert_int_equal(r.fwd->targets[0].real_port, 5354);
	done(&r);
	ask(&r, w, s2, "azure-dns/b", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_true(has_step(&r, RESOLVE_STEP_CACHE));
	done(&r);

	resolve_snapshot_t *s3 = snapshot_with(RULE_ELSEWHERE, 100);
	ask(&r, w, s3, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_pkt_ext_rcode(r.pkt), KNOT_RCODE_REFUSED); /* Q-4, no rule */
	assert_false(has_step(&r, RESOLVE_STEP_CACHE));
	done(&r);
	/* Back to the first rule: the entry kept for it answers again. */
	ask(&r, w, s1, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	done(&r);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s1);
	resolve_snapshot_unref(&s2);
	resolve_snapshot_unref(&s3);
}

/* cacheEntries 0: nothing kept, nothing counted; a reload to 0 empties. */
static void test_q6_disabled(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 0);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	for (int i = 0; i < 2; i++) {
		ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
		assert_int_equal(r.status, RESOLVE_FORWARD);
		answer_with(&r, &A_300);
		done(&r);
	}
	resolve_worker_stats_t st = stats_of(w);
	assert_int_equal(st.cache_hits + st.cache_misses + st.cache_inserts + st.cache_entries, 0);

	resolve_snapshot_t *on = snapshot_with(RULE_TO_2, 10);
	ask(&r, w, on, "azure-dns/a", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	done(&r);
	assert_int_equal(stats_of(w).cache_entries, 1);
	ask(&r, w, s, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);
	assert_int_equal(stats_of(w).cache_entries, 0);
	assert_int_equal(stats_of(w).cache_bytes, 0);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&on);
	resolve_snapshot_unref(&s);
}

/* Q-5 with the cache: a forwarded CNAME is chased through the pipeline again
 * and each link is its own entry; the next client gets the whole chain from
 * two hits. */
static void test_q6_cname_links_cached_apart(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	ask(&r, w, s, "azure-dns/a", "alias.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	uint8_t reply[512];
	size_t len = make_reply(r.fwd, reply, sizeof(reply),
				&(reply_spec_t){.rcode = KNOT_RCODE_NOERROR,
						.owner = "alias.corp.test.",
						.type = KNOT_RRTYPE_CNAME,
						.value = "web.corp.test.", .ttl = 600});
	resume(&r, reply, len);
	/* The chain goes on from Q-1: web.corp.test is asked on its own. */
	assert_int_equal(r.status, RESOLVE_FORWARD);
	answer_with(&r, &A_300);
	assert_int_equal(knot_pkt_section(r.pkt, KNOT_ANSWER)->count, 2);
	done(&r);
	assert_int_equal(stats_of(w).cache_inserts, 2);
	ask(&r, w, s, "azure-dns/a", "alias.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_pkt_section(r.pkt, KNOT_ANSWER)->count, 2);
	assert_non_null(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_non_null(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A));
	done(&r);
	resolve_worker_stats_t st = stats_of(w);
	assert_int_equal(st.cache_entries, 2);
	assert_int_equal(st.cache_hits, 2);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* In-process answers are never cached: they change with the deployment. */
static void test_q6_in_process_not_cached(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_worker_t *w = worker_of(s);
	run_t r;
	for (int i = 0; i < 2; i++) {
		ask(&r, w, s, "r/in", "web.corp.test", NULL); /* hub: no rule, Q-4 REFUSED */
		assert_int_equal(r.status, RESOLVE_DONE);
		done(&r);
	}
	resolve_worker_stats_t st = stats_of(w);
	assert_int_equal(st.cache_inserts + st.cache_hits + st.cache_misses, 0);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* ---- P-3 through outside servers ---------------------------------------------------- */

/* The table: copies counted per (name, type) whatever the case, released one
 * by one; other questions untouched. */
static void test_p3_inflight_table(void **state)
{
	(void)state;
	resolve_inflight_t *t = resolve_inflight_new();
	uint8_t name[DNS_NAME_MAXLEN], upper[DNS_NAME_MAXLEN];
	assert_true(dns_name_from_text("x.corp.test.", name, NULL, NULL) == 0);
	memcpy(upper, name, sizeof(name));
	upper[1] = 'X';
	uint64_t h = inflight_hash(name, KNOT_RRTYPE_A);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 0);
	for (int i = 1; i <= 4; i++) {
		inflight_enter(t, h);
		assert_int_equal(resolve_inflight_count(t, upper, KNOT_RRTYPE_A), i);
	}
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_AAAA), 0);
	/* A thousand other names in flight at once: none looks like a loop at the
	 * default hop limit (4): it would have to share both of its slots with
	 * three other copies. */
	for (int i = 0; i < 1000; i++) {
		char text[64];
		uint8_t other[DNS_NAME_MAXLEN];
		snprintf(text, sizeof(text), "n%d.corp.test.", i);
		assert_true(dns_name_from_text(text, other, NULL, NULL) == 0);
		inflight_enter(t, inflight_hash(other, KNOT_RRTYPE_A));
	}
	for (int i = 0; i < 1000; i++) {
		char text[64];
		uint8_t other[DNS_NAME_MAXLEN];
		snprintf(text, sizeof(text), "n%d.corp.test.", i);
		assert_true(dns_name_from_text(text, other, NULL, NULL) == 0);
		uint32_t n = resolve_inflight_count(t, other, KNOT_RRTYPE_A);
		assert_true(n >= 1 && n < MODEL_DEFAULT_HOP_LIMIT);
		inflight_leave(t, inflight_hash(other, KNOT_RRTYPE_A));
	}
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 4);
	for (int i = 3; i >= 0; i--) {
		inflight_leave(t, h);
		assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), i);
	}
	resolve_inflight_destroy(&t);
	assert_null(t);
	resolve_inflight_destroy(NULL);
}

/* P-3: hopLimit (2) copies of a question out at once, on two workers sharing
 * the process's table: the next one to arrive at an inbound endpoint is coming
 * back through an outside server: SERVFAIL at once, a "loop" step, counted.
 * Clients of a VNet's Azure DNS asking the same name meanwhile are not taken
 * for a loop (outside servers can't reach 168.63.129.16). A reply or a query
 * given up lets the count down again. */
static void test_p3_loop_through_outside_server(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_linked(RULE_TO_2, 0, true);
	resolve_inflight_t *t = resolve_inflight_new();
	resolve_worker_t *w1 = worker_of(s), *w2 = worker_of(s);
	resolve_worker_set_inflight(w1, t);
	resolve_worker_set_inflight(w2, t);
	uint8_t name[DNS_NAME_MAXLEN];
	assert_true(dns_name_from_text("loop.corp.test.", name, NULL, NULL) == 0);
	run_t r1, r2, r3;
	ask(&r1, w1, s, "azure-dns/a", "loop.corp.test", NULL);
	assert_int_equal(r1.status, RESOLVE_FORWARD);
	ask(&r2, w2, s, "r/in", "x.other.test", NULL); /* another name is not counted */
	assert_int_equal(r2.status, RESOLVE_DONE);
	done(&r2);
	ask(&r2, w2, s, "r/in", "LOOP.corp.test", NULL); /* it came back once */
	assert_int_equal(r2.status, RESOLVE_FORWARD);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 2);
	run_t r4;
	ask(&r4, w2, s, "azure-dns/b", "loop.corp.test", NULL); /* a client: no loop */
	assert_int_equal(r4.status, RESOLVE_FORWARD);
	done(&r4);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 2);
	ask(&r3, w1, s, "r/in", "loop.corp.test", NULL); /* and again: a loop */
	assert_int_equal(r3.status, RESOLVE_DONE);
	assert_int_equal(knot_pkt_ext_rcode(r3.pkt), KNOT_RCODE_SERVFAIL);
	assert_true(has_step(&r3, RESOLVE_STEP_LOOP));
	assert_false(has_step(&r3, RESOLVE_STEP_FORWARD));
	assert_true(resolve_query_trace(r3.q)->loop);
	done(&r3);
	assert_int_equal(stats_of(w1).loops, 1);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 2);

	/* The loop's SERVFAIL unwinds: a reply brings the count down. */
	answer_with(&r2, &(reply_spec_t){.rcode = KNOT_RCODE_SERVFAIL});
	done(&r2);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 1);
	ask(&r3, w2, s, "azure-dns/b", "loop.corp.test", NULL);
	assert_int_equal(r3.status, RESOLVE_FORWARD);
	done(&r3); /* given up while waiting: out no more */
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 1);
	resume(&r1, NULL, 0);
	assert_int_equal(knot_pkt_ext_rcode(r1.pkt), KNOT_RCODE_SERVFAIL);
	done(&r1);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 0);

	/* Without a table there is no outside check. */
	resolve_worker_set_inflight(w1, NULL);
	for (int i = 0; i < 3; i++) {
		ask(&r1, w1, s, "azure-dns/a", "loop.corp.test", NULL);
		assert_int_equal(r1.status, RESOLVE_FORWARD);
		done(&r1);
	}
	resolve_worker_destroy(&w1);
	resolve_worker_destroy(&w2);
	resolve_inflight_destroy(&t);
	resolve_snapshot_unref(&s);
}


/* ---- one cache for every worker, questions in flight merged ---------------------- */

/* Two workers with the process's cache: what one fetched, the other answers
 * from, TTL counted down from when it was stored; counters of entries add up
 * over the workers. */
static void test_q6_shared_cache_across_workers(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 100);
	resolve_cache_t *c = resolve_cache_new();
	resolve_worker_t *w1 = worker_of(s), *w2 = worker_of(s);
	resolve_worker_set_cache(w1, c);
	resolve_worker_set_cache(w2, c);
	run_t r;
	ask(&r, w1, s, "azure-dns/a", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	done(&r);
	fake_now += 7000;
	ask(&r, w2, s, "azure-dns/a", "Web.corp.test", &(ask_t){.id = 0x1111});
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_true(has_step(&r, RESOLVE_STEP_CACHE));
	assert_int_equal(knot_wire_get_id(r.pkt->wire), 0x1111);
	assert_int_equal(first_of(&r, KNOT_ANSWER, KNOT_RRTYPE_A)->ttl, 293);
	done(&r);
	assert_int_equal(stats_of(w1).cache_inserts, 1);
	assert_int_equal(stats_of(w2).cache_hits, 1);
	assert_int_equal(stats_of(w1).cache_entries + stats_of(w2).cache_entries, 1);
	/* The entry expires for every worker at once; the one that finds it
	 * expired counts the removal. */
	fake_now += 293000;
	ask(&r, w2, s, "azure-dns/a", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);
	assert_int_equal(stats_of(w1).cache_entries + stats_of(w2).cache_entries, 0);
	/* Back to a cache of its own: the shared one is not seen any more. */
	ask(&r, w1, s, "azure-dns/b", "web.corp.test", NULL);
	answer_with(&r, &A_300);
	done(&r);
	resolve_worker_set_cache(w2, NULL);
	ask(&r, w2, s, "azure-dns/b", "web.corp.test", NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	done(&r);
	resolve_worker_destroy(&w1);
	resolve_worker_destroy(&w2);
	resolve_cache_destroy(&c);
	assert_null(c);
	resolve_cache_destroy(NULL);
	resolve_snapshot_unref(&s);
}

static void count_wake(void *arg)
{
	(*(int *)arg)++;
}

/* while one question is out, the same question from clients of any
 * worker joins it (a "joined" step, fwd->join set, nothing more counted as
 * out for P-3); the leader's reply answers each of them with its own ID and
 * case; the reply is cached once. A question from an inbound endpoint never
 * joins (P-3). A registration withdrawn is never woken. */
static void test_q6_identical_questions_in_flight_merged(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_linked(RULE_TO_2, 100, true);
	resolve_cache_t *c = resolve_cache_new();
	resolve_inflight_t *t = resolve_inflight_new();
	resolve_worker_t *w1 = worker_of(s), *w2 = worker_of(s);
	resolve_worker_t *ws[] = {w1, w2};
	for (int i = 0; i < 2; i++) {
		resolve_worker_set_cache(ws[i], c);
		resolve_worker_set_inflight(ws[i], t);
	}
	uint8_t name[DNS_NAME_MAXLEN];
	assert_true(dns_name_from_text("m.corp.test.", name, NULL, NULL) == 0);
	run_t lead, f1, f2, f3, ie;
	ask(&lead, w1, s, "azure-dns/a", "m.corp.test", &(ask_t){.id = 1});
	assert_int_equal(lead.status, RESOLVE_FORWARD);
	assert_null(lead.fwd->join);
	assert_true(has_step(&lead, RESOLVE_STEP_FORWARD));
	ask(&f1, w2, s, "azure-dns/a", "M.CORP.test", &(ask_t){.id = 2});
	assert_int_equal(f1.status, RESOLVE_FORWARD);
	assert_non_null(f1.fwd->join);
	assert_true(has_step(&f1, RESOLVE_STEP_JOINED));
	assert_false(has_step(&f1, RESOLVE_STEP_FORWARD));
	assert_string_equal(resolve_step_rule_id(RESOLVE_STEP_JOINED), "Q-6");
	ask(&f2, w1, s, "azure-dns/a", "m.Corp.test", &(ask_t){.id = 3});
	assert_ptr_equal(f2.fwd->join, f1.fwd->join);
	/* Another view forwards through another scope: its own exchange. */
	ask(&f3, w2, s, "azure-dns/b", "m.corp.test", &(ask_t){.id = 4});
	assert_int_equal(f3.status, RESOLVE_FORWARD);
	assert_null(f3.fwd->join);
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 2);
	done(&f3);

	int woken1 = 0, woken2 = 0, woken3 = 0;
	void *tok1 = NULL, *tok2 = NULL, *tok3 = NULL;
	assert_int_equal(resolve_exchange_wait(f1.fwd->join, count_wake, &woken1, &tok1), 0);
	assert_int_equal(resolve_exchange_wait(f2.fwd->join, count_wake, &woken2, &tok2), 0);
	assert_int_equal(resolve_exchange_wait(f2.fwd->join, count_wake, &woken3, &tok3), 0);
	assert_true(resolve_exchange_leave(f2.fwd->join, tok3));
	answer_with(&lead, &(reply_spec_t){.rcode = KNOT_RCODE_NOERROR, .owner = "m.corp.test.",
					   .type = KNOT_RRTYPE_A, .value = "192.0.2.9", .ttl = 120});
	assert_int_equal(woken1 + woken2 + woken3, 2);
	assert_int_equal(woken3, 0);
	assert_false(resolve_exchange_leave(f1.fwd->join, tok1)); /* woken already */
	assert_int_equal(resolve_inflight_count(t, name, KNOT_RRTYPE_A), 0);
	/* Too late to wait: the reply is in. */
	void *late = NULL;
	assert_int_equal(resolve_exchange_wait(f1.fwd->join, count_wake, &woken3, &late), 1);
	run_t *fs[] = {&f1, &f2};
	const uint8_t *wire[] = {(const uint8_t *)"\x01M\x04" "CORP\x04test",
				 (const uint8_t *)"\x01m\x04" "Corp\x04test"};
	for (int i = 0; i < 2; i++) {
		size_t len = 0;
		const uint8_t *reply = resolve_exchange_reply(fs[i]->fwd->join, &len);
		assert_non_null(reply);
		resume(fs[i], reply, len);
		assert_int_equal(fs[i]->status, RESOLVE_DONE);
		assert_int_equal(knot_wire_get_id(fs[i]->pkt->wire), 2 + i);
		const knot_rrset_t *a = first_of(fs[i], KNOT_ANSWER, KNOT_RRTYPE_A);
		assert_int_equal(a->ttl, 120);
		assert_memory_equal(a->owner, wire[i], 13); /* W-5 */
		done(fs[i]);
	}
	done(&lead);
	/* One insert for the three: the others had the same reply. */
	assert_int_equal(stats_of(w1).cache_inserts + stats_of(w2).cache_inserts, 1);
	ask(&f1, w2, s, "azure-dns/a", "m.corp.test", NULL);
	assert_int_equal(f1.status, RESOLVE_DONE);
	assert_true(has_step(&f1, RESOLVE_STEP_CACHE));
	done(&f1);

	/* P-3: at an inbound endpoint even the question of the same view (hub's
	 * ruleset, the same targets) goes out instead of joining; a client of
	 * the hub's Azure DNS joins either. */
	ask(&lead, w1, s, "azure-dns/hub", "i.corp.test", NULL);
	assert_int_equal(lead.status, RESOLVE_FORWARD);
	ask(&ie, w2, s, "r/in", "i.corp.test", NULL);
	assert_int_equal(ie.status, RESOLVE_FORWARD);
	assert_null(ie.fwd->join);
	assert_true(has_step(&ie, RESOLVE_STEP_FORWARD));
	ask(&f1, w2, s, "azure-dns/hub", "i.corp.test", NULL);
	assert_non_null(f1.fwd->join);
	done(&f1);
	done(&ie);
	done(&lead);

	/* A leader given up: those that joined get no reply, SERVFAIL. */
	ask(&lead, w1, s, "azure-dns/a", "gone.corp.test", NULL);
	ask(&f1, w2, s, "azure-dns/a", "gone.corp.test", NULL);
	assert_non_null(f1.fwd->join);
	done(&lead);
	size_t len = 1;
	assert_int_equal(resolve_exchange_wait(f1.fwd->join, count_wake, &woken1, &tok1), 1);
	assert_null(resolve_exchange_reply(f1.fwd->join, &len));
	assert_int_equal(len, 0);
	resume(&f1, NULL, 0);
	assert_int_equal(knot_pkt_ext_rcode(f1.pkt), KNOT_RCODE_SERVFAIL);
	done(&f1);
	/* One that joined and is given up leaves the leader alone. */
	ask(&lead, w1, s, "azure-dns/a", "left.corp.test", NULL);
	ask(&f1, w2, s, "azure-dns/a", "left.corp.test", NULL);
	done(&f1);
	answer_with(&lead, &A_300);
	done(&lead);
	resolve_worker_destroy(&w1);
	resolve_worker_destroy(&w2);
	resolve_inflight_destroy(&t);
	resolve_cache_destroy(&c);
	resolve_snapshot_unref(&s);
}

/* ---- Q-6 under threads: workers at once on one cache and one in-flight table ------------ */

#define T_THREADS 4
#define T_NAMES 48
#define T_ROUNDS 3000

typedef struct tctx {
	resolve_snapshot_t *s;
	resolve_worker_t *w;
	unsigned seed;
	atomic_int *errors;
	unsigned answered, joined, cached;
} tctx_t;

typedef struct twait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool woken;
} twait_t;

static void thread_wake(void *arg)
{
	twait_t *tw = arg;
	pthread_mutex_lock(&tw->m);
	tw->woken = true;
	pthread_cond_signal(&tw->cv);
	pthread_mutex_unlock(&tw->m);
}

/* The target's answer for name n: 10.0.0.n, TTL 1 to 5 s (so entries expire
 * while the others run), or NXDOMAIN for every seventh. No cmocka here: its
 * asserts jump, which only the main thread may do. */
static size_t thread_reply(const resolve_forward_t *fwd, uint8_t *buf, size_t cap)
{
	if (fwd->len + 16 > cap)
		return 0;
	memcpy(buf, fwd->packet, fwd->len);
	knot_wire_set_qr(buf);
	knot_wire_set_id(buf, 0x7777);
	knot_wire_set_arcount(buf, 0);
	size_t qend = KNOT_WIRE_HEADER_SIZE + knot_dname_size(buf + KNOT_WIRE_HEADER_SIZE) + 4;
	unsigned n = (unsigned)atoi((const char *)buf + KNOT_WIRE_HEADER_SIZE + 2);
	if (n % 7 == 0) {
		knot_wire_set_rcode(buf, KNOT_RCODE_NXDOMAIN);
		return qend;
	}
	uint8_t *p = buf + qend;
	p[0] = 0xc0;
	p[1] = KNOT_WIRE_HEADER_SIZE;
	knot_wire_write_u16(p + 2, KNOT_RRTYPE_A);
	knot_wire_write_u16(p + 4, KNOT_CLASS_IN);
	knot_wire_write_u32(p + 6, 1 + n % 5);
	knot_wire_write_u16(p + 10, 4);
	p[12] = 10, p[13] = 0, p[14] = 0, p[15] = (uint8_t)n;
	knot_wire_set_ancount(buf, 1);
	return qend + 16;
}

/* Is the answer right for name n and the client's ID? */
static bool thread_answer_ok(resolve_query_t *q, unsigned n, uint16_t id)
{
	size_t len;
	const uint8_t *a = resolve_query_answer(q, &len);
	if (len < KNOT_WIRE_HEADER_SIZE || knot_wire_get_id(a) != id)
		return false;
	knot_pkt_t *pkt = knot_pkt_new((void *)a, (uint16_t)len, NULL);
	bool ok = pkt && knot_pkt_parse(pkt, 0) == KNOT_EOK;
	if (ok && n % 7 == 0)
		ok = knot_pkt_ext_rcode(pkt) == KNOT_RCODE_NXDOMAIN;
	else if (ok) {
		const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
		ok = knot_pkt_ext_rcode(pkt) == KNOT_RCODE_NOERROR && an->count == 1 &&
		     knot_pkt_rr(an, 0)->rrs.rdata->data[3] == n &&
		     knot_pkt_rr(an, 0)->ttl <= 1 + n % 5;
	}
	knot_pkt_free(pkt);
	return ok;
}

/* One question driven to its answer; a joined one waits for its leader
 * (who answers at once on its own thread, so nobody waits for long). */
static void thread_one(tctx_t *x, unsigned n, uint16_t id)
{
	uint8_t packet[64], reply[512];
	char name[32];
	snprintf(name, sizeof(name), "n%u.corp.test", n);
	size_t len = make_query(packet, name, KNOT_RRTYPE_A, &(ask_t){.id = id});
	struct sockaddr_in sin = {.sin_family = AF_INET};
	resolve_input_t in = {.listener = "azure-dns/a", .client = (struct sockaddr *)&sin,
			      .packet = packet, .len = len, .max_answer = 512};
	resolve_query_t *q = resolve_query_new(x->w);
	const resolve_forward_t *fwd = NULL;
	resolve_status_t st = resolve_start(x->w, x->s, &in, q, &fwd);
	if (st == RESOLVE_DONE)
		x->cached++;
	while (st == RESOLVE_FORWARD) {
		if (fwd->join) {
			twait_t tw = {.woken = false};
			pthread_mutex_init(&tw.m, NULL);
			pthread_cond_init(&tw.cv, NULL);
			void *token = NULL;
			if (resolve_exchange_wait(fwd->join, thread_wake, &tw, &token) == 0) {
				pthread_mutex_lock(&tw.m);
				while (!tw.woken)
					pthread_cond_wait(&tw.cv, &tw.m);
				pthread_mutex_unlock(&tw.m);
			}
			pthread_mutex_destroy(&tw.m);
			pthread_cond_destroy(&tw.cv);
			size_t rlen = 0;
			const uint8_t *r = resolve_exchange_reply(fwd->join, &rlen);
			x->joined++;
			st = resolve_resume(x->w, q, r, rlen, &fwd);
		} else {
			usleep(200); /* the target's round trip: others may join meanwhile */
			st = resolve_resume(x->w, q, reply, thread_reply(fwd, reply, sizeof(reply)),
					    &fwd);
		}
	}
	if (thread_answer_ok(q, n, id))
		x->answered++;
	else
		atomic_fetch_add(x->errors, 1);
	resolve_query_free(&q);
}

static void *thread_main(void *arg)
{
	tctx_t *x = arg;
	for (unsigned i = 0; i < T_ROUNDS; i++) {
		unsigned n = (unsigned)rand_r(&x->seed) % T_NAMES;
		thread_one(x, n, (uint16_t)(i + 1));
	}
	return NULL;
}

static uint64_t real_clock(void *ctx)
{
	(void)ctx;
	return pr_now_ms();
}

/* Four workers at once on one cache of 32 entries (evictions from every
 * shard) and one in-flight table: every answer is the right one for its name
 * and ID, some are hits and some joined, and afterwards the counters of the
 * workers add up to the cache's bound, with no question left out (P-3). */
static void test_q6_shared_cache_threads(void **state)
{
	(void)state;
	resolve_snapshot_t *s = snapshot_with(RULE_TO_2, 32);
	resolve_cache_t *c = resolve_cache_new();
	resolve_inflight_t *t = resolve_inflight_new();
	atomic_int errors = 0;
	tctx_t x[T_THREADS];
	pthread_t th[T_THREADS];
	for (int i = 0; i < T_THREADS; i++) {
		x[i] = (tctx_t){.s = s, .w = resolve_worker_new(NULL), .seed = 17u * (unsigned)i + 1,
				.errors = &errors};
		resolve_worker_set_clock(x[i].w, real_clock, NULL);
		resolve_worker_set_cache(x[i].w, c);
		resolve_worker_set_inflight(x[i].w, t);
	}
	for (int i = 0; i < T_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &x[i]), 0);
	unsigned answered = 0, cached = 0, joined = 0;
	uint64_t entries = 0, bytes = 0, inserts = 0, evictions = 0;
	for (int i = 0; i < T_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		answered += x[i].answered;
		cached += x[i].cached;
		joined += x[i].joined;
		resolve_worker_stats_t st = stats_of(x[i].w);
		entries += st.cache_entries;
		bytes += st.cache_bytes;
		inserts += st.cache_inserts;
		evictions += st.cache_evictions;
	}
	assert_int_equal(atomic_load(&errors), 0);
	assert_int_equal(answered, T_THREADS * T_ROUNDS);
	assert_true(cached > T_ROUNDS); /* most come from the cache */
	assert_true(joined > 0);        /* and some joined a question out */
	fprintf(stderr, "# %u answers: %u from the cache, %u joined\n", answered, cached, joined);
	assert_true(entries > 0 && entries <= 32);
	assert_true(bytes <= 32 * RESOLVE_CACHE_BYTES_PER_ENTRY + 65536);
	assert_true(inserts >= entries && evictions > 0);
	for (unsigned n = 0; n < T_NAMES; n++) {
		char name[32];
		uint8_t wire[DNS_NAME_MAXLEN];
		snprintf(name, sizeof(name), "n%u.corp.test.", n);
		assert_true(dns_name_from_text(name, wire, NULL, NULL) == 0);
		assert_int_equal(resolve_inflight_count(t, wire, KNOT_RRTYPE_A), 0);
	}
	for (int i = 0; i < T_THREADS; i++)
		resolve_worker_destroy(&x[i].w);
	resolve_inflight_destroy(&t);
	resolve_cache_destroy(&c);
	resolve_snapshot_unref(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q6_hit_counts_ttl_down_then_expires),
		cmocka_unit_test(test_q6_do_bit_separates_entries),
		cmocka_unit_test(test_q6_negative_answers_rfc2308),
		cmocka_unit_test(test_q6_eviction_at_capacity),
		cmocka_unit_test(test_q6_snapshot_change_invalidates_one_view),
		cmocka_unit_test(test_q6_disabled),
		cmocka_unit_test(test_q6_cname_links_cached_apart),
		cmocka_unit_test(test_q6_in_process_not_cached),
		cmocka_unit_test(test_p3_inflight_table),
		cmocka_unit_test(test_p3_loop_through_outside_server),
		cmocka_unit_test(test_q6_shared_cache_across_workers),
		cmocka_unit_test(test_q6_identical_questions_in_flight_merged),
		cmocka_unit_test(test_q6_shared_cache_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
