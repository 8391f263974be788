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
 * errors, overflows, a top level that is not an object, and documents over
 * the caller's depth or array-length limits - returns NULL: a tree from
 * here is within those limits, so the caller need not walk it again.
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

#define JF_MAX_DEPTH 64	 /* deeper documents go to jansson */
#define JF_NUM_MAX   64	 /* longer number tokens go to jansson */
#define JF_MAX_KEYS  256 /* scanning: keys of all open objects */
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

/* A number token at *pp (JSON grammar); *pp is moved past it. Returns 1
 * with *real and the value in *iv or *dv, or 0 when the token is not JSON,
 * does not fit, or would overflow. */
static int jf_number(const unsigned char **pp, const unsigned char *e,
		     int *real, json_int_t *iv, double *dv)
{
	const unsigned char *p = *pp, *s = p;
	uint64_t m = 0;
	int nd = 0, frac = 0, ex = 0, exneg = 0, neg = 0;
	double r;

	*real = 0;
	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (!jf_digit(p, e))
		return 0;
	if (*p == '0') {
		p++;
		if (jf_digit(p, e)) /* leading zeros are not JSON */
			return 0;
	} else {
		while (jf_digit(p, e)) {
			if (nd < 19)
				m = m * 10 + (uint64_t)(*p - '0');
			nd++;
			p++;
		}
	}
	if (p < e && *p == '.') {
		*real = 1;
		p++;
		if (!jf_digit(p, e))
			return 0;
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
		*real = 1;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			exneg = *p++ == '-';
		if (!jf_digit(p, e))
			return 0;
		while (jf_digit(p, e)) {
			if (ex < 100000)
				ex = ex * 10 + (*p - '0');
			p++;
		}
	}
	if (p - s > JF_NUM_MAX)
		return 0;
	*pp = p;
	if (!*real) {
		/* 18 digits always fit in int64: jansson's strtoll would
		 * give the same value; longer ones go to jansson */
		if (nd > 18)
			return 0;
		*iv = neg ? -(json_int_t)m : (json_int_t)m;
		return 1;
	}
	if (nd <= 19 && m <= JF_EXACT) {
		int E = (exneg ? -ex : ex) - frac;

		if (E >= -22 && E <= 22) {
			/* one correctly rounded operation on exact doubles */
			r = E < 0 ? (double)m / jf_p10[-E]
				  : (double)m * jf_p10[E];
			*dv = neg ? -r : r;
			return 1;
		}
	}
	{
		char buf[JF_NUM_MAX + 1];
		char *end;
		size_t n = (size_t)(p - s);

		if (pthread_once(&jf_once, jf_locale_init) != 0 ||
		    jf_c_locale == (locale_t)0)
			return 0;
		memcpy(buf, s, n);
		buf[n] = '\0';
		r = strtod_l(buf, &end, jf_c_locale);
		if (end != buf + n || isinf(r))
			return 0; /* jansson: "real number overflow" */
		*dv = r;
		return 1;
	}
}

/* Scanning: the same acceptance as jf_number without computing the value.
 * A real without an exponent is always finite here (at most JF_NUM_MAX
 * characters), so only an exponent needs the full conversion. */
static int jf_number_ok(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp, *s = p, *d;
	json_int_t iv;
	double dv;
	int real;

	if (p < e && *p == '-')
		p++;
	d = p;
	if (!jf_digit(p, e))
		return 0;
	if (*p == '0') {
		if (jf_digit(++p, e))
			return 0;
	} else {
		while (jf_digit(p, e))
			p++;
	}
	if (p < e && *p == '.') {
		if (!jf_digit(++p, e))
			return 0;
		while (jf_digit(p, e))
			p++;
		real = 1;
	} else {
		real = 0;
	}
	if ((p < e && (*p == 'e' || *p == 'E')) || p - s > JF_NUM_MAX) {
		p = s; /* the full path decides */
		if (!jf_number(&p, e, &real, &iv, &dv))
			return 0;
	} else if (!real && p - d > 18) {
		return 0; /* jf_number: more than 18 digits */
	}
	*pp = p;
	return 1;
}

/* 1 for the bytes a string may hold here, one row per 16: 0x20-0x7f
 * (JSON allows 0x7f unescaped) but '"' (0x22) and '\\' (0x5c). */
/* clang-format off */
static const unsigned char jf_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

/* The body of a string after its opening quote: printable ASCII without
 * escapes. Returns the closing quote, or NULL. */
static const unsigned char *jf_string_end(const unsigned char *p,
					  const unsigned char *e)
{
	while (p < e && jf_plain[*p])
		p++;
	return p < e && *p == '"' ? p : NULL;
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

/* Scanning builds nothing: a non-NULL stand-in for "a value was read". */
static char jf_mark_byte;
#define JF_MARK ((json_t *)(void *)&jf_mark_byte)

/* What hole__json_scan is looking for, per open container. */
enum { JF_TAG_NONE, JF_TAG_ROOT, JF_TAG_MESSAGES };

struct jf_frame {
	json_t *node;		/* building: the container; scanning: NULL */
	size_t count;		/* members or elements so far */
	size_t key0;		/* scanning: its first key in jf.keys */
	unsigned char obj;	/* object (1) or array (0) */
	unsigned char tag;	/* JF_TAG_* */
	unsigned char in_array; /* inside an array somewhere above */
};

struct jf_key {
	const unsigned char *s;
	size_t n;
};

struct jf {
	const unsigned char *p, *e;
	size_t max_depth, max_array_len;
	struct hole__json_scan *sc; /* scanning, else building */
	struct jf_frame st[JF_MAX_DEPTH];
	struct jf_key keys[JF_MAX_KEYS]; /* scanning: keys of open objects */
	size_t nkeys;
};

/* A scalar at j->p: when building, its json_t (NULL if not JSON); when
 * scanning, JF_MARK. */
static json_t *jf_scalar(struct jf *j)
{
	const unsigned char *q;
	json_int_t iv = 0;
	double dv = 0;
	int real;

	switch (*j->p) {
	case '"':
		q = jf_string_end(j->p + 1, j->e);
		if (!q)
			return NULL;
		{
			const unsigned char *s = j->p + 1;

			j->p = q + 1;
			return j->sc ? JF_MARK
				     : json_stringn_nocheck((const char *)s,
							    (size_t)(q - s));
		}
	case 't':
		if (!jf_literal(&j->p, j->e, "true", 4))
			return NULL;
		return j->sc ? JF_MARK : json_true();
	case 'f':
		if (!jf_literal(&j->p, j->e, "false", 5))
			return NULL;
		return j->sc ? JF_MARK : json_false();
	case 'n':
		if (!jf_literal(&j->p, j->e, "null", 4))
			return NULL;
		return j->sc ? JF_MARK : json_null();
	default:
		if (j->sc)
			return jf_number_ok(&j->p, j->e) ? JF_MARK : NULL;
		if (!jf_number(&j->p, j->e, &real, &iv, &dv))
			return NULL;
		return real ? json_real(dv) : json_integer(iv);
	}
}

/* Scanning: the key [k, k+n) of the innermost object f. 0 if it repeats
 * a key of that object (jansson would keep the last value in the first
 * one's place: the scan cannot follow that, so it gives up) or there are
 * too many; otherwise records it and notes what hole__json_scan looks
 * for. v is the value's first byte. */
static int jf_scan_key(struct jf *j, struct jf_frame *f, const unsigned char *k,
		       size_t n, const unsigned char *v)
{
	struct hole__json_scan *sc = j->sc;
	size_t i;

	for (i = f->key0; i < j->nkeys; i++)
		if (j->keys[i].n == n && memcmp(j->keys[i].s, k, n) == 0)
			return 0;
	if (j->nkeys == JF_MAX_KEYS)
		return 0;
	j->keys[j->nkeys++] = (struct jf_key){k, n};
	if (f->in_array)
		return 1;
	if (!sc->ts && n == 15 && memcmp(k, "SourceTimestamp", 15) == 0) {
		const unsigned char *q;

		/* only a string: anything else is parse's error to word */
		if (*v != '"' || !(q = jf_string_end(v + 1, j->e)))
			return 0;
		sc->ts = (const char *)v + 1;
		sc->ts_len = (size_t)(q - v - 1);
	}
	return 1;
}

static json_t *jf_run(struct jf *j)
{
	const unsigned char *e = j->e;
	json_t *root = NULL, *v;
	int depth = 0;

	j->p = jf_ws(j->p, e);
	if (j->max_depth == 0 || j->p >= e || *j->p != '{')
		return NULL;
	if (!j->sc && !(root = json_object()))
		return NULL;
	j->st[0] = (struct jf_frame){root, 0, 0, 1, JF_TAG_ROOT, 0};
	depth = 1;
	j->p++;
	/* Each turn reads one member (object) or element (array) of the
	 * innermost open container, or closes it. */
	for (;;) {
		struct jf_frame *f = &j->st[depth - 1];
		const unsigned char *key = NULL, *kend = NULL;
		unsigned char tag = JF_TAG_NONE;

		j->p = jf_ws(j->p, e);
		if (j->p >= e)
			goto fail;
		if (*j->p == (f->obj ? '}' : ']')) {
			/* "{}" or "[1]" closes; "[1,]" never gets here */
			j->p++;
			if (j->sc && f->obj)
				j->nkeys = f->key0;
			if (--depth == 0)
				break;
			goto next;
		}
		if (!f->obj && f->count >= j->max_array_len)
			goto fail;
		if (f->obj) {
			if (*j->p != '"')
				goto fail;
			key = j->p + 1;
			kend = jf_string_end(key, e);
			if (!kend)
				goto fail;
			j->p = jf_ws(kend + 1, e);
			if (j->p >= e || *j->p != ':')
				goto fail;
			j->p = jf_ws(j->p + 1, e);
			if (j->p >= e)
				goto fail;
			if (j->sc) {
				size_t n = (size_t)(kend - key);

				if (!jf_scan_key(j, f, key, n, j->p))
					goto fail;
				if (*j->p == '{' && f->tag == JF_TAG_ROOT &&
				    n == 8 && memcmp(key, "Messages", 8) == 0)
					tag = JF_TAG_MESSAGES;
				if (*j->p == '{' && f->tag == JF_TAG_MESSAGES &&
				    n == 7 && memcmp(key, "Payload", 7) == 0)
					j->sc->has_payload = 1;
			}
		}
		if (!f->obj && *j->p != '{' && *j->p != '[') {
			/* a run of scalars in an array, the bulk of a Trace:
			 * read here without the general machinery */
			for (;;) {
				v = jf_scalar(j);
				if (!v || (!j->sc &&
					   json_array_append_new(f->node, v)))
					goto fail;
				f->count++;
				j->p = jf_ws(j->p, e);
				if (j->p >= e || *j->p != ',') {
					/* only the closer may follow */
					if (j->p >= e || *j->p != ']')
						goto fail;
					break;
				}
				j->p = jf_ws(j->p + 1, e);
				if (j->p >= e || *j->p == '}' || *j->p == ']')
					goto fail; /* "[1,]" */
				if (*j->p == '{' || *j->p == '[')
					break; /* a container: the outer turn */
				if (f->count >= j->max_array_len)
					goto fail;
			}
			continue; /* closes, or opens the container */
		}
		if (*j->p == '{' || *j->p == '[') {
			/* the new container's level is depth (root: 0) */
			if (depth == JF_MAX_DEPTH ||
			    (size_t)depth >= j->max_depth)
				goto fail;
			if (j->sc)
				v = JF_MARK;
			else
				v = *j->p == '{' ? json_object() : json_array();
			j->st[depth] = (struct jf_frame){
			    j->sc ? NULL : v,
			    0,
			    j->nkeys,
			    *j->p == '{',
			    tag,
			    (unsigned char)(f->in_array || !f->obj)};
			j->p++;
		} else {
			v = jf_scalar(j);
		}
		if (!v)
			goto fail;
		f->count++;
		if (!j->sc && (f->obj ? json_object_setn_new_nocheck(
					    f->node, (const char *)key,
					    (size_t)(kend - key), v)
				      : json_array_append_new(f->node, v)))
			goto fail; /* v was released by jansson */
		if (j->p[-1] == '{' || j->p[-1] == '[') {
			depth++; /* the child frame written above */
			continue;
		}
	next:
		/* after a value: ',' then another one, or the closer */
		j->p = jf_ws(j->p, e);
		if (j->p >= e)
			goto fail;
		if (*j->p == ',') {
			j->p = jf_ws(j->p + 1, e);
			/* a closer right after ',' is not JSON */
			if (j->p >= e || *j->p == '}' || *j->p == ']')
				goto fail;
			continue;
		}
		if (*j->p != (j->st[depth - 1].obj ? '}' : ']'))
			goto fail;
	}
	if (jf_ws(j->p, e) != e)
		goto fail; /* trailing bytes */
	return j->sc ? JF_MARK : root;
fail:
	json_decref(root);
	return NULL;
}

/* Both entry points: the parser state over [buf, buf + len). */
static void jf_init(struct jf *j, const char *buf, size_t len, size_t max_depth,
		    size_t max_array_len, struct hole__json_scan *sc)
{
	j->p = (const unsigned char *)buf;
	j->e = j->p + len;
	j->max_depth = max_depth;
	j->max_array_len = max_array_len;
	j->sc = sc;
	j->nkeys = 0;
}

json_t *hole__json_fast(const char *buf, size_t len, size_t max_depth,
			size_t max_array_len)
{
	struct jf j; /* about 7 KB of stack */

	if (!buf)
		return NULL;
	jf_init(&j, buf, len, max_depth, max_array_len, NULL);
	return jf_run(&j);
}

int hole__json_scan(const char *buf, size_t len, size_t max_depth,
		    size_t max_array_len, struct hole__json_scan *out)
{
	struct jf j;

	memset(out, 0, sizeof(*out));
	if (!buf)
		return 0;
	jf_init(&j, buf, len, max_depth, max_array_len, out);
	if (jf_run(&j))
		return 1;
	memset(out, 0, sizeof(*out));
	return 0;
}
