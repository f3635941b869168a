/*
 * Arbitrary bytes through the whole pipeline (W-3): resolve_start() at a
 * listener of the default deployment (every view, IE and external server, all
 * in-process) or of a second deployment whose rules and upstreams forward
 * outside through an addressMap; when the machine asks to forward, a fake
 * reply goes to resolve_resume(): none, the fuzz input itself, the question
 * echoed back empty, or with a CNAME into a private zone.
 *
 * Input: two octets of answer ceiling (low bit: TCP), one selector octet
 * (low 4 bits: listener, high bits: reply kind), then the query.
 * Checks: every answer parses back with libknot, fits the ceiling, has the
 * client's ID and the question as asked (W-5); TC answers hold no records.
 * Each input runs twice on two fresh workers sharing a fresh cache and
 * in-flight table, as the daemon's workers do (Q-6, P-3): in each run the
 * second worker asks the same question while the first one's is out, so it
 * joins that exchange (or, from an inbound endpoint, goes out on its own) and
 * is answered from the first one's reply; the second run meets what the first
 * left in the cache (every reply, the fuzz input among them, goes through the
 * cache's wire walk). Runs are reproducible one by one; afterwards no question
 * may be left counted out or open (resolve_inflight_destroy checks).
 */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve.h"

static const char *FORWARDING_YAML =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"privateDnsZones:\n"
	"  - name: contoso.com\n"
	"    recordSets: [{name: web, type: A, records: [10.10.2.5]}, {name: '*.w', type: CNAME, records: [web]}]\n"
	"    virtualNetworkLinks: [{name: l, virtualNetwork: hub, resolutionPolicy: NxDomainRedirect}]\n"
	"dnsResolvers:\n"
	"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
	"dnsForwardingRulesets:\n"
	"  - name: rs\n"
	"    dnsResolverOutboundEndpoints: [r/out]\n"
	"    forwardingRules:\n"
	"      - {name: All, domainName: ., targetDnsServers: [{ipAddress: 10.100.0.9}, {ipAddress: 10.100.0.2}]}\n"
	"      - {name: Unmapped, domainName: fabrikam.com., targetDnsServers: [{ipAddress: 10.100.0.9}]}\n"
	"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
	"publicDns: {upstreams: [{ipAddress: 10.200.0.1}]}\n"
	"emulator:\n"
	"  addressMap: {\"10.100.0.2:53\": \"127.0.0.1:5353\", \"10.200.0.1:53\": \"127.0.0.1:5354\"}\n";

static resolve_snapshot_t *snaps[2];

static resolve_snapshot_t *build(const char *text)
{
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	resolve_snapshot_t *s = NULL;
	if (deployment_load_text(text, strlen(text), "fuzz.yaml", &d, diag) != 0 ||
	    resolve_snapshot_build(&d, &s, diag) != 0)
		abort();
	pr_diag_destroy(&diag);
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snaps[0] = build(model_default_deployment_text());
	snaps[1] = build(FORWARDING_YAML);
	return 0;
}

static void check_answer(const uint8_t *wire, size_t len, size_t cap, const uint8_t *query,
			 size_t qlen)
{
	if (len == 0)
		return;
	if (len > cap || len < KNOT_WIRE_HEADER_SIZE || qlen < KNOT_WIRE_HEADER_SIZE)
		abort();
	knot_pkt_t *pkt = knot_pkt_new((void *)wire, (uint16_t)len, NULL);
	if (!pkt || knot_pkt_parse(pkt, KNOT_PF_NOCANON) != KNOT_EOK)
		abort();
	if (knot_wire_get_id(wire) != knot_wire_get_id(query) || !knot_wire_get_qr(wire))
		abort();
	/* W-5: the question goes back byte for byte. */
	if (knot_wire_get_qdcount(wire) == 1) {
		size_t n = knot_dname_size(knot_pkt_wire_qname(pkt));
		if (qlen < KNOT_WIRE_HEADER_SIZE + n ||
		    memcmp(knot_pkt_wire_qname(pkt), query + KNOT_WIRE_HEADER_SIZE, n) != 0)
			abort();
	}
	if (knot_wire_get_tc(wire) && knot_wire_get_ancount(wire) + knot_wire_get_nscount(wire))
		abort();
	knot_pkt_free(pkt);
}

/* A target's reply to the forwarded question. kind 2: the question echoed,
 * empty; kind 3: a CNAME from the question's name to web.contoso.com. */
static size_t fake_reply(const resolve_forward_t *fwd, int kind, uint8_t *buf, size_t cap)
{
	if (fwd->len > cap)
		return 0;
	memcpy(buf, fwd->packet, fwd->len);
	knot_wire_set_qr(buf);
	knot_wire_set_arcount(buf, 0); /* drop our OPT */
	size_t qend = KNOT_WIRE_HEADER_SIZE + knot_dname_size(buf + KNOT_WIRE_HEADER_SIZE) + 4;
	if (kind == 2 || qend + 2 + 10 + 64 > cap)
		return qend;
	static const uint8_t target[] = "\x03web\x07" "contoso\x03" "com";
	uint8_t *p = buf + qend;
	p[0] = 0xc0; /* pointer to the question's name */
	p[1] = KNOT_WIRE_HEADER_SIZE;
	knot_wire_write_u16(p + 2, KNOT_RRTYPE_CNAME);
	knot_wire_write_u16(p + 4, KNOT_CLASS_IN);
	knot_wire_write_u32(p + 6, 60);
	knot_wire_write_u16(p + 10, sizeof(target));
	memcpy(p + 12, target, sizeof(target));
	knot_wire_set_ancount(buf, 1);
	return qend + 12 + sizeof(target);
}

typedef struct fuzz_query {
	resolve_worker_t *w;
	resolve_query_t *q;
	resolve_status_t st;
	const resolve_forward_t *fwd;
	int woken;
} fuzz_query_t;

static void on_wake(void *arg)
{
	(*(int *)arg)++;
}

/* One step of a query that asked to forward: a fake reply of the selected
 * kind, or, when it joined an exchange, that exchange's reply once it is in. */
static void step(fuzz_query_t *x, int kind, const uint8_t *packet, size_t len)
{
	static uint8_t reply[4096];
	const resolve_forward_t *fwd = x->fwd;
	if (fwd->n_targets == 0 || fwd->n_targets > MODEL_MAX_TARGETS_PER_RULE)
		abort();
	if (fwd->join) {
		/* Still out (its leader gave up the chase): give up waiting, as
		 * the forwarder does at the deadline. */
		void *token = NULL;
		int woken = 0;
		const uint8_t *r = NULL;
		size_t rlen = 0;
		if (resolve_exchange_wait(fwd->join, on_wake, &woken, &token) == 0) {
			if (!resolve_exchange_leave(fwd->join, token))
				abort();
		} else {
			r = resolve_exchange_reply(fwd->join, &rlen);
		}
		x->st = resolve_resume(x->w, x->q, r, rlen, &x->fwd);
	} else if (kind == 0) {
		x->st = resolve_resume(x->w, x->q, NULL, 0, &x->fwd);
	} else if (kind == 1) {
		x->st = resolve_resume(x->w, x->q, packet, len, &x->fwd);
	} else {
		x->st = resolve_resume(x->w, x->q, reply, fake_reply(fwd, kind, reply, sizeof(reply)),
				       &x->fwd);
	}
}

static void run_once(resolve_worker_t *workers[2], const uint8_t *data, size_t size)
{
	size_t cap = ((size_t)data[0] << 8 | data[1]) & ~(size_t)1;
	bool tcp = data[1] & 1;
	int sel = data[2];
	int kind = (sel >> 4) & 3;
	const uint8_t *packet = data + 3;
	size_t len = size - 3;

	size_t n0 = resolve_snapshot_listener_count(snaps[0]);
	size_t n1 = resolve_snapshot_listener_count(snaps[1]);
	size_t li = (size_t)(sel & 0x0f) % (n0 + n1);
	resolve_snapshot_t *s = li < n0 ? snaps[0] : snaps[1];
	const resolve_listener_t *l = resolve_snapshot_listener(s, li < n0 ? li : li - n0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a140004)};
	resolve_input_t in = {.listener = l->name, .client = (struct sockaddr *)&sin, .tcp = tcp,
			      .packet = packet, .len = len, .max_answer = cap, .hops = sel >> 6};

	fuzz_query_t x[2];
	for (int i = 0; i < 2; i++) {
		x[i] = (fuzz_query_t){.w = workers[i], .q = resolve_query_new(workers[i])};
		/* The second asks while the first one's question is out. */
		if (i == 0 || x[0].st == RESOLVE_FORWARD)
			x[i].st = resolve_start(x[i].w, s, &in, x[i].q, &x[i].fwd);
		else
			x[i].st = RESOLVE_DONE;
	}
	bool waiting = x[1].st == RESOLVE_FORWARD && x[1].fwd->join;
	void *token = NULL;
	if (waiting && resolve_exchange_wait(x[1].fwd->join, on_wake, &x[1].woken, &token) != 0)
		abort(); /* the leader has not had its reply yet */
	if (x[0].st == RESOLVE_FORWARD && x[0].fwd->join)
		abort(); /* nothing was out before the first */
	/* Chases may forward again; each is bounded by Q-5's 16 links. */
	for (int i = 0; i < 2; i++) {
		for (int round = 0; x[i].st == RESOLVE_FORWARD && round < 40; round++) {
			if (i == 1 && round == 0 && waiting && x[1].woken != 1)
				abort(); /* the leader's reply wakes every joined query once */
			step(&x[i], kind, packet, len);
		}
		if (x[i].st == RESOLVE_DONE && x[i].q) {
			size_t alen;
			const uint8_t *a = resolve_query_answer(x[i].q, &alen);
			check_answer(a, alen, cap, packet, len);
		}
		if (i == 1 && waiting && x[1].woken != 1)
			abort();
	}
	for (int i = 0; i < 2; i++)
		resolve_query_free(&x[i].q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	resolve_cache_t *cache = resolve_cache_new();
	resolve_inflight_t *inflight = resolve_inflight_new();
	resolve_worker_t *workers[2];
	for (int i = 0; i < 2; i++) {
		workers[i] = resolve_worker_new(NULL);
		resolve_worker_set_cache(workers[i], cache);
		resolve_worker_set_inflight(workers[i], inflight);
	}
	run_once(workers, data, size);
	run_once(workers, data, size);
	/* P-3: every copy sent out was counted back in, whatever the reply. */
	const uint8_t *packet = data + 3, *end = data + size;
	if (size >= 3 + KNOT_WIRE_HEADER_SIZE) {
		const uint8_t *name = packet + KNOT_WIRE_HEADER_SIZE;
		int n = knot_dname_wire_check(name, end, NULL);
		if (n > 0 && name + n + 2 <= end &&
		    resolve_inflight_count(inflight, name, knot_wire_read_u16(name + n)) != 0)
			abort();
	}
	for (int i = 0; i < 2; i++)
		resolve_worker_destroy(&workers[i]);
	resolve_inflight_destroy(&inflight); /* no exchange left open */
	resolve_cache_destroy(&cache);
	return 0;
}
