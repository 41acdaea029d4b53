/* Helpers for commands' output in corral serve: a growable byte buffer,
 * output bytes as JSON text, the monotonic clock. */
#ifndef CORRAL_SERVER_OUTPUT_H
#define CORRAL_SERVER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	unsigned char *data;
	size_t len, cap;
};

/* Append (NUL-terminated after len); -1 when out of memory. */
int buf_add(struct buf *b, const void *data, size_t len);

uint64_t mono_ns(void);

/* Text from output bytes: invalid UTF-8 becomes U+FFFD. Unless `final`, an
 * incomplete sequence at the end is left out (*used tells how much was
 * taken). malloc'd, NUL-terminated; *out_len without the NUL. */
char *utf8_sanitize(const unsigned char *in, size_t len, bool final, size_t *used,
                    size_t *out_len);

#endif
