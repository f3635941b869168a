/* The cloud-format query log (emulator.queryLog.format: azure) words an
 * answer's sections from its bytes, which may hold what an outside server
 * sent: dns_message_section_text() and dns_message_rcode() on any input must
 * neither crash nor write past the buffer, and always terminate it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[512];
	(void)dns_message_rcode(data, size);
	for (int s = -1; s <= 3; s++) {
		memset(out, 'x', sizeof(out));
		int n = dns_message_section_text(data, size, s, out, sizeof(out));
		if (memchr(out, '\0', sizeof(out)) == NULL)
			__builtin_trap();
		if (n < 0 && out[0] != '\0')
			__builtin_trap();
	}
	char tiny[1];
	(void)dns_message_section_text(data, size, 0, tiny, sizeof(tiny));
	return 0;
}
