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
 * anything else (spaces, thousands separators, exponents, Inf, long
 * mantissas, empty cells), which setitec__scan_number then handles. The
 * result is m / 10^k with m <= 2^53 and k <= 22: one correctly rounded
 * division, identical to strtod. */
static inline int fast_cell(const char *s, char sep, const char **stop,
			    double *v)
{
	const char *p = s, *start, *q;
	uint64_t m = 0;
	unsigned d;
	size_t k = 0;
	double r;
	int neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	start = p;
	d = (unsigned char)*p - '0';
	if (d >= 10)
		return 0;
	do {
		m = m * 10 + d; /* may wrap for long runs; rejected below */
		d = (unsigned char)*++p - '0';
	} while (d < 10);
	if (*p == ',' || *p == '.') {
		q = ++p;
		d = (unsigned char)*p - '0';
		while (d < 10) {
			m = m * 10 + d;
			d = (unsigned char)*++p - '0';
		}
		k = (size_t)(p - q);
	}
	if ((*p != sep && *p != '\n') || p - start > 18 ||
	    m > ((uint64_t)1 << 53) || k > 22)
		return 0;
	r = (double)m;
	if (k)
		r /= pow10_fast[k];
	*v = neg ? -r : r;
	*stop = p;
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

/* Makes the sample block wide enough for column index `col`. */
static int widen(struct setitec__parser *p, double **blk, size_t *width,
		 size_t cap, size_t col)
{
	size_t nw = col + 1, i;
	double *nb;

	if (nw > p->lim->max_cols)
		return setitec__diag_toobig(p, 0, "row width",
					    p->lim->max_cols);
	if (cap && nw > p->lim->max_values / cap)
		return abyss_diag_set(p->diag, ABYSS_ETOOBIG, p->line, 0,
				      "%zu columns x %zu rows exceed the limit "
				      "max_values = %zu",
				      nw, cap, p->lim->max_values);
	nb = malloc((cap ? cap : 1) * nw * sizeof(double));
	if (!nb)
		return abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
				      "out of memory for %zu x %zu samples", nw,
				      cap);
	if (*blk)
		memcpy(nb, *blk, cap * *width * sizeof(double));
	for (i = cap * *width; i < cap * nw; i++)
		nb[i] = NAN;
	free(*blk);
	*blk = nb;
	*width = nw;
	return 0;
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
		 * checks: the '\n' stops every loop in it */
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		const int sentinel = nl != NULL;
		size_t c = 0, w = 0;
		double v;
		int k;

		p->line++;
		if ((size_t)((nl ? nl : e) - s) > p->lim->max_line_bytes) {
			rc = setitec__diag_toobig(p, p->lim->max_line_bytes + 1,
						  "line length",
						  p->lim->max_line_bytes);
			goto out;
		}
		if (*s == '*') {
			if (setitec__is_title(s, (size_t)((nl ? nl : e) - s))) {
				p->line--; /* leave the title to the caller */
				break;
			}
		}
		if (r == cap) {
			/* only reachable when a limit capped the block */
			size_t n = (size_t)((nl ? nl : e) - s);
			if (blank_line_is(s, n, sep))
				goto next_blank;
			rc = cap == p->lim->max_rows
				 ? setitec__diag_toobig(p, 0, "data rows",
							p->lim->max_rows)
				 : abyss_diag_set(
				       p->diag, ABYSS_ETOOBIG, p->line, 0,
				       "the samples exceed the limit "
				       "max_values = %zu",
				       p->lim->max_values);
			goto out;
		}
		for (;;) {
			if (sentinel && fast_cell(s, sep, &stop, &v))
				k = 1;
			else
				k = setitec__scan_number(s, e, sep, &stop, &v,
							 &p->cloc);
			if (k != 0) {
				if (k < 0) {
					rc = not_a_number(p, s, stop, ls, c,
							  names, nnames);
					goto out;
				}
				if (c >= width) {
					rc = widen(p, &blk, &width, cap, c);
					if (rc)
						goto out;
				}
				blk[c * cap + r] = v;
				w = c + 1;
			} else if (c < width) {
				blk[c * cap + r] = NAN;
			}
			c++;
			s = stop;
			if (s < e && *s == sep) {
				s++;
				if (c >= p->lim->max_cols + 1) {
					rc = setitec__diag_toobig(
					    p, (size_t)(s - ls), "row width",
					    p->lim->max_cols);
					goto out;
				}
				continue;
			}
			break;
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
		continue;
	next_blank:
		s = memchr(s, '\n', (size_t)(e - s));
		pos = s ? (size_t)(s - b) + 1 : p->len;
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
