/*
 * setitec_internal.h - what the files of src/setitec/ share: the arena that
 * owns every string and array of a parsed file, the parser state, and the
 * cell scanner used by both the metadata and the Datas loops.
 * Not installed; nothing outside src/setitec/ includes it.
 */
#ifndef ABYSS_SETITEC_INTERNAL_H
#define ABYSS_SETITEC_INTERNAL_H

#include <locale.h>
#include <stddef.h>

#include "abyss/setitec.h"

/* Bump allocator: a list of chunks, released together. Metadata is a few
 * KB per file, so growing an array inside the arena (copy, old copy stays)
 * wastes at most a factor two of very little. */
struct setitec__chunk {
	struct setitec__chunk *next;
	size_t used, cap;
	/* data follows, max_align_t aligned */
};

struct setitec__arena {
	struct setitec__chunk *head;
};

void *setitec__alloc(struct setitec__arena *a, size_t n);
void *setitec__grow(struct setitec__arena *a, void *old, size_t old_bytes,
		    size_t new_bytes);
void setitec__arena_free(struct setitec__arena *a);

/* What abyss_setitec.priv_ points to. */
struct setitec__priv {
	struct setitec__arena arena;
	double *samples; /* ncolumns * cap doubles, column-major */
};

/* A cell of the current line: [s, s+n) in the input buffer. */
struct setitec__span {
	const char *s;
	size_t n;
};

struct setitec__parser {
	const char *buf;
	size_t len;
	size_t pos; /* start of the next line */
	const struct abyss_setitec_limits *lim;
	struct abyss_diag *diag;
	struct abyss_setitec *f;
	struct setitec__priv *pv;
	char sep;
	size_t line; /* 1-based number of the line last read */

	/* the current line, split */
	const char *ls;
	size_t ln;
	int ends_nl; /* the line ended with '\n' (not end of input) */
	struct setitec__span *cells;
	size_t ncells, cap_cells;

	size_t cap_sections, cap_tables, cap_rows, ntables_total, nmeta_rows;
	locale_t cloc; /* C locale for the rare strtod fallback, lazily made */
};

/* Datas section: header line is the current line of p. Reads rows until
 * the end of the input or a title line (left unread). */
int setitec__parse_datas(struct setitec__parser *p);

/* Reads the next line into p->ls/ln (without '\n' and a final '\r'),
 * advancing p->pos and p->line. Returns 1, 0 at the end of the input, or
 * ABYSS_ETOOBIG for an over-long line. */
int setitec__next_line(struct setitec__parser *p);

/* Splits the current line at p->sep into p->cells, dropping trailing cells
 * that are empty or blank. Returns 0 or ABYSS_ETOOBIG/ENOMEM. */
int setitec__split(struct setitec__parser *p);

/* Copies a raw cell into the arena as trimmed UTF-8 text (Latin-1 input,
 * NUL bytes and the literal text "\u0000" dropped, the UTF-8 bytes of
 * U+FFFD kept). NULL on ENOMEM. */
const char *setitec__text(struct setitec__parser *p, const char *s, size_t n);

/* 1 if the line is a "*** title ***" line. */
int setitec__is_title(const char *s, size_t n);

/* Number parsing. fast: returns 1 and *v when [s,e) up to the first sep or
 * '\n' is a number, 0 when it is empty/blank, -1 when it is not a number;
 * *stop receives where the cell ends. cloc may be NULL (then a locale is
 * made and released for the call when needed). */
int setitec__scan_number(const char *s, const char *e, char sep,
			 const char **stop, double *v, locale_t *cloc);

/* Formats up to 40 bytes of a cell for a message (non-printables as '?'). */
void setitec__quote(char *dst, size_t dn, const char *s, size_t n);

/* Fills the typed views (general, box, ..., program, step results). */
int setitec__typed(struct setitec__parser *p);

/* ABYSS_ETOOBIG at the current line: "<what> exceeds the limit
 * <limit_name> = <limit>". */
int setitec__diag_toobig(struct setitec__parser *p, size_t col,
			 const char *what, const char *limit_name,
			 size_t limit);

#endif
