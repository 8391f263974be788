/*
 * parse.c - the Setitec file grammar: lines, "*** title ***" sections,
 * header rows, value rows and sub-tables; file loading; the arena that owns
 * the result; generic accessors. The Datas time series is read by datas.c,
 * the typed metadata views are filled by typed.c.
 *
 * It deliberately keeps every cell where it was written (an empty cell is
 * an empty cell at its index), unlike the original's `auto` mode that
 * dropped empty values and shifted the rest onto the wrong names.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "setitec_internal.h"

/* ---- arena ------------------------------------------------------------- */

#define ARENA__CHUNK ((size_t)16 << 10)
#define ARENA__ALIGN (alignof(max_align_t))
#define ARENA__HDR                                                             \
	((sizeof(struct setitec__chunk) + ARENA__ALIGN - 1) / ARENA__ALIGN *   \
	 ARENA__ALIGN)

void *setitec__alloc(struct setitec__arena *a, size_t n)
{
	struct setitec__chunk *c = a->head;
	size_t need;

	if (n > SIZE_MAX / 2)
		return NULL;
	need = (n + ARENA__ALIGN - 1) / ARENA__ALIGN * ARENA__ALIGN;
	if (need == 0)
		need = ARENA__ALIGN;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > ARENA__CHUNK ? need : ARENA__CHUNK;
		c = malloc(ARENA__HDR + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	c->used += need;
	return (char *)c + ARENA__HDR + c->used - need;
}

void *setitec__grow(struct setitec__arena *a, void *old, size_t old_bytes,
		    size_t new_bytes)
{
	void *p = setitec__alloc(a, new_bytes);

	if (p && old && old_bytes)
		memcpy(p, old, old_bytes < new_bytes ? old_bytes : new_bytes);
	return p;
}

void setitec__arena_free(struct setitec__arena *a)
{
	struct setitec__chunk *c = a->head, *n;

	while (c) {
		n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
}

/* ---- limits and diagnostics ---------------------------------------------
 */

void abyss_setitec_limits_default(struct abyss_setitec_limits *lim)
{
	if (!lim)
		return;
	lim->max_bytes = (size_t)512 << 20;
	lim->max_line_bytes = (size_t)1 << 20;
	lim->max_rows = 10000000;
	lim->max_cols = 256;
	lim->max_sections = 256;
	lim->max_tables = 256;
	lim->max_meta_rows = 65536;
	lim->max_values = (size_t)128 << 20;
}

int setitec__diag_toobig(struct setitec__parser *p, size_t col,
			 const char *what, const char *limit_name, size_t limit)
{
	return abyss_diag_set(p->diag, ABYSS_ETOOBIG, p->line, col,
			      "%s exceeds the limit %s = %zu", what, limit_name,
			      limit);
}

static int oom(struct setitec__parser *p)
{
	return abyss_diag_set(p->diag, ABYSS_ENOMEM, p->line, 0,
			      "out of memory");
}

/* ---- lines and cells ---------------------------------------------------- */

int setitec__next_line(struct setitec__parser *p)
{
	const char *s, *nl;
	size_t rest;

	if (p->pos >= p->len)
		return 0;
	s = p->buf + p->pos;
	rest = p->len - p->pos;
	nl = memchr(s, '\n', rest);
	p->line++;
	p->ls = s;
	p->ln = nl ? (size_t)(nl - s) : rest;
	p->ends_nl = nl != NULL;
	p->pos += p->ln + (nl ? 1 : 0);
	if (p->ln > p->lim->max_line_bytes)
		return setitec__diag_toobig(p, p->lim->max_line_bytes + 1,
					    "line length", "max_line_bytes",
					    p->lim->max_line_bytes);
	if (p->ln && s[p->ln - 1] == '\r')
		p->ln--;
	return 1;
}

static int blank_bytes(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\0' && s[i] != '\r')
			return 0;
	return 1;
}

int setitec__split(struct setitec__parser *p)
{
	const char *s = p->ls, *e = p->ls + p->ln, *c;
	size_t n = 0;

	while (1) {
		c = memchr(s, p->sep, (size_t)(e - s));
		if (!c)
			c = e;
		if (n == p->cap_cells) {
			size_t nc = p->cap_cells ? p->cap_cells * 2 : 32;
			struct setitec__span *t;
			if (nc > p->lim->max_cols + 1)
				nc = p->lim->max_cols + 1;
			if (n >= nc)
				return setitec__diag_toobig(
				    p, (size_t)(s - p->ls) + 1, "row width",
				    "max_cols", p->lim->max_cols);
			t = realloc(p->cells, nc * sizeof(*t));
			if (!t)
				return oom(p);
			p->cells = t;
			p->cap_cells = nc;
		}
		p->cells[n].s = s;
		p->cells[n].n = (size_t)(c - s);
		n++;
		if (c == e)
			break;
		s = c + 1;
	}
	while (n && blank_bytes(p->cells[n - 1].s, p->cells[n - 1].n))
		n--;
	if (n > p->lim->max_cols)
		return setitec__diag_toobig(p, 0, "row width", "max_cols",
					    p->lim->max_cols);
	p->ncells = n;
	return 0;
}

static const char *find3(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 3 <= n; i++)
		if (s[i] == '*' && s[i + 1] == '*' && s[i + 2] == '*')
			return s + i;
	return NULL;
}

int setitec__is_title(const char *s, size_t n)
{
	return find3(s, n) != NULL;
}

const char *setitec__text(struct setitec__parser *p, const char *s, size_t n)
{
	char *out, *o;
	size_t i;

	while (n && (s[0] == ' ' || s[0] == '\0'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\0' || s[n - 1] == '\r'))
		n--;
	if (n > SIZE_MAX / 2 - 1)
		return NULL;
	out = setitec__alloc(&p->pv->arena, 2 * n + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			continue;
		/* "\u0000": a NUL that a JSON round trip turned into text */
		if (c == '\\' && n - i >= 6 &&
		    memcmp(s + i, "\\u0000", 6) == 0) {
			i += 5;
			continue;
		}
		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c == 0xEF && n - i >= 3 &&
			   (unsigned char)s[i + 1] == 0xBF &&
			   (unsigned char)s[i + 2] == 0xBD) {
			/* U+FFFD left by a lossy re-encoding: keep it as is */
			memcpy(o, s + i, 3);
			o += 3;
			i += 2;
		} else {
			*o++ = (char)(0xC0 | (c >> 6));
			*o++ = (char)(0x80 | (c & 0x3F));
		}
	}
	*o = '\0';
	/* a dropped NUL may have exposed spaces at the end */
	while (o > out && o[-1] == ' ')
		*--o = '\0';
	return out;
}

/* ---- sections and tables ------------------------------------------------ */

static struct abyss_setitec_section *cur_section(struct setitec__parser *p)
{
	return p->f->nsections ? &p->f->sections[p->f->nsections - 1] : NULL;
}

static int new_section(struct setitec__parser *p, const char *title, size_t tn)
{
	struct abyss_setitec *f = p->f;
	struct abyss_setitec_section *sec;

	if (f->nsections >= p->lim->max_sections)
		return setitec__diag_toobig(p, 0, "section count",
					    "max_sections",
					    p->lim->max_sections);
	if (f->nsections == p->cap_sections) {
		size_t nc = p->cap_sections ? p->cap_sections * 2 : 16;
		void *t = setitec__grow(&p->pv->arena, f->sections,
					p->cap_sections * sizeof(*sec),
					nc * sizeof(*sec));
		if (!t)
			return oom(p);
		f->sections = t;
		p->cap_sections = nc;
	}
	sec = &f->sections[f->nsections++];
	memset(sec, 0, sizeof(*sec));
	sec->line = p->line;
	sec->title = setitec__text(p, title, tn);
	if (!sec->title)
		return oom(p);
	p->cap_tables = 0;
	return 0;
}

/* Converts the current line's cells into an array of arena strings. */
static const char **line_strings(struct setitec__parser *p, size_t extra)
{
	const char **v;
	size_t i;

	v = setitec__alloc(&p->pv->arena, (p->ncells + extra + 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < p->ncells; i++) {
		v[i] = setitec__text(p, p->cells[i].s, p->cells[i].n);
		if (!v[i])
			return NULL;
	}
	v[p->ncells] = NULL;
	return v;
}

static int new_table(struct setitec__parser *p)
{
	struct abyss_setitec_section *sec = cur_section(p);
	struct abyss_setitec_table *t;
	const char **names;

	if (sec->ntables) {
		/* v4 "Control Box Datas": the header is cut in two by ~40
		 * empty lines and the second part repeats the last name of
		 * the first. Join them rather than keep a table without
		 * values and a second one whose names do not match. */
		t = &sec->tables[sec->ntables - 1];
		if (t->nrows == 0 && t->nnames && p->ncells > 1) {
			const char *first =
			    setitec__text(p, p->cells[0].s, p->cells[0].n);
			if (!first)
				return oom(p);
			if (strcmp(first, t->names[t->nnames - 1]) == 0) {
				size_t i, nn = t->nnames + p->ncells - 1;
				const char **v;
				if (nn > p->lim->max_cols)
					return setitec__diag_toobig(
					    p, 0, "row width", "max_cols",
					    p->lim->max_cols);
				v = setitec__grow(&p->pv->arena, t->names,
						  t->nnames * sizeof(*v),
						  (nn + 1) * sizeof(*v));
				if (!v)
					return oom(p);
				for (i = 1; i < p->ncells; i++) {
					v[t->nnames + i - 1] = setitec__text(
					    p, p->cells[i].s, p->cells[i].n);
					if (!v[t->nnames + i - 1])
						return oom(p);
				}
				v[nn] = NULL;
				t->names = v;
				t->nnames = nn;
				return 0;
			}
		}
	}
	if (p->ntables_total >= p->lim->max_tables)
		return setitec__diag_toobig(p, 0, "table count", "max_tables",
					    p->lim->max_tables);
	if (sec->ntables == p->cap_tables) {
		size_t nc = p->cap_tables ? p->cap_tables * 2 : 4;
		void *v =
		    setitec__grow(&p->pv->arena, sec->tables,
				  p->cap_tables * sizeof(*t), nc * sizeof(*t));
		if (!v)
			return oom(p);
		sec->tables = v;
		p->cap_tables = nc;
	}
	names = line_strings(p, 0);
	if (!names)
		return oom(p);
	t = &sec->tables[sec->ntables++];
	p->ntables_total++;
	memset(t, 0, sizeof(*t));
	t->line = p->line;
	t->names = names;
	t->nnames = p->ncells;
	p->cap_rows = 0;
	return 0;
}

/* MQTT-converted files glue two Program names together ("Stroke Limit
 * (A)Thrust Limit (A)"), leaving one more value than names. Split a name at
 * ")" directly followed by a letter while values outnumber names. */
static int repair_glued_names(struct setitec__parser *p,
			      struct abyss_setitec_table *t, size_t nvalues)
{
	size_t i;

	for (i = 0; i < t->nnames && t->nnames < nvalues; i++) {
		const char *nm = t->names[i], *q;
		if (!nm)
			continue;
		for (q = nm; *q; q++)
			if (q[0] == ')' && ((q[1] >= 'A' && q[1] <= 'Z') ||
					    (q[1] >= 'a' && q[1] <= 'z')))
				break;
		if (!*q)
			continue;
		{
			size_t cut = (size_t)(q - nm) + 1, k;
			const char **v = setitec__alloc(
			    &p->pv->arena, (t->nnames + 2) * sizeof(*v));
			char *a = setitec__alloc(&p->pv->arena, cut + 1);
			if (!v || !a)
				return oom(p);
			memcpy(a, nm, cut);
			a[cut] = '\0';
			for (k = 0; k < i; k++)
				v[k] = t->names[k];
			v[i] = a;
			v[i + 1] = nm + cut;
			for (k = i + 1; k < t->nnames; k++)
				v[k + 1] = t->names[k];
			v[t->nnames + 1] = NULL;
			t->names = v;
			t->nnames++;
		}
	}
	return 0;
}

static int add_row(struct setitec__parser *p)
{
	struct abyss_setitec_section *sec = cur_section(p);
	struct abyss_setitec_table *t = &sec->tables[sec->ntables - 1];
	struct abyss_setitec_row *r;
	int rc;

	if (p->nmeta_rows >= p->lim->max_meta_rows)
		return setitec__diag_toobig(p, 0, "value rows", "max_meta_rows",
					    p->lim->max_meta_rows);
	if (t->nrows == 0 && p->ncells > t->nnames) {
		rc = repair_glued_names(p, t, p->ncells);
		if (rc)
			return rc;
	}
	if (t->nrows == p->cap_rows) {
		size_t nc = p->cap_rows ? p->cap_rows * 2 : 4;
		void *v =
		    setitec__grow(&p->pv->arena, t->rows,
				  p->cap_rows * sizeof(*r), nc * sizeof(*r));
		if (!v)
			return oom(p);
		t->rows = v;
		p->cap_rows = nc;
	}
	r = &t->rows[t->nrows];
	r->line = p->line;
	r->ncells = p->ncells;
	r->cells = line_strings(p, 0);
	if (!r->cells)
		return oom(p);
	t->nrows++;
	p->nmeta_rows++;
	return 0;
}

/* A value row holds a number, Inf or True/False somewhere; a header row is
 * names only. Used to tell a sub-table's header from another value row. */
static int has_value_cell(struct setitec__parser *p)
{
	size_t i;

	for (i = 0; i < p->ncells; i++) {
		const char *s = p->cells[i].s, *stop;
		size_t n = p->cells[i].n;
		double v;
		while (n && *s == ' ')
			s++, n--;
		if (setitec__scan_number(s, s + n, p->sep, &stop, &v,
					 &p->cloc) == 1)
			return 1;
		if ((n == 4 && strncasecmp(s, "true", 4) == 0) ||
		    (n == 5 && strncasecmp(s, "false", 5) == 0))
			return 1;
	}
	return 0;
}

static int title_of(const char *s, size_t n, const char **ts, size_t *tn)
{
	const char *a = find3(s, n), *b;

	if (!a)
		return 0;
	a += 3;
	while (a < s + n && *a == '*')
		a++;
	b = find3(a, (size_t)(s + n - a));
	if (!b)
		b = s + n;
	*ts = a;
	*tn = (size_t)(b - a);
	return 1;
}

static int first_cell_has_position(struct setitec__parser *p)
{
	static const char key[] = "Position (mm)";
	const char *s = p->ls;
	size_t n = p->ln, k = sizeof(key) - 1, i;
	const char *c = memchr(s, p->sep, n);

	if (c)
		n = (size_t)(c - s);
	for (i = 0; i + k <= n; i++)
		if (memcmp(s + i, key, k) == 0)
			return 1;
	return 0;
}

static char guess_sep(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	size_t m = nl ? (size_t)(nl - s) : n;

	if (memchr(s, '\t', m))
		return '\t';
	if (memchr(s, ';', m))
		return ';';
	return '\t';
}

static int not_setitec(struct setitec__parser *p)
{
	const char *s = p->ls;
	size_t n = p->ln;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	if (n && (*s == '{' || *s == '['))
		return abyss_diag_set(
		    p->diag, ABYSS_ENOTSETITEC, p->line, 1,
		    "this looks like JSON (it starts with '%c'), not a Setitec "
		    "file, which starts with '*** General Infos ***'",
		    *s);
	return abyss_diag_set(p->diag, ABYSS_ENOTSETITEC, p->line, 1,
			      "not a Setitec file: the first line is neither a "
			      "'*** ... ***' section title nor a 'Position "
			      "(mm)' header");
}

/* The whole grammar. */
static int parse_all(struct setitec__parser *p)
{
	struct abyss_setitec *f = p->f;
	/* what the previous meaningful line was */
	enum { AFTER_NONE, AFTER_BLANK, AFTER_HEADER, AFTER_VALUES } st;
	int rc, have_datas = 0, seen_any = 0;
	const char *ts;
	size_t tn;

	st = AFTER_NONE;
	while ((rc = setitec__next_line(p)) == 1) {
		if (!seen_any) {
			rc = setitec__split(p);
			if (rc)
				return rc;
			if (p->ncells == 0)
				continue;
			seen_any = 1;
			if (!title_of(p->ls, p->ln, &ts, &tn)) {
				if (!first_cell_has_position(p))
					return not_setitec(p);
				/* a Datas-only "Curve Info" CSV export */
				f->has_metadata = 0;
				rc = new_section(p, "Datas", 5);
				if (rc)
					return rc;
				have_datas = 1;
				rc = setitec__parse_datas(p);
				if (rc)
					return rc;
				continue;
			}
			f->has_metadata = 1;
		}
		if (title_of(p->ls, p->ln, &ts, &tn)) {
			rc = new_section(p, ts, tn);
			if (rc)
				return rc;
			st = AFTER_BLANK; /* the next row is a header */
			if (strcasecmp(cur_section(p)->title, "Datas") != 0)
				continue;
			if (have_datas)
				return abyss_diag_set(
				    p->diag, ABYSS_EPARSE, p->line, 1,
				    "a second '*** Datas ***' section");
			have_datas = 1;
			/* header: the next non-blank line */
			while ((rc = setitec__next_line(p)) == 1) {
				int src = setitec__split(p);
				if (src)
					return src;
				if (p->ncells)
					break;
			}
			if (rc < 0)
				return rc;
			if (rc == 0 || setitec__is_title(p->ls, p->ln))
				return abyss_diag_set(
				    p->diag, ABYSS_ENODATA, p->line, 0,
				    "the Datas section has no header row");
			if (!first_cell_has_position(p))
				return abyss_diag_set(
				    p->diag, ABYSS_EPARSE, p->line, 1,
				    "the Datas section does not start with a "
				    "header row whose first name is 'Position "
				    "(mm)' (files without it are not "
				    "supported: columns are never guessed)");
			rc = setitec__parse_datas(p);
			if (rc)
				return rc;
			continue;
		}
		rc = setitec__split(p);
		if (rc)
			return rc;
		if (p->ncells == 0) {
			st = AFTER_BLANK;
			continue;
		}
		if (first_cell_has_position(p)) {
			/* the samples' header without its "*** Datas ***"
			 * title: the original found it by this cell alone */
			if (have_datas)
				return abyss_diag_set(
				    p->diag, ABYSS_EPARSE, p->line, 1,
				    "a second 'Position (mm)' header");
			rc = new_section(p, "Datas", 5);
			if (rc)
				return rc;
			have_datas = 1;
			rc = setitec__parse_datas(p);
			if (rc)
				return rc;
			continue;
		}
		if (st == AFTER_BLANK || st == AFTER_NONE ||
		    (st == AFTER_VALUES && !has_value_cell(p))) {
			rc = new_table(p);
			st = AFTER_HEADER;
		} else {
			rc = add_row(p);
			st = AFTER_VALUES;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!seen_any)
		return abyss_diag_set(p->diag, ABYSS_ENOTSETITEC, 0, 0,
				      "the input is empty");
	if (!have_datas)
		return abyss_diag_set(p->diag, ABYSS_ETRUNCATED, p->line, 0,
				      "the file ends before the '*** Datas "
				      "***' section: it looks truncated");
	return 0;
}

int abyss_setitec_parse(const char *buf, size_t len,
			const struct abyss_setitec_limits *lim,
			struct abyss_setitec **out, struct abyss_diag *diag)
{
	struct abyss_setitec_limits dl;
	struct setitec__parser p;
	struct abyss_setitec *f;
	struct setitec__priv *pv;
	int rc;

	if (out)
		*out = NULL;
	if (!out || (!buf && len))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_setitec_parse: NULL argument");
	if (!lim) {
		abyss_setitec_limits_default(&dl);
		lim = &dl;
	}
	if (len > lim->max_bytes)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "the input is %zu bytes, over the limit "
				      "max_bytes = %zu",
				      len, lim->max_bytes);
	f = calloc(1, sizeof(*f));
	pv = calloc(1, sizeof(*pv));
	if (!f || !pv) {
		free(f);
		free(pv);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	f->priv_ = pv;
	f->bytes = len;
	memset(&p, 0, sizeof(p));
	p.buf = buf ? buf : "";
	p.len = len;
	p.lim = lim;
	p.diag = diag;
	p.f = f;
	p.pv = pv;
	p.sep = guess_sep(p.buf, len);
	f->separator = p.sep;
	rc = parse_all(&p);
	f->lines = p.line;
	if (rc == 0)
		rc = setitec__typed(&p);
	free(p.cells);
	if (p.cloc)
		freelocale(p.cloc);
	if (rc) {
		abyss_setitec_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int abyss_setitec_load(const char *path, const struct abyss_setitec_limits *lim,
		       struct abyss_setitec **out, struct abyss_diag *diag)
{
	struct abyss_setitec_limits dl;
	struct stat st;
	FILE *fp;
	char *buf;
	long n;
	int rc, e;

	if (out)
		*out = NULL;
	if (!path || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_setitec_load: NULL argument");
	abyss_diag_set_file(diag, path);
	if (!lim) {
		abyss_setitec_limits_default(&dl);
		lim = &dl;
	}
	fp = fopen(path, "rb");
	if (!fp) {
		e = errno;
		return abyss_diag_set(diag,
				      e == ENOENT   ? ABYSS_ENOENT
				      : e == ENOMEM ? ABYSS_ENOMEM
						    : ABYSS_EIO,
				      0, 0, "cannot open: %s", strerror(e));
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				      "not a regular file");
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				      "cannot read (not a regular file?)");
	}
	if ((unsigned long)n > lim->max_bytes) {
		fclose(fp);
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "the file is %ld bytes, over the limit "
				      "max_bytes = %zu",
				      n, lim->max_bytes);
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf) {
		fclose(fp);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0, "read error");
	}
	fclose(fp);
	rc = abyss_setitec_parse(buf, (size_t)n, lim, out, diag);
	free(buf);
	return rc;
}

void abyss_setitec_free(struct abyss_setitec *f)
{
	struct setitec__priv *pv;

	if (!f)
		return;
	pv = f->priv_;
	if (pv) {
		free(pv->samples);
		setitec__arena_free(&pv->arena);
		free(pv);
	}
	free(f);
}

/* ---- accessors ---------------------------------------------------------- */

const double *abyss_setitec_column(const struct abyss_setitec *f,
				   const char *name)
{
	size_t i;

	if (!f || !name)
		return NULL;
	for (i = 0; i < f->ncolumns; i++)
		if (strcmp(f->columns[i].name, name) == 0)
			return f->columns[i].values;
	return NULL;
}

const struct abyss_setitec_section *
abyss_setitec_section(const struct abyss_setitec *f, const char *title)
{
	size_t i;

	if (!f || !title)
		return NULL;
	for (i = 0; i < f->nsections; i++)
		if (strcasecmp(f->sections[i].title, title) == 0)
			return &f->sections[i];
	return NULL;
}

const char *abyss_setitec_cell(const struct abyss_setitec_table *t, size_t row,
			       size_t col)
{
	if (!t || row >= t->nrows || col >= t->rows[row].ncells)
		return "";
	return t->rows[row].cells[col];
}

const char *abyss_setitec_value(const struct abyss_setitec *f,
				const char *title, const char *name)
{
	const struct abyss_setitec_section *s = abyss_setitec_section(f, title);
	size_t i, j;

	if (!s || !name)
		return "";
	for (i = 0; i < s->ntables; i++)
		for (j = 0; j < s->tables[i].nnames; j++)
			if (strcmp(s->tables[i].names[j], name) == 0)
				return abyss_setitec_cell(&s->tables[i], 0, j);
	return "";
}
