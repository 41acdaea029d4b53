/*
 * Secret placeholders in what the egress proxy relays. A sandbox never
 * sees a secret, only a random placeholder standing for it (such as
 * "CORRAL_SECRET_" and 32 hex digits); the proxy puts the real value in
 * its place in requests to the hosts the secret is for, and refuses to
 * send a placeholder anywhere else (a sandbox must not learn which hosts
 * would receive the secret by probing, nor get a request carrying it
 * forwarded to a host it controls).
 *
 * What counts as an occurrence: the input is read from left to right; at
 * each position the longest placeholder starting there (the lowest index
 * among equal ones) is an occurrence, and reading resumes after it. So
 * occurrences never overlap, the one-shot and streaming functions agree
 * exactly, and every byte not inside an occurrence is passed on as is.
 * An empty placeholder never occurs.
 *
 * Allocation-light: the one-shot replacement allocates its result; the
 * stream allocates nothing and holds back at most the longest placeholder
 * less one byte.
 */
#ifndef CORRAL_NET_SECRET_SCAN_H
#define CORRAL_NET_SECRET_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_SPECS_MAX 64              /* secrets per scan */
#define SECRET_PLACEHOLDER_MAX 128       /* bytes of a placeholder (streaming) */
#define SECRET_STREAM_WINDOW 8192        /* bytes the stream looks at at once */

struct secret_spec {
	const char *placeholder;         /* what the sandbox sees */
	const char *value;               /* what replaces it (NULL: nothing) */
};

/* Find the first occurrence of any placeholder in buf[0..len). Returns its
 * index in specs and sets *at to its offset; -1 if there is none; -2 with
 * errno EINVAL if n > SECRET_SPECS_MAX. */
int secret_find(const struct secret_spec *specs, size_t n, const void *buf, size_t len,
                size_t *at);

/* Replace every occurrence of a placeholder whose allowed[i] is true by
 * its value, into a new malloc'd buffer *out of *out_len bytes (freed by
 * the caller; allocated even when nothing was replaced). Returns the
 * number of replacements. If an occurrence is of a placeholder whose
 * allowed[i] is false: -2, *blocked set to its index, no output. -1 with
 * errno ENOMEM, or EINVAL if n > SECRET_SPECS_MAX. allowed NULL allows
 * none. *out is NULL unless the result is >= 0. */
long secret_replace(const struct secret_spec *specs, size_t n, const bool *allowed,
                    const void *buf, size_t len, unsigned char **out, size_t *out_len,
                    int *blocked);

/* Where the stream's output goes: bytes to pass on, in order. */
typedef void secret_emit_fn(void *ctx, const void *p, size_t n);

/* The same, over a body relayed in pieces without buffering it. Every byte
 * given is eventually emitted (or its placeholder's value instead) unless
 * a blocked placeholder occurs; a byte is emitted only once the scanner
 * has seen every placeholder that could contain it in full, so no byte of
 * a placeholder is ever emitted, wherever the pieces are cut. */
struct secret_stream {
	const struct secret_spec *specs;
	const bool *allowed;
	size_t n;
	size_t plen[SECRET_SPECS_MAX];
	size_t max_len;                  /* longest placeholder */
	size_t held;                     /* bytes in win, not emitted yet */
	uint64_t offset;                 /* stream offset of win[0] */
	long replaced;
	int blocked;                     /* index of the blocked placeholder, or -1 */
	uint64_t blocked_at;             /* its stream offset */
	bool finished;
	unsigned char win[SECRET_STREAM_WINDOW];
};

/* specs and allowed (NULL: none allowed, so any placeholder blocks) must
 * outlive the stream. -1 with errno EINVAL if n > SECRET_SPECS_MAX or a
 * placeholder is empty or longer than SECRET_PLACEHOLDER_MAX. */
int secret_stream_init(struct secret_stream *s, const struct secret_spec *specs, size_t n,
                       const bool *allowed);

/* Scan buf[0..len), calling emit (if not NULL) with whatever is now safe
 * to pass on. Returns the replacements made so far, or -2 once a blocked
 * placeholder occurred (s->blocked, s->blocked_at; sticky: nothing is
 * emitted any more), or -1 with errno EINVAL after secret_stream_finish. */
long secret_stream_feed(struct secret_stream *s, const void *buf, size_t len,
                        secret_emit_fn *emit, void *ctx);

/* The end of the stream: emit what was held back. Same returns. */
long secret_stream_finish(struct secret_stream *s, secret_emit_fn *emit, void *ctx);

#endif
