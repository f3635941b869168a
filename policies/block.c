/*
 * Block answers (S-3): a CNAME to blockpolicy.azuredns.invalid., or SERVFAIL
 * when the rule's blockResponseCode says so. Written with dns/'s answer
 * builder from static rdata, so a blocked query allocates nothing.
 */
#include "policies/policies.h"

#include <libknot/consts.h>
#include <libknot/descriptor.h>
#include <libknot/rrset.h>

/* RFC 6761: .invalid never resolves, so a client that follows the CNAME gets
 * nowhere. */
#define TARGET_WIRE "\x0b" "blockpolicy" "\x08" "azuredns" "\x07" "invalid"
#define TARGET_LEN (sizeof(TARGET_WIRE)) /* the literal's NUL is the root label */

/* Laid out as a knot_rdata_t (length, then the octets), built at compile
 * time so the answer needs no allocation and no initialisation at run time. */
static const struct {
	uint16_t len;
	uint8_t data[TARGET_LEN + (TARGET_LEN & 1)];
} block_rdata = {TARGET_LEN, TARGET_WIRE};

const uint8_t *policy_block_cname_target(void)
{
	return block_rdata.data;
}

int policy_block_add_cname(dns_answer_t *a, const uint8_t *owner)
{
	PR_REQUIRE(a && owner);
	knot_rrset_t rr = {
		.owner = (knot_dname_t *)owner,
		.ttl = POLICY_BLOCK_TTL,
		.type = KNOT_RRTYPE_CNAME,
		.rclass = KNOT_CLASS_IN,
		.rrs = {
			.count = 1,
			.size = (uint32_t)knot_rdata_size(TARGET_LEN),
			/* Read only: dns_answer_add() copies it to the wire. */
			.rdata = (knot_rdata_t *)&block_rdata,
		},
	};
	return dns_answer_add(a, DNS_SECTION_ANSWER, &rr, NULL);
}

size_t policy_block_answer(uint8_t *buf, size_t cap, const dns_query_t *q, bool tcp,
			   const policy_verdict_t *v)
{
	PR_REQUIRE(buf && q && v);
	PR_REQUIRE(v->action == POLICY_BLOCK);
	if (v->block_response == MODEL_BLOCK_SERVFAIL)
		return dns_answer_error(buf, cap, q, DNS_RCODE_SERVFAIL, tcp);
	dns_answer_t a;
	if (dns_answer_begin(&a, buf, cap, q, tcp) != 0)
		return 0;
	/* The question's own name (lowercase copy): dns/ writes an owner equal to
	 * the question as a pointer to it, so the CNAME keeps the client's case
	 * (W-5). A truncated answer (TC) is still a complete reply. */
	(void)policy_block_add_cname(&a, q->qname_lower);
	return dns_answer_finish(&a);
}
