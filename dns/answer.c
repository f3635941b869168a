/* Answers written straight into a caller's buffer (design.md §3: no heap on the
 * hot path), rrsets through libknot's writer and its name compression. */
#include "dns/dns.h"

#include <libknot/libknot.h>
#include <string.h>

#include "base/base.h"

#define OPT_FIXED_SIZE KNOT_EDNS_MIN_SIZE /* root owner, type, class, TTL, RDLENGTH */

static size_t client_limit(const dns_query_t *q, bool tcp)
{
	/* over UDP the client's size (512 without EDNS); over TCP the most a
	 * two-octet length prefix can carry. */
	if (tcp)
		return DNS_TCP_MESSAGE_MAX;
	return q->edns ? q->udp_size : DNS_UDP_PAYLOAD_DEFAULT;
}

int dns_answer_begin(dns_answer_t *a, uint8_t *buf, size_t cap, const dns_query_t *q, bool tcp)
{
	PR_REQUIRE(a && buf && q);
	size_t limit = client_limit(q, tcp);
	if (limit > cap)
		limit = cap;
	size_t qsize = q->has_question ? (size_t)q->qname_len + 4 : 0;
	size_t opt_size = q->edns ? OPT_FIXED_SIZE : 0;
	if (KNOT_WIRE_HEADER_SIZE + qsize + opt_size > limit)
		return -EINVAL;

	memset(a, 0, sizeof(*a));
	a->wire = buf;
	a->limit = limit;
	a->opt_size = opt_size;
	a->edns = q->edns;
	a->edns_do = q->edns_do;
	a->qname_lower = q->has_question ? q->qname_lower : NULL;

	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, q->id);
	knot_wire_set_qr(buf);
	knot_wire_set_opcode(buf, q->opcode);
	if (q->rd)
		knot_wire_set_rd(buf);
	if (q->cd)
		knot_wire_set_cd(buf);
	/* We recurse on the client's behalf (forwarding, Azure DNS). */
	knot_wire_set_ra(buf);
	a->size = KNOT_WIRE_HEADER_SIZE;
	if (q->has_question) {
		/* W-5: the question goes back exactly as asked, case included; owners
		 * equal to it point here. */
		memcpy(buf + a->size, q->qname, q->qname_len);
		a->size += q->qname_len;
		knot_wire_write_u16(buf + a->size, q->qtype);
		knot_wire_write_u16(buf + a->size + 2, q->qclass);
		a->size += 4;
		knot_wire_set_qdcount(buf, 1);
		a->compr.wire = buf;
		a->compr.suffix.pos = KNOT_WIRE_HEADER_SIZE;
		a->compr.suffix.labels = (uint8_t)knot_dname_labels(q->qname, NULL);
	}
	a->qend = a->size;
	return 0;
}

void dns_answer_set_rcode(dns_answer_t *a, uint16_t rcode)
{
	a->rcode = rcode & 0x0fff;
	knot_wire_set_rcode(a->wire, KNOT_EDNS_RCODE_LO(a->rcode));
}

void dns_answer_set_aa(dns_answer_t *a, bool aa)
{
	if (aa)
		knot_wire_set_aa(a->wire);
	else
		knot_wire_clear_aa(a->wire);
}

int dns_answer_set_edns_options(dns_answer_t *a, const uint8_t *opts, uint16_t len)
{
	if (!a->edns)
		return 0;
	if (a->size + OPT_FIXED_SIZE + len > a->limit)
		return -ENOSPC;
	a->edns_options = len ? opts : NULL;
	a->edns_options_len = len;
	a->opt_size = OPT_FIXED_SIZE + len;
	return 0;
}

/* drop every section, keep the question (and the OPT, written at the
 * end), set TC; the client asks again over TCP. */
static void truncate_answer(dns_answer_t *a)
{
	a->size = a->qend;
	memset(a->counts, 0, sizeof(a->counts));
	a->truncated = true;
	knot_wire_set_tc(a->wire);
}

int dns_answer_add(dns_answer_t *a, dns_section_t section, const knot_rrset_t *rr,
		   const uint8_t *owner)
{
	PR_REQUIRE(a && rr);
	if ((int)section < a->section || section > DNS_SECTION_ADDITIONAL)
		return -EINVAL;
	a->section = (int)section;
	if (a->truncated)
		return -ENOSPC;
	if (rr->rrs.count == 0)
		return 0;

	knot_rrset_t copy = *rr;
	if (owner)
		copy.owner = (knot_dname_t *)owner;
	memset(&a->rrinfo, 0, sizeof(a->rrinfo));
	knot_compr_t *compr = NULL;
	if (a->qname_lower) {
		a->compr.rrinfo = &a->rrinfo;
		compr = &a->compr;
		/* W-5: an owner equal to the question name is a pointer to it, so it
		 * reads with the question's case. */
		if (knot_dname_is_case_equal(copy.owner, a->qname_lower))
			a->rrinfo.compress_ptr[KNOT_COMPR_HINT_OWNER] = KNOT_COMPR_HINT_QNAME;
	}
	size_t room = a->limit - a->opt_size - a->size;
	if (room > UINT16_MAX)
		room = UINT16_MAX;
	/* A failed write may leave the compression suffix inside the octets it
	 * wrote; those are dropped, so the suffix must go back too. */
	__typeof__(a->compr.suffix) suffix = a->compr.suffix;
	int n = knot_rrset_to_wire_extra(&copy, a->wire + a->size, (uint16_t)room, 0, compr, 0);
	if (n < 0)
		a->compr.suffix = suffix;
	if (n == KNOT_ESPACE) {
		/* RFC 2181 §9: what does not fit in the additional section is left
		 * out without TC; anything else truncates the answer. */
		if (section != DNS_SECTION_ADDITIONAL)
			truncate_answer(a);
		return -ENOSPC;
	}
	if (n < 0)
		return -EINVAL;
	a->size += (size_t)n;
	a->counts[section] += rr->rrs.count;
	return 0;
}

bool dns_answer_truncated(const dns_answer_t *a)
{
	return a->truncated;
}

size_t dns_answer_finish(dns_answer_t *a)
{
	knot_wire_set_ancount(a->wire, a->counts[DNS_SECTION_ANSWER]);
	knot_wire_set_nscount(a->wire, a->counts[DNS_SECTION_AUTHORITY]);
	knot_wire_set_arcount(a->wire, a->counts[DNS_SECTION_ADDITIONAL] + (a->edns ? 1 : 0));
	if (a->edns) {
		/* W-2, RFC 6891 §6.1.3: our payload size, version 0, the high bits of
		 * the rcode, DO echoed. */
		uint8_t *p = a->wire + a->size;
		uint32_t ttl = (uint32_t)KNOT_EDNS_RCODE_HI(a->rcode) << 24;
		if (a->edns_do)
			ttl |= KNOT_EDNS_DO_MASK;
		p[0] = 0; /* root owner */
		knot_wire_write_u16(p + 1, KNOT_RRTYPE_OPT);
		knot_wire_write_u16(p + 3, DNS_UDP_PAYLOAD_OURS);
		knot_wire_write_u32(p + 5, ttl);
		knot_wire_write_u16(p + 9, a->edns_options_len);
		if (a->edns_options_len)
			memcpy(p + OPT_FIXED_SIZE, a->edns_options, a->edns_options_len);
		a->size += OPT_FIXED_SIZE + a->edns_options_len;
	}
	return a->size;
}

size_t dns_answer_error(uint8_t *buf, size_t cap, const dns_query_t *q, uint16_t rcode, bool tcp)
{
	if (!buf || !q || q->verdict == DNS_QUERY_DROP)
		return 0;
	dns_query_t copy;
	const dns_query_t *use = q;
	dns_answer_t a;
	if (dns_answer_begin(&a, buf, cap, use, tcp) != 0) {
		/* Not even the question fits (a tiny buffer): answer with the header. */
		copy = *q;
		copy.has_question = false;
		copy.edns = false;
		use = &copy;
		if (dns_answer_begin(&a, buf, cap, use, tcp) != 0)
			return 0;
	}
	dns_answer_set_rcode(&a, rcode);
	return dns_answer_finish(&a);
}
