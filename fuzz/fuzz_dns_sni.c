/*
 * Fuzz what the egress proxy reads from a sandbox before any decision: DNS
 * queries (src/net/dns_server.c) and the start of a TLS stream
 * (src/net/tls_sni.c). The first input byte picks the parser.
 *
 * Properties: no crash or sanitizer report; a DNS answer fits its buffer,
 * keeps the query's id and is marked as an answer; a stand-in address is
 * handed out only for a name the policy allows, and maps back to it; an
 * SNI found is a non-empty lowercase host name that fits its buffer; the
 * SNI verdict never changes when the same bytes are parsed again.
 */
#include "net/dns_server.h"
#include "net/tls_sni.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool allow_even(void *ctx, const char *name)
{
	(void)ctx;
	return strlen(name) % 2 == 0;
}

static void fuzz_dns(const uint8_t *q, size_t len)
{
	unsigned char out[1500];
	struct dns_names names = {0};
	struct dns_query_info info;
	size_t n = dns_answer(q, len, out, sizeof out, allow_even, NULL, &names, &info);
	if (n > sizeof out)
		abort();
	if (n > 0) {
		if (n < 12 || out[0] != q[0] || out[1] != q[1] || !(out[2] & 0x80))
			abort();
		unsigned ancount = (unsigned)out[6] << 8 | out[7];
		if (ancount > 0) {
			if (info.rcode != 0 || !allow_even(NULL, info.name) || names.n != 1)
				abort();
			struct sockaddr_in a = {.sin_family = AF_INET};
			memcpy(&a.sin_addr, out + n - 4, 4);
			const char *back = dns_names_lookup(&names, (struct sockaddr *)&a);
			if (!back || strcmp(back, info.name) != 0)
				abort();
		}
	}
	dns_names_free(&names);
}

static void fuzz_sni(const uint8_t *data, size_t len)
{
	char name[256], again[256];
	enum sni_status st = tls_sni_parse(data, len, name, sizeof name);
	if (tls_sni_parse(data, len, again, sizeof again) != st)
		abort();
	if (st != SNI_FOUND)
		return;
	size_t n = strnlen(name, sizeof name);
	if (n == 0 || n >= sizeof name || strcmp(name, again) != 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)name[i]) || !(isalnum((unsigned char)name[i]) ||
		                                         strchr("-._", name[i])))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 20000)
		return 0;
	if (data[0] & 1)
		fuzz_dns(data + 1, size - 1);
	else
		fuzz_sni(data + 1, size - 1);
	return 0;
}
