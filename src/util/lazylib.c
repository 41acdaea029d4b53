#include "util/lazylib.h"

#include "util/error.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lazylib_unloaded(void)
{
	static const char msg[] = "corral: internal error: a library function was called before "
	                          "its library was loaded (lazylib_load)\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)n;
	abort();
}

/* pthread_once takes no argument: the library being loaded, per thread. */
static __thread struct lazylib *loading;

static void load_once(void)
{
	struct lazylib *lib = loading;
	void *handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *why = dlerror();
		snprintf(lib->error, sizeof lib->error, "%s", why ? why : lib->soname);
		lib->state = -1;
		return;
	}
	for (size_t i = 0; i < lib->n; i++) {
		void *f = dlsym(handle, lib->names[i]);
		if (!f) {
			snprintf(lib->error, sizeof lib->error, "%s: no function %s", lib->soname,
			         lib->names[i]);
			lib->state = -1;
			return; /* the handle stays: slots filled so far are valid */
		}
		/* POSIX guarantees a function's address round-trips through void *. */
		memcpy(&lib->slots[i], &f, sizeof f);
	}
	lib->state = 1;
}

int lazylib_load(struct lazylib *lib, const char *package, corral_error *err)
{
	loading = lib;
	pthread_once(&lib->once, load_once);
	loading = NULL;
	if (lib->state == 1)
		return 0;
	return error_set(err, CORRAL_ERR_HOST, 0, "load %s: %s (install the Debian package %s)",
	                 lib->soname, lib->error, package);
}
