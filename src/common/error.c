/*
 * error.c - error names and messages, and the diagnostic record.
 * Pure formatting; nothing here allocates or prints.
 */
#include "abyss/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *abyss_strerror(int code)
{
	switch (code) {
#define ABYSS__ERR_MSG(name, val, msg)                                         \
	case (val):                                                            \
		return (msg);
		ABYSS_ERRNO_MAP(ABYSS__ERR_MSG)
#undef ABYSS__ERR_MSG
	}
	return "unknown error";
}

const char *abyss_errname(int code)
{
	switch (code) {
#define ABYSS__ERR_NAME(name, val, msg)                                        \
	case (val):                                                            \
		return "ABYSS_" #name;
		ABYSS_ERRNO_MAP(ABYSS__ERR_NAME)
#undef ABYSS__ERR_NAME
	}
	return "ABYSS_E?";
}

void abyss_diag_init(struct abyss_diag *d)
{
	if (!d)
		return;
	memset(d, 0, sizeof(*d));
}

int abyss_diag_set(struct abyss_diag *d, int code, size_t line, size_t col,
		   const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return code;
	d->code = code;
	d->line = line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return code;
}

void abyss_diag_set_file(struct abyss_diag *d, const char *name)
{
	if (!d || !name)
		return;
	snprintf(d->file, sizeof(d->file), "%s", name);
}

char *abyss_diag_format(const struct abyss_diag *d, char *buf, size_t n)
{
	size_t off = 0;
	int w;

	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	if (!d)
		return buf;
#define ABYSS__APPEND(...)                                                     \
	do {                                                                   \
		w = snprintf(buf + off, n - off, __VA_ARGS__);                 \
		if (w < 0)                                                     \
			return buf;                                            \
		off += (size_t)w;                                              \
		if (off >= n)                                                  \
			return buf;                                            \
	} while (0)
	if (d->file[0])
		ABYSS__APPEND("%s:", d->file);
	if (d->line)
		ABYSS__APPEND("%zu:", d->line);
	if (d->line && d->col)
		ABYSS__APPEND("%zu:", d->col);
	if (off)
		ABYSS__APPEND(" ");
	ABYSS__APPEND("%s (%s)", d->msg[0] ? d->msg : abyss_strerror(d->code),
		      abyss_errname(d->code));
#undef ABYSS__APPEND
	return buf;
}
