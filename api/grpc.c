/*
 * grpc — the parts of the gRPC-over-HTTP/2 protocol that are plain data:
 * length-prefixed messages, grpc-timeout, percent-encoded grpc-message, status
 * codes and how privres errors and privresctl exit codes map onto them
 * (design.md §6). See grpc/doc/PROTOCOL-HTTP2.md.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_p.h"
#include "base/base.h"

int api_frame_unpack(const uint8_t *body, size_t body_len, const uint8_t **msg, size_t *len,
		     const char **why)
{
	if (body_len < API_GRPC_HEADER_LEN) {
		*why = body_len ? "truncated gRPC message header" : "no request message";
		return API_STATUS_INVALID_ARGUMENT;
	}
	if (body[0] != 0) {
		/* we announce no grpc-accept-encoding; a compressed message is an
		 * encoding we do not implement (PROTOCOL-HTTP2.md: UNIMPLEMENTED) */
		*why = body[0] == 1 ? "compressed messages are not supported"
				    : "invalid gRPC message flags";
		return body[0] == 1 ? API_STATUS_UNIMPLEMENTED : API_STATUS_INVALID_ARGUMENT;
	}
	uint32_t n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 |
		     body[4];
	if ((size_t)n > body_len - API_GRPC_HEADER_LEN) {
		*why = "truncated gRPC message";
		return API_STATUS_INVALID_ARGUMENT;
	}
	if ((size_t)n < body_len - API_GRPC_HEADER_LEN) {
		*why = "more than one message in a unary call";
		return API_STATUS_INVALID_ARGUMENT;
	}
	*msg = body + API_GRPC_HEADER_LEN;
	*len = n;
	return 0;
}

void api_frame_header(uint8_t hdr[API_GRPC_HEADER_LEN], size_t len)
{
	PR_REQUIRE(len <= UINT32_MAX);
	hdr[0] = 0;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

int api_timeout_parse(const char *text, size_t len, uint64_t *ms)
{
	uint64_t v = 0;

	/* TimeoutValue is at most 8 ASCII digits, then one unit */
	if (len < 2 || len > 9)
		return PR_EPARSE;
	for (size_t i = 0; i + 1 < len; i++) {
		if (!isdigit((unsigned char)text[i]))
			return PR_EPARSE;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	switch (text[len - 1]) {
	case 'H':
		v *= 3600000;
		break;
	case 'M':
		v *= 60000;
		break;
	case 'S':
		v *= 1000;
		break;
	case 'm':
		break;
	case 'u':
		v = (v + 999) / 1000;
		break;
	case 'n':
		v = (v + 999999) / 1000000;
		break;
	default:
		return PR_EPARSE;
	}
	*ms = v;
	return 0;
}

char *api_percent_encode(const char *text)
{
	pr_buf_t b = {0};

	pr_buf_append(&b, "", 0);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%')
			pr_buf_printf(&b, "%%%02X", *p);
		else
			pr_buf_append(&b, p, 1);
	}
	return pr_buf_take(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *api_percent_decode(const char *text, size_t len)
{
	char *out = pr_malloc(len + 1);
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (text[i] == '%' && i + 2 < len &&
		    (hi = hexval(text[i + 1])) >= 0 && (lo = hexval(text[i + 2])) >= 0) {
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[j++] = text[i];
		}
	}
	out[j] = '\0';
	return out;
}

int api_status_set(api_status_t *status, int code, const char *fmt, ...)
{
	va_list ap;

	status->code = code;
	va_start(ap, fmt);
	vsnprintf(status->message, sizeof(status->message), fmt, ap);
	va_end(ap);
	return code;
}

const char *api_status_name(int code)
{
	static const char *const names[] = {
		"OK",		     "CANCELLED",	  "UNKNOWN",	      "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND",	  "ALREADY_EXISTS",   "PERMISSION_DENIED",
		"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",	      "OUT_OF_RANGE",
		"UNIMPLEMENTED",     "INTERNAL",	  "UNAVAILABLE",      "DATA_LOSS",
		"UNAUTHENTICATED",
	};
	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "UNKNOWN";
	return names[code];
}

int api_status_from_error(int err)
{
	switch (err) {
	case 0:
		return API_STATUS_OK;
	case PR_ECONFIG:
	case PR_EPARSE:
		return API_STATUS_INVALID_ARGUMENT;
	case PR_ELOOP:      /* P-1, P-2: valid alone, refused in this graph */
	case PR_EIMMUTABLE: /* I-1, F-7, N-4: valid, but not as a change of what exists */
		return API_STATUS_FAILED_PRECONDITION;
	case PR_ENOTFOUND:
		return API_STATUS_NOT_FOUND;
	case PR_EEXIST:
		return API_STATUS_ALREADY_EXISTS;
	case PR_ELIMIT:
		return API_STATUS_RESOURCE_EXHAUSTED;
	case PR_EINUSE:
		return API_STATUS_FAILED_PRECONDITION;
	case PR_ETIMEOUT:
		return API_STATUS_DEADLINE_EXCEEDED;
	case PR_EUNMAPPED:
		return API_STATUS_FAILED_PRECONDITION;
	case PR_ECORRUPT:
		return API_STATUS_DATA_LOSS;
	case -ENOMEM:
		return API_STATUS_RESOURCE_EXHAUSTED;
	default:
		return API_STATUS_INTERNAL;
	}
}

int api_exit_code_for_status(int code)
{
	switch (code) {
	case API_STATUS_OK:
		return 0;
	case API_STATUS_UNAVAILABLE:
	case API_STATUS_DEADLINE_EXCEEDED:
	case API_STATUS_CANCELLED:
		return 3;
	default:
		return 1;
	}
}
