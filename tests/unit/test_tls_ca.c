/* corral's CA for --intercept: creation and reload, first use racing from
 * several processes, refusal of damaged or loose CA files, leaves checked
 * with a store holding only the CA, real handshakes over socketpairs both
 * ways (names, addresses, wrong names, untrusted CA, ALPN), the leaf cache
 * and its eviction, contexts outliving the CA, the sandbox's bundle. */
#include "net/tls_ca.h"
#include "net/tls_ca_internal.h"
#include "unit.h"
#include "util/lazylib.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MUST(cond)                                                                           \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "setup failed: %s:%d: %s: %s\n", __FILE__, __LINE__, \
			        #cond, strerror(errno));                                     \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

static char top[] = "/tmp/corral-tls-test-XXXXXX";

static const char *at(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *at(char *buf, const char *fmt, ...)
{
	char rel[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	snprintf(buf, PATH_MAX, "%s/%s", top, rel);
	return buf;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* The whole file, NUL-terminated, malloc'd (len in *len). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	MUST(mem);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		MUST(fwrite(chunk, 1, n, mem) == n);
	fclose(f);
	MUST(fclose(mem) == 0);
	if (len)
		*len = size;
	return buf;
}

static void put(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	MUST(fd >= 0);
	MUST(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	MUST(fchmod(fd, mode) == 0);
	MUST(close(fd) == 0);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char *s = slurp(from, NULL);
	MUST(s);
	put(to, s, mode);
	free(s);
}

static bool contains(const char *haystack, const char *needle)
{
	bool ok = strstr(haystack, needle) != NULL;
	if (!ok)
		fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", haystack, needle);
	return ok;
}

/* load_or_create on dir fails with a message containing `want`. */
static bool load_fails(const char *dir, const char *want)
{
	corral_error err = {0};
	struct tls_ca *ca = tls_ca_load_or_create(dir, &err);
	tls_ca_free(ca);
	return !ca && err.kind == CORRAL_ERR_SETUP && contains(err.message, want);
}

static bool same_cert_file(const char *a, const char *b)
{
	char *x = slurp(a, NULL), *y = slurp(b, NULL);
	bool same = x && y && strcmp(x, y) == 0;
	free(x);
	free(y);
	return same;
}

/* ---- the CA on disk ------------------------------------------------------ */

static void check_ca_cert(const struct tls_ca *ca)
{
	X509 *x = ca->cert;
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	CHECK(strncmp(cn, "corral egress CA (", 18) == 0 && cn[strlen(cn) - 1] == ')');
	CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
	CHECK(X509_check_ca(x) == 1);
	CHECK(X509_get_pathlen(x) == 0);
	CHECK(X509_get_key_usage(x) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
	int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
	CHECK(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)));
	i = X509_get_ext_by_NID(x, NID_key_usage, -1);
	CHECK(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)));
	CHECK(X509_get0_subject_key_id(x) != NULL);
	CHECK(X509_get0_authority_key_id(x) != NULL &&
	      ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(x)) == 0);
	/* valid now and for about 10 years */
	int days = 0, secs = 0;
	CHECK(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) && days >= 3649 && days <= 3650);
	CHECK(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	CHECK(ASN1_STRING_length(sn) >= 8 && ASN1_STRING_length(sn) <= 16);
	char curve[32] = "";
	CHECK(EVP_PKEY_get_group_name(ca->key, curve, sizeof curve, NULL) && strcmp(curve, "prime256v1") == 0);
	/* self-signed, and the signature holds */
	CHECK(X509_verify(x, ca->key) == 1);
}

static void check_create_and_load(void)
{
	char dir[PATH_MAX], p[PATH_MAX];
	corral_error err = {0};
	/* parents are made too */
	at(dir, "state/deep");
	struct tls_ca *ca = tls_ca_load_or_create(dir, &err);
	CHECK(ca != NULL);
	if (!ca) {
		fprintf(stderr, "  %s\n", err.message);
		return;
	}
	CHECK(strcmp(tls_ca_pem_path(ca), at(p, "state/deep/ca/ca.pem")) == 0);
	CHECK(mode_of(at(p, "state/deep")) == 0700);
	CHECK(mode_of(at(p, "state/deep/ca")) == 0700);
	CHECK(mode_of(at(p, "state/deep/ca/ca.key")) == 0600);
	CHECK((mode_of(at(p, "state/deep/ca/ca.pem")) & 0133) == 0);
	check_ca_cert(ca);

	/* again: the same CA, untouched */
	char *pem = slurp(at(p, "state/deep/ca/ca.pem"), NULL);
	char *key = slurp(at(p, "state/deep/ca/ca.key"), NULL);
	struct tls_ca *again = tls_ca_load_or_create(dir, &err);
	CHECK(again != NULL);
	if (again) {
		CHECK(X509_cmp(ca->cert, again->cert) == 0);
		CHECK(EVP_PKEY_eq(ca->key, again->key) == 1);
	}
	char *pem2 = slurp(at(p, "state/deep/ca/ca.pem"), NULL);
	char *key2 = slurp(at(p, "state/deep/ca/ca.key"), NULL);
	CHECK(pem && pem2 && strcmp(pem, pem2) == 0);
	CHECK(key && key2 && strcmp(key, key2) == 0 && strstr(key, "BEGIN PRIVATE KEY"));
	free(pem);
	free(pem2);
	free(key);
	free(key2);
	tls_ca_free(again);
	tls_ca_free(ca);

	/* the default state dir */
	char def[PATH_MAX];
	if (geteuid() == 0) {
		CHECK(tls_ca_default_state_dir(def, sizeof def, &err) == 0 && strcmp(def, "/var/lib/corral") == 0);
	} else {
		setenv("XDG_STATE_HOME", "/xdg", 1);
		CHECK(tls_ca_default_state_dir(def, sizeof def, &err) == 0 && strcmp(def, "/xdg/corral") == 0);
		setenv("XDG_STATE_HOME", "relative", 1);
		setenv("HOME", "/home/u", 1);
		CHECK(tls_ca_default_state_dir(def, sizeof def, &err) == 0 &&
		      strcmp(def, "/home/u/.local/state/corral") == 0);
	}
	CHECK(tls_ca_default_state_dir(def, 4, &err) == -1 && err.errnum == ENAMETOOLONG);
}

/* Processes racing on first use: one CA, the one every process got. */
static void check_race(void)
{
	enum { ROUNDS = 5, PROCS = 4 };
	for (int round = 0; round < ROUNDS; round++) {
		char dir[PATH_MAX], p[PATH_MAX];
		at(dir, "race%d", round);
		int go[2], out[2];
		MUST(pipe(go) == 0 && pipe(out) == 0);
		pid_t pids[PROCS];
		for (int i = 0; i < PROCS; i++) {
			pids[i] = fork();
			MUST(pids[i] >= 0);
			if (pids[i] == 0) {
				char c;
				close(go[1]);
				close(out[0]);
				if (read(go[0], &c, 1) != 0)   /* everyone starts at the close */
					_exit(2);
				corral_error err = {0};
				struct tls_ca *ca = tls_ca_load_or_create(dir, &err);
				unsigned char md[32] = {0};
				unsigned int len = 0;
				if (!ca || !X509_digest(ca->cert, EVP_sha256(), md, &len))
					fprintf(stderr, "  child: %s\n", err.message);
				tls_ca_free(ca);
				/* 32 bytes: atomic on a pipe */
				_exit(write(out[1], md, sizeof md) == (ssize_t)sizeof md && len == 32 ? 0 : 1);
			}
		}
		close(go[0]);
		close(out[1]);
		close(go[1]);
		for (int i = 0; i < PROCS; i++) {
			int status;
			CHECK(waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0);
		}
		corral_error err = {0};
		struct tls_ca *ca = tls_ca_load_or_create(dir, &err);
		CHECK(ca != NULL);
		unsigned char want[32] = {0}, got[32];
		unsigned int len = 0;
		if (ca)
			X509_digest(ca->cert, EVP_sha256(), want, &len);
		for (int i = 0; i < PROCS; i++)
			CHECK(read(out[0], got, sizeof got) == (ssize_t)sizeof got && memcmp(got, want, 32) == 0);
		close(out[0]);
		tls_ca_free(ca);
		/* nothing left behind but the CA */
		DIR *d = opendir(dir);
		MUST(d);
		int entries = 0;
		for (struct dirent *e; (e = readdir(d));)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				entries++;
		closedir(d);
		CHECK(entries == 1);
		CHECK(mode_of(at(p, "race%d/ca/ca.key", round)) == 0600);
	}
}

/* Write a CA-like certificate and key into dir/ca/ (days < 0: expired). */
static void make_ca_files(const char *dir, int days, bool is_ca)
{
	char p[PATH_MAX];
	MUST(mkdir(dir, 0700) == 0);
	snprintf(p, sizeof p, "%s/ca", dir);
	MUST(mkdir(p, 0700) == 0);
	EVP_PKEY *key = tls_ca_p256_key();
	X509_NAME *name = X509_NAME_new();
	MUST(key && name);
	MUST(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fake", -1, -1, 0));
	X509 *x = tls_ca_cert_new(name, key, days);
	MUST(x && X509_set_issuer_name(x, name));
	MUST(tls_ca_cert_ext(x, x, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") == 0);
	MUST(tls_ca_cert_ext(x, x, NID_key_usage, "critical,keyCertSign,digitalSignature") == 0);
	MUST(X509_sign(x, key, EVP_sha256()));
	snprintf(p, sizeof p, "%s/ca/ca.pem", dir);
	FILE *f = fopen(p, "we");
	MUST(f && PEM_write_X509(f, x) && fclose(f) == 0);
	snprintf(p, sizeof p, "%s/ca/ca.key", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	MUST(f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) && fclose(f) == 0);
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
}

static void check_bad_ca(void)
{
	char dir[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	corral_error err = {0};
	struct tls_ca *a = tls_ca_load_or_create(at(dir, "bad-a"), &err);
	struct tls_ca *b = tls_ca_load_or_create(at(dir, "bad-b"), &err);
	CHECK(a && b);
	tls_ca_free(a);
	tls_ca_free(b);

	/* b's key with a's certificate */
	copy_file(at(p, "bad-b/ca/ca.key"), at(q, "bad-a/ca/ca.key"), 0600);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key does not match ca.pem"));

	/* garbage for a key, an empty key, a truncated certificate */
	put(at(p, "bad-a/ca/ca.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
	CHECK(load_fails(at(dir, "bad-a"), "CA key "));
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key: not a PEM private key"));
	/* an encrypted key: refused, and no passphrase is ever asked for */
	EVP_PKEY *k = tls_ca_p256_key();
	MUST(k && unlink(at(p, "bad-a/ca/ca.key")) == 0);
	int kfd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *kf = kfd >= 0 ? fdopen(kfd, "w") : NULL;
	MUST(kf && PEM_write_PrivateKey(kf, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"secret") &&
	     fclose(kf) == 0);
	EVP_PKEY_free(k);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key: not a PEM private key without passphrase"));
	put(at(p, "bad-a/ca/ca.key"), "", 0600);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key: empty"));
	copy_file(at(p, "bad-b/ca/ca.key"), at(q, "bad-a/ca/ca.key"), 0600);
	copy_file(at(p, "bad-b/ca/ca.pem"), at(q, "bad-a/ca/ca.pem"), 0644);
	CHECK(same_cert_file(at(p, "bad-a/ca/ca.pem"), at(q, "bad-b/ca/ca.pem")));
	char *pem = slurp(at(p, "bad-b/ca/ca.pem"), NULL);
	MUST(pem);
	pem[strlen(pem) / 2] = '\0';
	put(at(p, "bad-a/ca/ca.pem"), pem, 0644);
	free(pem);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.pem: not a PEM certificate"));

	/* loose modes, a key that is a link, a missing file */
	copy_file(at(p, "bad-b/ca/ca.pem"), at(q, "bad-a/ca/ca.pem"), 0644);
	MUST(chmod(at(p, "bad-a/ca/ca.key"), 0640) == 0);
	CHECK(load_fails(at(dir, "bad-a"), "mode 0640, expected owner"));
	MUST(chmod(at(p, "bad-a/ca/ca.key"), 0600) == 0);
	MUST(chmod(at(p, "bad-a/ca"), 0755) == 0);
	CHECK(load_fails(at(dir, "bad-a"), "CA directory "));
	MUST(chmod(at(p, "bad-a/ca"), 0700) == 0);
	corral_error ok = {0};
	struct tls_ca *fixed = tls_ca_load_or_create(at(dir, "bad-a"), &ok);
	CHECK(fixed != NULL);   /* b's CA, now whole in a */
	tls_ca_free(fixed);
	MUST(rename(at(p, "bad-a/ca/ca.key"), at(q, "bad-a/key")) == 0);
	MUST(symlink(q, at(p, "bad-a/ca/ca.key")) == 0);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key: Too many levels of symbolic links"));
	MUST(unlink(p) == 0);
	CHECK(load_fails(at(dir, "bad-a"), "bad-a/ca/ca.key: No such file or directory"));

	/* a "ca" that is a link to a good CA elsewhere */
	MUST(mkdir(at(p, "bad-c"), 0700) == 0);
	MUST(symlink(at(q, "bad-b/ca"), at(p, "bad-c/ca")) == 0);
	CHECK(load_fails(at(dir, "bad-c"), "bad-c/ca: a symbolic link, refused"));

	/* expired, not a CA */
	make_ca_files(at(dir, "expired"), -1, true);
	CHECK(load_fails(dir, "expired on "));
	make_ca_files(at(dir, "not-ca"), 30, false);
	CHECK(load_fails(dir, "not a CA certificate"));
}

/* ---- leaves ---------------------------------------------------------------- */

/* Verify leaf against a store holding only ca_pem, as a TLS server for
 * host (a name, or an address when ip). Returns the X509_V_* result. */
static int verify_leaf(X509 *leaf, const char *ca_pem, const char *host, bool ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	MUST(store && ctx && X509_STORE_load_file(store, ca_pem) == 1);
	MUST(X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	MUST(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1);
	MUST(ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1
	        : X509_VERIFY_PARAM_set1_host(param, host, 0) == 1);
	int rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

static void check_leaves(struct tls_ca *ca)
{
	corral_error err = {0};
	const char *pem = tls_ca_pem_path(ca);
	X509 *leaf = tls_ca_leaf(ca, "Example.TEST.", &err);
	CHECK(leaf != NULL);
	if (!leaf)
		return;
	CHECK(verify_leaf(leaf, pem, "example.test", false) == X509_V_OK);
	CHECK(verify_leaf(leaf, pem, "other.test", false) == X509_V_ERR_HOSTNAME_MISMATCH);
	CHECK(verify_leaf(leaf, pem, "www.example.test", false) == X509_V_ERR_HOSTNAME_MISMATCH);
	CHECK(X509_check_ca(leaf) == 0);
	CHECK(X509_get_extended_key_usage(leaf) == XKU_SSL_SERVER);
	CHECK(X509_get_key_usage(leaf) == KU_DIGITAL_SIGNATURE);
	GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	CHECK(sans && sk_GENERAL_NAME_num(sans) == 1);
	GENERAL_NAMES_free(sans);
	int days = 0, secs = 0;
	CHECK(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)) &&
	      days * 86400L + secs > 7 * 86400L - 60 && days * 86400L + secs <= 7 * 86400L);
	CHECK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf), NULL) && days == 0 &&
	      secs >= 3600 && secs < 3700);
	CHECK(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca->cert)) == 0);
	CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf), X509_get0_subject_key_id(ca->cert)) == 0);

	/* the cache: the same certificate for the same name, any spelling */
	X509 *again = tls_ca_leaf(ca, "example.test", &err);
	CHECK(again == leaf);
	X509 *other = tls_ca_leaf(ca, "other.test", &err);
	CHECK(other && other != leaf && X509_cmp(other, leaf) != 0);
	CHECK(other && verify_leaf(other, pem, "other.test", false) == X509_V_OK);
	X509_free(again);
	X509_free(other);

	/* addresses */
	X509 *v4 = tls_ca_leaf(ca, "127.0.0.1", &err);
	X509 *v6 = tls_ca_leaf(ca, "0:0::1", &err);
	CHECK(v4 && verify_leaf(v4, pem, "127.0.0.1", true) == X509_V_OK);
	CHECK(v4 && verify_leaf(v4, pem, "127.0.0.2", true) == X509_V_ERR_IP_ADDRESS_MISMATCH);
	CHECK(v6 && verify_leaf(v6, pem, "::1", true) == X509_V_OK);
	CHECK(v6 && verify_leaf(v6, pem, "127.0.0.1", true) == X509_V_ERR_IP_ADDRESS_MISMATCH);
	X509_free(v4);
	X509_free(v6);

	/* '_' is in real names (_dmarc, service records) */
	X509 *under = tls_ca_leaf(ca, "_svc.my_host.test", &err);
	CHECK(under && verify_leaf(under, pem, "_svc.my_host.test", false) == X509_V_OK);
	X509_free(under);

	/* a name of 253 bytes (labels of 63): no CN, the SAN is enough */
	char longname[254];
	memset(longname, 'a', 253);
	longname[253] = '\0';
	for (int i = 63; i < 253; i += 64)
		longname[i] = '.';
	X509 *lng = tls_ca_leaf(ca, longname, &err);
	CHECK(lng && verify_leaf(lng, pem, longname, false) == X509_V_OK);
	X509_free(lng);

	/* never minted: wildcards, empty labels, ports, junk, too long */
	static const char *const bad[] = {
		"", ".", "*.example.test", "a..b", ".a", "a..", "a.b..", "exa mple.test", "example.test:443",
		"[::1]", "a,DNS:evil.test", "b\xc3\xa4r.test", "x\n.test",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		error_clear(&err);
		X509 *x = tls_ca_leaf(ca, bad[i], &err);
		CHECK(x == NULL && err.kind == CORRAL_ERR_USAGE);
		X509_free(x);
	}
	longname[63] = 'a';   /* a label of 127 */
	CHECK(tls_ca_leaf(ca, longname, NULL) == NULL);
	char toolong[300];
	memset(toolong, 'a', sizeof toolong - 1);
	toolong[sizeof toolong - 1] = '\0';
	for (int i = 10; i < 299; i += 11)
		toolong[i] = '.';
	CHECK(tls_ca_leaf(ca, toolong, NULL) == NULL);
	X509_free(leaf);
}

/* Filling the cache evicts the least recently used name only. */
static void check_eviction(struct tls_ca *ca)
{
	X509 *first = tls_ca_leaf(ca, "first.test", NULL);
	X509 *keep = tls_ca_leaf(ca, "keep.test", NULL);
	CHECK(first && keep);
	for (int i = 0; i < TLS_CA_LEAF_CACHE_MAX; i++) {
		char name[32];
		snprintf(name, sizeof name, "n%d.test", i);
		X509_free(tls_ca_leaf(ca, name, NULL));
		if (i % 100 == 0)
			X509_free(tls_ca_leaf(ca, "keep.test", NULL));   /* recently used */
	}
	X509 *first2 = tls_ca_leaf(ca, "first.test", NULL);
	X509 *keep2 = tls_ca_leaf(ca, "keep.test", NULL);
	CHECK(first2 && first2 != first && X509_cmp(first2, first) != 0);
	CHECK(keep2 == keep);
	X509_free(first);
	X509_free(first2);
	X509_free(keep);
	X509_free(keep2);
}

struct minter {
	struct tls_ca *ca;
	X509 *seen[8];
	bool failed;
};

static void *mint_many(void *arg)
{
	struct minter *m = arg;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 8; i++) {
			char name[32];
			snprintf(name, sizeof name, "thread%d.test", i);
			X509 *x = tls_ca_leaf(m->ca, name, NULL);
			if (!x || (m->seen[i] && x != m->seen[i]))
				m->failed = true;
			if (!m->seen[i])
				m->seen[i] = x;
			else
				X509_free(x);
		}
	}
	return NULL;
}

/* Several proxy threads at once: one certificate per name for all. */
static void check_threads(struct tls_ca *ca)
{
	struct minter m[4];
	pthread_t t[4];
	memset(m, 0, sizeof m);
	for (int i = 0; i < 4; i++) {
		m[i].ca = ca;
		MUST(pthread_create(&t[i], NULL, mint_many, &m[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		MUST(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(!m[i].failed);
		for (int j = 0; j < 8; j++) {
			CHECK(m[i].seen[j] == m[0].seen[j]);
			X509_free(m[i].seen[j]);
		}
	}
}

/* ---- handshakes -------------------------------------------------------- */

struct pair {
	SSL *c, *s;
	int fds[2];
};

static void pair_open(struct pair *p, SSL_CTX *client, SSL_CTX *server)
{
	MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fds) == 0);
	p->c = SSL_new(client);
	p->s = SSL_new(server);
	MUST(p->c && p->s && SSL_set_fd(p->c, p->fds[0]) && SSL_set_fd(p->s, p->fds[1]));
}

static void pair_close(struct pair *p)
{
	SSL_free(p->c);
	SSL_free(p->s);
	close(p->fds[0]);
	close(p->fds[1]);
	ERR_clear_error();
}

static int step(SSL *ssl, int r, bool *done)
{
	if (r == 1) {
		*done = true;
		return 0;
	}
	int e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Both sides' handshakes, interleaved on one thread. */
static int handshake(struct pair *p)
{
	bool cdone = false, sdone = false;
	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone && step(p->c, SSL_connect(p->c), &cdone) < 0)
			return -1;
		if (!sdone && step(p->s, SSL_accept(p->s), &sdone) < 0)
			return -1;
	}
	return cdone && sdone ? 0 : -1;
}

static bool alpn_is_http11(SSL *ssl)
{
	const unsigned char *proto = NULL;
	unsigned int len = 0;
	SSL_get0_alpn_selected(ssl, &proto, &len);
	return len == 8 && memcmp(proto, "http/1.1", 8) == 0;
}

/* Application bytes both ways after the handshake. */
static bool talk(struct pair *p)
{
	char buf[16] = "";
	return SSL_write(p->c, "GET /", 5) == 5 && SSL_read(p->s, buf, sizeof buf) == 5 &&
	       memcmp(buf, "GET /", 5) == 0 && SSL_write(p->s, "HTTP/", 5) == 5 &&
	       SSL_read(p->c, buf, sizeof buf) == 5 && memcmp(buf, "HTTP/", 5) == 0;
}

static void check_handshakes(struct tls_ca *ca)
{
	corral_error err = {0};
	SSL_CTX *server = tls_ca_server_ctx(ca, &err);
	SSL_CTX *client = tls_ca_client_ctx(tls_ca_pem_path(ca), &err);
	SSL_CTX *system_only = tls_ca_client_ctx(NULL, &err);
	CHECK(server && client && system_only);
	if (!server || !client || !system_only) {
		fprintf(stderr, "  %s\n", err.message);
		goto cleanup;
	}
	struct pair p;
	X509 *first = NULL;

	/* SNI example.test, expected example.test: through, http/1.1 */
	for (int round = 0; round < 2; round++) {
		pair_open(&p, client, server);
		CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
		CHECK(handshake(&p) == 0);
		CHECK(SSL_get_verify_result(p.c) == X509_V_OK);
		CHECK(alpn_is_http11(p.c) && alpn_is_http11(p.s));
		CHECK(SSL_version(p.c) >= TLS1_2_VERSION);
		CHECK(talk(&p));
		X509 *peer = SSL_get1_peer_certificate(p.c);
		CHECK(peer != NULL);
		if (round == 0)
			first = peer;
		else {
			CHECK(peer && first && X509_cmp(peer, first) == 0);   /* the cached leaf */
			X509_free(peer);
		}
		pair_close(&p);
	}
	X509_free(first);

	/* TLS 1.2 too */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
	CHECK(SSL_set_max_proto_version(p.c, TLS1_2_VERSION) == 1);
	CHECK(handshake(&p) == 0 && SSL_version(p.s) == TLS1_2_VERSION && talk(&p));
	pair_close(&p);

	/* the certificate is for the SNI, the client expects another name */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
	CHECK(SSL_set1_host(p.c, "other.test") == 1);
	CHECK(handshake(&p) == -1);
	CHECK(SSL_get_verify_result(p.c) == X509_V_ERR_HOSTNAME_MISMATCH);
	pair_close(&p);

	/* a client trusting the system store only: corral's CA is unknown */
	pair_open(&p, system_only, server);
	CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
	CHECK(handshake(&p) == -1);
	CHECK(SSL_get_verify_result(p.c) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	pair_close(&p);

	/* no SNI (an address): the caller's target */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "127.0.0.1") == 0);
	CHECK(tls_ca_set_target(p.s, "10.9.9.9") == 0);   /* replaced below */
	CHECK(tls_ca_set_target(p.s, "127.0.0.1") == 0);
	CHECK(handshake(&p) == 0 && SSL_get_verify_result(p.c) == X509_V_OK && talk(&p));
	pair_close(&p);
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "::1") == 0);
	CHECK(tls_ca_set_target(p.s, "::1") == 0);
	CHECK(handshake(&p) == 0 && SSL_get_verify_result(p.c) == X509_V_OK);
	pair_close(&p);
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "127.0.0.1") == 0);
	CHECK(tls_ca_set_target(p.s, "127.0.0.2") == 0);
	CHECK(handshake(&p) == -1 && SSL_get_verify_result(p.c) == X509_V_ERR_IP_ADDRESS_MISMATCH);
	pair_close(&p);

	/* no SNI and no target: refused */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "127.0.0.1") == 0);
	CHECK(handshake(&p) == -1);
	pair_close(&p);

	/* an SNI that is no host name: refused */
	pair_open(&p, client, server);
	CHECK(SSL_set_tlsext_host_name(p.c, "*.example.test") == 1);
	SSL_set_verify(p.c, SSL_VERIFY_NONE, NULL);
	CHECK(handshake(&p) == -1);
	pair_close(&p);

	/* a client wanting h2 only gets no ALPN, and TLS still works */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
	CHECK(SSL_set_alpn_protos(p.c, (const unsigned char *)"\x02h2", 3) == 0);
	CHECK(handshake(&p) == 0 && !alpn_is_http11(p.c) && talk(&p));
	pair_close(&p);

	/* TLS 1.1 is refused */
	pair_open(&p, client, server);
	CHECK(tls_ca_client_prepare(p.c, "example.test") == 0);
	SSL_set_min_proto_version(p.c, TLS1_VERSION);
	SSL_set_max_proto_version(p.c, TLS1_1_VERSION);
	CHECK(handshake(&p) == -1);
	pair_close(&p);

	/* bad names for the caller's helpers */
	pair_open(&p, client, server);
	errno = 0;
	CHECK(tls_ca_client_prepare(p.c, "exa mple") == -1 && errno == EINVAL);
	CHECK(tls_ca_set_target(p.s, "*.x") == -1 && errno == EINVAL);
	pair_close(&p);

cleanup:
	SSL_CTX_free(server);
	SSL_CTX_free(client);
	SSL_CTX_free(system_only);
}

static void check_client_ctx_errors(void)
{
	char p[PATH_MAX];
	corral_error err = {0};
	SSL_CTX *ctx = tls_ca_client_ctx(at(p, "nope.pem"), &err);
	CHECK(!ctx && contains(err.message, "nope.pem: No such file or directory"));
	SSL_CTX_free(ctx);
	put(at(p, "junk.pem"), "not a certificate\n", 0644);
	ctx = tls_ca_client_ctx(p, &err);
	CHECK(!ctx && contains(err.message, "CA file ") && contains(err.message, "junk.pem: "));
	SSL_CTX_free(ctx);
}

/* A server context keeps its CA alive after the owner lets go. */
static void check_lifetime(void)
{
	char dir[PATH_MAX];
	corral_error err = {0};
	struct tls_ca *ca = tls_ca_load_or_create(at(dir, "lifetime"), &err);
	CHECK(ca != NULL);
	if (!ca)
		return;
	SSL_CTX *server = tls_ca_server_ctx(ca, &err);
	SSL_CTX *client = tls_ca_client_ctx(tls_ca_pem_path(ca), &err);
	tls_ca_free(ca);
	CHECK(server && client);
	if (server && client) {
		struct pair p;
		pair_open(&p, client, server);
		CHECK(tls_ca_client_prepare(p.c, "late.test") == 0);
		CHECK(handshake(&p) == 0 && talk(&p));
		pair_close(&p);
	}
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}

static void check_bundle(struct tls_ca *ca)
{
	char p[PATH_MAX];
	corral_error err = {0};
	at(p, "bundle.crt");
	put(p, "old\n", 0600);   /* replaced */
	CHECK(tls_ca_write_bundle(ca, p, &err) == 0);
	CHECK(mode_of(p) == 0644);
	size_t len = 0, sys_len = 0, ca_len = 0;
	char *bundle = slurp(p, &len);
	char *sys = slurp(TLS_CA_SYSTEM_BUNDLE, &sys_len);
	char *ca_pem = slurp(tls_ca_pem_path(ca), &ca_len);
	CHECK(bundle && ca_pem);
	if (bundle && ca_pem) {
		if (sys) {
			CHECK(len >= sys_len + ca_len && memcmp(bundle, sys, sys_len) == 0);
		} else {
			printf("# no %s on this host: the bundle is corral's CA alone\n", TLS_CA_SYSTEM_BUNDLE);
		}
		CHECK(len >= ca_len && strcmp(bundle + len - ca_len, ca_pem) == 0);
		CHECK(len <= sys_len + ca_len + 1);
	}
	free(bundle);
	free(sys);
	free(ca_pem);
	/* a store built from the bundle trusts corral's leaves */
	X509 *leaf = tls_ca_leaf(ca, "bundle.test", &err);
	CHECK(leaf && verify_leaf(leaf, p, "bundle.test", false) == X509_V_OK);
	X509_free(leaf);
	/* no temporary files left next to it */
	DIR *d = opendir(top);
	MUST(d);
	for (struct dirent *e; (e = readdir(d));)
		CHECK(strncmp(e->d_name, "bundle.crt.", 11) != 0);
	closedir(d);
	CHECK(tls_ca_write_bundle(ca, at(p, "no/such/dir/bundle.crt"), &err) == -1 &&
	      contains(err.message, "no/such/dir/bundle.crt"));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

int main(void)
{
	/* The test calls OpenSSL itself, through libcorral's lazy stubs too. */
	corral_error lerr = {0};
	if (lazy_openssl_load(&lerr) < 0) {
		fprintf(stderr, "%s\n", lerr.message);
		return 1;
	}
	MUST(mkdtemp(top));
	check_create_and_load();
	check_race();
	check_bad_ca();
	check_client_ctx_errors();
	check_lifetime();

	char dir[PATH_MAX];
	corral_error err = {0};
	struct tls_ca *ca = tls_ca_load_or_create(at(dir, "state/deep"), &err);
	CHECK(ca != NULL);
	if (ca) {
		check_leaves(ca);
		check_handshakes(ca);
		check_threads(ca);
		check_bundle(ca);
		check_eviction(ca);
	}
	tls_ca_free(ca);

	if (nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done();
}
