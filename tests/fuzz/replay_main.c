/* replay_main.c: runs a fuzz target once on each file named on the command line (or each file of a named
 * directory), for builds without libFuzzer: ctest replays the seeds and the regression inputs with it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		size_t n;
		if (len == cap) {
			uint8_t *p = realloc(data, cap ? cap * 2 : 4096);
			if (!p) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(data);
				fclose(f);
				return 1;
			}
			data = p;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	/* An exact-size copy, so that ASan sees a read past the input. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(data);
		return 1;
	}
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	unsigned files = 0;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat sb;
		DIR *d;
		struct dirent *e;
		char **names = NULL;
		size_t n = 0;

		if (stat(argv[i], &sb) != 0) {
			if (errno == ENOENT)
				continue; /* a target without regression inputs yet */
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			bad |= run_file(argv[i]);
			files++;
			continue;
		}
		if (!(d = opendir(argv[i]))) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		while ((e = readdir(d))) {
			char **p;
			if (e->d_name[0] == '.')
				continue;
			p = realloc(names, (n + 1) * sizeof *names);
			if (!p)
				break;
			names = p;
			names[n] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
			if (!names[n])
				break;
			snprintf(names[n], strlen(argv[i]) + strlen(e->d_name) + 2, "%s/%s", argv[i], e->d_name);
			n++;
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof *names, cmp);
		for (size_t k = 0; k < n; k++) {
			printf("replay %s\n", names[k]);
			bad |= run_file(names[k]);
			files++;
			free(names[k]);
		}
		free(names);
	}
	printf("replay: %u input%s run%s\n", files, files == 1 ? "" : "s", bad ? ", some could not be read" : "");
	return bad;
}
