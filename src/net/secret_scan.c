/* Secret placeholders: one left-to-right tokenisation shared by the
 * one-shot functions and the stream, so that they cannot disagree. */
#include "net/secret_scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NOT_FOUND SIZE_MAX

/* What one pass over a buffer needs and gives. */
struct pass {
	const struct secret_spec *specs;
	size_t n;
	const size_t *plen;
	const bool *allowed;             /* NULL: none */
	secret_emit_fn *emit;            /* NULL: emit nothing */
	void *ctx;
	long replaced;
	int blocked;                     /* -1, or the index that blocked */
	size_t blocked_at;
	/* Leftmost occurrence of each placeholder at or after where it was
	 * last looked for, so that each is searched for once per occurrence
	 * rather than once per position. */
	size_t next[SECRET_SPECS_MAX];
	bool known[SECRET_SPECS_MAX];
};

static void pass_init(struct pass *p, const struct secret_spec *specs, size_t n,
                      const size_t *plen, const bool *allowed, secret_emit_fn *emit, void *ctx)
{
	memset(p, 0, sizeof *p);
	p->specs = specs;
	p->n = n;
	p->plen = plen;
	p->allowed = allowed;
	p->emit = emit;
	p->ctx = ctx;
	p->blocked = -1;
}

static void emit(const struct pass *p, const void *b, size_t n)
{
	if (p->emit && n)
		p->emit(p->ctx, b, n);
}

/* The occurrence starting first at or after `from` in buf[0..len) (the
 * longest at that position, then the lowest index): its index, or -1. */
static int first_match(struct pass *p, const unsigned char *buf, size_t len, size_t from,
                       size_t *pos)
{
	int best = -1;
	size_t best_pos = NOT_FOUND;
	for (size_t i = 0; i < p->n; i++) {
		if (p->plen[i] == 0)
			continue;
		if (!p->known[i] || (p->next[i] != NOT_FOUND && p->next[i] < from)) {
			const unsigned char *m =
				memmem(buf + from, len - from, p->specs[i].placeholder, p->plen[i]);
			p->next[i] = m ? (size_t)(m - buf) : NOT_FOUND;
			p->known[i] = true;
		}
		if (p->next[i] == NOT_FOUND)
			continue;
		if (best < 0 || p->next[i] < best_pos ||
		    (p->next[i] == best_pos && p->plen[i] > p->plen[best])) {
			best = (int)i;
			best_pos = p->next[i];
		}
	}
	*pos = best_pos;
	return best;
}

/* Tokenise buf[0..len), deciding the positions before `decided` (every
 * placeholder starting there lies within buf). Emits the bytes and
 * values up to the returned offset, which is >= decided unless a blocked
 * placeholder stopped it (p->blocked). An occurrence may run past
 * `decided`; the caller keeps what lies after the returned offset. */
static size_t run(struct pass *p, const unsigned char *buf, size_t len, size_t decided)
{
	size_t cur = 0;
	while (cur < decided) {
		size_t at;
		int i = first_match(p, buf, len, cur, &at);
		if (i < 0 || at >= decided) {
			emit(p, buf + cur, decided - cur);
			return decided;
		}
		emit(p, buf + cur, at - cur);
		if (!p->allowed || !p->allowed[i]) {
			p->blocked = i;
			p->blocked_at = at;
			return at;
		}
		const char *value = p->specs[i].value ? p->specs[i].value : "";
		emit(p, value, strlen(value));
		p->replaced++;
		cur = at + p->plen[i];
	}
	return cur;
}

static void lengths(const struct secret_spec *specs, size_t n, size_t *plen)
{
	for (size_t i = 0; i < n; i++)
		plen[i] = specs[i].placeholder ? strlen(specs[i].placeholder) : 0;
}

int secret_find(const struct secret_spec *specs, size_t n, const void *buf, size_t len,
                size_t *at)
{
	if (n > SECRET_SPECS_MAX) {
		errno = EINVAL;
		return -2;
	}
	size_t plen[SECRET_SPECS_MAX];
	struct pass p;
	lengths(specs, n, plen);
	/* Nothing allowed: the first occurrence stops the pass. */
	pass_init(&p, specs, n, plen, NULL, NULL, NULL);
	run(&p, buf, len, len);
	if (p.blocked >= 0)
		*at = p.blocked_at;
	return p.blocked;
}

/* Output size, counted before allocating; saturates rather than wraps. */
static void count_bytes(void *ctx, const void *b, size_t n)
{
	size_t *total = ctx;
	(void)b;
	*total = *total > SIZE_MAX - n ? SIZE_MAX : *total + n;
}

struct sink {
	unsigned char *p;
	size_t len, cap;
};

static void append(void *ctx, const void *b, size_t n)
{
	struct sink *s = ctx;
	/* The counting pass sized the buffer; the bound check is a guard. */
	if (n > s->cap - s->len)
		return;
	memcpy(s->p + s->len, b, n);
	s->len += n;
}

long secret_replace(const struct secret_spec *specs, size_t n, const bool *allowed,
                    const void *buf, size_t len, unsigned char **out, size_t *out_len,
                    int *blocked)
{
	*out = NULL;
	*out_len = 0;
	if (n > SECRET_SPECS_MAX) {
		errno = EINVAL;
		return -1;
	}
	size_t plen[SECRET_SPECS_MAX];
	struct pass p;
	size_t total = 0;
	lengths(specs, n, plen);
	pass_init(&p, specs, n, plen, allowed, count_bytes, &total);
	run(&p, buf, len, len);
	if (p.blocked >= 0) {
		*blocked = p.blocked;
		return -2;
	}
	if (total == SIZE_MAX) {
		errno = ENOMEM;
		return -1;
	}
	struct sink sink = {malloc(total ? total : 1), 0, total};
	if (!sink.p) {
		errno = ENOMEM;
		return -1;
	}
	pass_init(&p, specs, n, plen, allowed, append, &sink);
	run(&p, buf, len, len);
	*out = sink.p;
	*out_len = sink.len;
	return p.replaced;
}

int secret_stream_init(struct secret_stream *s, const struct secret_spec *specs, size_t n,
                       const bool *allowed)
{
	memset(s, 0, sizeof *s);
	s->blocked = -1;
	if (n > SECRET_SPECS_MAX) {
		errno = EINVAL;
		return -1;
	}
	lengths(specs, n, s->plen);
	for (size_t i = 0; i < n; i++) {
		/* The window must hold a whole placeholder with room to spare,
		 * and an empty one would occur everywhere. */
		if (s->plen[i] == 0 || s->plen[i] > SECRET_PLACEHOLDER_MAX) {
			errno = EINVAL;
			return -1;
		}
		if (s->plen[i] > s->max_len)
			s->max_len = s->plen[i];
	}
	s->specs = specs;
	s->n = n;
	s->allowed = allowed;
	return 0;
}

/* Tokenise the window; when not at the end, keep the bytes where a
 * placeholder may start that has not fully arrived. */
static long stream_run(struct secret_stream *s, bool final, secret_emit_fn *emit_fn, void *ctx)
{
	struct pass p;
	pass_init(&p, s->specs, s->n, s->plen, s->allowed, emit_fn, ctx);
	/* A position is decided once the longest placeholder starting there
	 * would have fully arrived: the last max_len - 1 bytes are not. */
	size_t keep = s->max_len ? s->max_len - 1 : 0;
	size_t decided = s->held;
	if (!final)
		decided = s->held > keep ? s->held - keep : 0;
	size_t done = run(&p, s->win, s->held, decided);
	s->replaced += p.replaced;
	if (p.blocked >= 0) {
		s->blocked = p.blocked;
		s->blocked_at = s->offset + p.blocked_at;
		s->held = 0;
		return -2;
	}
	memmove(s->win, s->win + done, s->held - done);
	s->held -= done;
	s->offset += done;
	return s->replaced;
}

long secret_stream_feed(struct secret_stream *s, const void *buf, size_t len,
                        secret_emit_fn *emit_fn, void *ctx)
{
	if (s->blocked >= 0)
		return -2;
	if (s->finished) {
		errno = EINVAL;
		return -1;
	}
	const unsigned char *b = buf;
	while (len > 0) {
		/* held < max_len <= SECRET_PLACEHOLDER_MAX here, so there is
		 * always room. */
		size_t k = sizeof s->win - s->held;
		if (k > len)
			k = len;
		memcpy(s->win + s->held, b, k);
		s->held += k;
		b += k;
		len -= k;
		if (stream_run(s, false, emit_fn, ctx) < 0)
			return -2;
	}
	return s->replaced;
}

long secret_stream_finish(struct secret_stream *s, secret_emit_fn *emit_fn, void *ctx)
{
	if (s->blocked >= 0)
		return -2;
	if (s->finished) {
		errno = EINVAL;
		return -1;
	}
	s->finished = true;
	return stream_run(s, true, emit_fn, ctx);
}
