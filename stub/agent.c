/* An overlay agent's DNS stub (Enclave's): it knows the names the overlay
 * gave it — each with the systems behind it that this host's policies let it
 * reach, worked out by whoever configures the agent (privres-topo from the
 * topology's overlay network) — and answers one of those systems at random,
 * with TTL 0 so that the next query chooses again. Any other name gets
 * SERVFAIL (server.c), so the operating system falls through to its other
 * adapters. */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "stub/stub.h"

#define AGENT_MAX_SYSTEMS 64 /* behind one name */

typedef struct aname {
	uint32_t addrs[AGENT_MAX_SYSTEMS];
	size_t n;
} aname_t;

struct stub_agent {
	pr_map_t *index; /* lowercase wire name → entry */
	aname_t *names;
	size_t n, cap;
	uint64_t rng;
};

stub_agent_t *stub_agent_new(uint64_t seed)
{
	stub_agent_t *a = pr_calloc(1, sizeof(*a));
	a->index = pr_map_new();
	a->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	return a;
}

void stub_agent_destroy(stub_agent_t **ap)
{
	if (!ap || !*ap)
		return;
	pr_map_destroy(&(*ap)->index);
	free((*ap)->names);
	free(*ap);
	*ap = NULL;
}

int stub_agent_add(stub_agent_t *a, const char *name, uint32_t addr)
{
	uint8_t wire[DNS_NAME_MAXLEN];
	if (dns_name_from_text(name, wire, NULL, NULL) != 0)
		return PR_EPARSE;
	size_t len = dns_name_wire_length(wire);
	int at = pr_map_get(a->index, wire, len);
	if (at < 0) {
		pr_grow(&a->names, &a->cap, a->n + 1, sizeof(*a->names));
		at = (int)a->n++;
		a->names[at].n = 0;
		pr_map_put(a->index, wire, len, at, NULL);
	}
	aname_t *e = &a->names[at];
	for (size_t i = 0; i < e->n; i++)
		if (e->addrs[i] == addr)
			return 0;
	if (e->n >= AGENT_MAX_SYSTEMS)
		return PR_ELIMIT;
	e->addrs[e->n++] = addr;
	return 0;
}

static const aname_t *find(const stub_agent_t *a, const uint8_t *qname_lower)
{
	int at = pr_map_get(a->index, qname_lower, dns_name_wire_length(qname_lower));
	return at < 0 ? NULL : &a->names[at];
}

bool stub_agent_knows(const stub_agent_t *a, const uint8_t *qname_lower)
{
	return find(a, qname_lower) != NULL;
}

/* xorshift64*: enough to spread choices, not a secret. */
static uint64_t next_random(stub_agent_t *a)
{
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return a->rng * 0x2545f4914f6cdd1dull;
}

bool stub_agent_pick(stub_agent_t *a, const uint8_t *qname_lower, uint32_t *addr)
{
	const aname_t *e = find(a, qname_lower);
	if (!e || e->n == 0)
		return false;
	*addr = e->addrs[(next_random(a) >> 33) % e->n];
	return true;
}
