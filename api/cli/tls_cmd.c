/* privresctl tls ca | tls issue-client NAME (W-6, [privres]): the local CA
 * in the state directory, on this machine (no API call: the CA's key never
 * crosses the management API). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cli/commands.h"
#include "tls/tls.h"

static void tls_usage(FILE *f)
{
	fputs("usage: privresctl tls ca [--state-dir DIR]\n"
	      "       privresctl tls issue-client NAME [--state-dir DIR] [--days N] [--out DIR]\n"
	      "\n"
	      "The local CA of DNS over TLS and HTTPS listeners (W-6), in DIR/tls\n"
	      "(DIR: --state-dir, else $PRIVRES_STATE_DIR, else ./privres-state); created\n"
	      "when missing. `ca` prints its certificate (what clients trust);\n"
	      "`issue-client` issues a client certificate with subject CN=NAME, printed\n"
	      "(certificate, then key) or written to DIR/NAME.pem and DIR/NAME.key.\n",
	      f);
}

static int write_out(const char *dir, const char *name, const char *ext, const char *text,
		     mode_t mode)
{
	char *path = pr_asprintf("%s/%s.%s", dir, name, ext);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "privresctl tls: can't write %s\n", path);
	else
		printf("%s\n", path);
	free(path);
	return ok ? 0 : 1;
}

int cli_tls(int argc, char **argv)
{
	static const struct option opts[] = {{"state-dir", required_argument, NULL, 's'},
					     {"days", required_argument, NULL, 'd'},
					     {"out", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *state = getenv("PRIVRES_STATE_DIR"), *out = NULL;
	unsigned days = 0;
	int c;
	optind = 0; /* GNU: a full restart, so options may follow the command (permuted) */
	while ((c = getopt_long(argc, argv, "s:d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'd': days = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 'h': tls_usage(stdout); return 0;
		default: tls_usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	bool ca_cmd = argc == 1 && !strcmp(argv[0], "ca");
	bool issue = argc == 2 && !strcmp(argv[0], "issue-client") && argv[1][0];
	if (!ca_cmd && !issue) {
		tls_usage(stderr);
		return 2;
	}
	char *dir = pr_asprintf("%s/tls", state && *state ? state : "./privres-state");
	pr_diag_t *diag = pr_diag_new();
	tls_ca_t *ca = NULL;
	char *cert = NULL, *key = NULL;
	int rc = 1;
	if (tls_ca_open(dir, &ca, diag) != 0) {
		char *text = pr_diag_format(diag);
		fprintf(stderr, "privresctl tls: %s", text);
		free(text);
		goto cleanup;
	}
	if (ca_cmd) {
		fputs(tls_ca_pem(ca), stdout);
		rc = 0;
		goto cleanup;
	}
	tls_issue_t req = {.common_name = argv[1], .client = true, .days = days};
	if (tls_ca_issue(ca, &req, &cert, &key) != 0) {
		fprintf(stderr, "privresctl tls: could not issue a certificate for %s\n", argv[1]);
		goto cleanup;
	}
	if (out == NULL) {
		fputs(cert, stdout);
		fputs(key, stdout);
		rc = 0;
	} else {
		rc = write_out(out, argv[1], "pem", cert, 0644) |
		     write_out(out, argv[1], "key", key, 0600);
	}
cleanup:
	free(cert);
	free(key);
	tls_ca_destroy(&ca);
	pr_diag_destroy(&diag);
	free(dir);
	return rc;
}
