/* The --allow-net grammar: every form accepted and refused with its
 * message, the limits of names and paths, and the canonical text with its
 * round trip. The decisions are in test_net_rules_match.c. */
#include "net/net_rules.h"
#include "unit.h"

#include <string.h>

struct valid {
	const char *text;
	const char *canonical;
	enum net_rule_kind kind;
};

static const struct valid valid[] = {
	{"example.com", "example.com", NET_RULE_HOST},
	{"Example.COM.", "example.com", NET_RULE_HOST},
	{"localhost", "localhost", NET_RULE_HOST},
	{"xn--bcher-kva.example", "xn--bcher-kva.example", NET_RULE_HOST},
	{"a-b.c0.io", "a-b.c0.io", NET_RULE_HOST},
	{"1a.example", "1a.example", NET_RULE_HOST},
	{"example.com:443", "example.com:443", NET_RULE_HOST},
	{"example.com:1", "example.com:1", NET_RULE_HOST},
	{"example.com:65535", "example.com:65535", NET_RULE_HOST},
	{"example.com:0443", "example.com:443", NET_RULE_HOST},
	{"*.example.com", "*.example.com", NET_RULE_SUBDOMAINS},
	{"*.Example.com.:8443", "*.example.com:8443", NET_RULE_SUBDOMAINS},
	{"*.com", "*.com", NET_RULE_SUBDOMAINS},
	{"10.0.0.5", "10.0.0.5", NET_RULE_ADDRESS},
	{"10.0.0.5:443", "10.0.0.5:443", NET_RULE_ADDRESS},
	{"10.0.0.5/32", "10.0.0.5", NET_RULE_ADDRESS},
	{"10.0.0.0/8", "10.0.0.0/8", NET_RULE_ADDRESS},
	{"0.0.0.0/0", "0.0.0.0/0", NET_RULE_ADDRESS},
	{"169.254.169.254", "169.254.169.254", NET_RULE_ADDRESS},
	{"[::1]", "[::1]", NET_RULE_ADDRESS},
	{"::1", "[::1]", NET_RULE_ADDRESS},
	{"[::1]:443", "[::1]:443", NET_RULE_ADDRESS},
	{"[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]", NET_RULE_ADDRESS},
	{"fd00::/8", "fd00::/8", NET_RULE_ADDRESS},
	{"fd00::1234", "[fd00::1234]", NET_RULE_ADDRESS},
	{"2001:db8::1", "[2001:db8::1]", NET_RULE_ADDRESS},
	{"[::1:443]", "[::0.1.4.67]", NET_RULE_ADDRESS},
	{"::/0", "::/0", NET_RULE_ADDRESS},
	{"fe80::/10", "fe80::/10", NET_RULE_ADDRESS},
	{"2001:db8::1/128", "[2001:db8::1]", NET_RULE_ADDRESS},
	{"::ffff:10.0.0.1", "10.0.0.1", NET_RULE_ADDRESS},
	{"[::ffff:10.0.0.1]:80", "10.0.0.1:80", NET_RULE_ADDRESS},
	{"::ffff:10.0.0.0/104", "10.0.0.0/8", NET_RULE_ADDRESS},
	{"::ffff:0:0/96", "0.0.0.0/0", NET_RULE_ADDRESS},
	{"GET https://api.example.com/v1/*", "GET https://api.example.com/v1/*", NET_RULE_REQUEST},
	{"POST https://API.example.com:443/v1/chat", "POST https://api.example.com/v1/chat",
	 NET_RULE_REQUEST},
	{"* HTTP://example.com:8080/exact/path", "* http://example.com:8080/exact/path",
	 NET_RULE_REQUEST},
	{"GET http://example.com:80/", "GET http://example.com/", NET_RULE_REQUEST},
	{"GET https://example.com/*", "GET https://example.com/*", NET_RULE_REQUEST},
	{"M-SEARCH https://example.com/a_b~c/%41;x=1@:+,$!&'()*",
	 "M-SEARCH https://example.com/a_b~c/%41;x=1@:+,$!&'()*", NET_RULE_REQUEST},
	{"GET https://example.com/...", "GET https://example.com/...", NET_RULE_REQUEST},
};

struct invalid {
	const char *text;
	const char *why;
};

static const struct invalid invalid[] = {
	{"", "empty rule"},
	{"exa mple.com", "invalid host name"},
	{"exa_mple.com", "invalid host name"},
	{"*.", "a wildcard needs a domain"},
	{"*", "a wildcard needs a domain"},
	{"*example.com", "a wildcard needs a domain"},
	{"a.*.example.com", "'*' is allowed only as a leading"},
	{"*.*.example.com", "'*' is allowed only as a leading"},
	{"example..com", "empty label"},
	{".example.com", "empty label"},
	{"example.com..", "empty label"},
	{".", "empty host name"},
	{"-a.example", "begins or ends with '-'"},
	{"a-.example", "begins or ends with '-'"},
	{"b\xc3\xbc" "cher.example", "non-ASCII host name"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	 "label longer than 63"},
	{"127.1", "invalid IPv4 address"},
	{"10.0.0.256", "invalid IPv4 address"},
	{"1.2.3.4.5", "invalid IPv4 address"},
	{"0x7f.1", "numeric label"},
	{"example.123", "numeric label"},
	{"example.com:", "missing port"},
	{"example.com:0", "port out of range"},
	{"example.com:65536", "port out of range"},
	{"example.com:99999999999999999999", "port out of range"},
	{"example.com:http", "invalid port"},
	{"example.com:-1", "invalid port"},
	{":443", "empty host name"},
	{"example.com:80:90", "invalid IPv6 address"},
	{"10.0.0.0/33", "prefix length out of range"},
	{"fd00::/129", "prefix length out of range"},
	{"10.0.0.0/", "missing prefix length"},
	{"10.0.0.0/x", "invalid prefix length"},
	{"10.0.0.0/-1", "invalid prefix length"},
	{"10.0.0.1/8", "bits set past the prefix length (the block is 10.0.0.0/8)"},
	{"fd00::1/8", "the block is fd00::/8"},
	{"10.0.0.0/8:443", "a CIDR block takes no port"},
	{"example.com/path", "a rule with a path is a request rule"},
	{"10.0.0/8", "invalid address before '/'"},
	{"[fd00::]/8", "without brackets"},
	{"[::1", "missing ']'"},
	{"[10.0.0.1]", "invalid IPv6 address"},
	{"[::1]x", "unexpected text after ']'"},
	{"[::1]:0", "port out of range"},
	{"fe80::1%eth0", "invalid IPv6 address"},
	{"::g", "invalid IPv6 address"},
	{"::1:443", "ambiguous IPv6 address: write [::1:443] for the address, or [::1]:443 with a port"},
	{"fe80::1:2", "ambiguous IPv6 address"},
	{"https://example.com/", "begins with a method"},
	{"get https://example.com/", "method must be uppercase"},
	{"G?T https://example.com/", "invalid method"},
	{"-GET https://example.com/", "invalid method"},
	{"VERYLONGMETHODNAME https://example.com/", "method longer than 15"},
	{" https://example.com/", "missing method"},
	{"GET  https://example.com/", "unexpected space"},
	{"GET https://example.com/ x", "unexpected space"},
	{"GET ftp://example.com/", "unsupported URL scheme"},
	{"GET https://example.com", "needs a path"},
	{"GET https://user@example.com/", "takes no user name"},
	{"GET https://*.example.com/", "names one host"},
	{"GET https://10.0.0.1/", "names a host, not an address"},
	{"GET https://[::1]/", "names a host, not an address"},
	{"GET https://exa_mple.com/", "invalid host name"},
	{"GET https://example.com:0/", "port out of range"},
	{"GET https://example.com:/", "missing port"},
	{"GET https://example.com/a?b=1", "not queries"},
	{"GET https://example.com/a#b", "no fragment"},
	{"GET https://example.com/a*b", "only at the end of the path"},
	{"GET https://example.com/a\"b", "invalid character in the path"},
	{"GET https://example.com/a\\b", "invalid character in the path"},
	{"GET https://example.com/a/../b", "segment"},
	{"GET https://example.com/a/./b", "segment"},
	{"GET https://example.com/a/..", "segment"},
	{"GET https://example.com/a/%2e%2E/b", "segment"},
	{"GET https://example.com/a/..;x/b", "segment"},
	{"GET https://example.com/a%2fb", "encoded slash"},
	{"GET https://example.com/a%5Cb", "encoded slash"},
	{"GET https://example.com/a%00", "encoded slash"},
	{"GET https://example.com/a%2", "bad percent escape"},
	{"GET https://example.com/a%zz", "bad percent escape"},
};

static void check_valid(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct net_rule r, back;
		corral_error err = {0};
		if (net_rule_parse(valid[i].text, &r, &err) < 0) {
			fprintf(stderr, "refused \"%s\": %s\n", valid[i].text, err.message);
			CHECK(!"valid rule refused");
			continue;
		}
		CHECK(r.kind == valid[i].kind);
		char *text = net_rule_format(&r);
		CHECK(text && strcmp(text, valid[i].canonical) == 0);
		if (text && strcmp(text, valid[i].canonical) != 0)
			fprintf(stderr, "\"%s\" formats as \"%s\"\n", valid[i].text, text);
		CHECK(text && net_rule_parse(text, &back, &err) == 0 && net_rule_equal(&r, &back));
		char *again = net_rule_format(&back);
		CHECK(text && again && strcmp(text, again) == 0);
		free(text);
		free(again);
		net_rule_clear(&r);
	}
}

static void check_invalid(void)
{
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		struct net_rule r;
		memset(&r, 0xa5, sizeof r);
		corral_error err = {0};
		if (net_rule_parse(invalid[i].text, &r, &err) == 0) {
			fprintf(stderr, "accepted \"%s\"\n", invalid[i].text);
			CHECK(!"invalid rule accepted");
			continue;
		}
		CHECK(err.kind == CORRAL_ERR_USAGE);
		CHECK(strncmp(err.message, "--allow-net \"", 13) == 0);
		CHECK(!strchr(err.message, '\n'));
		if (!strstr(err.message, invalid[i].why)) {
			fprintf(stderr, "\"%s\": message \"%s\", expected \"%s\"\n", invalid[i].text,
			        err.message, invalid[i].why);
			CHECK(!"unexpected message");
		}
		CHECK(r.kind == 0 && r.host[0] == '\0' && r.port == 0);
	}
	corral_error err = {0};
	struct net_rule r;
	CHECK(net_rule_parse("exa mple.com", &r, &err) < 0);
	CHECK(strcmp(err.message, "--allow-net \"exa mple.com\": invalid host name") == 0);
	CHECK(net_rule_parse("10.0.0.0/33", &r, &err) < 0);
	CHECK(strcmp(err.message, "--allow-net \"10.0.0.0/33\": prefix length out of range (0-32)") == 0);
	CHECK(net_rule_parse("a\nb\"c", &r, &err) < 0);
	CHECK(strcmp(err.message, "--allow-net \"a?b?c\": invalid host name") == 0);
	CHECK(net_rule_parse(NULL, &r, &err) < 0);
	/* Host names at their limits: 63-byte labels, 253 bytes in all. */
	char name[300];
	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	CHECK(net_rule_parse(name, &r, NULL) == 0);
	for (size_t i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	CHECK(net_rule_parse(name, &r, NULL) == 0 && strlen(r.host) == 253);
	strcpy(name + 253, ".");
	CHECK(net_rule_parse(name, &r, NULL) == 0 && strlen(r.host) == 253);
	strcpy(name + 253, "a");
	CHECK(net_rule_parse(name, &r, &err) < 0 && strstr(err.message, "longer than 253"));
	char path[1100] = "GET https://example.com/";
	memset(path + strlen(path), 'p', 1000);
	CHECK(net_rule_parse(path, &r, NULL) == 0);
	memset(path + strlen(path), 'p', 50);
	CHECK(net_rule_parse(path, &r, &err) < 0 && strstr(err.message, "path longer than"));
	char huge[3000];
	memset(huge, 'a', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	CHECK(net_rule_parse(huge, &r, &err) < 0 && strstr(err.message, "rule longer than 2048") &&
	      strstr(err.message, "...\""));
	CHECK(net_rule_format(NULL) == NULL);
}

int main(void)
{
	check_valid();
	check_invalid();
	return unit_done();
}
