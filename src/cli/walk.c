/*
 * walk.c - collect the inputs of a command (see walk.h). Folders are read
 * with opendir/readdir; each folder's entries are sorted by name before they
 * are visited, so a run over a tree always lists holes in the same order.
 */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "abyss/load.h"

#define WALK_DEPTH_MAX 64

void cli_paths_init(struct cli_paths *p)
{
	memset(p, 0, sizeof(*p));
}

void cli_paths_free(struct cli_paths *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	cli_paths_init(p);
}

static int paths__push(struct cli_paths *p, const char *s)
{
	char *copy;

	if (p->n >= CLI_PATHS_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -1;
	p->v[p->n++] = copy;
	return 0;
}

static int has_xls_suffix(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcasecmp(name + n - 4, ".xls") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct cli_paths *p, const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (depth > WALK_DEPTH_MAX)
		return 0; /* a link loop or an absurd tree: stop quietly */
	if (abyss_input_kind(dir) == ABYSS_INPUT_MQTT_FOLDER &&
	    paths__push(p, dir) != 0)
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 32;
			char **v = realloc(names, c * sizeof(*v));
			if (!v) {
				rc = -1;
				break;
			}
			names = v;
			cap = c;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0 && n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; rc == 0 && i < n; i++) {
		char path[4096];
		struct stat st;
		int w = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue;
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk(p, path, depth + 1);
		else if (S_ISREG(st.st_mode) && has_xls_suffix(names[i]))
			rc = paths__push(p, path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int cli_paths_add(struct cli_paths *p, const char *arg, int recurse)
{
	struct stat st;
	char dir[4096];
	size_t len;

	if (stat(arg, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return paths__push(p, arg);
	/* strip trailing slashes so paths print cleanly */
	len = strlen(arg);
	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, arg, len + 1);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	if (!recurse) {
		if (abyss_input_kind(dir) == ABYSS_INPUT_MQTT_FOLDER)
			return paths__push(p, dir);
		errno = EISDIR;
		return -1;
	}
	return walk(p, dir, 0);
}
