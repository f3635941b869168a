/* privresd's runtime: the control object (control/) owns the deployment;
 * this file starts the workers and the management API around it, binds and
 * publishes what the control accepts, and handles signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "daemon/daemon_p.h"
#include "model/model.h"

resolve_snapshot_t *daemon_snapshot(const daemon_t *dm)
{
	return control_snapshot(dm->control);
}

/* ---- what the control asks of the data plane ------------------------------- */

/* Bind the listeners a snapshot asks for (before the change is persisted). */
static int bind_listeners(void *ctx, const resolve_snapshot_t *next, pr_diag_t *diag)
{
	daemon_t *dm = ctx;
	if (!dm->serving)
		return 0;
	bound_t b;
	listeners_assign(next, &b);
	pr_diag_t *scratch = diag ? NULL : pr_diag_new(); /* undo: findings not wanted */
	int rc = ep_server_set_listeners(dm->server, b.specs, b.n, diag ? diag : scratch);
	if (rc == 0 && dm->opts.ready_file)
		listeners_write_ready_file(dm, &b);
	pr_diag_destroy(&scratch);
	listeners_free(&b);
	return rc;
}

static void publish(void *ctx, resolve_snapshot_t *next)
{
	observe_publish(ctx, next);
	workers_publish(ctx, next);
}

static const control_hooks_t hooks = {.bind = bind_listeners, .publish = publish};

/* ---- the management API (design.md §6) ------------------------------------- */

static int start_api(daemon_t *dm)
{
	int rc = api_control_new(dm->control, &dm->api_control);
	if (rc != 0)
		return rc;
	dm->registry = api_registry_new();
	api_control_register(dm->api_control, dm->registry);
	api_control_set_diagnostics(dm->api_control, &daemon_diagnostics, dm);
	char path[4096];
	const char *sock = dm->opts.api_socket;
	if (!sock) {
		const char *sd = control_state_dir(dm->control);
		const char *dir = sd ? sd : "privres-state";
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/privres.sock", dir);
		sock = path;
	}
	api_server_options_t o = {.unix_path = sock,
				  .tcp_address = dm->opts.api_listen,
				  .token_file = dm->opts.api_token_file};
	char *why = NULL;
	rc = api_server_start(&dm->loop, &o, dm->registry, &dm->api, &why);
	if (rc != 0) {
		fprintf(stderr, "privresd: management API: %s\n", why ? why : pr_strerror(rc));
		free(why);
		return rc;
	}
	if (!dm->opts.quiet) {
		printf("management API on %s", sock);
		if (dm->opts.api_listen)
			printf(" and 127.0.0.1:%d", api_server_tcp_port(dm->api));
		printf("\n");
	}
	return 0;
}

/* ---- signals ---------------------------------------------------------------- */

static void on_stop_signal(uv_signal_t *h, int signum)
{
	daemon_t *dm = h->data;
	if (!dm->opts.quiet)
		fprintf(stderr, "privresd: %s, stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
	uv_stop(&dm->loop);
}

/* SIGHUP applies the deployment file as a change (with prune), persisted like
 * any other; a file with errors is refused and the deployment keeps serving. */
static void on_reload(uv_signal_t *h, int signum)
{
	(void)signum;
	daemon_t *dm = h->data;
	const char *name = dm->opts.config ? dm->opts.config : model_default_deployment_name();
	querylog_reopen(dm->qlog); /* log rotation */
	pr_diag_t *diag = pr_diag_new();
	control_change_t ch = {.op = CONTROL_REPLACE, .recreate = true};
	int rc = control_load_source(dm->opts.config, &ch.doc, diag);
	if (rc == 0)
		rc = control_apply(dm->control, &ch, NULL, diag);
	if (rc != 0) {
		console_print_diag(diag);
		observe_refused(dm, diag);
		fprintf(stderr, "privresd: reload refused (%s); the deployment keeps serving\n", name);
	} else {
		fprintf(stderr, "privresd: reloaded %s\n", name);
	}
	pr_diag_destroy(&diag);
}

/* SIGHUP's default action ends the process: it is caught before anything is
 * served, and one that arrives while privresd starts is handled (a reload)
 * once the loop runs. SIGTERM and SIGINT keep ending a start that takes long. */
static void catch_reload_signal(daemon_t *dm)
{
	uv_signal_init(&dm->loop, &dm->sig_hup);
	dm->sig_hup.data = dm;
	uv_signal_start(&dm->sig_hup, on_reload, SIGHUP);
}

static void start_signals(daemon_t *dm)
{
	uv_signal_init(&dm->loop, &dm->sig_term);
	uv_signal_init(&dm->loop, &dm->sig_int);
	dm->sig_term.data = dm->sig_int.data = dm;
	uv_signal_start(&dm->sig_term, on_stop_signal, SIGTERM);
	uv_signal_start(&dm->sig_int, on_stop_signal, SIGINT);
}

/* ---- run ---------------------------------------------------------------------- */

/* --workers, else emulator.workers, else one per core. */
static unsigned worker_count(const daemon_t *dm)
{
	const model_emulator_t *em = &control_deployment(dm->control)->emulator;
	int n = dm->opts.workers ? dm->opts.workers : em->workers;
	return n > 0 ? (unsigned)n : (unsigned)uv_available_parallelism();
}

static int start_workers(daemon_t *dm)
{
	const model_emulator_t *em = &control_deployment(dm->control)->emulator;
	ep_config_t cfg = {0};
	workers_config(dm, &cfg);
	ep_options_default(&cfg.options);
	cfg.options.tcp_idle_timeout_ms = em->tcp_idle_timeout_ms;
	unsigned n = worker_count(dm);
	cfg.options.workers = n;
	dm->n_workers = n;
	dm->workers = pr_calloc(n, sizeof(*dm->workers));
	for (unsigned i = 0; dm->metrics_on && i < n; i++)
		dm->workers[i].tally = tally_new();
	dm->health = ep_health_new(em->unresponsive_seconds * 1000u);
	dm->inflight = resolve_inflight_new();
	dm->cache = resolve_cache_new();
	updates_open(dm);
	int rc = ep_server_new(&cfg, &dm->server);
	if (rc != 0)
		return rc;
	bound_t b;
	listeners_assign(daemon_snapshot(dm), &b);
	pr_diag_t *diag = pr_diag_new();
	rc = ep_server_start(dm->server, b.specs, b.n, diag);
	if (rc != 0) {
		console_print_diag(diag);
		fprintf(stderr, "privresd: cannot listen; nothing is served\n");
	} else {
		dm->serving = true;
		if (!dm->opts.quiet) {
			console_print_listeners(dm, &b);
			console_print_examples(dm, &b);
			fflush(stdout);
		}
	}
	pr_diag_destroy(&diag);
	listeners_free(&b);
	return rc;
}

/* Ready means every socket bound and the API answering: scripts wait for it. */
static void announce_ready(daemon_t *dm)
{
	if (!dm->opts.ready_file)
		return;
	bound_t b;
	listeners_assign(daemon_snapshot(dm), &b);
	if (listeners_write_ready_file(dm, &b) != 0)
		fprintf(stderr, "privresd: cannot write %s\n", dm->opts.ready_file);
	listeners_free(&b);
}

static int open_control(daemon_t *dm)
{
	control_options_t o = {.config = dm->opts.config,
			       .state_dir = dm->opts.state_dir,
			       .compact_bytes = dm->opts.compact_bytes};
	pr_diag_t *diag = pr_diag_new();
	int rc = control_open(&o, &dm->control, diag);
	if (rc != 0) {
		console_print_diag(diag);
		fprintf(stderr, "privresd: %zu error%s; the deployment was refused, nothing is served\n",
			pr_diag_count(diag), pr_diag_count(diag) == 1 ? "" : "s");
	} else {
		control_set_hooks(dm->control, &hooks, dm);
		if (!dm->opts.quiet)
			printf("privresd: serving %s\n", control_source(dm->control));
	}
	pr_diag_destroy(&diag);
	return rc;
}

/* W-6: the credentials of every encrypted listener, before anything listens. */
static int open_encrypted(daemon_t *dm)
{
	pr_diag_t *diag = pr_diag_new();
	int rc = encrypted_open(daemon_snapshot(dm), control_state_dir(dm->control), diag);
	if (rc != 0)
		console_print_diag(diag);
	pr_diag_destroy(&diag);
	return rc;
}

/* emulator.queryLog; with the web surfaces on, the live view's stream too
 * (without a file: entries are made only while a view watches). */
static int open_query_log(daemon_t *dm)
{
	const model_emulator_t *em = &control_deployment(dm->control)->emulator;
	const char *qlog = em->query_log;
	if (!qlog && !dm->web)
		return 0;
	int rc = querylog_open(qlog, em->query_log_format, worker_count(dm), &dm->qlog);
	if (rc != 0) {
		fprintf(stderr, "privresd: query log %s: %s\n", qlog, pr_strerror(rc));
		return rc;
	}
	querylog_set_web(dm->qlog, dm->web);
	/* the azure format's ids, before the first query */
	resolve_snapshot_t *snap = daemon_snapshot(dm);
	if (querylog_wants_context(dm->qlog))
		querylog_set_context(dm->qlog,
				     querylog_context(resolve_snapshot_deployment(snap), snap));
	return 0;
}

/* --metrics-listen, else emulator.metrics.listen: /metrics, /healthz,
 * /readyz and the live view (web/). */
static int start_web(daemon_t *dm, const char *listen)
{
	if (!listen || dm->web)
		return 0;
	web_sources_t src = daemon_web_sources;
	src.ctx = dm;
	char *why = NULL;
	int rc = web_start(listen, &src, &dm->web, &why);
	if (rc != 0) {
		fprintf(stderr, "privresd: metrics and live view: %s\n",
			why ? why : pr_strerror(rc));
		free(why);
		return rc;
	}
	dm->metrics_on = true;
	if (!dm->opts.quiet)
		printf("metrics, health and the live view on http://127.0.0.1:%u/\n",
		       web_port(dm->web));
	return 0;
}

static const char *metrics_listen_key(const daemon_t *dm)
{
	return control_deployment(dm->control)->emulator.metrics_listen;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* ARM REST (design.md §6) on --arm-listen or emulator.arm.listen, with the
 * user's certificate or one from the local CA of the state directory's tls/
 * (the socket's directory without one). */
static int start_arm(daemon_t *dm)
{
	const model_emulator_t *em = &control_deployment(dm->control)->emulator;
	const char *listen = dm->opts.arm_listen ? dm->opts.arm_listen : em->arm_listen;
	if (!listen)
		return 0;
	const char *sd = control_state_dir(dm->control);
	char *dir = pr_asprintf("%s/tls", sd ? sd : "privres-state");
	arm_server_options_t o = {.listen = listen,
				  .token_file = dm->opts.arm_token_file ? dm->opts.arm_token_file
									: em->arm_token_file,
				  .tls_dir = dir,
				  .cert_file = em->arm_certificate,
				  .key_file = em->arm_private_key,
				  .operation_ms = em->arm_operation_ms};
	char *why = NULL;
	int rc = arm_server_start(&dm->loop, dm->control, &o, &dm->arm, &why);
	free(dir);
	if (rc != 0) {
		fprintf(stderr, "privresd: ARM REST: %s\n", why ? why : pr_strerror(rc));
		free(why);
		return rc;
	}
	if (!dm->opts.quiet)
		printf("ARM REST on https://127.0.0.1:%u (CA certificate: %s)\n",
		       arm_server_port(dm->arm),
		       arm_server_ca_file(dm->arm) ? arm_server_ca_file(dm->arm) : "yours");
	fflush(stdout);
	return 0;
}

int daemon_run(const daemon_options_t *opts)
{
	daemon_t dm = {.opts = *opts, .exit_code = 1};
	pthread_mutex_init(&dm.targets_lock, NULL);
	signal(SIGPIPE, SIG_IGN); /* libuv writes TCP answers with write(2) */
	uv_loop_init(&dm.loop);
	catch_reload_signal(&dm);
	/* The option starts the web surfaces first, so /readyz answers (not
	 * ready) while a large state loads. */
	if (start_web(&dm, opts->metrics_listen) != 0 || open_control(&dm) != 0 ||
	    start_web(&dm, metrics_listen_key(&dm)) != 0 || open_query_log(&dm) != 0 ||
	    open_encrypted(&dm) != 0 || start_workers(&dm) != 0)
		goto cleanup;
	atomic_store(&dm.data_ready, true);
	observe_publish(&dm, daemon_snapshot(&dm));
	if (dm.web)
		web_set_ready(dm.web, true, false);
	if (start_api(&dm) != 0 || start_arm(&dm) != 0)
		goto cleanup;
	atomic_store(&dm.api_ready, true);
	if (dm.web)
		web_set_ready(dm.web, true, true);
	announce_ready(&dm);
	start_signals(&dm);
	uv_run(&dm.loop, UV_RUN_DEFAULT);
	dm.exit_code = 0;
cleanup:
	/* The web thread reads the workers' counters, and the query log's writer
	 * feeds the web's stream: both let go of them first. */
	if (dm.qlog)
		querylog_set_web(dm.qlog, NULL);
	web_stop(&dm.web);
	if (dm.server) {
		ep_server_stop(dm.server);
		ep_server_destroy(&dm.server);
	}
	api_server_close(&dm.api);
	arm_server_close(&dm.arm);
	api_control_destroy(&dm.api_control);
	api_registry_destroy(&dm.registry);
	uv_walk(&dm.loop, close_walk, NULL);
	uv_run(&dm.loop, UV_RUN_DEFAULT);
	uv_loop_close(&dm.loop);
	querylog_close(&dm.qlog);
	encrypted_close();
	ep_health_destroy(&dm.health);
	resolve_inflight_destroy(&dm.inflight); /* after every worker's resolve_worker_destroy */
	resolve_cache_destroy(&dm.cache);
	updates_close(&dm);
	for (unsigned i = 0; dm.workers && i < dm.n_workers; i++)
		tally_destroy(&dm.workers[i].tally);
	free(dm.workers);
	json_decref(dm.targets);
	json_decref(dm.policies);
	pthread_mutex_destroy(&dm.targets_lock);
	control_destroy(&dm.control);
	return dm.exit_code;
}
