/* Answers the stub writes itself (hosts file, overlay agent, errors) and how
 * it reads the replies of servers, through dns/. */
#include <string.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "stub/stub.h"

size_t stub_answer_a(const uint8_t *query, size_t len, const uint32_t *addrs, size_t n,
		     uint32_t ttl, uint8_t *out, size_t cap)
{
	dns_query_t q;
	dns_answer_t a;
	dns_query_parse(query, len, &q);
	if (q.verdict != DNS_QUERY_OK || dns_answer_begin(&a, out, cap, &q, false) != 0)
		return 0;
	dns_answer_set_aa(&a, true);
	if (n > 0) {
		knot_rrset_t rr;
		knot_rrset_init(&rr, q.qname_lower, KNOT_RRTYPE_A, KNOT_CLASS_IN, ttl);
		for (size_t i = 0; i < n; i++) {
			uint8_t rd[4];
			knot_wire_write_u32(rd, addrs[i]);
			if (knot_rrset_add_rdata(&rr, rd, sizeof(rd), NULL) != KNOT_EOK) {
				knot_rdataset_clear(&rr.rrs, NULL);
				return 0;
			}
		}
		dns_answer_add(&a, DNS_SECTION_ANSWER, &rr, NULL);
		knot_rdataset_clear(&rr.rrs, NULL);
	}
	return dns_answer_finish(&a);
}

size_t stub_answer_error(const uint8_t *query, size_t len, int rcode, uint8_t *out, size_t cap)
{
	dns_query_t q;
	dns_query_parse(query, len, &q);
	return dns_answer_error(out, cap, &q, (uint16_t)rcode, false);
}

stub_reply_t stub_classify_reply(const uint8_t *reply, size_t len, int *rcode)
{
	int rc = dns_message_rcode(reply, len);
	*rcode = rc < 0 ? DNS_RCODE_SERVFAIL : rc;
	if (rc == DNS_RCODE_NXDOMAIN)
		return STUB_REPLY_NEGATIVE;
	if (rc != DNS_RCODE_NOERROR)
		return STUB_REPLY_FAILURE;
	/* NOERROR without records in the answer section is NODATA: negative. */
	return knot_wire_get_ancount(reply) > 0 ? STUB_REPLY_POSITIVE : STUB_REPLY_NEGATIVE;
}

void stub_json_string(pr_buf_t *b, const char *s)
{
	pr_buf_append(b, "\"", 1);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			pr_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			pr_buf_printf(b, "\\u%04x", ch);
		else
			pr_buf_append(b, s, 1);
	}
	pr_buf_append(b, "\"", 1);
}
