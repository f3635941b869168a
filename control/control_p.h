/* Private to control/: the journal of changes (design.md §7). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/*
 * <state dir>/journal: one line per accepted change of one resource,
 *   {"sequence": N, "change": {...}, "checksum": "<16 hex digits>"}
 * the checksum covering sequence and change (model_state_checksum). A record
 * is acknowledged only once written and fdatasync'ed. Replay applies the
 * records after the snapshot's sequence, in order and without gaps.
 */
typedef struct journal journal_t;

/* Called for each record to replay, with its change (borrowed). A non-zero
 * return stops the replay with that error. */
typedef int (*journal_apply_fn)(void *ctx, const json_t *change, pr_diag_t *diag);

/*
 * Read <dir>/journal and apply every record whose sequence is above after,
 * then open it for appending (created 0600 when missing). A last line without
 * its newline is a change that was never acknowledged (the process stopped
 * while writing it): it is cut off. Any other damage (not JSON, a checksum
 * that does not match, a sequence out of order) refuses the journal whole with
 * PR_ECORRUPT and a message naming the file and line. On success *last is the
 * sequence of the last record (after when none) and *out is owned. Without
 * apply (NULL), nothing is read and the journal is emptied.
 */
int journal_open(const char *dir, uint64_t after, journal_apply_fn apply, void *ctx,
		 journal_t **out, uint64_t *last, pr_diag_t *diag);

/* Append one record and make it durable. Returns 0, or -errno/PR_EIO with
 * diag naming the file and the step; the journal is then cut back to what it
 * held before. */
int journal_append(journal_t *j, uint64_t sequence, const json_t *change, pr_diag_t *diag);

/* Empty the journal once a snapshot holds everything in it. */
int journal_reset(journal_t *j, pr_diag_t *diag);

/* Bytes in the journal. */
size_t journal_bytes(const journal_t *j);

void journal_close(journal_t **jp);
