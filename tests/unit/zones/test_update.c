/* Dynamic update applied to an external zone (E-2, RFC 2136 §3.2–§3.4) and
 * aging and scavenging (E-4) with an injected clock: the functions take "now",
 * so days pass in a test without sleeping. UPDATE messages are built with
 * libknot and read with dns_update_parse(), as the daemon reads them. */
#include <jansson.h>
#include <libknot/libknot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "base/base.h"
#include "dns/dns.h"
#include "zones/zones.h"

#define HOUR 3600u
#define T0 1800000000u /* a Unix time in 2027 */

static const model_aging_t AGING = {.enabled = true, .no_refresh_hours = 168,
				    .refresh_hours = 168};

static uint8_t apex[DNS_NAME_MAXLEN];

/* An UPDATE of corp.contoso.com with one change: class, owner, type, rdata text. */
static dns_update_t *make_update(uint16_t rclass, const char *owner, uint16_t type,
				 const char *value)
{
	knot_pkt_t *pkt = knot_pkt_new(NULL, 4096, NULL);
	assert_non_null(pkt);
	knot_wire_set_opcode(pkt->wire, KNOT_OPCODE_UPDATE);
	assert_int_equal(knot_pkt_put_question(pkt, apex, KNOT_CLASS_IN, KNOT_RRTYPE_SOA), 0);
	assert_int_equal(knot_pkt_begin(pkt, KNOT_AUTHORITY), 0);
	uint8_t name[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text(owner, name, NULL, NULL), 0);
	knot_rrset_t *rr = knot_rrset_new(name, type, rclass, rclass == KNOT_CLASS_IN ? 300 : 0,
					  NULL);
	uint8_t rd[512];
	size_t rdlen = 0;
	if (value)
		assert_int_equal(dns_rdata_from_text(type, value, apex, rd, sizeof(rd), &rdlen,
						     NULL),
				 0);
	assert_int_equal(knot_rrset_add_rdata(rr, rd, (uint16_t)rdlen, NULL), 0);
	assert_int_equal(knot_pkt_put(pkt, 0, rr, 0), 0);
	dns_update_t *u = NULL;
	const char *why = NULL;
	assert_int_equal(dns_update_parse(pkt->wire, pkt->size, &u, &why), 0);
	knot_rrset_free(rr, NULL);
	knot_pkt_free(pkt);
	return u;
}

static json_t *zone(void)
{
	return json_loads("{\"name\": \"corp.contoso.com\", \"recordSets\": ["
			  "{\"name\": \"static1\", \"type\": \"A\", \"records\": [\"10.1.1.1\"]}]}",
			  0, NULL);
}

static json_t *set_named(json_t *z, const char *name)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(z, "recordSets"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "name")), name))
			return s;
	return NULL;
}

static int64_t stamp_of(json_t *z, const char *name)
{
	return json_integer_value(json_object_get(set_named(z, name), "timestamp"));
}

static int64_t serial_of(json_t *z)
{
	return json_integer_value(json_object_get(json_object_get(z, "soa"), "serialNumber"));
}

static int apply(json_t *z, dns_update_t *u, uint64_t now, zone_update_result_t *res)
{
	int rc = zone_update_apply(z, apex, u, now, &AGING, res);
	dns_update_free(&u);
	return rc;
}

/* E-2: an add marks the set dynamic, stamps it and grows the serial. */
static void test_add_is_dynamic_and_stamped(void **state)
{
	(void)state;
	json_t *z = zone();
	zone_update_result_t res;
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.5"), T0, &res),
			 0);
	assert_true(res.changed);
	assert_true(json_is_true(json_object_get(set_named(z, "pc"), "dynamic")));
	assert_int_equal(stamp_of(z, "pc"), T0);
	assert_int_equal(serial_of(z), 2);
	assert_null(json_object_get(set_named(z, "static1"), "dynamic"));
	/* E-2: a new address replaces the old A records (Windows' name conflict) */
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.6"), T0, &res),
			 0);
	json_t *recs = json_object_get(set_named(z, "pc"), "records");
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_array_get(recs, 0)), "10.1.1.6");
	assert_int_equal(serial_of(z), 3);
	json_decref(z);
}

/* E-4: a refresh inside no-refresh leaves the time stamp; after, it moves it,
 * and neither changes the serial. */
static void test_refresh_suppressed_during_no_refresh(void **state)
{
	(void)state;
	json_t *z = zone();
	zone_update_result_t res;
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.5"), T0, &res),
			 0);
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.5"),
			       T0 + 100 * HOUR, &res),
			 0);
	assert_false(res.changed);
	assert_false(res.refreshed);
	assert_int_equal(stamp_of(z, "pc"), T0);
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.5"),
			       T0 + 200 * HOUR, &res),
			 0);
	assert_false(res.changed);
	assert_true(res.refreshed);
	assert_int_equal(stamp_of(z, "pc"), T0 + 200 * HOUR);
	assert_int_equal(serial_of(z), 2);
	json_decref(z);
}

/* E-4: removed once time stamp + no-refresh + refresh < now; static never. */
static void test_scavenging(void **state)
{
	(void)state;
	json_t *z = zone();
	zone_update_result_t res;
	size_t removed = 9;
	assert_int_equal(apply(z, make_update(1, "pc.corp.contoso.com.", 1, "10.1.1.5"), T0, &res),
			 0);
	uint64_t life = (168 + 168) * HOUR;
	assert_int_equal(zone_scavenge(z, apex, T0 + life, &AGING, &removed), 0);
	assert_int_equal(removed, 0);
	assert_non_null(set_named(z, "pc"));
	/* aging off: nothing is ever scavenged */
	model_aging_t off = AGING;
	off.enabled = false;
	assert_int_equal(zone_scavenge(z, apex, T0 + 100 * life, &off, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(zone_scavenge(z, apex, T0 + life + 1, &AGING, &removed), 0);
	assert_int_equal(removed, 1);
	assert_null(set_named(z, "pc"));
	assert_non_null(set_named(z, "static1"));
	assert_int_equal(serial_of(z), 3);
	assert_int_equal(zone_scavenge(z, apex, T0 + 1000 * life, &AGING, &removed), 0);
	assert_int_equal(removed, 0);
	assert_non_null(set_named(z, "static1"));
	json_decref(z);
}

/* RFC 2136 §3.4.1.3, §3.4.2.3: NOTZONE before anything, the apex SOA kept. */
static void test_notzone_and_apex(void **state)
{
	(void)state;
	json_t *z = zone();
	zone_update_result_t res;
	assert_int_equal(apply(z, make_update(1, "x.other.com.", 1, "10.1.1.5"), T0, &res),
			 DNS_RCODE_NOTZONE);
	assert_int_equal(apply(z, make_update(DNS_CLASS_ANY, "corp.contoso.com.", DNS_TYPE_ANY,
					      NULL),
			       T0, &res),
			 0);
	assert_int_equal(apply(z, make_update(DNS_CLASS_ANY, "static1.corp.contoso.com.",
					      DNS_TYPE_ANY, NULL),
			       T0, &res),
			 0);
	assert_true(res.changed);
	assert_null(set_named(z, "static1"));
	json_decref(z);
}

/* RFC 2136 §2.4.2: a value-dependent prerequisite names a real type; one of
 * type ANY is FORMERR, and its rdata is never read as the type of a set
 * found at the owner (a fuzzer's input: a label length of 255 read as the
 * name in an MX's rdata had libknot walk without end). */
static void test_prerequisite_of_type_any_with_values(void **state)
{
	(void)state;
	static const uint8_t msg[] = {
		0xbb, 0x46, 0x28, 0x00, 0, 1, 0, 3, 0, 0, 0, 0, /* UPDATE, zone 1, prereq 3 */
		4, 'c', 'o', 'r', 'p', 7, 'c', 'o', 'n', 't', 'o', 's', 'o', 3, 'c', 'o', 'm', 0,
		0, 6, 0, 1,					   /* zone corp.contoso.com SOA IN */
		0xc0, 12, 0, 255, 0, 255, 0, 0, 0, 0, 0, 0,	   /* name in use */
		0xc0, 12, 0xff, 0, 0, 254, 0, 0, 0, 0, 0, 0,	   /* RRset of type 65280 absent */
		0xc0, 12, 0, 255, 0, 1, 0, 0, 0, 0, 0, 9,	   /* ANY IN with values */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
	};
	json_t *z = json_loads("{\"name\": \"corp.contoso.com\", \"recordSets\": ["
			       "{\"name\": \"@\", \"type\": \"MX\", \"records\": [\"10 mail\"]}]}",
			       0, NULL);
	dns_update_t *u = NULL;
	const char *why = NULL;
	assert_int_equal(dns_update_parse(msg, sizeof(msg), &u, &why), 0);
	zone_update_result_t res;
	assert_int_equal(apply(z, u, T0, &res), DNS_RCODE_FORMERR);
	/* rdata that does not fit its type's layout has no canonical form */
	uint8_t out[DNS_RDATA_MAXLEN];
	uint16_t n = 0;
	assert_int_not_equal(dns_rdata_canonical(KNOT_RRTYPE_MX, msg + sizeof(msg) - 9, 9, out, &n),
			     0);
	static const uint8_t mx[] = {0, 10, 4, 'M', 'a', 'I', 'l', 0};
	assert_int_equal(dns_rdata_canonical(KNOT_RRTYPE_MX, mx, sizeof(mx), out, &n), 0);
	assert_int_equal(n, sizeof(mx));
	assert_memory_equal(out + 3, "mail", 4);
	json_decref(z);
}

/* E-5: the PTR of an address, one per owner. */
static void test_add_ptr(void **state)
{
	(void)state;
	uint8_t rev_apex[DNS_NAME_MAXLEN], owner[DNS_NAME_MAXLEN];
	dns_name_from_text("1.100.10.in-addr.arpa.", rev_apex, NULL, NULL);
	dns_name_from_text("7.1.100.10.in-addr.arpa.", owner, NULL, NULL);
	json_t *rz = json_loads("{\"name\": \"1.100.10.in-addr.arpa\"}", 0, NULL);
	bool changed = false;
	assert_int_equal(zone_add_ptr(rz, rev_apex, owner, "a.corp.contoso.com.", 300, T0,
				      &changed),
			 0);
	assert_true(changed);
	assert_int_equal(zone_add_ptr(rz, rev_apex, owner, "b.corp.contoso.com.", 300, T0,
				      &changed),
			 0);
	json_t *recs = json_object_get(set_named(rz, "7"), "records");
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_array_get(recs, 0)), "b.corp.contoso.com.");
	json_decref(rz);
}

/* E-4: the first run waits load + refresh, then one per period. */
static void test_scavenging_due(void **state)
{
	(void)state;
	assert_false(zone_scavenging_due(168, 168, T0, 0, T0 + 167 * HOUR));
	assert_true(zone_scavenging_due(168, 168, T0, 0, T0 + 168 * HOUR));
	assert_false(zone_scavenging_due(168, 168, T0, T0 + 168 * HOUR, T0 + 300 * HOUR));
	assert_true(zone_scavenging_due(168, 168, T0, T0 + 168 * HOUR, T0 + 336 * HOUR));
	/* a period under the minimum counts as one hour */
	assert_true(zone_scavenging_due(0, 1, T0, T0 + HOUR, T0 + 2 * HOUR));
	assert_false(zone_scavenging_due(0, 1, T0, T0 + HOUR, T0 + 2 * HOUR - 1));
}

int main(void)
{
	dns_name_from_text("corp.contoso.com.", apex, NULL, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_is_dynamic_and_stamped),
		cmocka_unit_test(test_refresh_suppressed_during_no_refresh),
		cmocka_unit_test(test_scavenging),
		cmocka_unit_test(test_notzone_and_apex),
		cmocka_unit_test(test_add_ptr),
		cmocka_unit_test(test_scavenging_due),
		cmocka_unit_test(test_prerequisite_of_type_any_with_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
