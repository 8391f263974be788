/* testutil.c - data paths, whole-file reads and guard pages for tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root_path(const char *env, const char *def, const char *rel)
{
	static char buf[4096];
	const char *root = getenv(env);
	struct stat st;

	if (!root || !*root)
		root = def;
	snprintf(buf, sizeof(buf), "%s/%s", root, rel);
	if (stat(buf, &st) != 0) {
		fprintf(stderr, "  (skipping: %s not found; set %s)\n", buf,
			env);
		return NULL;
	}
	return buf;
}

const char *data_path(const char *rel)
{
	return root_path("ABYSS_DATA", "../shared/data", rel);
}

const char *vectors_path(const char *rel)
{
	return root_path("ABYSS_VECTORS", "../shared/vectors", rel);
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}

void *guard_alloc(const void *data, size_t len)
{
	size_t ps = page_size();
	size_t pages = (len + ps - 1) / ps + 1;
	unsigned char *base;

	base = mmap(NULL, pages * ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	mprotect(base + (pages - 1) * ps, ps, PROT_NONE);
	memcpy(base + (pages - 1) * ps - len, data, len);
	return base + (pages - 1) * ps - len;
}

void guard_free(void *p, size_t len)
{
	size_t ps = page_size();
	size_t pages = (len + ps - 1) / ps + 1;
	unsigned char *end = (unsigned char *)p + len;

	munmap(end - (pages - 1) * ps, pages * ps);
}
