/* HCL through HashiCorp's parser: @cdktf/hcl2json (hcl2json compiled to
 * WebAssembly, as packaged for npm) run by node in a child process. The
 * parser gives no positions, so the line of a block is found by scanning the
 * file for its header. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "terraform/terraform_p.h"

/* Parse every file named on the command line, separately, so that each
 * block keeps its file. */
static const char script[] =
	"const fs=require('fs'),path=require('path');"
	"const {parse}=require('@cdktf/hcl2json');"
	"(async()=>{const out={};"
	"for(const f of process.argv.slice(1)){"
	"out[f]=await parse(path.basename(f),fs.readFileSync(f,'utf8'));}"
	"process.stdout.write(JSON.stringify(out));})()"
	".catch(e=>{process.stderr.write(String(e&&e.message||e)+'\\n');process.exit(1);});";

char *terraform_hcl2json_default_dir(void)
{
	const char *env = getenv("PRIVRES_HCL2JSON_DIR");
	if (env && *env)
		return pr_strdup(env);
	const char *xdg = getenv("XDG_CACHE_HOME");
	if (xdg && *xdg)
		return pr_asprintf("%s/privres/hcl2json", xdg);
	const char *home = getenv("HOME");
	return pr_asprintf("%s/.cache/privres/hcl2json", home && *home ? home : "/tmp");
}

/* Run argv with env_add in the environment; stdout and stderr collected. */
static int run(char *const argv[], const char *env_add, pr_buf_t *out, pr_buf_t *err_out,
	       int *status)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	int rc = 0;
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		rc = -errno;
		goto cleanup;
	}
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto cleanup;
	}
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		putenv((char *)env_add);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	int open_fds = 2;
	char buf[65536];
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0) {
				pr_buf_append(i == 0 ? out : err_out, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	pr_buf_append(out, "", 1);
	pr_buf_append(err_out, "", 1);
cleanup:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return rc;
}

/* hcl2json's error: "parse config: [main.tf:3,5-6: Missing ...]" → file, line. */
static void report_parse_error(tf_import_t *imp, const char *const *files, size_t n,
			       const char *text)
{
	const char *file = n == 1 ? files[0] : NULL;
	int line = 0;
	const char *br = strchr(text, '[');
	const char *msg = text;
	if (br) {
		const char *colon = strchr(br, ':');
		if (colon) {
			for (size_t i = 0; i < n; i++) {
				const char *base = strrchr(files[i], '/');
				base = base ? base + 1 : files[i];
				if ((size_t)(colon - br - 1) == strlen(base) &&
				    !strncmp(br + 1, base, strlen(base)))
					file = files[i];
			}
			line = atoi(colon + 1);
			const char *m = strstr(colon, ": ");
			if (m)
				msg = m + 2;
		}
	}
	char *clean = pr_strdup(msg);
	size_t len = strlen(clean);
	while (len && (clean[len - 1] == '\n' || clean[len - 1] == ']'))
		clean[--len] = '\0';
	pr_diag_add(imp->diag, file, line, 0, NULL, NULL, PR_EPARSE, "%s", clean);
	if (!imp->err)
		imp->err = PR_EPARSE;
	free(clean);
}

json_t *tf_hcl_parse_files(tf_import_t *imp, const char *const *files, size_t n)
{
	char *dir = imp->opts->hcl2json_dir ? pr_strdup(imp->opts->hcl2json_dir)
					    : terraform_hcl2json_default_dir();
	char *pkg = pr_asprintf("%s/node_modules/@cdktf/hcl2json/package.json", dir);
	char *env = pr_asprintf("NODE_PATH=%s/node_modules", dir);
	char **argv = pr_calloc(n + 4, sizeof(*argv));
	pr_buf_t out = {0}, err = {0};
	json_t *result = NULL;
	int status = 0;
	struct stat st;

	if (stat(pkg, &st) != 0) {
		pr_diag_add(imp->diag, imp->opts->path, 0, 0, NULL, NULL, PR_ENOTFOUND,
			    "the HCL parser @cdktf/hcl2json is not installed in %s: run "
			    "terraform/setup.sh (or import the JSON of `terraform show -json`)",
			    dir);
		imp->err = imp->err ? imp->err : PR_ENOTFOUND;
		goto cleanup;
	}
	argv[0] = (char *)(imp->opts->node ? imp->opts->node : "node");
	argv[1] = "-e";
	argv[2] = (char *)script;
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = (char *)files[i];
	int rc = run(argv, env, &out, &err, &status);
	if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		pr_diag_add(imp->diag, imp->opts->path, 0, 0, NULL, NULL, PR_ENOTFOUND,
			    "cannot run node (%s) for the HCL parser: %s", argv[0],
			    rc	       ? pr_strerror(rc)
			    : err.data ? err.data
				       : "killed");
		imp->err = imp->err ? imp->err : PR_ENOTFOUND;
		goto cleanup;
	}
	if (WEXITSTATUS(status) != 0) {
		report_parse_error(imp, files, n, err.data ? err.data : "hcl2json failed");
		goto cleanup;
	}
	json_error_t jerr;
	result = json_loads(out.data ? out.data : "", 0, &jerr);
	if (!json_is_object(result)) {
		json_decref(result);
		result = NULL;
		pr_diag_add(imp->diag, imp->opts->path, 0, 0, NULL, NULL, PR_EPARSE,
			    "hcl2json gave no JSON object: %s", jerr.text);
		imp->err = imp->err ? imp->err : PR_EPARSE;
	}
cleanup:
	pr_buf_free(&out);
	pr_buf_free(&err);
	free(argv);
	free(env);
	free(pkg);
	free(dir);
	return result;
}

/* The header of a block: kind "a" "b" {, with any spacing, at the start of a
 * line (HCL blocks of the top level). */
int tf_find_line(const char *file, const char *kind, const char *a, const char *b)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char *want_a = pr_asprintf("\"%s\"", a);
	char *want_b = b ? pr_asprintf("\"%s\"", b) : NULL;
	char *line = NULL;
	size_t cap = 0;
	int n = 0, found = 0;
	while (!found && getline(&line, &cap, f) >= 0) {
		n++;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t kl = strlen(kind);
		if (strncmp(s, kind, kl) != 0 || (s[kl] != ' ' && s[kl] != '\t'))
			continue;
		s += kl;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, want_a, strlen(want_a)) != 0)
			continue;
		s += strlen(want_a);
		if (want_b) {
			while (*s == ' ' || *s == '\t')
				s++;
			if (strncmp(s, want_b, strlen(want_b)) != 0)
				continue;
		}
		found = n;
	}
	free(line);
	free(want_a);
	free(want_b);
	fclose(f);
	return found;
}
