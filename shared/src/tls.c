/* tls.c: certificates and TLS connections over mbedTLS 2.28; every mbedTLS call of kiroku is in this file. */
#include "kiroku/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "kiroku/crypto.h"
#include "kiroku/hmac.h"
#include "kiroku/ids.h"
#include "kiroku/keyfile.h"

#define CA_KEY_FILE              "ca.key"
#define CA_CRT_FILE              "ca.crt"
#define CA_DAYS                  3650
#define BACKDATE_SECS            86400 /* certificates start a day early: agents' clocks may run late */
#define MAX_SAN_ENTRIES          16
#define MAX_CSR_BYTES            16384
#define PEM_BUF_SIZE             4096 /* an ECDSA P-256 certificate or key in PEM is well under 2 KiB */
#define CLOSE_NOTIFY_MS          500
#define REFUSAL_LINGER_MS        250 /* after a refused handshake: time for the peer to read our alert */
#define DEFAULT_WRITE_TIMEOUT_MS 10000

/* TLS 1.2 suites: ECDHE for forward secrecy, ECDSA P-256 certificates, AES-GCM. mbedTLS keeps the pointer, so the
 * arrays are static. */
static const int kr_ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};
static const mbedtls_ecp_group_id kr_curves[] = {MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE};
static const int kr_sig_hashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384, MBEDTLS_MD_NONE};

/* ---- small helpers ---- */

/* "mbedTLS -0x7480 (SSL - ...)" for a negative mbedTLS code. */
static void mbed_describe(int code, char *out, size_t n)
{
	char text[200];
	mbedtls_strerror(code, text, sizeof text);
	snprintf(out, n, "mbedTLS -0x%04X (%s)", (unsigned)(code < 0 ? -code : code), text);
}

static kr_status mbed_fail(struct kr_error *err, kr_status code, int mbed, const char *what, const char *subject)
{
	char d[256];
	mbed_describe(mbed, d, sizeof d);
	return kr_fail(err, code, "%s %s failed: %s", what, subject, d);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_after(int timeout_ms)
{
	return mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

/* Waits for events on fd until the deadline: 1 ready (or hung up / failed: the next call reports it), 0 timeout,
 * -1 poll failed. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - mono_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r == 0) {
			if (mono_ms() >= deadline)
				return 0;
			continue;
		}
		if (errno != EINTR)
			return -1;
	}
}

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* "YYYYMMDDhhmmss" in UTC, the only form mbedtls_x509write_crt_set_validity takes. */
static kr_status x509_time_text(int64_t t, char out[16], struct kr_error *err)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 1950 || tm.tm_year + 1900 > 9999)
		return kr_fail(err, KR_ERR_INVALID, "certificate validity time %lld is out of range", (long long)t);
	snprintf(out, 16, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
	return KR_OK;
}

static int64_t x509_time_unix(const mbedtls_x509_time *t)
{
	struct tm tm = {0};
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return (int64_t)timegm(&tm);
}

/* ---- random numbers: one CTR-DRBG per certificate operation, per server, per client ---- */

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static kr_status rng_init(struct rng *r, struct kr_error *err)
{
	static const unsigned char pers[] = "kiroku";
	int rc;

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	rc = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers, sizeof pers - 1);
	if (rc)
		return mbed_fail(err, KR_ERR_TLS, rc, "seeding the random generator", "from the OS");
	return KR_OK;
}

static void rng_free(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

/* ---- files ---- */

/* Writes data to path through a temporary file in the same directory. exclusive: fail with KR_ERR_CONFLICT if
 * path exists (atomically, by link). On error path is unchanged and the temporary file is gone. */
static kr_status write_file(const char *path, const void *data, size_t len, mode_t mode, bool exclusive,
                            struct kr_error *err)
{
	char tmp[PATH_MAX];
	const unsigned char *p = data;
	int fd, n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	kr_status st = KR_OK;

	if (n < 0 || (size_t)n >= sizeof tmp)
		return kr_fail(err, KR_ERR_IO, "writing %s failed: path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return kr_fail(err, KR_ERR_IO, "writing %s failed: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0) {
		st = kr_fail(err, KR_ERR_IO, "writing %s failed: chmod: %s", path, strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			st = kr_fail(err, KR_ERR_IO, "writing %s failed: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0) {
		st = kr_fail(err, KR_ERR_IO, "writing %s failed: fsync: %s", path, strerror(errno));
		goto out;
	}
out:
	close(fd);
	if (st == KR_OK && exclusive) {
		if (link(tmp, path) != 0)
			st = errno == EEXIST
			         ? kr_fail(err, KR_ERR_CONFLICT, "%s already exists; refusing to overwrite it", path)
			         : kr_fail(err, KR_ERR_IO, "writing %s failed: %s", path, strerror(errno));
		unlink(tmp);
	} else if (st == KR_OK) {
		if (rename(tmp, path) != 0) {
			st = kr_fail(err, KR_ERR_IO, "writing %s failed: rename: %s", path, strerror(errno));
			unlink(tmp);
		}
	} else {
		unlink(tmp);
	}
	return st;
}

static kr_status join_path(char *out, size_t n, const char *dir, const char *name, struct kr_error *err)
{
	int r = snprintf(out, n, "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= n)
		return kr_fail(err, KR_ERR_INVALID, "path %s/%s is too long", dir, name);
	return KR_OK;
}

/* ---- keys and names ---- */

static kr_status key_generate(mbedtls_pk_context *pk, struct rng *r, struct kr_error *err)
{
	int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (rc == 0)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random,
		                         &r->drbg);
	if (rc)
		return mbed_fail(err, KR_ERR_TLS, rc, "generating", "a P-256 key");
	return KR_OK;
}

/* Writes the private key in PEM to path with mode 0600. */
static kr_status key_write(mbedtls_pk_context *pk, const char *path, bool exclusive, struct kr_error *err)
{
	unsigned char pem[PEM_BUF_SIZE];
	kr_status st;
	int rc = mbedtls_pk_write_key_pem(pk, pem, sizeof pem);

	if (rc)
		return mbed_fail(err, KR_ERR_TLS, rc, "encoding the key for", path);
	st = write_file(path, pem, strlen((char *)pem), 0600, exclusive, err);
	mbedtls_platform_zeroize(pem, sizeof pem);
	return st;
}

/* A CA common name: printable ASCII without the characters that mean something in a DN string. */
static bool common_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > KR_CERT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || strchr(",=+\\\"<>;#", c))
			return false;
	}
	return s[0] != ' ' && s[n - 1] != ' ';
}

static bool dns_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* Rebuilds a DN string ("CN=x,O=kiroku") from a parsed name, escaping special characters, so the issuer of a
 * new certificate is written exactly as the CA's subject. */
static kr_status dn_string(const mbedtls_x509_name *name, char *out, size_t n, struct kr_error *err)
{
	size_t used = 0;

	out[0] = 0;
	for (; name; name = name->next) {
		const char *short_name;
		if (!name->oid.p)
			continue;
		if (mbedtls_oid_get_attr_short_name(&name->oid, &short_name) != 0)
			return kr_fail(err, KR_ERR_INVALID, "the CA's subject has an attribute kiroku cannot copy");
		int w = snprintf(out + used, n - used, "%s%s=", used ? "," : "", short_name);
		if (w < 0 || (size_t)w >= n - used)
			goto too_long;
		used += (size_t)w;
		for (size_t i = 0; i < name->val.len; i++) {
			unsigned char c = name->val.p[i];
			if (c < 0x20 || c == 0x7f)
				return kr_fail(err, KR_ERR_INVALID, "the CA's subject has a control character");
			if (used + 3 >= n)
				goto too_long;
			if (strchr(",=+\\\"<>;#", c))
				out[used++] = '\\';
			out[used++] = (char)c;
		}
		out[used] = 0;
	}
	return KR_OK;
too_long:
	return kr_fail(err, KR_ERR_INVALID, "the CA's subject is too long");
}

/* Copies an attribute value as text (printable ASCII, at most KR_CERT_NAME_MAX). */
static bool name_text(const mbedtls_x509_buf *val, char *out)
{
	if (val->len > KR_CERT_NAME_MAX)
		return false;
	for (size_t i = 0; i < val->len; i++) {
		if (val->p[i] < 0x20 || val->p[i] > 0x7e)
			return false;
		out[i] = (char)val->p[i];
	}
	out[val->len] = 0;
	return true;
}

/* SHA-256 of a public key's SubjectPublicKeyInfo DER, in hex. Returns 0 or an mbedTLS error. */
static int pk_sha256(mbedtls_pk_context *pk, char out_hex[KR_FINGERPRINT_HEX_LEN + 1])
{
	unsigned char der[512], hash[32];
	int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof der); /* written at the end of der */
	int rc;

	out_hex[0] = 0;
	if (n <= 0)
		return n ? n : -1;
	rc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), der + sizeof der - n, (size_t)n, hash);
	if (rc == 0)
		hex_encode(hash, sizeof hash, out_hex);
	return rc;
}

static kr_status cert_info_from(const mbedtls_x509_crt *crt, struct kr_cert_info *out, struct kr_error *err)
{
	const mbedtls_x509_name *name;
	unsigned char hash[32];
	size_t off = 0;
	bool have_cn = false, have_ou = false;

	memset(out, 0, sizeof *out);
	for (name = &crt->subject; name; name = name->next) {
		bool is_cn, is_ou;
		if (!name->oid.p)
			continue;
		is_cn = MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0;
		is_ou = MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &name->oid) == 0;
		if ((is_cn && have_cn) || (is_ou && have_ou))
			return kr_fail(err, KR_ERR_INVALID, "the certificate's subject has two %s attributes",
			               is_cn ? "CN" : "OU");
		if ((is_cn && !name_text(&name->val, out->cn)) || (is_ou && !name_text(&name->val, out->ou)))
			return kr_fail(err, KR_ERR_INVALID, "the certificate's subject %s is not short printable text",
			               is_cn ? "CN" : "OU");
		have_cn |= is_cn;
		have_ou |= is_ou;
	}
	if (crt->serial.len > 20)
		return kr_fail(err, KR_ERR_INVALID, "the certificate's serial is longer than 20 bytes");
	while (off + 1 < crt->serial.len && crt->serial.p[off] == 0)
		off++;
	hex_encode(crt->serial.p + off, crt->serial.len - off, out->serial);
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), crt->raw.p, crt->raw.len, hash) != 0)
		return kr_fail(err, KR_ERR_INTERNAL, "hashing a certificate failed");
	hex_encode(hash, sizeof hash, out->fingerprint);
	if (pk_sha256((mbedtls_pk_context *)&crt->pk, out->key_sha256) != 0)
		return kr_fail(err, KR_ERR_INVALID, "the certificate's public key cannot be encoded");
	out->not_before = x509_time_unix(&crt->valid_from);
	out->not_after = x509_time_unix(&crt->valid_to);
	out->is_ca = crt->ca_istrue != 0;
	return KR_OK;
}

kr_status kr_cert_info_file(const char *crt_path, struct kr_cert_info *out, struct kr_error *err)
{
	mbedtls_x509_crt crt;
	kr_status st;
	int rc;

	memset(out, 0, sizeof *out);
	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse_file(&crt, crt_path);
	if (rc < 0)
		st = mbed_fail(err, KR_ERR_MALFORMED, rc, "reading the certificate", crt_path);
	else if (!crt.raw.p)
		st =
		    kr_fail(err, KR_ERR_MALFORMED, "reading the certificate %s failed: no certificate in it", crt_path);
	else
		st = cert_info_from(&crt, out, err);
	mbedtls_x509_crt_free(&crt);
	if (st)
		memset(out, 0, sizeof *out);
	return st;
}

kr_status kr_cert_info_mem(const void *data, size_t len, struct kr_cert_info *out, struct kr_error *err)
{
	mbedtls_x509_crt crt;
	unsigned char *copy;
	kr_status st;
	int rc;

	memset(out, 0, sizeof *out);
	if (len == 0 || len > MAX_CSR_BYTES)
		return kr_fail(err, len ? KR_ERR_TOO_BIG : KR_ERR_MALFORMED, "a certificate of %zu bytes", len);
	/* PEM parsed from memory needs the terminating NUL counted in the length. */
	copy = malloc(len + 1);
	if (!copy)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading a certificate");
	memcpy(copy, data, len);
	copy[len] = 0;
	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse(&crt, copy, copy[0] == '-' ? len + 1 : len);
	if (rc < 0 || !crt.raw.p)
		st = mbed_fail(err, KR_ERR_MALFORMED, rc, "reading", "a certificate");
	else
		st = cert_info_from(&crt, out, err);
	mbedtls_x509_crt_free(&crt);
	free(copy);
	if (st)
		memset(out, 0, sizeof *out);
	return st;
}

kr_status kr_cert_fingerprint(const char *crt_path, char out_hex[KR_FINGERPRINT_HEX_LEN + 1], struct kr_error *err)
{
	struct kr_cert_info info;
	kr_status st = kr_cert_info_file(crt_path, &info, err);

	out_hex[0] = 0;
	if (st)
		return st;
	memcpy(out_hex, info.fingerprint, KR_FINGERPRINT_HEX_LEN + 1);
	return KR_OK;
}

/* ---- certificate extensions (mbedTLS 2.28 has no helper for these): DER written back to front ---- */

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId. Returns the DER length or an mbedTLS error. */
static int der_eku(unsigned char *start, unsigned char **p, bool server)
{
	int ret;
	size_t len = 0;

	if (server)
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_SERVER_AUTH,
		                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
	else
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_CLIENT_AUTH,
		                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return (int)len;
}

/* GeneralNames ::= SEQUENCE OF GeneralName; dNSName is [2] IA5String (tag 0x82), iPAddress [7] OCTET STRING of
 * 4 bytes for IPv4 (tag 0x87). Entries are written last first so they appear in the order given. */
static int der_san(unsigned char *start, unsigned char **p, const struct kr_cert_request *req,
                   const unsigned char (*ips)[4])
{
	int ret;
	size_t len = 0;

	for (size_t i = req->n_ipv4_addrs; i-- > 0;) {
		size_t one = 0;
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_raw_buffer(p, start, ips[i], 4));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_len(p, start, one));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
		len += one;
	}
	for (size_t i = req->n_dns_names; i-- > 0;) {
		size_t one = 0;
		const char *name = req->dns_names[i];
		MBEDTLS_ASN1_CHK_ADD(
		    one, mbedtls_asn1_write_raw_buffer(p, start, (const unsigned char *)name, strlen(name)));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_len(p, start, one));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
		len += one;
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return (int)len;
}

/* ---- issuing ---- */

struct ca {
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
};

static void ca_free(struct ca *ca)
{
	mbedtls_x509_crt_free(&ca->crt);
	mbedtls_pk_free(&ca->key);
}

/* Loads ca_dir/ca.crt and ca_dir/ca.key and checks they belong together. On error ca is freed. */
static kr_status ca_load(const char *ca_dir, struct ca *ca, struct kr_error *err)
{
	char crt_path[PATH_MAX], key_path[PATH_MAX];
	kr_status st;
	int rc;

	mbedtls_x509_crt_init(&ca->crt);
	mbedtls_pk_init(&ca->key);
	if ((st = join_path(crt_path, sizeof crt_path, ca_dir, CA_CRT_FILE, err)) ||
	    (st = join_path(key_path, sizeof key_path, ca_dir, CA_KEY_FILE, err)))
		goto fail;
	rc = mbedtls_x509_crt_parse_file(&ca->crt, crt_path);
	if (rc != 0) {
		st = mbed_fail(err, KR_ERR_CONFIG, rc, "reading the CA certificate", crt_path);
		goto fail;
	}
	if (!ca->crt.ca_istrue) {
		st = kr_fail(err, KR_ERR_CONFIG, "%s is not a CA certificate (no CA:true)", crt_path);
		goto fail;
	}
	if ((st = kr_keyfile_check(key_path, err)) && st != KR_ERR_NOT_FOUND) {
		st = KR_ERR_CONFIG;
		goto fail;
	}
	rc = mbedtls_pk_parse_keyfile(&ca->key, key_path, NULL);
	if (rc != 0) {
		st = mbed_fail(err, KR_ERR_CONFIG, rc, "reading the CA key", key_path);
		goto fail;
	}
	rc = mbedtls_pk_check_pair(&ca->crt.pk, &ca->key);
	if (rc != 0) {
		st = kr_fail(err, KR_ERR_CONFIG, "%s does not belong to %s (mbedTLS -0x%04X)", key_path, crt_path,
		             (unsigned)-rc);
		goto fail;
	}
	return KR_OK;
fail:
	ca_free(ca);
	return st;
}

/* The validity window of a request, checked. */
static kr_status request_window(const struct kr_cert_request *req, int64_t *nb, int64_t *na, struct kr_error *err)
{
	int64_t now = (int64_t)time(NULL);

	if (req->not_before || req->not_after) {
		*nb = req->not_before;
		*na = req->not_after;
	} else if (req->days_valid > 0 && req->days_valid <= 36500) {
		*nb = now - BACKDATE_SECS;
		*na = now + (int64_t)req->days_valid * 86400;
	} else if (req->days_valid < 0 && req->days_valid >= -36500) {
		*na = now + (int64_t)req->days_valid * 86400;
		*nb = *na - 86400;
	} else {
		return kr_fail(err, KR_ERR_INVALID, "certificate validity of %d days: give 1..36500 days",
		               req->days_valid);
	}
	if (*na <= *nb)
		return kr_fail(err, KR_ERR_INVALID, "certificate validity ends before it starts");
	return KR_OK;
}

/* Checks a request and turns its IPv4 addresses into bytes. */
static kr_status request_check(const struct kr_cert_request *req, unsigned char (*ips)[4], struct kr_error *err)
{
	if (!kr_id_valid(req->node_id))
		return kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid: use 1-%d characters of a-z 0-9 . _ -",
		               req->node_id ? req->node_id : "", KR_ID_MAX);
	if (req->facility_id ? !kr_id_valid(req->facility_id) : !req->is_server)
		return kr_fail(err, KR_ERR_INVALID,
		               "facility id \"%s\" is not valid: use 1-%d characters of a-z 0-9 . _ -",
		               req->facility_id ? req->facility_id : "", KR_ID_MAX);
	if (!req->is_server && (req->n_dns_names || req->n_ipv4_addrs))
		return kr_fail(err, KR_ERR_INVALID, "a client certificate carries no subjectAltName");
	if (req->n_dns_names > MAX_SAN_ENTRIES || req->n_ipv4_addrs > MAX_SAN_ENTRIES)
		return kr_fail(err, KR_ERR_INVALID, "at most %d DNS names and %d IPv4 addresses", MAX_SAN_ENTRIES,
		               MAX_SAN_ENTRIES);
	for (size_t i = 0; i < req->n_dns_names; i++)
		if (!dns_name_ok(req->dns_names[i]))
			return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not a DNS name",
			               req->dns_names[i] ? req->dns_names[i] : "");
	for (size_t i = 0; i < req->n_ipv4_addrs; i++)
		if (!req->ipv4_addrs[i] || inet_pton(AF_INET, req->ipv4_addrs[i], ips[i]) != 1)
			return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not an IPv4 address",
			               req->ipv4_addrs[i] ? req->ipv4_addrs[i] : "");
	return KR_OK;
}

/* Fills crt_pem (NUL-terminated) with a certificate for subject_key signed by the issuer. issuer_crt NULL means
 * self-signed (a CA certificate with subject_dn). */
static kr_status sign_cert(struct rng *r, const mbedtls_x509_crt *issuer_crt, mbedtls_pk_context *issuer_key,
                           mbedtls_pk_context *subject_key, const char *subject_dn, int64_t nb, int64_t na, bool is_ca,
                           const struct kr_cert_request *req, const unsigned char (*ips)[4],
                           unsigned char crt_pem[PEM_BUF_SIZE], struct kr_error *err)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char serial_bytes[16], ext[1024], *p;
	char issuer_dn[512], t_nb[16], t_na[16];
	const char *what = "setting up";
	kr_status st;
	int rc;

	if ((st = x509_time_text(nb, t_nb, err)) || (st = x509_time_text(na, t_na, err)))
		return st;
	if (issuer_crt) {
		if ((st = dn_string(&issuer_crt->subject, issuer_dn, sizeof issuer_dn, err)))
			return st;
	} else {
		snprintf(issuer_dn, sizeof issuer_dn, "%s", subject_dn);
	}
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
	/* 16 random bytes, positive (top bit clear) and with no leading zero byte. */
	rc = mbedtls_ctr_drbg_random(&r->drbg, serial_bytes, sizeof serial_bytes);
	if (rc)
		goto mbed;
	serial_bytes[0] = (unsigned char)((serial_bytes[0] & 0x7f) | 0x40);
	what = "setting the serial of";
	if ((rc = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes)) ||
	    (rc = mbedtls_x509write_crt_set_serial(&w, &serial)))
		goto mbed;
	what = "setting the names of";
	if ((rc = mbedtls_x509write_crt_set_subject_name(&w, subject_dn)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, issuer_dn)))
		goto mbed;
	what = "setting the validity of";
	if ((rc = mbedtls_x509write_crt_set_validity(&w, t_nb, t_na)))
		goto mbed;
	what = "setting the extensions of";
	if ((rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)) ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&w)))
		goto mbed;
	if (is_ca) {
		if ((rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0)) ||
		    (rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
		                                                      MBEDTLS_X509_KU_CRL_SIGN)))
			goto mbed;
	} else {
		if ((rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) ||
		    (rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)))
			goto mbed;
		p = ext + sizeof ext;
		rc = der_eku(ext, &p, req->is_server);
		if (rc < 0)
			goto mbed;
		rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		                                         MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p,
		                                         (size_t)rc);
		if (rc)
			goto mbed;
		if (req->is_server && (req->n_dns_names || req->n_ipv4_addrs)) {
			p = ext + sizeof ext;
			rc = der_san(ext, &p, req, ips);
			if (rc < 0)
				goto mbed;
			rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
			                                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p,
			                                         (size_t)rc);
			if (rc)
				goto mbed;
		}
	}
	what = "signing";
	rc = mbedtls_x509write_crt_pem(&w, crt_pem, PEM_BUF_SIZE, mbedtls_ctr_drbg_random, &r->drbg);
	if (rc)
		goto mbed;
	st = KR_OK;
	goto out;
mbed:
	st = mbed_fail(err, KR_ERR_TLS, rc, what, "a certificate");
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return st;
}

kr_status kr_ca_init(const char *dir, const char *common_name, struct kr_error *err)
{
	char key_path[PATH_MAX], crt_path[PATH_MAX], dn[128];
	unsigned char pem[PEM_BUF_SIZE];
	mbedtls_pk_context key;
	struct rng r;
	int64_t now = (int64_t)time(NULL);
	kr_status st;

	if (!common_name_ok(common_name))
		return kr_fail(err, KR_ERR_INVALID,
		               "CA name \"%s\" is not valid: 1-%d printable characters, none of , = + \\ \" < > ; #",
		               common_name ? common_name : "", KR_CERT_NAME_MAX);
	if ((st = join_path(key_path, sizeof key_path, dir, CA_KEY_FILE, err)) ||
	    (st = join_path(crt_path, sizeof crt_path, dir, CA_CRT_FILE, err)))
		return st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return kr_fail(err, KR_ERR_IO, "creating the CA directory %s failed: %s", dir, strerror(errno));
	if (access(key_path, F_OK) == 0)
		return kr_fail(err, KR_ERR_CONFLICT, "%s already holds a CA (%s); refusing to overwrite it", dir,
		               key_path);
	snprintf(dn, sizeof dn, "CN=%s,O=kiroku", common_name);
	mbedtls_pk_init(&key);
	if ((st = rng_init(&r, err)))
		goto out;
	if ((st = key_generate(&key, &r, err)))
		goto out;
	if ((st = sign_cert(&r, NULL, &key, &key, dn, now - BACKDATE_SECS, now + (int64_t)CA_DAYS * 86400, true, NULL,
	                    NULL, pem, err)))
		goto out;
	if ((st = key_write(&key, key_path, true, err)))
		goto out;
	if ((st = write_file(crt_path, pem, strlen((char *)pem), 0644, false, err)))
		unlink(key_path);
out:
	mbedtls_pk_free(&key);
	rng_free(&r);
	return st;
}

/* Issues a certificate for subject_key under the CA in ca_dir into pem. */
static kr_status issue_for_key(struct rng *r, const char *ca_dir, mbedtls_pk_context *subject_key,
                               const struct kr_cert_request *req, unsigned char pem[PEM_BUF_SIZE], struct kr_error *err)
{
	unsigned char ips[MAX_SAN_ENTRIES][4];
	char dn[256];
	int64_t nb = 0, na = 0; /* set by request_window; initialised for the optimiser */
	struct ca ca;
	kr_status st;

	if ((st = request_check(req, ips, err)) || (st = request_window(req, &nb, &na, err)))
		return st;
	if (req->facility_id)
		snprintf(dn, sizeof dn, "CN=%s,O=kiroku,OU=%s", req->node_id, req->facility_id);
	else
		snprintf(dn, sizeof dn, "CN=%s,O=kiroku", req->node_id);
	if ((st = ca_load(ca_dir, &ca, err)))
		return st;
	st = sign_cert(r, &ca.crt, &ca.key, subject_key, dn, nb, na, false, req, (const unsigned char(*)[4])ips, pem,
	               err);
	ca_free(&ca);
	return st;
}

kr_status kr_cert_issue(const char *ca_dir, const char *out_key_path, const char *out_crt_path,
                        const struct kr_cert_request *req, struct kr_error *err)
{
	unsigned char pem[PEM_BUF_SIZE];
	mbedtls_pk_context key;
	struct rng r;
	kr_status st;

	mbedtls_pk_init(&key);
	if ((st = rng_init(&r, err)) || (st = key_generate(&key, &r, err)) ||
	    (st = issue_for_key(&r, ca_dir, &key, req, pem, err)))
		goto out;
	/* The key goes to a temporary name first and is renamed only once the certificate is written, so a
	 * failure leaves the old pair as it was (or only the certificate replaced, if the last rename fails). */
	{
		char key_tmp[PATH_MAX];
		int n = snprintf(key_tmp, sizeof key_tmp, "%s.new", out_key_path);
		if (n < 0 || (size_t)n >= sizeof key_tmp) {
			st = kr_fail(err, KR_ERR_INVALID, "path %s is too long", out_key_path);
			goto out;
		}
		if ((st = key_write(&key, key_tmp, false, err)))
			goto out;
		if ((st = write_file(out_crt_path, pem, strlen((char *)pem), 0644, false, err))) {
			unlink(key_tmp);
			goto out;
		}
		if (rename(key_tmp, out_key_path) != 0) {
			st = kr_fail(err, KR_ERR_IO, "writing %s failed: rename: %s", out_key_path, strerror(errno));
			unlink(key_tmp);
		}
	}
out:
	mbedtls_pk_free(&key);
	rng_free(&r);
	return st;
}

static kr_status csr_make(const char *out_key_path, bool reuse, const char *node_id, const char *facility_id,
                          struct kr_buf *csr_pem, struct kr_error *err);

kr_status kr_csr_make(const char *out_key_path, const char *node_id, const char *facility_id, struct kr_buf *csr_pem,
                      struct kr_error *err)
{
	return csr_make(out_key_path, false, node_id, facility_id, csr_pem, err);
}

kr_status kr_csr_make_for_key(const char *key_path, const char *node_id, const char *facility_id,
                              struct kr_buf *csr_pem, struct kr_error *err)
{
	return csr_make(key_path, true, node_id, facility_id, csr_pem, err);
}

static kr_status csr_make(const char *out_key_path, bool reuse, const char *node_id, const char *facility_id,
                          struct kr_buf *csr_pem, struct kr_error *err)
{
	unsigned char pem[PEM_BUF_SIZE];
	mbedtls_x509write_csr w;
	mbedtls_pk_context key;
	struct rng r;
	char dn[256];
	kr_status st;
	int rc;

	if (!kr_id_valid(node_id))
		return kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid", node_id ? node_id : "");
	if (facility_id && !kr_id_valid(facility_id))
		return kr_fail(err, KR_ERR_INVALID, "facility id \"%s\" is not valid", facility_id);
	if (facility_id)
		snprintf(dn, sizeof dn, "CN=%s,O=kiroku,OU=%s", node_id, facility_id);
	else
		snprintf(dn, sizeof dn, "CN=%s,O=kiroku", node_id);
	mbedtls_pk_init(&key);
	mbedtls_x509write_csr_init(&w);
	if ((st = rng_init(&r, err)))
		goto out;
	if (reuse) {
		if ((st = kr_keyfile_check(out_key_path, err)))
			goto out;
		if ((rc = mbedtls_pk_parse_keyfile(&key, out_key_path, NULL)) != 0) {
			st = mbed_fail(err, KR_ERR_CONFIG, rc, "reading the key", out_key_path);
			goto out;
		}
		if (mbedtls_pk_get_type(&key) != MBEDTLS_PK_ECKEY ||
		    mbedtls_pk_ec(key)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
			st = kr_fail(err, KR_ERR_CONFIG, "%s is not an ECDSA P-256 key", out_key_path);
			goto out;
		}
	} else if ((st = key_generate(&key, &r, err))) {
		goto out;
	}
	mbedtls_x509write_csr_set_key(&w, &key);
	mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
	if ((rc = mbedtls_x509write_csr_set_subject_name(&w, dn)) ||
	    (rc = mbedtls_x509write_csr_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &r.drbg))) {
		st = mbed_fail(err, KR_ERR_TLS, rc, "writing the certificate request for", node_id);
		goto out;
	}
	if ((st = kr_buf_reserve(csr_pem, strlen((char *)pem)))) {
		st = kr_fail(err, st, "no room for a certificate request");
		goto out;
	}
	if (!reuse && (st = key_write(&key, out_key_path, false, err)))
		goto out;
	st = kr_buf_append(csr_pem, pem, strlen((char *)pem)); /* reserved above: can't fail */
out:
	mbedtls_x509write_csr_free(&w);
	mbedtls_pk_free(&key);
	rng_free(&r);
	return st;
}

kr_status kr_cert_issue_from_csr(const char *ca_dir, const void *csr_data, size_t csr_len,
                                 const struct kr_cert_request *req, struct kr_buf *crt_pem, struct kr_error *err)
{
	unsigned char pem[PEM_BUF_SIZE], hash[MBEDTLS_MD_MAX_SIZE], *copy;
	const mbedtls_md_info_t *md;
	mbedtls_x509_csr csr;
	struct rng r;
	kr_status st;
	int rc;

	if (csr_len == 0)
		return kr_fail(err, KR_ERR_MALFORMED, "the certificate request is empty");
	if (csr_len > MAX_CSR_BYTES)
		return kr_fail(err, KR_ERR_TOO_BIG, "the certificate request is %zu bytes; at most %d are accepted",
		               csr_len, MAX_CSR_BYTES);
	copy = malloc(csr_len + 1);
	if (!copy)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading a certificate request");
	memcpy(copy, csr_data, csr_len);
	copy[csr_len] = 0;
	mbedtls_x509_csr_init(&csr);
	if ((st = rng_init(&r, err)))
		goto out;
	/* PEM from memory: the length must count the terminating NUL; DER must not. */
	rc = mbedtls_x509_csr_parse(&csr, copy, copy[0] == '-' ? csr_len + 1 : csr_len);
	if (rc) {
		st = mbed_fail(err, KR_ERR_MALFORMED, rc, "reading", "the certificate request");
		goto out;
	}
	/* mbedTLS parses a CSR without checking its signature: hash the CertificationRequestInfo and verify it
	 * with the CSR's own key, which proves the sender holds the private key. */
	md = mbedtls_md_info_from_type(csr.sig_md);
	if (!md ||
	    (csr.sig_md != MBEDTLS_MD_SHA256 && csr.sig_md != MBEDTLS_MD_SHA384 && csr.sig_md != MBEDTLS_MD_SHA512)) {
		st = kr_fail(err, KR_ERR_INVALID, "the certificate request is signed with an unsupported hash");
		goto out;
	}
	if (mbedtls_pk_get_type(&csr.pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(csr.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		st = kr_fail(err, KR_ERR_INVALID, "the certificate request's key is not an ECDSA P-256 key");
		goto out;
	}
	if ((rc = mbedtls_md(md, csr.cri.p, csr.cri.len, hash)) ||
	    (rc = mbedtls_pk_verify_ext(csr.sig_pk, csr.sig_opts, &csr.pk, csr.sig_md, hash, mbedtls_md_get_size(md),
	                                csr.sig.p, csr.sig.len))) {
		st = mbed_fail(err, KR_ERR_INVALID, rc, "checking the signature of", "the certificate request");
		goto out;
	}
	if ((st = issue_for_key(&r, ca_dir, &csr.pk, req, pem, err)))
		goto out;
	if ((st = kr_buf_append(crt_pem, pem, strlen((char *)pem))))
		st = kr_fail(err, st, "no room for the issued certificate");
out:
	rng_free(&r);
	mbedtls_x509_csr_free(&csr);
	free(copy);
	return st;
}

/* ---- TLS configuration shared by server and client ---- */

struct tls_side {
	struct rng rng;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	bool has_cert;
};

/* One loaded set of server files (CA, certificate, key) and the mbedTLS configuration made from them. Each
 * connection set up with it holds a reference (an mbedtls_ssl_context points into the configuration for its
 * whole life), and so does the server while it is the current one: a reload swaps in a new one, and the old one
 * is freed when the last connection that uses it closes. */
struct server_conf {
	struct tls_side side;
	atomic_uint refs;
};

struct kr_tls_server {
	pthread_mutex_t lock;    /* guards cur (taking a reference to it, replacing it) */
	struct server_conf *cur; /* what new handshakes use */
	kr_tls_peer_check_fn peer_check; /* NULL: mbedTLS requires and verifies a client certificate */
	void *peer_ctx;
};

struct kr_tls_client {
	struct tls_side side;
};

static void side_free(struct tls_side *s)
{
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_x509_crt_free(&s->ca);
	mbedtls_x509_crt_free(&s->crt);
	mbedtls_pk_free(&s->key);
	rng_free(&s->rng);
}

/* Loads the files and sets up a TLS 1.2, ECDHE-ECDSA-AES-GCM, P-256, mutual-authentication configuration. */
static kr_status side_init(struct tls_side *s, int endpoint, const char *ca_crt, const char *crt, const char *key,
                           struct kr_error *err)
{
	const char *who = endpoint == MBEDTLS_SSL_IS_SERVER ? "server" : "client";
	uint32_t flags = 0;
	kr_status st;
	int rc;

	memset(s, 0, sizeof *s);
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_x509_crt_init(&s->ca);
	mbedtls_x509_crt_init(&s->crt);
	mbedtls_pk_init(&s->key);
	if ((st = rng_init(&s->rng, err)))
		return st;
	if (!ca_crt)
		return kr_fail(err, KR_ERR_CONFIG, "no CA certificate given for the TLS %s", who);
	if ((rc = mbedtls_x509_crt_parse_file(&s->ca, ca_crt)) != 0)
		return mbed_fail(err, KR_ERR_CONFIG, rc, "reading the CA certificate", ca_crt);
	if ((crt == NULL) != (key == NULL))
		return kr_fail(err, KR_ERR_CONFIG, "a TLS %s needs both a certificate and a key, or neither", who);
	if (crt) {
		if ((rc = mbedtls_x509_crt_parse_file(&s->crt, crt)) != 0)
			return mbed_fail(err, KR_ERR_CONFIG, rc, "reading the certificate", crt);
		if ((st = kr_keyfile_check(key, err)) && st != KR_ERR_NOT_FOUND)
			return KR_ERR_CONFIG;
		if ((rc = mbedtls_pk_parse_keyfile(&s->key, key, NULL)) != 0)
			return mbed_fail(err, KR_ERR_CONFIG, rc, "reading the key", key);
		if (mbedtls_pk_check_pair(&s->crt.pk, &s->key) != 0)
			return kr_fail(err, KR_ERR_CONFIG, "the key %s does not belong to the certificate %s", key,
			               crt);
		rc = mbedtls_x509_crt_verify(&s->crt, &s->ca, NULL, NULL, &flags, NULL, NULL);
		if (rc != 0) {
			char info[256];
			mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
			for (char *c = info; *c; c++)
				if (*c == '\n')
					*c = c[1] ? ';' : 0;
			return kr_fail(err, KR_ERR_CONFIG,
			               "the certificate %s is not valid under the CA %s: %s; issue a new one", crt,
			               ca_crt, info);
		}
		s->has_cert = true;
	} else if (endpoint == MBEDTLS_SSL_IS_SERVER) {
		return kr_fail(err, KR_ERR_CONFIG, "a TLS server needs a certificate and a key");
	}
	rc = mbedtls_ssl_config_defaults(&s->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc)
		return mbed_fail(err, KR_ERR_TLS, rc, "setting up", "the TLS configuration");
	/* The default preset still accepts TLS 1.0 and 1.1. */
	mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&s->conf, kr_ciphersuites);
	mbedtls_ssl_conf_curves(&s->conf, kr_curves);
	mbedtls_ssl_conf_sig_hashes(&s->conf, kr_sig_hashes);
	mbedtls_ssl_conf_cert_profile(&s->conf, &mbedtls_x509_crt_profile_suiteb);
	mbedtls_ssl_conf_renegotiation(&s->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->rng.drbg);
	/* Timeouts are deadlines kept by conn_recv/conn_send below (mbedtls_net_recv_timeout only bounds each
	 * wait, so a client trickling a byte at a time would never time out; it also uses select() and write(),
	 * which fail above fd 1023 and raise SIGPIPE). */
	if (s->has_cert && (rc = mbedtls_ssl_conf_own_cert(&s->conf, &s->crt, &s->key)) != 0)
		return mbed_fail(err, KR_ERR_TLS, rc, "setting up", "the TLS certificate");
	return KR_OK;
}

static void server_conf_put(struct server_conf *sc)
{
	if (sc && atomic_fetch_sub(&sc->refs, 1) == 1) {
		side_free(&sc->side);
		free(sc);
	}
}

/* A new configuration from the files, with one reference (the caller's). On error *out is NULL. */
static kr_status server_conf_load(const char *ca_crt, const char *crt, const char *key, struct server_conf **out,
                                  struct kr_error *err)
{
	struct server_conf *sc = calloc(1, sizeof *sc);
	kr_status st;

	*out = NULL;
	if (!sc)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory setting up the TLS server");
	if ((st = side_init(&sc->side, MBEDTLS_SSL_IS_SERVER, ca_crt, crt, key, err))) {
		side_free(&sc->side);
		free(sc);
		return st;
	}
	atomic_init(&sc->refs, 1);
	*out = sc;
	return KR_OK;
}

/* The current configuration, with a reference for the caller (server_conf_put). */
static struct server_conf *server_conf_get(struct kr_tls_server *srv)
{
	struct server_conf *sc;

	pthread_mutex_lock(&srv->lock);
	sc = srv->cur;
	atomic_fetch_add(&sc->refs, 1);
	pthread_mutex_unlock(&srv->lock);
	return sc;
}

static void server_conf_authmode(struct server_conf *sc, bool optional)
{
	/* OPTIONAL: mbedTLS verifies a presented certificate but completes the handshake either way; check_client
	 * below refuses what did not verify, so only "no certificate" reaches the peer check's judgement. */
	mbedtls_ssl_conf_authmode(&sc->side.conf, optional ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_REQUIRED);
}

kr_status kr_tls_server_new(const char *ca_crt, const char *crt, const char *key, struct kr_tls_server **out,
                            struct kr_error *err)
{
	struct kr_tls_server *srv = calloc(1, sizeof *srv);
	kr_status st;

	*out = NULL;
	if (!srv)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory setting up the TLS server");
	if ((st = server_conf_load(ca_crt, crt, key, &srv->cur, err))) {
		free(srv);
		return st;
	}
	pthread_mutex_init(&srv->lock, NULL);
	*out = srv;
	return KR_OK;
}

kr_status kr_tls_server_reload(struct kr_tls_server *srv, const char *ca_crt, const char *crt, const char *key,
                               struct kr_cert_info *info, struct kr_error *err)
{
	struct server_conf *sc, *old;
	kr_status st;

	if (info)
		memset(info, 0, sizeof *info);
	if ((st = server_conf_load(ca_crt, crt, key, &sc, err)))
		return st;
	if (info && (st = cert_info_from(&sc->side.crt, info, err))) {
		server_conf_put(sc);
		return st;
	}
	server_conf_authmode(sc, srv->peer_check != NULL);
	pthread_mutex_lock(&srv->lock);
	old = srv->cur;
	srv->cur = sc;
	pthread_mutex_unlock(&srv->lock);
	server_conf_put(old); /* freed now, or when its last connection closes */
	return KR_OK;
}

kr_status kr_tls_server_cert(struct kr_tls_server *srv, struct kr_cert_info *out, struct kr_error *err)
{
	struct server_conf *sc = server_conf_get(srv);
	kr_status st = cert_info_from(&sc->side.crt, out, err);

	server_conf_put(sc);
	return st;
}

void kr_tls_server_set_peer_check(struct kr_tls_server *srv, kr_tls_peer_check_fn fn, void *ctx)
{
	srv->peer_check = fn;
	srv->peer_ctx = ctx;
	server_conf_authmode(srv->cur, fn != NULL);
}

void kr_tls_server_free(struct kr_tls_server *srv)
{
	if (!srv)
		return;
	server_conf_put(srv->cur);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

kr_status kr_tls_client_new(const char *ca_crt, const char *crt, const char *key, struct kr_tls_client **out,
                            struct kr_error *err)
{
	struct kr_tls_client *cli = calloc(1, sizeof *cli);
	kr_status st;

	*out = NULL;
	if (!cli)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory setting up the TLS client");
	if ((st = side_init(&cli->side, MBEDTLS_SSL_IS_CLIENT, ca_crt, crt, key, err))) {
		side_free(&cli->side);
		free(cli);
		return st;
	}
	*out = cli;
	return KR_OK;
}

void kr_tls_client_free(struct kr_tls_client *cli)
{
	if (!cli)
		return;
	side_free(&cli->side);
	free(cli);
}

/* ---- connections ---- */

struct kr_tls_conn {
	int fd;
	const struct kr_tls_server *srv; /* server side: whose peer check applies; NULL on the client side */
	struct server_conf *sconf;       /* server side: the configuration ssl was set up with (a reference) */
	bool plain;
	bool ssl_set_up;
	bool established; /* handshake done */
	bool notify_sent; /* close_notify sent or not worth sending */
	mbedtls_ssl_context ssl;
	int64_t recv_deadline, send_deadline; /* CLOCK_MONOTONIC ms */
	int write_timeout_ms;
	int sys_errno; /* errno of the last failed socket call */
	char addr[KR_ADDR_MAX];
};

/* mbedTLS receive callback: one recv, waiting for data until the connection's deadline. */
static int conn_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct kr_tls_conn *c = ctx;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
		int w;
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->sys_errno = errno;
			return errno == ECONNRESET || errno == EPIPE ? MBEDTLS_ERR_NET_CONN_RESET
			                                             : MBEDTLS_ERR_NET_RECV_FAILED;
		}
		w = wait_fd(c->fd, POLLIN, c->recv_deadline);
		if (w == 0)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		if (w < 0) {
			c->sys_errno = errno;
			return MBEDTLS_ERR_NET_RECV_FAILED;
		}
	}
}

/* mbedTLS send callback: never raises SIGPIPE, waits for room until the send deadline. */
static int conn_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct kr_tls_conn *c = ctx;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		int w;
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->sys_errno = errno;
			return errno == ECONNRESET || errno == EPIPE ? MBEDTLS_ERR_NET_CONN_RESET
			                                             : MBEDTLS_ERR_NET_SEND_FAILED;
		}
		w = wait_fd(c->fd, POLLOUT, c->send_deadline);
		if (w == 0)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		if (w < 0) {
			c->sys_errno = errno;
			return MBEDTLS_ERR_NET_SEND_FAILED;
		}
	}
}

static void set_nodelay(int fd)
{
	int one = 1;
	/* Without it, small TLS records wait for delayed ACKs: a handshake took ~50 ms instead of ~10 ms. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, n, "(unknown address)");
		return;
	}
	if (sa->sa_family == AF_INET6 && strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, '.'))
		snprintf(out, n, "%s:%s", host + 7, port);
	else if (sa->sa_family == AF_INET6)
		snprintf(out, n, "[%s]:%s", host, port);
	else
		snprintf(out, n, "%s:%s", host, port);
}

/* A connection object for fd (taking it over). NULL (and fd closed) if out of memory. */
static struct kr_tls_conn *conn_new(int fd, bool plain)
{
	struct kr_tls_conn *c = calloc(1, sizeof *c);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->plain = plain;
	c->notify_sent = plain;
	c->write_timeout_ms = DEFAULT_WRITE_TIMEOUT_MS;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		format_addr((struct sockaddr *)&ss, len, c->addr, sizeof c->addr);
	else
		snprintf(c->addr, sizeof c->addr, "(not connected)");
	set_nodelay(fd);
	return c;
}

/* The verification result as one line ("The certificate validity has expired; ..."), or "" if verified. */
static void verify_text(const mbedtls_ssl_context *ssl, char *out, size_t n)
{
	uint32_t flags = mbedtls_ssl_get_verify_result(ssl);

	out[0] = 0;
	if (flags == 0 || flags == (uint32_t)-1)
		return;
	mbedtls_x509_crt_verify_info(out, n, "", flags);
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = c[1] ? ';' : 0;
}

/* The alert mbedTLS itself sends for these verification flags (ssl_parse_certificate_verify in 2.28), so that a
 * certificate refused by check_client reads the same to the client as one refused in VERIFY_REQUIRED mode. */
static unsigned char verify_alert(uint32_t flags)
{
	if (flags & MBEDTLS_X509_BADCERT_OTHER)
		return MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED;
	if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		return MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
	if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
	             MBEDTLS_X509_BADCERT_NS_CERT_TYPE | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY))
		return MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT;
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		return MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED;
	if (flags & MBEDTLS_X509_BADCERT_REVOKED)
		return MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED;
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA;
	return MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN;
}

/* Server side, right after the client's Certificate message, when a peer check is installed (VERIFY_OPTIONAL):
 * a certificate that did not verify is refused exactly as VERIFY_REQUIRED would; a verified one, or none, is
 * put to the peer check. On refusal the alert is sent and *mbed_rc says which mbedTLS code describes it (0 when
 * err already holds the whole message). */
static kr_status check_client(struct kr_tls_conn *c, int *mbed_rc, struct kr_error *err)
{
	const struct kr_tls_server *srv = c->srv;
	const mbedtls_x509_crt *crt = c->ssl.session_negotiate ? c->ssl.session_negotiate->peer_cert : NULL;
	uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
	struct kr_cert_info info;
	struct kr_error why = {0};
	unsigned char alert;

	*mbed_rc = 0;
	if (!srv || !srv->peer_check)
		return KR_OK; /* VERIFY_REQUIRED: mbedTLS has refused whatever did not verify */
	if (!crt) {
		if (srv->peer_check(srv->peer_ctx, NULL, &why) == KR_OK)
			return KR_OK;
		*mbed_rc = MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE; /* what VERIFY_REQUIRED reports */
		return KR_ERR_TLS;
	}
	if (flags != 0) {
		alert = verify_alert(flags);
		*mbed_rc = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
	} else if (cert_info_from(crt, &info, &why) != KR_OK) {
		alert = MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
	} else if (srv->peer_check(srv->peer_ctx, &info, &why) != KR_OK) {
		alert = MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED;
	} else {
		return KR_OK;
	}
	mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, alert);
	if (*mbed_rc)
		return KR_ERR_TLS;
	return kr_fail(err, KR_ERR_TLS, "tls handshake with %s failed: %s", c->addr, why.msg);
}

/* Runs the handshake on a set-up connection within its deadlines, step by step, so that the server can judge
 * the client's certificate (check_client) before it sends its Finished. */
static kr_status conn_handshake(struct kr_tls_conn *c, int timeout_ms, struct kr_error *err)
{
	char d[256], v[256];
	bool checked = false;
	int rc = 0;

	c->recv_deadline = c->send_deadline = deadline_after(timeout_ms);
	while (c->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
		int before = c->ssl.state;
		rc = mbedtls_ssl_handshake_step(&c->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (c->srv && !checked && before == MBEDTLS_SSL_CLIENT_CERTIFICATE) {
			kr_status st;
			checked = true;
			if ((st = check_client(c, &rc, err))) {
				c->notify_sent = true;
				if (rc == 0)
					return st;
				if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
					break; /* the alert is sent below, as for VERIFY_REQUIRED */
				mbed_describe(rc, d, sizeof d);
				verify_text(&c->ssl, v, sizeof v);
				return kr_fail(err, KR_ERR_TLS, "tls handshake with %s failed: %s%s%s", c->addr, d,
				               v[0] ? ": " : "", v);
			}
		}
	}
	if (rc == 0) {
		c->established = true;
		return KR_OK;
	}
	c->notify_sent = true; /* the handshake failed: no close_notify */
	/* mbedTLS 2.28 closes without a word when a required client certificate is missing; tell the client why
	 * (TLS 1.2 has no certificate_required alert: handshake_failure is what RFC 5246 suggests). */
	if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
		mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
		                               MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
	if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
		return kr_fail(err, KR_ERR_NETWORK, "tls handshake with %s failed: timed out after %d ms", c->addr,
		               timeout_ms);
	if (rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_SSL_CONN_EOF)
		return kr_fail(err, KR_ERR_NETWORK, "tls handshake with %s failed: the peer closed the connection%s",
		               c->addr, c->sys_errno ? " (reset)" : "");
	mbed_describe(rc, d, sizeof d);
	verify_text(&c->ssl, v, sizeof v);
	return kr_fail(err, KR_ERR_TLS, "tls handshake with %s failed: %s%s%s", c->addr, d, v[0] ? ": " : "", v);
}

kr_status kr_tls_conn_accept(struct kr_tls_server *srv, int fd, int timeout_ms, struct kr_tls_conn **out,
                             struct kr_error *err)
{
	struct kr_tls_conn *c = conn_new(fd, false);
	kr_status st;
	int rc;

	*out = NULL;
	if (!c)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory accepting a connection");
	mbedtls_ssl_init(&c->ssl);
	c->ssl_set_up = true;
	c->srv = srv;
	c->sconf = server_conf_get(srv);
	rc = mbedtls_ssl_setup(&c->ssl, &c->sconf->side.conf);
	if (rc) {
		st = mbed_fail(err, KR_ERR_TLS, rc, "setting up the tls connection with", c->addr);
		c->notify_sent = true;
		kr_tls_conn_close(c);
		return st;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, conn_send, conn_recv, NULL);
	if ((st = conn_handshake(c, timeout_ms, err))) {
		/* The client's last flight is still unread: closing now would send a reset that can overtake our
		 * alert, and the client would report "connection reset" instead of why it was refused. */
		if (st == KR_ERR_TLS)
			kr_tls_conn_linger(c, REFUSAL_LINGER_MS, 65536);
		kr_tls_conn_close(c);
		return st;
	}
	*out = c;
	return KR_OK;
}

kr_status kr_tls_conn_plain(int fd, struct kr_tls_conn **out, struct kr_error *err)
{
	*out = conn_new(fd, true);
	if (!*out)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory accepting a connection");
	(*out)->established = true;
	return KR_OK;
}

/* Connects a non-blocking TCP socket to host:port within the deadline. Returns the fd or -1. */
static int tcp_connect(const char *host, unsigned short port, int64_t deadline, struct kr_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	char port_text[8];
	int rc, fd = -1, last_errno = 0;

	snprintf(port_text, sizeof port_text, "%u", port);
	rc = getaddrinfo(host, port_text, &hints, &res);
	if (rc != 0) {
		kr_fail(err, KR_ERR_NETWORK, "resolving %s failed: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 1) {
			int so = 0;
			socklen_t sl = sizeof so;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
				break;
			last_errno = so ? so : errno;
		} else {
			last_errno = errno == EINPROGRESS ? ETIMEDOUT : errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		kr_fail(err, KR_ERR_NETWORK, "connecting to %s:%u failed: %s", host, port, strerror(last_errno));
	return fd;
}

/* mbedTLS 2.28 checks a host name against DNS names only; an IPv4 address is matched here against the
 * certificate's iPAddress subjectAltName entries. */
static bool peer_has_ipv4(const mbedtls_x509_crt *crt, const unsigned char ip[4])
{
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next)
		if (s->buf.p && s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && s->buf.len == 4 &&
		    memcmp(s->buf.p, ip, 4) == 0)
			return true;
	return false;
}

kr_status kr_tls_client_connect(struct kr_tls_client *cli, const char *host, unsigned short port, int timeout_ms,
                                struct kr_tls_conn **out, struct kr_error *err)
{
	int64_t deadline = deadline_after(timeout_ms);
	unsigned char ip[4];
	bool is_ipv4 = inet_pton(AF_INET, host, ip) == 1;
	struct kr_tls_conn *c;
	kr_status st;
	int fd, rc;

	*out = NULL;
	fd = tcp_connect(host, port, deadline, err);
	if (fd < 0)
		return KR_ERR_NETWORK;
	c = conn_new(fd, false);
	if (!c)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory connecting to %s", host);
	mbedtls_ssl_init(&c->ssl);
	c->ssl_set_up = true;
	c->notify_sent = true;
	rc = mbedtls_ssl_setup(&c->ssl, &cli->side.conf);
	if (rc == 0 && !is_ipv4)
		rc = mbedtls_ssl_set_hostname(&c->ssl, host);
	if (rc) {
		st = mbed_fail(err, KR_ERR_TLS, rc, "setting up the tls connection to", c->addr);
		kr_tls_conn_close(c);
		return st;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, conn_send, conn_recv, NULL);
	{
		int64_t left = deadline - mono_ms();
		st = conn_handshake(c, left > 0 ? (int)left : 0, err);
	}
	if (st == KR_OK) {
		c->notify_sent = false;
		if (is_ipv4 && !peer_has_ipv4(mbedtls_ssl_get_peer_cert(&c->ssl), ip)) {
			st = kr_fail(
			    err, KR_ERR_TLS,
			    "tls handshake with %s failed: the server's certificate does not name IP address %s",
			    c->addr, host);
		}
	}
	if (st) {
		kr_tls_conn_close(c);
		return st;
	}
	*out = c;
	return KR_OK;
}

kr_status kr_tls_conn_peer(const struct kr_tls_conn *c, struct kr_cert_info *out, struct kr_error *err)
{
	const mbedtls_x509_crt *crt;
	kr_status st;

	memset(out, 0, sizeof *out);
	if (c->plain)
		return kr_fail(err, KR_ERR_NOT_FOUND, "the connection from %s is not encrypted: no peer certificate",
		               c->addr);
	crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	if (!crt)
		return kr_fail(err, KR_ERR_NOT_FOUND, "%s sent no certificate", c->addr);
	if ((st = cert_info_from(crt, out, err))) {
		kr_error_prefix(err, "the certificate of %s", c->addr);
		memset(out, 0, sizeof *out);
		return st == KR_ERR_INTERNAL ? st : KR_ERR_FORBIDDEN;
	}
	if (!kr_id_valid(out->cn) || (out->ou[0] && !kr_id_valid(out->ou))) {
		st = kr_fail(err, KR_ERR_FORBIDDEN,
		             "the certificate of %s names node \"%s\" of facility \"%s\": not valid ids", c->addr,
		             out->cn, out->ou);
		memset(out, 0, sizeof *out);
		return st;
	}
	return KR_OK;
}

const char *kr_tls_conn_addr(const struct kr_tls_conn *c)
{
	return c->addr;
}

int kr_tls_conn_wait(struct kr_tls_conn *c, int timeout_ms)
{
	/* Decrypted bytes not yet read, or a record already buffered inside mbedTLS: poll would not see them. */
	if (!c->plain && (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 || mbedtls_ssl_check_pending(&c->ssl)))
		return 1;
	return wait_fd(c->fd, POLLIN, deadline_after(timeout_ms));
}

static ssize_t plain_read(struct kr_tls_conn *c, void *buf, size_t n, int timeout_ms, struct kr_error *err)
{
	int64_t deadline = deadline_after(timeout_ms);

	for (;;) {
		ssize_t r = recv(c->fd, buf, n, MSG_DONTWAIT);
		int w;
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == ECONNRESET)
				return 0;
			kr_fail(err, KR_ERR_NETWORK, "reading from %s failed: %s", c->addr, strerror(errno));
			return -1;
		}
		w = wait_fd(c->fd, POLLIN, deadline);
		if (w == 0) {
			kr_fail(err, KR_ERR_NETWORK, "reading from %s timed out after %d ms", c->addr, timeout_ms);
			return KR_TLS_TIMEOUT;
		}
		if (w < 0) {
			kr_fail(err, KR_ERR_NETWORK, "reading from %s failed: %s", c->addr, strerror(errno));
			return -1;
		}
	}
}

ssize_t kr_tls_conn_read(struct kr_tls_conn *c, void *buf, size_t n, int timeout_ms, struct kr_error *err)
{
	int rc;

	if (n > INT_MAX)
		n = INT_MAX;
	if (c->plain)
		return plain_read(c, buf, n, timeout_ms, err);
	c->recv_deadline = c->send_deadline = deadline_after(timeout_ms);
	for (;;) {
		rc = mbedtls_ssl_read(&c->ssl, buf, n);
		if (rc > 0)
			return rc;
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
		    rc == MBEDTLS_ERR_NET_CONN_RESET) {
			if (rc != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				c->notify_sent = true; /* the socket is gone: nobody to notify */
			return 0;
		}
		c->notify_sent = true;
		if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
			kr_fail(err, KR_ERR_NETWORK, "reading from %s timed out after %d ms", c->addr, timeout_ms);
			return KR_TLS_TIMEOUT;
		}
		mbed_fail(err, KR_ERR_TLS, rc, "tls read from", c->addr);
		return -1;
	}
}

kr_status kr_tls_conn_write_all(struct kr_tls_conn *c, const void *buf, size_t n, struct kr_error *err)
{
	const unsigned char *p = buf;

	while (n > 0) {
		size_t chunk = n > INT_MAX ? INT_MAX : n;
		int rc;

		c->send_deadline = c->recv_deadline = deadline_after(c->write_timeout_ms);
		if (c->plain) {
			rc = conn_send(c, p, chunk);
		} else {
			rc = mbedtls_ssl_write(&c->ssl, p, chunk);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
		}
		if (rc > 0) {
			p += rc;
			n -= (size_t)rc;
			continue;
		}
		c->notify_sent = true;
		if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
			return kr_fail(err, KR_ERR_NETWORK, "writing to %s timed out: it took no data for %d ms",
			               c->addr, c->write_timeout_ms);
		if (rc == MBEDTLS_ERR_NET_CONN_RESET)
			return kr_fail(err, KR_ERR_NETWORK, "writing to %s failed: the peer closed the connection",
			               c->addr);
		if (c->plain || rc == MBEDTLS_ERR_NET_SEND_FAILED)
			return kr_fail(err, KR_ERR_NETWORK, "writing to %s failed: %s", c->addr,
			               strerror(c->sys_errno ? c->sys_errno : EIO));
		return mbed_fail(err, KR_ERR_TLS, rc, "tls write to", c->addr);
	}
	return KR_OK;
}

void kr_tls_conn_set_write_timeout(struct kr_tls_conn *c, int timeout_ms)
{
	c->write_timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_WRITE_TIMEOUT_MS;
}

static void send_close_notify(struct kr_tls_conn *c)
{
	int rc;

	if (c->notify_sent || !c->established)
		return;
	c->notify_sent = true;
	c->send_deadline = c->recv_deadline = deadline_after(CLOSE_NOTIFY_MS);
	do
		rc = mbedtls_ssl_close_notify(&c->ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
}

void kr_tls_conn_linger(struct kr_tls_conn *c, int timeout_ms, size_t max_bytes)
{
	int64_t deadline = deadline_after(timeout_ms);
	unsigned char sink[4096];
	size_t total = 0;

	send_close_notify(c);
	c->notify_sent = true;
	if (shutdown(c->fd, SHUT_WR) != 0)
		return;
	while (total < max_bytes && wait_fd(c->fd, POLLIN, deadline) == 1) {
		ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

void kr_tls_conn_close(struct kr_tls_conn *c)
{
	if (!c)
		return;
	if (!c->plain && c->ssl_set_up) {
		send_close_notify(c);
		mbedtls_ssl_free(&c->ssl);
	}
	server_conf_put(c->sconf); /* after ssl: it points into the configuration */
	close(c->fd);
	free(c);
}

/* ---- HMAC (kiroku/hmac.h) ---- */

kr_status kr_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
			 uint8_t out[KR_HMAC_SHA256_LEN], struct kr_error *err)
{
	int rc = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, key_len, data, len, out);

	if (rc != 0) {
		memset(out, 0, KR_HMAC_SHA256_LEN);
		return mbed_fail(err, KR_ERR_TLS, rc, "HMAC-SHA256", "of a value");
	}
	return KR_OK;
}

/* ---- digests, random bytes, key fingerprints (kiroku/crypto.h) ---- */

kr_status kr_sha256(const void *data, size_t len, uint8_t out[KR_SHA256_LEN], struct kr_error *err)
{
	int rc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, out);

	if (rc != 0) {
		memset(out, 0, KR_SHA256_LEN);
		return mbed_fail(err, KR_ERR_TLS, rc, "SHA-256", "of a value");
	}
	return KR_OK;
}

kr_status kr_random_bytes(void *out, size_t n, struct kr_error *err)
{
	struct rng r;
	kr_status st = rng_init(&r, err);
	int rc;

	if (st) {
		rng_free(&r);
		memset(out, 0, n);
		return st;
	}
	/* mbedtls_ctr_drbg_random gives at most MBEDTLS_CTR_DRBG_MAX_REQUEST (1024) bytes a call. */
	for (size_t done = 0; done < n;) {
		size_t chunk = n - done > 1024 ? 1024 : n - done;
		if ((rc = mbedtls_ctr_drbg_random(&r.drbg, (unsigned char *)out + done, chunk)) != 0) {
			rng_free(&r);
			memset(out, 0, n);
			return mbed_fail(err, KR_ERR_TLS, rc, "drawing", "random bytes");
		}
		done += chunk;
	}
	rng_free(&r);
	return KR_OK;
}

void kr_hex(const void *p, size_t n, char *out)
{
	hex_encode(p, n, out);
}

kr_status kr_csr_key_sha256(const void *csr_data, size_t len, char out_hex[65], struct kr_error *err)
{
	mbedtls_x509_csr csr;
	unsigned char *copy;
	kr_status st = KR_OK;
	int rc;

	out_hex[0] = 0;
	if (len == 0 || len > MAX_CSR_BYTES)
		return kr_fail(err, len ? KR_ERR_TOO_BIG : KR_ERR_MALFORMED, "a certificate request of %zu bytes", len);
	if (!(copy = malloc(len + 1)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading a certificate request");
	memcpy(copy, csr_data, len);
	copy[len] = 0;
	mbedtls_x509_csr_init(&csr);
	rc = mbedtls_x509_csr_parse(&csr, copy, copy[0] == '-' ? len + 1 : len);
	if (rc)
		st = mbed_fail(err, KR_ERR_MALFORMED, rc, "reading", "the certificate request");
	else if ((rc = pk_sha256(&csr.pk, out_hex)) != 0)
		st = mbed_fail(err, KR_ERR_INVALID, rc, "encoding the key of", "the certificate request");
	mbedtls_x509_csr_free(&csr);
	free(copy);
	return st;
}

kr_status kr_key_file_sha256(const char *key_path, char out_hex[65], struct kr_error *err)
{
	mbedtls_pk_context key;
	kr_status st = KR_OK;
	int rc;

	out_hex[0] = 0;
	mbedtls_pk_init(&key);
	if ((rc = mbedtls_pk_parse_keyfile(&key, key_path, NULL)) != 0)
		st = mbed_fail(err, KR_ERR_CONFIG, rc, "reading the key", key_path);
	else if ((rc = pk_sha256(&key, out_hex)) != 0)
		st = mbed_fail(err, KR_ERR_INVALID, rc, "encoding the public half of", key_path);
	mbedtls_pk_free(&key);
	return st;
}
