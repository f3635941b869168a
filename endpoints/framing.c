/*
 * TCP message framing (RFC 1035 §4.2.2, RFC 7766 §8) and the per-connection
 * budget: pure data structures, no I/O, so they are unit-tested alone.
 */
#include <string.h>

#include "endpoints/endpoints_p.h"

void ep_frame_init(ep_frame_t *f)
{
	memset(f, 0, sizeof(*f));
}

void ep_frame_free(ep_frame_t *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* Octets the message at the head needs in all (prefix included), or 0 when
 * its prefix is not complete yet. */
static size_t head_need(const ep_frame_t *f)
{
	if (f->end - f->start < 2)
		return 0;
	return 2 + (((size_t)f->buf[f->start] << 8) | f->buf[f->start + 1]);
}

void ep_frame_reserve(ep_frame_t *f, uint8_t **ptr, size_t *len)
{
	if (f->start == f->end)
		f->start = f->end = 0;
	size_t need = head_need(f);
	size_t want = EP_FRAME_INITIAL;
	if (need > want)
		want = need; /* one whole message must fit: at most 2 + 65535 */
	if (f->cap < want) {
		f->buf = pr_realloc(f->buf, want);
		f->cap = want;
	}
	/* Move the partial message to the front when the tail runs short, so a
	 * long-lived connection never needs more than one message of room. */
	if (f->start > 0 && f->cap - f->end < EP_FRAME_MIN_TAIL) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
	}
	if (f->end == f->cap) {
		/* Only when complete messages are still buffered (reading while
		 * paused): grow rather than return no room, which libuv reads as
		 * ENOBUFS. */
		f->cap += EP_FRAME_INITIAL;
		f->buf = pr_realloc(f->buf, f->cap);
	}
	*ptr = f->buf + f->end;
	*len = f->cap - f->end;
}

void ep_frame_commit(ep_frame_t *f, size_t n)
{
	PR_REQUIRE(n <= f->cap - f->end);
	f->end += n;
}

int ep_frame_next(const ep_frame_t *f, const uint8_t **msg, size_t *len)
{
	size_t need = head_need(f);
	if (need == 0)
		return 0;
	/* W-3: a length of 0, or one too short for a header, cannot be a DNS
	 * message; the stream cannot be trusted past it. */
	if (need - 2 < EP_DNS_HEADER_LEN)
		return PR_EPARSE;
	if (f->end - f->start < need)
		return 0;
	*msg = f->buf + f->start + 2;
	*len = need - 2;
	return 1;
}

void ep_frame_consume(ep_frame_t *f)
{
	size_t need = head_need(f);
	PR_REQUIRE(need != 0 && f->end - f->start >= need);
	f->start += need;
	if (f->start == f->end)
		f->start = f->end = 0;
}

size_t ep_frame_buffered(const ep_frame_t *f)
{
	return f->end - f->start;
}

void ep_budget_init(ep_budget_t *b, uint32_t max_inflight, size_t max_queued)
{
	memset(b, 0, sizeof(*b));
	b->max_inflight = max_inflight;
	b->max_queued = max_queued;
}

bool ep_budget_may_read(const ep_budget_t *b)
{
	return b->inflight < b->max_inflight;
}

void ep_budget_query_start(ep_budget_t *b)
{
	PR_REQUIRE(b->inflight < b->max_inflight);
	b->inflight++;
}

void ep_budget_query_end(ep_budget_t *b)
{
	PR_REQUIRE(b->inflight > 0);
	b->inflight--;
}

int ep_budget_write_admit(ep_budget_t *b, size_t n)
{
	/* W-3: a client that does not read its answers gets its connection
	 * closed instead of growing our memory. */
	if (n > b->max_queued || b->queued > b->max_queued - n)
		return -ENOBUFS;
	b->queued += n;
	return 0;
}

void ep_budget_write_done(ep_budget_t *b, size_t n)
{
	PR_REQUIRE(n <= b->queued);
	b->queued -= n;
}

bool ep_budget_is_idle(const ep_budget_t *b)
{
	return b->inflight == 0;
}
