/* privresd: options, loading, and (as the data plane lands) the loops. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "daemon/daemon.h"
#include "control/control.h"
#include "linker/linker.h"
#include "model/model.h"

#define PRIVRES_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: privresd [options]\n"
		"\n"
		"A local emulator of a cloud DNS private resolver appliance.\n"
		"With no options, serves the embedded default deployment (%s).\n"
		"\n"
		"options:\n"
		"  -c, --config FILE     serve the deployment in FILE (YAML); SIGHUP re-reads it\n"
		"      --ready-file F    write the listeners as JSON to F once every socket is bound\n"
		"      --state-dir DIR   keep the deployment durably in DIR (wins over --config when\n"
		"                        it holds a saved state; default: emulator.stateDir)\n"
		"      --compact-bytes N compact the state's journal into a snapshot once it holds\n"
		"                        N bytes (default: 1 MiB or the snapshot's size)\n"
		"      --api-socket P    the management API's Unix socket\n"
		"                        (default: <state dir or ./privres-state>/privres.sock)\n"
		"      --api-listen A    also serve the API on loopback TCP A (127.0.0.1:PORT)\n"
		"      --api-token-file F  the bearer token TCP callers must present\n"
		"      --arm-listen A    serve ARM REST (the cloud's management API) over HTTPS on A\n"
		"      --arm-token-file F  the one bearer token ARM accepts (default: any well-formed)\n"
		"      --metrics-listen A  serve /metrics, /healthz, /readyz and the live view\n"
		"                        on plain HTTP A (127.0.0.1:PORT;\n"
		"                        default: emulator.metrics.listen)\n"
		"  -w, --workers N       worker threads (default: emulator.workers, else cores)\n"
		"  -q, --quiet           no listener table on start\n"
		"      --check FILE      validate FILE, print a summary and exit (0 valid, 1 not)\n"
		"      --print-default   print the embedded default deployment and exit\n"
		"      --export FILE     print FILE's deployment as JSON with what was computed\n"
		"                        (ids, allocated addresses) and exit\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n"
		"\n"
		"exit codes: 0 ok, 1 the deployment was refused, 2 usage\n",
		model_default_deployment_name());
}

static void print_diag(const pr_diag_t *diag)
{
	char *text = pr_diag_format(diag);
	fputs(text, stderr);
	free(text);
}

static void print_limit_overrides(const deployment_t *d)
{
	for (int i = 0; i < MODEL_LIMIT_COUNT; i++)
		if (d->limits.overridden[i])
			printf("note: limit %s (%s) overridden to %d by limits: (for tests only)\n",
			       model_limit_key((model_limit_id_t)i),
			       model_limit_rule((model_limit_id_t)i), d->limits.value[i]);
}

/* The one check of control/ (validate, link, compile); on failure print
 * every finding. */
static int load(const char *path, resolve_snapshot_t **out)
{
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	int rc = control_load_source(path, &doc, diag);
	if (rc == 0)
		rc = control_check(&doc, out, diag);
	if (rc != 0) {
		print_diag(diag);
		fprintf(stderr, "%zu error%s; the deployment was refused, nothing changed\n",
			pr_diag_count(diag), pr_diag_count(diag) == 1 ? "" : "s");
	}
	pr_diag_destroy(&diag);
	return rc;
}

static int check(const char *path)
{
	resolve_snapshot_t *s = NULL;
	if (load(path, &s) != 0)
		return 1;
	printf("%s: valid\n", path ? path : model_default_deployment_name());
	print_limit_overrides(resolve_snapshot_deployment(s));
	char *summary = linker_summary(resolve_snapshot_linker(s));
	fputs(summary, stdout);
	free(summary);
	resolve_snapshot_unref(&s);
	return 0;
}

static int export_json(const char *path)
{
	resolve_snapshot_t *s = NULL;
	if (load(path, &s) != 0)
		return 1;
	json_t *j = deployment_to_json(resolve_snapshot_deployment(s));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(text);
	free(text);
	json_decref(j);
	resolve_snapshot_unref(&s);
	return 0;
}

enum {
	OPT_CHECK = 1000,
	OPT_PRINT_DEFAULT,
	OPT_EXPORT,
	OPT_READY,
	OPT_STATE,
	OPT_API_SOCKET,
	OPT_API_LISTEN,
	OPT_API_TOKEN,
	OPT_COMPACT,
	OPT_ARM_LISTEN,
	OPT_ARM_TOKEN,
	OPT_METRICS
};

/* The options that are a whole run of their own: their exit status. */
static int take_command(int opt)
{
	switch (opt) {
	case OPT_CHECK:
		return check(optarg);
	case OPT_EXPORT:
		return export_json(optarg);
	case OPT_PRINT_DEFAULT:
		fputs(model_default_deployment_text(), stdout);
		return 0;
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		printf("privresd %s\n", PRIVRES_VERSION);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
}

/* One option into o; an exit status when the option ends the run, else -1. */
static int take_option(int opt, daemon_options_t *o)
{
	char *end;
	switch (opt) {
	case 'c':
		o->config = optarg;
		return -1;
	case OPT_READY:
		o->ready_file = optarg;
		return -1;
	case OPT_STATE:
		o->state_dir = optarg;
		return -1;
	case OPT_API_SOCKET:
		o->api_socket = optarg;
		return -1;
	case OPT_COMPACT: {
		long long n = strtoll(optarg, &end, 10);
		if (*end || n < 1) {
			fprintf(stderr, "privresd: --compact-bytes takes a positive number\n");
			return 2;
		}
		o->compact_bytes = (size_t)n;
		return -1;
	}
	case OPT_API_LISTEN:
		o->api_listen = optarg;
		return -1;
	case OPT_API_TOKEN:
		o->api_token_file = optarg;
		return -1;
	case OPT_ARM_LISTEN:
		o->arm_listen = optarg;
		return -1;
	case OPT_ARM_TOKEN:
		o->arm_token_file = optarg;
		return -1;
	case OPT_METRICS:
		o->metrics_listen = optarg;
		return -1;
	case 'q':
		o->quiet = true;
		return -1;
	case 'w':
		o->workers = (int)strtol(optarg, &end, 10);
		if (*end || o->workers < 1 || o->workers > 256) {
			fprintf(stderr, "privresd: --workers takes 1..256\n");
			return 2;
		}
		return -1;
	default:
		return take_command(opt);
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", required_argument, NULL, OPT_CHECK},
		{"print-default", no_argument, NULL, OPT_PRINT_DEFAULT},
		{"export", required_argument, NULL, OPT_EXPORT},
		{"ready-file", required_argument, NULL, OPT_READY},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"api-socket", required_argument, NULL, OPT_API_SOCKET},
		{"compact-bytes", required_argument, NULL, OPT_COMPACT},
		{"api-listen", required_argument, NULL, OPT_API_LISTEN},
		{"api-token-file", required_argument, NULL, OPT_API_TOKEN},
		{"arm-listen", required_argument, NULL, OPT_ARM_LISTEN},
		{"arm-token-file", required_argument, NULL, OPT_ARM_TOKEN},
		{"metrics-listen", required_argument, NULL, OPT_METRICS},
		{"workers", required_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	daemon_options_t o = {0};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:w:qhV", options, NULL)) != -1) {
		int status = take_option(opt, &o);
		if (status >= 0)
			return status;
	}
	if (optind < argc) {
		fprintf(stderr, "privresd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.api_listen && !o.api_token_file) {
		fprintf(stderr, "privresd: --api-listen needs --api-token-file\n");
		return 2;
	}
	return daemon_run(&o);
}
