/* privres-stub: the host-side client stub of topologies (stub.h). Parses its
 * configuration, runs the loop, stops on SIGTERM/SIGINT, reopens its log on
 * SIGHUP. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "stub/stub.h"

static stub_server_t *server;

static void on_signal(uv_signal_t *h, int signum)
{
	if (signum == SIGHUP) {
		stub_server_reopen_log(server);
		return;
	}
	stub_server_stop(&server);
	uv_close((uv_handle_t *)h, NULL);
	uv_close((uv_handle_t *)h->data, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: privres-stub CONFIG\n"
				"  the Windows DNS Client's order over a host's adapters, and an "
				"overlay agent's stub (topology/README.md)\n");
		return 2;
	}
	char *text = NULL, *why = NULL;
	size_t len;
	int rc = pr_read_file(argv[1], &text, &len);
	if (rc != 0) {
		fprintf(stderr, "privres-stub: %s: %s\n", argv[1], pr_strerror(rc));
		return 1;
	}
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = pr_now_ns();
	stub_config_t cfg;
	rc = stub_config_parse(argv[1], text, seed, &cfg, &why);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "privres-stub: %s\n", why);
		free(why);
		return 1;
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	if (stub_server_start(&loop, &cfg, NULL, &server, &why) != 0) {
		fprintf(stderr, "privres-stub: %s\n", why);
		free(why);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		stub_config_free(&cfg);
		return 1;
	}
	uv_signal_t term, intr, hup;
	uv_signal_init(&loop, &term);
	uv_signal_init(&loop, &intr);
	uv_signal_init(&loop, &hup);
	term.data = &intr;
	intr.data = &term;
	hup.data = NULL;
	uv_signal_start(&term, on_signal, SIGTERM);
	uv_signal_start(&intr, on_signal, SIGINT);
	uv_signal_start(&hup, on_signal, SIGHUP);
	uv_unref((uv_handle_t *)&hup);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&hup, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	int closed = uv_loop_close(&loop);
	stub_config_free(&cfg);
	return closed == 0 ? 0 : 1;
}
