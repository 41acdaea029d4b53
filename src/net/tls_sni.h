/* The server name a TLS client asks for (SNI), read from its ClientHello
 * without terminating TLS: how the proxy knows where a transparent HTTPS
 * connection is headed. */
#ifndef CORRAL_NET_TLS_SNI_H
#define CORRAL_NET_TLS_SNI_H

#include <stddef.h>

enum sni_status {
	SNI_FOUND,      /* name[] holds the host name, lowercased */
	SNI_NEED_MORE,  /* a ClientHello so far, not complete yet */
	SNI_ABSENT,     /* a complete ClientHello without server_name */
	SNI_NOT_TLS,    /* not a TLS handshake at all */
};

/* Parse the start of a client's byte stream. Only the first record is
 * read; a ClientHello split over several records is not supported (no
 * mainstream client does it for the first flight) and reports SNI_ABSENT. */
enum sni_status tls_sni_parse(const unsigned char *data, size_t len, char *name, size_t size);

#endif
