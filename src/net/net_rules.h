/*
 * The --allow-net rule grammar and the egress proxy's decisions over a set
 * of rules. Pure: no sockets, no DNS; addresses are parsed with inet_pton.
 *
 *   example.com               the host itself, any port
 *   *.example.com             its subdomains at any depth, not the host itself
 *   example.com:443           ... at one port (also *.example.com:443)
 *   10.0.0.5  [::1]  ::1      one address, any port
 *   10.0.0.5:443  [::1]:443   one address at one port (IPv6 needs brackets)
 *   10.0.0.0/8  fd00::/8      a CIDR block, any port
 *   GET https://api.example.com/v1/chat*    requests (under interception):
 *   * http://example.com:8080/exact/path     a METHOD or *, http or https,
 *                                            a path prefix (final *) or an
 *                                            exact path
 *
 * Host names are RFC 1123 labels (letters, digits, inner hyphens; 1-63
 * bytes each, at most 253 in all), compared case-insensitively with a
 * trailing dot ignored; punycode (xn--) is a name like any other, raw UTF-8
 * is refused, and so is a name whose last label is numeric ("127.1"), which
 * resolvers read as an address. An IPv4-mapped IPv6 rule (::ffff:10.0.0.1)
 * is the IPv4 rule, and IPv4-mapped addresses are matched as IPv4 only (so
 * ::/0 does not cover them). A bare IPv6 address that could be read as
 * address:port ("::1:443") is refused as ambiguous.
 *
 * Request paths are matched byte for byte, without the query; a path with
 * "." or ".." segments (also percent-encoded, or before a ";"), an encoded
 * slash, backslash or NUL, or a backslash never matches a path rule, since
 * servers would read it as another path.
 */
#ifndef CORRAL_NET_NET_RULES_H
#define CORRAL_NET_NET_RULES_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_RULE_HOST_MAX 253   /* bytes of a host name */
#define NET_RULE_PATH_MAX 1024  /* bytes of a rule's path, NUL included */
#define NET_RULE_METHOD_MAX 16  /* bytes of a method, NUL included */
#define NET_RULE_TEXT_MAX 2048  /* bytes of a rule as written */

enum net_rule_kind {
	NET_RULE_HOST,        /* host[:port] */
	NET_RULE_SUBDOMAINS,  /* *.host[:port] */
	NET_RULE_ADDRESS,     /* address[:port] or address/prefix */
	NET_RULE_REQUEST,     /* METHOD scheme://host[:port]/path[*] */
};

/* A parsed rule; a plain value (copy it freely; net_rule_clear is all the
 * release it needs). Fields not used by a kind are zero. */
struct net_rule {
	enum net_rule_kind kind;
	char host[NET_RULE_HOST_MAX + 1];  /* lowercase, no trailing dot; the
	                                      domain of SUBDOMAINS */
	uint16_t port;                     /* 0: any; REQUEST: always set */
	int family;                        /* ADDRESS: AF_INET or AF_INET6 */
	uint8_t addr[16];                  /* ADDRESS: network order, bits past
	                                      the prefix zero */
	unsigned prefix;                   /* ADDRESS: 32 or 128 for one address */
	char method[NET_RULE_METHOD_MAX];  /* REQUEST: "GET"..., or "*" */
	char scheme[6];                    /* REQUEST: "http" or "https" */
	bool path_prefix;                  /* REQUEST: path written with a final * */
	char path[NET_RULE_PATH_MAX];      /* REQUEST: without that * */
};

/* Parse one rule. On error `out` is zeroed and err says, in one line, what
 * is wrong: `--allow-net "exa mple.com": invalid host name`. */
int net_rule_parse(const char *text, struct net_rule *out, corral_error *err);
void net_rule_clear(struct net_rule *rule);
bool net_rule_equal(const struct net_rule *a, const struct net_rule *b);
/* The canonical text (lowercase names, compressed IPv6, default ports
 * omitted from URLs), which parses back to an equal rule; malloc'd, NULL
 * for a NULL rule or on ENOMEM. */
char *net_rule_format(const struct net_rule *rule);

struct net_ruleset;

struct net_ruleset *net_ruleset_new(void);
void net_ruleset_free(struct net_ruleset *set);
/* Parse and append one rule (errors as net_rule_parse; ENOMEM). */
int net_ruleset_add(struct net_ruleset *set, const char *text, corral_error *err);
size_t net_ruleset_count(const struct net_ruleset *set);
const struct net_rule *net_ruleset_get(const struct net_ruleset *set, size_t i);
/* The distinct ports the rules name, in rule order, at most `max`; returns
 * how many were written. */
size_t net_ruleset_ports(const struct net_ruleset *set, uint16_t *ports, size_t max);

/*
 * Decisions. A NULL set allows nothing. Each returns whether the rules
 * allow the destination and sets *matched (if not NULL) to the first rule
 * that does, else to NULL.
 */

/* A connection to host:port, by name (HOST and SUBDOMAINS rules); a host
 * that is an address literal ("10.0.0.5", "::1", "[::1]") is decided by
 * net_rules_allow_address instead. Path rules never allow a whole host. */
bool net_rules_allow_host(const struct net_ruleset *set, const char *host, uint16_t port,
                          const struct net_rule **matched);
/* A connection to an address (ADDRESS rules); IPv4-mapped IPv6 addresses
 * are their IPv4 address. The port of `addr` is ignored. */
bool net_rules_allow_address(const struct net_ruleset *set, const struct sockaddr *addr,
                             uint16_t port, const struct net_rule **matched);
/* One HTTP request: what net_rules_allow_host allows, or a REQUEST rule
 * with this method, scheme (case-insensitive), host, port and path (with
 * or without its query). */
bool net_rules_allow_request(const struct net_ruleset *set, const char *method,
                             const char *scheme, const char *host, uint16_t port,
                             const char *path, const struct net_rule **matched);
/* Whether any rule may allow some connection to `name` (for the DNS
 * answers inside the sandbox): HOST, SUBDOMAINS or REQUEST rules, any
 * port, any path. */
bool net_rules_allow_name(const struct net_ruleset *set, const char *name);
/* Whether host:port has REQUEST rules, so that its connections must be
 * intercepted to be decided request by request. */
bool net_rules_has_requests(const struct net_ruleset *set, const char *host, uint16_t port);

/* Not globally reachable: unspecified and 0.0.0.0/8, loopback, RFC 1918,
 * CGNAT 100.64.0.0/10, link-local (169.254.0.0/16 with cloud metadata,
 * fe80::/10), multicast, 240.0.0.0/4 with broadcast, IETF and
 * documentation blocks (192.0.0.0/24, 192.0.2.0/24, 198.18.0.0/15,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 100::/64), unique-local
 * fc00::/7, site-local fec0::/10, ::/96, NAT64 64:ff9b:1::/48; and an IPv4
 * address of those classes carried in IPv4-mapped (::ffff:0:0/96), NAT64
 * (64:ff9b::/96) or 6to4 (2002::/16) form. Other families: true. */
bool net_rules_address_is_private(const struct sockaddr *addr);
/* Whether an ADDRESS rule names `addr` explicitly, as the proxy requires
 * before it connects to a private address: the rule contains the address
 * and is no wider than the class above that holds it (10.0.0.0/8 names
 * 10.1.2.3; 0.0.0.0/0 names no private address). Any port. */
bool net_rules_names_address(const struct net_ruleset *set, const struct sockaddr *addr);

/* The --allow-net option that would allow a denied connection, for the
 * proxy's 403 body: `--allow-net example.com:443`, and with a method and a
 * path on port 80 or 443 also the one request:
 * `--allow-net example.com:443 (or only this request: --allow-net 'GET
 * https://example.com/v1/x')`. For a host no rule can name, a sentence
 * saying so. Returns buf (truncated to size). */
const char *net_rules_suggest(const char *host, uint16_t port, const char *method,
                              const char *path, char *buf, size_t size);

#endif
