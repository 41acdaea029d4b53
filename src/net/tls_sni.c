#include "net/tls_sni.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static unsigned take(struct reader *r, size_t n)
{
	unsigned v = 0;
	if (r->left < n) {
		r->bad = true;
		r->left = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return v;
}

static struct reader sub(struct reader *r, size_t n)
{
	struct reader s = {r->p, n, false};
	if (r->left < n) {
		r->bad = true;
		s.left = 0;
		s.bad = true;
		n = r->left;
	}
	r->p += n;
	r->left -= n;
	return s;
}

static enum sni_status server_name(struct reader ext, char *name, size_t size)
{
	struct reader list = sub(&ext, take(&ext, 2));
	while (!list.bad && list.left > 0) {
		unsigned type = take(&list, 1);
		struct reader host = sub(&list, take(&list, 2));
		if (list.bad)
			break;
		if (type != 0)
			continue;
		if (host.left == 0 || host.left >= size)
			return SNI_ABSENT;
		for (size_t i = 0; i < host.left; i++) {
			unsigned char c = host.p[i];
			if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
				return SNI_ABSENT;
			name[i] = (char)tolower(c);
		}
		name[host.left] = '\0';
		return SNI_FOUND;
	}
	return SNI_ABSENT;
}

enum sni_status tls_sni_parse(const unsigned char *data, size_t len, char *name, size_t size)
{
	/* Record header: handshake (22), version 3.x, length. */
	if (len >= 1 && data[0] != 22)
		return SNI_NOT_TLS;
	if (len >= 2 && data[1] != 3)
		return SNI_NOT_TLS;
	if (len < 5)
		return SNI_NEED_MORE;
	size_t record = (size_t)data[3] << 8 | data[4];
	if (record < 4 || record > 16384 + 2048)
		return SNI_NOT_TLS;
	if (len < 5 + 4)
		return SNI_NEED_MORE;
	if (data[5] != 1) /* ClientHello */
		return SNI_NOT_TLS;
	size_t hello = (size_t)data[6] << 16 | (size_t)data[7] << 8 | data[8];
	if (hello + 4 > record)
		return SNI_ABSENT; /* spread over several records */
	if (len < 5 + 4 + hello)
		return SNI_NEED_MORE;

	struct reader r = {data + 9, hello, false};
	take(&r, 2);                 /* client version */
	take(&r, 32);                /* random */
	sub(&r, take(&r, 1));        /* session id */
	sub(&r, take(&r, 2));        /* cipher suites */
	sub(&r, take(&r, 1));        /* compression methods */
	if (r.bad || r.left == 0)
		return SNI_ABSENT;
	struct reader exts = sub(&r, take(&r, 2));
	while (!exts.bad && exts.left >= 4) {
		unsigned type = take(&exts, 2);
		struct reader ext = sub(&exts, take(&exts, 2));
		if (exts.bad)
			break;
		if (type == 0)
			return server_name(ext, name, size);
	}
	return SNI_ABSENT;
}
