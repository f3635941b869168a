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
 * Each input runs twice on a fresh worker with the process's in-flight table
 * (P-3), so the second run meets what the first left in the cache (Q-6: every
 * reply, the fuzz input among them, goes through the cache's wire walk) and
 * runs are reproducible one by one.
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
static resolve_inflight_t *inflight;

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
	inflight = resolve_inflight_new();
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

static void run_once(resolve_worker_t *worker, const uint8_t *data, size_t size)
{
	static uint8_t reply[4096];
	size_t cap = ((size_t)data[0] << 8 | data[1]) & ~(size_t)1;
	bool tcp = data[1] & 1;
	int sel = data[2];
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

	resolve_query_t *q = resolve_query_new(worker);
	const resolve_forward_t *fwd = NULL;
	resolve_status_t st = resolve_start(worker, s, &in, q, &fwd);
	/* Chases may forward again; each is bounded by Q-5's 16 links. */
	for (int round = 0; st == RESOLVE_FORWARD && round < 40; round++) {
		if (fwd->n_targets == 0 || fwd->n_targets > MODEL_MAX_TARGETS_PER_RULE)
			abort();
		int kind = (sel >> 4) & 3;
		if (kind == 0)
			st = resolve_resume(worker, q, NULL, 0, &fwd);
		else if (kind == 1)
			st = resolve_resume(worker, q, packet, len, &fwd);
		else
			st = resolve_resume(worker, q, reply, fake_reply(fwd, kind, reply,
									 sizeof(reply)),
					    &fwd);
	}
	if (st == RESOLVE_DONE) {
		size_t alen;
		const uint8_t *a = resolve_query_answer(q, &alen);
		check_answer(a, alen, cap, packet, len);
	}
	resolve_query_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	resolve_worker_t *worker = resolve_worker_new(NULL);
	resolve_worker_set_inflight(worker, inflight);
	run_once(worker, data, size);
	run_once(worker, data, size);
	/* P-3: every copy sent out was counted back in, whatever the reply. */
	const uint8_t *packet = data + 3, *end = data + size;
	if (size >= 3 + KNOT_WIRE_HEADER_SIZE) {
		const uint8_t *name = packet + KNOT_WIRE_HEADER_SIZE;
		int n = knot_dname_wire_check(name, end, NULL);
		if (n > 0 && name + n + 2 <= end &&
		    resolve_inflight_count(inflight, name, knot_wire_read_u16(name + n)) != 0)
			abort();
	}
	resolve_worker_destroy(&worker);
	return 0;
}
