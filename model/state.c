/* Durable state (design.md §7): the whole deployment in one file, replaced
 * atomically. A change is acknowledged only after the new file and the
 * directory entry are on disk, so a kill -9 leaves the old or the new state,
 * whole; a file damaged any other way is detected by its checksum and refused,
 * never half-loaded. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_p.h"

/* Canonical text: compact with sorted keys, so that the checksum does not
 * depend on key order or indentation of the envelope. */
static char *canonical_text(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

char *model_state_checksum(const json_t *deployment_json)
{
	char *text = canonical_text(deployment_json);
	/* Unmixed: the value stored in state files written so far. */
	uint64_t h = pr_hash_bytes(PR_HASH_INIT, text ? text : "", text ? strlen(text) : 0);
	free(text);
	return pr_asprintf("%016" PRIx64, h);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p with mode 0700 for what is created: the state holds the whole
 * configuration, for the daemon's user only. */
static int make_dirs(const char *dir)
{
	char *p = pr_strdup(dir);
	int ret = 0;

	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

/* What the checksum covers: the deployment alone (sequence 0, as every state
 * written before the journal), else the deployment and its sequence number, so
 * that neither can change unnoticed. */
static char *envelope_checksum(const json_t *deployment_json, uint64_t sequence)
{
	if (sequence == 0)
		return model_state_checksum(deployment_json);
	json_t *both = json_pack("{s:O, s:I}", "deployment", deployment_json, "sequence",
				 (json_int_t)sequence);
	char *sum = model_state_checksum(both);
	json_decref(both);
	return sum;
}

int model_state_save(const char *dir, const json_t *deployment_json, pr_diag_t *diag)
{
	return model_state_save_at(dir, deployment_json, 0, diag);
}

int model_state_load(const char *dir, json_t **out, pr_diag_t *diag)
{
	uint64_t sequence;
	return model_state_load_at(dir, out, &sequence, diag);
}

int model_state_save_at(const char *dir, const json_t *deployment_json, uint64_t sequence,
			pr_diag_t *diag)
{
	char *path = NULL, *tmp = NULL, *text = NULL, *sum = NULL;
	json_t *env = NULL;
	int fd = -1, dfd = -1, ret = 0;
	const char *step = NULL;

	PR_REQUIRE(dir && deployment_json);
	path = pr_asprintf("%s/%s", dir, MODEL_STATE_FILE);
	if ((ret = make_dirs(dir)) != 0) {
		step = "cannot create the state directory";
		goto cleanup;
	}
	sum = envelope_checksum(deployment_json, sequence);
	env = json_pack("{s:s, s:i, s:s, s:O}", "format", MODEL_STATE_FORMAT, "version",
			MODEL_STATE_VERSION, "checksum", sum, "deployment", deployment_json);
	if (sequence > 0)
		json_object_set_new(env, "sequence", json_integer((json_int_t)sequence));
	text = json_dumps(env, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		ret = PR_EIO;
		step = "cannot encode the deployment";
		goto cleanup;
	}
	/* the temp file lives in the same directory: rename() is atomic only
	 * within one file system */
	tmp = pr_asprintf("%s/.%s.tmp.XXXXXX", dir, MODEL_STATE_FILE);
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		step = "cannot create a temporary file";
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	if ((ret = write_all(fd, text, strlen(text))) != 0 || (ret = write_all(fd, "\n", 1)) != 0) {
		step = "cannot write";
		goto cleanup;
	}
	if (fsync(fd) != 0) {
		ret = -errno;
		step = "fsync failed";
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		ret = -errno;
		step = "close failed";
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		ret = -errno;
		step = "rename failed";
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	/* the rename itself is durable only once the directory is synced */
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || fsync(dfd) != 0) {
		ret = -errno;
		step = "fsync of the state directory failed";
		goto cleanup;
	}
cleanup:
	if (ret != 0 && diag)
		pr_diag_add(diag, path, 0, 0, NULL, NULL, ret <= PR_EBASE ? ret : PR_EIO,
			    "state not saved: %s: %s", step ? step : "error", pr_strerror(ret));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	free(sum);
	json_decref(env);
	free(path);
	return ret;
}

static int corrupt(pr_diag_t *diag, const char *path, int line, int column, const char *what)
{
	if (diag)
		pr_diag_add(diag, path, line, column, NULL, NULL, PR_ECORRUPT,
			    "corrupt state file: %s; it is refused whole (design.md §7): fix or "
			    "remove it, or start from a deployment file",
			    what);
	return PR_ECORRUPT;
}

int model_state_load_at(const char *dir, json_t **out, uint64_t *sequence, pr_diag_t *diag)
{
	char *path = NULL, *sum = NULL, *what = NULL;
	json_t *env = NULL;
	json_error_t jerr;
	int ret = 0;

	PR_REQUIRE(dir && out);
	path = pr_asprintf("%s/%s", dir, MODEL_STATE_FILE);
	struct stat st;
	if (stat(path, &st) != 0) {
		ret = errno == ENOENT || errno == ENOTDIR ? PR_ENOTFOUND : -errno;
		if (ret != PR_ENOTFOUND && diag)
			pr_diag_add(diag, path, 0, 0, NULL, NULL, ret, "cannot read state: %s",
				    pr_strerror(ret));
		goto cleanup;
	}
	env = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!env) {
		if (json_error_code(&jerr) == json_error_cannot_open_file) {
			ret = PR_EIO;
			if (diag)
				pr_diag_add(diag, path, 0, 0, NULL, NULL, ret,
					    "cannot read state: %s", jerr.text);
			goto cleanup;
		}
		what = pr_asprintf("not JSON at line %d, column %d: %s (a partly written file?)",
				   jerr.line, jerr.column, jerr.text);
		ret = corrupt(diag, path, jerr.line, jerr.column, what);
		goto cleanup;
	}
	const char *format = json_string_value(json_object_get(env, "format"));
	json_t *version = json_object_get(env, "version");
	const char *stored = json_string_value(json_object_get(env, "checksum"));
	json_t *dep = json_object_get(env, "deployment");
	if (!json_is_object(env) || !format || strcmp(format, MODEL_STATE_FORMAT) != 0) {
		what = pr_asprintf("format is %s%s%s, expected \"%s\"", format ? "\"" : "",
				   format ? format : "missing", format ? "\"" : "",
				   MODEL_STATE_FORMAT);
		ret = corrupt(diag, path, 0, 0, what);
		goto cleanup;
	}
	if (!json_is_integer(version) || json_integer_value(version) != MODEL_STATE_VERSION) {
		what = json_is_integer(version)
			       ? pr_asprintf("version %lld is not supported (this privres reads "
					     "version %d)",
					     (long long)json_integer_value(version),
					     MODEL_STATE_VERSION)
			       : pr_asprintf("version is missing or not an integer");
		ret = corrupt(diag, path, 0, 0, what);
		goto cleanup;
	}
	if (!json_is_object(dep) || !stored) {
		ret = corrupt(diag, path, 0, 0,
			      !stored ? "checksum is missing" : "deployment is missing");
		goto cleanup;
	}
	json_t *seq = json_object_get(env, "sequence");
	if (seq && (!json_is_integer(seq) || json_integer_value(seq) < 1)) {
		ret = corrupt(diag, path, 0, 0, "sequence is not a positive integer");
		goto cleanup;
	}
	uint64_t at = seq ? (uint64_t)json_integer_value(seq) : 0;
	sum = envelope_checksum(dep, at);
	if (strcmp(sum, stored) != 0) {
		what = pr_asprintf("checksum mismatch (stored %s, computed %s): the file was "
				   "changed or partly written",
				   stored, sum);
		ret = corrupt(diag, path, 0, 0, what);
		goto cleanup;
	}
	*out = json_incref(dep);
	*sequence = at;
cleanup:
	free(what);
	free(sum);
	json_decref(env);
	free(path);
	return ret;
}
