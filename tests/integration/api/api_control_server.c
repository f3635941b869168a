/*
 * api_control_server: the API server with the real control over a deployment,
 * for test_privresctl.py — the daemon's API without its data plane.
 * usage: api_control_server SOCKET DEPLOYMENT STATE_DIR
 * The daemon's control object: starts from STATE_DIR when it holds a state,
 * else from DEPLOYMENT; every accepted change is saved to STATE_DIR before it
 * is acknowledged (design.md §7). Prints "ready" once listening; exits 0 on SIGTERM with a closed loop.
 *
 * Diagnostics come from a small provider over the control plane only:
 * Explain tells the view's private zone or forwarding rule, from
 * the linker's compiled views; Stats counts calls and commits; TargetHealth
 * has no data plane here and is left out (UNAVAILABLE).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_p.h"
#include "base/base.h"
#include "control/control.h"
#include "linker/linker.h"
#include "model/model.h"

static uv_signal_t sigterm;
static api_server_t *server;
static const char *state_dir;
static unsigned commits;

static control_t *owner;

static void publish(void *ctx, resolve_snapshot_t *next)
{
	(void)ctx;
	commits++;
	resolve_snapshot_unref(&next);
}

static int explain(void *ctx, const deployment_t *d, const char *vnet, const char *name,
		   const char *type, json_t **out, char **why)
{
	linker_t *l = NULL;
	pr_diag_t *diag = pr_diag_new();
	int ret = linker_build(d, &l, diag);
	(void)ctx;
	if (ret != 0) {
		*why = pr_diag_format(diag);
		pr_diag_destroy(&diag);
		return ret;
	}
	pr_diag_destroy(&diag);
	const linker_view_t *v = linker_view(l, deployment_find_vnet(d, vnet));
	ruleset_match_t m;
	json_t *o = json_pack("{s:s}", "view", vnet);
	if (v->zone_matcher && ruleset_matcher_match_text(v->zone_matcher, name, &m) == 0 &&
	    m.kind == RULESET_MATCH_USER) {
		json_object_set_new(o, "step", json_string("Q-2"));
		json_object_set_new(o, "zone", json_string(m.domain));
		char *t = pr_asprintf("%s %s: answered from the private zone %s (Q-2)", name,
				      type, m.domain);
		json_object_set_new(o, "text", json_string(t));
		free(t);
	} else if (v->rules && ruleset_matcher_match_text(v->rules, name, &m) == 0 &&
		   m.kind == RULESET_MATCH_USER) {
		const model_rule_t *r = m.value;
		char ip[16];
		json_object_set_new(o, "step", json_string("Q-3"));
		json_object_set_new(o, "rule", json_string(r->name));
		json_object_set_new(o, "target", json_string(pr_ipv4_format(r->targets[0].address,
									    ip)));
		char *t = pr_asprintf("%s %s: forwarded by rule %s to %s (Q-3)", name, type,
				      r->name, ip);
		json_object_set_new(o, "text", json_string(t));
		free(t);
	} else {
		json_object_set_new(o, "step", json_string("Q-4"));
		char *t = pr_asprintf("%s %s: resolved by Azure DNS (Q-4)", name, type);
		json_object_set_new(o, "text", json_string(t));
		free(t);
	}
	linker_destroy(&l);
	*out = o;
	return 0;
}

static int stats(void *ctx, json_t **out, char **why)
{
	(void)ctx;
	(void)why;
	*out = json_pack("{s:{s:I, s:I}}", "counters", "apiCalls",
			 (json_int_t)api_server_calls(server), "commits", (json_int_t)commits);
	return 0;
}

static void on_sigterm(uv_signal_t *s, int signum)
{
	(void)signum;
	api_server_close(&server);
	uv_close((uv_handle_t *)s, NULL);
}

int main(int argc, char **argv)
{
	uv_loop_t loop;
	char *why = NULL;
	pr_diag_t *diag = pr_diag_new();
	api_control_t *control = NULL;
	static const api_diagnostics_t ops = {.explain = explain, .stats = stats};
	static const control_hooks_t hooks = {.publish = publish};

	if (argc != 4) {
		fprintf(stderr, "usage: api_control_server SOCKET DEPLOYMENT STATE_DIR\n");
		return 2;
	}
	state_dir = argv[3];
	control_options_t co = {.config = argv[2], .state_dir = state_dir};
	if (control_open(&co, &owner, diag) != 0) {
		char *t = pr_diag_format(diag);
		fprintf(stderr, "api_control_server: %s\n", t);
		free(t);
		return 1;
	}
	pr_diag_destroy(&diag);
	control_set_hooks(owner, &hooks, NULL);
	uv_loop_init(&loop);
	api_registry_t *reg = api_registry_new();
	api_control_new(owner, &control);
	api_control_set_diagnostics(control, &ops, NULL);
	api_control_register(control, reg);
	api_server_options_t opts = {.unix_path = argv[1]};
	if (api_server_start(&loop, &opts, reg, &server, &why) != 0) {
		fprintf(stderr, "api_control_server: %s\n", why);
		free(why);
		return 1;
	}
	uv_signal_init(&loop, &sigterm);
	uv_signal_start(&sigterm, on_sigterm, SIGTERM);
	printf("ready\n");
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop) == 0 ? 0 : 1;
	api_registry_destroy(&reg);
	api_control_destroy(&control);
	control_destroy(&owner);
	return rc;
}
