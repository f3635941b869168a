/*
 * rulesets — private to the folder: the reserved-domain table generated at
 * build time from rulesets/reserved_domains (F-9). Canonical text: lowercase,
 * dot-terminated, no duplicates (checked by rulesets/CMakeLists.txt).
 */
#pragma once

#include <stddef.h>

extern const char *const rulesets_reserved_table[];
extern const size_t rulesets_reserved_table_len;
