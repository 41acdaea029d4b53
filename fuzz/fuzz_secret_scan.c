/*
 * Fuzz the secret placeholder scanner (src/net/secret_scan.h).
 *
 * The input chooses the secrets and then gives the data:
 *   n (1..4), a bitmap of allowed secrets, then per secret a length byte
 *   (1..8, or 1..128 with the top bit), the placeholder, a value length
 *   (0..7) and the value, then a seed for the splits; the rest is data.
 * Properties, for any bytes:
 *  - secret_replace and secret_find agree with a plain reading of the data
 *    (at each position the longest matching placeholder, the lowest index
 *    on a tie): the same output and count, or the same blocked secret;
 *  - the stream gives exactly that too, in one piece, byte by byte (inputs
 *    up to 4 KiB) and in pseudo-random splits; what it has emitted at any moment is a prefix
 *    of the expected output (never a byte of a placeholder, nothing past
 *    a blocked one); it never holds back a whole placeholder's worth.
 */
#include "net/secret_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DATA 32768

struct result {
	long replaced;
	int blocked;
	size_t blocked_at;
	size_t len;
	unsigned char *out;
	size_t cap;
};

static struct result expect;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_secret_scan: %s\n", what);
	abort();
}

static void put(struct result *r, const void *p, size_t n)
{
	if (n > r->cap - r->len)
		fail("output larger than its bound");
	memcpy(r->out + r->len, p, n);
	r->len += n;
}

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
			const char *ph = sp[i].placeholder;
			/* The first byte alone rules out most positions cheaply. */
			if ((unsigned char)ph[0] != in[pos])
				continue;
			size_t pl = strlen(ph);
			if (pl <= len - pos && memcmp(in + pos, ph, pl) == 0 && pl > best_len) {
				best = (int)i;
				best_len = pl;
			}
		}
		if (best < 0) {
			put(r, in + pos, 1);
			pos++;
			continue;
		}
		if (!allowed || !allowed[best]) {
			r->replaced = -2;
			r->blocked = best;
			r->blocked_at = pos;
			return;
		}
		put(r, sp[best].value, strlen(sp[best].value));
		r->replaced++;
		pos += best_len;
	}
}

static void collect(void *ctx, const void *p, size_t n)
{
	struct result *r = ctx;
	if (n == 0)
		fail("empty emission");
	size_t before = r->len;
	put(r, p, n);
	/* What came before was checked already. */
	if (r->len > expect.len || memcmp(r->out + before, expect.out + before, n) != 0)
		fail("emitted bytes that are not a prefix of the expected output");
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* max_piece 0: one piece; else pieces of 1..max_piece (exactly max_piece
 * without rng). */
static void stream(const struct secret_spec *sp, size_t n, const bool *allowed,
                   const unsigned char *in, size_t len, size_t max_piece, uint64_t *rng,
                   struct result *r)
{
	static struct secret_stream s;
	if (secret_stream_init(&s, sp, n, allowed) != 0)
		fail("init refused valid secrets");
	r->len = 0;
	r->blocked = -1;
	long rc = 0;
	size_t at = 0;
	while (at < len && rc >= 0) {
		size_t piece = len - at;
		if (max_piece) {
			size_t want = rng ? 1 + (size_t)(next_rand(rng) % max_piece) : max_piece;
			piece = want < piece ? want : piece;
		}
		rc = secret_stream_feed(&s, in + at, piece, collect, r);
		if (s.held >= SECRET_PLACEHOLDER_MAX || (s.max_len && s.held >= s.max_len))
			fail("held back a whole placeholder");
		at += piece;
	}
	if (rc >= 0)
		rc = secret_stream_finish(&s, collect, r);
	r->replaced = rc;
	if (rc == -2) {
		r->blocked = s.blocked;
		r->blocked_at = (size_t)s.blocked_at;
	}
}

static void compare(const struct result *a, const char *what)
{
	if (a->replaced != expect.replaced || a->blocked != expect.blocked)
		fail(what);
	if (expect.blocked >= 0 ? a->blocked_at != expect.blocked_at
	                        : a->len != expect.len || memcmp(a->out, expect.out, a->len) != 0)
		fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ph[4][SECRET_PLACEHOLDER_MAX + 1], val[4][8];
	struct secret_spec sp[4];
	bool allowed[4];
	size_t p = 0;
	if (size < 3)
		return 0;
	size_t n = 1 + data[p++] % 4;
	for (size_t i = 0; i < 4; i++)
		allowed[i] = data[p] >> i & 1;
	p++;
	for (size_t i = 0; i < n; i++) {
		if (p >= size)
			return 0;
		size_t pl = data[p] & 0x80 ? 1 + (data[p] & 0x7f) : 1 + data[p] % 8;
		p++;
		if (size - p < pl + 1)
			return 0;
		/* No NUL inside: the placeholder is a C string of length pl. */
		for (size_t k = 0; k < pl; k++)
			ph[i][k] = data[p + k] ? (char)data[p + k] : '0';
		ph[i][pl] = '\0';
		p += pl;
		size_t vl = data[p++] % 8;
		if (size - p < vl)
			return 0;
		for (size_t k = 0; k < vl; k++)
			val[i][k] = data[p + k] ? (char)data[p + k] : '0';
		val[i][vl] = '\0';
		p += vl;
		sp[i] = (struct secret_spec){ph[i], val[i]};
	}
	if (p >= size)
		return 0;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ data[p++];
	const unsigned char *in = data + p;
	size_t len = size - p;
	if (len > MAX_DATA)
		return 0;

	/* Output is at most 7 bytes per input byte (a 1-byte placeholder
	 * replaced by a 7-byte value). */
	size_t cap = 7 * len + 8;
	static struct result got;
	expect.out = malloc(cap);
	got.out = malloc(cap);
	if (!expect.out || !got.out)
		abort();
	expect.cap = got.cap = cap;

	/* secret_find: the first occurrence, allowed or not. */
	reference(sp, n, NULL, in, len, &expect);
	size_t at = 0;
	int f = secret_find(sp, n, in, len, &at);
	if (f != expect.blocked || (f >= 0 && at != expect.blocked_at))
		fail("secret_find disagrees with the reference");

	reference(sp, n, allowed, in, len, &expect);
	unsigned char *out = NULL;
	size_t out_len = 0;
	int blocked = -1;
	long r = secret_replace(sp, n, allowed, in, len, &out, &out_len, &blocked);
	if (r != expect.replaced || (r == -2 && blocked != expect.blocked) ||
	    (r >= 0 && (out_len != expect.len || memcmp(out, expect.out, out_len) != 0)) ||
	    (r < 0 && out))
		fail("secret_replace disagrees with the reference");
	free(out);

	stream(sp, n, allowed, in, len, 0, NULL, &got);
	compare(&got, "the stream in one piece disagrees with the reference");
	/* Byte by byte costs a search per byte: on shorter inputs only. */
	if (len <= 4096) {
		stream(sp, n, allowed, in, len, 1, NULL, &got);
		compare(&got, "the stream byte by byte disagrees with the reference");
	}
	static const size_t max_pieces[] = {3, 50, 300, 9000};
	for (size_t k = 0; k < sizeof max_pieces / sizeof max_pieces[0]; k++) {
		stream(sp, n, allowed, in, len, max_pieces[k], &rng, &got);
		compare(&got, "the stream in random pieces disagrees with the reference");
	}
	free(expect.out);
	free(got.out);
	return 0;
}
