/*
 * TLS interception (--intercept): corral's own certificate authority and
 * the OpenSSL contexts of both sides of an intercepted connection.
 *
 * The CA is created once per installation, on first use, in STATE_DIR/ca/
 * (ca.pem, ca.key; directory 0700, key 0600): an ECDSA P-256 key and a
 * self-signed certificate valid for 10 years, limited to signing leaves
 * (CA:TRUE, pathlen:0). The whole directory is built under a temporary name
 * and renamed into place, so processes racing on first use end with one CA.
 *
 * Toward the sandbox the proxy is a TLS server (tls_ca_server_ctx) that
 * presents a leaf certificate for the name the client asked for (SNI), or
 * for the name or address the caller set (tls_ca_set_target), minted on
 * demand and cached. Toward the real server it is a TLS client
 * (tls_ca_client_ctx) that verifies the server's certificate and name
 * against the host's trust store. Both sides offer TLS 1.2+ and ALPN
 * http/1.1 only: the proxy reads HTTP/1.1 inside.
 *
 * A tls_ca may be shared by the proxy threads of several sandboxes: its
 * leaf cache is locked, and the server contexts made from it keep it alive
 * until they are freed (SSL_CTX_free), whatever the order of the frees.
 */
#ifndef CORRAL_NET_TLS_CA_H
#define CORRAL_NET_TLS_CA_H

#include "corral.h"

#include <openssl/ssl.h>
#include <stddef.h>

/* Where the system's CA bundle is read from (Debian), and where the
 * sandbox's bundle is bound, so the usual clients trust corral's CA. */
#define TLS_CA_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

#define TLS_CA_LEAF_CACHE_MAX 1024

struct tls_ca;

/* corral's state directory: /var/lib/corral for root, else
 * $XDG_STATE_HOME/corral (when absolute) or $HOME/.local/state/corral.
 * Nothing is created. */
int tls_ca_default_state_dir(char *buf, size_t size, corral_error *err);

/* Load the CA in STATE_DIR/ca/, or create it (and STATE_DIR, 0700) when
 * there is none. A CA found there must be intact: key and certificate
 * readable and matching, a CA, within its validity, the key owned by the
 * caller with no access for group or others; otherwise this fails with a
 * message naming the file. NULL on failure. */
struct tls_ca *tls_ca_load_or_create(const char *state_dir, corral_error *err);
/* Drop the caller's reference (NULL is fine). */
void tls_ca_free(struct tls_ca *ca);

/* STATE_DIR/ca/ca.pem: the CA certificate alone, PEM. */
const char *tls_ca_pem_path(const struct tls_ca *ca);

/* Write the system bundle (TLS_CA_SYSTEM_BUNDLE; none is fine) followed by
 * corral's CA to `path`, mode 0644, replacing it atomically: the file to
 * bind at /etc/ssl/certs/ca-certificates.crt in the sandbox. */
int tls_ca_write_bundle(const struct tls_ca *ca, const char *path, corral_error *err);

/* A leaf certificate for `name` (a host name, or an IPv4/IPv6 address
 * literal), from the cache or minted now: SAN DNS:name or IP:name,
 * serverAuth, valid from an hour ago for 7 days, signed by the CA. The
 * caller owns the returned reference (X509_free). NULL on failure. */
X509 *tls_ca_leaf(struct tls_ca *ca, const char *name, corral_error *err);

/* The sandbox-facing TLS server context: TLS 1.2+, ALPN http/1.1, no
 * session resumption, the leaf chosen per handshake: for the client's SNI,
 * else for the connection's target (tls_ca_set_target); with neither the
 * handshake fails (unrecognized_name). The caller owns the context
 * (SSL_CTX_free). NULL on failure. */
SSL_CTX *tls_ca_server_ctx(struct tls_ca *ca, corral_error *err);
/* The name or address to mint for when the client sends no SNI (clients
 * send none for address literals): the destination the proxy decided on.
 * Call before the handshake. -1 with errno (EINVAL: not a host name or
 * address, ENOMEM). */
int tls_ca_set_target(SSL *ssl, const char *host);

/* The upstream-facing TLS client context: TLS 1.2+, ALPN http/1.1, peer
 * verification against the host's default trust store plus
 * `extra_ca_file` (--net-ca; PEM, may be NULL). The caller owns the
 * context (SSL_CTX_free). NULL on failure. */
SSL_CTX *tls_ca_client_ctx(const char *extra_ca_file, corral_error *err);
/* Once per upstream connection, before its handshake: the certificate
 * must be for `host` (a name: also sent as SNI; an address literal:
 * matched against the certificate's IP SANs, no SNI). -1 with errno
 * (EINVAL, ENOMEM). After a failed handshake, SSL_get_verify_result() and
 * X509_verify_cert_error_string() say why. */
int tls_ca_client_prepare(SSL *ssl, const char *host);

#endif
