/* Listeners (design.md §4): where each listener of a snapshot listens, and the
 * ready file that tells scripts. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "linker/linker.h"
#include "model/model.h"


void listeners_free(bound_t *b)
{
	free(b->specs);
	free(b->of);
	*b = (bound_t){0};
}

/* Where each listener of the snapshot listens: its virtual address (virtual
 * mode), or a loopback address from emulator.listeners or basePort upward in
 * the snapshot's stable order (loopback mode). */
void listeners_assign(const resolve_snapshot_t *s, bound_t *out)
{
	const deployment_t *d = resolve_snapshot_deployment(s);
	const model_emulator_t *em = &d->emulator;
	size_t n = resolve_snapshot_listener_count(s);
	/* W-6: a listener may add DoT and DoH specs to its plain one. */
	*out = (bound_t){pr_calloc(3 * n + 1, sizeof(*out->specs)),
			 pr_calloc(3 * n + 1, sizeof(*out->of)), 0};
	uint32_t loopback = 0x7f000001;
	uint16_t next_port = em->base_port;
	bool azure_bound = false;
	for (size_t i = 0; i < n; i++) {
		const resolve_listener_t *l = resolve_snapshot_listener(s, i);
		ep_listener_spec_t spec = {.name = l->name};
		if (em->listen == MODEL_LISTEN_VIRTUAL) {
			/* 168.63.129.16 is one address for every VNet: one socket,
			 * the view comes from the client's address. */
			if (l->kind == RESOLVE_LISTENER_AZURE_DNS) {
				if (azure_bound)
					continue;
				azure_bound = true;
			}
			spec.addr = l->virtual_address;
			spec.port = l->virtual_port;
		} else {
			const model_listener_map_t *m = NULL;
			for (size_t k = 0; k < em->n_listeners; k++)
				if (!strcmp(em->listeners[k].listener, l->name))
					m = &em->listeners[k];
			if (m) {
				spec.addr = m->address;
				spec.port = m->port;
			} else {
				spec.addr = loopback;
				spec.port = next_port ? next_port++ : 0; /* basePort 0: free ports */
			}
		}
		out->n += encrypted_specs(em, l, &spec, out->specs + out->n, out->of + out->n);
	}
}

const char *listeners_kind_name(resolve_listener_kind_t k)
{
	switch (k) {
	case RESOLVE_LISTENER_INBOUND: return "inbound endpoint";
	case RESOLVE_LISTENER_AZURE_DNS: return "Azure DNS";
	default: return "external server";
	}
}

json_t *listeners_json(const daemon_t *dm, const bound_t *b)
{
	json_t *arr = json_array();
	char va[16], ra[16];
	for (size_t i = 0; i < b->n; i++) {
		const resolve_listener_t *l = b->of[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i}", "name", l->name, "kind",
				       listeners_kind_name(l->kind), "protocol",
				       ep_protocol_name(b->specs[i].protocol), "virtualAddress",
				       pr_ipv4_format(l->virtual_address, va), "virtualPort",
				       l->virtual_port, "address",
				       pr_ipv4_format(b->specs[i].addr, ra), "port",
				       ep_server_listener_port(dm->server, i)));
	}
	return arr;
}

int listeners_write_ready_file(const daemon_t *dm, const bound_t *b)
{
	json_t *j = json_pack("{s:i, s:o}", "pid", (int)getpid(), "listeners",
			      listeners_json(dm, b));
	if (dm->web) /* /metrics and the live view (web/) */
		json_object_set_new(j, "web", json_pack("{s:i}", "port", web_port(dm->web)));
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", dm->opts.ready_file);
	int rc = json_dump_file(j, tmp, JSON_INDENT(2)) == 0 && rename(tmp, dm->opts.ready_file) == 0
			 ? 0
			 : PR_EIO;
	json_decref(j);
	return rc;
}

