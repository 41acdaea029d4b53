/* Secret placeholders: one-shot find and replace and the stream against a
 * plain reference tokeniser, for placeholders at the start, at the end,
 * adjacent, overlapping, repeated, partial and absent; every two-way split
 * and byte by byte; pieces crossing the stream's window; blocking; and
 * that no byte of a placeholder is ever emitted before it is complete. */
#include "net/secret_scan.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define A "CORRAL_SECRET_0123456789abcdef0123456789abcdef"
#define B "CORRAL_SECRET_fedcba9876543210fedcba9876543210"
#define C "CORRAL_SECRET_00000000000000000000000000000000"

static const struct secret_spec specs[] = {
	{A, "sk-live-AAAA"},
	{B, "b"},
	{C, ""},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const bool all[] = {true, true, true}, only_a[] = {true, false, false},
		  none[] = {false, false, false};

/* What a plain reading gives: at each position the longest placeholder
 * matching there, the lowest index on a tie. */
struct result {
	long replaced;               /* or -2 */
	int blocked;
	size_t blocked_at;
	size_t len;
	unsigned char out[65536];    /* output (up to the blocked occurrence) */
};

static void reference(const struct secret_spec *sp, size_t n, const bool *allowed,
                      const unsigned char *in, size_t len, struct result *r)
{
	r->replaced = 0;
	r->blocked = -1;
	r->len = 0;
	for (size_t pos = 0; pos < len;) {
		int best = -1;
		size_t best_len = 0;
		for (size_t i = 0; i < n; i++) {
			size_t pl = strlen(sp[i].placeholder);
			if (pl && pl <= len - pos && memcmp(in + pos, sp[i].placeholder, pl) == 0 &&
			    pl > best_len) {
				best = (int)i;
				best_len = pl;
			}
		}
		if (best < 0) {
			r->out[r->len++] = in[pos++];
			continue;
		}
		if (!allowed || !allowed[best]) {
			r->replaced = -2;
			r->blocked = best;
			r->blocked_at = pos;
			return;
		}
		size_t vl = strlen(sp[best].value);
		memcpy(r->out + r->len, sp[best].value, vl);
		r->len += vl;
		r->replaced++;
		pos += best_len;
	}
}

static struct result ref, got;

static void collect(void *ctx, const void *p, size_t n)
{
	struct result *r = ctx;
	CHECK(n > 0 && r->len + n <= sizeof r->out);
	if (r->len + n > sizeof r->out)
		return;
	memcpy(r->out + r->len, p, n);
	r->len += n;
	/* Never ahead of a plain reading of the whole input: so never a byte
	 * of a placeholder, nor anything past a blocked one. (The bytes
	 * before were checked by the previous calls.) */
	if (r->len > ref.len || memcmp(r->out + r->len - n, ref.out + r->len - n, n) != 0)
		CHECK(!"emitted bytes that are not a prefix of the expected output");
}

/* Stream in[0..len) in pieces ending at cuts[]. */
static void stream(const struct secret_spec *sp, size_t n, const bool *allowed,
                   const unsigned char *in, size_t len, const size_t *cuts, size_t ncuts,
                   struct result *r)
{
	static struct secret_stream s;
	CHECK(secret_stream_init(&s, sp, n, allowed) == 0);
	r->len = 0;
	r->blocked = -1;
	long rc = 0;
	size_t from = 0;
	for (size_t k = 0; k <= ncuts && rc >= 0; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		rc = secret_stream_feed(&s, in + from, to - from, collect, r);
		CHECK(s.held < SECRET_PLACEHOLDER_MAX);
		from = to;
	}
	if (rc >= 0)
		rc = secret_stream_finish(&s, collect, r);
	r->replaced = rc;
	if (rc == -2) {
		r->blocked = s.blocked;
		r->blocked_at = (size_t)s.blocked_at;
		/* Sticky, and nothing more comes out. */
		size_t before = r->len;
		CHECK(secret_stream_feed(&s, in, len, collect, r) == -2 && r->len == before);
		CHECK(secret_stream_finish(&s, collect, r) == -2);
	} else {
		CHECK(secret_stream_feed(&s, in, len, collect, r) == -1 && errno == EINVAL);
	}
}

static bool same(const struct result *a, const struct result *b)
{
	if (a->replaced != b->replaced || a->blocked != b->blocked)
		return false;
	if (a->blocked >= 0)
		return a->blocked_at == b->blocked_at;
	return a->len == b->len && memcmp(a->out, b->out, a->len) == 0;
}

/* One input, one allowed set: every function agrees with the reference,
 * whatever the split. */
static void check_input(const struct secret_spec *sp, size_t n, const bool *allowed,
                        const void *p, size_t len, bool every_split)
{
	const unsigned char *in = p;
	reference(sp, n, allowed, in, len, &ref);

	unsigned char *out = NULL;
	size_t out_len = 0;
	int blocked = -1;
	long r = secret_replace(sp, n, allowed, in, len, &out, &out_len, &blocked);
	CHECK(r == ref.replaced);
	if (ref.replaced >= 0)
		CHECK(out && out_len == ref.len && memcmp(out, ref.out, out_len) == 0);
	else
		CHECK(!out && blocked == ref.blocked);
	free(out);

	/* secret_find: the first occurrence of any placeholder. */
	static struct result first;
	reference(sp, n, NULL, in, len, &first);
	size_t at = 0;
	int f = secret_find(sp, n, in, len, &at);
	CHECK(f == first.blocked && (f < 0 || at == first.blocked_at));

	stream(sp, n, allowed, in, len, NULL, 0, &got);
	CHECK(same(&ref, &got));
	if (!every_split)
		return;
	size_t cuts[2];
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		stream(sp, n, allowed, in, len, cuts, 1, &got);
		if (!same(&ref, &got)) {
			fprintf(stderr, "split at %zu of \"%.60s\" differs\n", i, (const char *)in);
			CHECK(!"two-way split");
			return;
		}
	}
	static size_t every[4096];
	for (size_t i = 0; i < len && i < 4096; i++)
		every[i] = i;
	stream(sp, n, allowed, in, len, every, len < 4096 ? len : 4096, &got);
	CHECK(same(&ref, &got));
}

static void check_all_sets(const char *s)
{
	check_input(specs, NSPECS, all, s, strlen(s), true);
	CHECK(ref.blocked < 0);
	check_input(specs, NSPECS, only_a, s, strlen(s), true);
	check_input(specs, NSPECS, none, s, strlen(s), true);
	check_input(specs, NSPECS, NULL, s, strlen(s), true);
}

static void check_basic(void)
{
	static const char *const inputs[] = {
		"",
		"x",
		"no placeholder here at all",
		A,
		A "tail",
		"head" A,
		"head" A "tail",
		A A,
		A B C,
		"a" A "b" B "c" C "d",
		A A A A A,
		"Authorization: Bearer " A "\r\nX-Other: " B "\r\n",
		/* Near misses: partial, one byte different, upper case. */
		"CORRAL_SECRET_0123456789abcdef0123456789abcde",
		"CORRAL_SECRET_0123456789abcdef0123456789abcdeF",
		"corral_secret_0123456789abcdef0123456789abcdef",
		"CORRAL_SECRET_CORRAL_SECRET_0123456789abcdef0123456789abcdef",
		"CORRAL_SECRET_0123456789abcdef" A "0123456789abcdef",
		"CORRAL_SECRET_",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
		check_all_sets(inputs[i]);

	unsigned char *out;
	size_t out_len;
	int blocked = -1;
	CHECK(secret_replace(specs, NSPECS, all, "x" A "y" B "z" C, strlen("x" A "y" B "z" C), &out,
	                     &out_len, &blocked) == 3);
	CHECK(out_len == 16 && memcmp(out, "xsk-live-AAAAybz", 16) == 0);
	free(out);
	CHECK(secret_replace(specs, NSPECS, only_a, "x" A "y" B, strlen("x" A "y" B), &out,
	                     &out_len, &blocked) == -2 && blocked == 1 && out == NULL);
	CHECK(secret_replace(specs, NSPECS, all, "", 0, &out, &out_len, &blocked) == 0 && out &&
	      out_len == 0);
	free(out);
	size_t at = 99;
	CHECK(secret_find(specs, NSPECS, "abc", 3, &at) == -1 && at == 99);
	CHECK(secret_find(specs, NSPECS, "ab" C "x" A, strlen("ab" C "x" A), &at) == 2 && at == 2);
	/* NUL bytes in the data are data. */
	static const char with_nul[] = "\0" A "\0";
	CHECK(secret_find(specs, NSPECS, with_nul, sizeof with_nul - 1, &at) == 0 && at == 1);
	check_input(specs, NSPECS, all, with_nul, sizeof with_nul - 1, true);
}

/* Placeholders of different lengths that overlap: the longest at the
 * leftmost position wins, and reading resumes after it. */
static void check_overlap(void)
{
	static const struct secret_spec sp[] = {
		{"abc", "1"}, {"bcd", "2"}, {"abcd", "3"}, {"aa", "4"}, {"aaa", "5"}, {"cde", "6"},
	};
	static const bool al[] = {true, true, true, true, true, false};
	static const bool al2[] = {true, false, true, true, true, true};
	static const char *const inputs[] = {
		"abcd", "abc", "xbcd", "abcde", "aaaa", "aaaaa", "aabcd", "abcbcd", "cde", "abcde",
		"bcde", "ab", "aab", "xxcdex", "abcabcabc", "aaabcdbcde",
	};
	size_t n = sizeof sp / sizeof sp[0];
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		const char *s = inputs[i];
		check_input(sp, n, al, s, strlen(s), true);
		check_input(sp, n, al2, s, strlen(s), true);
		check_input(sp, n, NULL, s, strlen(s), true);
	}
	unsigned char *out;
	size_t out_len;
	int blocked = -1;
	/* abcd at 0 hides bcd; cde after it is not an occurrence. */
	CHECK(secret_replace(sp, n, al, "abcde", 5, &out, &out_len, &blocked) == 1 && out_len == 2 &&
	      memcmp(out, "3e", 2) == 0);
	free(out);
	CHECK(secret_replace(sp, n, al, "aaaaa", 5, &out, &out_len, &blocked) == 2 && out_len == 2 &&
	      memcmp(out, "54", 2) == 0);
	free(out);
	CHECK(secret_replace(sp, n, al, "xcde", 4, &out, &out_len, &blocked) == -2 && blocked == 5);
	CHECK(secret_replace(sp, n, al2, "xbcd", 4, &out, &out_len, &blocked) == -2 && blocked == 1);
}

/* Streams longer than the window, with placeholders across its edges. */
static void check_window(void)
{
	static unsigned char big[3 * SECRET_STREAM_WINDOW + 500];
	size_t len = sizeof big;
	for (size_t i = 0; i < len; i++)
		big[i] = (unsigned char)('a' + i % 23);
	size_t plen = strlen(A);
	static const size_t at[] = {
		0,
		SECRET_STREAM_WINDOW - 100,
		SECRET_STREAM_WINDOW - 20,
		2 * SECRET_STREAM_WINDOW - 128,
		2 * SECRET_STREAM_WINDOW + 10,
		3 * SECRET_STREAM_WINDOW + 500 - 46,
	};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
		memcpy(big + at[i], i % 2 ? B : A, plen);
	check_input(specs, NSPECS, all, big, len, false);
	CHECK(ref.replaced == 6);
	check_input(specs, NSPECS, only_a, big, len, false);
	CHECK(ref.blocked == 1 && ref.blocked_at == at[1]);
	/* Cuts near each placeholder and each window edge, and pieces of
	 * odd sizes. */
	reference(specs, NSPECS, all, big, len, &ref);
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		for (size_t d = 0; d <= plen + 1; d++) {
			size_t cut = at[i] + d < len ? at[i] + d : len;
			stream(specs, NSPECS, all, big, len, &cut, 1, &got);
			CHECK(same(&ref, &got));
		}
	}
	static size_t cuts[4096];
	for (size_t step = 7; step < 3000; step = step * 3 + 1) {
		size_t k = 0;
		for (size_t c = step; c < len && k < 4096; c += step)
			cuts[k++] = c;
		stream(specs, NSPECS, all, big, len, cuts, k, &got);
		CHECK(same(&ref, &got));
	}
}

static void emit_count(void *ctx, const void *p, size_t n)
{
	*(size_t *)ctx += n;
}

/* Nothing of a placeholder leaves before all of it has arrived. */
static void check_hold_back(void)
{
	static struct secret_stream s;
	size_t emitted = 0;
	CHECK(secret_stream_init(&s, specs, NSPECS, all) == 0);
	const char *head = "0123456789";
	CHECK(secret_stream_feed(&s, head, 10, emit_count, &emitted) == 0);
	/* Too short to decide anything yet: all held back. */
	CHECK(emitted == 0 && s.held == 10);
	for (size_t i = 0; i + 1 < strlen(A); i++) {
		CHECK(secret_stream_feed(&s, &A[i], 1, emit_count, &emitted) == 0);
		CHECK(emitted <= 10);
	}
	CHECK(secret_stream_feed(&s, &A[strlen(A) - 1], 1, emit_count, &emitted) == 1);
	CHECK(emitted == 10 + strlen("sk-live-AAAA"));
	CHECK(secret_stream_finish(&s, emit_count, &emitted) == 1);

	/* Blocked: the bytes before it are out, none of it, nothing after. */
	emitted = 0;
	CHECK(secret_stream_init(&s, specs, NSPECS, only_a) == 0);
	CHECK(secret_stream_feed(&s, "xy", 2, emit_count, &emitted) == 0);
	CHECK(secret_stream_feed(&s, B, 40, emit_count, &emitted) == 0 && emitted == 0);
	CHECK(secret_stream_feed(&s, &B[40], strlen(B) - 40, emit_count, &emitted) == -2);
	CHECK(s.blocked == 1 && s.blocked_at == 2 && emitted == 2);

	/* At the end, a partial placeholder is just data. */
	emitted = 0;
	CHECK(secret_stream_init(&s, specs, NSPECS, NULL) == 0);
	CHECK(secret_stream_feed(&s, A, 20, emit_count, &emitted) == 0 && emitted == 0);
	CHECK(secret_stream_finish(&s, emit_count, &emitted) == 0 && emitted == 20);
	/* No emitter: detection only. */
	CHECK(secret_stream_init(&s, specs, NSPECS, NULL) == 0);
	CHECK(secret_stream_feed(&s, "abc" A, strlen(A) + 3, NULL, NULL) == -2 && s.blocked == 0);
}

static void check_limits(void)
{
	static struct secret_stream s;
	static struct secret_spec many[SECRET_SPECS_MAX + 1];
	static char names[SECRET_SPECS_MAX + 1][16];
	for (size_t i = 0; i <= SECRET_SPECS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "P%zuP", i);
		many[i] = (struct secret_spec){names[i], "v"};
	}
	CHECK(secret_stream_init(&s, many, SECRET_SPECS_MAX, NULL) == 0);
	errno = 0;
	CHECK(secret_stream_init(&s, many, SECRET_SPECS_MAX + 1, NULL) == -1 && errno == EINVAL);
	size_t at;
	CHECK(secret_find(many, SECRET_SPECS_MAX, "xxP63P", 6, &at) == 63 && at == 2);
	CHECK(secret_find(many, SECRET_SPECS_MAX + 1, "xxP63P", 6, &at) == -2 && errno == EINVAL);
	unsigned char *out = (unsigned char *)"sentinel";
	size_t out_len;
	int blocked;
	CHECK(secret_replace(many, SECRET_SPECS_MAX + 1, NULL, "x", 1, &out, &out_len, &blocked) ==
	      -1 && errno == EINVAL && out == NULL);

	static char longest[SECRET_PLACEHOLDER_MAX + 2];
	memset(longest, 'L', SECRET_PLACEHOLDER_MAX);
	struct secret_spec one = {longest, "v"};
	CHECK(secret_stream_init(&s, &one, 1, NULL) == 0 && s.max_len == SECRET_PLACEHOLDER_MAX);
	static char text[SECRET_PLACEHOLDER_MAX + 40];
	memset(text, 'L', sizeof text - 1);
	bool yes = true;
	check_input(&one, 1, &yes, text, strlen(text), true);
	CHECK(ref.replaced == 1 && ref.len == 1 + 39 && got.replaced == 1);
	longest[SECRET_PLACEHOLDER_MAX] = 'L';
	CHECK(secret_stream_init(&s, &one, 1, NULL) == -1 && errno == EINVAL);
	struct secret_spec empty = {"", "v"};
	CHECK(secret_stream_init(&s, &empty, 1, NULL) == -1 && errno == EINVAL);
	/* One-shot: an empty placeholder never occurs. */
	CHECK(secret_find(&empty, 1, "abc", 3, &at) == -1);
	CHECK(secret_stream_init(&s, specs, 0, NULL) == 0);
	size_t emitted = 0;
	CHECK(secret_stream_feed(&s, "abc", 3, emit_count, &emitted) == 0 && emitted == 3);
}

int main(void)
{
	check_basic();
	check_overlap();
	check_window();
	check_hold_back();
	check_limits();
	return unit_done();
}
