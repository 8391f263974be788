/*
 * log.c - structured logging for the service: logfmt and JSON lines built
 * in one preallocated buffer under a mutex and written with one write(2).
 *
 * It deliberately does not rotate files, buffer lines, spawn a thread or
 * print anywhere else: a line that cannot be written is counted and lost,
 * because logging must never stall or crash the service. Escaping is done
 * by hand (no jansson on this path): the rules are few and it avoids an
 * allocation per line. Sits under src/service/, used by `abyss listen`.
 */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Room kept at the end of the buffer so that a cut line can still be closed:
 * a closing quote, ` truncated=true` or `,"truncated":true}`, and "\n". */
#define LOG_RESERVE 32
#define LOG_KEY_MAX 64

struct log__rl {
	char key[ABYSS_LOG_RLKEY_MAX];
	int64_t last; /* clock ms of the last line written */
	uint64_t suppressed;
	int used;
};

struct abyss_log {
	pthread_mutex_t mu;
	_Atomic int level;
	int fd;
	int format;
	abyss_log_clock_fn clock;
	void *clock_ctx;
	char *buf; /* line_max bytes */
	size_t line_max;
	struct log__rl *rl;
	size_t rl_max;
	struct abyss_log_stats st;
};

/* The line being built: content may use up to `cap` bytes, the rest of the
 * buffer is LOG_RESERVE for closing a cut line. */
struct log__line {
	char *p;
	size_t len;
	size_t cap;
	int cut;
};

static int log__level_ok(int level)
{
	return level == ABYSS_LOGL_DEBUG || level == ABYSS_LOGL_INFO ||
	       level == ABYSS_LOGL_WARN || level == ABYSS_LOGL_ERROR ||
	       level == ABYSS_LOGL_CRITICAL;
}

const char *abyss_log_level_name(int level)
{
	switch (level) {
	case ABYSS_LOGL_DEBUG:
		return "debug";
	case ABYSS_LOGL_INFO:
		return "info";
	case ABYSS_LOGL_WARN:
		return "warn";
	case ABYSS_LOGL_ERROR:
		return "error";
	case ABYSS_LOGL_CRITICAL:
		return "critical";
	default:
		return "?";
	}
}

int abyss_log_level_parse(const char *name, int *level)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
	    {"debug", ABYSS_LOGL_DEBUG}, {"info", ABYSS_LOGL_INFO},
	    {"warn", ABYSS_LOGL_WARN},	 {"warning", ABYSS_LOGL_WARN},
	    {"error", ABYSS_LOGL_ERROR}, {"critical", ABYSS_LOGL_CRITICAL},
	};
	size_t i;

	if (!name || !level)
		return ABYSS_EINVAL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*level = names[i].level;
			return ABYSS_OK;
		}
	}
	return ABYSS_EINVAL;
}

static int64_t log__clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int abyss_log_new(const struct abyss_log_opts *o, struct abyss_log **out)
{
	struct abyss_log *lg;
	int fd;

	if (!o || !out)
		return ABYSS_EINVAL;
	*out = NULL;
	fd = o->fp ? fileno(o->fp) : o->fd;
	if (fd < 0)
		return ABYSS_EINVAL;
	if (o->format != ABYSS_LOGF_LOGFMT && o->format != ABYSS_LOGF_JSON)
		return ABYSS_EINVAL;
	if (!log__level_ok(o->level))
		return ABYSS_EINVAL;
	if (o->line_max && (o->line_max < ABYSS_LOG_LINE_MIN ||
			    o->line_max > ABYSS_LOG_LINE_MAX))
		return ABYSS_ERANGE;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return ABYSS_ENOMEM;
	lg->line_max = o->line_max ? o->line_max : ABYSS_LOG_LINE_DEFAULT;
	lg->rl_max = o->ratelimit_max ? o->ratelimit_max : 64;
	lg->buf = malloc(lg->line_max);
	lg->rl = calloc(lg->rl_max, sizeof(*lg->rl));
	if (!lg->buf || !lg->rl || pthread_mutex_init(&lg->mu, NULL) != 0) {
		free(lg->buf);
		free(lg->rl);
		free(lg);
		return ABYSS_ENOMEM;
	}
	if (o->fp)
		fflush(o->fp);
	atomic_init(&lg->level, o->level);
	lg->fd = fd;
	lg->format = o->format;
	lg->clock = o->clock;
	lg->clock_ctx = o->clock_ctx;
	*out = lg;
	return ABYSS_OK;
}

void abyss_log_free(struct abyss_log *lg)
{
	if (!lg)
		return;
	pthread_mutex_destroy(&lg->mu);
	free(lg->buf);
	free(lg->rl);
	free(lg);
}

int abyss_log_set_level(struct abyss_log *lg, int level)
{
	if (!lg || !log__level_ok(level))
		return ABYSS_EINVAL;
	atomic_store(&lg->level, level);
	return ABYSS_OK;
}

int abyss_log_level(const struct abyss_log *lg)
{
	/* The atomic is only read; the cast drops const for C11's
	 * atomic_load, whose argument is not const-qualified in C11. */
	return lg ? atomic_load((_Atomic int *)&lg->level) : 0;
}

int abyss_log_set_fd(struct abyss_log *lg, int fd)
{
	if (!lg || fd < 0)
		return ABYSS_EINVAL;
	pthread_mutex_lock(&lg->mu);
	lg->fd = fd;
	pthread_mutex_unlock(&lg->mu);
	return ABYSS_OK;
}

int abyss_log_enabled(const struct abyss_log *lg, int level)
{
	return lg && level >= abyss_log_level(lg);
}

void abyss_log_stats(struct abyss_log *lg, struct abyss_log_stats *s)
{
	if (!lg || !s)
		return;
	pthread_mutex_lock(&lg->mu);
	*s = lg->st;
	pthread_mutex_unlock(&lg->mu);
}

/* ---- line building ------------------------------------------------------ */

/* Appends n bytes as one unit, or marks the line cut. */
static int line_put(struct log__line *l, const char *s, size_t n)
{
	if (l->cut || n > l->cap - l->len) {
		l->cut = 1;
		return -1;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	return 0;
}

/* Appends into the reserve (closing a cut line); the reserve is sized so
 * that this always fits. */
static void line_close(struct log__line *l, const char *s)
{
	size_t n = strlen(s);

	memcpy(l->p + l->len, s, n);
	l->len += n;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* logfmt leaves a value bare unless it is empty or holds a space, '=', a
 * quote, a control character or invalid UTF-8 (the go-logfmt rule). */
static int logfmt_needs_quote(const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v), i = 0, k;

	if (n == 0)
		return 1;
	while (i < n) {
		if (s[i] <= ' ' || s[i] == '=' || s[i] == '"' || s[i] == 0x7f)
			return 1;
		k = utf8_len(s + i, n - i);
		if (k == 0)
			return 1;
		i += k;
	}
	return 0;
}

/* Appends v escaped for a JSON string or a quoted logfmt value (the same
 * rules); bare (a logfmt value that needs no quotes) keeps backslashes as
 * they are, the only byte such a value can hold that quoting would change.
 * Stops at a character boundary when the line is full. */
static void put_escaped(struct log__line *l, const char *v, int bare)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v), i = 0, k;
	char e[8];

	while (i < n && !l->cut) {
		unsigned char c = s[i];

		if (c == '"' || (c == '\\' && !bare)) {
			e[0] = '\\';
			e[1] = (char)c;
			line_put(l, e, 2);
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			line_put(l, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			e[0] = '\\';
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			line_put(l, e, 6);
			i++;
		} else {
			k = utf8_len(s + i, n - i);
			if (k == 0)
				line_put(l, "\xef\xbf\xbd", 3); /* U+FFFD */
			else
				line_put(l, v + i, k);
			i += k ? k : 1;
		}
	}
}

/* Writes " key=" / ",\"key\":" with the key reduced to [A-Za-z0-9_.-]. */
static int put_key(struct log__line *l, int json, const char *key)
{
	char k[LOG_KEY_MAX + 8];
	size_t n = 0, i;

	k[n++] = json ? ',' : ' ';
	if (json)
		k[n++] = '"';
	for (i = 0; i < LOG_KEY_MAX && key[i]; i++) {
		unsigned char c = (unsigned char)key[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			 c == '-';
		k[n++] = ok ? (char)c : '_';
	}
	if (i == 0)
		k[n++] = '_';
	if (json)
		k[n++] = '"';
	k[n++] = json ? ':' : '=';
	return line_put(l, k, n);
}

/* Key and value go in as one unit, so a number is never cut. */
static void put_raw(struct log__line *l, int json, const char *key,
		    const char *v)
{
	size_t save = l->len;

	if (l->cut)
		return;
	if (put_key(l, json, key) != 0 || line_put(l, v, strlen(v)) != 0)
		l->len = save;
}

static void put_str(struct log__line *l, int json, const char *key,
		    const char *v)
{
	size_t save = l->len;
	int quote;

	if (l->cut)
		return;
	if (json && !v) {
		put_raw(l, 1, key, "null");
		return;
	}
	if (!v)
		v = "";
	quote = json || logfmt_needs_quote(v);
	/* The key and the opening quote go in together or not at all. */
	if (put_key(l, json, key) != 0 ||
	    (quote && line_put(l, "\"", 1) != 0)) {
		l->len = save;
		return;
	}
	put_escaped(l, v, !quote);
	if (quote && (l->cut || line_put(l, "\"", 1) != 0))
		line_close(l, "\"");
}

/* The shortest of %.15g..%.17g that reads back as d (0.1, not
 * 0.10000000000000001). JSON has no NaN or infinity: null there. */
static void format_double(double d, int json, char *out, size_t n)
{
	int prec;

	if (isnan(d) || isinf(d)) {
		snprintf(out, n, "%s",
			 json	    ? "null"
			 : isnan(d) ? "NaN"
			 : d > 0    ? "+Inf"
				    : "-Inf");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
	snprintf(out, n, "%.17g", d);
}

static void put_field(struct log__line *l, int json,
		      const struct abyss_log_field *f)
{
	char num[40];

	switch (f->type) {
	case ABYSS_LOGT_INT:
		snprintf(num, sizeof(num), "%lld", (long long)f->i);
		put_raw(l, json, f->key ? f->key : "", num);
		break;
	case ABYSS_LOGT_DBL:
		format_double(f->d, json, num, sizeof(num));
		put_raw(l, json, f->key ? f->key : "", num);
		break;
	case ABYSS_LOGT_BOOL:
		put_raw(l, json, f->key ? f->key : "", f->i ? "true" : "false");
		break;
	case ABYSS_LOGT_STR:
	default:
		put_str(l, json, f->key ? f->key : "", f->s);
		break;
	}
}

/* "2026-11-25T16:00:00.123Z" from milliseconds since the epoch. */
static void format_ts(int64_t ms, char *out, size_t n)
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;

	if (frac < 0) { /* floor, so that times before 1970 print sanely */
		frac += 1000;
		sec -= 1;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, n, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)frac);
}

/* Fields of a line: bound context fields, then typed fields or a va_list of
 * string pairs, then an optional suppressed=N. */
struct log__src {
	const struct abyss_log_field *pre;
	size_t npre;
	const struct abyss_log_field *f;
	size_t nf;
	va_list *ap; /* key, value, ..., NULL */
	uint64_t suppressed;
};

/* Builds and writes one line. Called with lg->mu held. */
static void log__emit(struct abyss_log *lg, int level, const char *msg,
		      int64_t now_ms, struct log__src *src)
{
	struct log__line l = {lg->buf, 0, lg->line_max - LOG_RESERVE, 0};
	int json = lg->format == ABYSS_LOGF_JSON;
	char ts[80], num[32];
	size_t i, off;

	format_ts(now_ms, ts, sizeof(ts));
	if (json) {
		line_put(&l, "{\"ts\":\"", 7);
		line_put(&l, ts, strlen(ts));
		line_put(&l, "\",\"level\":\"", 11);
	} else {
		line_put(&l, "ts=", 3);
		line_put(&l, ts, strlen(ts));
		line_put(&l, " level=", 7);
	}
	line_put(&l, abyss_log_level_name(level),
		 strlen(abyss_log_level_name(level)));
	if (json)
		line_put(&l, "\"", 1);
	put_str(&l, json, "msg", msg);
	for (i = 0; i < src->npre; i++)
		put_field(&l, json, &src->pre[i]);
	for (i = 0; i < src->nf; i++)
		put_field(&l, json, &src->f[i]);
	if (src->ap) {
		const char *k, *v;

		while ((k = va_arg(*src->ap, const char *)) != NULL) {
			v = va_arg(*src->ap, const char *);
			put_str(&l, json, k, v);
		}
	}
	if (src->suppressed) {
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)src->suppressed);
		put_raw(&l, json, "suppressed", num);
	}
	if (l.cut) {
		line_close(&l,
			   json ? ",\"truncated\":true" : " truncated=true");
		lg->st.truncated++;
	}
	line_close(&l, json ? "}\n" : "\n");

	/* One write per line; only a partial write (a full pipe, a signal)
	 * makes a second one, still under the mutex, so lines never mix. */
	off = 0;
	while (off < l.len) {
		ssize_t w = write(lg->fd, l.p + off, l.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lg->st.dropped++;
			return;
		}
		off += (size_t)w;
	}
	lg->st.lines++;
}

static int64_t log__now(const struct abyss_log *lg, int mono)
{
	if (lg->clock)
		return lg->clock(lg->clock_ctx);
	return log__clock_ms(mono ? CLOCK_MONOTONIC : CLOCK_REALTIME);
}

void abyss_log_kv(struct abyss_log *lg, int level, const char *msg, ...)
{
	struct log__src src = {0};
	va_list ap;

	if (!msg || !abyss_log_enabled(lg, level))
		return;
	va_start(ap, msg);
	src.ap = &ap;
	pthread_mutex_lock(&lg->mu);
	log__emit(lg, level, msg, log__now(lg, 0), &src);
	pthread_mutex_unlock(&lg->mu);
	va_end(ap);
}

void abyss_log_fields(struct abyss_log *lg, int level, const char *msg,
		      const struct abyss_log_field *f, size_t n)
{
	struct log__src src = {0};

	if (!msg || !abyss_log_enabled(lg, level) || (n && !f))
		return;
	src.f = f;
	src.nf = n;
	pthread_mutex_lock(&lg->mu);
	log__emit(lg, level, msg, log__now(lg, 0), &src);
	pthread_mutex_unlock(&lg->mu);
}

/* The slot of key, or a free one, or the one written longest ago. */
static struct log__rl *rl_slot(struct abyss_log *lg, const char *key)
{
	struct log__rl *oldest = NULL;
	size_t i;

	for (i = 0; i < lg->rl_max; i++) {
		struct log__rl *r = &lg->rl[i];

		if (r->used && strncmp(r->key, key, sizeof(r->key) - 1) == 0)
			return r;
	}
	for (i = 0; i < lg->rl_max; i++) {
		struct log__rl *r = &lg->rl[i];

		if (!r->used) {
			oldest = r;
			break;
		}
		if (!oldest || r->last < oldest->last)
			oldest = r;
	}
	if (!oldest)
		return NULL; /* rl_max is never 0; for the analyzer */
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	return oldest;
}

int abyss_log_kv_rl(struct abyss_log *lg, int level, const char *rl_key,
		    int64_t interval_ms, const char *msg, ...)
{
	struct log__src src = {0};
	struct log__rl *r;
	int64_t mono, now;
	va_list ap;

	if (!lg || !msg || !rl_key)
		return 0;
	if (!abyss_log_enabled(lg, level))
		return 1;
	pthread_mutex_lock(&lg->mu);
	mono = log__now(lg, 1);
	r = rl_slot(lg, rl_key);
	if (r && r->used && mono - r->last < interval_ms) {
		r->suppressed++;
		lg->st.suppressed++;
		pthread_mutex_unlock(&lg->mu);
		return 0;
	}
	if (r) {
		r->used = 1;
		r->last = mono;
		src.suppressed = r->suppressed;
		r->suppressed = 0;
	}
	now = lg->clock ? mono : log__now(lg, 0);
	va_start(ap, msg);
	src.ap = &ap;
	log__emit(lg, level, msg, now, &src);
	va_end(ap);
	pthread_mutex_unlock(&lg->mu);
	return 1;
}

void abyss_log_ctx_init(struct abyss_log_ctx *c, struct abyss_log *lg)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	c->lg = lg;
}

int abyss_log_ctx_add(struct abyss_log_ctx *c, const char *key,
		      const char *value)
{
	struct abyss_log_field f = ABYSS_LF_STR(key, value);

	if (!c || !key)
		return ABYSS_EINVAL;
	if (c->n >= ABYSS_LOG_CTX_FIELDS)
		return ABYSS_EFULL;
	c->f[c->n++] = f;
	return ABYSS_OK;
}

void abyss_log_ctx_kv(const struct abyss_log_ctx *c, int level, const char *msg,
		      ...)
{
	struct log__src src = {0};
	va_list ap;

	if (!c || !msg || !abyss_log_enabled(c->lg, level))
		return;
	src.pre = c->f;
	src.npre = c->n < ABYSS_LOG_CTX_FIELDS ? c->n : ABYSS_LOG_CTX_FIELDS;
	va_start(ap, msg);
	src.ap = &ap;
	pthread_mutex_lock(&c->lg->mu);
	log__emit(c->lg, level, msg, log__now(c->lg, 0), &src);
	pthread_mutex_unlock(&c->lg->mu);
	va_end(ap);
}
