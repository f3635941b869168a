/* libFuzzer target: DoH request handling (RFC 8484, W-6) as a connection
 * gives it, without TLS. The first byte picks the mode:
 * - even: the HTTP/2 server session (nghttp2 and our callbacks) fed the
 *   client preface and then the input in reads of fuzzer-chosen sizes; some
 *   queries are answered at once, the others after every read (streams the
 *   client reset meanwhile included), and every query handed out must be a
 *   whole DNS message (12..65535 octets);
 * - odd: doh_parse_request() on a method, path, content type and body cut from
 *   the input at NUL octets; a 200 must point at 12..65535 octets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints_p.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

typedef struct fuzz_state {
	doh_t *doh;
	int32_t pending[64];
	size_t n_pending;
	size_t sent;
	unsigned answer_now;
} fuzz_state_t;

static void on_query(void *arg, int32_t stream, const uint8_t *msg, size_t len)
{
	fuzz_state_t *st = arg;
	if (len < EP_DNS_HEADER_LEN || len > DOH_MAX_BODY)
		abort();
	if (st->answer_now++ % 2 == 0) {
		doh_answer(st->doh, stream, msg, len); /* an echo is answer enough */
		return;
	}
	if (st->n_pending < 64)
		st->pending[st->n_pending++] = stream;
	else
		doh_error(st->doh, stream, 503);
}

static int on_send(void *arg, const uint8_t *data, size_t len)
{
	fuzz_state_t *st = arg;
	st->sent += len;
	return 0;
}

static void answer_pending(fuzz_state_t *st)
{
	static const uint8_t reply[12] = {0, 1, 0x81, 0x80};
	for (size_t i = 0; i < st->n_pending; i++)
		doh_answer(st->doh, st->pending[i], reply, sizeof(reply));
	st->n_pending = 0;
}

static void fuzz_session(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	size_t chunk = (size_t)data[0] * 4 + 1;
	data++;
	size--;
	fuzz_state_t st = {0};
	doh_callbacks_t cb = {on_query, on_send};
	if (doh_new(&cb, &st, 16, &st.doh) != 0)
		abort();
	doh_flush(st.doh);
	int r = doh_recv(st.doh, (const uint8_t *)PREFACE, strlen(PREFACE));
	for (size_t off = 0; off < size && r == 0; off += chunk) {
		size_t k = size - off < chunk ? size - off : chunk;
		r = doh_recv(st.doh, data + off, k);
		doh_flush(st.doh);
		answer_pending(&st);
		doh_flush(st.doh);
	}
	doh_flush(st.doh);
	doh_destroy(&st.doh);
}

/* The next NUL-terminated piece of data, as a string (owned), or NULL. */
static char *piece(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, 0, *size);
	if (nul == NULL)
		return NULL;
	size_t n = (size_t)(nul - *data);
	char *s = malloc(n + 1);
	memcpy(s, *data, n);
	s[n] = '\0';
	*data += n + 1;
	*size -= n + 1;
	return s;
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	char *method = piece(&data, &size);
	char *path = piece(&data, &size);
	char *ct = piece(&data, &size);
	doh_request_t req = {method, path, ct, data, size};
	uint8_t *scratch = malloc(DOH_MAX_BODY);
	const uint8_t *msg = NULL;
	size_t len = 0;
	int status = doh_parse_request(&req, scratch, &msg, &len);
	if (status == 200 && (msg == NULL || len < EP_DNS_HEADER_LEN || len > DOH_MAX_BODY))
		abort();
	if (status != 200 && status != 400 && status != 404 && status != 405 && status != 413 &&
	    status != 415)
		abort();
	free(scratch);
	free(method);
	free(path);
	free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_session(data + 1, size - 1);
	else
		fuzz_parse(data + 1, size - 1);
	return 0;
}
