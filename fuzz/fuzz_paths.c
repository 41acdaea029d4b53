/*
 * Fuzz sandbox path normalisation (policy_normalize_sandbox_path), which
 * every mount target and --cwd goes through.
 *
 * Input: two bytes choosing the output buffer's size (so every bound is
 * exercised; the buffer is a heap block of exactly that size so ASan sees
 * any overrun), then the path. Half the inputs (bit 0x40 of the second byte)
 * use PATH_MAX, the size every caller passes.
 *
 * Properties:
 *  - never crashes, never writes past out_size;
 *  - a relative path or one with a ".." component is refused;
 *  - a refusal comes with an error kind and a message;
 *  - on success the output is absolute, NUL-terminated within out_size, has
 *    no "//", "/./", "/../", no trailing "/", "/." or "/.." (except "/"
 *    itself), names the same components as the input minus "." and empty
 *    ones, and is a fixed point (normalising it again gives itself).
 */
#include "corral.h"
#include "policy/policy.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATH_INPUT (2 * PATH_MAX)

static void fail(const char *what, const char *path, size_t out_size, const char *out)
{
	fprintf(stderr, "fuzz_paths: %s: path \"%s\", out_size %zu", what, path, out_size);
	if (out)
		fprintf(stderr, ", output \"%s\"", out);
	fputc('\n', stderr);
	abort();
}

static bool has_dotdot_component(const char *p)
{
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		const char *e = strchrnul(s, '/');
		if (e - s == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s = e;
	}
	return false;
}

/* The path's components, "." and empty ones dropped, joined by '/' with a
 * leading '/' ("/" for none): what normalisation must produce. */
static char *expected_form(const char *p)
{
	size_t n = strlen(p);
	char *out = malloc(n + 2);
	if (!out)
		abort();
	size_t o = 0;
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *e = strchrnul(s, '/');
		size_t len = (size_t)(e - s);
		if (!(len == 1 && s[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > MAX_PATH_INPUT)
		return -1;
	size_t out_size = (size_t)data[0] | (size_t)(data[1] & 0x1f) << 8; /* 0..8191 */
	if (data[1] & 0x40)
		out_size = PATH_MAX;
	data += 2;
	size -= 2;

	char *path = malloc(size + 1);
	if (!path)
		abort();
	memcpy(path, data, size);
	path[size] = '\0';
	/* malloc(0) may return NULL; always give the function a real block. */
	char *out = malloc(out_size ? out_size : 1);
	if (!out)
		abort();

	corral_error err = {0};
	int rc = policy_normalize_sandbox_path("fuzz", path, out, out_size, &err);
	if (rc < 0) {
		if (rc != -1 || err.kind == CORRAL_OK || err.message[0] == '\0')
			fail("refused without an error", path, out_size, NULL);
		goto done;
	}
	if (rc != 0)
		fail("returned neither 0 nor -1", path, out_size, NULL);
	if (path[0] != '/')
		fail("accepted a relative path", path, out_size, NULL);
	if (has_dotdot_component(path))
		fail("accepted a '..' component", path, out_size, NULL);
	if (!memchr(out, '\0', out_size))
		fail("output not terminated within out_size", path, out_size, NULL);
	if (out[0] != '/')
		fail("output not absolute", path, out_size, out);
	if (strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
		fail("output not normalised", path, out_size, out);
	if (strcmp(out, "/") != 0 &&
	    (ends_with(out, "/") || ends_with(out, "/.") || ends_with(out, "/..")))
		fail("output has a trailing separator or dot component", path, out_size, out);

	char *expected = expected_form(path);
	if (strcmp(out, expected) != 0)
		fail("output does not name the input's components", path, out_size, out);
	free(expected);

	/* Idempotent: normalising the output again (same bound) is a no-op. */
	char *again = malloc(out_size);
	if (!again)
		abort();
	corral_error err2 = {0};
	if (policy_normalize_sandbox_path("fuzz", out, again, out_size, &err2) < 0)
		fail("normalised output refused", path, out_size, out);
	if (strcmp(out, again) != 0)
		fail("not idempotent", path, out_size, again);
	free(again);

done:
	free(out);
	free(path);
	return 0;
}
