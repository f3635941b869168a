/* Unit tests of rulesets/: the compiled forwarding-rule matcher (F-2, F-3, F-8, F-9, W-5). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings the library allocates go back to libc, not to cmocka's free. */
static void libc_free(void *p)
{
	free(p);
}

/* cmocka's order: these three first, and cmocka.h after every libc header
 * (under UNIT_TESTING it redefines malloc and free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "base/base.h"
#include "dns/dns.h"
#include "rulesets/rulesets.h"

/* Distinct addresses stand for the linker's compiled rules. */
static const char CONTOSO[] = "Contoso";
static const char AZURE_PRIVATE[] = "AzurePrivate";
static const char WILDCARD[] = "Wildcard";
static const char WINDOWS_NET[] = "windows.net rule";

static ruleset_matcher_t *build(ruleset_matcher_builder_t *b, bool with_reserved)
{
	ruleset_matcher_t *m = NULL;
	assert_int_equal(ruleset_matcher_build(b, with_reserved, &m), 0);
	assert_non_null(m);
	return m;
}

static ruleset_match_t match_text(const ruleset_matcher_t *m, const char *name)
{
	ruleset_match_t r;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(ruleset_matcher_match_text(m, name, &r), 0);
	return r;
}

static void assert_user(const ruleset_matcher_t *m, const char *name, const void *value,
			const char *domain, int labels)
{
	ruleset_match_t r = match_text(m, name);
	if (r.kind != RULESET_MATCH_USER)
		fail_msg("%s: expected user rule %s, got %s %s", name, domain,
			 ruleset_match_kind_name(r.kind), r.domain ? r.domain : "-");
	assert_ptr_equal(r.value, value);
	assert_string_equal(r.domain, domain);
	assert_int_equal(r.labels, labels);
}

static void assert_reserved(const ruleset_matcher_t *m, const char *name, const char *domain)
{
	ruleset_match_t r = match_text(m, name);
	if (r.kind != RULESET_MATCH_RESERVED)
		fail_msg("%s: expected reserved %s, got %s %s", name, domain,
			 ruleset_match_kind_name(r.kind), r.domain ? r.domain : "-");
	assert_null(r.value);
	assert_string_equal(r.domain, domain);
	assert_string_equal(ruleset_reserved_domain(r.index), domain);
	int labels = 0;
	for (const char *p = domain; *p; p++)
		labels += *p == '.';
	assert_int_equal(r.labels, labels);
}

static void assert_none(const ruleset_matcher_t *m, const char *name)
{
	ruleset_match_t r = match_text(m, name);
	if (r.kind != RULESET_MATCH_NONE)
		fail_msg("%s: expected no match, got %s %s", name, ruleset_match_kind_name(r.kind),
			 r.domain ? r.domain : "-");
	assert_null(r.value);
	assert_null(r.domain);
	assert_int_equal(r.labels, -1);
	assert_true(r.index == SIZE_MAX);
}

/* F-8: the documentation's example (Contoso, AzurePrivate, Wildcard): the rule
 * with the most labels among those the name falls under wins. */
static void test_f8_documentation_example(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", CONTOSO, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "azure.contoso.com.", AZURE_PRIVATE, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	assert_int_equal(ruleset_matcher_builder_count(b), 3);

	for (int with_reserved = 0; with_reserved <= 1; with_reserved++) {
		ruleset_matcher_t *m = build(b, with_reserved);
		assert_user(m, "secure.store.azure.contoso.com", AZURE_PRIVATE,
			    "azure.contoso.com.", 3);
		assert_user(m, "azure.contoso.com.", AZURE_PRIVATE, "azure.contoso.com.", 3);
		assert_user(m, "contoso.com", CONTOSO, "contoso.com.", 2);
		assert_user(m, "www.contoso.com", CONTOSO, "contoso.com.", 2);
		assert_user(m, "example.org", WILDCARD, ".", 0);
		/* "." itself falls under the wildcard only. */
		assert_user(m, ".", WILDCARD, ".", 0);
		/* The rule positions are those of insertion. */
		ruleset_match_t r = match_text(m, "a.azure.contoso.com");
		assert_int_equal(r.index, 1);
		ruleset_matcher_destroy(&m);
		assert_null(m);
	}
	ruleset_matcher_builder_destroy(&b);
	assert_null(b);
}

/* F-9: an explicit windows.net. rule forwards db.database.windows.net, but the
 * longer reserved core.windows.net keeps x.blob.core.windows.net with Azure DNS. */
static void test_f9_reserved_longer_than_user_rule(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "windows.net.", WINDOWS_NET, NULL), 0);

	ruleset_matcher_t *m = build(b, true);
	assert_true(ruleset_matcher_has_reserved(m));
	assert_reserved(m, "x.blob.core.windows.net", "core.windows.net.");
	assert_reserved(m, "core.windows.net", "core.windows.net.");
	assert_user(m, "db.database.windows.net", WINDOWS_NET, "windows.net.", 2);
	/* F-9: an explicit rule of equal length (the same name) wins over reserved windows.net. */
	assert_user(m, "windows.net", WINDOWS_NET, "windows.net.", 2);
	ruleset_matcher_destroy(&m);

	/* Built without the reserved domains, the user rule takes every name under it. */
	m = build(b, false);
	assert_false(ruleset_matcher_has_reserved(m));
	assert_user(m, "x.blob.core.windows.net", WINDOWS_NET, "windows.net.", 2);
	assert_none(m, "www.microsoft.com");
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-9: a rule for exactly a reserved domain, or below one, beats the reserved entry. */
static void test_f9_explicit_rule_for_reserved_name_wins(void **state)
{
	static const char CORE[] = "core", BLOB[] = "blob";
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "core.windows.net.", CORE, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "privatelink.blob.core.windows.net.", BLOB, NULL),
			 0);
	ruleset_matcher_t *m = build(b, true);
	assert_user(m, "x.blob.core.windows.net", CORE, "core.windows.net.", 3);
	assert_user(m, "core.windows.net", CORE, "core.windows.net.", 3);
	assert_user(m, "acct.privatelink.blob.core.windows.net", BLOB,
		    "privatelink.blob.core.windows.net.", 5);
	/* The shorter reserved windows.net still holds its other names. */
	assert_reserved(m, "db.database.windows.net", "windows.net.");
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-9: the wildcard "." does not capture names under reserved domains, in any
 * of the three clouds; other names still go to the wildcard. */
static void test_f9_wildcard_does_not_capture_reserved(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	ruleset_matcher_t *m = build(b, true);
	assert_reserved(m, "www.microsoft.com", "microsoft.com.");
	assert_reserved(m, "login.microsoftonline.com", "microsoftonline.com.");
	assert_reserved(m, "vault.azure.net", "azure.net.");
	assert_reserved(m, "x.blob.core.usgovcloudapi.net", "core.usgovcloudapi.net.");
	assert_reserved(m, "db.database.usgovcloudapi.net", "usgovcloudapi.net.");
	assert_reserved(m, "x.blob.core.chinacloudapi.cn", "core.chinacloudapi.cn.");
	assert_user(m, "example.org", WILDCARD, ".", 0);
	/* Whole labels: a name that merely ends with the same characters is not reserved. */
	assert_user(m, "notmicrosoft.com", WILDCARD, ".", 0);
	assert_user(m, "net", WILDCARD, ".", 0);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-9: the list compiled from rulesets/reserved_domains: canonical names, no
 * duplicates, the documented ones present, and each one matches itself. */
static void test_f9_reserved_list(void **state)
{
	size_t n = ruleset_reserved_count();
	assert_true(n >= 20);
	assert_null(ruleset_reserved_domain(n));
	const char *must[] = {"windows.net.",	   "azure.com.",	 "azure.net.",
			      "windowsazure.com.", "microsoft.com.",	 "core.windows.net.",
			      "microsoftonline.com.", "azure-automation.net.", "azure-api.net.",
			      "azurewebsites.net.", "cloudapp.net.",	 "trafficmanager.net.",
			      "usgovcloudapi.net.", "core.usgovcloudapi.net.", "windowsazure.us.",
			      "chinacloudapi.cn.",  "core.chinacloudapi.cn."};
	for (size_t k = 0; k < sizeof(must) / sizeof(must[0]); k++) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found = found || strcmp(ruleset_reserved_domain(i), must[k]) == 0;
		if (!found)
			fail_msg("%s missing from rulesets/reserved_domains", must[k]);
	}

	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	ruleset_matcher_t *m = build(b, true);
	assert_int_equal(ruleset_matcher_count(m), 0);
	for (size_t i = 0; i < n; i++) {
		const char *d = ruleset_reserved_domain(i);
		char *canon = dns_name_canonical(d);
		assert_non_null(canon);
		assert_string_equal(canon, d);
		libc_free(canon);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ruleset_reserved_domain(j), d);
		ruleset_match_t r = match_text(m, d);
		assert_int_equal(r.kind, RULESET_MATCH_RESERVED);
		assert_int_equal(r.index, i);
		char sub[DNS_NAME_TEXT_MAX];
		snprintf(sub, sizeof(sub), "Host.%s", d);
		assert_reserved(m, sub, d);
	}
	/* Without a wildcard, other names match nothing. */
	assert_none(m, "example.org");
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-9: the compiled table is the data file, entry for entry and in order: the
 * build-time generation neither drops nor invents names. */
static void test_f9_reserved_table_is_the_data_file(void **state)
{
	FILE *f = fopen(PRIVRES_SOURCE_DIR "/rulesets/reserved_domains", "r");
	assert_non_null(f);
	char line[512];
	size_t i = 0;
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *p = line, *end;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
				   end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		char want[512];
		snprintf(want, sizeof(want), "%s%s", p, end[-1] == '.' ? "" : ".");
		for (char *c = want; *c; c++)
			*c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
		const char *got = ruleset_reserved_domain(i);
		if (!got || strcmp(got, want) != 0)
			fail_msg("reserved entry %zu: file says %s, table says %s", i, want,
				 got ? got : "(end)");
		i++;
	}
	fclose(f);
	assert_int_equal(i, ruleset_reserved_count());
}

/* W-5: rules and queries compare case-insensitively; the reported domain is
 * canonical (lowercase); F-3: a second rule of the same domain in another case
 * is a duplicate. */
static void test_w5_case_insensitive(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "Azure.CONTOSO.com.", AZURE_PRIVATE, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "azure.contoso.COM.", CONTOSO, NULL), PR_EEXIST);
	const uint8_t upper_wire[] = "\x05" "AZURE" "\x07" "Contoso" "\x03" "cOm";
	assert_int_equal(ruleset_matcher_add_wire(b, upper_wire, CONTOSO), PR_EEXIST);
	assert_int_equal(ruleset_matcher_builder_count(b), 1);
	const uint8_t upper_rule[] = "\x04" "CORP" "\x07" "CONTOSO" "\x03" "COM";
	assert_int_equal(ruleset_matcher_add_wire(b, upper_rule, CONTOSO), 0);
	/* 0xC3 and 0xE3 differ by 0x20 like 'C' and 'c', but are not letters. */
	assert_int_equal(ruleset_matcher_add(b, "\\195.example.", WILDCARD, NULL), 0);

	ruleset_matcher_t *m = build(b, false);
	assert_user(m, "WWW.Azure.Contoso.Com", AZURE_PRIVATE, "azure.contoso.com.", 3);
	assert_user(m, "x.Corp.contoso.com", CONTOSO, "corp.contoso.com.", 3);
	/* The wire form of the query, mixed case, as a client sends it. */
	const uint8_t q[] = "\x03" "WwW" "\x05" "aZuRe" "\x07" "CONTOSO" "\x03" "com";
	ruleset_match_t r;
	assert_int_equal(ruleset_matcher_match(m, q, &r), 0);
	assert_int_equal(r.kind, RULESET_MATCH_USER);
	assert_ptr_equal(r.value, AZURE_PRIVATE);
	/* Only ASCII letters fold (RFC 4343): other octets compare as they are. */
	assert_user(m, "a.\\195.example", WILDCARD, "\\195.example.", 2);
	assert_none(m, "a.\\227.example");
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-8: matching is by whole labels: notcontoso.com is not under contoso.com. */
static void test_f8_whole_labels(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", CONTOSO, NULL), 0);
	ruleset_matcher_t *m = build(b, false);
	assert_none(m, "notcontoso.com");
	assert_none(m, "contoso.com.evil.org");
	assert_none(m, "com");
	assert_none(m, "contoso.co");
	assert_none(m, "ontoso.com");
	assert_user(m, "a.b.c.d.contoso.com", CONTOSO, "contoso.com.", 2);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-2, F-8: single-label rule domains and single-label query names. */
static void test_f8_single_label_names(void **state)
{
	static const char LOCAL[] = "local";
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "local.", LOCAL, NULL), 0);
	ruleset_matcher_t *m = build(b, false);
	assert_user(m, "local", LOCAL, "local.", 1);
	assert_user(m, "printer.LOCAL.", LOCAL, "local.", 1);
	assert_none(m, "intranet");
	assert_none(m, "localhost");
	ruleset_matcher_destroy(&m);

	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	m = build(b, false);
	assert_user(m, "intranet", WILDCARD, ".", 0);
	assert_user(m, "local", LOCAL, "local.", 1);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-2: a rule of 34 labels (the most a rule may hold) matches itself and the
 * names under it, and not its shorter suffixes. */
static void test_f2_34_label_rule(void **state)
{
	static const char DEEP[] = "deep";
	char name[DNS_NAME_TEXT_MAX] = "";
	for (int i = 34; i >= 1; i--) {
		char label[16];
		snprintf(label, sizeof(label), "l%d.", i);
		strcat(name, label);
	}
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, name, DEEP, NULL), 0);
	ruleset_matcher_t *m = build(b, true);
	assert_user(m, name, DEEP, name, 34);
	char under[DNS_NAME_TEXT_MAX + 8]; /* "host." and the name, whatever its length */
	snprintf(under, sizeof(under), "host.%s", name);
	assert_user(m, under, DEEP, name, 34);
	/* l33. ... l1. (the rule minus its leftmost label) is not under it. */
	assert_none(m, strchr(name, '.') + 1);
	/* Differs only in the deepest label. */
	under[0] = '\0';
	strcat(under, "l35.");
	strcat(under, strchr(name, '.') + 1);
	assert_none(m, under);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-8: with no wildcard, a name under no rule matches nothing (Q-4 follows). */
static void test_f8_no_match_without_wildcard(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	ruleset_matcher_t *m = build(b, false);
	assert_int_equal(ruleset_matcher_count(m), 0);
	assert_none(m, "example.org");
	assert_none(m, ".");
	ruleset_matcher_destroy(&m);

	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", CONTOSO, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "azure.contoso.com.", AZURE_PRIVATE, NULL), 0);
	m = build(b, true);
	assert_none(m, "example.org");
	assert_none(m, "contoso.org");
	assert_user(m, "contoso.com", CONTOSO, "contoso.com.", 2);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

/* F-2, F-3: malformed domains and duplicates are refused and leave the builder
 * unchanged; malformed query names are refused with *out untouched (W-3). */
static void test_f2_f3_refusals(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	const char *why = NULL;
	assert_int_equal(ruleset_matcher_add(b, "contoso.com", CONTOSO, &why), PR_EPARSE);
	assert_non_null(why);
	assert_non_null(strstr(why, "F-2"));
	why = NULL;
	assert_int_equal(ruleset_matcher_add(b, "a..b.", CONTOSO, &why), PR_EPARSE);
	assert_non_null(why);
	assert_int_equal(ruleset_matcher_add(b, "", CONTOSO, NULL), PR_EPARSE);
	char long_label[80];
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".com.");
	assert_int_equal(ruleset_matcher_add(b, long_label, CONTOSO, NULL), PR_EPARSE);
	const uint8_t bad_wire[] = {0xc0, 0x0c};
	assert_int_equal(ruleset_matcher_add_wire(b, bad_wire, CONTOSO), PR_EPARSE);

	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, ".", CONTOSO, NULL), PR_EEXIST);
	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", CONTOSO, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", WILDCARD, NULL), PR_EEXIST);
	assert_int_equal(ruleset_matcher_builder_count(b), 2);

	ruleset_matcher_t *m = build(b, false);
	assert_user(m, "contoso.com", CONTOSO, "contoso.com.", 2);
	assert_user(m, "x.org", WILDCARD, ".", 0);

	ruleset_match_t r = {.kind = RULESET_MATCH_USER, .labels = 42};
	/* A compression pointer, a 64-octet label, a name past 255 octets. */
	assert_int_equal(ruleset_matcher_match(m, bad_wire, &r), PR_EPARSE);
	uint8_t wire[300];
	memset(wire, 0, sizeof(wire));
	wire[0] = 64;
	memset(wire + 1, 'a', 64);
	assert_int_equal(ruleset_matcher_match(m, wire, &r), PR_EPARSE);
	memset(wire, 0, sizeof(wire));
	for (size_t pos = 0; pos + 64 < sizeof(wire); pos += 64) {
		wire[pos] = 63;
		memset(wire + pos + 1, 'b', 63);
	}
	assert_int_equal(ruleset_matcher_match(m, wire, &r), PR_EPARSE);
	assert_int_equal(r.kind, RULESET_MATCH_USER);
	assert_int_equal(r.labels, 42);
	assert_int_equal(ruleset_matcher_match_text(m, "a..b", &r), PR_EPARSE);
	/* A name of exactly 255 octets is fine: 3 labels of 63, one of 61. */
	memset(wire, 0, sizeof(wire));
	size_t pos = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t len = i < 3 ? 63 : 61;
		wire[pos] = len;
		memset(wire + pos + 1, 'c', len);
		pos += len + 1u;
	}
	assert_int_equal(pos + 1, 255);
	assert_int_equal(ruleset_matcher_match(m, wire, &r), 0);
	assert_int_equal(r.kind, RULESET_MATCH_USER);
	assert_ptr_equal(r.value, WILDCARD);

	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
	/* Destructors accept NULL and a NULL pointer. */
	ruleset_matcher_destroy(NULL);
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(NULL);
}

/* Iteration in insertion order; a builder stays usable after a build, and
 * later additions do not reach matchers built before them. */
static void test_iterate_and_rebuild(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "B.example.", CONTOSO, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	ruleset_matcher_t *m1 = build(b, false);
	assert_int_equal(ruleset_matcher_add(b, "a.example.", AZURE_PRIVATE, NULL), 0);
	ruleset_matcher_t *m2 = build(b, true);

	assert_int_equal(ruleset_matcher_count(m1), 2);
	assert_int_equal(ruleset_matcher_count(m2), 3);
	const char *domain = NULL;
	const void *value = NULL;
	assert_int_equal(ruleset_matcher_get(m2, 0, &domain, &value), 0);
	assert_string_equal(domain, "b.example.");
	assert_ptr_equal(value, CONTOSO);
	assert_int_equal(ruleset_matcher_get(m2, 1, &domain, &value), 0);
	assert_string_equal(domain, ".");
	assert_int_equal(ruleset_matcher_get(m2, 2, &domain, &value), 0);
	assert_string_equal(domain, "a.example.");
	assert_ptr_equal(value, AZURE_PRIVATE);
	domain = "unchanged";
	assert_int_equal(ruleset_matcher_get(m2, 3, &domain, &value), PR_ENOTFOUND);
	assert_string_equal(domain, "unchanged");

	assert_user(m1, "x.a.example", WILDCARD, ".", 0);
	assert_user(m2, "x.a.example", AZURE_PRIVATE, "a.example.", 2);
	assert_user(m1, "www.microsoft.com", WILDCARD, ".", 0);
	assert_reserved(m2, "www.microsoft.com", "microsoft.com.");

	/* The matcher outlives its builder. */
	ruleset_matcher_builder_destroy(&b);
	assert_user(m2, "y.b.example", CONTOSO, "b.example.", 2);
	ruleset_matcher_destroy(&m1);
	ruleset_matcher_destroy(&m2);
}

#define MANY 100000
#define GROUPS 97

static void many_rule_name(char *buf, size_t len, int i)
{
	/* Depths 2 to 4, sharing parents, so the trie has wide and deep nodes. */
	switch (i % 3) {
	case 0:
		snprintf(buf, len, "r%d.example.", i);
		break;
	case 1:
		snprintf(buf, len, "r%d.g%d.example.", i, i % GROUPS);
		break;
	default:
		snprintf(buf, len, "svc%d.r%d.g%d.corp.", i, i, i % GROUPS);
		break;
	}
}

/* F-8: 100,000 rules (far beyond L-1) are built, and each name matches its own
 * rule, whatever the table's growth did. */
static void test_f8_hundred_thousand_rules(void **state)
{
	int *values = calloc(MANY, sizeof(*values));
	assert_non_null(values);
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	char name[128], q[160];
	for (int i = 0; i < MANY; i++) {
		many_rule_name(name, sizeof(name), i);
		assert_int_equal(ruleset_matcher_add(b, name, &values[i], NULL), 0);
	}
	assert_int_equal(ruleset_matcher_builder_count(b), MANY);
	many_rule_name(name, sizeof(name), 4242);
	assert_int_equal(ruleset_matcher_add(b, name, NULL, NULL), PR_EEXIST);

	ruleset_matcher_t *m = build(b, true);
	assert_int_equal(ruleset_matcher_count(m), MANY);
	for (int i = 0; i < MANY; i++) {
		many_rule_name(name, sizeof(name), i);
		snprintf(q, sizeof(q), "Host-%d.%s", i, name);
		ruleset_match_t r = match_text(m, q);
		if (r.kind != RULESET_MATCH_USER || r.value != &values[i] ||
		    strcmp(r.domain, name) != 0)
			fail_msg("%s: expected %s, got %s %s", q, name,
				 ruleset_match_kind_name(r.kind), r.domain ? r.domain : "-");
	}
	/* Parents without a rule of their own match nothing; near misses too. */
	assert_none(m, "g5.example");
	assert_none(m, "x.r1.corp");
	assert_none(m, "r100000.example");
	assert_reserved(m, "x.blob.core.windows.net", "core.windows.net.");
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
	free(values);
}

/* A built matcher is read by many worker threads at once (design.md §3). */
typedef struct worker {
	const ruleset_matcher_t *m;
	int mismatches;
} worker_t;

static void *worker_run(void *arg)
{
	worker_t *w = arg;
	for (int i = 0; i < 20000; i++) {
		ruleset_match_t r;
		const char *q = (i % 3 == 0)   ? "a.azure.contoso.com"
				: (i % 3 == 1) ? "x.blob.core.windows.net"
					       : "example.org";
		if (ruleset_matcher_match_text(w->m, q, &r) != 0) {
			w->mismatches++;
			continue;
		}
		const void *want = (i % 3 == 0) ? AZURE_PRIVATE : (i % 3 == 1) ? NULL : WILDCARD;
		if (r.value != want)
			w->mismatches++;
	}
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	assert_int_equal(ruleset_matcher_add(b, "contoso.com.", CONTOSO, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, "azure.contoso.com.", AZURE_PRIVATE, NULL), 0);
	assert_int_equal(ruleset_matcher_add(b, ".", WILDCARD, NULL), 0);
	ruleset_matcher_t *m = build(b, true);
	pthread_t th[4];
	worker_t w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (worker_t){.m = m};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].mismatches, 0);
	}
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
}

static void test_match_kind_names(void **state)
{
	assert_string_equal(ruleset_match_kind_name(RULESET_MATCH_NONE), "none");
	assert_string_equal(ruleset_match_kind_name(RULESET_MATCH_USER), "user");
	assert_string_equal(ruleset_match_kind_name(RULESET_MATCH_RESERVED), "reserved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_f8_documentation_example),
		cmocka_unit_test(test_f9_reserved_longer_than_user_rule),
		cmocka_unit_test(test_f9_explicit_rule_for_reserved_name_wins),
		cmocka_unit_test(test_f9_wildcard_does_not_capture_reserved),
		cmocka_unit_test(test_f9_reserved_list),
		cmocka_unit_test(test_f9_reserved_table_is_the_data_file),
		cmocka_unit_test(test_w5_case_insensitive),
		cmocka_unit_test(test_f8_whole_labels),
		cmocka_unit_test(test_f8_single_label_names),
		cmocka_unit_test(test_f2_34_label_rule),
		cmocka_unit_test(test_f8_no_match_without_wildcard),
		cmocka_unit_test(test_f2_f3_refusals),
		cmocka_unit_test(test_iterate_and_rebuild),
		cmocka_unit_test(test_f8_hundred_thousand_rules),
		cmocka_unit_test(test_concurrent_readers),
		cmocka_unit_test(test_match_kind_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
