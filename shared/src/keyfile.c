/* keyfile.c: refusing private keys and data directories that others could read (keyfile.h). */
#include "kiroku/keyfile.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static kr_status examine(const char *path, const char *what, struct stat *sb, struct kr_error *err)
{
	if (stat(path, sb) != 0) {
		if (errno == ENOENT)
			return kr_fail(err, KR_ERR_NOT_FOUND, "the %s %s does not exist", what, path);
		return kr_fail(err, KR_ERR_IO, "cannot examine the %s %s: %s", what, path, strerror(errno));
	}
	return KR_OK;
}

kr_status kr_keyfile_check(const char *path, struct kr_error *err)
{
	struct stat sb;
	kr_status st = examine(path, "private key", &sb, err);

	if (st)
		return st;
	if (!S_ISREG(sb.st_mode))
		return kr_fail(err, KR_ERR_CONFIG, "the private key %s is not a regular file", path);
	if (sb.st_mode & 077)
		return kr_fail(err, KR_ERR_CONFIG,
		               "the private key %s has mode %04o: group and others must have no access to it; "
		               "run: chmod 600 %s",
		               path, (unsigned)(sb.st_mode & 07777), path);
	return KR_OK;
}

kr_status kr_datadir_check(const char *dir, struct kr_error *err)
{
	struct stat sb;
	kr_status st = examine(dir, "data directory", &sb, err);

	if (st)
		return st;
	if (!S_ISDIR(sb.st_mode))
		return kr_fail(err, KR_ERR_CONFIG, "the data directory %s is not a directory", dir);
	if (sb.st_mode & 077)
		return kr_fail(err, KR_ERR_CONFIG,
		               "the data directory %s has mode %04o: it holds personal information and private keys, "
		               "so group and others must have no access; run: chmod 700 %s",
		               dir, (unsigned)(sb.st_mode & 07777), dir);
	return KR_OK;
}
