/*
 * corral's CA on disk (see tls_ca.h): finding the state directory,
 * creating the CA once, loading and checking it, the sandbox's bundle.
 */
#include "net/tls_ca_internal.h"

#include "util/error.h"
#include "util/lazylib.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_DAYS 3650
#define CA_FILE_MAX 16384   /* a PEM key or certificate is well under 1 KiB */

int tls_ca_default_state_dir(char *buf, size_t size, corral_error *err)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (geteuid() == 0)
		n = snprintf(buf, size, "/var/lib/corral");
	else if (xdg && xdg[0] == '/')  /* the XDG spec: a relative value is invalid, ignore it */
		n = snprintf(buf, size, "%s/corral", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.local/state/corral", home);
	else
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "state directory: HOME is not set (nor XDG_STATE_HOME)");
	if (n < 0 || (size_t)n >= size)
		return error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "state directory");
	return 0;
}

void tls_ca_ref(struct tls_ca *ca)
{
	atomic_fetch_add(&ca->refs, 1);
}

void tls_ca_free(struct tls_ca *ca)
{
	if (!ca || atomic_fetch_sub(&ca->refs, 1) != 1)
		return;
	tls_ca_cache_clear(ca);
	pthread_mutex_destroy(&ca->lock);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	free(ca);
}

const char *tls_ca_pem_path(const struct tls_ca *ca)
{
	return ca->pem_path;
}

/* Never ask a terminal for a passphrase: corral's key has none. */
// NOLINTNEXTLINE(readability-non-const-parameter): pem_password_cb's signature
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* Read dir/name (at most CA_FILE_MAX bytes) into a BIO. A key must be a
 * regular file of ours that nobody else may read. */
static BIO *read_ca_file(int dirfd, const char *dir, const char *name, bool key, corral_error *err)
{
	unsigned char buf[CA_FILE_MAX];
	BIO *bio = NULL;
	struct stat st;
	ssize_t n = -1;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		error_errno(err, "CA %s/%s", dir, name);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, CORRAL_ERR_SETUP, 0, "CA %s/%s: not a regular file", dir, name);
		goto cleanup;
	}
	if (key && (st.st_uid != geteuid() || (st.st_mode & 077) != 0)) {
		error_set(err, CORRAL_ERR_SETUP, 0,
		          "CA key %s/%s: owner %u mode 0%o, expected owner %u mode 0600", dir, name,
		          (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
		goto cleanup;
	}
	n = read_full(fd, buf, sizeof buf);
	if (n < 0) {
		error_errno(err, "CA %s/%s", dir, name);
		goto cleanup;
	}
	if (n == (ssize_t)sizeof buf) {
		error_set(err, CORRAL_ERR_SETUP, 0, "CA %s/%s: larger than %d bytes", dir, name, CA_FILE_MAX);
		goto cleanup;
	}
	if (n == 0) {
		error_set(err, CORRAL_ERR_SETUP, 0, "CA %s/%s: empty", dir, name);
		goto cleanup;
	}
	/* Secure memory: cleansed when freed, as buf is below. */
	bio = BIO_new(BIO_s_secmem());
	if (bio && BIO_write(bio, buf, (int)n) != (int)n) {
		BIO_free(bio);
		bio = NULL;
	}
	if (!bio)
		tls_ca_ssl_error(err, "CA %s/%s", dir, name);
cleanup:
	OPENSSL_cleanse(buf, sizeof buf);
	if (fd >= 0)
		close(fd);
	return bio;
}

static void format_time(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "?");
}

/* The CA in dir (cafd): both files readable, matching, a CA, in time. */
static int load_ca(int cafd, const char *dir, struct tls_ca *ca, corral_error *err)
{
	int rc = -1;
	char when[64];
	BIO *pem = NULL, *key = NULL;
	struct stat st;
	if (fstat(cafd, &st) < 0) {
		error_errno(err, "CA directory %s", dir);
		goto cleanup;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		error_set(err, CORRAL_ERR_SETUP, 0,
		          "CA directory %s: owner %u mode 0%o, expected owner %u mode 0700", dir,
		          (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
		goto cleanup;
	}
	if (!(pem = read_ca_file(cafd, dir, "ca.pem", false, err)) ||
	    !(key = read_ca_file(cafd, dir, "ca.key", true, err)))
		goto cleanup;
	/* OpenSSL's reasons ("nested asn1 error") would not help here. */
	if (!(ca->cert = PEM_read_bio_X509(pem, NULL, NULL, NULL))) {
		ERR_clear_error();
		error_set(err, CORRAL_ERR_SETUP, 0, "CA certificate %s/ca.pem: not a PEM certificate", dir);
		goto cleanup;
	}
	if (!(ca->key = PEM_read_bio_PrivateKey(key, NULL, no_passphrase, NULL))) {
		ERR_clear_error();
		error_set(err, CORRAL_ERR_SETUP, 0,
		          "CA key %s/ca.key: not a PEM private key without passphrase", dir);
		goto cleanup;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		error_set(err, CORRAL_ERR_SETUP, 0, "CA key %s/ca.key does not match ca.pem", dir);
		goto cleanup;
	}
	/* 1: basicConstraints CA:TRUE (not a v1 root or a keyUsage-only one). */
	if (X509_check_ca(ca->cert) != 1 || !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN)) {
		error_set(err, CORRAL_ERR_SETUP, 0, "CA certificate %s/ca.pem: not a CA certificate", dir);
		goto cleanup;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(ca->cert)) <= 0) {
		format_time(X509_get0_notAfter(ca->cert), when, sizeof when);
		error_set(err, CORRAL_ERR_SETUP, 0,
		          "CA certificate %s/ca.pem: expired on %s (remove %s for a new CA)", dir, when, dir);
		goto cleanup;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(ca->cert)) > 0) {
		format_time(X509_get0_notBefore(ca->cert), when, sizeof when);
		error_set(err, CORRAL_ERR_SETUP, 0,
		          "CA certificate %s/ca.pem: not valid before %s (is the clock right?)", dir, when);
		goto cleanup;
	}
	rc = 0;
cleanup:
	BIO_free(pem);
	BIO_free(key);
	return rc;
}

/* A new CA certificate for key: CN "corral egress CA (<hostname>)". */
static X509 *make_ca_cert(EVP_PKEY *key)
{
	char host[64] = "", cn[64];
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	for (char *c = host; *c; c++)   /* any bytes may come back; the name wants UTF-8 */
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '.'))
			*c = '?';
	/* A common name has at most 64 characters. */
	snprintf(cn, sizeof cn, "corral egress CA (%.44s)", host);
	X509 *x = NULL;
	X509_NAME *name = X509_NAME_new();
	if (!name ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !(x = tls_ca_cert_new(name, key, CA_DAYS)) || !X509_set_issuer_name(x, name) ||
	    tls_ca_cert_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    tls_ca_cert_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    tls_ca_cert_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    tls_ca_cert_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

/* Write bio's contents to a new file dirfd/name and sync it. */
static int write_new_file(int dirfd, const char *name, BIO *bio, mode_t mode)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* The mode exactly, whatever the umask. */
	int rc = len > 0 && fchmod(fd, mode) == 0 && write_all(fd, data, (size_t)len) == 0 &&
	         fsync(fd) == 0 ? 0 : -1;
	int saved = errno;
	if (close(fd) < 0 && rc == 0)
		return -1;
	errno = saved;
	return rc;
}

static void remove_tmp_dir(int statefd, const char *tmp)
{
	int fd = openat(statefd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		unlinkat(fd, "ca.pem", 0);
		unlinkat(fd, "ca.key", 0);
		close(fd);
	}
	unlinkat(statefd, tmp, AT_REMOVEDIR);
}

/* Make a CA in a fresh temporary directory and rename it to "ca". Losing
 * the rename to another process is fine: its CA is then the one. */
static int create_ca(int statefd, const char *state_dir, corral_error *err)
{
	int rc = -1, tmpfd = -1;
	bool made = false;
	char tmp[64];
	unsigned char rnd[8];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *pem = BIO_new(BIO_s_mem()), *keypem = BIO_new(BIO_s_secmem());
	if (!pem || !keypem || !(key = tls_ca_p256_key()) || !(cert = make_ca_cert(key)) ||
	    !PEM_write_bio_X509(pem, cert) ||
	    !PEM_write_bio_PrivateKey(keypem, key, NULL, NULL, 0, NULL, NULL)) {
		tls_ca_ssl_error(err, "CA in %s/ca: creating it", state_dir);
		goto cleanup;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		error_errno(err, "CA in %s/ca: getrandom", state_dir);
		goto cleanup;
	}
	snprintf(tmp, sizeof tmp, "ca.new-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	         rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (mkdirat(statefd, tmp, 0700) < 0) {
		error_errno(err, "CA in %s/ca: mkdir %s", state_dir, tmp);
		goto cleanup;
	}
	made = true;
	tmpfd = openat(statefd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd < 0 || fchmod(tmpfd, 0700) < 0 || write_new_file(tmpfd, "ca.key", keypem, 0600) < 0 ||
	    write_new_file(tmpfd, "ca.pem", pem, 0644) < 0 || fsync(tmpfd) < 0) {
		error_errno(err, "CA in %s/ca: writing %s", state_dir, tmp);
		goto cleanup;
	}
	int r = renameat2(statefd, tmp, statefd, "ca", RENAME_NOREPLACE);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS))
		r = renameat(statefd, tmp, statefd, "ca");  /* no NOREPLACE here: a full "ca" still refuses */
	if (r == 0) {
		made = false;
		if (fsync(statefd) < 0) {
			error_errno(err, "CA in %s/ca: fsync %s", state_dir, state_dir);
			goto cleanup;
		}
	} else if (errno != EEXIST && errno != ENOTEMPTY) {
		error_errno(err, "CA in %s/ca: rename %s", state_dir, tmp);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (tmpfd >= 0)
		close(tmpfd);
	if (made)
		remove_tmp_dir(statefd, tmp);
	BIO_free(pem);
	BIO_free(keypem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

struct tls_ca *tls_ca_load_or_create(const char *state_dir, corral_error *err)
{
	char dir[PATH_MAX];
	int statefd = -1, cafd = -1;
	struct tls_ca *ca = NULL, *result = NULL;
	if (lazy_openssl_load(err) < 0)
		return NULL;
	if (!(ca = calloc(1, sizeof *ca))) {
		error_set(err, CORRAL_ERR_INTERNAL, errno, "CA in %.200s", state_dir);
		goto cleanup;
	}
	atomic_init(&ca->refs, 1);
	if (snprintf(ca->pem_path, sizeof ca->pem_path, "%s/ca/ca.pem", state_dir) >=
	    (int)sizeof ca->pem_path) {
		error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "state directory %.200s", state_dir);
		goto cleanup;
	}
	snprintf(dir, sizeof dir, "%s/ca", state_dir);
	if (mkdir_parents(state_dir, 0700) < 0 ||
	    (statefd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		error_errno(err, "state directory %s", state_dir);
		goto cleanup;
	}
	cafd = openat(statefd, "ca", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cafd < 0 && errno == ENOENT) {
		if (create_ca(statefd, state_dir, err) < 0)
			goto cleanup;
		cafd = openat(statefd, "ca", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	struct stat st;
	if (cafd < 0 && fstatat(statefd, "ca", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		error_set(err, CORRAL_ERR_SETUP, 0, "CA directory %s: a symbolic link, refused", dir);
		goto cleanup;
	}
	if (cafd < 0) {
		error_errno(err, "CA directory %s", dir);
		goto cleanup;
	}
	/* Read back even what was just written: one path to trust. */
	if (load_ca(cafd, dir, ca, err) < 0)
		goto cleanup;
	if (!(ca->leaf_key = tls_ca_p256_key())) {
		tls_ca_ssl_error(err, "CA in %s: leaf key", dir);
		goto cleanup;
	}
	int e = pthread_mutex_init(&ca->lock, NULL);
	if (e != 0) {
		error_set(err, CORRAL_ERR_INTERNAL, e, "CA in %s: mutex", dir);
		goto cleanup;
	}
	result = ca;
	ca = NULL;
cleanup:
	if (ca) {
		X509_free(ca->cert);
		EVP_PKEY_free(ca->key);
		EVP_PKEY_free(ca->leaf_key);
		free(ca);
	}
	if (cafd >= 0)
		close(cafd);
	if (statefd >= 0)
		close(statefd);
	return result;
}

/* Append the system bundle to fd; none on this host is fine. */
static int copy_system_bundle(int fd)
{
	char buf[16384];
	char last = '\n';
	int rc = -1;
	int in = open(TLS_CA_SYSTEM_BUNDLE, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto cleanup;
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n) < 0)
			goto cleanup;
		last = buf[n - 1];
	}
	rc = last == '\n' ? 0 : write_all(fd, "\n", 1);
cleanup:
	close(in);
	return rc;
}

int tls_ca_write_bundle(const struct tls_ca *ca, const char *path, corral_error *err)
{
	int rc = -1, fd = -1;
	bool created = false;
	char tmp[PATH_MAX];
	char *data = NULL;
	BIO *pem = BIO_new(BIO_s_mem());
	if (!pem || !PEM_write_bio_X509(pem, ca->cert)) {
		tls_ca_ssl_error(err, "CA bundle %s", path);
		goto cleanup;
	}
	long len = BIO_get_mem_data(pem, &data);
	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
		error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "CA bundle %.200s", path);
		goto cleanup;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		error_errno(err, "CA bundle %s", path);
		goto cleanup;
	}
	created = true;
	if (copy_system_bundle(fd) < 0) {
		error_errno(err, "CA bundle %s: copying %s", path, TLS_CA_SYSTEM_BUNDLE);
		goto cleanup;
	}
	/* Readable by the sandbox's user, whoever that is on the host. */
	if (fchmod(fd, 0644) < 0 || len <= 0 || write_all(fd, data, (size_t)len) < 0) {
		error_errno(err, "CA bundle %s", path);
		goto cleanup;
	}
	if (close(fd) < 0) {
		fd = -1;
		error_errno(err, "CA bundle %s", path);
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error_errno(err, "CA bundle %s", path);
		goto cleanup;
	}
	created = false;
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	BIO_free(pem);
	return rc;
}
