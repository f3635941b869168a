/* The journal of changes (design.md §7): an acknowledged change of one
 * resource costs one appended line and one fdatasync, whatever the size of the
 * deployment; the snapshot of the whole deployment is written only now and
 * then (control.c compacts). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"
#include "control/control_p.h"
#include "model/model.h"

struct journal {
	int fd;
	char *path;
	size_t bytes;
};

static int refuse(pr_diag_t *diag, const char *path, int line, const char *fmt, const char *what)
{
	pr_diag_add(diag, path, line, 0, NULL, NULL, PR_ECORRUPT,
		    "damaged journal: %s; the state is refused whole (design.md §7): restore "
		    "it, or remove the state directory and start from a deployment file",
		    what ? what : fmt);
	return PR_ECORRUPT;
}

static char *record_checksum(uint64_t sequence, const json_t *change)
{
	json_t *both =
		json_pack("{s:I, s:O}", "sequence", (json_int_t)sequence, "change", change);
	char *sum = model_state_checksum(both);
	json_decref(both);
	return sum;
}

/* One line of the journal: checked and, when above after, applied. */
static int replay_line(const char *path, int lineno, const char *text, size_t len,
		       uint64_t after, uint64_t *last, journal_apply_fn apply, void *ctx,
		       pr_diag_t *diag)
{
	json_error_t jerr;
	json_t *rec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *seq = json_object_get(rec, "sequence");
	json_t *change = json_object_get(rec, "change");
	const char *stored = json_string_value(json_object_get(rec, "checksum"));
	char *sum = NULL, *what = NULL;
	int ret = 0;

	if (!rec || !json_is_integer(seq) || !json_is_object(change) || !stored) {
		ret = refuse(diag, path, lineno, "not a journal record", NULL);
		goto cleanup;
	}
	uint64_t at = (uint64_t)json_integer_value(seq);
	sum = record_checksum(at, change);
	if (strcmp(sum, stored) != 0) {
		what = pr_asprintf("checksum mismatch at sequence %" PRIu64, at);
		ret = refuse(diag, path, lineno, NULL, what);
		goto cleanup;
	}
	if (at <= after)
		goto cleanup; /* already in the snapshot (compaction stopped midway) */
	if (at != *last + 1) {
		what = pr_asprintf("sequence %" PRIu64 " follows %" PRIu64 " (a record is missing)",
				   at, *last);
		ret = refuse(diag, path, lineno, NULL, what);
		goto cleanup;
	}
	if ((ret = apply(ctx, change, diag)) == 0)
		*last = at;
cleanup:
	free(what);
	free(sum);
	json_decref(rec);
	return ret;
}

/* The journal's text; none when it does not exist yet. */
static int read_all(const char *path, char **text, size_t *len, pr_diag_t *diag)
{
	int ret = pr_read_file(path, text, len);
	if (ret == -ENOENT) {
		*text = NULL;
		*len = 0;
		return 0;
	}
	if (ret != 0)
		pr_diag_add(diag, path, 0, 0, NULL, NULL, PR_EIO, "cannot read the journal: %s",
			    pr_strerror(ret));
	return ret;
}

int journal_open(const char *dir, uint64_t after, journal_apply_fn apply, void *ctx,
		 journal_t **out, uint64_t *last, pr_diag_t *diag)
{
	char *path = pr_asprintf("%s/%s", dir, CONTROL_JOURNAL_FILE);
	char *text = NULL;
	size_t len = 0, good = 0;
	uint64_t seq = after;
	/* without apply, the caller has just written a snapshot holding everything */
	int lineno = 0, ret = apply ? read_all(path, &text, &len, diag) : 0;

	while (ret == 0 && good < len) {
		const char *nl = memchr(text + good, '\n', len - good);
		if (!nl)
			break; /* torn: never acknowledged */
		size_t n = (size_t)(nl - (text + good));
		ret = replay_line(path, ++lineno, text + good, n, after, &seq, apply, ctx, diag);
		if (ret == 0)
			good += n + 1;
	}
	free(text);
	if (ret != 0)
		goto cleanup;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || ((good < len || !apply) && ftruncate(fd, (off_t)good) != 0)) {
		ret = -errno;
		pr_diag_add(diag, path, 0, 0, NULL, NULL, PR_EIO, "cannot open the journal: %s",
			    pr_strerror(ret));
		if (fd >= 0)
			close(fd);
		goto cleanup;
	}
	journal_t *j = pr_calloc(1, sizeof(*j));
	j->fd = fd;
	j->path = path;
	j->bytes = good;
	path = NULL;
	*out = j;
	*last = seq;
cleanup:
	free(path);
	return ret;
}

int journal_append(journal_t *j, uint64_t sequence, const json_t *change, pr_diag_t *diag)
{
	char *sum = record_checksum(sequence, change);
	json_t *rec = json_pack("{s:I, s:O, s:s}", "sequence", (json_int_t)sequence, "change",
				change, "checksum", sum);
	char *text = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
	const char *step = "cannot write";
	int ret = 0;

	json_decref(rec);
	free(sum);
	if (!text) {
		ret = PR_EIO;
		step = "cannot encode the change";
		goto cleanup;
	}
	/* one write of the whole line: a record is torn only by a crash, and a torn
	 * record has no newline (journal_open cuts it) */
	size_t n = strlen(text);
	text[n] = '\n';
	ssize_t w = write(j->fd, text, n + 1);
	if (w != (ssize_t)(n + 1)) {
		ret = w < 0 ? -errno : -ENOSPC;
		goto cleanup;
	}
	if (fdatasync(j->fd) != 0) {
		ret = -errno;
		step = "fdatasync failed";
		goto cleanup;
	}
	j->bytes += n + 1;
cleanup:
	if (ret != 0) {
		/* nothing half-written stays behind an unacknowledged change */
		if (ftruncate(j->fd, (off_t)j->bytes) != 0)
			step = "cannot write, nor cut back";
		pr_diag_add(diag, j->path, 0, 0, NULL, NULL, ret <= PR_EBASE ? ret : PR_EIO,
			    "change not saved: %s: %s", step, pr_strerror(ret));
	}
	free(text);
	return ret;
}

int journal_reset(journal_t *j, pr_diag_t *diag)
{
	if (ftruncate(j->fd, 0) != 0 || fdatasync(j->fd) != 0) {
		int ret = -errno;
		pr_diag_add(diag, j->path, 0, 0, NULL, NULL, PR_EIO,
			    "cannot empty the journal: %s", pr_strerror(ret));
		return ret;
	}
	j->bytes = 0;
	return 0;
}

size_t journal_bytes(const journal_t *j)
{
	return j->bytes;
}

void journal_close(journal_t **jp)
{
	if (!jp || !*jp)
		return;
	close((*jp)->fd);
	free((*jp)->path);
	free(*jp);
	*jp = NULL;
}
