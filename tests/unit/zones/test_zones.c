/* Zone engine: Z-1 (types, CNAME rules, no delegations), Z-2 (SOA defaults),
 * Z-3 (host autoregistration), Q-2 (NODATA/NXDOMAIN with SOA), Q-5 (CNAME
 * handed to the resolver), RFC 4592 wildcards, zone-file import. */
#include <libknot/libknot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* The library allocates with the real allocator; free with it too. */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "base/base.h"
#include "dns/dns.h"
#include "zones/zones.h"

#define ADD(zb, owner, type, ttl, ...)                                                     \
	do {                                                                               \
		const char *recs_[] = {__VA_ARGS__};                                       \
		char *why_ = NULL;                                                         \
		int ret_ = zone_builder_add_rrset(zb, owner, type, ttl, recs_,             \
						  sizeof(recs_) / sizeof(recs_[0]), &why_); \
		if (ret_ != 0)                                                             \
			fail_msg("%s %u: %s", owner, type, why_);                          \
	} while (0)

static zone_builder_t *new_builder(const char *origin)
{
	zone_builder_t *zb = NULL;
	assert_int_equal(zone_builder_new(origin, &zb, NULL), 0);
	return zb;
}

/* The zone most tests read. */
static zone_t *contoso(void)
{
	zone_builder_t *zb = new_builder("contoso.com");
	ADD(zb, "@", KNOT_RRTYPE_MX, 3600, "10 mail");
	ADD(zb, "@", KNOT_RRTYPE_TXT, 3600, "v=spf1 -all");
	ADD(zb, "WEB", KNOT_RRTYPE_A, 300, "10.10.2.5");
	ADD(zb, "mail", KNOT_RRTYPE_A, 300, "10.10.2.10", "10.10.2.11");
	ADD(zb, "mail.contoso.com.", KNOT_RRTYPE_AAAA, 300, "fd00::10");
	ADD(zb, "*.apps", KNOT_RRTYPE_A, 60, "10.10.3.1");
	ADD(zb, "x.y.apps", KNOT_RRTYPE_A, 60, "10.10.3.2");
	ADD(zb, "alias", KNOT_RRTYPE_CNAME, 120, "web");
	ADD(zb, "ext", KNOT_RRTYPE_CNAME, 120, "www.fabrikam.com.");
	ADD(zb, "_sip._tcp", KNOT_RRTYPE_SRV, 300, "0 5 5060 mail", "1 5 5060 sip.fabrikam.com.");
	ADD(zb, "*.wild", KNOT_RRTYPE_CNAME, 60, "web");
	zone_t *z = NULL;
	assert_int_equal(zone_build(zb, &z), 0);
	zone_builder_destroy(&zb);
	assert_null(zb);
	return z;
}

static int lookup(const zone_t *z, const char *name, uint16_t type, zone_result_t *r)
{
	uint8_t wire[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text(name, wire, NULL, NULL), 0);
	return zone_lookup(z, wire, type, r);
}

static bool name_is(const uint8_t *wire, const char *text)
{
	uint8_t want[DNS_NAME_MAXLEN];
	assert_int_equal(dns_name_from_text(text, want, NULL, NULL), 0);
	return knot_dname_is_case_equal(wire, want);
}

static void test_apex_and_soa_defaults_z2(void **state)
{
	zone_t *z = contoso();
	zone_result_t r;
	assert_true(name_is(zone_origin(z), "contoso.com."));
	assert_int_equal(lookup(z, "contoso.com.", KNOT_RRTYPE_SOA, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	const knot_rrset_t *soa = r.answer[0];
	assert_ptr_equal(soa, zone_soa(z));
	assert_int_equal(soa->ttl, 3600);
	assert_int_equal(knot_soa_serial(soa->rrs.rdata), 1);
	assert_int_equal(knot_soa_refresh(soa->rrs.rdata), 3600);
	assert_int_equal(knot_soa_retry(soa->rrs.rdata), 300);
	assert_int_equal(knot_soa_expire(soa->rrs.rdata), 2419200);
	assert_int_equal(knot_soa_minimum(soa->rrs.rdata), 300);
	assert_true(name_is(knot_soa_primary(soa->rrs.rdata), "azureprivatedns.net."));
	assert_true(name_is(knot_soa_mailbox(soa->rrs.rdata),
			    "azureprivatedns-hostmaster.microsoft.com."));

	/* The apex MX, with the exchange's A and AAAA as additional records. */
	assert_int_equal(lookup(z, "contoso.com.", KNOT_RRTYPE_MX, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_int_equal(r.nanswer, 1);
	assert_int_equal(r.nadditional, 2);
	assert_int_equal(r.additional[0]->type, KNOT_RRTYPE_A);
	assert_int_equal(r.additional[0]->rrs.count, 2);
	assert_int_equal(r.additional[1]->type, KNOT_RRTYPE_AAAA);
	zone_destroy(&z);
	assert_null(z);
	zone_destroy(&z); /* NULL is fine */
}

static void test_exact_nodata_nxdomain_q2(void **state)
{
	zone_t *z = contoso();
	zone_result_t r;
	assert_int_equal(lookup(z, "web.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_false(r.synthesized);
	assert_int_equal(r.answer[0]->ttl, 300);
	assert_int_equal(r.nadditional, 0);

	/* NODATA: the name holds other types; SOA TTL min(3600, 300) (RFC 2308). */
	assert_int_equal(lookup(z, "web.contoso.com.", KNOT_RRTYPE_AAAA, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	assert_int_equal(r.nanswer, 0);
	assert_non_null(r.soa);
	assert_int_equal(r.soa->type, KNOT_RRTYPE_SOA);
	assert_int_equal(r.soa->ttl, 300);

	assert_int_equal(lookup(z, "nope.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NXDOMAIN);
	assert_non_null(r.soa);
	/* Below a leaf: still NXDOMAIN. */
	assert_int_equal(lookup(z, "a.web.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NXDOMAIN);

	/* Names outside the zone are not ours to answer. */
	assert_int_equal(lookup(z, "contoso.net.", KNOT_RRTYPE_A, &r), PR_ENOTFOUND);
	assert_int_equal(lookup(z, "com.", KNOT_RRTYPE_A, &r), PR_ENOTFOUND);

	/* ANY answers every set of the name. */
	assert_int_equal(lookup(z, "contoso.com.", KNOT_RRTYPE_ANY, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_int_equal(r.nanswer, 3); /* SOA, MX, TXT */
	zone_destroy(&z);
}

static void test_wildcards_rfc4592(void **state)
{
	zone_t *z = contoso();
	zone_result_t r;
	assert_int_equal(lookup(z, "foo.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_true(r.synthesized);
	assert_int_equal(r.answer[0]->ttl, 60);
	/* Any depth below the closest encloser. */
	assert_int_equal(lookup(z, "a.b.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_true(r.synthesized);
	/* A synthesized name without the type: NODATA. */
	assert_int_equal(lookup(z, "foo.apps.contoso.com.", KNOT_RRTYPE_TXT, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	/* "*.apps" does not answer "apps" itself: it is an empty non-terminal. */
	assert_int_equal(lookup(z, "apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	assert_false(r.synthesized);
	/* The empty non-terminal y.apps blocks the wildcard (NODATA) ... */
	assert_int_equal(lookup(z, "y.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	assert_false(r.synthesized);
	/* ... and below it the closest encloser is y.apps, which has no wildcard. */
	assert_int_equal(lookup(z, "z.y.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NXDOMAIN);
	/* The existing name under y.apps answers as itself. */
	assert_int_equal(lookup(z, "x.y.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_false(r.synthesized);
	/* Asking for the wildcard's own name gives its records, not synthesized. */
	assert_int_equal(lookup(z, "*.apps.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_false(r.synthesized);
	/* A wildcard CNAME: synthesized, with its target to chase. */
	assert_int_equal(lookup(z, "q.wild.contoso.com.", KNOT_RRTYPE_AAAA, &r), 0);
	assert_int_equal(r.kind, ZONE_CNAME);
	assert_true(r.synthesized);
	assert_true(name_is(r.cname_target, "web.contoso.com."));
	zone_destroy(&z);
}

static void test_cname_q5(void **state)
{
	zone_t *z = contoso();
	zone_result_t r;
	const uint16_t types[] = {KNOT_RRTYPE_A, KNOT_RRTYPE_AAAA, KNOT_RRTYPE_TXT,
				  KNOT_RRTYPE_MX, KNOT_RRTYPE_ANY};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(lookup(z, "alias.contoso.com.", types[i], &r), 0);
		assert_int_equal(r.kind, ZONE_CNAME);
		assert_int_equal(r.nanswer, 1);
		assert_int_equal(r.answer[0]->type, KNOT_RRTYPE_CNAME);
		assert_true(name_is(r.cname_target, "web.contoso.com."));
	}
	/* Asking for the CNAME itself is a plain answer. */
	assert_int_equal(lookup(z, "alias.contoso.com.", KNOT_RRTYPE_CNAME, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	/* A target outside the zone is handed over too; the resolver decides. */
	assert_int_equal(lookup(z, "ext.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_CNAME);
	assert_true(name_is(r.cname_target, "www.fabrikam.com."));
	zone_destroy(&z);
}

static void test_srv_additional_inside_zone_only(void **state)
{
	zone_t *z = contoso();
	zone_result_t r;
	assert_int_equal(lookup(z, "_sip._tcp.contoso.com.", KNOT_RRTYPE_SRV, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_int_equal(r.answer[0]->rrs.count, 2);
	/* mail's A and AAAA; sip.fabrikam.com is not ours. */
	assert_int_equal(r.nadditional, 2);
	zone_destroy(&z);
}

static void test_autoregistration_z3(void **state)
{
	zone_builder_t *zb = new_builder("azure.contoso.com.");
	assert_int_equal(zone_builder_add_host_a(zb, "app1", 0x0a0a0204, 10, NULL), 0);
	assert_int_equal(zone_builder_add_host_a(zb, "app2", 0x0a0a0205, 10, NULL), 0);
	/* Two hosts of one name share the set. */
	assert_int_equal(zone_builder_add_host_a(zb, "app2", 0x0a0a0206, 10, NULL), 0);
	zone_t *z = NULL;
	zone_result_t r;
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(lookup(z, "app1.azure.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_memory_equal(r.answer[0]->rrs.rdata->data, "\x0a\x0a\x02\x04", 4);
	assert_int_equal(r.answer[0]->ttl, 10);
	assert_int_equal(lookup(z, "app2.azure.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->rrs.count, 2);
	bool autoreg = false;
	size_t seen = 0;
	for (size_t i = 0; i < zone_rrset_count(z); i++) {
		const knot_rrset_t *rr = zone_rrset_at(z, i, &autoreg);
		if (rr->type == KNOT_RRTYPE_A) {
			assert_true(autoreg);
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	zone_destroy(&z);

	/* A manual set of that name, of any type, hides the host record. */
	ADD(zb, "app1", KNOT_RRTYPE_TXT, 300, "owned by hand");
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(lookup(z, "app1.azure.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	zone_destroy(&z);
	zone_builder_destroy(&zb);

	/* A manual A wins over the host's address. */
	zb = new_builder("azure.contoso.com.");
	assert_int_equal(zone_builder_add_host_a(zb, "app1", 0x0a0a0204, 10, NULL), 0);
	ADD(zb, "app1", KNOT_RRTYPE_A, 300, "192.0.2.1");
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(lookup(z, "app1.azure.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->rrs.count, 1);
	assert_memory_equal(r.answer[0]->rrs.rdata->data, "\xc0\x00\x02\x01", 4);
	assert_int_equal(r.answer[0]->ttl, 300);
	zone_destroy(&z);
	zone_builder_destroy(&zb);

	/* The manual set removed (a new build without it): the host record is back. */
	zb = new_builder("azure.contoso.com.");
	assert_int_equal(zone_builder_add_host_a(zb, "app1", 0x0a0a0204, 10, NULL), 0);
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(lookup(z, "app1.azure.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_ANSWER);
	assert_memory_equal(r.answer[0]->rrs.rdata->data, "\x0a\x0a\x02\x04", 4);
	zone_destroy(&z);
	zone_builder_destroy(&zb);
}

/* Expect add_rrset to refuse with code, and the message to hold needle. */
static void refused(zone_builder_t *zb, const char *owner, uint16_t type, const char *value,
		    int code, const char *needle)
{
	char *why = NULL;
	const char *recs[] = {value};
	int ret = zone_builder_add_rrset(zb, owner, type, 300, recs, value ? 1 : 0, &why);
	assert_int_equal(ret, code);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("\"%s\" does not mention \"%s\"", why, needle);
	free(why);
}

static void test_rejected_inputs_z1(void **state)
{
	zone_builder_t *zb = new_builder("contoso.com");
	ADD(zb, "web", KNOT_RRTYPE_A, 300, "10.10.2.5");
	ADD(zb, "alias", KNOT_RRTYPE_CNAME, 300, "web");
	refused(zb, "web", KNOT_RRTYPE_CNAME, "x.contoso.com.", PR_ECONFIG, "next to other data");
	refused(zb, "alias", KNOT_RRTYPE_TXT, "hello", PR_ECONFIG, "next to other data");
	refused(zb, "@", KNOT_RRTYPE_CNAME, "web", PR_ECONFIG, "apex");
	refused(zb, "sub", KNOT_RRTYPE_NS, "ns1.fabrikam.com.", PR_ECONFIG, "below the apex");
	refused(zb, "@", KNOT_RRTYPE_NS, "ns1.fabrikam.com.", PR_ECONFIG, "Z-1");
	refused(zb, "x", KNOT_RRTYPE_DNAME, "fabrikam.com.", PR_ECONFIG, "not served");
	refused(zb, "x", KNOT_RRTYPE_CAA, "0 issue \"ca.example\"", PR_ECONFIG, "not served");
	refused(zb, "web", KNOT_RRTYPE_A, "10.10.2.6", PR_EEXIST, "exists already");
	refused(zb, "sub", KNOT_RRTYPE_SOA, "a. b. 1 2 3 4 5", PR_ECONFIG, "apex");
	refused(zb, "mx", KNOT_RRTYPE_MX, "mail.contoso.com.", PR_EPARSE,
		"MX needs 'preference exchange'");
	refused(zb, "out.fabrikam.com.", KNOT_RRTYPE_A, "10.0.0.1", PR_ECONFIG, "outside the zone");
	refused(zb, "bad..name", KNOT_RRTYPE_A, "10.0.0.1", PR_EPARSE, "empty label");
	refused(zb, "empty", KNOT_RRTYPE_A, NULL, PR_ECONFIG, "at least one record");
	{
		const char *two[] = {"a.contoso.com.", "b.contoso.com."};
		char *why = NULL;
		assert_int_equal(zone_builder_add_rrset(zb, "two", KNOT_RRTYPE_CNAME, 300, two, 2,
							&why), PR_ECONFIG);
		free(why);
		/* The second value is the bad one: its index is named. */
		const char *as[] = {"10.0.0.1", "10.0.0.x"};
		assert_int_equal(zone_builder_add_rrset(zb, "as", KNOT_RRTYPE_A, 300, as, 2, &why),
				 PR_EPARSE);
		assert_non_null(strstr(why, "records[1]"));
		free(why);
		/* Nothing of a refused set stays behind. */
		assert_int_equal(zone_builder_add_rrset(zb, "as", KNOT_RRTYPE_A, 300, as, 1, NULL),
				 0);
	}

	/* One SOA only. */
	zone_soa_spec_t soa = MODEL_SOA_DEFAULTS;
	soa.minimum = 60;
	soa.serial = 42;
	assert_int_equal(zone_builder_set_soa(zb, &soa, NULL), 0);
	char *why = NULL;
	assert_int_equal(zone_builder_set_soa(zb, &soa, &why), PR_ECONFIG);
	assert_non_null(strstr(why, "one SOA"));
	free(why);
	refused(zb, "@", KNOT_RRTYPE_SOA, "a. b. 1 2 3 4 5", PR_ECONFIG, "one SOA");

	zone_t *z = NULL;
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(knot_soa_serial(zone_soa(z)->rrs.rdata), 42);
	zone_result_t r;
	assert_int_equal(lookup(z, "nope.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.soa->ttl, 60); /* RFC 2308: min(3600, 60) */
	zone_destroy(&z);
	zone_builder_destroy(&zb);

	zone_builder_t *bad = NULL;
	why = NULL;
	assert_int_equal(zone_builder_new("bad..zone", &bad, &why), PR_EPARSE);
	assert_null(bad);
	free(why);
}

static void test_iteration_and_counts(void **state)
{
	zone_t *z = contoso();
	/* SOA, MX, TXT, web A, mail A, mail AAAA, *.apps A, x.y.apps A, alias,
	 * ext, SRV, *.wild */
	assert_int_equal(zone_rrset_count(z), 12);
	assert_int_equal(zone_record_count(z), 14);
	const knot_rrset_t *prev = NULL;
	for (size_t i = 0; i < zone_rrset_count(z); i++) {
		const knot_rrset_t *rr = zone_rrset_at(z, i, NULL);
		assert_non_null(rr);
		if (prev)
			assert_true(knot_dname_cmp(prev->owner, rr->owner) < 0 ||
				    (knot_dname_is_equal(prev->owner, rr->owner) &&
				     prev->type < rr->type));
		prev = rr;
	}
	assert_null(zone_rrset_at(z, zone_rrset_count(z), NULL));
	/* The first set is the apex SOA (type 6 sorts before MX and TXT). */
	assert_int_equal(zone_rrset_at(z, 0, NULL)->type, KNOT_RRTYPE_SOA);
	zone_destroy(&z);
}

static char *write_file(const char *text)
{
	char *path = pr_strdup("/tmp/privres-zone-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_zone_file_import(void **state)
{
	char *path = write_file("$ORIGIN contoso.com.\n"
				"$TTL 600\n"
				"@ IN SOA ns1 hostmaster 7 3600 300 2419200 120\n"
				"@ IN NS ns1.contoso.com.\n"
				"web IN A 10.10.2.5\n"
				"web IN A 10.10.2.6\n"
				"WWW 300 IN CNAME web\n"
				"@ MX 10 web\n"
				"txt TXT \"one\" \"two\" ; comment\n");
	zone_builder_t *zb = new_builder("contoso.com");
	char *why = NULL;
	if (zone_builder_load_file(zb, path, &why) != 0)
		fail_msg("%s", why);
	zone_t *z = NULL;
	assert_int_equal(zone_build(zb, &z), 0);
	zone_result_t r;
	assert_int_equal(lookup(z, "web.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->rrs.count, 2);
	assert_int_equal(r.answer[0]->ttl, 600);
	assert_int_equal(lookup(z, "www.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_CNAME);
	assert_int_equal(r.answer[0]->ttl, 300);
	assert_int_equal(knot_soa_serial(zone_soa(z)->rrs.rdata), 7);
	/* The apex NS is left out. */
	assert_int_equal(lookup(z, "contoso.com.", KNOT_RRTYPE_NS, &r), 0);
	assert_int_equal(r.kind, ZONE_NODATA);
	assert_int_equal(r.soa->ttl, 120);
	assert_int_equal(lookup(z, "contoso.com.", KNOT_RRTYPE_MX, &r), 0);
	assert_int_equal(r.nadditional, 1);
	assert_int_equal(zone_rrset_count(z), 5);
	zone_destroy(&z);
	unlink(path);
	free(path);

	/* A refused record names file and line, and nothing of the file stays. */
	path = write_file("$ORIGIN contoso.com.\n"
			  "a IN A 10.0.0.1\n"
			  "a IN CNAME web\n");
	size_t before_sets;
	assert_int_equal(zone_build(zb, &z), 0);
	before_sets = zone_rrset_count(z);
	zone_destroy(&z);
	assert_int_equal(zone_builder_load_file(zb, path, &why), PR_ECONFIG);
	assert_non_null(strstr(why, ":3: "));
	assert_non_null(strstr(why, path));
	free(why);
	assert_int_equal(zone_build(zb, &z), 0);
	assert_int_equal(zone_rrset_count(z), before_sets);
	zone_destroy(&z);
	unlink(path);
	free(path);

	/* Syntax errors, delegations, names outside the zone, missing files. */
	path = write_file("a IN A 10.0.0.300\n");
	assert_int_equal(zone_builder_load_file(zb, path, &why), PR_EPARSE);
	assert_non_null(strstr(why, ":1: "));
	free(why);
	unlink(path);
	free(path);
	path = write_file("sub IN NS ns.fabrikam.com.\n");
	assert_int_equal(zone_builder_load_file(zb, path, &why), PR_ECONFIG);
	assert_non_null(strstr(why, "below the apex"));
	free(why);
	unlink(path);
	free(path);
	path = write_file("www.fabrikam.com. IN A 10.0.0.1\n");
	assert_int_equal(zone_builder_load_file(zb, path, &why), PR_ECONFIG);
	assert_non_null(strstr(why, "outside the zone"));
	free(why);
	unlink(path);
	free(path);
	assert_int_equal(zone_builder_load_file(zb, "/nonexistent/zone.txt", &why), PR_EIO);
	free(why);
	zone_builder_destroy(&zb);
}

/* L-11: 25000 record sets in one zone, with hosts among them; the Z-1 checks
 * and the Z-3 override stay correct (and quick: no scan per set). */
static void test_large_zone_l11(void **state)
{
	zone_builder_t *zb = new_builder("big.contoso.com");
	char name[32], addr[32];
	for (int i = 0; i < 25000; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		ADD(zb, name, KNOT_RRTYPE_A, 300, addr);
	}
	for (int i = 0; i < 2000; i++) {
		/* h0, h20, ... h24980 have manual sets; h25000 and on do not. */
		snprintf(name, sizeof(name), "h%d", i * 20);
		assert_int_equal(zone_builder_add_host_a(zb, name, 0xc0a80000u + (uint32_t)i, 10,
							 NULL), 0);
		snprintf(name, sizeof(name), "vm%d", i);
		assert_int_equal(zone_builder_add_host_a(zb, name, 0xc0a80000u + (uint32_t)i, 10,
							 NULL), 0);
	}
	refused(zb, "h24999", KNOT_RRTYPE_CNAME, "h1", PR_ECONFIG, "next to other data");
	zone_t *z = NULL;
	assert_int_equal(zone_build(zb, &z), 0);
	/* manual sets, the SOA, the vm hosts, the 750 h hosts not overridden */
	assert_int_equal(zone_rrset_count(z), 25000 + 1 + 2000 + 750);
	zone_result_t r;
	assert_int_equal(lookup(z, "h40.big.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->ttl, 300); /* the manual set, not the host */
	assert_int_equal(lookup(z, "vm1999.big.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->ttl, 10);
	assert_int_equal(lookup(z, "h25000.big.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.answer[0]->ttl, 10);
	assert_int_equal(lookup(z, "h25001.big.contoso.com.", KNOT_RRTYPE_A, &r), 0);
	assert_int_equal(r.kind, ZONE_NXDOMAIN);
	zone_destroy(&z);
	zone_builder_destroy(&zb);
}

/* A query for name/type as a client would send it. */
static void query(dns_query_t *q, uint8_t *buf, const char *name, uint16_t type)
{
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, 99);
	knot_wire_set_qdcount(buf, 1);
	assert_non_null(knot_dname_from_str(buf + KNOT_WIRE_HEADER_SIZE, name, KNOT_DNAME_MAXLEN));
	size_t len = KNOT_WIRE_HEADER_SIZE + knot_dname_size(buf + KNOT_WIRE_HEADER_SIZE);
	knot_wire_write_u16(buf + len, type);
	knot_wire_write_u16(buf + len + 2, KNOT_CLASS_IN);
	dns_query_parse(buf, len + 4, q);
	assert_int_equal(q->verdict, DNS_QUERY_OK);
}

static void test_result_write(void **state)
{
	zone_t *z = contoso();
	uint8_t buf[512], out[512];
	dns_query_t q;
	dns_answer_t a;
	zone_result_t r;

	/* Synthesized from *.apps, owner written as the question, case kept (W-5). */
	query(&q, buf, "FOO.Apps.contoso.com.", KNOT_RRTYPE_A);
	assert_int_equal(zone_lookup(z, q.qname_lower, q.qtype, &r), 0);
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	assert_int_equal(zone_result_write(&r, q.qname_lower, &a), 0);
	size_t n = dns_answer_finish(&a);
	knot_pkt_t *pkt = knot_pkt_new(out, (uint16_t)n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, KNOT_PF_NOCANON), 0);
	assert_true(knot_wire_get_aa(out));
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	assert_int_equal(an->count, 1);
	assert_true(knot_dname_is_equal(knot_pkt_rr(an, 0)->owner, knot_pkt_wire_qname(pkt)));
	assert_memory_equal(knot_pkt_rr(an, 0)->owner, "\x03" "FOO", 4);
	knot_pkt_free(pkt);

	/* NXDOMAIN with the SOA in the authority section. */
	query(&q, buf, "nope.contoso.com.", KNOT_RRTYPE_A);
	assert_int_equal(zone_lookup(z, q.qname_lower, q.qtype, &r), 0);
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	assert_int_equal(zone_result_write(&r, q.qname_lower, &a), 0);
	n = dns_answer_finish(&a);
	pkt = knot_pkt_new(out, (uint16_t)n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), 0);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(knot_pkt_section(pkt, KNOT_ANSWER)->count, 0);
	const knot_pktsection_t *ns = knot_pkt_section(pkt, KNOT_AUTHORITY);
	assert_int_equal(ns->count, 1);
	assert_int_equal(knot_pkt_rr(ns, 0)->type, KNOT_RRTYPE_SOA);
	assert_int_equal(knot_pkt_rr(ns, 0)->ttl, 300);
	knot_pkt_free(pkt);

	/* MX with its additional records. */
	query(&q, buf, "contoso.com.", KNOT_RRTYPE_MX);
	assert_int_equal(zone_lookup(z, q.qname_lower, q.qtype, &r), 0);
	assert_int_equal(dns_answer_begin(&a, out, sizeof(out), &q, false), 0);
	assert_int_equal(zone_result_write(&r, q.qname_lower, &a), 0);
	n = dns_answer_finish(&a);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_NOERROR);
	assert_int_equal(knot_wire_get_ancount(out), 1);
	assert_int_equal(knot_wire_get_arcount(out), 3);
	zone_destroy(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apex_and_soa_defaults_z2),
		cmocka_unit_test(test_exact_nodata_nxdomain_q2),
		cmocka_unit_test(test_wildcards_rfc4592),
		cmocka_unit_test(test_cname_q5),
		cmocka_unit_test(test_srv_additional_inside_zone_only),
		cmocka_unit_test(test_autoregistration_z3),
		cmocka_unit_test(test_rejected_inputs_z1),
		cmocka_unit_test(test_iteration_and_counts),
		cmocka_unit_test(test_zone_file_import),
		cmocka_unit_test(test_result_write),
		cmocka_unit_test(test_large_zone_l11),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
