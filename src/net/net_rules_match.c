/* Sets of --allow-net rules and the proxy's decisions over them. */
#include "net/net_rules.h"

#include "net/net_rules_internal.h"
#include "util/error.h"
#include "util/strings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct net_ruleset {
	struct net_rule *rules;
	size_t n, cap;
};

struct net_ruleset *net_ruleset_new(void)
{
	return calloc(1, sizeof(struct net_ruleset));
}

void net_ruleset_free(struct net_ruleset *set)
{
	if (!set)
		return;
	free(set->rules);
	free(set);
}

int net_ruleset_add(struct net_ruleset *set, const char *text, corral_error *err)
{
	struct net_rule rule;
	if (net_rule_parse(text, &rule, err) < 0)
		return -1;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct net_rule *grown = reallocarray(set->rules, cap, sizeof *grown);
		if (!grown)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--allow-net");
		set->rules = grown;
		set->cap = cap;
	}
	set->rules[set->n++] = rule;
	return 0;
}

size_t net_ruleset_count(const struct net_ruleset *set)
{
	return set ? set->n : 0;
}

const struct net_rule *net_ruleset_get(const struct net_ruleset *set, size_t i)
{
	return set && i < set->n ? &set->rules[i] : NULL;
}

size_t net_ruleset_ports(const struct net_ruleset *set, uint16_t *ports, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < net_ruleset_count(set) && n < max; i++) {
		uint16_t port = set->rules[i].port;
		bool seen = port == 0;
		for (size_t j = 0; j < n && !seen; j++)
			seen = ports[j] == port;
		if (!seen)
			ports[n++] = port;
	}
	return n;
}

/* ---- addresses ---------------------------------------------------------- */

struct address {
	int family;
	uint8_t b[16];
};

static bool address_of(const struct sockaddr *sa, struct address *a)
{
	memset(a, 0, sizeof *a);
	if (!sa)
		return false;
	unsigned prefix = 128;
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(a->b, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		a->family = AF_INET;
		return true;
	case AF_INET6:
		memcpy(a->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		a->family = AF_INET6;
		net_address_unmap(&a->family, a->b, &prefix);
		return true;
	default:
		return false;
	}
}

/* "10.0.0.5", "::1" or "[::1]". */
static bool literal_of(const char *host, struct address *a)
{
	size_t len = strlen(host);
	unsigned prefix = 128;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (!memchr(host, ':', len) || !net_address_parse(host + 1, len - 2, &a->family, a->b))
			return false;
	} else if (!net_address_parse(host, len, &a->family, a->b)) {
		return false;
	}
	net_address_unmap(&a->family, a->b, &prefix);
	return true;
}

static bool block_contains(int family, const uint8_t *net, unsigned prefix, const struct address *a)
{
	if (family != a->family)
		return false;
	unsigned whole = prefix / 8, rest = prefix % 8;
	if (memcmp(net, a->b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (net[whole] & mask) == (a->b[whole] & mask);
}

struct block {
	int family;
	uint8_t net[16];
	unsigned prefix;
};

/* Not globally reachable (IANA special-purpose registries), see the
 * header. */
static const struct block special[] = {
	{AF_INET, {0}, 8},              {AF_INET, {10}, 8},
	{AF_INET, {100, 64}, 10},       {AF_INET, {127}, 8},
	{AF_INET, {169, 254}, 16},      {AF_INET, {172, 16}, 12},
	{AF_INET, {192, 0, 0}, 24},     {AF_INET, {192, 0, 2}, 24},
	{AF_INET, {192, 168}, 16},      {AF_INET, {198, 18}, 15},
	{AF_INET, {198, 51, 100}, 24},  {AF_INET, {203, 0, 113}, 24},
	{AF_INET, {224}, 4},            {AF_INET, {240}, 4},
	{AF_INET6, {0}, 96},            {AF_INET6, {0, 0x64, 0xff, 0x9b, 0, 1}, 48},
	{AF_INET6, {1, 0}, 64},         {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32},
	{AF_INET6, {0xfc}, 7},          {AF_INET6, {0xfe, 0x80}, 10},
	{AF_INET6, {0xfe, 0xc0}, 10},   {AF_INET6, {0xff}, 8},
};

/* The prefix length of the special block holding `a`, or -1. IPv4 inside
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16) is classified as IPv4, its
 * block then being that much longer. */
static int special_prefix(const struct address *a)
{
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
		if (block_contains(special[i].family, special[i].net, special[i].prefix, a))
			return (int)special[i].prefix;
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	struct address inner = {.family = AF_INET};
	int outer = -1;
	if (a->family == AF_INET6 && memcmp(a->b, nat64, sizeof nat64) == 0) {
		memcpy(inner.b, a->b + 12, 4);
		outer = 96;
	} else if (a->family == AF_INET6 && a->b[0] == 0x20 && a->b[1] == 0x02) {
		memcpy(inner.b, a->b + 2, 4);
		outer = 16;
	}
	int p = outer < 0 ? -1 : special_prefix(&inner);
	return p < 0 ? -1 : outer + p;
}

bool net_rules_address_is_private(const struct sockaddr *addr)
{
	struct address a;
	return !address_of(addr, &a) || special_prefix(&a) >= 0;
}

static bool port_ok(const struct net_rule *r, uint16_t port)
{
	return r->port == 0 || r->port == port;
}

static bool allow_literal(const struct net_ruleset *set, const struct address *a, uint16_t port,
                          const struct net_rule **matched)
{
	for (size_t i = 0; i < net_ruleset_count(set); i++) {
		const struct net_rule *r = &set->rules[i];
		if (r->kind == NET_RULE_ADDRESS && port_ok(r, port) &&
		    block_contains(r->family, r->addr, r->prefix, a)) {
			*matched = r;
			return true;
		}
	}
	return false;
}

bool net_rules_allow_address(const struct net_ruleset *set, const struct sockaddr *addr,
                             uint16_t port, const struct net_rule **matched)
{
	const struct net_rule *dummy = NULL;
	matched = matched ? matched : &dummy;
	*matched = NULL;
	struct address a;
	return address_of(addr, &a) && allow_literal(set, &a, port, matched);
}

bool net_rules_names_address(const struct net_ruleset *set, const struct sockaddr *addr)
{
	struct address a;
	if (!address_of(addr, &a))
		return false;
	int width = special_prefix(&a);
	for (size_t i = 0; i < net_ruleset_count(set); i++) {
		const struct net_rule *r = &set->rules[i];
		if (r->kind == NET_RULE_ADDRESS && (int)r->prefix >= width &&
		    block_contains(r->family, r->addr, r->prefix, &a))
			return true;
	}
	return false;
}

/* ---- names and requests ------------------------------------------------- */

static bool is_subdomain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	return n > d + 1 && name[n - d - 1] == '.' && strcmp(name + n - d, domain) == 0;
}

static bool name_matches(const struct net_rule *r, const char *name)
{
	if (r->kind == NET_RULE_SUBDOMAINS)
		return is_subdomain(name, r->host);
	return (r->kind == NET_RULE_HOST || r->kind == NET_RULE_REQUEST) &&
	       strcmp(name, r->host) == 0;
}

static bool request_matches(const struct net_rule *r, const char *method, const char *scheme,
                            const char *path, size_t path_len)
{
	if (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0)
		return false;
	if (strcasecmp(r->scheme, scheme) != 0)
		return false;
	size_t n = strlen(r->path);
	if (r->path_prefix)
		return path_len >= n && memcmp(path, r->path, n) == 0;
	return path_len == n && memcmp(path, r->path, n) == 0;
}

/* The common walk: HOST and SUBDOMAINS rules for the name and port, and
 * REQUEST rules when a request is given (method, scheme and path). */
static bool allow(const struct net_ruleset *set, const char *host, uint16_t port,
                  const char *method, const char *scheme, const char *path,
                  const struct net_rule **matched)
{
	const struct net_rule *dummy = NULL;
	matched = matched ? matched : &dummy;
	*matched = NULL;
	if (!set || !host)
		return false;
	struct address a;
	if (literal_of(host, &a))
		return allow_literal(set, &a, port, matched);
	char name[NET_RULE_HOST_MAX + 1];
	if (net_host_normalize(host, strlen(host), name))
		return false;
	size_t path_len = 0;
	bool request = method && scheme && path;
	if (request) {
		path_len = strcspn(path, "?#");
		request = !net_path_unsafe(path, path_len);
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct net_rule *r = &set->rules[i];
		if (!port_ok(r, port) || !name_matches(r, name))
			continue;
		if (r->kind == NET_RULE_REQUEST &&
		    !(request && request_matches(r, method, scheme, path, path_len)))
			continue;
		*matched = r;
		return true;
	}
	return false;
}

bool net_rules_allow_host(const struct net_ruleset *set, const char *host, uint16_t port,
                          const struct net_rule **matched)
{
	return allow(set, host, port, NULL, NULL, NULL, matched);
}

bool net_rules_allow_request(const struct net_ruleset *set, const char *method,
                             const char *scheme, const char *host, uint16_t port,
                             const char *path, const struct net_rule **matched)
{
	return allow(set, host, port, method, scheme, path, matched);
}

bool net_rules_allow_name(const struct net_ruleset *set, const char *name)
{
	char norm[NET_RULE_HOST_MAX + 1];
	if (!name || net_host_normalize(name, strlen(name), norm))
		return false;
	for (size_t i = 0; i < net_ruleset_count(set); i++)
		if (name_matches(&set->rules[i], norm))
			return true;
	return false;
}

bool net_rules_has_requests(const struct net_ruleset *set, const char *host, uint16_t port)
{
	char norm[NET_RULE_HOST_MAX + 1];
	if (!host || net_host_normalize(host, strlen(host), norm))
		return false;
	for (size_t i = 0; i < net_ruleset_count(set); i++) {
		const struct net_rule *r = &set->rules[i];
		if (r->kind == NET_RULE_REQUEST && r->port == port && strcmp(r->host, norm) == 0)
			return true;
	}
	return false;
}

/* ---- suggestions -------------------------------------------------------- */

/* Whether METHOD and the path (query dropped) can be written as the exact
 * request rule, inside single quotes. */
static bool request_writable(const char *method, const char *path, size_t path_len)
{
	size_t m = strlen(method);
	if (m == 0 || m >= NET_RULE_METHOD_MAX || path_len >= NET_RULE_PATH_MAX)
		return false;
	for (size_t i = 0; i < m; i++)
		if (!ascii_upper((unsigned char)method[i]))
			return false;
	for (size_t i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (!ascii_alnum(c) && !strchr("-._~%!$&()+,;=:@/", c))
			return false;
	}
	return !net_path_unsafe(path, path_len);
}

const char *net_rules_suggest(const char *host, uint16_t port, const char *method,
                              const char *path, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	char name[NET_RULE_HOST_MAX + 3];
	struct address a;
	const char *bad = NULL;
	bool literal = host && literal_of(host, &a);
	if (literal) {
		char text[INET6_ADDRSTRLEN] = "";
		inet_ntop(a.family, a.b, text, sizeof text);
		string_set(name, sizeof name, a.family == AF_INET6 ? "[%s]" : "%s", text);
	} else if (!host || (bad = net_host_normalize(host, strlen(host), name))) {
		string_set(buf, size, "no rule can allow this host (%s)", host ? bad : "no host name");
		return buf;
	}
	char rule[NET_RULE_HOST_MAX + 32];
	if (port)
		string_set(rule, sizeof rule, "--allow-net %s:%u", name, port);
	else
		string_set(rule, sizeof rule, "--allow-net %s", name);
	size_t path_len = path ? strcspn(path, "?#") : 0;
	if (literal || !method || !path || (port != 80 && port != 443) ||
	    !request_writable(method, path, path_len)) {
		string_set(buf, size, "%s", rule);
		return buf;
	}
	string_set(buf, size, "%s (or only this request: --allow-net '%s %s://%s%.*s')", rule, method,
	           port == 443 ? "https" : "http", name, (int)path_len, path);
	return buf;
}
