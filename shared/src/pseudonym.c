/* pseudonym.c: the pseudonymisation key file and HMAC-based pseudonyms of personal values. */
#include "kiroku/pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiroku/hmac.h"

static kr_status read_key(const char *path, uint8_t key[KR_PSEUDONYM_KEY_LEN], struct kr_error *err)
{
	struct stat sb;
	ssize_t n;
	uint8_t extra;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return kr_fail(err, errno == ENOENT ? KR_ERR_NOT_FOUND : KR_ERR_IO,
		               "cannot open the pseudonym key %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return kr_fail(err, KR_ERR_CONFIG, "the pseudonym key %s is not a regular file", path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return kr_fail(err, KR_ERR_CONFIG,
		               "the pseudonym key %s may be read by others (mode %03o): run chmod 600 %s", path,
		               (unsigned)(sb.st_mode & 0777), path);
	}
	n = read(fd, key, KR_PSEUDONYM_KEY_LEN);
	if (n == KR_PSEUDONYM_KEY_LEN && read(fd, &extra, 1) == 0) {
		close(fd);
		return KR_OK;
	}
	close(fd);
	return kr_fail(err, KR_ERR_CONFIG,
	               "the pseudonym key %s is not %d bytes: it is damaged. Restore it from a backup (a new key "
	               "changes every pseudonym)",
	               path, KR_PSEUDONYM_KEY_LEN);
}

/* Writes a new key into a temporary file beside path and links it to path, which fails if another process
 * made the key first (then its key is used). */
static kr_status make_key(const char *path, uint8_t key[KR_PSEUDONYM_KEY_LEN], bool *created, struct kr_error *err)
{
	char tmp[4096];
	size_t got = 0;
	int fd, rc;

	while (got < KR_PSEUDONYM_KEY_LEN) {
		ssize_t n = getrandom(key + got, KR_PSEUDONYM_KEY_LEN - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kr_fail(err, KR_ERR_IO, "reading the system's random source failed: %s",
			               strerror(errno));
		got += (size_t)n;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
		return kr_fail(err, KR_ERR_IO, "the path %s is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kr_fail(err, KR_ERR_IO, "cannot create the pseudonym key %s: %s", tmp, strerror(errno));
	if (write(fd, key, KR_PSEUDONYM_KEY_LEN) != KR_PSEUDONYM_KEY_LEN || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return kr_fail(err, KR_ERR_IO, "writing the pseudonym key %s failed: %s", tmp, strerror(e));
	}
	close(fd);
	rc = link(tmp, path);
	unlink(tmp);
	if (rc == 0) {
		if (created)
			*created = true;
		return KR_OK;
	}
	if (errno == EEXIST)
		return read_key(path, key, err);
	return kr_fail(err, KR_ERR_IO, "cannot create the pseudonym key %s: %s", path, strerror(errno));
}

kr_status kr_pseudonym_key(const char *path, uint8_t key[KR_PSEUDONYM_KEY_LEN], bool *created, struct kr_error *err)
{
	kr_status s;

	if (created)
		*created = false;
	s = read_key(path, key, err);
	if (s == KR_ERR_NOT_FOUND)
		s = make_key(path, key, created, err);
	if (s)
		memset(key, 0, KR_PSEUDONYM_KEY_LEN);
	return s;
}

kr_status kr_pseudonym(const uint8_t key[KR_PSEUDONYM_KEY_LEN], const char *value, size_t len,
                       char out[KR_PSEUDONYM_LEN + 1], struct kr_error *err)
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint8_t mac[KR_HMAC_SHA256_LEN];
	uint64_t bits = 0;
	kr_status s = kr_hmac_sha256(key, KR_PSEUDONYM_KEY_LEN, value, len, mac, err);

	if (s) {
		out[0] = 0;
		return s;
	}
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | mac[i];
	memcpy(out, "PN-", 3);
	for (int i = 0; i < 12; i++)
		out[3 + i] = b32[(bits >> (59 - 5 * i)) & 31];
	out[KR_PSEUDONYM_LEN] = 0;
	return KR_OK;
}
