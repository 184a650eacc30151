/* keyfile.h: file hygiene for private keys and data directories.
 *
 * A private key readable or writable by the group or by others, or a data directory (personal information,
 * keys) that the group or others may enter, is refused: the hub and the agent then do not start, and the
 * message names the file, its mode and the chmod that fixes it. Only stat(2) is used: nothing is changed.
 */
#ifndef KR_KEYFILE_H
#define KR_KEYFILE_H

#include "kiroku/error.h"

/* KR_OK when path is a regular file with no permission bits for group and others. KR_ERR_CONFIG otherwise
 * ("the private key /x/agent.key has mode 0644: group and others must have no access; run: chmod 600
 * /x/agent.key"), KR_ERR_NOT_FOUND when it does not exist, KR_ERR_IO when it cannot be examined. */
kr_status kr_keyfile_check(const char *path, struct kr_error *err);

/* KR_OK when dir is a directory with no permission bits for group and others; KR_ERR_CONFIG (with the chmod
 * 700 to run) otherwise; KR_ERR_NOT_FOUND when it does not exist. */
kr_status kr_datadir_check(const char *dir, struct kr_error *err);

#endif
