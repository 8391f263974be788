/*
 * file.c - read a whole file under a size limit (see file.h). stat first,
 * so an oversized file is refused before anything is allocated.
 */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int common__read_file(const char *path, size_t max, char **bufp, size_t *lenp,
		      struct abyss_diag *diag)
{
	FILE *f;
	char *buf;
	size_t len = 0, got;
	struct stat st;

	*bufp = NULL;
	*lenp = 0;
	abyss_diag_set_file(diag, path);
	f = fopen(path, "rb");
	if (!f)
		return abyss_diag_set(
		    diag, errno == ENOENT ? ABYSS_ENOENT : ABYSS_EIO, 0, 0,
		    "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				      "not a regular file");
	}
	if ((unsigned long long)st.st_size > max) {
		fclose(f);
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "file of %lld bytes exceeds the limit "
				      "of %zu bytes",
				      (long long)st.st_size, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory reading the file");
	}
	/* read to EOF but never past max, whatever stat said */
	while ((got = fread(buf + len, 1, (size_t)st.st_size - len, f)) > 0)
		len += got;
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0, "read error");
	}
	fclose(f);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return ABYSS_OK;
}
