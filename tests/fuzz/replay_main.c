/*
 * replay_main.c - runs a libFuzzer target over a corpus without libFuzzer
 * (stb's fuzz_main idea): `replay_X DIR|FILE...`. Built with gcc by
 * `make test`, so every input that once crashed a target stays a regression
 * test. Prints "[  PASSED  ] N test(s)." like cmocka so tests/run.sh counts it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	/* exact-size copy so ASan sees any read past the input */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int i, count = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: not found\n", argv[i]);
			bad++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];
			if (!d) {
				bad++;
				continue;
			}
			while ((e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i],
					 e->d_name);
				if (replay_file(path) == 0)
					count++;
				else
					bad++;
			}
			closedir(d);
		} else if (replay_file(argv[i]) == 0) {
			count++;
		} else {
			bad++;
		}
	}
	printf("replayed %d inputs\n", count);
	if (bad) {
		printf("[  FAILED  ] %d test(s), unreadable inputs\n", bad);
		return 1;
	}
	printf("[  PASSED  ] %d test(s).\n", count);
	return 0;
}
