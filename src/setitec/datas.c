/*
 * datas.c - the "*** Datas ***" time series: one header row, then one row
 * of numbers per 10 ms sample to the end of the file. This is the hot path
 * (almost every byte of a file is here), so it scans each byte once,
 * converts numbers in place (number.c) and writes them straight into one
 * column-major block of doubles sized from a newline count: no per-cell
 * allocation, no strtod in the common case.
 * Values are mapped to names by position; nothing is shifted or dropped.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setitec_internal.h"

static const double pow10_fast[23] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The shape of nearly every sample cell, "[-]ddd[,ddd]", in one pass. s
 * lies in a line that ends with '\n', which stops every loop. Returns 0 for
 * anything else (spaces, thousands separators, exponents, Inf, more than 15
 * characters, empty cells), which setitec__scan_number then handles. At
 * most 15 digits keep m < 10^15 < 2^53 and k <= 14, so m / 10^k is one
 * correctly rounded division of two exact doubles, identical to strtod. */
static inline int fast_cell(const char *s, char sep, const char **stop,
			    double *v)
{
	const unsigned char *p = (const unsigned char *)s, *start, *q;
	const int neg = *p == '-';
	uint64_t m = 0;
	unsigned d;
	size_t k = 0;
	double r;

	p += neg;
	start = p;
	d = (unsigned)*p - '0';
	if (d >= 10)
		return 0;
	do {
		m = m * 10 + d; /* may wrap for long runs; rejected below */
		d = (unsigned)*++p - '0';
	} while (d < 10);
	if (*p == ',' || *p == '.') {
		q = ++p;
		d = (unsigned)*p - '0';
		while (d < 10) {
			m = m * 10 + d;
			d = (unsigned)*++p - '0';
		}
		k = (size_t)(p - q);
	}
	if ((*p != (unsigned char)sep && *p != '\n') || p - start > 15)
		return 0;
	r = (double)m / pow10_fast[k]; /* k == 0 divides by 1: exact */
	*v = neg ? -r : r;
	*stop = (const char *)p;
	return 1;
}

static int blank_line_is(const char *s, size_t n, char sep)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != sep && s[i] != ' ' && s[i] != '\r' && s[i] != '\0')
			return 0;
	return 1;
}

static size_t line_len(const char *s, const char *e)
{
	const char *nl = memchr(s, '\n', (size_t)(e - s));
	return (size_t)((nl ? nl : e) - s);
}

/* ETOOBIG when the line at s is over max_line_bytes, else 0. Checked before
 * any other error of a line, so an over-long line is always reported as
 * such whatever it contains. */
static int too_long(struct setitec__parser *p, const char *s, const char *e)
{
	if (line_len(s, e) <= p->lim->max_line_bytes)
		return 0;
	return setitec__diag_toobig(p, p->lim->max_line_bytes + 1,
				    "line length", "max_line_bytes",
				    p->lim->max_line_bytes);
}

/* Returns a sample block wide enough for column index `col` (the old one
 * is freed), or NULL with *rc set and the old block untouched. */
static double *widen(struct setitec__parser *p, double *blk, size_t width,
		     size_t cap, size_t col, size_t *out_width, int *rc)
{
	size_t nw = col + 1, i;
	double *nb;

	if (nw > p->lim->max_cols) {
		*rc = setitec__diag_toobig(p, 0, "row width", "max_cols",
					   p->lim->max_cols);
		return NULL;
	}
	if (cap && nw > p->lim->max_values / cap) {
		*rc = abyss_diag_set(p->diag, ABYSS_ETOOBIG, p->line, 0,
				     "%zu columns x %zu rows exceed the limit "
				     "max_values = %zu",
				     nw, cap, p->lim->max_values);
		return NULL;
	}
	nb = malloc((cap ? cap : 1) * nw * sizeof(double));
	if (!nb) {
		*rc = abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
				     "out of memory for %zu x %zu samples", nw,
				     cap);
		return NULL;
	}
	if (blk)
		memcpy(nb, blk, cap * width * sizeof(double));
	for (i = cap * width; i < cap * nw; i++)
		nb[i] = NAN;
	free(blk);
	*out_width = nw;
	return nb;
}

static int not_a_number(struct setitec__parser *p, const char *cell,
			const char *stop, const char *lstart, size_t field,
			const char **names, size_t nnames)
{
	char q[64];

	while (cell < stop && *cell == ' ')
		cell++;
	setitec__quote(q, sizeof(q), cell, (size_t)(stop - cell));
	return abyss_diag_set(
	    p->diag, ABYSS_EPARSE, p->line, (size_t)(cell - lstart) + 1,
	    "'%s' is not a number (field %zu, column '%s')", q, field + 1,
	    field < nnames && names[field][0] ? names[field] : "(unnamed)");
}

int setitec__parse_datas(struct setitec__parser *p)
{
	struct abyss_setitec *f = p->f;
	struct abyss_setitec_section *sec = &f->sections[f->nsections - 1];
	struct abyss_setitec_table *t;
	const char *b = p->buf, *e = p->buf + p->len;
	const char **names;
	const char sep = p->sep;
	size_t nnames = p->ncells, width, cap, ub = 0, r = 0, maxw = 0, i;
	size_t prev_w = 0, pos = p->pos;
	const size_t maxc = p->lim->max_cols;
	const int all_nl = p->len && b[p->len - 1] == '\n';
	double *blk = NULL;
	const char *q;
	int rc = 0;

	/* the header, kept as the section's only table */
	t = setitec__alloc(&p->pv->arena, sizeof(*t));
	names = setitec__alloc(&p->pv->arena, (nnames + 1) * sizeof(*names));
	if (!t || !names)
		return abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
				      "out of memory");
	for (i = 0; i < nnames; i++) {
		names[i] = setitec__text(p, p->cells[i].s, p->cells[i].n);
		if (!names[i])
			return abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
					      "out of memory");
	}
	names[nnames] = NULL;
	memset(t, 0, sizeof(*t));
	t->line = p->line;
	t->names = names;
	t->nnames = nnames;
	sec->tables = t;
	sec->ntables = 1;
	f->data_line = p->line;

	/* rows <= lines left: one cheap memchr pass sizes the block */
	for (q = b + pos; q < e; q++) {
		q = memchr(q, '\n', (size_t)(e - q));
		if (!q)
			break;
		ub++;
	}
	if (p->len > pos && b[p->len - 1] != '\n')
		ub++;
	cap = ub < p->lim->max_rows ? ub : p->lim->max_rows;
	width = nnames ? nnames : 1;
	if (cap > p->lim->max_values / width)
		cap = p->lim->max_values / width;
	if (cap) {
		if (width > SIZE_MAX / sizeof(double) / cap)
			return abyss_diag_set(p->diag, ABYSS_ETOOBIG, p->line,
					      0, "sample block too large");
		blk = malloc(cap * width * sizeof(double));
		if (!blk)
			return abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
					      "out of memory for %zu rows",
					      cap);
	}

	while (pos < p->len) {
		const char *s = b + pos, *ls = s, *stop;
		/* a line that ends in '\n' lets fast_cell run without bounds
		 * checks: the '\n' stops every loop in it. Setitec files end
		 * with '\n', so one test covers every line. */
		const int sentinel =
		    all_nl || memchr(s, '\n', (size_t)(e - s)) != NULL;
		size_t c = 0, w = 0;
		double v;
		int k;

		p->line++;
		if (*s == '*' || r >= cap || !blk) {
			size_t n = line_len(s, e);
			if (*s == '*' && setitec__is_title(s, n)) {
				p->line--; /* leave the title to the caller */
				break;
			}
			if (blank_line_is(s, n, sep)) {
				pos = (size_t)(s + n - b) + (s + n < e);
				continue;
			}
			if (r >= cap || !blk) {
				/* only reachable when a limit capped the
				 * block */
				rc = too_long(p, s, e);
				if (rc == 0 && cap == p->lim->max_rows)
					rc = setitec__diag_toobig(
					    p, 0, "data rows", "max_rows",
					    p->lim->max_rows);
				else if (rc == 0)
					rc = abyss_diag_set(
					    p->diag, ABYSS_ETOOBIG, p->line, 0,
					    "the samples exceed the limit "
					    "max_values = %zu",
					    p->lim->max_values);
				goto out;
			}
		}
		for (;;) {
			if (sentinel && fast_cell(s, sep, &stop, &v))
				k = 1;
			else
				k = setitec__scan_number(s, e, sep, &stop, &v,
							 &p->cloc);
			if (k > 0 && c < width) {
				blk[c * cap + r] = v;
				w = c + 1;
			} else if (k > 0) {
				double *nb;
				rc = too_long(p, ls, e);
				if (rc)
					goto out;
				nb = widen(p, blk, width, cap, c, &width, &rc);
				if (!nb)
					goto out;
				blk = nb;
				blk[c * cap + r] = v;
				w = c + 1;
			} else if (k < 0) {
				rc = too_long(p, ls, e);
				if (rc == 0)
					rc = not_a_number(p, s, stop, ls, c,
							  names, nnames);
				goto out;
			} else if (c < width) {
				blk[c * cap + r] = NAN;
			}
			c++;
			s = stop;
			if (s >= e || *s != sep)
				break;
			s++;
			if (c > maxc) {
				rc = too_long(p, ls, e);
				if (rc == 0)
					rc = setitec__diag_toobig(
					    p, (size_t)(s - ls), "row width",
					    "max_cols", maxc);
				goto out;
			}
		}
		if ((size_t)(s - ls) > p->lim->max_line_bytes) {
			rc = too_long(p, ls, e);
			goto out;
		}
		for (; c < width; c++)
			blk[c * cap + r] = NAN;
		if (s >= e && w && w < prev_w) {
			/* last line, no line end, fewer values than the row
			 * before: the file was cut */
			rc = abyss_diag_set(
			    p->diag, ABYSS_ETRUNCATED, p->line,
			    (size_t)(s - ls) + 1,
			    "the last row has %zu of %zu values and no line "
			    "end: the file looks truncated",
			    w, prev_w);
			goto out;
		}
		if (w) {
			r++;
			prev_w = w;
			if (w > maxw)
				maxw = w;
		}
		pos = (size_t)(s - b) + (s < e ? 1 : 0);
	}
	p->pos = pos;

	f->nsamples = r;
	f->ncolumns = width > nnames ? width : nnames;
	f->columns =
	    setitec__alloc(&p->pv->arena, (f->ncolumns ? f->ncolumns : 1) *
					      sizeof(*f->columns));
	if (!f->columns) {
		rc = abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
				    "out of memory");
		goto out;
	}
	for (i = 0; i < f->ncolumns; i++) {
		f->columns[i].name = i < nnames ? names[i] : "";
		f->columns[i].values = (r && i < maxw) ? blk + i * cap : NULL;
	}
	p->pv->samples = blk;
	return 0;
out:
	free(blk);
	return rc;
}
