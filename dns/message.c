/* Reading messages that come back to us (replies of targets, our own answers
 * for the query log), over libknot's wire helpers and names: the question
 * that ties a reply to its query (W-4), truncation, the extended rcode
 * (RFC 6891 §6.1.3) and its name. Nothing here allocates: these run per
 * query on the workers. */
#include <libknot/libknot.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns_p.h"

const char *dns_record_read(const uint8_t *wire, size_t len, size_t *pos, dns_rr_wire_t *rr)
{
	size_t p = *pos;
	/* Compression pointers are allowed here, but only backwards. */
	int n = knot_dname_wire_check(wire + p, wire + len, wire);
	if (n <= 0)
		return "a record's owner name is malformed";
	rr->owner = p;
	rr->owner_len = n;
	p += (size_t)n;
	if (len - p < 10)
		return "a record is cut short";
	rr->type = knot_wire_read_u16(wire + p);
	rr->rclass = knot_wire_read_u16(wire + p + 2);
	rr->ttl = knot_wire_read_u32(wire + p + 4);
	rr->rdlen = knot_wire_read_u16(wire + p + 8);
	p += 10;
	if (rr->rdlen > len - p)
		return "a record's data is cut short";
	rr->rdata = wire + p;
	*pos = p + rr->rdlen;
	return NULL;
}

size_t dns_questions_skip(const uint8_t *wire, size_t len)
{
	if (!wire || len < KNOT_WIRE_HEADER_SIZE)
		return 0;
	size_t pos = KNOT_WIRE_HEADER_SIZE;
	for (unsigned i = 0; i < knot_wire_get_qdcount(wire); i++) {
		int n = knot_dname_wire_check(wire + pos, wire + len, wire);
		if (n <= 0 || len - pos - (size_t)n < 4)
			return 0;
		pos += (size_t)n + 4;
	}
	return pos;
}

int dns_message_rcode(const uint8_t *wire, size_t len)
{
	if (!wire || len < KNOT_WIRE_HEADER_SIZE)
		return -1;
	uint8_t rcode = knot_wire_get_rcode(wire);
	if (knot_wire_get_arcount(wire) == 0)
		return rcode; /* no OPT record: the header's four bits are all */
	size_t pos = dns_questions_skip(wire, len);
	unsigned total = (unsigned)knot_wire_get_ancount(wire) + knot_wire_get_nscount(wire) +
			 knot_wire_get_arcount(wire);
	dns_rr_wire_t rr;
	/* A message we cannot walk keeps the header's four bits. */
	for (unsigned i = 0; pos && i < total; i++) {
		if (dns_record_read(wire, len, &pos, &rr) != NULL)
			break;
		if (rr.type == KNOT_RRTYPE_OPT)
			return knot_edns_whole_rcode((uint8_t)(rr.ttl >> 24), rcode);
	}
	return rcode;
}

knot_pkt_t *dns_message_parse(const uint8_t *wire, size_t len)
{
	if (!wire || len < KNOT_WIRE_HEADER_SIZE || len > UINT16_MAX)
		return NULL;
	knot_pkt_t *pkt = knot_pkt_new(NULL, (uint16_t)len, NULL);
	if (!pkt)
		return NULL;
	memcpy(pkt->wire, wire, len);
	pkt->size = len;
	if (knot_pkt_parse(pkt, 0) != KNOT_EOK) {
		knot_pkt_free(pkt);
		return NULL;
	}
	return pkt;
}

int dns_message_section_text(const uint8_t *wire, size_t len, int section, char *out,
			     size_t cap)
{
	if (cap)
		out[0] = '\0';
	if (!wire || len < KNOT_WIRE_HEADER_SIZE || len > UINT16_MAX || section < 0 || section > 2)
		return -1;
	knot_pkt_t *pkt = dns_message_parse(wire, len);
	if (!pkt)
		return -1;
	static const knot_section_t sections[] = {KNOT_ANSWER, KNOT_AUTHORITY, KNOT_ADDITIONAL};
	const knot_pktsection_t *sec = knot_pkt_section(pkt, sections[section]);
	char owner[DNS_NAME_TEXT_MAX], type[16], rdata[1024];
	size_t n = 0;
	int count = 0;
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		if (rr->type == KNOT_RRTYPE_OPT)
			continue;
		dns_name_to_text(rr->owner, owner, sizeof(owner));
		dns_rrtype_to_text(rr->type, type, sizeof(type));
		for (uint16_t k = 0; k < rr->rrs.count; k++, count++) {
			if (dns_rdata_to_text(rr, k, rdata, sizeof(rdata)) < 0)
				snprintf(rdata, sizeof(rdata), "?");
			int w = snprintf(out + n, cap > n ? cap - n : 0, "%s%s %u IN %s %s",
					 count ? "; " : "", owner, rr->ttl, type, rdata);
			if (w > 0)
				n = n + (size_t)w < cap ? n + (size_t)w : (cap ? cap - 1 : 0);
		}
	}
	knot_pkt_free(pkt);
	return count;
}

bool dns_message_truncated(const uint8_t *wire, size_t len)
{
	return wire && len >= KNOT_WIRE_HEADER_SIZE && knot_wire_get_tc(wire);
}

const char *dns_rcode_name(int rcode, char *buf, size_t len)
{
	const knot_lookup_t *l = knot_lookup_by_id(knot_rcode_names, rcode);
	if (l)
		return l->name;
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

int dns_question_read(const uint8_t *msg, size_t len, dns_question_t *q)
{
	if (!msg || len < KNOT_WIRE_HEADER_SIZE || knot_wire_get_qdcount(msg) == 0)
		return PR_EPARSE;
	/* A question name is the first name of a message: nothing before it to
	 * point at, so a compression pointer is malformed. */
	const uint8_t *name = msg + KNOT_WIRE_HEADER_SIZE;
	int n = knot_dname_wire_check(name, msg + len, NULL);
	if (n <= 0 || len - KNOT_WIRE_HEADER_SIZE - (size_t)n < 4)
		return PR_EPARSE;
	dns_question_t v;
	memcpy(v.name, name, (size_t)n);
	v.name_len = (size_t)n;
	v.qtype = knot_wire_read_u16(name + n);
	v.qclass = knot_wire_read_u16(name + n + 2);
	*q = v;
	return 0;
}

dns_reply_verdict_t dns_reply_check(const uint8_t *reply, size_t len, uint16_t id,
				    const dns_question_t *q)
{
	if (!reply || len < KNOT_WIRE_HEADER_SIZE || !knot_wire_get_qr(reply))
		return DNS_REPLY_MALFORMED;
	if (knot_wire_get_id(reply) != id)
		return DNS_REPLY_BAD_ID;
	if (knot_wire_get_qdcount(reply) != 1)
		return DNS_REPLY_BAD_QUESTION;
	dns_question_t got;
	if (dns_question_read(reply, len, &got) != 0)
		return DNS_REPLY_MALFORMED;
	/* W-5: the name compares case-insensitively. */
	if (got.name_len != q->name_len || !dns_name_equal(got.name, q->name) ||
	    got.qtype != q->qtype || got.qclass != q->qclass)
		return DNS_REPLY_BAD_QUESTION;
	return DNS_REPLY_OK;
}

/* ---- Lifetimes of replies kept by a client's cache (RFC 2308) ------------------- */

uint32_t dns_message_lifetime(const uint8_t *wire, size_t len, uint32_t max_ttl,
			      uint32_t max_negative_ttl)
{
	if (!wire || len < KNOT_WIRE_HEADER_SIZE || !knot_wire_get_qr(wire) ||
	    knot_wire_get_tc(wire) || knot_wire_get_qdcount(wire) != 1)
		return 0;
	int rcode = dns_message_rcode(wire, len);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN)
		return 0;
	size_t pos = dns_questions_skip(wire, len);
	unsigned an = knot_wire_get_ancount(wire), ns = knot_wire_get_nscount(wire);
	uint32_t answer_min = UINT32_MAX, negative = UINT32_MAX;
	dns_rr_wire_t rr;
	for (unsigned i = 0; pos && i < an + ns; i++) {
		if (dns_record_read(wire, len, &pos, &rr) != NULL)
			return 0;
		uint32_t ttl = rr.ttl > INT32_MAX ? 0 : rr.ttl; /* RFC 2181 §8 */
		if (i < an && ttl < answer_min)
			answer_min = ttl;
		else if (i >= an && rr.type == KNOT_RRTYPE_SOA && rr.rdlen >= 22 &&
			 negative == UINT32_MAX) {
			/* RFC 2308 §5: min(SOA TTL, MINIMUM); MINIMUM ends the RDATA. */
			uint32_t min = knot_wire_read_u32(rr.rdata + rr.rdlen - 4);
			negative = ttl < min ? ttl : min;
		}
	}
	if (!pos)
		return 0;
	bool is_negative = rcode == KNOT_RCODE_NXDOMAIN || an == 0;
	if (is_negative) {
		/* Without an SOA a negative answer is not kept (RFC 2308 §5). */
		uint32_t t = negative == UINT32_MAX ? 0 : negative;
		if (t > max_negative_ttl)
			t = max_negative_ttl;
		return an && answer_min < t ? answer_min : t;
	}
	return answer_min < max_ttl ? answer_min : max_ttl;
}

void dns_message_age(uint8_t *wire, size_t len, uint32_t elapsed)
{
	size_t pos = dns_questions_skip(wire, len);
	if (!pos)
		return;
	unsigned total = (unsigned)knot_wire_get_ancount(wire) + knot_wire_get_nscount(wire) +
			 knot_wire_get_arcount(wire);
	dns_rr_wire_t rr;
	for (unsigned i = 0; i < total; i++) {
		if (dns_record_read(wire, len, &pos, &rr) != NULL)
			return;
		if (rr.type == KNOT_RRTYPE_OPT)
			continue; /* its "TTL" is flags and the extended rcode */
		uint8_t *ttl = (uint8_t *)rr.rdata - 6;
		knot_wire_write_u32(ttl, rr.ttl > elapsed ? rr.ttl - elapsed : 0);
	}
}
