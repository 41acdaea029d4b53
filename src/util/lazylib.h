/*
 * Libraries loaded on first use. TLS interception (OpenSSL), OCI unpacking
 * (libarchive), the HTTP servers (libmicrohttpd) and the store's catalog
 * (SQLite) are features most runs never touch, yet linking them makes every `corral run` pay for loading
 * them and their dependencies (ICU, GnuTLS, ... about 13 ms on the
 * reference machine; see docs/performance.md). So corral links generated
 * stubs instead (src/util/lazy/gen_lazy.py): each function it calls in such
 * a library is a two-instruction jump through a slot, and lazylib_load
 * fills the slots with dlopen/dlsym the first time a feature needs the
 * library. It is still the distribution's shared library (its security
 * updates apply), only loaded later.
 *
 * Every entry point of such a feature calls lazylib_load before anything
 * else; a call through an unfilled slot is a bug in corral and stops the
 * program with a message naming it (lazylib_unloaded).
 */
#ifndef CORRAL_UTIL_LAZYLIB_H
#define CORRAL_UTIL_LAZYLIB_H

#include "corral.h"

#include <pthread.h>
#include <stddef.h>

struct lazylib {
	const char *soname;
	const char *const *names;
	void (**slots)(void);
	size_t n;
	pthread_once_t once;
	int state;                 /* 1 loaded, -1 failed (error says why) */
	char error[256];
};

/* Load the library and fill its slots, once (thread-safe); later calls
 * return the first result. -1: the library or one of its functions is
 * missing, with a message naming it and the Debian package to install. */
int lazylib_load(struct lazylib *lib, const char *package, corral_error *err);

/* Where every slot points until its library is loaded. */
void lazylib_unloaded(void);

extern struct lazylib lazy_openssl;
extern struct lazylib lazy_libarchive;
extern struct lazylib lazy_microhttpd;
extern struct lazylib lazy_sqlite3;

/* The usual calls: the library each feature needs, with its package. */
static inline int lazy_openssl_load(corral_error *err)
{
	return lazylib_load(&lazy_openssl, "libssl3", err);
}
static inline int lazy_libarchive_load(corral_error *err)
{
	return lazylib_load(&lazy_libarchive, "libarchive13", err);
}
static inline int lazy_microhttpd_load(corral_error *err)
{
	return lazylib_load(&lazy_microhttpd, "libmicrohttpd12", err);
}
static inline int lazy_sqlite3_load(corral_error *err)
{
	return lazylib_load(&lazy_sqlite3, "libsqlite3-0", err);
}

#endif
