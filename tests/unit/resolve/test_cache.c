/*
 * The answer cache (Q-6, RFC 2308) and loops through outside servers (P-3),
 * without sockets: one worker kept across queries, a clock the tests move,
 * replies made as a target would send them.
 */
#include <arpa/inet.h>
#include <libknot/libknot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
