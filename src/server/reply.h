/* An HTTP answer built by a handler, turned into a response by server.c. */
#ifndef CORRAL_SERVER_REPLY_H
#define CORRAL_SERVER_REPLY_H

#include <jansson.h>
#include <stddef.h>

struct reply {
	unsigned status;
	char *body;          /* malloc'd */
	size_t len;
	const char *type;    /* Content-Type */
	const char *allow;   /* Allow header for 405, or NULL */
};

/* {"error": {"code": CODE, "message": MESSAGE}} */
void reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Takes `value` over. */
void reply_json(struct reply *r, unsigned status, json_t *value);
/* Takes `data` (malloc'd) over. */
void reply_bytes(struct reply *r, unsigned status, const char *type, char *data, size_t len);
void reply_free(struct reply *r);

#endif
