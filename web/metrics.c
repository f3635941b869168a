/* OpenMetrics text exposition (https://openmetrics.io, version 1.0.0):
 * families with TYPE, UNIT and HELP, samples with escaped label values. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "web/web_p.h"

void web_text_printf(web_text_t *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = t->cap - t->len;
		int n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap ? t->cap * 2 + (size_t)n : 4096 + (size_t)n;
		t->p = pr_realloc(t->p, t->cap);
	}
}

static const char *type_name(web_metric_type_t type)
{
	switch (type) {
	case WEB_COUNTER:
		return "counter";
	case WEB_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

void web_metric_family(web_text_t *t, const char *name, web_metric_type_t type, const char *unit,
		       const char *help)
{
	/* Prometheus text names a counter's family with its _total; OpenMetrics
	 * without, and adds UNIT. */
	const char *total = type == WEB_COUNTER && !t->openmetrics ? "_total" : "";
	web_text_printf(t, "# TYPE %s%s %s\n", name, total, type_name(type));
	if (unit && t->openmetrics)
		web_text_printf(t, "# UNIT %s %s\n", name, unit);
	web_text_printf(t, "# HELP %s%s %s\n", name, total, help);
}

/* Label values escape backslash, double quote and newline (OpenMetrics). */
static void put_labels(web_text_t *t, const char *const *labels)
{
	if (!labels || !labels[0])
		return;
	web_text_printf(t, "{");
	for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
		web_text_printf(t, "%s%s=\"", i ? "," : "", labels[i]);
		for (const char *s = labels[i + 1]; *s; s++) {
			if (*s == '\\' || *s == '"')
				web_text_printf(t, "\\%c", *s);
			else if (*s == '\n')
				web_text_printf(t, "\\n");
			else
				web_text_printf(t, "%c", *s);
		}
		web_text_printf(t, "\"");
	}
	web_text_printf(t, "}");
}

void web_metric_u64(web_text_t *t, const char *name, const char *suffix,
		    const char *const *labels, uint64_t value)
{
	web_text_printf(t, "%s%s", name, suffix ? suffix : "");
	put_labels(t, labels);
	web_text_printf(t, " %" PRIu64 "\n", value);
}

void web_metric_double(web_text_t *t, const char *name, const char *suffix,
		       const char *const *labels, double value)
{
	web_text_printf(t, "%s%s", name, suffix ? suffix : "");
	put_labels(t, labels);
	web_text_printf(t, " %.6f\n", value);
}
