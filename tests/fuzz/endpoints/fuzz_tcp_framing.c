/* libFuzzer target: the TCP framer (RFC 7766 §8, W-3) over a byte stream cut
 * into reads of fuzzer-chosen sizes. Every message it hands out must be the
 * one a straight reading of the stream gives, and it must stop at the first
 * length under a DNS header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/endpoints_p.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1; /* read size: 1..256 */
	data++;
	size--;
	ep_frame_t f;
	ep_frame_init(&f);
	size_t fed = 0, ref = 0; /* ref: where the next message starts in data */
	int bad = 0;
	while (fed < size && !bad) {
		uint8_t *p;
		size_t room;
		ep_frame_reserve(&f, &p, &room);
		if (room == 0)
			abort();
		size_t k = size - fed < chunk ? size - fed : chunk;
		if (k > room)
			k = room;
		memcpy(p, data + fed, k);
		ep_frame_commit(&f, k);
		fed += k;
		for (;;) {
			const uint8_t *msg;
			size_t len;
			int r = ep_frame_next(&f, &msg, &len);
			if (r == 0)
				break;
			size_t want = ((size_t)data[ref] << 8) | data[ref + 1];
			if (r < 0) {
				if (want >= EP_DNS_HEADER_LEN)
					abort();
				bad = 1;
				break;
			}
			if (len != want || len < EP_DNS_HEADER_LEN || ref + 2 + len > fed ||
			    memcmp(msg, data + ref + 2, len) != 0)
				abort();
			ref += 2 + len;
			ep_frame_consume(&f);
		}
		if (ep_frame_buffered(&f) != fed - ref && !bad)
			abort();
		if (f.cap > 2 + 65535 + 2 * EP_FRAME_INITIAL)
			abort(); /* memory stays bounded by one message */
	}
	ep_frame_free(&f);
	return 0;
}
