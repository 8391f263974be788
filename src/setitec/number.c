/*
 * number.c - Setitec numbers: "-0,673", " 1,000", "6,000,000", "1.000",
 * "42949672.950", "Inf", "1e-3". The last comma is the decimal point and
 * other commas are thousands separators (the original's rule); without a
 * comma a single dot is the decimal point.
 *
 * Speed matters (hundreds of MB of samples): the common case is an integer
 * mantissa m < 2^53 and k <= 22 decimals, where m / 10^k is one correctly
 * rounded IEEE division of two exact doubles, identical to strtod. Anything
 * else (long mantissas, exponents) is normalised and handed to strtod_l in
 * the C locale, so the result never depends on the caller's locale.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "setitec_internal.h"

static const double pow10_tab[23] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define NUM__MAX_TEXT 400 /* longest number text the slow path accepts */

static int is_stop(const char *s, const char *e, char sep)
{
	return s >= e || *s == sep || *s == '\n';
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Matches a case-insensitive word at s; returns its length or 0. */
static size_t match_word(const char *s, const char *e, const char *w)
{
	size_t i;

	for (i = 0; w[i]; i++)
		if (s + i >= e || lower((unsigned char)s[i]) != w[i])
			return 0;
	return i;
}

/* Normalises [s,e) (already known to be number-shaped) into ASCII C-locale
 * text and converts it with strtod_l. Returns 1 or -1. */
static int number_slow(const char *s, const char *e, int neg, size_t ncomma,
		       double *v, locale_t *cloc)
{
	char tmp[NUM__MAX_TEXT + 8];
	size_t o = 0, commas_seen = 0;
	locale_t loc = cloc ? *cloc : (locale_t)0;
	char *end;
	double r;

	if ((size_t)(e - s) > NUM__MAX_TEXT)
		return -1;
	if (neg)
		tmp[o++] = '-';
	for (; s < e; s++) {
		char c = *s;
		if (c == ',') {
			/* only the last comma is the decimal point */
			if (++commas_seen == ncomma)
				tmp[o++] = '.';
			continue;
		}
		if (c == ' ' || c == '\r' || c == '\0')
			continue;
		tmp[o++] = c;
	}
	tmp[o] = '\0';
	if (!loc) {
		loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
		if (!loc)
			return -1;
		if (cloc)
			*cloc = loc;
	}
	end = tmp;
	r = strtod_l(tmp, &end, loc);
	if (!cloc)
		freelocale(loc);
	if (end == tmp || *end != '\0')
		return -1;
	*v = r;
	return 1;
}

int setitec__scan_number(const char *s, const char *e, char sep,
			 const char **stop, double *v, locale_t *cloc)
{
	const char *p = s, *body;
	uint64_t m = 0;
	size_t ndig = 0, ncomma = 0, ndot = 0, since_comma = 0, since_dot = 0;
	int neg = 0, overflow = 0, expo = 0;
	size_t frac, w;

	while (p < e && (*p == ' ' || *p == '\0'))
		p++;
	if (is_stop(p, e, sep) || (*p == '\r' && is_stop(p + 1, e, sep))) {
		*stop = p < e && *p == '\r' ? p + 1 : p;
		return 0;
	}
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	body = p;
	for (; p < e; p++) {
		unsigned d = (unsigned char)*p - '0';
		if (d < 10) {
			if (m < (UINT64_MAX - 9) / 10)
				m = m * 10 + d;
			else
				overflow = 1;
			ndig++;
			since_comma++;
			since_dot++;
		} else if (*p == ',') {
			ncomma++;
			since_comma = 0;
		} else if (*p == '.') {
			ndot++;
			since_dot = 0;
		} else {
			break;
		}
	}
	if (ndig == 0) {
		/* Inf, Infinity, NaN (Python's float() accepts them) */
		if (p != body)
			goto bad;
		w = match_word(p, e, "infinity");
		if (!w)
			w = match_word(p, e, "inf");
		if (w) {
			*v = neg ? -INFINITY : INFINITY;
		} else if ((w = match_word(p, e, "nan")) != 0) {
			*v = NAN;
		} else {
			goto bad;
		}
		p += w;
		goto tail;
	}
	if (ndot > 1 || (ndot && ncomma))
		goto bad;
	if (p < e && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		if (q < e && (*q == '-' || *q == '+'))
			q++;
		if (q >= e || (unsigned char)*q - '0' >= 10)
			goto bad;
		while (q < e && (unsigned char)*q - '0' < 10)
			q++;
		p = q;
		expo = 1;
	}
	frac = ncomma ? since_comma : (ndot ? since_dot : 0);
	if (!overflow && !expo && m <= ((uint64_t)1 << 53) && frac <= 22) {
		double r = (double)m;
		if (frac)
			r /= pow10_tab[frac];
		*v = neg ? -r : r;
	} else {
		const char *q = p;
		/* validate the tail first so the slow path sees only the number
		 */
		while (q < e && (*q == ' ' || *q == '\r' || *q == '\0'))
			q++;
		if (!is_stop(q, e, sep))
			goto bad;
		if (number_slow(body, p, neg, ncomma, v, cloc) < 0)
			goto bad;
	}
tail:
	while (p < e && (*p == ' ' || *p == '\r' || *p == '\0'))
		p++;
	if (!is_stop(p, e, sep))
		goto bad;
	*stop = p;
	return 1;
bad:
	while (!is_stop(p, e, sep))
		p++;
	*stop = p;
	return -1;
}

int abyss_setitec_number(const char *s, size_t n, double *out)
{
	const char *stop;
	double v;
	int r;

	if (!s || !out)
		return ABYSS_EINVAL;
	/* '\n' and '\0' never occur inside a cell; a tab would end it */
	r = setitec__scan_number(s, s + n, '\t', &stop, &v, NULL);
	if (r != 1 || stop != s + n)
		return ABYSS_EPARSE;
	*out = v;
	return 0;
}

void setitec__quote(char *dst, size_t dn, const char *s, size_t n)
{
	size_t i, o = 0;

	if (dn == 0)
		return;
	for (i = 0; i < n && o + 4 < dn && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < n && o + 3 < dn) {
		dst[o++] = '.';
		dst[o++] = '.';
		dst[o++] = '.';
	}
	dst[o] = '\0';
}
