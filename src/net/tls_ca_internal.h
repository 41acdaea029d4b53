/* Shared state of the CA on disk (tls_ca.c) and the leaves and TLS
 * contexts made from it (tls_ca_leaf.c). */
#ifndef CORRAL_NET_TLS_CA_INTERNAL_H
#define CORRAL_NET_TLS_CA_INTERNAL_H

#include "net/tls_ca.h"

#include <limits.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define TLS_CA_NAME_MAX 254      /* a host name (253) or address literal, and its NUL */

struct tls_leaf {
	char name[TLS_CA_NAME_MAX];  /* lowercase; "" when the slot is free */
	X509 *cert;
	time_t refresh_at;           /* mint anew from then on */
	uint64_t used;               /* tick of the last use, for LRU eviction */
};

struct tls_ca {
	atomic_int refs;             /* the owner's, plus one per server context */
	char pem_path[PATH_MAX];
	X509 *cert;
	EVP_PKEY *key;
	EVP_PKEY *leaf_key;          /* in memory only, shared by every leaf */
	pthread_mutex_t lock;        /* the cache below */
	uint64_t tick;
	struct tls_leaf cache[TLS_CA_LEAF_CACHE_MAX];
};

void tls_ca_ref(struct tls_ca *ca);
/* Free the cached leaves (tls_ca_free, with no other reference left). */
void tls_ca_cache_clear(struct tls_ca *ca);

/* Fill err with "MESSAGE: <OpenSSL's reason>" and clear OpenSSL's error
 * queue; returns -1. */
int tls_ca_ssl_error(corral_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fresh ECDSA P-256 key. */
EVP_PKEY *tls_ca_p256_key(void);
/* A v3 certificate for `pub` with a random positive 128-bit serial, valid
 * from an hour ago for `days` days; issuer name and extensions still to
 * set. NULL on failure. */
X509 *tls_ca_cert_new(const X509_NAME *subject, EVP_PKEY *pub, int days);
/* Add one extension in OpenSSL's config syntax ("critical,CA:TRUE"), with
 * `issuer` for the authority key identifier. */
int tls_ca_cert_ext(X509 *x, X509 *issuer, int nid, const char *value);

#endif
