/*
 * Fuzz the human forms of limits (src/policy/parse.h), the limit setters
 * behind --memory/--timeout/… and the "limits" object of a policy
 * (src/policy/limits.c), and parse_uint (src/util/strings.h).
 *
 * Properties, for any string:
 *  - no parser crashes or trips a sanitizer, and each is deterministic;
 *  - when a value parses, its exact rendering parses back to the same value:
 *      size:     format_size        (exact: "64M" only when divisible)
 *      duration: format_duration_ms (exact: "250ms" or "10s")
 *      count:    "%llu"
 *      cpus:     "%llu.%03llu"      (what policy_format_limit writes)
 *    and rendering that value again gives the same text;
 *  - the parsers agree where their grammars overlap: a plain count N is the
 *    size N bytes, the duration N seconds and the CPU count N;
 *  - policy_set_limit accepts only what its parser accepts, and what
 *    policy_format_limit renders is accepted again with the same value.
 */
#include "corral.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "util/strings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 256

static void fail(const char *what, const char *input, const char *rendered)
{
	fprintf(stderr, "fuzz_limits: %s: input \"%s\"", what, input);
	if (rendered)
		fprintf(stderr, ", rendered \"%s\"", rendered);
	fputc('\n', stderr);
	abort();
}

typedef int (*parse_fn)(const char *, uint64_t *);

/* Parse `s` twice (determinism); returns the parser's result. */
static int parse_twice(parse_fn parse, const char *s, uint64_t *v, const char *name)
{
	uint64_t a = 0, b = 0;
	int ra = parse(s, &a);
	int rb = parse(s, &b);
	if (ra != rb || (ra == 0 && a != b))
		fail(name, s, "not deterministic");
	if (ra != 0 && ra != -1)
		fail(name, s, "returned neither 0 nor -1");
	*v = a;
	return ra;
}

static void format_count(uint64_t v, char *buf, unsigned size)
{
	if (v == LIMIT_UNLIMITED)
		snprintf(buf, size, "unlimited");
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void format_cpus(uint64_t v, char *buf, unsigned size)
{
	if (v == LIMIT_UNLIMITED)
		snprintf(buf, size, "unlimited");
	else
		snprintf(buf, size, "%llu.%03llu", (unsigned long long)(v / 1000),
		         (unsigned long long)(v % 1000));
}

/* value → text → value → text must be a fixed point. */
static void check_round_trip(parse_fn parse, void (*format)(uint64_t, char *, unsigned),
                             const char *input, uint64_t v, const char *name)
{
	char first[64], second[64];
	format(v, first, sizeof first);
	uint64_t back = 0;
	if (parse(first, &back) < 0)
		fail(name, input, first);
	if (back != v)
		fail(name, input, first);
	format(back, second, sizeof second);
	if (strcmp(first, second) != 0)
		fail(name, input, second);
}

static void check_parsers(const char *s)
{
	uint64_t size_v, dur_v, count_v, cpus_v;
	int size_rc = parse_twice(parse_size, s, &size_v, "parse_size");
	int dur_rc = parse_twice(parse_duration_ms, s, &dur_v, "parse_duration_ms");
	int count_rc = parse_twice(parse_count, s, &count_v, "parse_count");
	int cpus_rc = parse_twice(parse_cpus_milli, s, &cpus_v, "parse_cpus_milli");

	if (size_rc == 0)
		check_round_trip(parse_size, format_size, s, size_v, "size round trip");
	if (dur_rc == 0)
		check_round_trip(parse_duration_ms, format_duration_ms, s, dur_v,
		                 "duration round trip");
	if (count_rc == 0)
		check_round_trip(parse_count, format_count, s, count_v, "count round trip");
	if (cpus_rc == 0)
		check_round_trip(parse_cpus_milli, format_cpus, s, cpus_v, "cpus round trip");

	/* A plain count is also a size in bytes, a duration in seconds and a
	 * number of CPUs, whenever the scaled value is representable. */
	if (count_rc == 0 && count_v != LIMIT_UNLIMITED) {
		if (size_rc != 0 || size_v != count_v)
			fail("count and size disagree", s, NULL);
		if (count_v < LIMIT_UNLIMITED / 1000) {
			if (dur_rc != 0 || dur_v != count_v * 1000)
				fail("count and duration (seconds) disagree", s, NULL);
			if (cpus_rc != 0 || cpus_v != count_v * 1000)
				fail("count and cpus disagree", s, NULL);
		}
	}
	if (count_rc == 0 && count_v == LIMIT_UNLIMITED) {
		if (size_v != LIMIT_UNLIMITED || dur_v != LIMIT_UNLIMITED || cpus_v != LIMIT_UNLIMITED)
			fail("\"unlimited\" is not unlimited everywhere", s, NULL);
	}
}

static void check_policy_limits(const char *s)
{
	static const parse_fn parser_of[POLICY_LIMIT_COUNT] = {
		[POLICY_LIMIT_MEMORY] = parse_size,         [POLICY_LIMIT_PIDS] = parse_count,
		[POLICY_LIMIT_CPUS] = parse_cpus_milli,     [POLICY_LIMIT_TIMEOUT] = parse_duration_ms,
		[POLICY_LIMIT_CPU_TIME] = parse_duration_ms, [POLICY_LIMIT_OUTPUT] = parse_size,
		[POLICY_LIMIT_DISK] = parse_size,           [POLICY_LIMIT_OPEN_FILES] = parse_count,
		[POLICY_LIMIT_FILE_SIZE] = parse_size,
	};
	corral_policy *p = corral_policy_new();
	if (!p)
		abort();
	for (int i = 0; i < POLICY_LIMIT_COUNT; i++) {
		enum policy_limit_id id = (enum policy_limit_id)i;
		const char *name = policy_limit_json_name(id);
		uint64_t before = *policy_limit_slot(p, id);
		corral_error err = {0};
		int rc = policy_set_limit(p, id, s, &err);
		uint64_t parsed = 0;
		int parse_rc = parser_of[i](s, &parsed);
		if (rc < 0) {
			if (err.kind == CORRAL_OK || err.message[0] == '\0')
				fail(name, s, "refused without an error message");
			if (*policy_limit_slot(p, id) != before)
				fail(name, s, "a refused value changed the limit");
			continue;
		}
		if (parse_rc < 0 || parsed != *policy_limit_slot(p, id))
			fail(name, s, "policy_set_limit accepted what its parser refuses");
		char buf[64];
		policy_format_limit(p, id, buf, sizeof buf);
		corral_error err2 = {0};
		if (policy_set_limit(p, id, buf, &err2) < 0)
			fail(name, s, buf);
		if (*policy_limit_slot(p, id) != parsed)
			fail(name, s, buf);
		char again[64];
		policy_format_limit(p, id, again, sizeof again);
		if (strcmp(buf, again) != 0)
			fail(name, s, again);
	}
	corral_policy_free(p);
}

static void check_parse_uint(const char *s)
{
	static const unsigned long long maxima[] = {0, 1, 65533, 4294967295ULL, ~0ULL};
	for (size_t i = 0; i < sizeof maxima / sizeof maxima[0]; i++) {
		unsigned long long v = 0;
		if (parse_uint(s, maxima[i], &v) < 0)
			continue;
		if (v > maxima[i])
			fail("parse_uint exceeded its maximum", s, NULL);
		char buf[32];
		snprintf(buf, sizeof buf, "%llu", v);
		unsigned long long back = 0;
		if (parse_uint(buf, maxima[i], &back) < 0 || back != v)
			fail("parse_uint round trip", s, buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return -1;
	char s[MAX_INPUT + 1];
	memcpy(s, data, size);
	s[size] = '\0';
	check_parsers(s);
	check_policy_limits(s);
	check_parse_uint(s);
	return 0;
}
