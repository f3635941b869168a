/*
 * privresctl — the command-line client of the management API (design.md §6).
 * Parses options, makes one gRPC call with the library's client, prints the
 * result. Exit codes: 0 ok, 1 rejected, 2 usage, 3 unreachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/base.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

typedef struct cli {
	api_client_target_t target;
	char *token;
	const char *output; /* "json" or "table" */
} cli_t;

static void usage(FILE *f)
{
	fputs("usage: privresctl [options] <command> [arguments]\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket PATH       the daemon's Unix socket (default: $PRIVRES_SOCKET,\n"
	      "                          else ./privres-state/privres.sock)\n"
	      "  -a, --address HOST:PORT a loopback TCP address instead of the socket\n"
	      "  -t, --token-file FILE   bearer token for TCP (default: $PRIVRES_TOKEN_FILE)\n"
	      "      --timeout SECONDS   deadline of the call (default 30)\n"
	      "  -o, --output FORMAT     json (default) or table\n"
	      "  -h, --help              this text\n"
	      "\n"
	      "Commands:\n"
	      "  call METHOD [JSON|-]    call any method of privres.proto with a JSON request\n"
	      "                          (proto3 JSON; \"-\" reads it from stdin), e.g.\n"
	      "                          privresctl call privres.v1.DnsResolverService/List '{}'\n"
	      "\n"
	      "Exit codes: 0 ok, 1 rejected by the server, 2 usage, 3 server unreachable.\n",
	      f);
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4097];

	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return pr_strdup(buf);
}

static int print_json(const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!text)
		return EXIT_REJECTED;
	puts(text);
	free(text);
	return 0;
}

/* A table for people: one row per element of the first array found (a List
 * response's "value"), columns from the scalar properties; else key/value. */
static void print_table(const json_t *j)
{
	const char *key;
	json_t *v;
	const json_t *rows = NULL;

	json_object_foreach((json_t *)j, key, v) {
		if (json_is_array(v)) {
			rows = v;
			break;
		}
	}
	if (!rows) {
		json_object_foreach((json_t *)j, key, v) {
			char *text = json_is_string(v) ? pr_strdup(json_string_value(v))
						       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%-28s %s\n", key, text ? text : "");
			free(text);
		}
		return;
	}
	size_t i;
	json_t *row;
	json_t *cols = json_array();
	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			bool have = false;
			for (size_t k = 0; k < json_array_size(cols); k++)
				have |= strcmp(json_string_value(json_array_get(cols, k)), key) == 0;
			if (!have && !json_is_object(v) && !json_is_array(v) && strcmp(key, "id") != 0)
				json_array_append_new(cols, json_string(key));
		}
	}
	for (size_t k = 0; k < json_array_size(cols); k++)
		printf("%-24s", json_string_value(json_array_get(cols, k)));
	putchar('\n');
	json_array_foreach(rows, i, row) {
		for (size_t k = 0; k < json_array_size(cols); k++) {
			json_t *cell = json_object_get(row, json_string_value(json_array_get(cols, k)));
			char *text = !cell		  ? pr_strdup("")
				     : json_is_string(cell) ? pr_strdup(json_string_value(cell))
							    : json_dumps(cell, JSON_ENCODE_ANY);
			printf("%-24s", text ? text : "");
			free(text);
		}
		putchar('\n');
	}
	json_decref(cols);
}

static int cmd_call(cli_t *cli, int argc, char **argv)
{
	json_t *req = NULL, *resp = NULL;
	json_error_t jerr;
	api_status_t status = {0};
	char *path = NULL;
	int rc = 0;

	if (argc < 1 || argc > 2) {
		fprintf(stderr, "privresctl call: expected METHOD [JSON|-]\n");
		return EXIT_USAGE;
	}
	/* "privres.v1.X/Y", "/privres.v1.X/Y" and "X/Y" all name the same method */
	const char *m = argv[0][0] == '/' ? argv[0] + 1 : argv[0];
	path = strncmp(m, "privres.v1.", 11) == 0 ? pr_asprintf("/%s", m)
						  : pr_asprintf("/privres.v1.%s", m);
	if (argc == 1)
		req = json_object();
	else if (strcmp(argv[1], "-") == 0)
		req = json_loadf(stdin, 0, &jerr);
	else
		req = json_loads(argv[1], 0, &jerr);
	if (!req) {
		fprintf(stderr, "privresctl call: request is not JSON: %s (line %d, column %d)\n",
			jerr.text, jerr.line, jerr.column);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (api_client_call_json(&cli->target, path, req, &resp, &status) < 0) {
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (status.code != API_STATUS_OK) {
		fprintf(stderr, "privresctl: %s: %s\n", api_status_name(status.code),
			status.message);
		rc = api_exit_code_for_status(status.code);
		goto cleanup;
	}
	if (strcmp(cli->output, "table") == 0)
		print_table(resp);
	else
		rc = print_json(resp);
cleanup:
	json_decref(req);
	json_decref(resp);
	free(path);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"address", required_argument, NULL, 'a'},
		{"token-file", required_argument, NULL, 't'},
		{"timeout", required_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	cli_t cli = {.output = "json"};
	const char *token_file = getenv("PRIVRES_TOKEN_FILE");
	int c, rc;

	cli.target.unix_path = getenv("PRIVRES_SOCKET");
	cli.target.timeout_ms = 30000;
	/* stop at the first non-option: the command's own options follow it */
	while ((c = getopt_long(argc, argv, "+s:a:t:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli.target.unix_path = optarg;
			break;
		case 'a':
			cli.target.tcp_address = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'T': {
			char *end = NULL;
			double s = strtod(optarg, &end);
			if (*end || s <= 0 || s > 86400) {
				fprintf(stderr, "privresctl: --timeout: expected seconds\n");
				return EXIT_USAGE;
			}
			cli.target.timeout_ms = (uint64_t)(s * 1000);
			break;
		}
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
				fprintf(stderr, "privresctl: --output: json or table\n");
				return EXIT_USAGE;
			}
			cli.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli.target.tcp_address) {
		cli.target.unix_path = NULL; /* an explicit address wins over $PRIVRES_SOCKET */
		if (!token_file) {
			fprintf(stderr, "privresctl: --address needs --token-file\n");
			return EXIT_USAGE;
		}
		cli.token = read_token_file(token_file);
		if (!cli.token) {
			fprintf(stderr, "privresctl: %s: cannot read the token\n", token_file);
			return EXIT_USAGE;
		}
		cli.target.token = cli.token;
	} else if (!cli.target.unix_path) {
		cli.target.unix_path = "./privres-state/privres.sock";
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	if (strcmp(cmd, "call") == 0) {
		if (optind + 1 < argc && (strcmp(argv[optind + 1], "--help") == 0 ||
					  strcmp(argv[optind + 1], "-h") == 0)) {
			usage(stdout);
			rc = 0;
		} else {
			rc = cmd_call(&cli, argc - optind - 1, argv + optind + 1);
		}
	} else {
		fprintf(stderr, "privresctl: unknown command \"%s\"\n", cmd);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	free(cli.token);
	return rc;
}
