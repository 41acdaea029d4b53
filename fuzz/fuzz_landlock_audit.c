/*
 * Fuzz the reader of Landlock's audit records (src/landlock/landlock_audit.c):
 * their paths are names the sandboxed program chose, hex-encoded or quoted
 * by the kernel.
 *
 * Input: records separated by '\n'; a record starting with 'D' is an
 * AUDIT_LANDLOCK_DOMAIN record, any other an AUDIT_LANDLOCK_ACCESS record
 * (the first byte is dropped). The sandbox's init is pid 4242.
 *
 * Properties, for any input:
 *  - nothing crashes or trips a sanitizer;
 *  - the table stays within its bound, each entry is counted at least
 *    once, and its path and rights are printable ASCII (they go to JSON
 *    and to a terminal);
 *  - no two entries have the same path and rights (deduplicated);
 *  - export never exceeds the result's room.
 */
#include "landlock/landlock_audit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void check_printable(const char *s, size_t size)
{
	if (strnlen(s, size) == size)
		abort(); /* not terminated */
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	static struct landlock_audit a;
	memset(&a, 0, sizeof a);
	a.fd = -1;
	a.init_pid = 4242;
	char *save = NULL;
	for (char *rec = strtok_r(text, "\n", &save); rec; rec = strtok_r(NULL, "\n", &save))
		landlock_audit_take(&a, rec[0] == 'D' ? 1424 : 1423, rec + 1);

	if (a.n > LANDLOCK_AUDIT_TRACKED)
		abort();
	for (unsigned i = 0; i < a.n; i++) {
		if (a.entries[i].count == 0)
			abort();
		check_printable(a.entries[i].path, sizeof a.entries[i].path);
		check_printable(a.entries[i].access, sizeof a.entries[i].access);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(a.entries[i].path, a.entries[j].path) == 0 &&
			    strcmp(a.entries[i].access, a.entries[j].access) == 0)
				abort();
	}
	static corral_result r;
	memset(&r, 0, sizeof r);
	r.n_denials = size % (CORRAL_DENIALS_MAX + 1);
	landlock_audit_export(&a, &r);
	if (r.n_denials > CORRAL_DENIALS_MAX)
		abort();
	free(text);
	return 0;
}
