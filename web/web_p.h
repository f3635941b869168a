/* Private to web/: the metrics text buffer and the embedded assets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "web/web.h"

struct web_text {
	char *p;
	size_t len, cap;
	bool openmetrics; /* else Prometheus text 0.0.4 (a scraper that did not ask) */
};

/* Append printf-style text. */
void web_text_printf(web_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A static file built into the binary (assets.c, generated at build time). */
typedef struct web_asset {
	const char *path; /* "/", "/app.js" … */
	const char *content_type;
	const unsigned char *data;
	size_t len;
} web_asset_t;

/* The asset served at path, or NULL. */
const web_asset_t *web_asset_find(const char *path);
