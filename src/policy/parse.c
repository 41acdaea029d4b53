#include "policy/parse.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parse "D+[.D+]" at *s into value * multiplier / divisor, exactly,
 * rejecting overflow. Leaves *s after the number. */
static int parse_decimal(const char **s, uint64_t multiplier, uint64_t *out, bool allow_fraction)
{
	const char *p = *s;
	if (!isdigit((unsigned char)*p))
		return -1;
	uint64_t whole = 0;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return -1;
		whole = whole * 10 + d;
	}
	if (whole != 0 && multiplier > UINT64_MAX / whole)
		return -1;
	uint64_t value = whole * multiplier;
	if (*p == '.') {
		if (!allow_fraction)
			return -1;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		/* Up to 9 fractional digits are significant; more are ignored. */
		uint64_t frac = 0, scale = 1;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale < 1000000000u) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
		/* multiplier * frac fits: multiplier <= 2^40 (T) or 3.6e6 (h), frac < 1e9. */
		uint64_t part = (multiplier / scale) * frac + (multiplier % scale) * frac / scale;
		if (value > UINT64_MAX - part)
			return -1;
		value += part;
	}
	*s = p;
	*out = value;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	if (!s)
		return -1;
	if (strcmp(s, "unlimited") == 0) {
		*bytes = LIMIT_UNLIMITED;
		return 0;
	}
	/* Find the unit first: it decides the multiplier. */
	const char *unit = s;
	while (isdigit((unsigned char)*unit) || *unit == '.')
		unit++;
	uint64_t mult;
	switch (toupper((unsigned char)*unit)) {
	case '\0':
	case 'B':
		mult = 1;
		break;
	case 'K':
		mult = UINT64_C(1) << 10;
		break;
	case 'M':
		mult = UINT64_C(1) << 20;
		break;
	case 'G':
		mult = UINT64_C(1) << 30;
		break;
	case 'T':
		mult = UINT64_C(1) << 40;
		break;
	default:
		return -1;
	}
	const char *rest = *unit ? unit + 1 : unit;
	if (mult != 1 && (strcasecmp(rest, "iB") == 0 || strcasecmp(rest, "B") == 0))
		rest += strlen(rest);
	if (*rest != '\0')
		return -1;
	const char *p = s;
	uint64_t v;
	if (parse_decimal(&p, mult, &v, mult != 1) < 0 || p != unit)
		return -1;
	if (v == LIMIT_UNLIMITED)
		return -1;
	*bytes = v;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *ms)
{
	if (!s)
		return -1;
	if (strcmp(s, "unlimited") == 0) {
		*ms = LIMIT_UNLIMITED;
		return 0;
	}
	const char *unit = s;
	while (isdigit((unsigned char)*unit) || *unit == '.')
		unit++;
	uint64_t mult;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0 || strcmp(unit, "min") == 0)
		mult = 60 * 1000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600 * 1000;
	else
		return -1;
	const char *p = s;
	uint64_t v;
	if (parse_decimal(&p, mult, &v, true) < 0 || p != unit || v == LIMIT_UNLIMITED)
		return -1;
	*ms = v;
	return 0;
}

int parse_count(const char *s, uint64_t *n)
{
	if (!s)
		return -1;
	if (strcmp(s, "unlimited") == 0) {
		*n = LIMIT_UNLIMITED;
		return 0;
	}
	const char *p = s;
	uint64_t v;
	if (parse_decimal(&p, 1, &v, false) < 0 || *p != '\0' || v == LIMIT_UNLIMITED)
		return -1;
	*n = v;
	return 0;
}

int parse_cpus_milli(const char *s, uint64_t *milli)
{
	if (!s)
		return -1;
	if (strcmp(s, "unlimited") == 0) {
		*milli = LIMIT_UNLIMITED;
		return 0;
	}
	const char *p = s;
	uint64_t v;
	if (parse_decimal(&p, 1000, &v, true) < 0 || *p != '\0' || v == LIMIT_UNLIMITED)
		return -1;
	*milli = v;
	return 0;
}

void format_size(uint64_t bytes, char *buf, unsigned size)
{
	static const char units[] = "KMGT";
	if (bytes == LIMIT_UNLIMITED) {
		snprintf(buf, size, "unlimited");
		return;
	}
	for (int i = 3; i >= 0; i--) {
		uint64_t m = UINT64_C(1) << (10 * (i + 1));
		if (bytes >= m && bytes % m == 0) {
			snprintf(buf, size, "%llu%c", (unsigned long long)(bytes / m), units[i]);
			return;
		}
	}
	snprintf(buf, size, "%llu", (unsigned long long)bytes);
}

void format_duration_ms(uint64_t ms, char *buf, unsigned size)
{
	if (ms == LIMIT_UNLIMITED)
		snprintf(buf, size, "unlimited");
	else if (ms % 1000 != 0)
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
}
