/*
 * Parsers for the human forms of limits: sizes ("512K", "64M", "1.5G",
 * "1048576"), durations ("250ms", "10s", "5m", "1.5h", "30" = seconds) and
 * counts, each also accepting "unlimited". Whole-string, overflow-checked,
 * no locale, no floating point (fractions are exact decimal arithmetic).
 */
#ifndef CORRAL_POLICY_PARSE_H
#define CORRAL_POLICY_PARSE_H

#include <stdint.h>

#define LIMIT_UNLIMITED UINT64_MAX

/* Bytes; binary multiples (K = 1024). Optional "B"/"iB" after the unit. */
int parse_size(const char *s, uint64_t *bytes);
/* Milliseconds. Units: ms, s, m, h; none = seconds. */
int parse_duration_ms(const char *s, uint64_t *ms);
/* A plain count. */
int parse_count(const char *s, uint64_t *n);
/* CPUs as thousandths ("1.5" → 1500, "0.25" → 250). */
int parse_cpus_milli(const char *s, uint64_t *milli);

/* Render for messages and reports: "64M", "1.5G", "250ms", "unlimited". */
void format_size(uint64_t bytes, char *buf, unsigned size);
void format_duration_ms(uint64_t ms, char *buf, unsigned size);

#endif
