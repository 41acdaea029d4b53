/* Decisions over --allow-net rules: names, wildcards, ports, addresses and
 * CIDR edges, IPv4-mapped IPv6, private classes, explicit naming, request
 * rules and suggestions. */
#include "net/net_rules.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static struct net_ruleset *set_of(const char *const *rules)
{
	struct net_ruleset *set = net_ruleset_new();
	for (; *rules; rules++) {
		corral_error err = {0};
		if (net_ruleset_add(set, *rules, &err) < 0) {
			fprintf(stderr, "%s\n", err.message);
			CHECK(!"rule refused");
		}
	}
	return set;
}

/* The text of the rule matched, or "-" when denied. */
static const char *matched_text(bool allowed, const struct net_rule *rule, char *buf)
{
	char *text = net_rule_format(rule);
	snprintf(buf, 200, "%s", allowed && text ? text : "-");
	free(text);
	return buf;
}

static struct sockaddr_storage sa_of(const char *text)
{
	struct sockaddr_storage sa;
	memset(&sa, 0, sizeof sa);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	else
		CHECK(!"bad address in test");
	return sa;
}

static void check_hosts(void)
{
	static const char *const rules[] = {
		"example.com", "*.example.org", "api.example.net:443", "*.svc.example.net:8443",
		"10.0.0.5:443", "192.168.0.0/16", "[::1]:8080", "fd00::/8",
		"GET https://paths.example/v1/*", NULL,
	};
	static const struct {
		const char *host;
		uint16_t port;
		const char *match;
	} cases[] = {
		{"example.com", 443, "example.com"},
		{"EXAMPLE.com.", 1, "example.com"},
		{"www.example.com", 443, "-"},
		{"badexample.com", 443, "-"},
		{"example.com.evil", 443, "-"},
		{"example.org", 443, "-"},
		{"a.example.org", 80, "*.example.org"},
		{"a.b.example.org", 80, "*.example.org"},
		{"A.Example.Org.", 80, "*.example.org"},
		{"aexample.org", 80, "-"},
		{".example.org", 80, "-"},
		{"a..example.org", 80, "-"},
		{"evil/.example.org", 80, "-"},
		{"api.example.net", 443, "api.example.net:443"},
		{"api.example.net", 80, "-"},
		{"x.svc.example.net", 8443, "*.svc.example.net:8443"},
		{"x.svc.example.net", 443, "-"},
		{"10.0.0.5", 443, "10.0.0.5:443"},
		{"10.0.0.5", 80, "-"},
		{"192.168.255.255", 1, "192.168.0.0/16"},
		{"192.169.0.0", 1, "-"},
		{"::ffff:10.0.0.5", 443, "10.0.0.5:443"},
		{"[::ffff:192.168.1.1]", 22, "192.168.0.0/16"},
		{"[::1]", 8080, "[::1]:8080"},
		{"::1", 8080, "[::1]:8080"},
		{"::1", 8081, "-"},
		{"fdff:ffff::1", 5, "fd00::/8"},
		{"fe00::1", 5, "-"},
		{"paths.example", 443, "-"},
		{"", 443, "-"},
		{"127.1", 80, "-"},
	};
	struct net_ruleset *set = set_of(rules);
	CHECK(net_ruleset_count(set) == 9);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct net_rule *m = (const struct net_rule *)1;
		bool ok = net_rules_allow_host(set, cases[i].host, cases[i].port, &m);
		char buf[200];
		const char *got = matched_text(ok, m, buf);
		CHECK(ok == (m != NULL));
		if (strcmp(got, cases[i].match) != 0) {
			fprintf(stderr, "host %s port %u: matched %s, expected %s\n", cases[i].host,
			        cases[i].port, got, cases[i].match);
			CHECK(!"host decision");
		}
	}
	CHECK(!net_rules_allow_host(NULL, "example.com", 443, NULL));
	CHECK(!net_rules_allow_host(set, NULL, 443, NULL));
	CHECK(net_rules_allow_host(set, "example.com", 443, NULL));

	CHECK(net_rules_allow_name(set, "example.com."));
	CHECK(net_rules_allow_name(set, "deep.a.example.org"));
	CHECK(net_rules_allow_name(set, "paths.example"));
	CHECK(net_rules_allow_name(set, "api.example.net"));
	CHECK(!net_rules_allow_name(set, "example.org"));
	CHECK(!net_rules_allow_name(set, "10.0.0.5"));
	CHECK(!net_rules_allow_name(NULL, "example.com"));
	CHECK(net_rules_has_requests(set, "Paths.Example", 443));
	CHECK(!net_rules_has_requests(set, "paths.example", 80));
	CHECK(!net_rules_has_requests(set, "example.com", 443));

	uint16_t ports[8];
	size_t n = net_ruleset_ports(set, ports, 8);
	CHECK(n == 3 && ports[0] == 443 && ports[1] == 8443 && ports[2] == 8080);
	CHECK(net_ruleset_ports(set, ports, 1) == 1);
	CHECK(net_ruleset_get(set, 0) && net_ruleset_get(set, 0)->kind == NET_RULE_HOST);
	CHECK(net_ruleset_get(set, 9) == NULL);

	struct sockaddr_storage sa = sa_of("192.168.3.4");
	const struct net_rule *m = NULL;
	CHECK(net_rules_allow_address(set, (struct sockaddr *)&sa, 1, &m) && m &&
	      m->kind == NET_RULE_ADDRESS && m->prefix == 16);
	sa = sa_of("::ffff:10.0.0.5");
	CHECK(net_rules_allow_address(set, (struct sockaddr *)&sa, 443, &m));
	CHECK(!net_rules_allow_address(set, (struct sockaddr *)&sa, 444, &m) && m == NULL);
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	CHECK(!net_rules_allow_address(set, &unix_sa, 443, NULL));
	net_ruleset_free(set);
	net_ruleset_free(NULL);
}

static void check_cidr_edges(void)
{
	static const char *const rules[] = {"10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10",
	                                    "192.0.2.128/25", "2001:db8:8000::/33", "::/0", NULL};
	static const struct {
		const char *addr;
		bool allowed;
	} cases[] = {
		{"10.0.0.0", true},       {"10.255.255.255", true},   {"9.255.255.255", false},
		{"11.0.0.0", false},      {"172.16.0.0", true},       {"172.31.255.255", true},
		{"172.15.255.255", false}, {"172.32.0.0", false},     {"100.64.0.0", true},
		{"100.127.255.255", true}, {"100.128.0.0", false},    {"100.63.255.255", false},
		{"192.0.2.128", true},    {"192.0.2.255", true},      {"192.0.2.127", false},
		{"2001:db8:8000::", true}, {"2001:db8:ffff:ffff::1", true},
		{"2001:db8:7fff::1", true /* ::/0 */},
		{"::ffff:172.16.0.1", true}, {"::ffff:8.8.8.8", false /* IPv4, not ::/0 */},
	};
	struct net_ruleset *set = set_of(rules);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sockaddr_storage sa = sa_of(cases[i].addr);
		if (net_rules_allow_address(set, (struct sockaddr *)&sa, 1, NULL) != cases[i].allowed) {
			fprintf(stderr, "address %s: expected %s\n", cases[i].addr,
			        cases[i].allowed ? "allowed" : "denied");
			CHECK(!"CIDR decision");
		}
	}
	net_ruleset_free(set);
}

static void check_private(void)
{
	static const struct {
		const char *addr;
		bool private;
	} cases[] = {
		{"0.0.0.0", true},          {"0.1.2.3", true},           {"10.1.2.3", true},
		{"100.64.0.1", true},       {"100.127.255.254", true},   {"100.128.0.1", false},
		{"127.0.0.1", true},        {"127.255.255.255", true},   {"169.254.169.254", true},
		{"169.254.0.1", true},      {"172.16.0.1", true},        {"172.32.0.1", false},
		{"192.168.1.1", true},      {"192.0.0.8", true},         {"192.0.2.1", true},
		{"198.18.0.1", true},       {"198.19.255.255", true},    {"198.20.0.1", false},
		{"224.0.0.1", true},        {"239.255.255.250", true},   {"240.0.0.1", true},
		{"255.255.255.255", true},  {"8.8.8.8", false},          {"1.1.1.1", false},
		{"93.184.216.34", false},   {"::", true},                {"::1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:169.254.169.254", true},
		{"::ffff:8.8.8.8", false},  {"::127.0.0.1", true},       {"fe80::1", true},
		{"febf::1", true},          {"fec0::1", true},           {"fc00::1", true},
		{"fd12:3456::1", true},     {"ff02::1", true},           {"2001:db8::1", true},
		{"100::1", true},           {"64:ff9b::a9fe:a9fe", true}, {"64:ff9b::808:808", false},
		{"64:ff9b:1::1", true},     {"2002:7f00:1::", true},     {"2002:808:808::", false},
		{"2606:4700::1111", false}, {"2001:4860:4860::8888", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sockaddr_storage sa = sa_of(cases[i].addr);
		if (net_rules_address_is_private((struct sockaddr *)&sa) != cases[i].private) {
			fprintf(stderr, "%s: expected %s\n", cases[i].addr,
			        cases[i].private ? "private" : "public");
			CHECK(!"private classification");
		}
	}
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	CHECK(net_rules_address_is_private(&unix_sa));
	CHECK(net_rules_address_is_private(NULL));

	static const char *const rules[] = {"127.0.0.1:8080", "10.0.0.0/8", "169.254.0.0/15",
	                                    "0.0.0.0/0", "::/0", "fd00::/8", "8.8.8.8/32", NULL};
	static const struct {
		const char *addr;
		bool named;
	} named[] = {
		{"127.0.0.1", true},        {"::ffff:127.0.0.1", true}, {"127.0.0.2", false},
		{"10.9.9.9", true},         {"169.254.169.254", false /* /15 is wider than /16 */},
		{"192.168.1.1", false /* only 0.0.0.0/0 */}, {"::1", false /* only ::/0 */},
		{"fd00::1", true},          {"fc00::1", false},         {"8.8.8.8", true},
		{"1.1.1.1", true /* public: 0.0.0.0/0 contains it */},
		{"64:ff9b::a00:1", false},
	};
	struct net_ruleset *set = set_of(rules);
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		struct sockaddr_storage sa = sa_of(named[i].addr);
		if (net_rules_names_address(set, (struct sockaddr *)&sa) != named[i].named) {
			fprintf(stderr, "names %s: expected %d\n", named[i].addr, named[i].named);
			CHECK(!"explicit naming");
		}
	}
	CHECK(!net_rules_names_address(set, &unix_sa));
	struct sockaddr_storage lo = sa_of("127.0.0.1");
	CHECK(!net_rules_names_address(NULL, (struct sockaddr *)&lo));
	net_ruleset_free(set);
}

static void check_requests(void)
{
	static const char *const rules[] = {
		"GET https://api.example.com/v1/*", "POST https://api.example.com/v1/chat",
		"* http://plain.example:8080/exact", "GET https://api.example.com/files*",
		"whole.example:443", NULL,
	};
	static const struct {
		const char *method, *scheme, *host;
		uint16_t port;
		const char *path;
		const char *match;
	} cases[] = {
		{"GET", "https", "api.example.com", 443, "/v1/models", "GET https://api.example.com/v1/*"},
		{"GET", "HTTPS", "API.example.com.", 443, "/v1/", "GET https://api.example.com/v1/*"},
		{"GET", "https", "api.example.com", 443, "/v1/m?x=/../y", "GET https://api.example.com/v1/*"},
		{"GET", "https", "api.example.com", 443, "/v1", "-"},
		{"GET", "https", "api.example.com", 443, "/v2/x", "-"},
		{"get", "https", "api.example.com", 443, "/v1/x", "-"},
		{"PUT", "https", "api.example.com", 443, "/v1/x", "-"},
		{"GET", "http", "api.example.com", 443, "/v1/x", "-"},
		{"GET", "https", "api.example.com", 8443, "/v1/x", "-"},
		{"GET", "https", "x.api.example.com", 443, "/v1/x", "-"},
		{"POST", "https", "api.example.com", 443, "/v1/chat", "POST https://api.example.com/v1/chat"},
		{"POST", "https", "api.example.com", 443, "/v1/chat?stream=1",
		 "POST https://api.example.com/v1/chat"},
		{"POST", "https", "api.example.com", 443, "/v1/chat/", "-"},
		{"POST", "https", "api.example.com", 443, "/v1/chatx", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/../admin", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/%2e%2E/admin", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/.%2e/admin", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/..;/admin", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/.", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/a%2fb", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/a\\..\\b", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/a%zz", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/a b", "-"},
		{"GET", "https", "api.example.com", 443, "v1/x", "-"},
		{"GET", "https", "api.example.com", 443, "/v1/...", "GET https://api.example.com/v1/*"},
		{"GET", "https", "api.example.com", 443, "/filesystem", "GET https://api.example.com/files*"},
		{"DELETE", "http", "plain.example", 8080, "/exact", "* http://plain.example:8080/exact"},
		{"DELETE", "http", "plain.example", 80, "/exact", "-"},
		{"GET", "https", "whole.example", 443, "/../anything", "whole.example:443"},
		{"GET", "https", "10.0.0.1", 443, "/v1/x", "-"},
	};
	struct net_ruleset *set = set_of(rules);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct net_rule *m = NULL;
		bool ok = net_rules_allow_request(set, cases[i].method, cases[i].scheme, cases[i].host,
		                                  cases[i].port, cases[i].path, &m);
		char buf[200];
		const char *got = matched_text(ok, m, buf);
		if (strcmp(got, cases[i].match) != 0) {
			fprintf(stderr, "%s %s://%s:%u%s: matched %s, expected %s\n", cases[i].method,
			        cases[i].scheme, cases[i].host, cases[i].port, cases[i].path, got,
			        cases[i].match);
			CHECK(!"request decision");
		}
	}
	/* A host with path rules only is not allowed as a whole. */
	CHECK(!net_rules_allow_host(set, "api.example.com", 443, NULL));
	CHECK(net_rules_allow_host(set, "whole.example", 443, NULL));
	CHECK(!net_rules_allow_request(set, NULL, "https", "api.example.com", 443, "/v1/x", NULL));
	CHECK(!net_rules_allow_request(set, "GET", NULL, "api.example.com", 443, "/v1/x", NULL));
	CHECK(net_rules_allow_request(set, NULL, NULL, "whole.example", 443, NULL, NULL));
	net_ruleset_free(set);
}

static void check_suggest(void)
{
	static const struct {
		const char *host;
		uint16_t port;
		const char *method, *path, *expected;
	} cases[] = {
		{"Example.com.", 443, NULL, NULL, "--allow-net example.com:443"},
		{"example.com", 0, NULL, NULL, "--allow-net example.com"},
		{"10.0.0.5", 22, NULL, NULL, "--allow-net 10.0.0.5:22"},
		{"[::1]", 8080, "GET", "/x", "--allow-net [::1]:8080"},
		{"::ffff:127.0.0.1", 80, NULL, NULL, "--allow-net 127.0.0.1:80"},
		{"api.example.com", 443, "GET", "/v1/models?x=1",
		 "--allow-net api.example.com:443 (or only this request: --allow-net "
		 "'GET https://api.example.com/v1/models')"},
		{"example.com", 80, "POST", "/form",
		 "--allow-net example.com:80 (or only this request: --allow-net "
		 "'POST http://example.com/form')"},
		{"example.com", 8080, "GET", "/x", "--allow-net example.com:8080"},
		{"example.com", 443, "GET", "/a/../b", "--allow-net example.com:443"},
		{"example.com", 443, "GET", "/it's", "--allow-net example.com:443"},
		{"example.com", 443, "get", "/x", "--allow-net example.com:443"},
		{"exa mple.com", 443, NULL, NULL, "no rule can allow this host (invalid host name)"},
		{NULL, 443, NULL, NULL, "no rule can allow this host (no host name)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[300];
		const char *got = net_rules_suggest(cases[i].host, cases[i].port, cases[i].method,
		                                    cases[i].path, buf, sizeof buf);
		if (got != buf || strcmp(buf, cases[i].expected) != 0) {
			fprintf(stderr, "suggest: \"%s\", expected \"%s\"\n", buf, cases[i].expected);
			CHECK(!"suggestion");
		}
	}
	char longest[260], buf[300], expected[300];
	for (size_t i = 0; i < 253; i++)
		longest[i] = i % 2 ? '.' : 'a';
	longest[253] = '\0';
	snprintf(expected, sizeof expected, "--allow-net %s:65535", longest);
	net_rules_suggest(longest, 65535, NULL, NULL, buf, sizeof buf);
	CHECK(strcmp(buf, expected) == 0);
	char small[12];
	net_rules_suggest("example.com", 443, NULL, NULL, small, sizeof small);
	CHECK(strcmp(small, "--allow-net") == 0);
	/* Each suggestion's rules are accepted and allow what was denied. */
	struct net_ruleset *set = set_of((const char *const[]){"example.com:443", NULL});
	CHECK(net_rules_allow_host(set, "Example.com.", 443, NULL));
	net_ruleset_free(set);
	struct net_rule r;
	CHECK(net_rule_parse("GET https://api.example.com/v1/models", &r, NULL) == 0);
}


int main(void)
{
	check_hosts();
	check_cidr_edges();
	check_private();
	check_requests();
	check_suggest();
	return unit_done();
}
