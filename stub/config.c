/* The stub's configuration file (stub.h): a few directives, one a line, so
 * that privres-topo can write it without a library and a person can read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "stub/stub.h"

#define MAX_WORDS 64

/* "a.b.c.d" or "a.b.c.d:port" (port 53 by default). */
static int server_parse(const char *text, uint32_t *addr, uint16_t *port)
{
	if (strchr(text, ':'))
		return pr_hostport_parse(text, addr, port);
	*port = DNS_PORT;
	return pr_ipv4_parse(text, addr);
}

static int fail(char **why, const char *file, int line, const char *msg, const char *word)
{
	*why = pr_asprintf("%s:%d: %s%s%s", file, line, msg, word ? ": " : "", word ? word : "");
	return PR_ECONFIG;
}

static int directive(stub_config_t *c, char **w, size_t n, const char *file, int line,
		     char **why)
{
	if (!strcmp(w[0], "listen") || !strcmp(w[0], "agent")) {
		bool agent = w[0][0] == 'a';
		if (n != 2 || pr_hostport_parse(w[1], agent ? &c->agent_addr : &c->listen_addr,
						agent ? &c->agent_port : &c->listen_port) != 0)
			return fail(why, file, line, "expected an address and port", w[0]);
		c->agent |= agent;
		return 0;
	}
	if (!strcmp(w[0], "log") || !strcmp(w[0], "hosts")) {
		char **slot = w[0][0] == 'l' ? &c->log_path : &c->hosts_path;
		if (n != 2)
			return fail(why, file, line, "expected one path", w[0]);
		free(*slot);
		*slot = pr_strdup(w[1]);
		return 0;
	}
	if (!strcmp(w[0], "adapter")) {
		char *end;
		unsigned long metric = n >= 3 ? strtoul(w[2], &end, 10) : 0;
		if (n < 4 || *end || metric == 0 || metric > 9999)
			return fail(why, file, line,
				    "expected: adapter NAME METRIC(1-9999) SERVER [SERVER…]",
				    NULL);
		int a = stub_client_add_adapter(c->client, w[1], (uint32_t)metric);
		if (a < 0)
			return fail(why, file, line, pr_strerror(a), w[1]);
		for (size_t i = 3; i < n; i++) {
			uint32_t addr;
			uint16_t port;
			if (server_parse(w[i], &addr, &port) != 0)
				return fail(why, file, line, "not an IPv4 address[:port]", w[i]);
			int r = stub_client_add_server(c->client, a, addr, port);
			if (r < 0)
				return fail(why, file, line, pr_strerror(r), w[i]);
		}
		return 0;
	}
	if (!strcmp(w[0], "agent-name")) {
		uint32_t addr;
		if (n != 3 || pr_ipv4_parse(w[2], &addr) != 0 ||
		    stub_agent_add(c->names, w[1], addr) != 0)
			return fail(why, file, line, "expected: agent-name NAME IPv4", NULL);
		return 0;
	}
	return fail(why, file, line, "unknown directive", w[0]);
}

int stub_config_parse(const char *file, const char *text, uint64_t seed, stub_config_t *cfg,
		      char **why)
{
	stub_config_t c = {.client = stub_client_new(), .names = stub_agent_new(seed)};
	char *copy = pr_strdup(text);
	int rc = 0, line = 0;
	for (char *p = copy, *next; p && !rc; p = next) {
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		line++;
		char *hash = strchr(p, '#');
		if (hash)
			*hash = '\0';
		char *w[MAX_WORDS], *save = NULL;
		size_t n = 0;
		for (char *t = strtok_r(p, " \t\r", &save); t && n < MAX_WORDS;
		     t = strtok_r(NULL, " \t\r", &save))
			w[n++] = t;
		if (n)
			rc = directive(&c, w, n, file, line, why);
	}
	free(copy);
	if (!rc && c.listen_port == 0)
		rc = fail(why, file, line, "a 'listen' directive is required", NULL);
	if (rc) {
		stub_config_free(&c);
		return rc;
	}
	*cfg = c;
	return 0;
}

void stub_config_free(stub_config_t *cfg)
{
	free(cfg->log_path);
	free(cfg->hosts_path);
	stub_client_destroy(&cfg->client);
	stub_agent_destroy(&cfg->names);
	memset(cfg, 0, sizeof(*cfg));
}
