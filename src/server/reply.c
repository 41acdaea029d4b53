#include "server/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_json(struct reply *r, unsigned status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(value);
	if (!text) {
		static const char oom[] =
			"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		r->status = 500;
		r->body = strdup(oom);
		r->len = r->body ? strlen(r->body) : 0;
		r->type = "application/json";
		return;
	}
	r->status = status;
	r->body = text;
	r->len = strlen(text);
	r->type = "application/json";
}

void reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	reply_json(r, status,
	           json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

void reply_bytes(struct reply *r, unsigned status, const char *type, char *data, size_t len)
{
	r->status = status;
	r->body = data;
	r->len = len;
	r->type = type;
}

void reply_free(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}
