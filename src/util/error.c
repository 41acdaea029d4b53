#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int error_set(corral_error *err, enum corral_error_kind kind, int errnum, const char *fmt, ...)
{
	if (!err)
		return -1;
	err->kind = kind;
	err->errnum = errnum;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (errnum != 0 && (size_t)n < sizeof err->message) {
		char buf[128];
		const char *s = strerror_r(errnum, buf, sizeof buf);
		snprintf(err->message + n, sizeof err->message - (size_t)n, ": %s", s);
	}
	return -1;
}

int error_prefix(corral_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char old[CORRAL_ERROR_MESSAGE_MAX];
	memcpy(old, err->message, sizeof old);
	old[sizeof old - 1] = '\0';
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	size_t used = n < 0 ? 0 : (size_t)n;
	if (used >= sizeof err->message)
		return -1;
	size_t room = sizeof err->message - used;
	size_t old_len = strlen(old);
	if (room > 2) {
		memcpy(err->message + used, ": ", 2);
		used += 2;
		room -= 2;
		size_t copy = old_len < room - 1 ? old_len : room - 1;
		memcpy(err->message + used, old, copy);
		err->message[used + copy] = '\0';
	}
	return -1;
}

void error_clear(corral_error *err)
{
	if (!err)
		return;
	err->kind = CORRAL_OK;
	err->errnum = 0;
	err->message[0] = '\0';
}

int corral_error_exit_code(const corral_error *err)
{
	switch (err ? err->kind : CORRAL_ERR_INTERNAL) {
	case CORRAL_ERR_EXEC_NOT_FOUND:
		return CORRAL_EXIT_NOT_FOUND;
	case CORRAL_ERR_EXEC_DENIED:
		return CORRAL_EXIT_NOT_EXECUTABLE;
	default:
		return CORRAL_EXIT_FAILURE;
	}
}
