/* Views per VNet, and loop detection (P-1, P-2) over the forwarding graph of
 * views and external servers. */
#include "linker/linker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct linker {
	const deployment_t *d;
	linker_view_t *views;
	size_t n_views;
	linker_zone_link_t *zone_links;    /* all views' zone links, one block */
	ruleset_matcher_t **zone_matchers; /* owned, one per view */
	ruleset_matcher_t **rule_matchers; /* owned, one per ruleset, shared by its views */
};

void linker_classify_target(const deployment_t *d, uint32_t address, uint16_t port,
			    linker_target_t *out)
{
	*out = (linker_target_t){.kind = LINKER_TARGET_OUTSIDE, -1, -1, -1, -1};
	const model_resolver_t *r = NULL;
	/* Inbound endpoints listen on the DNS port of their address. */
	const model_inbound_endpoint_t *ie =
		port == DNS_PORT ? deployment_find_inbound_by_address(d, address, &r) : NULL;
	if (ie) {
		*out = (linker_target_t){LINKER_TARGET_INBOUND, (int)(r - d->resolvers),
					 (int)(ie - r->inbound), r->vnet, -1};
		return;
	}
	const model_external_server_t *x = deployment_find_external(d, address, port);
	if (x)
		*out = (linker_target_t){LINKER_TARGET_EXTERNAL, -1, -1, -1,
					 (int)(x - d->external_servers)};
}

/* ---- P-1 ------------------------------------------------------------------- */

static void report(pr_diag_t *diag, const deployment_t *d, const model_origin_t *o,
		   const char *key, const char *rule, const char *msg)
{
	int line, col;
	deployment_locate(d, o->node, key, &line, &col);
	char path[1024];
	snprintf(path, sizeof(path), "%s%s%s", o->path, key ? "." : "", key ? key : "");
	pr_diag_add(diag, d->file, line, col, path, rule, PR_ELOOP, "%s", msg);
}

/* P-1 for the rulesets in only (NULL: all). */
static void check_direct_loops(const deployment_t *d, const bool *only, pr_diag_t *diag)
{
	char ip[16];
	for (size_t i = 0; i < d->n_rulesets; i++) {
		const model_ruleset_t *rs = &d->rulesets[i];
		if (rs->n_links == 0 || (only && !only[i]))
			continue;
		/* The inbound endpoints the ruleset's rules target, classified once. */
		for (size_t r = 0; r < rs->n_rules; r++) {
			const model_rule_t *rule = &rs->rules[r];
			for (size_t t = 0; t < rule->n_targets; t++) {
				linker_target_t lt;
				linker_classify_target(d, rule->targets[t].address, rule->targets[t].port,
						       &lt);
				if (lt.kind != LINKER_TARGET_INBOUND || lt.vnet < 0)
					continue;
				for (size_t k = 0; k < rs->n_links; k++) {
					const model_vnet_link_t *l = &rs->links[k];
					if (l->vnet != lt.vnet)
						continue;
					const model_resolver_t *res = &d->resolvers[lt.resolver];
					char *msg = pr_asprintf(
						"ruleset '%s' is linked to virtual network '%s' (link "
						"'%s') but its rule '%s' forwards '%s' to inbound "
						"endpoint %s/%s (%s), which is in '%s' itself: every "
						"such query would come back to the same ruleset. Link "
						"the ruleset elsewhere, or resolve that name in '%s' "
						"with a private zone link instead",
						rs->name, d->vnets[l->vnet].name, l->name, rule->name,
						rule->domain_name, res->name,
						res->inbound[lt.endpoint].name,
						pr_ipv4_format(rule->targets[t].address, ip),
						d->vnets[l->vnet].name, d->vnets[l->vnet].name);
					report(diag, d, &l->origin, "virtualNetwork", "P-1", msg);
					free(msg);
				}
			}
		}
	}
}

/* ---- P-2 ---------------------------------------------------------------------- */

/* A node of the forwarding graph: a VNet's view or an external server. */
typedef struct node {
	bool external;
	int index;
} node_t;

/* One step of a path: from a node, for names under `domain`, through a rule
 * (or an external server's forwarder) to a target node. */
typedef struct step {
	node_t from;
	const uint8_t *domain; /* the narrowed name set after this step */
	const char *via;       /* "hub-rules: azure.contoso.com." */
	const model_origin_t *origin;
	node_t to;
	const char *to_text; /* "hub-resolver/in (hub)" */
} step_t;

typedef struct search {
	const deployment_t *d;
	pr_diag_t *diag;
	step_t path[64];
	size_t depth;
	char **seen_cycles; /* cycles reported, to report each once */
	size_t n_seen, cap_seen;
	size_t budget; /* bounds the search on pathological graphs */
	int *ruleset_of_vnet;         /* VNet → linked ruleset, or -1 */
	bool *zone_linked;            /* [vnet * n_zones + zone] */
	bool *rule_relevant;          /* per ruleset, per rule: a target we answer ourselves */
	bool *relevant_known;         /* per ruleset: rule_relevant filled in (on first use) */
	size_t *rule_base;            /* first index of a ruleset's rules in rule_relevant */
	uint8_t (*reserved)[DNS_NAME_MAXLEN];
	size_t n_reserved;
	pr_map_t *done;               /* (node, names) explored without a cycle */
	/* The rules a ruleset follows for a set of names, found once per ruleset
	 * and names: every VNet linked to the ruleset reads the same. */
	pr_map_t *follow_index;       /* (ruleset, names) → follow_lists[i] */
	struct follow_list {
		size_t *rules;
		size_t n;
	} *follow_lists;
	size_t n_lists, cap_lists;
} search_t;

static bool under(const uint8_t *name, const uint8_t *suffix)
{
	return dns_name_is_under(name, suffix);
}

static const uint8_t *deeper(const uint8_t *a, const uint8_t *b)
{
	return dns_name_label_count(a) >= dns_name_label_count(b) ? a : b;
}

/* Is a reserved domain (F-9) longer than the rule's domain covering all of
 * `names`? Then the rule does not forward them: Azure DNS answers. */
static bool reserved_overrides(const search_t *s, const uint8_t *rule_domain,
			       const uint8_t *names)
{
	int rl = dns_name_label_count(rule_domain);
	for (size_t i = 0; i < s->n_reserved; i++)
		if (dns_name_label_count(s->reserved[i]) > rl && under(names, s->reserved[i]))
			return true;
	return false;
}

static void node_text(const search_t *s, node_t n, char *buf, size_t len)
{
	const deployment_t *d = s->d;
	if (n.external) {
		const model_external_server_t *x = &d->external_servers[n.index];
		char ip[16];
		snprintf(buf, len, "%s (%s:%u)", x->name, pr_ipv4_format(x->address, ip), x->port);
	} else {
		snprintf(buf, len, "%s", d->vnets[n.index].name);
	}
}

static void explore(search_t *s, node_t at, const uint8_t *names);

static void follow(search_t *s, node_t at, const uint8_t *names, const uint8_t *rule_domain,
		   const model_target_t *targets, size_t n_targets, const char *via,
		   const model_origin_t *origin)
{
	const deployment_t *d = s->d;
	const uint8_t *narrowed = deeper(names, rule_domain);
	for (size_t t = 0; t < n_targets; t++) {
		linker_target_t lt;
		linker_classify_target(d, targets[t].address, targets[t].port, &lt);
		if (lt.kind == LINKER_TARGET_OUTSIDE || (lt.kind == LINKER_TARGET_INBOUND && lt.vnet < 0))
			continue;
		node_t to = {.external = lt.kind == LINKER_TARGET_EXTERNAL,
			     .index = lt.kind == LINKER_TARGET_EXTERNAL ? lt.external : lt.vnet};
		char to_text[512];
		if (to.external) {
			node_text(s, to, to_text, sizeof(to_text));
		} else {
			const model_resolver_t *r = &d->resolvers[lt.resolver];
			snprintf(to_text, sizeof(to_text), "%s/%s (%s)", r->name,
				 r->inbound[lt.endpoint].name, d->vnets[lt.vnet].name);
		}
		if (s->depth >= sizeof(s->path) / sizeof(*s->path))
			return;
		step_t *st = &s->path[s->depth++];
		*st = (step_t){at, narrowed, via, origin, to, pr_strdup(to_text)};
		explore(s, to, narrowed);
		free((char *)st->to_text);
		s->depth--;
	}
}

static bool cycle_seen(search_t *s, const char *key)
{
	for (size_t i = 0; i < s->n_seen; i++)
		if (!strcmp(s->seen_cycles[i], key))
			return true;
	pr_grow(&s->seen_cycles, &s->cap_seen, s->n_seen + 1, sizeof(char *));
	s->seen_cycles[s->n_seen++] = pr_strdup(key);
	return false;
}

/* The path from step `from` back to the node it started at is a cycle. */
static void report_cycle(search_t *s, size_t from)
{
	if (s->depth - from == 1 && !s->path[from].from.external)
		return; /* one hop back into the same VNet is P-1, reported on its own */
	/* The same cycle is found from each of its nodes: key it by its
	 * smallest rotation of step texts. */
	pr_buf_t key = {0};
	size_t n = s->depth - from, best = 0;
	for (size_t r = 1; r < n; r++)
		if (strcmp(s->path[from + r].via, s->path[from + best].via) < 0)
			best = r;
	for (size_t i = 0; i < n; i++)
		pr_buf_printf(&key, "%s|%s;", s->path[from + (best + i) % n].via,
			      s->path[from + (best + i) % n].to_text);
	bool seen = cycle_seen(s, key.data);
	pr_buf_free(&key);
	if (seen)
		return;
	pr_buf_t msg = {0};
	char first[512];
	node_text(s, s->path[from].from, first, sizeof(first));
	char name[DNS_NAME_TEXT_MAX];
	dns_name_to_text(s->path[s->depth - 1].domain, name, sizeof(name));
	pr_buf_printf(&msg, "forwarding loop for %s: %s", name, first);
	for (size_t i = from; i < s->depth; i++)
		pr_buf_printf(&msg, " -[%s]-> %s", s->path[i].via, s->path[i].to_text);
	report(s->diag, s->d, s->path[from].origin, NULL, "P-2", msg.data);
	pr_buf_free(&msg);
}

static bool same_node(node_t a, node_t b)
{
	return a.external == b.external && a.index == b.index;
}

/* Which rules of ruleset rsi target a server privres answers itself: only
 * the rulesets a search reaches, as a change starts it from a few views. */
static void find_relevant_rules(search_t *s, int rsi)
{
	const model_ruleset_t *rs = &s->d->rulesets[rsi];
	for (size_t r = 0; r < rs->n_rules; r++)
		for (size_t t = 0; t < rs->rules[r].n_targets; t++) {
			linker_target_t lt;
			linker_classify_target(s->d, rs->rules[r].targets[t].address,
					       rs->rules[r].targets[t].port, &lt);
			if (lt.kind != LINKER_TARGET_OUTSIDE)
				s->rule_relevant[s->rule_base[rsi] + r] = true;
		}
	s->relevant_known[rsi] = true;
}

/* F-8: the longest rule of ruleset rsi over all of `names`, and every rule
 * inside it, that could close a loop (a target privres answers itself). */
static const struct follow_list *rules_to_follow(search_t *s, int rsi, const uint8_t *names)
{
	uint8_t key[sizeof(int) + DNS_NAME_MAXLEN];
	size_t len = dns_name_wire_length(names);
	memcpy(key, &rsi, sizeof(int));
	memcpy(key + sizeof(int), names, len);
	int at = pr_map_get(s->follow_index, key, sizeof(int) + len);
	if (at >= 0)
		return &s->follow_lists[at];

	const model_ruleset_t *rs = &s->d->rulesets[rsi];
	if (!s->relevant_known[rsi])
		find_relevant_rules(s, rsi);
	const model_rule_t *cover = NULL;
	for (size_t r = 0; r < rs->n_rules; r++) {
		const model_rule_t *rule = &rs->rules[r];
		if (rule->enabled && under(names, rule->domain_wire) &&
		    (!cover || rule->labels > cover->labels))
			cover = rule;
	}
	struct follow_list fl = {0};
	size_t cap = 0;
	for (size_t r = 0; r < rs->n_rules; r++) {
		const model_rule_t *rule = &rs->rules[r];
		/* Rules whose targets are all outside privres can't close a loop. */
		if (!rule->enabled || !s->rule_relevant[s->rule_base[rsi] + r])
			continue;
		bool inside = under(rule->domain_wire, names) &&
			      dns_name_label_count(rule->domain_wire) > dns_name_label_count(names);
		if (rule != cover && !inside)
			continue;
		if (reserved_overrides(s, rule->domain_wire, deeper(names, rule->domain_wire)))
			continue;
		pr_grow(&fl.rules, &cap, fl.n + 1, sizeof(size_t));
		fl.rules[fl.n++] = r;
	}
	pr_grow(&s->follow_lists, &s->cap_lists, s->n_lists + 1, sizeof(*s->follow_lists));
	s->follow_lists[s->n_lists] = fl;
	pr_map_put(s->follow_index, key, sizeof(int) + len, (int)s->n_lists, NULL);
	return &s->follow_lists[s->n_lists++];
}

static void explore_view(search_t *s, node_t at, const uint8_t *names)
{
	const deployment_t *d = s->d;
	int v = at.index;
	/* a linked zone over all of `names` answers them; no forwarding. */
	for (size_t i = 0; i < d->n_zones; i++)
		if (s->zone_linked[(size_t)v * d->n_zones + i] && under(names, d->zones[i].name_wire))
			return;
	int rsi = s->ruleset_of_vnet[v];
	if (rsi < 0)
		return;
	const model_ruleset_t *rs = &d->rulesets[rsi];
	/* a copy: following may add lists and move them (each list's rules stay) */
	const struct follow_list fl = *rules_to_follow(s, rsi, names);
	for (size_t k = 0; k < fl.n; k++) {
		const model_rule_t *rule = &rs->rules[fl.rules[k]];
		char via[600];
		snprintf(via, sizeof(via), "%s: %s", rs->name, rule->domain_name);
		follow(s, at, names, rule->domain_wire, rule->targets, rule->n_targets, via,
		       &rule->origin);
	}
}

static void explore_external(search_t *s, node_t at, const uint8_t *names)
{
	const model_external_server_t *x = &s->d->external_servers[at.index];
	/* [privres] an external server answers from the longest of its zones and
	 * forwarders that covers the name. */
	int zone_labels = -1;
	for (size_t z = 0; z < x->n_zones; z++)
		if (under(names, x->zones[z].name_wire) && x->zones[z].labels > zone_labels)
			zone_labels = x->zones[z].labels;
	const model_forwarder_t *cover = NULL;
	for (size_t f = 0; f < x->n_forwarders; f++)
		if (under(names, x->forwarders[f].domain_wire) &&
		    (!cover || dns_name_label_count(x->forwarders[f].domain_wire) >
				       dns_name_label_count(cover->domain_wire)))
			cover = &x->forwarders[f];
	if (cover && dns_name_label_count(cover->domain_wire) <= zone_labels)
		cover = NULL;
	for (size_t f = 0; f < x->n_forwarders; f++) {
		const model_forwarder_t *fw = &x->forwarders[f];
		bool inside = under(fw->domain_wire, names) &&
			      dns_name_label_count(fw->domain_wire) > dns_name_label_count(names);
		if (fw != cover && !inside)
			continue;
		char via[600];
		snprintf(via, sizeof(via), "%s forwarder: %s", x->name, fw->domain_name);
		follow(s, at, names, fw->domain_wire, fw->targets, fw->n_targets, via, &fw->origin);
	}
}

static void explore(search_t *s, node_t at, const uint8_t *names)
{
	if (s->budget == 0)
		return;
	s->budget--;
	/* Back at a node already on the path, for names within the set it was
	 * left with: a cycle. */
	for (size_t i = 0; i + 1 < s->depth; i++) {
		if (same_node(s->path[i].from, at) && under(names, s->path[i].domain)) {
			report_cycle(s, i);
			return;
		}
	}
	if (s->depth && same_node(s->path[s->depth - 1].from, at)) {
		report_cycle(s, s->depth - 1);
		return;
	}
	/* A state explored before without a cycle leads to none now. */
	uint8_t key[DNS_NAME_MAXLEN + 8];
	size_t len = dns_name_wire_length(names);
	memcpy(key, &at, sizeof(at));
	memcpy(key + sizeof(at), names, len);
	if (pr_map_get(s->done, key, sizeof(at) + len) >= 0)
		return;
	size_t cycles_before = s->n_seen;
	if (at.external)
		explore_external(s, at, names);
	else
		explore_view(s, at, names);
	if (s->n_seen == cycles_before)
		pr_map_put(s->done, key, sizeof(at) + len, 1, NULL);
}

/* Tables the search reads at every step, computed once. */
static void prepare_search(search_t *s)
{
	const deployment_t *d = s->d;
	s->done = pr_map_new();
	s->follow_index = pr_map_new();
	s->ruleset_of_vnet = pr_malloc((d->n_vnets + 1) * sizeof(int));
	for (size_t v = 0; v < d->n_vnets; v++)
		s->ruleset_of_vnet[v] = -1;
	for (size_t i = 0; i < d->n_rulesets; i++)
		for (size_t k = 0; k < d->rulesets[i].n_links; k++)
			if (d->rulesets[i].links[k].vnet >= 0)
				s->ruleset_of_vnet[d->rulesets[i].links[k].vnet] = (int)i;
	s->zone_linked = pr_calloc(d->n_vnets * d->n_zones + 1, sizeof(bool));
	for (size_t i = 0; i < d->n_zones; i++)
		for (size_t k = 0; k < d->zones[i].n_links; k++)
			if (d->zones[i].links[k].vnet >= 0)
				s->zone_linked[(size_t)d->zones[i].links[k].vnet * d->n_zones + i] = true;
	size_t total = 0;
	s->rule_base = pr_calloc(d->n_rulesets + 1, sizeof(size_t));
	for (size_t i = 0; i < d->n_rulesets; i++) {
		s->rule_base[i] = total;
		total += d->rulesets[i].n_rules;
	}
	s->rule_relevant = pr_calloc(total + 1, sizeof(bool));
	s->relevant_known = pr_calloc(d->n_rulesets + 1, sizeof(bool));
	s->n_reserved = ruleset_reserved_count();
	s->reserved = pr_calloc(s->n_reserved + 1, DNS_NAME_MAXLEN);
	for (size_t i = 0; i < s->n_reserved; i++)
		if (dns_name_from_text(ruleset_reserved_domain(i), s->reserved[i], NULL, NULL) != 0)
			s->reserved[i][0] = 0xff; /* never under anything */
}

/* The changes a loop check starts from: views (per VNet) and rulesets (P-1);
 * NULL: every one. */
typedef struct scope {
	bool *views, *rulesets;
} scope_t;

static int check_loops_in(const deployment_t *d, const scope_t *scope, pr_diag_t *diag)
{
	size_t before = pr_diag_count(diag);
	check_direct_loops(d, scope->rulesets, diag);
	search_t s = {.d = d, .diag = diag, .budget = 2000000};
	prepare_search(&s);
	static const uint8_t root[1] = {0};
	for (size_t v = 0; v < d->n_vnets; v++)
		if (!scope->views || scope->views[v])
			explore(&s, (node_t){false, (int)v}, root);
	/* an external server's forwarding is a start only when it may have changed */
	for (size_t x = 0; !scope->views && x < d->n_external_servers; x++)
		explore(&s, (node_t){true, (int)x}, root);
	for (size_t i = 0; i < s.n_seen; i++)
		free(s.seen_cycles[i]);
	free(s.seen_cycles);
	free(s.ruleset_of_vnet);
	free(s.zone_linked);
	free(s.rule_relevant);
	free(s.relevant_known);
	free(s.rule_base);
	free(s.reserved);
	pr_map_destroy(&s.done);
	pr_map_destroy(&s.follow_index);
	for (size_t i = 0; i < s.n_lists; i++)
		free(s.follow_lists[i].rules);
	free(s.follow_lists);
	return pr_diag_count(diag) > before ? PR_ELOOP : 0;
}

int linker_check_loops(const deployment_t *d, pr_diag_t *diag)
{
	return check_loops_in(d, &(scope_t){0}, diag);
}

/* ---- what a change touches ------------------------------------------------------ */

/* Do the targets of rules mean the same in a and b: the same VNets, inbound
 * endpoints at the same addresses, the same external servers, zones of the
 * same names, rulesets in the same places? */
static bool same_graph_nodes(const deployment_t *a, const deployment_t *b)
{
	if (a->vnets != b->vnets || a->n_vnets != b->n_vnets || a->n_resolvers != b->n_resolvers ||
	    a->n_external_servers != b->n_external_servers || a->n_zones != b->n_zones ||
	    a->n_rulesets != b->n_rulesets)
		return false;
	for (size_t r = 0; r < a->n_resolvers; r++) {
		const model_resolver_t *x = &a->resolvers[r], *y = &b->resolvers[r];
		if (x->vnet != y->vnet || x->n_inbound != y->n_inbound)
			return false;
		for (size_t e = 0; e < x->n_inbound; e++)
			if (x->inbound[e].address != y->inbound[e].address ||
			    x->inbound[e].has_address != y->inbound[e].has_address)
				return false;
	}
	for (size_t x = 0; x < a->n_external_servers; x++)
		if (a->external_servers[x].origin.node != b->external_servers[x].origin.node ||
		    a->external_servers[x].address != b->external_servers[x].address ||
		    a->external_servers[x].port != b->external_servers[x].port)
			return false;
	for (size_t z = 0; z < a->n_zones; z++)
		if (!a->zones[z].name || !b->zones[z].name || strcmp(a->zones[z].name, b->zones[z].name))
			return false;
	for (size_t i = 0; i < a->n_rulesets; i++)
		if (!a->rulesets[i].name || !b->rulesets[i].name ||
		    strcmp(a->rulesets[i].name, b->rulesets[i].name))
			return false;
	return true;
}

static bool same_links(const model_vnet_link_t *a, size_t na, const model_vnet_link_t *b,
		       size_t nb)
{
	if (na != nb)
		return false;
	for (size_t k = 0; k < na; k++)
		if (a[k].vnet != b[k].vnet)
			return false;
	return true;
}

static void mark_views(bool *views, const model_vnet_link_t *l, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (l[k].vnet >= 0)
			views[l[k].vnet] = true;
}

/* The views whose forwarding differs between a (before) and b: those linked
 * to a ruleset whose rules or links differ, or to a zone whose links do. A
 * loop b has and a had not goes through one of them, and the search from a
 * view follows every rule a search from elsewhere follows there (P-2); a
 * direct loop (P-1) is in a ruleset that differs. Every view and ruleset
 * when more than that differs. */
static scope_t change_scope(const deployment_t *a, const deployment_t *b)
{
	if (!a || !same_graph_nodes(a, b))
		return (scope_t){0};
	scope_t s = {pr_calloc(b->n_vnets + 1, sizeof(bool)),
		     pr_calloc(b->n_rulesets + 1, sizeof(bool))};
	for (size_t i = 0; i < b->n_rulesets; i++) {
		const model_ruleset_t *x = &a->rulesets[i], *y = &b->rulesets[i];
		if (x->rules == y->rules && same_links(x->links, x->n_links, y->links, y->n_links))
			continue;
		s.rulesets[i] = true;
		mark_views(s.views, x->links, x->n_links);
		mark_views(s.views, y->links, y->n_links);
	}
	for (size_t z = 0; z < b->n_zones; z++) {
		const model_zone_t *x = &a->zones[z], *y = &b->zones[z];
		if (same_links(x->links, x->n_links, y->links, y->n_links))
			continue;
		mark_views(s.views, x->links, x->n_links);
		mark_views(s.views, y->links, y->n_links);
	}
	return s;
}

/* ---- views ------------------------------------------------------------------- */

/* One matcher per ruleset, shared by every VNet linked to it. */
static int build_ruleset_matcher(const model_ruleset_t *rs, ruleset_matcher_t **out)
{
	ruleset_matcher_builder_t *rb = ruleset_matcher_builder_new();
	int rc = 0;
	for (size_t r = 0; r < rs->n_rules && rc == 0; r++)
		if (rs->rules[r].enabled) /* F-6 */
			rc = ruleset_matcher_add_wire(rb, rs->rules[r].domain_wire, &rs->rules[r]);
	if (rc == 0)
		rc = ruleset_matcher_build(rb, true, out); /* F-9 */
	ruleset_matcher_builder_destroy(&rb);
	return rc;
}

static int build_zone_matcher(linker_view_t *view, ruleset_matcher_t **out)
{
	ruleset_matcher_builder_t *zb = ruleset_matcher_builder_new();
	int rc = 0;
	for (size_t z = 0; z < view->n_zones && rc == 0; z++)
		rc = ruleset_matcher_add_wire(zb, view->zone_wires[z], &view->zones[z]);
	if (rc == 0)
		rc = ruleset_matcher_build(zb, false, out);
	ruleset_matcher_builder_destroy(&zb);
	return rc;
}

static void collect_zone_links(linker_t *l)
{
	const deployment_t *d = l->d;
	size_t n_links = 0;
	for (size_t i = 0; i < d->n_zones; i++)
		n_links += d->zones[i].n_links;
	l->zone_links = pr_calloc(n_links + 1, sizeof(*l->zone_links));
	/* Count per VNet, then place each link in its VNet's slice. */
	size_t *count = pr_calloc(d->n_vnets + 1, sizeof(size_t));
	for (size_t i = 0; i < d->n_zones; i++)
		for (size_t k = 0; k < d->zones[i].n_links; k++)
			count[d->zones[i].links[k].vnet]++;
	size_t at = 0;
	for (size_t v = 0; v < d->n_vnets; v++) {
		l->views[v].zones = l->zone_links + at;
		at += count[v];
	}
	for (size_t i = 0; i < d->n_zones; i++)
		for (size_t k = 0; k < d->zones[i].n_links; k++) {
			linker_view_t *view = &l->views[d->zones[i].links[k].vnet];
			((linker_zone_link_t *)view->zones)[view->n_zones++] =
				(linker_zone_link_t){(int)i, &d->zones[i].links[k]};
		}
	free(count);
}

/* prev's matcher of a ruleset with the same rules (a change adds or deletes
 * at most one ruleset: it is where ruleset i is or next to it). */
static ruleset_matcher_t *shared_matcher(const linker_t *prev, const model_ruleset_t *rs,
					 size_t i)
{
	const deployment_t *pd = prev ? prev->d : NULL;
	for (size_t k = i ? i - 1 : 0; pd && k <= i + 1 && k < pd->n_rulesets; k++)
		if (pd->rulesets[k].rules == rs->rules && prev->rule_matchers[k])
			return ruleset_matcher_share(prev->rule_matchers[k]);
	return NULL;
}

int linker_build(const deployment_t *d, linker_t **out, pr_diag_t *diag)
{
	return linker_build_after(NULL, d, out, diag);
}

int linker_build_after(const linker_t *prev, const deployment_t *d, linker_t **out,
		       pr_diag_t *diag)
{
	PR_REQUIRE(d && d->validated);
	scope_t scope = change_scope(prev ? prev->d : NULL, d);
	int rc = check_loops_in(d, &scope, diag);
	free(scope.views);
	free(scope.rulesets);
	if (rc != 0)
		return rc;
	linker_t *l = pr_calloc(1, sizeof(*l));
	l->d = d;
	l->n_views = d->n_vnets;
	l->views = pr_calloc(d->n_vnets + 1, sizeof(*l->views));
	l->zone_matchers = pr_calloc(d->n_vnets + 1, sizeof(*l->zone_matchers));
	l->rule_matchers = pr_calloc(d->n_rulesets + 1, sizeof(*l->rule_matchers));
	for (size_t i = 0; i < d->n_rulesets && rc == 0; i++) {
		/* the values are the rules themselves: the same array, the same matcher */
		if ((l->rule_matchers[i] = shared_matcher(prev, &d->rulesets[i], i)))
			continue;
		rc = build_ruleset_matcher(&d->rulesets[i], &l->rule_matchers[i]);
		if (rc != 0)
			pr_diag_add(diag, d->file, 0, 0, d->rulesets[i].origin.path, NULL, rc,
				    "cannot compile ruleset '%s': %s", d->rulesets[i].name,
				    pr_strerror(rc));
	}
	collect_zone_links(l);
	for (size_t v = 0; v < d->n_vnets && rc == 0; v++) {
		linker_view_t *view = &l->views[v];
		view->vnet = (int)v;
		view->name = d->vnets[v].name;
		view->policy = -1;
		view->ruleset = -1;
		view->zone_wires = pr_calloc(view->n_zones + 1, sizeof(*view->zone_wires));
		for (size_t z = 0; z < view->n_zones; z++)
			view->zone_wires[z] = d->zones[view->zones[z].zone].name_wire;
		/* Most spokes link no zone: no matcher to build or to walk. */
		if (view->n_zones == 0)
			continue;
		rc = build_zone_matcher(view, &l->zone_matchers[v]);
		view->zone_matcher = l->zone_matchers[v];
	}
	for (size_t i = 0; i < d->n_rulesets; i++)
		for (size_t k = 0; k < d->rulesets[i].n_links; k++) {
			linker_view_t *view = &l->views[d->rulesets[i].links[k].vnet];
			view->ruleset = (int)i;
			view->rules = l->rule_matchers[i];
		}
	for (size_t i = 0; i < d->n_policies; i++)
		for (size_t k = 0; k < d->policies[i].n_links; k++)
			l->views[d->policies[i].links[k].vnet].policy = (int)i;
	if (rc != 0) {
		linker_destroy(&l);
		return rc;
	}
	*out = l;
	return 0;
}

void linker_destroy(linker_t **lp)
{
	if (!lp || !*lp)
		return;
	linker_t *l = *lp;
	for (size_t v = 0; v < l->n_views; v++) {
		ruleset_matcher_destroy(&l->zone_matchers[v]);
		free(l->views[v].zone_wires);
	}
	for (size_t i = 0; i < l->d->n_rulesets; i++)
		ruleset_matcher_destroy(&l->rule_matchers[i]);
	free(l->zone_matchers);
	free(l->rule_matchers);
	free(l->views);
	free(l->zone_links);
	free(l);
	*lp = NULL;
}

size_t linker_view_count(const linker_t *l)
{
	return l->n_views;
}

const linker_view_t *linker_view(const linker_t *l, int vnet)
{
	if (vnet < 0 || (size_t)vnet >= l->n_views)
		return NULL;
	return &l->views[vnet];
}

const deployment_t *linker_deployment(const linker_t *l)
{
	return l->d;
}

/* ---- summary ------------------------------------------------------------------ */

static size_t count_records(const model_zone_t *z, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += z[i].n_record_sets;
	return c;
}

char *linker_summary(const linker_t *l)
{
	const deployment_t *d = l->d;
	pr_buf_t b = {0};
	char ip[16];
	size_t n_ie = 0, n_oe = 0, n_rules = 0, n_srules = 0;
	for (size_t i = 0; i < d->n_resolvers; i++) {
		n_ie += d->resolvers[i].n_inbound;
		n_oe += d->resolvers[i].n_outbound;
	}
	for (size_t i = 0; i < d->n_rulesets; i++)
		n_rules += d->rulesets[i].n_rules;
	for (size_t i = 0; i < d->n_policies; i++)
		n_srules += d->policies[i].n_rules;
	pr_buf_printf(&b, "resources:\n");
	pr_buf_printf(&b, "  virtual networks      %zu\n", d->n_vnets);
	pr_buf_printf(&b, "  DNS resolvers         %zu (%zu inbound, %zu outbound endpoints)\n",
		      d->n_resolvers, n_ie, n_oe);
	pr_buf_printf(&b, "  forwarding rulesets   %zu (%zu rules)\n", d->n_rulesets, n_rules);
	pr_buf_printf(&b, "  private DNS zones     %zu (%zu record sets)\n", d->n_zones,
		      count_records(d->zones, d->n_zones));
	pr_buf_printf(&b, "  security policies     %zu (%zu rules, %zu domain lists)\n",
		      d->n_policies, n_srules, d->n_domain_lists);
	pr_buf_printf(&b, "  virtual machines      %zu\n", d->n_vms);
	pr_buf_printf(&b, "  external DNS servers  %zu\n", d->n_external_servers);
	pr_buf_printf(&b, "  public zones          %zu, upstreams %zu\n", d->public_dns.n_zones,
		      d->public_dns.n_upstreams);
	pr_buf_printf(&b, "inbound endpoints:\n");
	for (size_t i = 0; i < d->n_resolvers; i++)
		for (size_t j = 0; j < d->resolvers[i].n_inbound; j++) {
			const model_inbound_endpoint_t *ie = &d->resolvers[i].inbound[j];
			pr_buf_printf(&b, "  %s/%s  %s  (%s, VNet %s)\n", d->resolvers[i].name,
				      ie->name, pr_ipv4_format(ie->address, ip),
				      ie->allocation == MODEL_ALLOC_STATIC ? "Static" : "Dynamic",
				      d->vnets[d->resolvers[i].vnet].name);
		}
	pr_buf_printf(&b, "views:\n");
	for (size_t v = 0; v < l->n_views; v++) {
		const linker_view_t *view = &l->views[v];
		pr_buf_printf(&b, "  %s:\n", view->name);
		if (view->policy >= 0)
			pr_buf_printf(&b, "    policy   %s\n", d->policies[view->policy].name);
		for (size_t z = 0; z < view->n_zones; z++) {
			const linker_zone_link_t *zl = &view->zones[z];
			pr_buf_printf(&b, "    zone     %s%s%s\n", d->zones[zl->zone].name,
				      zl->link->registration ? " (registration)" : "",
				      zl->link->resolution == MODEL_RESOLUTION_NXDOMAIN_REDIRECT
					      ? " (NxDomainRedirect)"
					      : "");
		}
		if (view->ruleset >= 0) {
			const model_ruleset_t *rs = &d->rulesets[view->ruleset];
			pr_buf_printf(&b, "    ruleset  %s (%zu enabled rules)\n", rs->name,
				      ruleset_matcher_count(view->rules));
		}
		if (view->policy < 0 && view->n_zones == 0 && view->ruleset < 0)
			pr_buf_printf(&b, "    (Azure DNS only)\n");
	}
	return pr_buf_take(&b);
}
