/* The stub's local cache (positive and negative answers for their TTL, RFC
 * 2308, counted down by an injected clock), its hosts file, the overlay
 * agent's random choice, how replies are classified, and the configuration
 * file. */
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

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "stub/stub.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* A reply for name/A written byte by byte: rcode, an A record of ttl when
 * with_answer, an SOA (TTL soa_ttl, MINIMUM soa_min) in authority when
 * soa_ttl >= 0. Returns its length. */
static size_t reply(uint8_t *buf, const char *name, int rcode, bool with_answer, uint32_t ttl,
		    int soa_ttl, uint32_t soa_min)
{
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(buf, 77);
	knot_wire_set_qr(buf);
	knot_wire_set_rcode(buf, (uint8_t)rcode);
	knot_wire_set_qdcount(buf, 1);
	knot_wire_set_ancount(buf, with_answer ? 1 : 0);
	knot_wire_set_nscount(buf, soa_ttl >= 0 ? 1 : 0);
	size_t p = KNOT_WIRE_HEADER_SIZE;
	dns_name_info_t info;
	assert_int_equal(dns_name_from_text(name, buf + p, &info, NULL), 0);
	p += info.wire_len;
	knot_wire_write_u16(buf + p, KNOT_RRTYPE_A);
	knot_wire_write_u16(buf + p + 2, KNOT_CLASS_IN);
	p += 4;
	if (with_answer) {
		knot_wire_write_u16(buf + p, 0xC000 | KNOT_WIRE_HEADER_SIZE);
		knot_wire_write_u16(buf + p + 2, KNOT_RRTYPE_A);
		knot_wire_write_u16(buf + p + 4, KNOT_CLASS_IN);
		knot_wire_write_u32(buf + p + 6, ttl);
		knot_wire_write_u16(buf + p + 10, 4);
		knot_wire_write_u32(buf + p + 12, 0x0a010203);
		p += 16;
	}
	if (soa_ttl >= 0) {
		knot_wire_write_u16(buf + p, 0xC000 | KNOT_WIRE_HEADER_SIZE);
		knot_wire_write_u16(buf + p + 2, KNOT_RRTYPE_SOA);
		knot_wire_write_u16(buf + p + 4, KNOT_CLASS_IN);
		knot_wire_write_u32(buf + p + 6, (uint32_t)soa_ttl);
		knot_wire_write_u16(buf + p + 10, 22); /* root, root, five numbers */
		memset(buf + p + 12, 0, 22);
		knot_wire_write_u32(buf + p + 12 + 18, soa_min);
		p += 12 + 22;
	}
	return p;
}

static uint32_t first_ttl(const uint8_t *w, size_t len)
{
	/* header, question (name + 4), owner pointer (2), type, class: the TTL */
	size_t q = KNOT_WIRE_HEADER_SIZE + knot_dname_size(w + KNOT_WIRE_HEADER_SIZE) + 4;
	assert_true(q + 10 <= len);
	return knot_wire_read_u32(w + q + 2 + 4);
}

static void test_cache_positive_counts_down(void **state)
{
	uint8_t buf[1024], out[1024], name[DNS_NAME_MAXLEN];
	size_t len = reply(buf, "web.contoso.com.", KNOT_RCODE_NOERROR, true, 300, -1, 0);
	dns_name_from_text("web.contoso.com.", name, NULL, NULL);
	assert_int_equal(dns_message_lifetime(buf, len, 86400, 900), 300);
	stub_cache_t *c = stub_cache_new();
	stub_cache_put(c, name, KNOT_RRTYPE_A, buf, len, 1000);
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_A, 9, 1000 + 120500, out, sizeof(out)),
			 len);
	assert_int_equal(knot_wire_get_id(out), 9);
	assert_int_equal(first_ttl(out, len), 180); /* 300 − 120 whole seconds */
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_AAAA, 9, 2000, out, sizeof(out)), 0);
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_A, 9, 1000 + 300000, out, sizeof(out)),
			 0); /* expired */
	stub_cache_destroy(&c);
	assert_null(c);
}

static void test_cache_negative_rfc2308(void **state)
{
	uint8_t buf[1024], out[1024], name[DNS_NAME_MAXLEN];
	dns_name_from_text("gone.contoso.com.", name, NULL, NULL);
	/* min(SOA TTL 3600, MINIMUM 60) */
	size_t len = reply(buf, "gone.contoso.com.", KNOT_RCODE_NXDOMAIN, false, 0, 3600, 60);
	assert_int_equal(dns_message_lifetime(buf, len, 86400, 900), 60);
	/* capped by MaxNegativeCacheTtl */
	len = reply(buf, "gone.contoso.com.", KNOT_RCODE_NXDOMAIN, false, 0, 3600, 7200);
	assert_int_equal(dns_message_lifetime(buf, len, 86400, 900), 900);
	/* NODATA is negative too; without an SOA it is not kept */
	size_t nodata = reply(buf, "gone.contoso.com.", KNOT_RCODE_NOERROR, false, 0, -1, 0);
	assert_int_equal(dns_message_lifetime(buf, nodata, 86400, 900), 0);
	/* SERVFAIL never */
	size_t sf = reply(buf, "gone.contoso.com.", KNOT_RCODE_SERVFAIL, false, 0, 3600, 60);
	assert_int_equal(dns_message_lifetime(buf, sf, 86400, 900), 0);
	stub_cache_t *c = stub_cache_new();
	stub_cache_put(c, name, KNOT_RRTYPE_A, buf, sf, 0);
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_A, 1, 1, out, sizeof(out)), 0);
	len = reply(buf, "gone.contoso.com.", KNOT_RCODE_NXDOMAIN, false, 0, 3600, 60);
	stub_cache_put(c, name, KNOT_RRTYPE_A, buf, len, 0);
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_A, 1, 59999, out, sizeof(out)), len);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(stub_cache_get(c, name, KNOT_RRTYPE_A, 1, 60000, out, sizeof(out)), 0);
	/* truncated and malformed replies are not kept */
	len = reply(buf, "gone.contoso.com.", KNOT_RCODE_NOERROR, true, 300, -1, 0);
	assert_int_equal(dns_message_lifetime(buf, len - 1, 86400, 900), 0);
	knot_wire_set_tc(buf);
	assert_int_equal(dns_message_lifetime(buf, len, 86400, 900), 0);
	stub_cache_destroy(&c);
}

static void test_classify(void **state)
{
	uint8_t buf[1024];
	int rc;
	size_t len = reply(buf, "a.b.", KNOT_RCODE_NOERROR, true, 5, -1, 0);
	assert_int_equal(stub_classify_reply(buf, len, &rc), STUB_REPLY_POSITIVE);
	len = reply(buf, "a.b.", KNOT_RCODE_NOERROR, false, 5, 60, 60);
	assert_int_equal(stub_classify_reply(buf, len, &rc), STUB_REPLY_NEGATIVE);
	len = reply(buf, "a.b.", KNOT_RCODE_NXDOMAIN, false, 5, 60, 60);
	assert_int_equal(stub_classify_reply(buf, len, &rc), STUB_REPLY_NEGATIVE);
	assert_int_equal(rc, DNS_RCODE_NXDOMAIN);
	len = reply(buf, "a.b.", KNOT_RCODE_SERVFAIL, false, 5, -1, 0);
	assert_int_equal(stub_classify_reply(buf, len, &rc), STUB_REPLY_FAILURE);
	len = reply(buf, "a.b.", KNOT_RCODE_REFUSED, false, 5, -1, 0);
	assert_int_equal(stub_classify_reply(buf, len, &rc), STUB_REPLY_FAILURE);
	assert_int_equal(stub_classify_reply(buf, 3, &rc), STUB_REPLY_FAILURE);
}

static void test_hosts_file(void **state)
{
	size_t bad;
	stub_hosts_t *h = stub_hosts_parse("# comment\n"
					   "10.0.0.5   printer Printer.corp.local  # office\n"
					   "fe80::1    v6only\n"
					   "10.0.0.6 printer\n"
					   "garbage\n",
					   &bad);
	assert_int_equal(bad, 2);
	uint8_t name[DNS_NAME_MAXLEN];
	uint32_t out[4];
	dns_name_from_text("PRINTER.", name, NULL, NULL);
	dns_name_lower(name);
	assert_int_equal(stub_hosts_lookup(h, name, out, 4), 2);
	assert_int_equal(out[0], IP(10, 0, 0, 5));
	assert_int_equal(out[1], IP(10, 0, 0, 6));
	dns_name_from_text("printer.corp.local.", name, NULL, NULL);
	assert_int_equal(stub_hosts_lookup(h, name, out, 4), 1);
	dns_name_from_text("v6only.", name, NULL, NULL);
	assert_int_equal(stub_hosts_lookup(h, name, out, 4), 0);
	stub_hosts_destroy(&h);
}

/* Over many picks every system behind a name is chosen, and nothing else. */
static void test_agent_random_choice(void **state)
{
	stub_agent_t *a = stub_agent_new(42);
	assert_int_equal(stub_agent_add(a, "db.enclave.", IP(100, 64, 0, 5)), 0);
	assert_int_equal(stub_agent_add(a, "db.enclave.", IP(100, 64, 0, 6)), 0);
	assert_int_equal(stub_agent_add(a, "db.enclave.", IP(100, 64, 0, 7)), 0);
	assert_int_equal(stub_agent_add(a, "bad..name", 1), PR_EPARSE);
	uint8_t name[DNS_NAME_MAXLEN];
	dns_name_from_text("db.enclave.", name, NULL, NULL);
	int seen[3] = {0};
	for (int i = 0; i < 300; i++) {
		uint32_t addr;
		assert_true(stub_agent_pick(a, name, &addr));
		assert_true(addr >= IP(100, 64, 0, 5) && addr <= IP(100, 64, 0, 7));
		seen[addr - IP(100, 64, 0, 5)]++;
	}
	for (int i = 0; i < 3; i++)
		assert_true(seen[i] > 50);
	dns_name_from_text("web.enclave.", name, NULL, NULL);
	uint32_t addr;
	assert_false(stub_agent_pick(a, name, &addr));
	assert_false(stub_agent_knows(a, name));
	stub_agent_destroy(&a);
}

static void test_config(void **state)
{
	stub_config_t cfg;
	char *why = NULL;
	assert_int_equal(stub_config_parse("c", "listen 127.0.0.1:53\n"
						"log -\n"
						"adapter vpn 5 10.10.0.4 10.10.0.5:5353 # two\n"
						"adapter wifi 25 192.168.1.4\n"
						"agent 127.0.0.2:53\n"
						"agent-name db.enclave. 100.64.0.5\n",
					   1, &cfg, &why),
			 0);
	assert_int_equal(stub_client_n_servers(cfg.client), 3);
	uint32_t addr;
	uint16_t port;
	int adapter;
	stub_client_server(cfg.client, 1, &addr, &port, &adapter);
	assert_int_equal(addr, IP(10, 10, 0, 5));
	assert_int_equal(port, 5353);
	assert_string_equal(stub_client_adapter_name(cfg.client, adapter), "vpn");
	assert_true(cfg.agent);
	assert_int_equal(cfg.agent_addr, IP(127, 0, 0, 2));
	stub_config_free(&cfg);

	static const char *const bad[] = {
		"adapter vpn 5 10.10.0.4\n",                       /* no listen */
		"listen 127.0.0.1:53\nadapter vpn 0 10.0.0.1\n",   /* metric */
		"listen 127.0.0.1:53\nadapter vpn 5\n",            /* no server */
		"listen 127.0.0.1:53\nadapter vpn 5 10.0.0.300\n", /* address */
		"listen 127.0.0.1:53\nadapter a 5 1.1.1.1\nadapter a 6 1.1.1.2\n", /* twice */
		"listen 127.0.0.1\n",                               /* port */
		"listen 127.0.0.1:53\nresolver 1.1.1.1\n",          /* unknown */
		"listen 127.0.0.1:53\nagent-name x.enclave.\n",    /* no address */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(stub_config_parse("c", bad[i], 1, &cfg, &why), PR_ECONFIG);
		assert_non_null(why);
		assert_non_null(strstr(why, "c:"));
		free(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_positive_counts_down),
		cmocka_unit_test(test_cache_negative_rfc2308),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_hosts_file),
		cmocka_unit_test(test_agent_random_choice),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
