/* Helpers shared by the rule parser (net_rules.c) and the matcher
 * (net_rules_match.c). */
#ifndef CORRAL_NET_NET_RULES_INTERNAL_H
#define CORRAL_NET_NET_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII only, whatever the locale: bytes above 0x7f are never letters. */
static inline bool ascii_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static inline bool ascii_alnum(unsigned char c)
{
	return ascii_upper(c) || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Check the host name of `len` bytes and write it to `out` (at least
 * NET_RULE_HOST_MAX + 1 bytes) lowercased, without a trailing dot.
 * Returns NULL when valid, else why not. */
const char *net_host_normalize(const char *name, size_t len, char *out);

/* An IPv4 or IPv6 literal of `len` bytes (no brackets, no port) into
 * family and addr (as written: see net_address_unmap). */
bool net_address_parse(const char *s, size_t len, int *family, uint8_t addr[16]);
/* An IPv4-mapped IPv6 block (prefix at least 96) becomes the IPv4 one. */
void net_address_unmap(int *family, uint8_t addr[16], unsigned *prefix);

/* Why a path (no query) may not be matched against path rules, or NULL:
 * "." or ".." segments (also percent-encoded, or before a ";"), encoded
 * slashes, backslashes, NULs, bad escapes, bytes outside printable ASCII. */
const char *net_path_unsafe(const char *path, size_t len);

#endif
