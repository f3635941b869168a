/*
 * Arbitrary bytes through the authoritative path: dns_query_parse() → lookup in
 * a small fixed zone (CNAMEs chased inside it, Q-5) → answer building with
 * truncation (Q-7). W-3: nothing a client sends may crash the daemon or make it
 * write past its buffer.
 *
 * Input: two octets of answer buffer size (its low bit: TCP), then the query.
 * Checks: every answer fits its buffer and parses back with libknot; the
 * question comes back as asked; TC answers hold no records.
 */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns.h"
#include "zones/zones.h"

static zone_t *zone;

static void add(zone_builder_t *zb, const char *owner, uint16_t type, const char *value)
{
	const char *recs[] = {value};
	if (zone_builder_add_rrset(zb, owner, type, 300, recs, 1, NULL) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	zone_builder_t *zb = NULL;
	if (zone_builder_new("contoso.com.", &zb, NULL) != 0)
		abort();
	add(zb, "@", KNOT_RRTYPE_MX, "10 mail");
	add(zb, "mail", KNOT_RRTYPE_A, "10.10.2.10");
	add(zb, "mail", KNOT_RRTYPE_AAAA, "fd00::10");
	add(zb, "web", KNOT_RRTYPE_A, "10.10.2.5");
	add(zb, "*.apps", KNOT_RRTYPE_A, "10.10.3.1");
	add(zb, "x.y.apps", KNOT_RRTYPE_TXT, "v=spf1 -all");
	add(zb, "alias", KNOT_RRTYPE_CNAME, "web");
	add(zb, "loop1", KNOT_RRTYPE_CNAME, "loop2");
	add(zb, "loop2", KNOT_RRTYPE_CNAME, "loop1");
	add(zb, "*.wild", KNOT_RRTYPE_CNAME, "alias");
	add(zb, "_sip._tcp", KNOT_RRTYPE_SRV, "0 5 5060 mail");
	const char *big[30];
	char texts[30][120];
	for (int i = 0; i < 30; i++) {
		memset(texts[i], 'a' + i % 26, 100);
		texts[i][100] = 0;
		texts[i][0] = (char)('A' + i % 26);
		texts[i][1] = (char)('0' + i / 10);
		texts[i][2] = (char)('0' + i % 10);
		big[i] = texts[i];
	}
	if (zone_builder_add_rrset(zb, "big", KNOT_RRTYPE_TXT, 300, big, 30, NULL) != 0)
		abort();
	if (zone_build(zb, &zone) != 0)
		abort();
	zone_builder_destroy(&zb);
	return 0;
}

static void check_answer(const uint8_t *wire, size_t len, size_t cap, const dns_query_t *q)
{
	if (len == 0)
		return;
	if (len > cap || len < KNOT_WIRE_HEADER_SIZE)
		abort();
	knot_pkt_t *pkt = knot_pkt_new((void *)wire, (uint16_t)len, NULL);
	if (!pkt || knot_pkt_parse(pkt, KNOT_PF_NOCANON) != KNOT_EOK)
		abort();
	if (knot_wire_get_id(wire) != q->id || !knot_wire_get_qr(wire))
		abort();
	/* W-5: the question goes back byte for byte. */
	if (knot_wire_get_qdcount(wire) == 1 &&
	    memcmp(knot_pkt_wire_qname(pkt), q->qname, q->qname_len) != 0)
		abort();
	if (knot_wire_get_tc(wire) && knot_wire_get_ancount(wire) + knot_wire_get_nscount(wire))
		abort();
	knot_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_TCP_MESSAGE_MAX];
	if (size < 2)
		return 0;
	size_t cap = ((size_t)data[0] << 8 | data[1]) & ~(size_t)1;
	bool tcp = data[1] & 1;
	dns_query_t q;
	dns_query_parse(data + 2, size - 2, &q);

	int rcode = dns_verdict_rcode(q.verdict);
	if (q.verdict != DNS_QUERY_OK) {
		check_answer(out, dns_answer_error(out, cap, &q, (uint16_t)(rcode < 0 ? 0 : rcode),
						   tcp), cap, &q);
		return 0;
	}
	zone_result_t r;
	if (zone_lookup(zone, q.qname_lower, q.qtype, &r) != 0) {
		check_answer(out, dns_answer_error(out, cap, &q, DNS_RCODE_REFUSED, tcp), cap, &q);
		return 0;
	}
	dns_answer_t a;
	if (dns_answer_begin(&a, out, cap, &q, tcp) != 0) {
		check_answer(out, dns_answer_error(out, cap, &q, DNS_RCODE_SERVFAIL, tcp), cap, &q);
		return 0;
	}
	/* Q-5: chase CNAMEs inside the zone, at most 16 links. */
	uint8_t name[DNS_NAME_MAXLEN];
	memcpy(name, q.qname_lower, q.qname_len);
	for (int links = 0; links < 16; links++) {
		if (zone_result_write(&r, name, &a) != 0 || r.kind != ZONE_CNAME)
			break;
		memcpy(name, r.cname_target, knot_dname_size(r.cname_target));
		if (zone_lookup(zone, name, q.qtype, &r) != 0)
			break;
	}
	check_answer(out, dns_answer_finish(&a), cap, &q);
	return 0;
}
