/* Queries in, answers out: W-2 (EDNS), W-3 (malformed input), W-5 (case kept),
 * Q-7 (truncation). Queries are built as raw bytes with libknot's wire helpers;
 * answers are read back with knot_pkt_parse. */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* Under UNIT_TESTING cmocka renames the allocator; the library allocates with
 * the real one, so the tests free with it too. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "base/base.h"
#include "dns/dns.h"

/* Header + question in buf; returns the length. */
static size_t make_query(uint8_t *buf, uint16_t id, uint8_t opcode, const char *qname,
			 uint16_t qtype, uint16_t qclass)
{
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, id);
	knot_wire_set_opcode(buf, opcode);
	knot_wire_set_rd(buf);
	knot_wire_set_qdcount(buf, 1);
	/* knot_dname_from_str keeps the case it is given. */
	assert_non_null(knot_dname_from_str(buf + KNOT_WIRE_HEADER_SIZE, qname, KNOT_DNAME_MAXLEN));
	size_t len = KNOT_WIRE_HEADER_SIZE + knot_dname_size(buf + KNOT_WIRE_HEADER_SIZE);
	knot_wire_write_u16(buf + len, qtype);
	knot_wire_write_u16(buf + len + 2, qclass);
	return len + 4;
}

/* An OPT record appended to the additional section. */
static size_t add_opt(uint8_t *buf, size_t len, uint16_t payload, uint8_t version, bool dnssec,
		      const uint8_t *opts, uint16_t optlen)
{
	uint8_t *p = buf + len;
	p[0] = 0;
	knot_wire_write_u16(p + 1, KNOT_RRTYPE_OPT);
	knot_wire_write_u16(p + 3, payload);
	knot_wire_write_u32(p + 5, ((uint32_t)version << 16) | (dnssec ? KNOT_EDNS_DO_MASK : 0));
	knot_wire_write_u16(p + 9, optlen);
	if (optlen)
		memcpy(p + 11, opts, optlen);
	knot_wire_add_arcount(buf, 1);
	return len + 11 + optlen;
}

static knot_pkt_t *parse_answer(uint8_t *wire, size_t len)
{
	knot_pkt_t *pkt = knot_pkt_new(wire, (uint16_t)len, NULL);
	assert_non_null(pkt);
	assert_int_equal(knot_pkt_parse(pkt, KNOT_PF_NOCANON), KNOT_EOK);
	return pkt;
}

static void test_parse_ok_keeps_case_w5(void **state)
{
	uint8_t buf[512];
	size_t len = make_query(buf, 0x1234, KNOT_OPCODE_QUERY, "WeB.Contoso.COM.", KNOT_RRTYPE_A,
				KNOT_CLASS_IN);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_OK);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_true(q.has_question);
	assert_memory_equal(q.qname, "\x03WeB\x07" "Contoso\x03" "COM\x00", 17);
	assert_memory_equal(q.qname_lower, "\x03web\x07" "contoso\x03" "com\x00", 17);
	assert_int_equal(q.qname_len, 17);
	assert_int_equal(q.qtype, KNOT_RRTYPE_A);
	assert_int_equal(q.qclass, KNOT_CLASS_IN);
	assert_false(q.edns);
	assert_int_equal(q.udp_size, 512);
}

static void test_parse_edns_w2(void **state)
{
	uint8_t buf[512];
	/* A client cookie option (code 10, 8 octets). */
	const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	size_t len = make_query(buf, 7, 0, "a.contoso.com.", KNOT_RRTYPE_TXT, KNOT_CLASS_IN);
	len = add_opt(buf, len, 4096, 0, true, cookie, sizeof(cookie));
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_OK);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.udp_size, 4096);
	assert_int_equal(q.edns_options_len, sizeof(cookie));
	assert_memory_equal(q.edns_options, cookie, sizeof(cookie));

	/* RFC 6891 §6.2.5: a payload below 512 counts as 512. */
	len = make_query(buf, 7, 0, "a.contoso.com.", KNOT_RRTYPE_TXT, KNOT_CLASS_IN);
	len = add_opt(buf, len, 100, 0, false, NULL, 0);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_OK);
	assert_int_equal(q.udp_size, 512);
	assert_false(q.edns_do);
}

static void test_drop_without_header_or_with_qr_w3(void **state)
{
	uint8_t buf[512] = {0};
	dns_query_t q;
	dns_query_parse(buf, 11, &q);
	assert_int_equal(q.verdict, DNS_QUERY_DROP);
	dns_query_parse(NULL, 0, &q);
	assert_int_equal(q.verdict, DNS_QUERY_DROP);
	size_t len = make_query(buf, 1, 0, "x.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	knot_wire_set_qr(buf);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_DROP);
	uint8_t out[512];
	assert_int_equal(dns_answer_error(out, sizeof(out), &q, DNS_RCODE_FORMERR, false), 0);
}

static void test_formerr_cases_w3(void **state)
{
	uint8_t buf[1024], out[512];
	dns_query_t q;
	size_t len;

	/* Truncated question: the name, but not its type and class. */
	len = make_query(buf, 2, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_query_parse(buf, len - 3, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);
	assert_false(q.has_question);
	/* ... and cut inside the name. */
	dns_query_parse(buf, KNOT_WIRE_HEADER_SIZE + 5, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);
	size_t n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_FORMERR, false);
	assert_int_equal(n, KNOT_WIRE_HEADER_SIZE);
	assert_int_equal(knot_wire_get_id(out), 2);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_FORMERR);
	assert_int_equal(knot_wire_get_qdcount(out), 0);
	assert_true(knot_wire_get_qr(out));

	/* QDCOUNT 0 and 2. */
	len = make_query(buf, 3, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	knot_wire_set_qdcount(buf, 0);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);
	knot_wire_set_qdcount(buf, 2);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* Two OPT records (RFC 6891 §6.1.1): FORMERR, and the answer has no OPT. */
	len = make_query(buf, 4, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 0, false, NULL, 0);
	len = add_opt(buf, len, 1232, 0, false, NULL, 0);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);
	assert_false(q.edns);
	assert_true(q.has_question);
	n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_FORMERR, false);
	knot_pkt_t *pkt = parse_answer(out, n);
	assert_false(knot_pkt_has_edns(pkt));
	assert_int_equal(knot_wire_get_qdcount(out), 1);
	knot_pkt_free(pkt);

	/* OPT whose owner is not the root. */
	len = make_query(buf, 5, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	buf[len] = 1;
	buf[len + 1] = 'x';
	len = add_opt(buf, len + 2, 1232, 0, false, NULL, 0);
	/* add_opt wrote its own root label at len+2; the record's owner is "x." + "." */
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* OPT in the answer section. */
	len = make_query(buf, 6, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 0, false, NULL, 0);
	knot_wire_set_arcount(buf, 0);
	knot_wire_set_ancount(buf, 1);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* An option longer than the OPT RDATA. */
	const uint8_t badopt[] = {0, 10, 0, 20, 1, 2, 3, 4};
	len = make_query(buf, 7, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 0, false, badopt, sizeof(badopt));
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* Trailing garbage after the question. */
	len = make_query(buf, 8, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	buf[len] = 0xde;
	buf[len + 1] = 0xad;
	dns_query_parse(buf, len + 2, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* ARCOUNT promises a record that is not there. */
	len = make_query(buf, 9, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	knot_wire_set_arcount(buf, 1);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);

	/* A compression pointer in the question has nothing to point to. */
	len = make_query(buf, 10, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	buf[KNOT_WIRE_HEADER_SIZE] = 0xc0;
	buf[KNOT_WIRE_HEADER_SIZE + 1] = 0x0c;
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_FORMERR);
}

static void test_garbage_never_crashes_w3(void **state)
{
	/* A deterministic stream of junk of every length: every verdict is one of
	 * the five and the error answer stays within its buffer. */
	uint8_t buf[600], out[512];
	uint32_t x = 12345;
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(round % 600);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		if (len > 2)
			buf[2] &= 0x7f; /* mostly queries, not responses */
		dns_query_t q;
		dns_query_parse(buf, len, &q);
		assert_true(q.verdict <= DNS_QUERY_DROP);
		int rc = dns_verdict_rcode(q.verdict);
		size_t n = dns_answer_error(out, sizeof(out), &q, rc < 0 ? 0 : (uint16_t)rc, false);
		assert_true(n <= sizeof(out));
	}
}

static void test_badvers_w2(void **state)
{
	uint8_t buf[512], out[512];
	size_t len = make_query(buf, 11, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 1, false, NULL, 0);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_BADVERS);
	assert_int_equal(dns_verdict_rcode(q.verdict), DNS_RCODE_BADVERS);
	size_t n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_BADVERS, false);
	knot_pkt_t *pkt = parse_answer(out, n);
	assert_true(knot_pkt_has_edns(pkt));
	assert_int_equal(knot_pkt_ext_rcode(pkt), KNOT_RCODE_BADVERS);
	assert_int_equal(knot_wire_get_rcode(out), 0);
	assert_int_equal(knot_edns_get_version(pkt->opt_rr), 0);
	assert_int_equal(knot_edns_get_payload(pkt->opt_rr), DNS_UDP_PAYLOAD_OURS);
	knot_pkt_free(pkt);
}

static void test_refused_opcode_and_class(void **state)
{
	uint8_t buf[512], out[512];
	dns_query_t q;
	size_t len = make_query(buf, 12, KNOT_OPCODE_NOTIFY, "contoso.com.", KNOT_RRTYPE_SOA,
				KNOT_CLASS_IN);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_REFUSED);
	size_t n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_REFUSED, false);
	assert_int_equal(knot_wire_get_opcode(out), KNOT_OPCODE_NOTIFY);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_REFUSED);
	assert_int_equal(knot_wire_get_qdcount(out), 1);
	assert_true(n > KNOT_WIRE_HEADER_SIZE);

	/* An UPDATE with a body we do not read is refused, not FORMERR. */
	len = make_query(buf, 13, KNOT_OPCODE_UPDATE, "contoso.com.", KNOT_RRTYPE_SOA,
			 KNOT_CLASS_IN);
	knot_wire_set_nscount(buf, 3);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_REFUSED);

	len = make_query(buf, 14, 0, "version.bind.", KNOT_RRTYPE_TXT, KNOT_CLASS_CH);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_REFUSED);
	len = make_query(buf, 15, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_ANY);
	dns_query_parse(buf, len, &q);
	assert_int_equal(q.verdict, DNS_QUERY_REFUSED);
}

/* An A rrset owned by name (lowercase text). */
static knot_rrset_t *make_a(const char *name, int n)
{
	uint8_t owner[KNOT_DNAME_MAXLEN];
	assert_non_null(knot_dname_from_str(owner, name, sizeof(owner)));
	knot_rrset_t *rr = knot_rrset_new(owner, KNOT_RRTYPE_A, KNOT_CLASS_IN, 300, NULL);
	for (int i = 0; i < n; i++) {
		uint8_t ip[4] = {10, 10, 2, (uint8_t)(i + 1)};
		assert_int_equal(knot_rrset_add_rdata(rr, ip, 4, NULL), 0);
	}
	return rr;
}

static void test_answer_keeps_question_case_w5(void **state)
{
	uint8_t buf[512], out[512];
	size_t len = make_query(buf, 0xbeef, 0, "WEB.contoso.Com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	knot_rrset_t *rr = make_a("web.contoso.com.", 2);
	dns_answer_set_aa(&a, true);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, rr, NULL), 0);
	size_t n = dns_answer_finish(&a);
	assert_int_equal(knot_wire_get_id(out), 0xbeef);
	assert_true(knot_wire_get_aa(out));
	assert_true(knot_wire_get_ra(out));
	assert_true(knot_wire_get_rd(out));
	/* The owner is a pointer to the question. */
	assert_int_equal(out[len], 0xc0);
	assert_int_equal(out[len + 1], 0x0c);
	knot_pkt_t *pkt = parse_answer(out, n);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	/* knot_pkt_parse gives one rrset per record. */
	assert_int_equal(an->count, 2);
	const knot_rrset_t *got = knot_pkt_rr(an, 0);
	assert_int_equal(got->rrs.count, 1);
	assert_memory_equal(got->owner, "\x03WEB\x07" "contoso\x03" "Com", 16);
	assert_memory_equal(knot_pkt_wire_qname(pkt), "\x03WEB\x07" "contoso\x03" "Com", 16);
	knot_pkt_free(pkt);
	knot_rrset_free(rr, NULL);
}

static void test_answer_owner_replacement_for_wildcards(void **state)
{
	uint8_t buf[512], out[512];
	size_t len = make_query(buf, 1, 0, "Foo.Apps.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	knot_rrset_t *rr = make_a("*.apps.contoso.com.", 1);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, rr, q.qname_lower), 0);
	/* A chased record under another name keeps that name. */
	knot_rrset_t *other = make_a("db.contoso.com.", 1);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, other, NULL), 0);
	size_t n = dns_answer_finish(&a);
	knot_pkt_t *pkt = parse_answer(out, n);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	assert_int_equal(an->count, 2);
	assert_true(knot_dname_is_equal(knot_pkt_rr(an, 0)->owner, knot_pkt_wire_qname(pkt)));
	uint8_t db[KNOT_DNAME_MAXLEN];
	knot_dname_from_str(db, "db.contoso.com.", sizeof(db));
	assert_true(knot_dname_is_equal(knot_pkt_rr(an, 1)->owner, db));
	knot_pkt_free(pkt);
	knot_rrset_free(rr, NULL);
	knot_rrset_free(other, NULL);
}

/* A TXT rrset of n records of 100 octets each. */
static knot_rrset_t *make_txt(const char *name, int n)
{
	uint8_t owner[KNOT_DNAME_MAXLEN];
	assert_non_null(knot_dname_from_str(owner, name, sizeof(owner)));
	knot_rrset_t *rr = knot_rrset_new(owner, KNOT_RRTYPE_TXT, KNOT_CLASS_IN, 300, NULL);
	for (int i = 0; i < n; i++) {
		uint8_t rd[100];
		rd[0] = 99;
		memset(rd + 1, 'a' + (i % 26), 99);
		rd[1] = (uint8_t)i; /* distinct records */
		assert_int_equal(knot_rrset_add_rdata(rr, rd, sizeof(rd), NULL), 0);
	}
	return rr;
}

static size_t answer_with(const dns_query_t *q, const knot_rrset_t *rr, uint8_t *out, size_t cap,
			  bool tcp, int *ret)
{
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, out, cap, q, tcp), 0);
	*ret = dns_answer_add(&a, DNS_SECTION_ANSWER, rr, NULL);
	return dns_answer_finish(&a);
}

static void test_truncation_q7(void **state)
{
	uint8_t buf[512];
	static uint8_t out[65535];
	knot_rrset_t *txt = make_txt("big.contoso.com.", 30); /* ~3.4 KB */
	dns_query_t q;
	int ret;

	/* No EDNS: 512 octets, TC, question kept, no records. */
	size_t len = make_query(buf, 21, 0, "BIG.contoso.com.", KNOT_RRTYPE_TXT, KNOT_CLASS_IN);
	dns_query_parse(buf, len, &q);
	size_t n = answer_with(&q, txt, out, sizeof(out), false, &ret);
	assert_int_equal(ret, -ENOSPC);
	assert_true(n <= 512);
	assert_true(knot_wire_get_tc(out));
	assert_int_equal(knot_wire_get_qdcount(out), 1);
	assert_int_equal(knot_wire_get_ancount(out), 0);
	assert_int_equal(n, len);

	/* The same over TCP: everything. */
	n = answer_with(&q, txt, out, sizeof(out), true, &ret);
	assert_int_equal(ret, 0);
	assert_false(knot_wire_get_tc(out));
	assert_int_equal(knot_wire_get_ancount(out), 30);
	assert_true(n > 3000);

	/* EDNS 1232: still too small; TC, and the OPT record stays. */
	len = make_query(buf, 22, 0, "big.contoso.com.", KNOT_RRTYPE_TXT, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 0, true, NULL, 0);
	dns_query_parse(buf, len, &q);
	n = answer_with(&q, txt, out, sizeof(out), false, &ret);
	assert_true(n <= 1232);
	assert_true(knot_wire_get_tc(out));
	knot_pkt_t *pkt = parse_answer(out, n);
	assert_true(knot_pkt_has_edns(pkt));
	assert_true(knot_pkt_has_dnssec(pkt));
	assert_int_equal(knot_pkt_section(pkt, KNOT_ANSWER)->count, 0);
	knot_pkt_free(pkt);

	/* EDNS 4096: it fits. */
	len = make_query(buf, 23, 0, "big.contoso.com.", KNOT_RRTYPE_TXT, KNOT_CLASS_IN);
	len = add_opt(buf, len, 4096, 0, false, NULL, 0);
	dns_query_parse(buf, len, &q);
	n = answer_with(&q, txt, out, sizeof(out), false, &ret);
	assert_int_equal(ret, 0);
	assert_false(knot_wire_get_tc(out));
	assert_true(n <= 4096 && n > 1232);
	pkt = parse_answer(out, n);
	assert_int_equal(knot_pkt_section(pkt, KNOT_ANSWER)->count, 30);
	knot_pkt_free(pkt);

	/* A buffer smaller than the client's limit bounds the answer too. */
	n = answer_with(&q, txt, out, 1000, false, &ret);
	assert_int_equal(ret, -ENOSPC);
	assert_true(n <= 1000);
	assert_true(knot_wire_get_tc(out));
	knot_rrset_free(txt, NULL);
}

static void test_additional_overflow_is_not_truncation(void **state)
{
	uint8_t buf[512], out[512];
	size_t len = make_query(buf, 31, 0, "mx.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	knot_rrset_t *rr = make_a("mx.contoso.com.", 1);
	knot_rrset_t *txt = make_txt("extra.contoso.com.", 10);
	knot_rrset_t *a2 = make_a("mail.contoso.com.", 1);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, rr, NULL), 0);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ADDITIONAL, txt, NULL), -ENOSPC);
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ADDITIONAL, a2, NULL), 0);
	/* Sections only go forward. */
	assert_int_equal(dns_answer_add(&a, DNS_SECTION_ANSWER, rr, NULL), -EINVAL);
	size_t n = dns_answer_finish(&a);
	assert_false(dns_answer_truncated(&a));
	assert_false(knot_wire_get_tc(out));
	knot_pkt_t *pkt = parse_answer(out, n);
	assert_int_equal(knot_pkt_section(pkt, KNOT_ANSWER)->count, 1);
	assert_int_equal(knot_pkt_section(pkt, KNOT_ADDITIONAL)->count, 1);
	knot_pkt_free(pkt);
	knot_rrset_free(rr, NULL);
	knot_rrset_free(txt, NULL);
	knot_rrset_free(a2, NULL);
}

static void test_edns_options_and_rcodes(void **state)
{
	uint8_t buf[512], out[512];
	const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	size_t len = make_query(buf, 41, 0, "nx.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 0, false, cookie, sizeof(cookie));
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	dns_answer_t a;
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	assert_int_equal(dns_answer_set_edns_options(&a, q.edns_options, q.edns_options_len), 0);
	dns_answer_set_rcode(&a, DNS_RCODE_NXDOMAIN);
	size_t n = dns_answer_finish(&a);
	knot_pkt_t *pkt = parse_answer(out, n);
	assert_int_equal(knot_pkt_ext_rcode(pkt), KNOT_RCODE_NXDOMAIN);
	assert_false(knot_pkt_has_dnssec(pkt));
	assert_non_null(knot_pkt_edns_option(pkt, KNOT_EDNS_OPTION_COOKIE));
	knot_pkt_free(pkt);

	/* One-call errors for each code keep ID and question. */
	const uint16_t codes[] = {DNS_RCODE_FORMERR, DNS_RCODE_SERVFAIL, DNS_RCODE_REFUSED,
				  DNS_RCODE_NOTIMP};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		n = dns_answer_error(out, sizeof(out), &q, codes[i], true);
		pkt = parse_answer(out, n);
		assert_int_equal(knot_pkt_ext_rcode(pkt), codes[i]);
		assert_int_equal(knot_wire_get_id(out), 41);
		assert_int_equal(knot_pkt_qtype(pkt), KNOT_RRTYPE_A);
		assert_true(knot_pkt_has_edns(pkt));
		knot_pkt_free(pkt);
	}
	/* A buffer too small for the question gets a bare header. */
	n = dns_answer_error(out, 14, &q, DNS_RCODE_SERVFAIL, false);
	assert_int_equal(n, KNOT_WIRE_HEADER_SIZE);
	assert_int_equal(dns_answer_error(out, 5, &q, DNS_RCODE_SERVFAIL, false), 0);
}

/* The extended rcode of a message read back (the query log's, W-2): BADVERS
 * lives in the OPT record, the header alone says NOERROR; names are libknot's. */
static void test_message_rcode_reads_opt(void **state)
{
	uint8_t buf[512], out[512];
	char rc[16];
	size_t len = make_query(buf, 12, 0, "web.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	len = add_opt(buf, len, 1232, 1, false, NULL, 0);
	dns_query_t q;
	dns_query_parse(buf, len, &q);
	size_t n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_BADVERS, false);
	assert_int_equal(knot_wire_get_rcode(out), 0);
	assert_int_equal(dns_message_rcode(out, n), DNS_RCODE_BADVERS);
	assert_string_equal(dns_rcode_name(dns_message_rcode(out, n), rc, sizeof(rc)), "BADVERS");
	/* No OPT: the header's four bits. */
	len = make_query(buf, 13, 0, "nx.contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_query_parse(buf, len, &q);
	n = dns_answer_error(out, sizeof(out), &q, DNS_RCODE_NXDOMAIN, false);
	assert_int_equal(dns_message_rcode(out, n), DNS_RCODE_NXDOMAIN);
	assert_string_equal(dns_rcode_name(DNS_RCODE_NXDOMAIN, rc, sizeof(rc)), "NXDOMAIN");
	assert_string_equal(dns_rcode_name(4000, rc, sizeof(rc)), "RCODE4000");
	/* Cut records keep the header's rcode; no header is -1. */
	assert_int_equal(dns_message_rcode(out, n - 1), DNS_RCODE_NXDOMAIN);
	assert_int_equal(dns_message_rcode(out, 5), -1);
	assert_false(dns_message_truncated(out, n));
	knot_wire_set_tc(out);
	assert_true(dns_message_truncated(out, n));
}

/* Reading a message leaves it as it was: libknot's parser takes a TSIG
 * record off the ARCOUNT of the wire it is given (a finding of the query-log
 * fuzzer: an outside answer carrying a TSIG record, logged, was changed). */
static void test_message_read_leaves_the_wire_alone(void **state)
{
	(void)state;
	static const uint8_t tsig[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 1, /* header: one question, one additional */
		3, 'c', 'o', 'm', 0, 0, 1, 0, 1,		    /* com. A IN */
		3, 'k', 'e', 'y', 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 29, /* key. TSIG ANY 0 */
		11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0, /* algorithm */
		0, 0, 0, 0, 0, 1, 1, 44, 0, 0, 0x12, 0x34, 0, 0, 0, 0, /* time fudge mac id error other */
	};
	uint8_t wire[sizeof(tsig)];
	char text[256];
	memcpy(wire, tsig, sizeof(wire));
	assert_true(dns_message_section_text(wire, sizeof(wire), 2, text, sizeof(text)) >= 0);
	assert_memory_equal(wire, tsig, sizeof(tsig));
	knot_pkt_t *pkt = dns_message_parse(wire, sizeof(wire));
	assert_non_null(pkt);
	knot_pkt_free(pkt);
	assert_memory_equal(wire, tsig, sizeof(tsig));
	assert_null(dns_message_parse(wire, sizeof(wire) - 1));
}

/* W-4: a reply belongs to the query with its ID and question (any case). */
static void test_reply_check_w4(void **state)
{
	uint8_t qbuf[512], rbuf[512];
	size_t qlen = make_query(qbuf, 77, 0, "Web.Contoso.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	dns_question_t qq;
	assert_int_equal(dns_question_read(qbuf, qlen, &qq), 0);
	assert_int_equal(qq.qtype, KNOT_RRTYPE_A);
	size_t rlen = make_query(rbuf, 77, 0, "web.CONTOSO.com.", KNOT_RRTYPE_A, KNOT_CLASS_IN);
	assert_int_equal(dns_reply_check(rbuf, rlen, 77, &qq), DNS_REPLY_MALFORMED); /* QR clear */
	knot_wire_set_qr(rbuf);
	assert_int_equal(dns_reply_check(rbuf, rlen, 77, &qq), DNS_REPLY_OK);
	assert_int_equal(dns_reply_check(rbuf, rlen, 78, &qq), DNS_REPLY_BAD_ID);
	rlen = make_query(rbuf, 77, 0, "web.contoso.com.", KNOT_RRTYPE_AAAA, KNOT_CLASS_IN);
	knot_wire_set_qr(rbuf);
	assert_int_equal(dns_reply_check(rbuf, rlen, 77, &qq), DNS_REPLY_BAD_QUESTION);
	assert_int_equal(dns_reply_check(rbuf, rlen - 3, 77, &qq), DNS_REPLY_MALFORMED);
	assert_int_equal(dns_question_read(rbuf, 11, &qq), PR_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok_keeps_case_w5),
		cmocka_unit_test(test_parse_edns_w2),
		cmocka_unit_test(test_drop_without_header_or_with_qr_w3),
		cmocka_unit_test(test_formerr_cases_w3),
		cmocka_unit_test(test_garbage_never_crashes_w3),
		cmocka_unit_test(test_badvers_w2),
		cmocka_unit_test(test_refused_opcode_and_class),
		cmocka_unit_test(test_answer_keeps_question_case_w5),
		cmocka_unit_test(test_answer_owner_replacement_for_wildcards),
		cmocka_unit_test(test_truncation_q7),
		cmocka_unit_test(test_additional_overflow_is_not_truncation),
		cmocka_unit_test(test_edns_options_and_rcodes),
		cmocka_unit_test(test_message_rcode_reads_opt),
		cmocka_unit_test(test_message_read_leaves_the_wire_alone),
		cmocka_unit_test(test_reply_check_w4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
