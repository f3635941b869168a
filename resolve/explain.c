/* Explain (design.md §6): the same step functions as a query, run on a private
 * worker without sending anything, and the trace turned into JSON and one line
 * of text. A question that would leave privres stops there: its answer is
 * unknown (null), the targets are shown. */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

const char *resolve_step_rule_id(resolve_step_kind_t kind)
{
	switch (kind) {
	case RESOLVE_STEP_INVALID: return "W-3";
	case RESOLVE_STEP_POLICY: return "Q-1";
	case RESOLVE_STEP_ZONE:
	case RESOLVE_STEP_REDIRECT: return "Q-2";
	case RESOLVE_STEP_RULE: return "Q-3";
	case RESOLVE_STEP_RESERVED: return "F-9";
	case RESOLVE_STEP_PUBLIC_ZONE:
	case RESOLVE_STEP_UPSTREAM:
	case RESOLVE_STEP_REFUSED: return "Q-4";
	case RESOLVE_STEP_CNAME:
	case RESOLVE_STEP_CNAME_LIMIT: return "Q-5";
	case RESOLVE_STEP_LOOP: return "P-3";
	case RESOLVE_STEP_NO_REPLY: return "F-10";
	case RESOLVE_STEP_REPLY:
	case RESOLVE_STEP_CACHE:
	case RESOLVE_STEP_JOINED: return "Q-6";
	default: return resolve_step_name(kind);
	}
}

const char *resolve_step_name(resolve_step_kind_t kind)
{
	static const char *names[] = {
		[RESOLVE_STEP_INVALID] = "invalid",       [RESOLVE_STEP_VIEW] = "view",
		[RESOLVE_STEP_EXTERNAL] = "external",     [RESOLVE_STEP_POLICY] = "policy",
		[RESOLVE_STEP_ZONE] = "zone",             [RESOLVE_STEP_REDIRECT] = "redirect",
		[RESOLVE_STEP_RULE] = "rule",             [RESOLVE_STEP_RESERVED] = "reserved",
		[RESOLVE_STEP_FORWARDER] = "forwarder",   [RESOLVE_STEP_IN_PROCESS] = "in-process",
		[RESOLVE_STEP_FORWARD] = "forward",       [RESOLVE_STEP_UNMAPPED] = "unmapped target",
		[RESOLVE_STEP_PUBLIC_ZONE] = "public zone", [RESOLVE_STEP_UPSTREAM] = "upstream",
		[RESOLVE_STEP_REFUSED] = "refused",       [RESOLVE_STEP_CNAME] = "cname",
		[RESOLVE_STEP_CNAME_LIMIT] = "cname limit", [RESOLVE_STEP_LOOP] = "loop",
		[RESOLVE_STEP_REPLY] = "reply",           [RESOLVE_STEP_NO_REPLY] = "no reply",
		[RESOLVE_STEP_CACHE] = "cache hit",       [RESOLVE_STEP_JOINED] = "joined in flight",
	};
	if ((size_t)kind < sizeof(names) / sizeof(names[0]) && names[kind])
		return names[kind];
	return "unknown";
}

resolve_step_facts_t resolve_step_facts(const resolve_trace_t *t, size_t i, char *name)
{
	const resolve_step_t *st = &t->steps[i];
	resolve_step_facts_t f = {.kind = st->kind, .address = st->address, .port = st->port,
				  .policy_action = st->policy_action};
	switch (st->kind) {
	case RESOLVE_STEP_VIEW:
	case RESOLVE_STEP_EXTERNAL:
		f.text = st->view;
		break;
	case RESOLVE_STEP_ZONE:
	case RESOLVE_STEP_PUBLIC_ZONE:
	case RESOLVE_STEP_REDIRECT:
		f.text = st->zone;
		break;
	case RESOLVE_STEP_RULE:
		f.text = st->rule ? st->rule->name : NULL;
		f.text2 = st->domain;
		break;
	case RESOLVE_STEP_RESERVED:
	case RESOLVE_STEP_FORWARDER:
		f.text = st->domain;
		break;
	case RESOLVE_STEP_POLICY:
		f.text = st->policy_rule;
		break;
	case RESOLVE_STEP_NO_REPLY:
		f.text = st->reason;
		break;
	case RESOLVE_STEP_CNAME:
		if (st->cname >= 0 && (size_t)st->cname < t->n_cnames &&
		    dns_name_to_text(t->cnames[st->cname], name, DNS_NAME_TEXT_MAX) > 0)
			f.text = name;
		break;
	default:
		break;
	}
	return f;
}

const char *resolve_step_words(const resolve_step_facts_t *f, char *buf, size_t cap)
{
	char ip[16];
	const char *rule = resolve_step_rule_id(f->kind), *name = resolve_step_name(f->kind);
	const char *a = f->text ? f->text : "", *b = f->text2 ? f->text2 : "";
	switch (f->kind) {
	case RESOLVE_STEP_VIEW:
	case RESOLVE_STEP_EXTERNAL:
		snprintf(buf, cap, "%s %s", name, a);
		break;
	case RESOLVE_STEP_ZONE:
	case RESOLVE_STEP_PUBLIC_ZONE:
	case RESOLVE_STEP_REDIRECT:
	case RESOLVE_STEP_RESERVED:
	case RESOLVE_STEP_FORWARDER:
		snprintf(buf, cap, "%s %s %s", rule, name, a);
		break;
	case RESOLVE_STEP_RULE:
		snprintf(buf, cap, "%s rule %s (%s)", rule, a, b);
		break;
	case RESOLVE_STEP_POLICY:
		snprintf(buf, cap, "%s policy %s %s", rule,
			 policy_action_name((policy_action_t)f->policy_action), a);
		break;
	case RESOLVE_STEP_IN_PROCESS:
	case RESOLVE_STEP_FORWARD:
	case RESOLVE_STEP_JOINED:
		snprintf(buf, cap, "%s %s:%u", name, pr_ipv4_format(f->address, ip), f->port);
		break;
	case RESOLVE_STEP_CNAME:
		snprintf(buf, cap, "%s cname %s", rule, a);
		break;
	case RESOLVE_STEP_NO_REPLY:
		snprintf(buf, cap, "%s %s%s%s%s", rule, name, f->text ? " (" : "", a,
			 f->text ? ")" : "");
		break;
	default:
		snprintf(buf, cap, "%s %s", rule, name);
		break;
	}
	return buf;
}

static char *target_text(uint32_t addr, uint16_t port)
{
	char ip[16];
	return pr_asprintf("%s:%u", pr_ipv4_format(addr, ip), port);
}

static json_t *target_json(uint32_t addr, uint16_t port)
{
	char *t = target_text(addr, port);
	json_t *j = json_string(t);
	free(t);
	return j;
}

/* The target chosen after step i (the next in-process/forward/unmapped step
 * of the same frame). */
static const resolve_step_t *chosen_after(const resolve_trace_t *t, size_t i)
{
	for (size_t k = i + 1; k < t->n_steps; k++) {
		const resolve_step_t *st = &t->steps[k];
		if (st->depth != t->steps[i].depth)
			continue;
		if (st->kind == RESOLVE_STEP_IN_PROCESS || st->kind == RESOLVE_STEP_FORWARD ||
		    st->kind == RESOLVE_STEP_UNMAPPED)
			return st;
	}
	return NULL;
}

static void set_rcode(json_t *j, int rcode)
{
	char rc[16];
	json_object_set_new(j, "rcode", json_string(dns_rcode_name(rcode, rc, sizeof(rc))));
}

/* The step's JSON; its words (the query log's) join the text line. */
static json_t *step_json(const resolve_snapshot_t *s, const resolve_trace_t *t, size_t i,
			 pr_buf_t *text)
{
	const resolve_step_t *st = &t->steps[i];
	json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "step", resolve_step_rule_id(st->kind), "kind",
			      resolve_step_name(st->kind), "depth", st->depth, "hops", st->hops);
	if (st->view)
		json_object_set_new(j, "at", json_string(st->view));
	char name[DNS_NAME_TEXT_MAX], words[DNS_NAME_TEXT_MAX + 128];
	resolve_step_facts_t f = resolve_step_facts(t, i, name);
	pr_buf_printf(text, " → %s", resolve_step_words(&f, words, sizeof(words)));
	switch (st->kind) {
	case RESOLVE_STEP_POLICY:
		json_object_set_new(j, "action", json_string(policy_action_name(st->policy_action)));
		if (st->policy_rule)
			json_object_set_new(j, "rule", json_string(st->policy_rule));
		if (st->domain)
			json_object_set_new(j, "domain", json_string(st->domain));
		break;
	case RESOLVE_STEP_ZONE:
	case RESOLVE_STEP_PUBLIC_ZONE:
		json_object_set_new(j, "zone", json_string(st->zone));
		set_rcode(j, st->rcode);
		if (st->kind == RESOLVE_STEP_PUBLIC_ZONE)
			json_object_set_new(j, "source", json_string("public zone"));
		break;
	case RESOLVE_STEP_REDIRECT:
		json_object_set_new(j, "zone", json_string(st->zone));
		json_object_set_new(j, "resolutionPolicy", json_string("NxDomainRedirect"));
		break;
	case RESOLVE_STEP_RULE: {
		json_object_set_new(j, "rule", json_string(st->rule->name));
		json_object_set_new(j, "domain", json_string(st->domain));
		json_t *targets = json_array();
		for (size_t k = 0; k < st->rule->n_targets; k++)
			json_array_append_new(targets, target_json(st->rule->targets[k].address,
								   st->rule->targets[k].port));
		json_object_set_new(j, "targets", targets);
		const resolve_step_t *c = chosen_after(t, i);
		json_object_set_new(j, "chosen",
				    c && c->kind != RESOLVE_STEP_UNMAPPED
					    ? target_json(c->address, c->port)
					    : json_null());
		break;
	}
	case RESOLVE_STEP_RESERVED:
	case RESOLVE_STEP_FORWARDER:
		json_object_set_new(j, "domain", json_string(st->domain));
		break;
	case RESOLVE_STEP_IN_PROCESS:
	case RESOLVE_STEP_FORWARD:
	case RESOLVE_STEP_JOINED:
		json_object_set_new(j, "target", target_json(st->address, st->port));
		break;
	case RESOLVE_STEP_UPSTREAM:
		json_object_set_new(j, "source", json_string("upstream"));
		break;
	case RESOLVE_STEP_REFUSED:
		json_object_set_new(j, "source", json_string("refused"));
		break;
	case RESOLVE_STEP_CNAME:
		if (f.text)
			json_object_set_new(j, "target", json_string(f.text));
		break;
	case RESOLVE_STEP_LOOP:
		json_object_set_new(j, "limit", json_integer(s->d->emulator.hop_limit));
		break;
	case RESOLVE_STEP_NO_REPLY:
		if (st->reason)
			json_object_set_new(j, "reason", json_string(st->reason));
		break;
	case RESOLVE_STEP_REPLY:
		set_rcode(j, st->rcode);
		break;
	case RESOLVE_STEP_CACHE:
		/* Explain runs on a worker of its own, whose cache is empty; a trace of a
		 * real query can hold a hit all the same. */
		json_object_set_new(j, "target", target_json(st->address, st->port));
		set_rcode(j, st->rcode);
		break;
	default:
		break;
	}
	return j;
}

/* The answer's rcode and records in presentation form. */
static json_t *answer_json(const uint8_t *wire, size_t len, pr_buf_t *text)
{
	knot_pkt_t *pkt = dns_message_parse(wire, len);
	if (!pkt)
		return json_null();
	char rc[16], owner[DNS_NAME_TEXT_MAX], type[16], rdata[1024];
	const char *rcode = dns_rcode_name(knot_pkt_ext_rcode(pkt), rc, sizeof(rc));
	json_t *records = json_array();
	pr_buf_printf(text, " → %s", rcode);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		dns_name_to_text(rr->owner, owner, sizeof(owner));
		dns_rrtype_to_text(rr->type, type, sizeof(type));
		for (uint16_t k = 0; k < rr->rrs.count; k++) {
			if (dns_rdata_to_text(rr, k, rdata, sizeof(rdata)) < 0)
				snprintf(rdata, sizeof(rdata), "?");
			char *line = pr_asprintf("%s %u IN %s %s", owner, rr->ttl, type,
						 rdata);
			json_array_append_new(records, json_string(line));
			free(line);
			pr_buf_printf(text, " %s %s", type, rdata);
		}
	}
	json_t *j = json_pack("{s:s, s:b, s:o}", "rcode", rcode, "aa",
			      (int)knot_wire_get_aa(pkt->wire), "records", records);
	knot_pkt_free(pkt);
	return j;
}

int resolve_explain(const resolve_snapshot_t *s, const char *vnet, const char *qname,
		    uint16_t qtype, json_t **out)
{
	PR_REQUIRE(s && out);
	int v = vnet ? deployment_find_vnet(s->d, vnet) : -1;
	if (v < 0)
		return PR_ENOTFOUND;
	uint8_t packet[KNOT_WIRE_HEADER_SIZE + DNS_NAME_MAXLEN + 4] = {0};
	dns_name_info_t info;
	if (!qname || dns_name_from_text(qname, packet + KNOT_WIRE_HEADER_SIZE, &info, NULL) != 0)
		return PR_EPARSE;
	knot_wire_set_rd(packet);
	knot_wire_set_qdcount(packet, 1);
	size_t len = KNOT_WIRE_HEADER_SIZE + info.wire_len;
	knot_wire_write_u16(packet + len, qtype);
	knot_wire_write_u16(packet + len + 2, KNOT_CLASS_IN);
	len += 4;

	resolve_worker_t *w = resolve_worker_new(NULL);
	resolve_query_t *q = resolve_query_new(w);
	const resolve_forward_t *fwd = NULL;
	resolve_status_t status = resolve_start_in_view(w, s, v, packet, len, q, &fwd);
	const resolve_trace_t *t = resolve_query_trace(q);

	char name[DNS_NAME_TEXT_MAX], type[16];
	dns_name_to_text(packet + KNOT_WIRE_HEADER_SIZE, name, sizeof(name));
	dns_rrtype_to_text(qtype, type, sizeof(type));
	pr_buf_t text = {0};
	pr_buf_printf(&text, "%s %s", name, type);
	json_t *steps = json_array();
	for (size_t i = 0; i < t->n_steps; i++)
		json_array_append_new(steps, step_json(s, t, i, &text));
	json_t *answer;
	if (status == RESOLVE_DONE) {
		size_t alen;
		const uint8_t *a = resolve_query_answer(q, &alen);
		answer = answer_json(a, alen, &text);
	} else {
		answer = json_null();
		pr_buf_printf(&text, " → answer from outside privres");
	}
	json_t *j = json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:b, s:b}", "view",
			      s->d->vnets[v].name, "question", "name", name, "type", type, "steps",
			      steps, "answer", answer, "loop", (int)t->loop, "unmappedTarget",
			      (int)t->unmapped);
	json_object_set_new(j, "blocked", json_boolean(t->blocked));
	json_object_set_new(j, "alert", json_boolean(t->alert));
	char *line = pr_buf_take(&text);
	json_object_set_new(j, "text", json_string(line));
	free(line);
	resolve_query_free(&q);
	resolve_worker_destroy(&w);
	*out = j;
	return 0;
}
