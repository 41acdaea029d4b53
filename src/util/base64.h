/* Standard base64 (RFC 4648, with padding), for binary file contents in
 * JSON. Decoding is strict: whitespace and a missing pad are refused. */
#ifndef CORRAL_UTIL_BASE64_H
#define CORRAL_UTIL_BASE64_H

#include <stddef.h>

/* malloc'd, NUL-terminated; NULL on allocation failure. */
char *base64_encode(const void *data, size_t len);
/* malloc'd bytes in *out (*out_len); -1 on malformed input or no memory. */
int base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

#endif
