/*
 * The resolution pipeline (semantics.md §6, §7) by example, without sockets:
 * snapshots from YAML, real query packets in, answers parsed back with libknot.
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

/* ---- Helpers ------------------------------------------------------------------ */

static resolve_snapshot_t *snapshot_of(const char *text)
{
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
	assert_null(d); /* transferred */
	pr_diag_destroy(&diag);
	return s;
}

static resolve_snapshot_t *default_snapshot(void)
{
	return snapshot_of(model_default_deployment_text());
}

typedef struct qopts {
	bool tcp;
	int edns_size;    /* 0: no OPT */
	int edns_version;
	int opcode;
	bool qr;
	uint16_t id;
	const char *client; /* source address */
	size_t max_answer;
	int hops;
} qopts_t;

/* A query packet, the name written with its case as given (W-5). */
static size_t make_query(uint8_t *buf, const char *name, uint16_t qtype, const qopts_t *o)
{
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, o->id ? o->id : 0x1234);
	knot_wire_set_rd(buf);
	knot_wire_set_opcode(buf, (uint8_t)o->opcode);
	if (o->qr)
		knot_wire_set_qr(buf);
	knot_wire_set_qdcount(buf, 1);
	size_t off = KNOT_WIRE_HEADER_SIZE;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		buf[off++] = (uint8_t)n;
		memcpy(buf + off, p, n);
		off += n;
		p += n + (dot ? 1 : 0);
	}
	buf[off++] = 0;
	knot_wire_write_u16(buf + off, qtype);
	knot_wire_write_u16(buf + off + 2, KNOT_CLASS_IN);
	off += 4;
	if (o->edns_size) {
		knot_wire_set_arcount(buf, 1);
		buf[off] = 0;
		knot_wire_write_u16(buf + off + 1, KNOT_RRTYPE_OPT);
		knot_wire_write_u16(buf + off + 3, (uint16_t)o->edns_size);
		knot_wire_write_u32(buf + off + 5, (uint32_t)o->edns_version << 16);
		knot_wire_write_u16(buf + off + 9, 0);
		off += 11;
	}
	return off;
}

typedef struct run {
	resolve_worker_t *w;
	resolve_query_t *q;
	resolve_status_t status;
	const resolve_forward_t *fwd;
	knot_pkt_t *pkt; /* the answer, parsed */
	uint8_t packet[1024];
	size_t len;
} run_t;

static void parse_answer(run_t *r)
{
	knot_pkt_free(r->pkt);
	r->pkt = NULL;
	size_t len;
	const uint8_t *a = resolve_query_answer(r->q, &len);
	if (len == 0)
		return;
	r->pkt = knot_pkt_new((void *)a, (uint16_t)len, NULL);
	assert_non_null(r->pkt);
	assert_int_equal(knot_pkt_parse(r->pkt, KNOT_PF_NOCANON), KNOT_EOK);
}

static void start(run_t *r, resolve_snapshot_t *s, const char *listener, const char *name,
		  uint16_t qtype, const qopts_t *o)
{
	static const qopts_t none;
	if (!o)
		o = &none;
	memset(r, 0, sizeof(*r));
	r->w = resolve_worker_new(&resolve_snapshot_deployment(s)->emulator);
	r->q = resolve_query_new(r->w);
	r->len = make_query(r->packet, name, qtype, o);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	inet_pton(AF_INET, o->client ? o->client : "10.20.0.4", &sin.sin_addr);
	resolve_input_t in = {.listener = listener, .client = (struct sockaddr *)&sin,
			      .tcp = o->tcp, .packet = r->packet, .len = r->len,
			      .max_answer = o->max_answer ? o->max_answer : 65535,
			      .hops = o->hops};
	r->status = resolve_start(r->w, s, &in, r->q, &r->fwd);
	if (r->status == RESOLVE_DONE)
		parse_answer(r);
}

static void resume(run_t *r, const uint8_t *reply, size_t len)
{
	r->status = resolve_resume(r->w, r->q, reply, len, &r->fwd);
	if (r->status == RESOLVE_DONE)
		parse_answer(r);
}

static void finish(run_t *r)
{
	knot_pkt_free(r->pkt);
	resolve_query_free(&r->q);
	assert_null(r->q);
	resolve_worker_destroy(&r->w);
}

static int rcode_of(const run_t *r)
{
	assert_non_null(r->pkt);
	return knot_pkt_ext_rcode(r->pkt);
}

static uint16_t count(const run_t *r, knot_section_t s)
{
	return knot_pkt_section(r->pkt, s)->count;
}

/* Does the answer section hold an A record with this address? */
static bool has_a(const run_t *r, const char *addr)
{
	uint8_t want[4];
	inet_pton(AF_INET, addr, want);
	const knot_pktsection_t *an = knot_pkt_section(r->pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		if (rr->type != KNOT_RRTYPE_A)
			continue;
		knot_rdata_t *rd = rr->rrs.rdata;
		for (uint16_t k = 0; k < rr->rrs.count; k++, rd = knot_rdataset_next(rd))
			if (rd->len == 4 && memcmp(rd->data, want, 4) == 0)
				return true;
	}
	return false;
}

static bool has_type(const run_t *r, knot_section_t s, uint16_t type)
{
	const knot_pktsection_t *sec = knot_pkt_section(r->pkt, s);
	for (uint16_t i = 0; i < sec->count; i++)
		if (knot_pkt_rr(sec, i)->type == type)
			return true;
	return false;
}

static const resolve_step_t *find_step(const run_t *r, resolve_step_kind_t kind, int nth)
{
	const resolve_trace_t *t = resolve_query_trace(r->q);
	for (size_t i = 0; i < t->n_steps; i++)
		if (t->steps[i].kind == kind && nth-- == 0)
			return &t->steps[i];
	return NULL;
}

static uint32_t ip(const char *text)
{
	uint32_t a = 0;
	assert_int_equal(pr_ipv4_parse(text, &a), 0);
	return a;
}

/* A reply to the forwarded question, as a target would send it. */
static size_t make_reply(const resolve_forward_t *fwd, uint8_t *buf, size_t cap, uint16_t id,
			 const char *owner, uint16_t type, const char *value, uint16_t rcode)
{
	knot_pkt_t *pkt = knot_pkt_new(buf, (uint16_t)cap, NULL);
	knot_pkt_t *qp = knot_pkt_new((void *)fwd->packet, (uint16_t)fwd->len, NULL);
	assert_int_equal(knot_pkt_parse(qp, 0), KNOT_EOK);
	assert_int_equal(knot_pkt_init_response(pkt, qp), KNOT_EOK);
	knot_wire_set_id(pkt->wire, id);
	knot_wire_set_rcode(pkt->wire, (uint8_t)rcode);
	assert_int_equal(knot_pkt_begin(pkt, KNOT_ANSWER), KNOT_EOK);
	if (owner) {
		uint8_t own[DNS_NAME_MAXLEN], rd[512];
		size_t rdlen;
		assert_int_equal(dns_name_from_text(owner, own, NULL, NULL), 0);
		assert_int_equal(dns_rdata_from_text(type, value, NULL, rd, sizeof(rd), &rdlen, NULL),
				 0);
		knot_rrset_t rr;
		knot_rrset_init(&rr, own, type, KNOT_CLASS_IN, 60);
		assert_int_equal(knot_rrset_add_rdata(&rr, rd, (uint16_t)rdlen, NULL), KNOT_EOK);
		assert_int_equal(knot_pkt_put(pkt, 0, &rr, 0), KNOT_EOK);
		size_t wlen = pkt->size;
		knot_rdataset_clear(&rr.rrs, NULL);
		knot_pkt_free(qp);
		knot_pkt_free(pkt);
		return wlen;
	}
	size_t len = pkt->size;
	knot_pkt_free(qp);
	knot_pkt_free(pkt);
	return len;
}

/* ---- Snapshots ------------------------------------------------------------------ */

/* Listeners: one per IE, one Azure DNS per VNet, one per external server, in
 * deployment order, found by name (design.md §4). */
static void test_snapshot_listeners(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	assert_int_equal(resolve_snapshot_listener_count(s), 1 + 3 + 1);
	const char *names[] = {"hub-resolver/in", "azure-dns/hub", "azure-dns/spoke1",
			       "azure-dns/spoke2", "external/onprem-dns"};
	resolve_listener_kind_t kinds[] = {RESOLVE_LISTENER_INBOUND, RESOLVE_LISTENER_AZURE_DNS,
					   RESOLVE_LISTENER_AZURE_DNS, RESOLVE_LISTENER_AZURE_DNS,
					   RESOLVE_LISTENER_EXTERNAL};
	for (size_t i = 0; i < 5; i++) {
		const resolve_listener_t *l = resolve_snapshot_listener(s, i);
		assert_string_equal(l->name, names[i]);
		assert_int_equal(l->kind, kinds[i]);
		assert_ptr_equal(resolve_snapshot_find_listener(s, names[i]), l);
		assert_int_equal(l->virtual_port, 53);
	}
	assert_int_equal(resolve_snapshot_listener(s, 0)->virtual_address, ip("10.10.0.4")); /* I-2 */
	assert_int_equal(resolve_snapshot_listener(s, 1)->virtual_address, ip("168.63.129.16"));
	assert_int_equal(resolve_snapshot_listener(s, 4)->virtual_address, ip("10.100.0.2"));
	assert_null(resolve_snapshot_listener(s, 5));
	assert_null(resolve_snapshot_find_listener(s, "azure-dns/nowhere"));
	/* A second reference keeps it alive after the first goes. */
	resolve_snapshot_t *s2 = s;
	resolve_snapshot_ref(s2);
	resolve_snapshot_unref(&s);
	assert_null(s);
	assert_non_null(resolve_snapshot_find_listener(s2, "hub-resolver/in"));
	resolve_snapshot_unref(&s2);
	resolve_snapshot_unref(&s2); /* NULL is accepted */
}


/* The snapshot of prev's deployment with resource (JSON text) put into kind
 * k under parent, as control/ makes it. */
static resolve_snapshot_t *changed(const resolve_snapshot_t *prev, model_kind_id_t k,
				   const char *parent, const char *resource)
{
	const deployment_t *pd = resolve_snapshot_deployment(prev);
	json_t *doc = model_doc_edit_copy(deployment_source_json(pd), model_kind(k), parent);
	json_t *r = json_loads(resource, 0, NULL);
	assert_int_equal(model_doc_put(doc, model_kind(k), parent, r), 0);
	json_decref(r);
	model_doc_t *md = model_doc_adopt(doc, "change");
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	resolve_snapshot_t *s = NULL;
	assert_int_equal(deployment_from_doc_after(pd, &md, &d, diag), 0);
	assert_int_equal(resolve_snapshot_build_after(prev, &d, &s, diag), 0);
	pr_diag_destroy(&diag);
	return s;
}

/* A change that leaves the listeners alone shares them; one that changes a
 * VNet or an inbound endpoint's address has its own. */
static void test_snapshot_listeners_after_changes(void **state)
{
	(void)state;
	resolve_snapshot_t *s1 = default_snapshot();
	resolve_snapshot_t *s2 = changed(s1, MODEL_KIND_RULE, "hub-rules",
					 "{\"name\": \"Extra\", \"domainName\": \"extra.example.\", "
					 "\"targetDnsServers\": [{\"ipAddress\": \"10.100.0.2\"}]}");
	assert_ptr_equal(resolve_snapshot_listener(s2, 1), resolve_snapshot_listener(s1, 1));
	resolve_snapshot_unref(&s1);
	resolve_snapshot_t *s3 = changed(s2, MODEL_KIND_VNET, NULL,
					 "{\"name\": \"spoke3\", \"addressPrefixes\": [\"10.40.0.0/16\"]}");
	assert_non_null(resolve_snapshot_find_listener(s3, "azure-dns/spoke3"));
	assert_null(resolve_snapshot_find_listener(s2, "azure-dns/spoke3"));
	resolve_snapshot_t *s4 = changed(s3, MODEL_KIND_INBOUND, "hub-resolver",
					 "{\"name\": \"in\", \"subnet\": \"snet-inbound\", "
					 "\"privateIpAllocationMethod\": \"Static\", "
					 "\"privateIpAddress\": \"10.10.0.5\"}");
	assert_int_equal(resolve_snapshot_find_listener(s4, "hub-resolver/in")->virtual_address,
			 ip("10.10.0.5"));
	resolve_snapshot_unref(&s2);
	resolve_snapshot_unref(&s3);
	resolve_snapshot_unref(&s4);
}

/* One query of a worker on snapshot s, listener l: its answer's rcode. */
static int ask_on(resolve_worker_t *w, resolve_query_t *q, resolve_snapshot_t *s, const char *l,
		  uint8_t *packet)
{
	static const qopts_t none;
	size_t len = make_query(packet, "web.azure.contoso.com", KNOT_RRTYPE_A, &none);
	resolve_input_t in = {.listener = l, .packet = packet, .len = len, .max_answer = 65535};
	const resolve_forward_t *fwd = NULL;
	assert_int_equal(resolve_start(w, s, &in, q, &fwd), RESOLVE_DONE);
	const uint8_t *a = resolve_query_answer(q, &len);
	assert_true(len >= KNOT_WIRE_HEADER_SIZE);
	return knot_wire_get_rcode(a);
}

/* A worker's queries share its one reference to the snapshot they read: the
 * caller may let its own go while a query is out, and the query (answer,
 * trace) stays readable; a query of a newer snapshot while one of the older
 * is out takes a reference of its own; the listener remembered from one
 * query is not another's. Under ASan an early free or a leak shows. */
static void test_worker_shares_snapshot(void **state)
{
	resolve_snapshot_t *s1 = default_snapshot(), *s2 = default_snapshot();
	resolve_worker_t *w = resolve_worker_new(NULL);
	resolve_query_t *q1 = resolve_query_new(w), *q2 = resolve_query_new(w);
	uint8_t p1[512], p2[512];
	assert_int_equal(ask_on(w, q1, s1, "hub-resolver/in", p1), KNOT_RCODE_NOERROR);
	resolve_snapshot_unref(&s1);
	assert_int_equal(ask_on(w, q2, s2, "hub-resolver/in", p2), KNOT_RCODE_NOERROR);
	resolve_snapshot_unref(&s2);
	const resolve_trace_t *t = resolve_query_trace(q1);
	assert_true(t->n_steps > 0);
	assert_string_equal(t->steps[0].view, "hub"); /* a name in s1 */
	resolve_query_free(&q1);
	resolve_query_free(&q2); /* s2 goes with it */
	/* The worker still holds s1: the next query reads it, per listener. */
	q1 = resolve_query_new(w);
	resolve_snapshot_t *s3 = default_snapshot();
	assert_int_equal(ask_on(w, q1, s3, "nowhere", p1), KNOT_RCODE_REFUSED);
	assert_int_equal(ask_on(w, q1, s3, "hub-resolver/in", p1), KNOT_RCODE_NOERROR);
	assert_int_equal(ask_on(w, q1, s3, "nowhere", p1), KNOT_RCODE_REFUSED);
	resolve_query_free(&q1);
	resolve_worker_let_go(w);
	resolve_snapshot_unref(&s3); /* the last reference: freed here */
	resolve_worker_destroy(&w);
}

/* P-1: a deployment with a loop is refused with the linker's finding, and the
 * caller keeps the deployment. */
static void test_snapshot_refuses_loops_p1(void **state)
{
	const char *text =
		"virtualNetworks:\n"
		"  - name: hub\n"
		"    addressPrefixes: [10.10.0.0/16]\n"
		"    subnets:\n"
		"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"dnsResolvers:\n"
		"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
		"dnsForwardingRulesets:\n"
		"  - name: rs\n"
		"    dnsResolverOutboundEndpoints: [r/out]\n"
		"    forwardingRules: [{name: Self, domainName: x.com., targetDnsServers: [10.10.0.4]}]\n"
		"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n";
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_load_text(text, strlen(text), "loop.yaml", &d, diag);
	if (rc == 0) {
		resolve_snapshot_t *s = NULL;
		assert_int_equal(resolve_snapshot_build(&d, &s, diag), PR_ELOOP);
		assert_null(s);
		assert_non_null(d);
		assert_string_equal(pr_diag_get(diag, 0)->rule, "P-1");
		deployment_destroy(&d);
	} else {
		assert_int_equal(rc, PR_ELOOP); /* the model may refuse it already */
	}
	pr_diag_destroy(&diag);
}

/* ---- Q-2 --------------------------------------------------------------------------- */

/* the linked zone answers authoritatively; a miss is NXDOMAIN or NODATA
 * with the SOA. */
static void test_q2_private_zone(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(knot_wire_get_aa(r.pkt->wire));
	assert_true(knot_wire_get_ra(r.pkt->wire));
	assert_true(knot_wire_get_rd(r.pkt->wire));
	assert_int_equal(knot_wire_get_id(r.pkt->wire), 0x1234);
	assert_true(has_a(&r, "10.10.2.5"));
	assert_non_null(find_step(&r, RESOLVE_STEP_ZONE, 0));
	assert_string_equal(find_step(&r, RESOLVE_STEP_ZONE, 0)->zone, "azure.contoso.com.");
	finish(&r);

	start(&r, s, "azure-dns/hub", "nope.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	assert_true(knot_wire_get_aa(r.pkt->wire));
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_true(has_type(&r, KNOT_AUTHORITY, KNOT_RRTYPE_SOA));
	finish(&r);

	/* NODATA: the name exists without AAAA. */
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_AAAA, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_true(has_type(&r, KNOT_AUTHORITY, KNOT_RRTYPE_SOA));
	finish(&r);

	/* Q-5 inside the zone: api is a CNAME to web. */
	start(&r, s, "hub-resolver/in", "api.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_true(has_a(&r, "10.10.2.5"));
	assert_int_equal(resolve_query_trace(r.q)->n_cnames, 1);
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* The documentation's hub and spoke: spoke1's ruleset sends azure.contoso.com
 * to the hub's IE, answered in-process in the hub's view (I-4, P-3 hop
 * count), where the hub-linked zone answers. */
static void test_q3_hub_and_spoke_in_process(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/spoke1", "web.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, "10.10.2.5"));
	const resolve_step_t *rule = find_step(&r, RESOLVE_STEP_RULE, 0);
	assert_non_null(rule);
	assert_string_equal(rule->rule->name, "AzurePrivate");
	assert_string_equal(rule->view, "spoke1");
	const resolve_step_t *ip_step = find_step(&r, RESOLVE_STEP_IN_PROCESS, 0);
	assert_non_null(ip_step);
	assert_int_equal(ip_step->address, ip("10.10.0.4"));
	const resolve_step_t *zone = find_step(&r, RESOLVE_STEP_ZONE, 0);
	assert_non_null(zone);
	assert_string_equal(zone->view, "hub");
	assert_int_equal(zone->depth, 1);
	assert_int_equal(zone->hops, 1);
	finish(&r);

	/* The spoke has no zone of its own: a miss in the hub's zone comes back. */
	start(&r, s, "azure-dns/spoke2", "nope.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	assert_true(has_type(&r, KNOT_AUTHORITY, KNOT_RRTYPE_SOA));
	finish(&r);

	/* "." sends other names to onprem-dns, an external server answered
	 * in-process [privres]. */
	start(&r, s, "azure-dns/spoke1", "www.example.org", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, "192.0.2.80"));
	assert_string_equal(find_step(&r, RESOLVE_STEP_RULE, 0)->rule->name, "Wildcard");
	assert_non_null(find_step(&r, RESOLVE_STEP_EXTERNAL, 0));
	finish(&r);

	/* contoso.com: the Contoso rule, the external server's zone and its CNAME. */
	start(&r, s, "azure-dns/spoke1", "intranet.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_true(has_a(&r, "10.100.1.10"));
	assert_string_equal(find_step(&r, RESOLVE_STEP_RULE, 0)->rule->name, "Contoso");
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* External servers [privres]: zones, forwarders (to our IE, in-process), and
 * REFUSED for names under neither. */
static void test_external_server(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "external/onprem-dns", "www.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(knot_wire_get_aa(r.pkt->wire));
	assert_true(has_a(&r, "10.100.1.10"));
	finish(&r);

	start(&r, s, "external/onprem-dns", "web.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, "10.10.2.5"));
	assert_non_null(find_step(&r, RESOLVE_STEP_FORWARDER, 0));
	assert_string_equal(find_step(&r, RESOLVE_STEP_VIEW, 0)->view, "hub");
	finish(&r);

	start(&r, s, "external/onprem-dns", "www.fabrikam.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_REFUSED);
	finish(&r);
	resolve_snapshot_unref(&s);
}

static const char *SHADOW_YAML =
	"virtualNetworks:\n"
	"  - name: hub\n"
	"    addressPrefixes: [10.10.0.0/16]\n"
	"    subnets:\n"
	"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
	"      - {name: w, addressPrefix: 10.10.2.0/24}\n"
	"privateDnsZones:\n"
	"  - name: contoso.com\n"
	"    recordSets:\n"
	"      - {name: web, type: A, records: [10.10.2.5]}\n"
	"      - {name: app1, type: A, records: [10.10.2.99]}\n"
	"      - {name: '*.apps', type: A, records: [10.10.3.1]}\n"
	"      - {name: x.y.apps, type: TXT, records: [hello]}\n"
	"      - {name: go, type: CNAME, records: [far.fabrikam.com.]}\n"
	"    virtualNetworkLinks: [{name: l, virtualNetwork: hub, registrationEnabled: true%s}]\n"
	"dnsResolvers:\n"
	"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
	"dnsForwardingRulesets:\n"
	"  - name: rs\n"
	"    dnsResolverOutboundEndpoints: [r/out]\n"
	"    forwardingRules:\n"
	"      - {name: Contoso, domainName: contoso.com., targetDnsServers: [{ipAddress: 10.100.0.2}, {ipAddress: 10.100.0.3}]}\n"
	"      - {name: Fabrikam, domainName: fabrikam.com., targetDnsServers: [{ipAddress: 10.100.0.9}]}\n"
	"      - {name: Everything, domainName: ., targetDnsServers: [{ipAddress: 10.100.0.2}]}\n"
	"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
	"virtualMachines:\n"
	"  - {name: app1, virtualNetwork: hub, subnet: w}\n"
	"  - {name: app2, virtualNetwork: hub, subnet: w}\n"
	"publicDns:\n"
	"  zones: [{name: microsoft.com, recordSets: [{name: www, type: A, records: [20.70.246.20]}]}]\n"
	"emulator:\n"
	"  listen: %s\n"
	"  hopLimit: 4\n"
	"  addressMap: {\"10.100.0.2:53\": \"127.0.0.1:5353\"}\n";

static resolve_snapshot_t *shadow_snapshot(const char *link_extra, const char *listen)
{
	char *text = pr_asprintf(SHADOW_YAML, link_extra, listen);
	resolve_snapshot_t *s = snapshot_of(text);
	free(text);
	return s;
}

/* a private zone shadows a rule for the same name; a miss is NXDOMAIN,
 * never forwarded. */
static void test_q2_zone_shadows_rule(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "nope.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	assert_null(find_step(&r, RESOLVE_STEP_RULE, 0));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* NxDomainRedirect lets an NXDOMAIN for A/AAAA/CNAME go on to the rules
 * not for other types. */
static void test_q2_nxdomain_redirect(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot(", resolutionPolicy: NxDomainRedirect", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "nope.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	assert_non_null(find_step(&r, RESOLVE_STEP_REDIRECT, 0));
	assert_string_equal(find_step(&r, RESOLVE_STEP_RULE, 0)->rule->name, "Contoso");
	finish(&r);

	start(&r, s, "azure-dns/hub", "nope.contoso.com", KNOT_RRTYPE_MX, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	finish(&r);

	/* An existing name is answered from the zone whatever the policy. */
	start(&r, s, "azure-dns/hub", "web.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_true(has_a(&r, "10.10.2.5"));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* RFC 4592 wildcards (owner = the name asked, in its case, W-5) and empty
 * non-terminals (NODATA). */
static void test_q2_wildcard_and_nodata(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "Foo.APPS.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, "10.10.3.1"));
	const knot_rrset_t *rr = knot_pkt_rr(knot_pkt_section(r.pkt, KNOT_ANSWER), 0);
	uint8_t asked[64];
	size_t n = make_query(asked, "Foo.APPS.contoso.com", 1, &(qopts_t){0});
	(void)n;
	assert_memory_equal(rr->owner, asked + KNOT_WIRE_HEADER_SIZE,
			    knot_dname_size(rr->owner));
	finish(&r);

	start(&r, s, "azure-dns/hub", "y.apps.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_true(has_type(&r, KNOT_AUTHORITY, KNOT_RRTYPE_SOA));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Z-3: hosts of a VNet with a registration link have A records; a manual
 * record of the same name overrides the automatic one. */
static void test_z3_autoregistration(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	const deployment_t *d = resolve_snapshot_deployment(s);
	char addr[16];
	pr_ipv4_format(d->vms[0].address, addr);
	run_t r;
	start(&r, s, "azure-dns/hub", "app1.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, addr));
	finish(&r);
	/* vm-spoke1 is in spoke1, which has no registration link. */
	start(&r, s, "azure-dns/hub", "vm-spoke1.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	finish(&r);
	resolve_snapshot_unref(&s);

	s = shadow_snapshot("", "loopback");
	d = resolve_snapshot_deployment(s);
	start(&r, s, "azure-dns/hub", "app1.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_true(has_a(&r, "10.10.2.99"));
	assert_int_equal(count(&r, KNOT_ANSWER), 1);
	finish(&r);
	pr_ipv4_format(d->vms[1].address, addr);
	start(&r, s, "azure-dns/hub", "app2.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_true(has_a(&r, addr));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* a public CNAME into a privatelink zone linked to the hub is
 * chased from Q-1 in the same view, the chain returned whole. */
static void test_q5_public_cname_into_privatelink(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/hub", "contosostorage.blob.core.windows.net", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 2);
	assert_true(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_true(has_a(&r, "10.10.2.10"));
	/* The first link is public data: a recursive answer, not authoritative. */
	assert_false(knot_wire_get_aa(r.pkt->wire));
	assert_non_null(find_step(&r, RESOLVE_STEP_PUBLIC_ZONE, 0));
	assert_non_null(find_step(&r, RESOLVE_STEP_CNAME, 0));
	assert_string_equal(find_step(&r, RESOLVE_STEP_ZONE, 0)->zone,
			    "privatelink.blob.core.windows.net.");
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* F-9 with Q-4: a reserved domain beats the "." rule and goes to Azure DNS;
 * spoke1 has no privatelink zone, so the chased name is NXDOMAIN. */
static void test_f9_reserved_beats_wildcard_rule(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/spoke1", "contosostorage.blob.core.windows.net", KNOT_RRTYPE_A,
	      NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	assert_true(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_non_null(find_step(&r, RESOLVE_STEP_RESERVED, 0));
	assert_null(find_step(&r, RESOLVE_STEP_RULE, 0));
	finish(&r);
	/* A reserved name nothing answers: REFUSED [privres] (no upstreams). */
	start(&r, s, "azure-dns/spoke1", "www.microsoft.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_REFUSED);
	assert_non_null(find_step(&r, RESOLVE_STEP_REFUSED, 0));
	finish(&r);
	resolve_snapshot_unref(&s);

	/* With a public zone for it, the public zone answers. */
	s = shadow_snapshot("", "loopback");
	start(&r, s, "azure-dns/hub", "www.microsoft.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_true(has_a(&r, "20.70.246.20"));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Q-3 outside targets (design.md §4): a mapped one is forwarded to its real
 * address; the reply comes back with the client's ID; no reply is
 * SERVFAIL (F-10). */
static void test_q3_forward_mapped_and_resume(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "www.example.net", KNOT_RRTYPE_A,
	      &(qopts_t){.id = 0xbeef, .edns_size = 1400});
	assert_int_equal(r.status, RESOLVE_FORWARD);
	assert_int_equal(r.fwd->n_targets, 1);
	assert_true(r.fwd->targets[0].mapped);
	assert_int_equal(r.fwd->targets[0].address, ip("10.100.0.2"));
	assert_int_equal(r.fwd->targets[0].real_address, ip("127.0.0.1"));
	assert_int_equal(r.fwd->targets[0].real_port, 5353);
	assert_int_equal(r.fwd->source_address, 0); /* loopback mode */
	assert_true(r.fwd->deadline_ms > 0 && r.fwd->try_timeout_ms > 0);
	/* The forwarded question is the client's, RD set. */
	knot_pkt_t *fq = knot_pkt_new((void *)r.fwd->packet, (uint16_t)r.fwd->len, NULL);
	assert_int_equal(knot_pkt_parse(fq, 0), KNOT_EOK);
	assert_int_equal(knot_pkt_qtype(fq), KNOT_RRTYPE_A);
	assert_true(knot_wire_get_rd(fq->wire));
	knot_pkt_free(fq);

	uint8_t reply[512];
	size_t len = make_reply(r.fwd, reply, sizeof(reply), 0x7777, "www.example.net.",
				KNOT_RRTYPE_A, "198.51.100.7", KNOT_RCODE_NOERROR);
	resume(&r, reply, len);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(knot_wire_get_id(r.pkt->wire), 0xbeef);
	assert_true(has_a(&r, "198.51.100.7"));
	assert_non_null(r.pkt->opt_rr); /* the client's EDNS restored */
	assert_non_null(find_step(&r, RESOLVE_STEP_REPLY, 0));
	finish(&r);

	/* An NXDOMAIN from the target is the client's NXDOMAIN. */
	start(&r, s, "azure-dns/hub", "nope.example.net", KNOT_RRTYPE_A, NULL);
	len = make_reply(r.fwd, reply, sizeof(reply), 1, NULL, 0, NULL, KNOT_RCODE_NXDOMAIN);
	resume(&r, reply, len);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NXDOMAIN);
	assert_null(r.pkt->opt_rr); /* the client had no EDNS */
	finish(&r);

	start(&r, s, "azure-dns/hub", "www.example.net", KNOT_RRTYPE_A, NULL);
	resume(&r, NULL, 0);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	assert_non_null(find_step(&r, RESOLVE_STEP_NO_REPLY, 0));
	finish(&r);

	/* A reply that is no DNS message is no reply. */
	start(&r, s, "azure-dns/hub", "www.example.net", KNOT_RRTYPE_A, NULL);
	resume(&r, (const uint8_t *)"garbage", 7);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* design.md §4: an unmapped outside target is never contacted: SERVFAIL and
 * "unmapped target". A first target unmapped, the second mapped: the mapped
 * one is used. */
static void test_q3_unmapped_target_servfail(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "far.fabrikam.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	assert_true(resolve_query_trace(r.q)->unmapped);
	assert_non_null(find_step(&r, RESOLVE_STEP_UNMAPPED, 0));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Virtual mode: targets are real as they are, and leave from the ruleset's
 * outbound endpoint (O-1); Azure DNS finds the view by the client's source. */
static void test_virtual_mode(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "virtual");
	const deployment_t *d = resolve_snapshot_deployment(s);
	run_t r;
	start(&r, s, "azure-dns/hub", "far.fabrikam.com", KNOT_RRTYPE_A,
	      &(qopts_t){.client = "10.10.2.4"});
	assert_int_equal(r.status, RESOLVE_FORWARD);
	assert_true(r.fwd->targets[0].mapped);
	assert_int_equal(r.fwd->targets[0].real_address, ip("10.100.0.9"));
	assert_int_equal(r.fwd->targets[0].real_port, 53);
	assert_int_equal(r.fwd->source_address, d->resolvers[0].outbound[0].source_address);
	assert_int_equal(r.fwd->source_address, ip("10.10.1.4"));
	finish(&r);
	resolve_snapshot_unref(&s);

	/* Default deployment in virtual mode: 168.63.129.16 shared; a spoke1
	 * client asking at "azure-dns/hub" is in spoke1's view. */
	const char *base = model_default_deployment_text();
	const char *at = strstr(base, "listen: loopback");
	assert_non_null(at);
	char *text = pr_asprintf("%.*slisten: virtual%s", (int)(at - base), base,
				 at + strlen("listen: loopback"));
	s = snapshot_of(text);
	free(text);
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.client = "10.20.0.9"});
	assert_true(has_a(&r, "10.10.2.5"));
	assert_string_equal(find_step(&r, RESOLVE_STEP_VIEW, 0)->view, "spoke1");
	assert_non_null(find_step(&r, RESOLVE_STEP_RULE, 0));
	finish(&r);
	start(&r, s, "azure-dns/spoke1", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.client = "10.10.2.4"});
	assert_string_equal(find_step(&r, RESOLVE_STEP_VIEW, 0)->view, "hub");
	assert_null(find_step(&r, RESOLVE_STEP_RULE, 0));
	finish(&r);
	/* W-7: a source in no VNet (an on-premises host routed to it) is refused */
	start(&r, s, "azure-dns/spoke1", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.client = "192.168.10.20"});
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_REFUSED);
	assert_int_equal(knot_wire_get_ancount(r.pkt->wire), 0);
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Q-5 through a forwarded reply: the target's CNAME leads into a linked
 * private zone; the chain is chased in the same view and returned whole. */
static void test_q5_chase_after_forwarded_reply(void **state)
{
	resolve_snapshot_t *s = shadow_snapshot("", "loopback");
	run_t r;
	start(&r, s, "azure-dns/hub", "Alias.Example.NET", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_FORWARD);
	uint8_t reply[512];
	size_t len = make_reply(r.fwd, reply, sizeof(reply), 9, "alias.example.net.",
				KNOT_RRTYPE_CNAME, "web.contoso.com.", KNOT_RCODE_NOERROR);
	resume(&r, reply, len);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 2);
	assert_true(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_CNAME));
	assert_true(has_a(&r, "10.10.2.5"));
	/* W-5: the first owner reads as the question was asked. */
	const knot_rrset_t *rr = knot_pkt_rr(knot_pkt_section(r.pkt, KNOT_ANSWER), 0);
	assert_memory_equal(rr->owner, "\x05" "Alias\x07" "Example\x03NET", 19);
	finish(&r);

	/* A private CNAME to a name a rule forwards: the chase asks outside, and
	 * the final reply is appended to the chain. */
	start(&r, s, "azure-dns/hub", "go.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE); /* fabrikam's target is unmapped */
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* P-3: a loop through in-process forwarding that the static check (P-2)
 * cannot see, because it goes through CNAMEs: hub's zone loop.test sends x to
 * y.other.test; hub's rule sends other.test to the external server; its zone
 * sends y back to x.loop.test, which it forwards to hub's IE… The hop limit
 * ends it with SERVFAIL and a "loop" step. */
static void test_p3_loop_ended_by_hop_limit(void **state)
{
	const char *text =
		"virtualNetworks:\n"
		"  - name: hub\n"
		"    addressPrefixes: [10.10.0.0/16]\n"
		"    subnets:\n"
		"      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}\n"
		"privateDnsZones:\n"
		"  - name: loop.test\n"
		"    recordSets: [{name: x, type: CNAME, records: [y.other.test.]}]\n"
		"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
		"dnsResolvers:\n"
		"  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}\n"
		"dnsForwardingRulesets:\n"
		"  - name: rs\n"
		"    dnsResolverOutboundEndpoints: [r/out]\n"
		"    forwardingRules: [{name: Other, domainName: other.test., targetDnsServers: [10.100.0.2]}]\n"
		"    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]\n"
		"externalDnsServers:\n"
		"  - name: onprem\n"
		"    ipAddress: 10.100.0.2\n"
		"    zones: [{name: other.test, recordSets: [{name: y, type: CNAME, records: [x.loop.test.]}]}]\n"
		"    forwarders: [{domainName: loop.test., targetDnsServers: [{ipAddress: 10.10.0.4}]}]\n"
		"emulator: {hopLimit: 3}\n";
	resolve_snapshot_t *s = snapshot_of(text);
	run_t r;
	start(&r, s, "azure-dns/hub", "x.loop.test", KNOT_RRTYPE_A, NULL);
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_true(resolve_query_trace(r.q)->loop);
	const resolve_step_t *loop = find_step(&r, RESOLVE_STEP_LOOP, 0);
	assert_non_null(loop);
	assert_int_equal(loop->hops, 3); /* the frame at the limit could go no further */
	finish(&r);

	/* A query that arrives with hops above the limit is a loop at once. */
	start(&r, s, "r/in", "x.loop.test", KNOT_RRTYPE_A, &(qopts_t){.hops = 4});
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	assert_true(resolve_query_trace(r.q)->loop);
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Q-5 [privres]: more than 16 CNAME links is SERVFAIL. */
static void test_q5_cname_limit(void **state)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "virtualNetworks: [{name: v, addressPrefixes: [10.1.0.0/16]}]\n"
			  "privateDnsZones:\n  - name: chain.test\n    recordSets:\n");
	for (int i = 0; i < 20; i++)
		pr_buf_printf(&b, "      - {name: c%d, type: CNAME, records: [c%d.chain.test.]}\n",
			      i, i + 1);
	pr_buf_printf(&b, "      - {name: c20, type: A, records: [10.1.0.20]}\n"
			  "    virtualNetworkLinks: [{name: l, virtualNetwork: v}]\n");
	char *text = pr_buf_take(&b);
	resolve_snapshot_t *s = snapshot_of(text);
	free(text);
	run_t r;
	start(&r, s, "azure-dns/v", "c4.chain.test", KNOT_RRTYPE_A, NULL); /* 16 links */
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 17);
	assert_true(has_a(&r, "10.1.0.20"));
	finish(&r);
	start(&r, s, "azure-dns/v", "c3.chain.test", KNOT_RRTYPE_A, NULL); /* 17 links */
	assert_int_equal(rcode_of(&r), KNOT_RCODE_SERVFAIL);
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_non_null(find_step(&r, RESOLVE_STEP_CNAME_LIMIT, 0));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* W-2, W-3: FORMERR, BADVERS, REFUSED (opcode), drop (QR set). */
static void test_w3_invalid_queries(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.edns_size = 1232, .edns_version = 1});
	assert_int_equal(rcode_of(&r), KNOT_RCODE_BADVERS);
	finish(&r);
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.opcode = 4});
	assert_int_equal(rcode_of(&r), KNOT_RCODE_REFUSED);
	assert_non_null(find_step(&r, RESOLVE_STEP_INVALID, 0));
	finish(&r);
	start(&r, s, "azure-dns/hub", "web.azure.contoso.com", KNOT_RRTYPE_A,
	      &(qopts_t){.qr = true});
	assert_int_equal(r.status, RESOLVE_DONE);
	assert_null(r.pkt); /* dropped */
	finish(&r);

	/* FORMERR: a question cut short after a readable header. */
	resolve_worker_t *w = resolve_worker_new(NULL);
	resolve_query_t *q = resolve_query_new(w);
	uint8_t pkt[64];
	size_t len = make_query(pkt, "web.azure.contoso.com", 1, &(qopts_t){0});
	resolve_input_t in = {.listener = "azure-dns/hub", .packet = pkt, .len = len - 3,
			      .max_answer = 512};
	const resolve_forward_t *fwd;
	assert_int_equal(resolve_start(w, s, &in, q, &fwd), RESOLVE_DONE);
	size_t alen;
	const uint8_t *a = resolve_query_answer(q, &alen);
	assert_true(alen >= KNOT_WIRE_HEADER_SIZE);
	assert_int_equal(knot_wire_get_rcode(a), KNOT_RCODE_FORMERR);
	assert_int_equal(knot_wire_get_id(a), 0x1234);
	/* Reuse of the query object for a valid query: W-5 and Q-2 again. */
	in.len = len;
	assert_int_equal(resolve_start(w, s, &in, q, &fwd), RESOLVE_DONE);
	a = resolve_query_answer(q, &alen);
	assert_int_equal(knot_wire_get_rcode(a), KNOT_RCODE_NOERROR);
	assert_int_equal(knot_wire_get_ancount(a), 1);
	/* An unknown listener (an older snapshot's) is REFUSED. */
	in.listener = "azure-dns/gone";
	assert_int_equal(resolve_start(w, s, &in, q, &fwd), RESOLVE_DONE);
	a = resolve_query_answer(q, &alen);
	assert_int_equal(knot_wire_get_rcode(a), KNOT_RCODE_REFUSED);
	resolve_query_free(&q);
	resolve_worker_destroy(&w);
	resolve_snapshot_unref(&s);
}

/* W-5: the question's case is kept, in the question and in owners. */
static void test_w5_case_kept(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	run_t r;
	start(&r, s, "azure-dns/spoke1", "WeB.AzUrE.contoso.COM", KNOT_RRTYPE_A, NULL);
	assert_true(has_a(&r, "10.10.2.5"));
	static const uint8_t asked[] = "\x03WeB\x05" "AzUrE\x07" "contoso\x03" "COM";
	assert_memory_equal(knot_pkt_wire_qname(r.pkt), asked, sizeof(asked));
	const knot_rrset_t *rr = knot_pkt_rr(knot_pkt_section(r.pkt, KNOT_ANSWER), 0);
	assert_memory_equal(rr->owner, asked, sizeof(asked));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* a UDP answer over the client's size is truncated with TC; over TCP, or
 * with a larger EDNS buffer, it is whole. */
static void test_q7_truncation(void **state)
{
	pr_buf_t b = {0};
	pr_buf_printf(&b, "virtualNetworks: [{name: v, addressPrefixes: [10.1.0.0/16]}]\n"
			  "privateDnsZones:\n  - name: big.test\n    recordSets:\n"
			  "      - {name: t, type: TXT, records: [");
	for (int i = 0; i < 12; i++)
		pr_buf_printf(&b, "%s\"%064d\"", i ? ", " : "", i);
	pr_buf_printf(&b, "]}\n    virtualNetworkLinks: [{name: l, virtualNetwork: v}]\n");
	char *text = pr_buf_take(&b);
	resolve_snapshot_t *s = snapshot_of(text);
	free(text);
	run_t r;
	start(&r, s, "azure-dns/v", "t.big.test", KNOT_RRTYPE_TXT, NULL);
	assert_true(knot_wire_get_tc(r.pkt->wire));
	assert_int_equal(count(&r, KNOT_ANSWER), 0);
	assert_true(r.pkt->size <= 512);
	finish(&r);
	start(&r, s, "azure-dns/v", "t.big.test", KNOT_RRTYPE_TXT, &(qopts_t){.tcp = true});
	assert_false(knot_wire_get_tc(r.pkt->wire));
	assert_int_equal(count(&r, KNOT_ANSWER), 12);
	finish(&r);
	start(&r, s, "azure-dns/v", "t.big.test", KNOT_RRTYPE_TXT, &(qopts_t){.edns_size = 4096});
	assert_false(knot_wire_get_tc(r.pkt->wire));
	assert_int_equal(count(&r, KNOT_ANSWER), 12);
	finish(&r);
	/* The listener's ceiling applies too. */
	start(&r, s, "azure-dns/v", "t.big.test", KNOT_RRTYPE_TXT,
	      &(qopts_t){.edns_size = 4096, .max_answer = 600});
	assert_true(knot_wire_get_tc(r.pkt->wire));
	finish(&r);
	resolve_snapshot_unref(&s);
}

/* Explain walks the same steps: spoke1 → rule AzurePrivate → 10.10.0.4
 * in-process → hub's zone. */
static void test_explain(void **state)
{
	resolve_snapshot_t *s = default_snapshot();
	json_t *j = NULL;
	assert_int_equal(resolve_explain(s, "spoke1", "web.azure.contoso.com", KNOT_RRTYPE_A, &j),
			 0);
	assert_string_equal(json_string_value(json_object_get(j, "view")), "spoke1");
	json_t *steps = json_object_get(j, "steps");
	bool saw_rule = false, saw_zone = false;
	for (size_t i = 0; i < json_array_size(steps); i++) {
		json_t *st = json_array_get(steps, i);
		const char *id = json_string_value(json_object_get(st, "step"));
		if (!strcmp(id, "Q-3")) {
			saw_rule = true;
			assert_string_equal(json_string_value(json_object_get(st, "rule")),
					    "AzurePrivate");
			assert_string_equal(json_string_value(json_object_get(st, "chosen")),
					    "10.10.0.4:53");
			assert_int_equal(json_array_size(json_object_get(st, "targets")), 1);
		}
		if (!strcmp(id, "Q-2")) {
			saw_zone = true;
			assert_string_equal(json_string_value(json_object_get(st, "zone")),
					    "azure.contoso.com.");
		}
	}
	assert_true(saw_rule && saw_zone);
	json_t *answer = json_object_get(j, "answer");
	assert_string_equal(json_string_value(json_object_get(answer, "rcode")), "NOERROR");
	assert_int_equal(json_array_size(json_object_get(answer, "records")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "text")), "10.10.2.5"));
	json_decref(j);

	/* A name that would leave privres: no answer, the rule and its target. */
	resolve_snapshot_unref(&s);
	s = shadow_snapshot("", "loopback");
	assert_int_equal(resolve_explain(s, "hub", "www.example.net", KNOT_RRTYPE_A, &j), 0);
	assert_true(json_is_null(json_object_get(j, "answer")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "text")), "Everything"));
	json_decref(j);
	assert_int_equal(resolve_explain(s, "hub", "www.microsoft.com", KNOT_RRTYPE_A, &j), 0);
	char *dump = json_dumps(j, 0);
	assert_non_null(strstr(dump, "\"public zone\""));
	free(dump);
	json_decref(j);
	assert_int_equal(resolve_explain(s, "nowhere", "a.b", 1, &j), PR_ENOTFOUND);
	assert_int_equal(resolve_explain(s, "hub", "a..b", 1, &j), PR_EPARSE);
	resolve_snapshot_unref(&s);
}

/* Has the answer section a CNAME whose target is name (text)? */
static bool has_cname_to(const run_t *r, const char *name)
{
	uint8_t want[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text(name, want, NULL, NULL), 0);
	const knot_pktsection_t *an = knot_pkt_section(r->pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		if (rr->type == KNOT_RRTYPE_CNAME &&
		    knot_dname_is_case_equal(knot_cname_name(rr->rrs.rdata), want))
			return true;
	}
	return false;
}

/* Q-1, S-3 with examples/zero-trust.yaml: Allow and Alert resolve, Block
 * answers a CNAME to blockpolicy.azuredns.invalid., names along a CNAME chain
 * are checked too, and a VNet without the policy is not touched (S-2). */
static void test_q1_security_policy(void **state)
{
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	resolve_snapshot_t *s = NULL;
	assert_int_equal(deployment_load_file(PRIVRES_SOURCE_DIR "/examples/zero-trust.yaml", &d,
					      diag),
			 0);
	assert_int_equal(resolve_snapshot_build(&d, &s, diag), 0);
	pr_diag_destroy(&diag);
	run_t r;
	start(&r, s, "azure-dns/spoke", "web.azure.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_true(has_a(&r, "10.10.2.5"));
	assert_false(resolve_query_trace(r.q)->blocked);
	assert_string_equal(find_step(&r, RESOLVE_STEP_POLICY, 0)->policy_rule, "allow-needed");
	finish(&r);

	start(&r, s, "azure-dns/spoke", "pixel.ads.example", KNOT_RRTYPE_A, NULL);
	assert_true(has_a(&r, "198.51.100.7"));
	assert_true(resolve_query_trace(r.q)->alert);
	finish(&r);

	start(&r, s, "azure-dns/spoke", "WWW.example.com", KNOT_RRTYPE_A, NULL);
	assert_int_equal(rcode_of(&r), KNOT_RCODE_NOERROR);
	assert_int_equal(count(&r, KNOT_ANSWER), 1);
	assert_true(has_cname_to(&r, "blockpolicy.azuredns.invalid."));
	assert_true(resolve_query_trace(r.q)->blocked);
	const knot_rrset_t *rr = knot_pkt_rr(knot_pkt_section(r.pkt, KNOT_ANSWER), 0);
	assert_memory_equal(rr->owner, "\x03WWW\x07" "example\x03" "com", 17); /* W-5 */
	finish(&r);

	start(&r, s, "azure-dns/spoke", "cdn.contoso.com", KNOT_RRTYPE_A, NULL);
	assert_true(has_cname_to(&r, "contoso.azureedge.net."));
	assert_true(has_cname_to(&r, "blockpolicy.azuredns.invalid."));
	assert_false(has_type(&r, KNOT_ANSWER, KNOT_RRTYPE_A));
	finish(&r);

	start(&r, s, "hub-resolver/in", "www.example.com", KNOT_RRTYPE_A, NULL);
	assert_false(has_cname_to(&r, "blockpolicy.azuredns.invalid."));
	assert_null(find_step(&r, RESOLVE_STEP_POLICY, 0));
	finish(&r);
	resolve_snapshot_unref(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_listeners),
		cmocka_unit_test(test_snapshot_listeners_after_changes),
		cmocka_unit_test(test_worker_shares_snapshot),
		cmocka_unit_test(test_snapshot_refuses_loops_p1),
		cmocka_unit_test(test_q2_private_zone),
		cmocka_unit_test(test_q3_hub_and_spoke_in_process),
		cmocka_unit_test(test_external_server),
		cmocka_unit_test(test_q2_zone_shadows_rule),
		cmocka_unit_test(test_q2_nxdomain_redirect),
		cmocka_unit_test(test_q2_wildcard_and_nodata),
		cmocka_unit_test(test_z3_autoregistration),
		cmocka_unit_test(test_q5_public_cname_into_privatelink),
		cmocka_unit_test(test_f9_reserved_beats_wildcard_rule),
		cmocka_unit_test(test_q3_forward_mapped_and_resume),
		cmocka_unit_test(test_q3_unmapped_target_servfail),
		cmocka_unit_test(test_virtual_mode),
		cmocka_unit_test(test_q5_chase_after_forwarded_reply),
		cmocka_unit_test(test_p3_loop_ended_by_hop_limit),
		cmocka_unit_test(test_q5_cname_limit),
		cmocka_unit_test(test_w3_invalid_queries),
		cmocka_unit_test(test_w5_case_kept),
		cmocka_unit_test(test_q7_truncation),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_q1_security_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
