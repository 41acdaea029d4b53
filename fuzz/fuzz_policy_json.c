/*
 * Fuzz the policy's JSON form (profile files, the daemon API).
 *
 * Properties:
 *  - corral_policy_merge_json never crashes, leaks or trips a sanitizer,
 *    and a refusal always comes with an error kind and a message;
 *  - whatever state the merge left the policy in (complete or partial: the
 *    setters keep the invariants either way), its JSON form merges back
 *    into a fresh policy without error and serialises to the same text
 *    (to_json ∘ merge is the identity on to_json's output).
 *
 * The merge resolves bind/workspace sources with realpath(3) on this host,
 * so inputs that name existing host paths behave differently from ones that
 * do not; both are fine, neither writes anything.
 */
#include "corral.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Big enough for any real policy; longer inputs only slow the fuzzer down. */
#define MAX_INPUT (64 * 1024)

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_policy_json: %s\n", what);
	if (a)
		fprintf(stderr, "--- first:\n%s\n", a);
	if (b)
		fprintf(stderr, "--- second:\n%s\n", b);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return -1;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	corral_policy *p = corral_policy_new();
	if (!p)
		fail("corral_policy_new failed", NULL, NULL);
	corral_error err = {0};
	if (corral_policy_merge_json(p, text, &err) < 0) {
		if (err.kind == CORRAL_OK || err.message[0] == '\0')
			fail("merge refused the document without an error", text, NULL);
	}

	char *first = corral_policy_to_json(p);
	if (!first)
		fail("corral_policy_to_json returned NULL", text, NULL);

	corral_policy *q = corral_policy_new();
	if (!q)
		fail("corral_policy_new failed", NULL, NULL);
	corral_error err2 = {0};
	if (corral_policy_merge_json(q, first, &err2) < 0) {
		fprintf(stderr, "fuzz_policy_json: re-merge error: %s\n", err2.message);
		fail("the policy's own JSON form does not merge back", text, first);
	}
	char *second = corral_policy_to_json(q);
	if (!second)
		fail("corral_policy_to_json returned NULL", first, NULL);
	if (strcmp(first, second) != 0)
		fail("JSON round trip is not stable", first, second);

	free(second);
	free(first);
	corral_policy_free(q);
	corral_policy_free(p);
	free(text);
	return 0;
}
