/*
 * Certificates (the CA's and the leaves minted from it) and the TLS
 * contexts of both sides of an intercepted connection (see tls_ca.h).
 */
#include "net/tls_ca_internal.h"

#include "util/error.h"
#include "util/lazylib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAF_DAYS 7
#define LEAF_REFRESH_S (6 * 24 * 3600)   /* re-mint a day before expiry */

static const unsigned char alpn_http11[] = "\x08http/1.1";

int tls_ca_ssl_error(corral_error *err, const char *fmt, ...)
{
	char what[CORRAL_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return error_set(err, CORRAL_ERR_SETUP, 0, "%s: %s", what, reason ? reason : "OpenSSL failed");
}

EVP_PKEY *tls_ca_p256_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

X509 *tls_ca_cert_new(const X509_NAME *subject, EVP_PKEY *pub, int days)
{
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	X509 *x = X509_new(), *result = NULL;
	if (!x || RAND_bytes(serial, sizeof serial) != 1)
		goto cleanup;
	serial[0] &= 0x7f;   /* DER integers are signed: keep it positive */
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (!sn || !X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, subject) || !X509_set_pubkey(x, pub) ||
	    /* an hour back: clocks of the sandbox's peers may lag behind ours */
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		goto cleanup;
	result = x;
	x = NULL;
cleanup:
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_free(x);
	return result;
}

int tls_ca_cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* ex_data slots: a server context's tls_ca (one reference, dropped when
 * the context is freed) and a connection's target name (freed with it). */
static pthread_once_t indices_once = PTHREAD_ONCE_INIT;
static int ctx_ca_index = -1;
static int ssl_target_index = -1;

static void free_ctx_ca(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	tls_ca_free(ptr);
}

static void free_ssl_target(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

static void make_indices(void)
{
	ctx_ca_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ctx_ca);
	ssl_target_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_ssl_target);
}

static int indices(void)
{
	pthread_once(&indices_once, make_indices);
	return ctx_ca_index >= 0 && ssl_target_index >= 0 ? 0 : -1;
}

/* in → out: an IPv4/IPv6 literal in canonical form (*ip), or a host name
 * lowercased without its trailing dot: LDH labels (and '_', which real
 * names use) of 1-63 bytes, at most 253 in all. No wildcard is ever
 * minted. -1 (EINVAL) for anything else. */
static int normalize(const char *in, char out[TLS_CA_NAME_MAX], bool *ip)
{
	unsigned char addr[16];
	int family = strchr(in, ':') ? AF_INET6 : AF_INET;
	*ip = inet_pton(family, in, addr) == 1;
	if (*ip)
		return inet_ntop(family, addr, out, TLS_CA_NAME_MAX) ? 0 : -1;
	size_t len = strnlen(in, TLS_CA_NAME_MAX);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return errno = EINVAL, -1;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return errno = EINVAL, -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return errno = EINVAL, -1;
		} else {
			return errno = EINVAL, -1;
		}
		out[i] = c;
	}
	if (label == 0)
		return errno = EINVAL, -1;
	out[len] = '\0';
	return 0;
}

static X509 *mint(struct tls_ca *ca, const char *name, bool ip)
{
	char san[TLS_CA_NAME_MAX + 8];
	X509 *x = NULL;
	X509_NAME *subject = X509_NAME_new();
	snprintf(san, sizeof san, "%s:%s", ip ? "IP" : "DNS", name);
	/* Clients match the SAN; the CN is for people, and has 64 bytes at most. */
	if (!subject ||
	    (strlen(name) <= 64 &&
	     !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name,
	                                 -1, -1, 0)) ||
	    !(x = tls_ca_cert_new(subject, ca->leaf_key, LEAF_DAYS)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    /* never outlive the CA */
	    (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
	     !X509_set1_notAfter(x, X509_get0_notAfter(ca->cert))) ||
	    tls_ca_cert_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_ca_cert_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    tls_ca_cert_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    tls_ca_cert_ext(x, ca->cert, NID_subject_alt_name, san) < 0 ||
	    tls_ca_cert_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    tls_ca_cert_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(subject);
	return x;
}

X509 *tls_ca_leaf(struct tls_ca *ca, const char *name, corral_error *err)
{
	char key[TLS_CA_NAME_MAX];
	bool ip;
	if (normalize(name, key, &ip) < 0) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "leaf certificate for \"%.260s\": not a host name or address", name);
		return NULL;
	}
	time_t now = time(NULL);
	X509 *cert = NULL;
	struct tls_leaf *slot = NULL, *oldest = &ca->cache[0];
	pthread_mutex_lock(&ca->lock);
	for (size_t i = 0; i < TLS_CA_LEAF_CACHE_MAX && !slot; i++) {
		struct tls_leaf *e = &ca->cache[i];
		if (strcmp(e->name, key) == 0)
			slot = e;
		else if (e->used < oldest->used)
			oldest = e;   /* free slots have used == 0: taken first */
	}
	if (slot && now < slot->refresh_at) {
		cert = slot->cert;
	} else {
		/* Minted under the lock: one certificate per name, even when many
		 * connections ask at once; a mint takes well under a millisecond. */
		if (!slot)
			slot = oldest;
		X509_free(slot->cert);
		slot->cert = NULL;
		slot->name[0] = '\0';
		slot->used = 0;
		if ((cert = mint(ca, key, ip))) {
			memcpy(slot->name, key, sizeof slot->name);
			slot->cert = cert;
			slot->refresh_at = now + LEAF_REFRESH_S;
		}
	}
	if (cert) {
		slot->used = ++ca->tick;
		X509_up_ref(cert);
	}
	pthread_mutex_unlock(&ca->lock);
	if (!cert)
		tls_ca_ssl_error(err, "leaf certificate for %s", key);
	return cert;
}

void tls_ca_cache_clear(struct tls_ca *ca)
{
	for (size_t i = 0; i < TLS_CA_LEAF_CACHE_MAX; i++) {
		X509_free(ca->cache[i].cert);
		ca->cache[i].cert = NULL;
	}
}

/* The client's SNI, else the caller's target: that name's leaf. Called for
 * every ClientHello, with or without SNI, before the certificate is chosen. */
static int choose_leaf(SSL *ssl, int *alert, void *arg)
{
	(void)arg;
	struct tls_ca *ca = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ca_index);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (!name)
		name = SSL_get_ex_data(ssl, ssl_target_index);
	if (!ca || !name) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	X509 *leaf = tls_ca_leaf(ca, name, NULL);
	if (!leaf) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	int ok = SSL_use_cert_and_key(ssl, leaf, ca->leaf_key, NULL, 1);
	X509_free(leaf);
	if (ok != 1) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* http/1.1 if the client offers it; else no ALPN at all, and a client
 * that insists on h2 gives up by itself. */
static int choose_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl, (void)arg;
	for (unsigned int i = 0; i < inlen; i += 1U + in[i]) {
		if (in[i] == alpn_http11[0] && i + 1U + in[i] <= inlen &&
		    memcmp(in + i + 1, alpn_http11 + 1, in[i]) == 0) {
			*out = in + i + 1;
			*outlen = in[i];
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *tls_ca_server_ctx(struct tls_ca *ca, corral_error *err)
{
	SSL_CTX *result = NULL, *ctx = NULL;
	if (indices() < 0 || !(ctx = SSL_CTX_new(TLS_server_method())) ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_num_tickets(ctx, 0)) {
		tls_ca_ssl_error(err, "TLS server context");
		goto cleanup;
	}
	/* Every connection a full handshake: no session state to share or
	 * bound, and the leaf is always chosen afresh. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	                         SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_tlsext_servername_callback(ctx, choose_leaf);
	SSL_CTX_set_alpn_select_cb(ctx, choose_alpn, NULL);
	if (!SSL_CTX_set_ex_data(ctx, ctx_ca_index, ca)) {
		tls_ca_ssl_error(err, "TLS server context");
		goto cleanup;
	}
	tls_ca_ref(ca);   /* dropped by free_ctx_ca */
	result = ctx;
	ctx = NULL;
cleanup:
	SSL_CTX_free(ctx);
	return result;
}

int tls_ca_set_target(SSL *ssl, const char *host)
{
	char name[TLS_CA_NAME_MAX];
	bool ip;
	if (indices() < 0)
		return errno = ENOMEM, -1;
	if (normalize(host, name, &ip) < 0)
		return errno = EINVAL, -1;
	char *copy = strdup(name);
	if (!copy)
		return -1;
	char *old = SSL_get_ex_data(ssl, ssl_target_index);
	if (!SSL_set_ex_data(ssl, ssl_target_index, copy)) {
		free(copy);
		return errno = ENOMEM, -1;
	}
	free(old);
	return 0;
}

SSL_CTX *tls_ca_client_ctx(const char *extra_ca_file, corral_error *err)
{
	SSL_CTX *result = NULL;
	if (lazy_openssl_load(err) < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_default_verify_paths(ctx) != 1 ||
	    /* 0 is success here */
	    SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof alpn_http11 - 1) != 0) {
		tls_ca_ssl_error(err, "TLS client context");
		goto cleanup;
	}
	if (extra_ca_file && SSL_CTX_load_verify_file(ctx, extra_ca_file) != 1) {
		/* A missing file is OpenSSL's "system lib": say what errno says. */
		FILE *f = fopen(extra_ca_file, "re");
		if (!f) {
			error_errno(err, "CA file %s", extra_ca_file);
			ERR_clear_error();
		} else {
			fclose(f);
			tls_ca_ssl_error(err, "CA file %s", extra_ca_file);
		}
		goto cleanup;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	result = ctx;
	ctx = NULL;
cleanup:
	SSL_CTX_free(ctx);
	return result;
}

int tls_ca_client_prepare(SSL *ssl, const char *host)
{
	char name[TLS_CA_NAME_MAX];
	bool ip;
	if (normalize(host, name, &ip) < 0)
		return errno = EINVAL, -1;
	/* SNI carries names only (RFC 6066); an address is checked as an IP SAN. */
	int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
	            : SSL_set_tlsext_host_name(ssl, name) && SSL_set1_host(ssl, name);
	if (ok != 1) {
		ERR_clear_error();
		return errno = ENOMEM, -1;
	}
	return 0;
}
