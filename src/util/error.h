/*
 * Internal error helpers. See include/corral.h for the convention: return -1
 * and fill a corral_error whose message names the object concerned.
 *
 * They never allocate, so the sandbox's setup child may use them.
 */
#ifndef CORRAL_UTIL_ERROR_H
#define CORRAL_UTIL_ERROR_H

#include "corral.h"

#include <stdarg.h>

/* Set `err` (if not NULL) to `kind`, message formatted from fmt, followed by
 * ": strerror(errnum)" when errnum != 0. Always returns -1. */
int error_set(corral_error *err, enum corral_error_kind kind, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Shorthand for CORRAL_ERR_SETUP with errno. */
#define error_errno(err, ...) error_set((err), CORRAL_ERR_SETUP, errno, __VA_ARGS__)

/* Prefix the message already in `err` with more context: "ctx: old". */
int error_prefix(corral_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void error_clear(corral_error *err);

#endif
