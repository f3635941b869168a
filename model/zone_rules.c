/* Z-1 and Z-2: what a private zone may hold. The one home of these rules: the
 * validator (model/validate.c) reports them with the resource's path, the zone
 * builder (zones/builder.c) with the record's name; both read them here. */
#include <libknot/libknot.h>

#include "model/model.h"

bool model_zone_type_allowed(uint16_t type)
{
	switch (type) {
	case KNOT_RRTYPE_A:
	case KNOT_RRTYPE_AAAA:
	case KNOT_RRTYPE_CNAME:
	case KNOT_RRTYPE_MX:
	case KNOT_RRTYPE_PTR:
	case KNOT_RRTYPE_SOA:
	case KNOT_RRTYPE_SRV:
	case KNOT_RRTYPE_TXT:
		return true;
	default:
		return false;
	}
}

const char *model_zone_set_fault(uint16_t type, size_t n, bool apex, const char **rule)
{
	*rule = "Z-1";
	if (type == KNOT_RRTYPE_NS)
		return apex ? "private zones hold no NS delegations, and serve no NS records at "
			      "the apex"
			    : "private zones hold no NS delegations below the apex";
	if (!model_zone_type_allowed(type))
		return "not a supported record type, not served in private zones; valid: A, AAAA, "
		       "CNAME, MX, PTR, SOA, SRV, TXT";
	if (n == 0)
		return "a record set holds at least one record";
	if (type == KNOT_RRTYPE_CNAME && apex)
		return "a CNAME can't stand at the zone apex, which holds the SOA (RFC 1034 "
		       "§3.6.2)";
	if (type == KNOT_RRTYPE_CNAME && n > 1)
		return "a CNAME record set holds exactly one record (RFC 1034 §3.6.2)";
	*rule = "Z-2";
	if (type == KNOT_RRTYPE_SOA && !apex)
		return "the SOA stands only at the zone apex '@'";
	if (type == KNOT_RRTYPE_SOA && n > 1)
		return "an SOA record set holds one record: a zone has one SOA";
	*rule = NULL;
	return NULL;
}

const char *model_zone_pair_fault(uint16_t a, uint16_t b, const char **rule, int *code)
{
	*rule = "Z-1";
	*code = PR_ECONFIG;
	if (a == b && a == KNOT_RRTYPE_SOA) {
		*rule = "Z-2";
		return "a zone has one SOA; its record set exists already";
	}
	if (a == b) {
		*code = PR_EEXIST;
		return "a record set of that name and type exists already";
	}
	if (a == KNOT_RRTYPE_CNAME || b == KNOT_RRTYPE_CNAME)
		return "a CNAME stands alone, never next to other data (RFC 1034 §3.6.2)";
	*rule = NULL;
	return NULL;
}
