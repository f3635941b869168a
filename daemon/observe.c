/* What the web surfaces (web/) and the cloud-format query log get from the
 * runtime at each publication: the estate the live view draws, and the
 * names → ARM ids the DNSQueryLogs record carries (reference/azure.md §3.6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_p.h"
#include "model/model.h"

static const char *id_of(const json_t *resource)
{
	return json_string_value(json_object_get(resource, "id"));
}

static const json_t *named(const json_t *list, const char *name)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));
		if (n && !strcmp(n, name))
			return item;
	}
	return NULL;
}

/* Each VNet's id, and its security policy's with each rule's first domain list. */
static json_t *context_vnets(const json_t *doc)
{
	json_t *vnets = json_object();
	size_t i, k;
	json_t *v, *p, *link;
	json_array_foreach(json_object_get(doc, "virtualNetworks"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (name && id_of(v))
			json_object_set_new(vnets, name, json_pack("{s:s}", "id", id_of(v)));
	}
	const json_t *lists = json_object_get(doc, "dnsResolverDomainLists");
	json_array_foreach(json_object_get(doc, "dnsResolverPolicies"), i, p) {
		json_t *rules = json_object();
		json_t *rule;
		json_array_foreach(json_object_get(p, "dnsSecurityRules"), k, rule) {
			const char *first = json_string_value(
				json_array_get(json_object_get(rule, "dnsResolverDomainLists"), 0));
			const json_t *list = first ? named(lists, first) : NULL;
			const char *rn = json_string_value(json_object_get(rule, "name"));
			if (rn && list && id_of(list))
				json_object_set_new(rules, rn, json_string(id_of(list)));
		}
		json_array_foreach(json_object_get(p, "virtualNetworkLinks"), k, link) {
			const json_t *vname = json_object_get(link, "virtualNetwork");
			json_t *vn = NULL;
			if (json_is_string(vname))
				vn = json_object_get(vnets, json_string_value(vname));
			if (vn && id_of(p)) {
				json_object_set_new(vn, "policy", json_string(id_of(p)));
				json_object_set(vn, "rules", rules);
			}
		}
		json_decref(rules);
	}
	return vnets;
}

/* Each listener's virtual address and, for an inbound endpoint, its id. */
static json_t *context_listeners(const json_t *doc, const resolve_snapshot_t *s)
{
	json_t *out = json_object();
	char ip[16], name[512];
	size_t i, k;
	json_t *r, *ie;
	json_t *endpoints = json_object();
	json_array_foreach(json_object_get(doc, "dnsResolvers"), i, r) {
		json_array_foreach(json_object_get(r, "inboundEndpoints"), k, ie) {
			const char *rn = json_string_value(json_object_get(r, "name"));
			const char *en = json_string_value(json_object_get(ie, "name"));
			snprintf(name, sizeof(name), "%s/%s", rn ? rn : "", en ? en : "");
			if (id_of(ie))
				json_object_set_new(endpoints, name, json_string(id_of(ie)));
		}
	}
	for (size_t n = 0; n < resolve_snapshot_listener_count(s); n++) {
		const resolve_listener_t *l = resolve_snapshot_listener(s, n);
		pr_ipv4_format(l->virtual_address, ip);
		json_t *e = json_pack("{s:s, s:i}", "address", ip, "port", l->virtual_port);
		if (l->kind == RESOLVE_LISTENER_INBOUND && json_object_get(endpoints, l->name))
			json_object_set(e, "endpoint", json_object_get(endpoints, l->name));
		json_object_set_new(out, l->name, e);
	}
	json_decref(endpoints);
	return out;
}

json_t *querylog_context(const deployment_t *d, const resolve_snapshot_t *s)
{
	json_t *doc = deployment_to_json(d);
	json_t *c = json_pack("{s:o, s:o}", "vnets", context_vnets(doc), "listeners",
			      context_listeners(doc, s));
	json_object_set(c, "region", json_object_get(doc, "location"));
	json_decref(doc);
	return c;
}

static bool is_own_listener(const resolve_snapshot_t *s, uint32_t addr, uint16_t port)
{
	for (size_t n = 0; n < resolve_snapshot_listener_count(s); n++) {
		const resolve_listener_t *l = resolve_snapshot_listener(s, n);
		if (l->virtual_address == addr && l->virtual_port == port)
			return true;
	}
	return false;
}

/* Every outside target the rules name, with where it is really reached: the
 * targets /metrics reports F-10 states for. */
static void set_targets(daemon_t *dm, const deployment_t *d, const resolve_snapshot_t *s)
{
	json_t *targets = json_array();
	char ip[16], text[24];
	for (size_t i = 0; i < d->n_rulesets; i++)
		for (size_t r = 0; r < d->rulesets[i].n_rules; r++) {
			const model_rule_t *rule = &d->rulesets[i].rules[r];
			for (size_t k = 0; k < rule->n_targets; k++) {
				const model_target_t *t = &rule->targets[k];
				uint32_t ra;
				uint16_t rp;
				if (is_own_listener(s, t->address, t->port) ||
				    !resolve_target_where(d, t->address, t->port, &ra, &rp))
					continue;
				snprintf(text, sizeof(text), "%s:%u",
					 pr_ipv4_format(t->address, ip), t->port);
				json_t *e = json_pack("{s:s, s:I, s:i}", "target", text, "address",
						      (json_int_t)ra, "port", rp);
				snprintf(text, sizeof(text), "%s:%u", pr_ipv4_format(ra, ip), rp);
				json_object_set_new(e, "real", json_string(text));
				json_array_append_new(targets, e);
			}
		}
	pthread_mutex_lock(&dm->targets_lock);
	json_t *old = dm->targets;
	dm->targets = targets;
	pthread_mutex_unlock(&dm->targets_lock);
	json_decref(old);
}

/* Which security policy each VNet is linked to (S-2: one at most), for the
 * policy label of /metrics' verdicts. */
static void set_policies(daemon_t *dm, const json_t *doc)
{
	json_t *of_vnet = json_object();
	size_t i, k;
	json_t *p, *link;
	json_array_foreach(json_object_get(doc, "dnsResolverPolicies"), i, p) {
		json_array_foreach(json_object_get(p, "virtualNetworkLinks"), k, link) {
			const json_t *vnet = json_object_get(link, "virtualNetwork");
			if (json_is_string(vnet) && json_is_string(json_object_get(p, "name")))
				json_object_set(of_vnet, json_string_value(vnet),
						json_object_get(p, "name"));
		}
	}
	pthread_mutex_lock(&dm->targets_lock);
	json_t *old = dm->policies;
	dm->policies = of_vnet;
	pthread_mutex_unlock(&dm->targets_lock);
	json_decref(old);
}

/* Control thread: a snapshot was published (or the first one is served). */
void observe_publish(daemon_t *dm, resolve_snapshot_t *s)
{
	const deployment_t *d = resolve_snapshot_deployment(s);
	if (dm->qlog && querylog_wants_context(dm->qlog))
		querylog_set_context(dm->qlog, querylog_context(d, s));
	if (!dm->web)
		return;
	set_targets(dm, d, s);
	dm->generation++;
	json_t *doc = deployment_to_json(d);
	set_policies(dm, doc);
	json_t *estate = json_pack("{s:o}", "deployment", doc);
	pthread_mutex_lock(&dm->targets_lock);
	json_object_set_new(estate, "targets", json_deep_copy(dm->targets));
	pthread_mutex_unlock(&dm->targets_lock);
	if (dm->serving) {
		bound_t b;
		listeners_assign(s, &b);
		json_object_set_new(estate, "listeners", listeners_json(dm, &b));
		listeners_free(&b);
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	web_publish(dm->web, s, estate, dm->generation,
		    (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
}

/* Control thread: a change was refused; the view marks its findings. */
void observe_refused(daemon_t *dm, const pr_diag_t *diag)
{
	if (!dm->web)
		return;
	json_t *findings = json_array();
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		json_array_append_new(findings,
				      json_pack("{s:s?, s:s?, s:s?, s:i}", "path", e->path, "rule",
						e->rule, "message", e->message, "line", e->line));
	}
	web_refused(dm->web, findings);
}
