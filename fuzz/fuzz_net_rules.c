/*
 * Fuzz the --allow-net grammar and the decisions over rules
 * (src/net/net_rules.h).
 *
 * Properties, for any string:
 *  - net_rule_parse never crashes, is deterministic, and either accepts or
 *    leaves a zeroed rule and one line "--allow-net \"...\": why";
 *  - a parsed rule is well formed (lowercase host of at most 253 bytes,
 *    bits past an address prefix zero, a port on every request rule, none
 *    on a CIDR block), its canonical text parses back to an equal rule and
 *    formats to the same text again;
 *  - the rule allows what it names: its host (any case, trailing dot), a
 *    subdomain of a wildcard but not the domain itself, its address, its
 *    request; path rules never allow the whole host;
 *  - used as a host name against a fixed set, the decision is consistent
 *    with the suggestion: when the suggestion is a rule, that rule parses
 *    and allows the host;
 *  - used as a path, a path rule "/" prefix allows it only when it has no
 *    dot segment, encoded slash or backslash;
 *  - an address and its IPv4-mapped IPv6 form are classified and matched
 *    alike.
 */
#include "net/net_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096

static void fail(const char *what, const char *input, const char *detail)
{
	fprintf(stderr, "fuzz_net_rules: %s: input \"%s\"", what, input);
	if (detail)
		fprintf(stderr, ", %s", detail);
	fputc('\n', stderr);
	abort();
}

static struct net_ruleset *set_of(const char *text)
{
	struct net_ruleset *set = net_ruleset_new();
	if (!set || net_ruleset_add(set, text, NULL) < 0)
		abort();
	return set;
}

static void check_well_formed(const struct net_rule *r, const char *s)
{
	size_t n = strlen(r->host);
	if (n > NET_RULE_HOST_MAX || (n > 0 && r->host[n - 1] == '.'))
		fail("host too long or with a trailing dot", s, r->host);
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)r->host[i]))
			fail("host not lowercase", s, r->host);
	if (r->kind == NET_RULE_ADDRESS) {
		unsigned max = r->family == AF_INET ? 32 : 128;
		if ((r->family != AF_INET && r->family != AF_INET6) || r->prefix > max)
			fail("bad address family or prefix", s, NULL);
		for (unsigned b = r->prefix; b < 128; b++)
			if (r->addr[b / 8] & (0x80u >> (b % 8)))
				fail("bits set past the prefix", s, NULL);
		if (r->prefix < max && r->port)
			fail("a CIDR block with a port", s, NULL);
	}
	if (r->kind == NET_RULE_REQUEST && (r->port == 0 || r->path[0] != '/' || !r->method[0]))
		fail("request rule without port, path or method", s, NULL);
}

static void check_round_trip(const struct net_rule *r, const char *s)
{
	char *text = net_rule_format(r);
	if (!text)
		fail("format failed", s, NULL);
	struct net_rule back;
	corral_error err = {0};
	if (net_rule_parse(text, &back, &err) < 0)
		fail("canonical text refused", s, err.message);
	if (!net_rule_equal(r, &back))
		fail("canonical text parses to another rule", s, text);
	char *again = net_rule_format(&back);
	if (!again || strcmp(text, again) != 0)
		fail("canonical text not a fixed point", s, again);
	free(text);
	free(again);
}

static void check_allows_itself(const struct net_rule *r, const char *s)
{
	struct net_ruleset *set = set_of(s);
	uint16_t port = r->port ? r->port : 443;
	char name[NET_RULE_HOST_MAX + 8];
	const struct net_rule *m = NULL;
	switch (r->kind) {
	case NET_RULE_HOST:
		snprintf(name, sizeof name, "%s.", r->host);
		name[0] = (char)toupper((unsigned char)name[0]);
		if (!net_rules_allow_host(set, name, port, &m) || m != net_ruleset_get(set, 0))
			fail("host rule does not allow its host", s, name);
		if (!net_rules_allow_name(set, r->host))
			fail("host rule does not allow its name", s, NULL);
		snprintf(name, sizeof name, "a.%s", r->host);
		if (net_rules_allow_host(set, name, port, NULL))
			fail("host rule allows a subdomain", s, name);
		break;
	case NET_RULE_SUBDOMAINS:
		if (net_rules_allow_host(set, r->host, port, NULL))
			fail("wildcard allows its domain", s, NULL);
		snprintf(name, sizeof name, "a.%s", r->host);
		if (strlen(name) <= NET_RULE_HOST_MAX && !net_rules_allow_host(set, name, port, NULL))
			fail("wildcard does not allow a subdomain", s, name);
		break;
	case NET_RULE_ADDRESS: {
		struct sockaddr_storage sa = {0};
		if (r->family == AF_INET) {
			struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
			a4->sin_family = AF_INET;
			memcpy(&a4->sin_addr, r->addr, 4);
		} else {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
			a6->sin6_family = AF_INET6;
			memcpy(&a6->sin6_addr, r->addr, 16);
		}
		if (!net_rules_allow_address(set, (struct sockaddr *)&sa, port, NULL))
			fail("address rule does not allow its address", s, NULL);
		if (r->prefix == (r->family == AF_INET ? 32u : 128u)) {
			if (!net_rules_names_address(set, (struct sockaddr *)&sa))
				fail("address rule does not name its address", s, NULL);
			inet_ntop(r->family, r->addr, name, sizeof name);
			if (!net_rules_allow_host(set, name, port, NULL))
				fail("address rule does not allow its literal", s, name);
		}
		break;
	}
	case NET_RULE_REQUEST: {
		char path[NET_RULE_PATH_MAX + 8];
		snprintf(path, sizeof path, "%s%s", r->path, r->path_prefix ? "x?q" : "?q");
		const char *method = strcmp(r->method, "*") == 0 ? "GET" : r->method;
		if (!net_rules_allow_request(set, method, r->scheme, r->host, r->port, path, NULL))
			fail("request rule does not allow its request", s, path);
		if (net_rules_allow_host(set, r->host, r->port, NULL))
			fail("request rule allows the whole host", s, NULL);
		if (!net_rules_allow_name(set, r->host) || !net_rules_has_requests(set, r->host, r->port))
			fail("request rule not seen for its host", s, NULL);
		break;
	}
	}
	net_ruleset_free(set);
}

static bool path_looks_unsafe(const char *path)
{
	size_t n = strcspn(path, "?#");
	for (size_t i = 0; i < n; i++) {
		if (path[i] == '\\')
			return true;
		if (path[i] == '%' && i + 2 < n && path[i + 1] == '2' && (path[i + 2] | 0x20) == 'f')
			return true;
		if (path[i] == '/' && path[i + 1] == '.' &&
		    (i + 2 == n || path[i + 2] == '/' ||
		     (path[i + 2] == '.' && (i + 3 == n || path[i + 3] == '/'))))
			return true;
	}
	return false;
}

static void check_as_host_and_path(const char *s)
{
	static struct net_ruleset *fixed;
	if (!fixed) {
		static const char *const rules[] = {"example.com", "*.example.org:443", "10.0.0.0/8",
		                                    "[::1]:8080", "GET https://paths.example/*"};
		fixed = net_ruleset_new();
		for (size_t i = 0; fixed && i < sizeof rules / sizeof rules[0]; i++)
			if (net_ruleset_add(fixed, rules[i], NULL) < 0)
				abort();
	}
	const struct net_rule *m = (const struct net_rule *)1;
	bool allowed = net_rules_allow_host(fixed, s, 443, &m);
	if (allowed != (m != NULL))
		fail("matched rule inconsistent with the decision", s, NULL);
	(void)net_rules_allow_name(fixed, s);
	(void)net_rules_has_requests(fixed, s, 443);

	char buf[512];
	net_rules_suggest(s, 443, "GET", s, buf, sizeof buf);
	if (strncmp(buf, "--allow-net ", 12) == 0) {
		char rule[400];
		snprintf(rule, sizeof rule, "%.*s", (int)strcspn(buf + 12, " "), buf + 12);
		corral_error err = {0};
		struct net_ruleset *set = net_ruleset_new();
		if (!set || net_ruleset_add(set, rule, &err) < 0)
			fail("suggested rule refused", s, err.message);
		if (!net_rules_allow_host(set, s, 443, NULL))
			fail("suggested rule does not allow the host", s, rule);
		net_ruleset_free(set);
	}
	if (net_rules_allow_request(fixed, "GET", "https", "paths.example", 443, s, NULL) &&
	    path_looks_unsafe(s))
		fail("path rule allowed an ambiguous path", s, NULL);
}

static void check_address(const uint8_t *data, size_t size, const char *s)
{
	uint8_t raw[16] = {0};
	memcpy(raw, data, size < 16 ? size : 16);
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	memcpy(&a4.sin_addr, raw, 4);
	a6.sin6_addr.s6_addr[10] = 0xff;
	a6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&a6.sin6_addr.s6_addr[12], raw, 4);
	if (net_rules_address_is_private((struct sockaddr *)&a4) !=
	    net_rules_address_is_private((struct sockaddr *)&a6))
		fail("IPv4 and IPv4-mapped classified differently", s, NULL);
	struct net_ruleset *set = net_ruleset_new();
	if (!set)
		abort();
	if (net_ruleset_add(set, s, NULL) == 0) {
		uint16_t port = (uint16_t)(raw[4] << 8 | raw[5]);
		if (net_rules_allow_address(set, (struct sockaddr *)&a4, port, NULL) !=
		    net_rules_allow_address(set, (struct sockaddr *)&a6, port, NULL))
			fail("IPv4 and IPv4-mapped matched differently", s, NULL);
		if (net_rules_names_address(set, (struct sockaddr *)&a4) !=
		    net_rules_names_address(set, (struct sockaddr *)&a6))
			fail("IPv4 and IPv4-mapped named differently", s, NULL);
	}
	memcpy(&a6.sin6_addr, raw, 16);
	(void)net_rules_address_is_private((struct sockaddr *)&a6);
	(void)net_rules_names_address(set, (struct sockaddr *)&a6);
	net_ruleset_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return -1;
	char s[MAX_INPUT + 1];
	memcpy(s, data, size);
	s[size] = '\0';

	struct net_rule a, b;
	corral_error ea = {0}, eb = {0};
	int ra = net_rule_parse(s, &a, &ea);
	int rb = net_rule_parse(s, &b, &eb);
	if (ra != rb || (ra == 0 && !net_rule_equal(&a, &b)) ||
	    (ra < 0 && strcmp(ea.message, eb.message) != 0))
		fail("not deterministic", s, NULL);
	if (ra < 0) {
		if (strncmp(ea.message, "--allow-net \"", 13) != 0 || strchr(ea.message, '\n') ||
		    ea.kind != CORRAL_ERR_USAGE)
			fail("malformed error", s, ea.message);
		struct net_rule zero;
		memset(&zero, 0, sizeof zero);
		if (!net_rule_equal(&a, &zero))
			fail("refused rule not zeroed", s, NULL);
	} else {
		check_well_formed(&a, s);
		check_round_trip(&a, s);
		check_allows_itself(&a, s);
	}
	check_as_host_and_path(s);
	check_address(data, size, s);
	return 0;
}
