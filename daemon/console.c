/* What privresd prints for people: findings, the listener table, a few dig
 * commands that work. */
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

void console_print_diag(const pr_diag_t *diag)
{
	char *text = pr_diag_format(diag);
	fputs(text, stderr);
	free(text);
}

void console_print_listeners(const daemon_t *dm, const bound_t *b)
{
	char va[16], ra[16];
	printf("%-32s %-18s %-22s %s\n", "listener", "kind", "virtual address", "listening on");
	for (size_t i = 0; i < b->n; i++) {
		const resolve_listener_t *l = b->of[i];
		char vbuf[32];
		snprintf(vbuf, sizeof(vbuf), "%s:%u", pr_ipv4_format(l->virtual_address, va),
			 l->virtual_port);
		printf("%-32s %-18s %-22s %s:%u%s%s\n", l->name, listeners_kind_name(l->kind), vbuf,
		       pr_ipv4_format(b->specs[i].addr, ra), ep_server_listener_port(dm->server, i),
		       b->specs[i].protocol ? " " : "", /* W-6: DoT, DoH */
		       b->specs[i].protocol ? ep_protocol_name(b->specs[i].protocol) : "");
	}
}

/* A few dig commands that work against this deployment: a private record
 * from each VNet's Azure DNS that can reach it. */
void console_print_examples(const daemon_t *dm, const bound_t *b)
{
	const deployment_t *d = control_deployment(dm->control);
	const char *name = NULL;
	char buf[512];
	for (size_t z = 0; z < d->n_zones && !name; z++)
		for (size_t r = 0; r < d->zones[z].n_record_sets && !name; r++) {
			const model_record_set_t *rs = &d->zones[z].record_sets[r];
			if (rs->type == 1 && !strchr(rs->name, '*') && rs->name[0] != '@') {
				snprintf(buf, sizeof(buf), "%s.%s", rs->name, d->zones[z].name);
				name = buf;
			}
		}
	if (!name)
		return;
	printf("\ntry:\n");
	int shown = 0;
	char ra[16];
	for (size_t i = 0; i < b->n && shown < 3; i++) {
		if (b->of[i]->kind == RESOLVE_LISTENER_EXTERNAL || b->specs[i].protocol != EP_PLAIN)
			continue;
		printf("  dig @%s -p %u %s   # via %s\n", pr_ipv4_format(b->specs[i].addr, ra),
		       ep_server_listener_port(dm->server, i), name, b->of[i]->name);
		shown++;
	}
}

