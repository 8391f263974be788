/*
 * json_fast.c - the fast path of hole__json_load: builds the same jansson
 * tree as json_loadb(buf, len, 0) for the documents drills actually send,
 * about five times faster, and gives up (returns NULL) on anything else so
 * that jansson parses it and words the error.
 *
 * Why by hand: a Trace message is 15-45 KB of number arrays and the service
 * parses three messages per hole on its network thread. jansson reads it at
 * about 50 MB/s (per-character stream reads, a token copy, localeconv() and
 * strtod for every number); cJSON, the other packaged C parser, at about
 * 130 MB/s; faster parsers (yyjson, simdjson) are not in Debian 12. The
 * lexing and number conversion are done here in one pass over the buffer;
 * the tree is built with jansson's own constructors, so every consumer and
 * every json_t semantic stays jansson's.
 *
 * Accepted here: objects and arrays nested at most JF_MAX_DEPTH deep, ASCII
 * strings without escapes, true/false/null, and numbers in JSON syntax
 * (integers of at most 18 digits become json_integer, anything with '.',
 * 'e' or 'E' json_real, correctly rounded: Clinger's exact fast path, else
 * strtod in the C locale, as jansson's strtod in a "C"-numeric process).
 * Everything else - escapes, non-ASCII bytes, control characters, syntax
 * errors, overflows, a top level that is not an object - returns NULL.
 * tests/fuzz/fuzz_json.c checks that whatever this accepts, jansson accepts
 * too and parses to an equal tree of equal types.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hole_json.h"

#define JF_MAX_DEPTH 64 /* deeper documents go to jansson */
#define JF_NUM_MAX   64 /* longer number tokens go to jansson */
#define JF_EXACT     (1ull << 53)

/* 10^0..10^22 are exact doubles (Clinger 1990). */
static const double jf_p10[23] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static pthread_once_t jf_once = PTHREAD_ONCE_INIT;
static locale_t jf_c_locale;

static void jf_locale_init(void)
{
	jf_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static inline int jf_digit(const unsigned char *p, const unsigned char *e)
{
	return p < e && (unsigned)(*p - '0') < 10;
}

/* A number token at *pp (JSON grammar); *pp is moved past it. NULL when the
 * token is not JSON, does not fit, or would overflow. */
static json_t *jf_number(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp, *s = p;
	uint64_t m = 0;
	int nd = 0, frac = 0, ex = 0, exneg = 0, real = 0, neg = 0;
	double r;

	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (!jf_digit(p, e))
		return NULL;
	if (*p == '0') {
		p++;
		if (jf_digit(p, e)) /* leading zeros are not JSON */
			return NULL;
	} else {
		while (jf_digit(p, e)) {
			if (nd < 19)
				m = m * 10 + (uint64_t)(*p - '0');
			nd++;
			p++;
		}
	}
	if (p < e && *p == '.') {
		real = 1;
		p++;
		if (!jf_digit(p, e))
			return NULL;
		while (jf_digit(p, e)) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				frac++;
			}
			nd++;
			p++;
		}
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			exneg = *p++ == '-';
		if (!jf_digit(p, e))
			return NULL;
		while (jf_digit(p, e)) {
			if (ex < 100000)
				ex = ex * 10 + (*p - '0');
			p++;
		}
	}
	if (p - s > JF_NUM_MAX)
		return NULL;
	*pp = p;
	if (!real) {
		/* 18 digits always fit in int64: jansson's strtoll would
		 * give the same value; longer ones go to jansson */
		if (nd > 18)
			return NULL;
		return json_integer(neg ? -(json_int_t)m : (json_int_t)m);
	}
	if (nd <= 19 && m <= JF_EXACT) {
		int E = (exneg ? -ex : ex) - frac;

		if (E >= -22 && E <= 22) {
			/* one correctly rounded operation on exact doubles */
			r = E < 0 ? (double)m / jf_p10[-E]
				  : (double)m * jf_p10[E];
			return json_real(neg ? -r : r);
		}
	}
	{
		char buf[JF_NUM_MAX + 1];
		char *end;
		size_t n = (size_t)(p - s);

		if (pthread_once(&jf_once, jf_locale_init) != 0 ||
		    jf_c_locale == (locale_t)0)
			return NULL;
		memcpy(buf, s, n);
		buf[n] = '\0';
		r = strtod_l(buf, &end, jf_c_locale);
		if (end != buf + n || isinf(r))
			return NULL; /* jansson: "real number overflow" */
		return json_real(r);
	}
}

/* The body of a string after its opening quote: printable ASCII without
 * escapes. Returns the closing quote, or NULL. */
static const unsigned char *jf_string_end(const unsigned char *p,
					  const unsigned char *e)
{
	for (; p < e; p++) {
		unsigned c = *p;

		if (c == '"')
			return p;
		if (c < 0x20 || c == '\\' || c >= 0x80)
			return NULL;
	}
	return NULL;
}

static inline const unsigned char *jf_ws(const unsigned char *p,
					 const unsigned char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static int jf_literal(const unsigned char **pp, const unsigned char *e,
		      const char *word, size_t n)
{
	if ((size_t)(e - *pp) < n || memcmp(*pp, word, n) != 0)
		return 0;
	*pp += n;
	return 1;
}

/* One scalar value at *pp, or NULL (also for '{' and '[', which the caller
 * handles). */
static json_t *jf_scalar(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp, *q;
	json_t *v;

	switch (*p) {
	case '"':
		q = jf_string_end(p + 1, e);
		if (!q)
			return NULL;
		v = json_stringn_nocheck((const char *)p + 1,
					 (size_t)(q - p - 1));
		*pp = q + 1;
		return v;
	case 't':
		return jf_literal(pp, e, "true", 4) ? json_true() : NULL;
	case 'f':
		return jf_literal(pp, e, "false", 5) ? json_false() : NULL;
	case 'n':
		return jf_literal(pp, e, "null", 4) ? json_null() : NULL;
	default:
		return jf_number(pp, e);
	}
}

json_t *hole__json_fast(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *e = p + len;
	json_t *stack[JF_MAX_DEPTH];
	int depth = 0;
	json_t *root, *v;

	if (!buf)
		return NULL;
	p = jf_ws(p, e);
	if (p >= e || *p != '{')
		return NULL;
	root = json_object();
	if (!root)
		return NULL;
	stack[depth++] = root;
	p++;
	/* Each turn reads one member (object) or element (array) of the
	 * innermost open container, or closes it. */
	for (;;) {
		json_t *top = stack[depth - 1];
		const int obj = json_is_object(top);
		const unsigned char *key = NULL, *kend = NULL;

		p = jf_ws(p, e);
		if (p >= e)
			goto fail;
		if (*p == (obj ? '}' : ']')) {
			/* "{}" or "[1]" closes; "[1,]" never gets here */
			p++;
			if (--depth == 0)
				break;
			goto next;
		}
		if (obj) {
			if (*p != '"')
				goto fail;
			key = p + 1;
			kend = jf_string_end(key, e);
			if (!kend)
				goto fail;
			p = jf_ws(kend + 1, e);
			if (p >= e || *p != ':')
				goto fail;
			p = jf_ws(p + 1, e);
			if (p >= e)
				goto fail;
		}
		if (*p == '{' || *p == '[') {
			if (depth == JF_MAX_DEPTH)
				goto fail;
			v = *p == '{' ? json_object() : json_array();
			p++;
		} else {
			v = jf_scalar(&p, e);
		}
		if (!v)
			goto fail;
		if (obj ? json_object_setn_new_nocheck(top, (const char *)key,
						       (size_t)(kend - key), v)
			: json_array_append_new(top, v))
			goto fail; /* v was released by jansson */
		if (json_is_object(v) || json_is_array(v)) {
			stack[depth++] = v; /* borrowed: top owns it */
			continue;
		}
	next:
		/* after a value: ',' then another one, or the closer */
		p = jf_ws(p, e);
		if (p >= e)
			goto fail;
		if (*p == ',') {
			p = jf_ws(p + 1, e);
			/* a closer right after ',' is not JSON */
			if (p >= e || *p == '}' || *p == ']')
				goto fail;
			continue;
		}
		if (*p != (json_is_object(stack[depth - 1]) ? '}' : ']'))
			goto fail;
	}
	if (jf_ws(p, e) != e)
		goto fail; /* trailing bytes */
	return root;
fail:
	json_decref(root);
	return NULL;
}
