/* --allow-net rules: parsing, canonical text, equality. */
#include "net/net_rules.h"

#include "net/net_rules_internal.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A reason with its details ("prefix length out of range"). */
struct why {
	char text[160];
};

static bool fail(struct why *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct why *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof why->text, fmt, ap);
	va_end(ap);
	return false;
}

const char *net_host_normalize(const char *name, size_t len, char *out)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty host name";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] >= 0x80)
			return "non-ASCII host name (write its xn-- punycode form)";
	if (len > NET_RULE_HOST_MAX)
		return "host name longer than 253 bytes";
	size_t label = 0;
	bool numeric = true;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (i == label)
				return "empty label in host name";
			if (i - label > 63)
				return "host name label longer than 63 bytes";
			if (name[label] == '-' || name[i - 1] == '-')
				return "host name label begins or ends with '-'";
			label = i + 1;
			if (i < len) {
				out[i] = '.';
				numeric = true;
			}
			continue;
		}
		unsigned char c = (unsigned char)name[i];
		if (!ascii_alnum(c) && c != '-')
			return "invalid host name";
		numeric = numeric && isdigit(c);
		out[i] = (char)(ascii_upper(c) ? c + ('a' - 'A') : c);
	}
	out[len] = '\0';
	if (numeric)
		return "host name ends in a numeric label";
	return NULL;
}

bool net_address_parse(const char *s, size_t len, int *family, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

void net_address_unmap(int *family, uint8_t addr[16], unsigned *prefix)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (*family != AF_INET6 || *prefix < 96 || memcmp(addr, mapped, sizeof mapped) != 0)
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
	*prefix -= 96;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "." or ".." once decoded, up to a ";" (path parameters, which some
 * servers strip before normalizing). */
static bool dot_segment(const char *s, size_t n)
{
	size_t dots = 0, i = 0;
	while (i < n && s[i] != ';') {
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '%' && i + 2 < n && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
			i += 3;
		} else {
			return false;
		}
		dots++;
	}
	return dots == 1 || dots == 2;
}

const char *net_path_unsafe(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/')
		return "path does not begin with '/'";
	size_t segment = 1;
	for (size_t i = 1; i <= len; i++) {
		if (i == len || path[i] == '/') {
			if (dot_segment(path + segment, i - segment))
				return "path has a \".\" or \"..\" segment";
			segment = i + 1;
			continue;
		}
		unsigned char c = (unsigned char)path[i];
		if (c <= ' ' || c >= 0x7f)
			return "path has a byte outside printable ASCII";
		if (c == '\\')
			return "path has a backslash";
		if (c != '%')
			continue;
		int hi = i + 2 < len ? hex_value(path[i + 1]) : -1;
		int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
		if (lo < 0)
			return "path has a bad percent escape";
		int v = hi * 16 + lo;
		if (v == '/' || v == '\\' || v == 0)
			return "path has an encoded slash, backslash or NUL";
	}
	return NULL;
}

/* 1-65535, decimal. */
static bool parse_port(const char *s, size_t len, uint16_t *port, struct why *why)
{
	if (len == 0)
		return fail(why, "missing port after ':'");
	unsigned long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return fail(why, "invalid port");
		if (v <= 65535)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return fail(why, "port out of range (1-65535)");
	*port = (uint16_t)v;
	return true;
}

/* Digits and dots only, so meant as an IPv4 address. */
static bool dotted_digits(const char *s, size_t len)
{
	bool digit = false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return false;
		digit = digit || s[i] != '.';
	}
	return digit;
}

static bool parse_name(const char *s, size_t len, struct net_rule *out, struct why *why)
{
	const char *bad;
	if (dotted_digits(s, len)) {
		if (!net_address_parse(s, len, &out->family, out->addr) || out->family != AF_INET)
			return fail(why, "invalid IPv4 address");
		out->kind = NET_RULE_ADDRESS;
		out->prefix = 32;
		return true;
	}
	out->kind = NET_RULE_HOST;
	if (len >= 1 && s[0] == '*') {
		if (len <= 2 || s[1] != '.')
			return fail(why, "a wildcard needs a domain after \"*.\" (*.example.com)");
		out->kind = NET_RULE_SUBDOMAINS;
		s += 2;
		len -= 2;
	}
	if (memchr(s, '*', len))
		return fail(why, "'*' is allowed only as a leading \"*.\"");
	if ((bad = net_host_normalize(s, len, out->host)))
		return fail(why, "%s", bad);
	return true;
}

/* [v6] or [v6]:port */
static bool parse_bracketed(const char *s, size_t len, struct net_rule *out, struct why *why)
{
	const char *close = memchr(s, ']', len);
	if (!close)
		return fail(why, "missing ']' after the IPv6 address");
	size_t n = (size_t)(close - s - 1);
	if (!memchr(s + 1, ':', n) || !net_address_parse(s + 1, n, &out->family, out->addr))
		return fail(why, "invalid IPv6 address");
	const char *rest = close + 1;
	size_t rest_len = len - (size_t)(rest - s);
	if (rest_len > 0 && rest[0] == '/')
		return fail(why, "write a CIDR block without brackets (fd00::/8)");
	if (rest_len > 0 && rest[0] != ':')
		return fail(why, "unexpected text after ']'");
	if (rest_len > 0 && !parse_port(rest + 1, rest_len - 1, &out->port, why))
		return false;
	out->kind = NET_RULE_ADDRESS;
	out->prefix = 128;
	net_address_unmap(&out->family, out->addr, &out->prefix);
	return true;
}

static bool parse_cidr(const char *s, size_t len, const char *slash, struct net_rule *out,
                       struct why *why)
{
	size_t n = (size_t)(slash - s);
	if (!net_address_parse(s, n, &out->family, out->addr)) {
		for (size_t i = 0; i < n; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != ':')
				return fail(why, "a rule with a path is a request rule "
				                 "(GET https://example.com/path*)");
		return fail(why, "invalid address before '/'");
	}
	const char *p = slash + 1;
	size_t plen = len - n - 1;
	if (memchr(p, ':', plen))
		return fail(why, "a CIDR block takes no port");
	if (plen == 0)
		return fail(why, "missing prefix length after '/'");
	unsigned max = out->family == AF_INET ? 32 : 128;
	unsigned v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)p[i]))
			return fail(why, "invalid prefix length");
		if (v <= max)
			v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return fail(why, "prefix length out of range (0-%u)", max);
	out->prefix = v;
	for (unsigned bit = v; bit < max; bit++) {
		if (out->addr[bit / 8] & (0x80u >> (bit % 8))) {
			uint8_t net[16];
			memcpy(net, out->addr, sizeof net);
			for (unsigned b = v; b < max; b++)
				net[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
			char text[INET6_ADDRSTRLEN];
			inet_ntop(out->family, net, text, sizeof text);
			return fail(why, "address has bits set past the prefix length (the block is %s/%u)",
			            text, v);
		}
	}
	out->kind = NET_RULE_ADDRESS;
	net_address_unmap(&out->family, out->addr, &out->prefix);
	return true;
}

static bool parse_destination(const char *s, size_t len, struct net_rule *out, struct why *why)
{
	if (s[0] == '[')
		return parse_bracketed(s, len, out, why);
	const char *slash = memchr(s, '/', len);
	if (slash)
		return parse_cidr(s, len, slash, out, why);
	const char *colon = memchr(s, ':', len);
	if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
		if (!net_address_parse(s, len, &out->family, out->addr))
			return fail(why, "invalid IPv6 address");
		/* "::1:443" is an address, but most likely meant [::1]:443. */
		const char *last = memrchr(s, ':', len);
		size_t digits = len - (size_t)(last - s) - 1;
		int family;
		uint8_t head[16];
		if (digits > 0 && digits <= 5 && strspn(last + 1, "0123456789") == digits &&
		    last - s != 1 && net_address_parse(s, (size_t)(last - s), &family, head))
			return fail(why, "ambiguous IPv6 address: write [%.*s] for the address, or "
			                 "[%.*s]:%s with a port", (int)len, s, (int)(last - s), s, last + 1);
		out->kind = NET_RULE_ADDRESS;
		out->prefix = 128;
		net_address_unmap(&out->family, out->addr, &out->prefix);
		return true;
	}
	size_t name_len = colon ? (size_t)(colon - s) : len;
	if (!parse_name(s, name_len, out, why))
		return false;
	if (colon && !parse_port(colon + 1, len - name_len - 1, &out->port, why))
		return false;
	return true;
}

static bool path_char(unsigned char c)
{
	return ascii_alnum(c) || (c && strchr("-._~%!$&'()+,;=:@/", c));
}

/* METHOD SP scheme://host[:port]/path[*] */
static bool parse_request(const char *s, size_t len, struct net_rule *out, struct why *why)
{
	out->kind = NET_RULE_REQUEST;
	const char *sp = memchr(s, ' ', len);
	if (!sp)
		return fail(why, "a URL rule begins with a method (GET https://example.com/path*)");
	size_t mlen = (size_t)(sp - s);
	if (mlen == 0)
		return fail(why, "missing method before the URL");
	if (mlen >= NET_RULE_METHOD_MAX)
		return fail(why, "method longer than %d bytes", NET_RULE_METHOD_MAX - 1);
	for (size_t i = 0; i < mlen && !(mlen == 1 && s[0] == '*'); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z')
			return fail(why, "method must be uppercase (GET) or *");
		if (!ascii_upper(c) && !(i > 0 && (isdigit(c) || c == '-' || c == '_')))
			return fail(why, "invalid method");
	}
	memcpy(out->method, s, mlen);

	const char *url = sp + 1;
	size_t ulen = len - mlen - 1;
	if (memchr(url, ' ', ulen))
		return fail(why, "unexpected space in the URL");
	const char *sep = strstr(url, "://");
	if (!sep)
		return fail(why, "missing \"://\" in the URL");
	size_t slen = (size_t)(sep - url);
	if (slen == 4 && strncasecmp(url, "http", 4) == 0)
		strcpy(out->scheme, "http");
	else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
		strcpy(out->scheme, "https");
	else
		return fail(why, "unsupported URL scheme (http or https)");
	out->port = slen == 4 ? 80 : 443;

	const char *auth = sep + 3;
	const char *path = memchr(auth, '/', ulen - slen - 3);
	if (!path)
		return fail(why, "a URL rule needs a path (https://host/ or https://host/*)");
	size_t alen = (size_t)(path - auth);
	if (memchr(auth, '@', alen))
		return fail(why, "a URL rule takes no user name");
	if (memchr(auth, '*', alen))
		return fail(why, "a URL rule names one host, without \"*.\"");
	const char *colon = memchr(auth, ':', alen);
	size_t hlen = colon ? (size_t)(colon - auth) : alen;
	if ((alen > 0 && auth[0] == '[') || dotted_digits(auth, hlen))
		return fail(why, "a URL rule names a host, not an address");
	const char *bad = net_host_normalize(auth, hlen, out->host);
	if (bad)
		return fail(why, "%s", bad);
	if (colon && !parse_port(colon + 1, alen - hlen - 1, &out->port, why))
		return false;

	size_t plen = ulen - slen - 3 - alen;
	if (plen > 0 && path[plen - 1] == '*') {
		out->path_prefix = true;
		plen--;
	}
	if (plen >= NET_RULE_PATH_MAX)
		return fail(why, "path longer than %d bytes", NET_RULE_PATH_MAX - 1);
	for (size_t i = 0; i < plen; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c == '?')
			return fail(why, "a URL rule matches paths, not queries (remove the '?...')");
		if (c == '#')
			return fail(why, "a URL rule takes no fragment");
		if (c == '*')
			return fail(why, "'*' is allowed only at the end of the path");
		if (!path_char(c))
			return fail(why, "invalid character in the path");
	}
	if ((bad = net_path_unsafe(path, plen)))
		return fail(why, "%s", bad);
	memcpy(out->path, path, plen);
	return true;
}

/* The rule as the user wrote it, for messages: control and non-ASCII bytes
 * shown as '?', long rules shortened. */
static void shown(const char *text, char *buf, size_t size)
{
	size_t n = 0;
	for (; text[n] && n + 4 < size; n++) {
		unsigned char c = (unsigned char)text[n];
		buf[n] = text[n];
		if (c < ' ' || c >= 0x7f || c == '"')
			buf[n] = '?';
	}
	if (text[n])
		memcpy(buf + n - 3, "...", 3);
	buf[n] = '\0';
}

int net_rule_parse(const char *text, struct net_rule *out, corral_error *err)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--allow-net: expected a rule");
	struct why why = {{0}};
	size_t len = strnlen(text, NET_RULE_TEXT_MAX + 1);
	bool ok;
	if (len == 0)
		ok = fail(&why, "empty rule");
	else if (len > NET_RULE_TEXT_MAX)
		ok = fail(&why, "rule longer than %d bytes", NET_RULE_TEXT_MAX);
	else if (strstr(text, "://"))
		ok = parse_request(text, len, out, &why);
	else
		ok = parse_destination(text, len, out, &why);
	if (ok)
		return 0;
	memset(out, 0, sizeof *out);
	char quoted[96];
	shown(text, quoted, sizeof quoted);
	return error_set(err, CORRAL_ERR_USAGE, 0, "--allow-net \"%s\": %s", quoted, why.text);
}

void net_rule_clear(struct net_rule *rule)
{
	if (rule)
		memset(rule, 0, sizeof *rule);
}

bool net_rule_equal(const struct net_rule *a, const struct net_rule *b)
{
	return a->kind == b->kind && strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       a->family == b->family && memcmp(a->addr, b->addr, sizeof a->addr) == 0 &&
	       a->prefix == b->prefix && strcmp(a->method, b->method) == 0 &&
	       strcmp(a->scheme, b->scheme) == 0 && a->path_prefix == b->path_prefix &&
	       strcmp(a->path, b->path) == 0;
}

char *net_rule_format(const struct net_rule *rule)
{
	if (!rule)
		return NULL;
	char buf[NET_RULE_TEXT_MAX + 64];
	char port[8] = "";
	if (rule->port)
		snprintf(port, sizeof port, ":%u", rule->port);
	switch (rule->kind) {
	case NET_RULE_HOST:
		snprintf(buf, sizeof buf, "%s%s", rule->host, port);
		break;
	case NET_RULE_SUBDOMAINS:
		snprintf(buf, sizeof buf, "*.%s%s", rule->host, port);
		break;
	case NET_RULE_ADDRESS: {
		char addr[INET6_ADDRSTRLEN] = "";
		inet_ntop(rule->family, rule->addr, addr, sizeof addr);
		bool v6 = rule->family == AF_INET6;
		if (rule->prefix < (v6 ? 128u : 32u))
			snprintf(buf, sizeof buf, "%s/%u", addr, rule->prefix);
		else
			snprintf(buf, sizeof buf, v6 ? "[%s]%s" : "%s%s", addr, port);
		break;
	}
	case NET_RULE_REQUEST: {
		bool https = strcmp(rule->scheme, "https") == 0;
		if (rule->port == (https ? 443 : 80))
			port[0] = '\0';
		snprintf(buf, sizeof buf, "%s %s://%s%s%s%s", rule->method, rule->scheme, rule->host,
		         port, rule->path, rule->path_prefix ? "*" : "");
		break;
	}
	default:
		return NULL;
	}
	return strdup(buf);
}
