/* Small pure string helpers (no system calls). */
#ifndef CORRAL_UTIL_STRINGS_H
#define CORRAL_UTIL_STRINGS_H

#include <stdbool.h>
#include <stddef.h>

/* Append a copy of `s` to the vector; returns -1 on ENOMEM. */
int strv_append(char ***v, size_t *n, const char *s);
void strv_free(char **v, size_t n);

/* True if `path` equals `prefix` or lies below it ("/a/b" under "/a"). */
bool path_has_prefix(const char *path, const char *prefix);

/* [A-Za-z_][A-Za-z0-9_]* of exactly `len` bytes. */
bool env_name_is_valid(const char *name, size_t len);

/* RFC 1123 label list, at most 64 bytes. */
bool hostname_is_valid(const char *name);

/* snprintf into a fixed buffer where truncation is acceptable (messages,
 * reports); never fails. */
void string_set(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a decimal unsigned integer no larger than `max`; whole string. */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);

#endif
