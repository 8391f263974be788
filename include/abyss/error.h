/*
 * abyss/error.h - error codes, human-readable diagnostics.
 *
 * Every library function returns an int: 0 (ABYSS_OK) on success, a negative
 * ABYSS_E* code on failure. abyss_strerror() names a code. Functions that read
 * external input (files, messages, checkpoints) also take an optional
 * struct abyss_diag that receives where the problem is (file, line, column)
 * and a sentence a person understands. The library never prints or exits.
 */
#ifndef ABYSS_ERROR_H
#define ABYSS_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: name, value, message. Values are stable: append only. */
#define ABYSS_ERRNO_MAP(XX)                                                    \
	XX(OK, 0, "success")                                                   \
	XX(ENOMEM, -1, "out of memory")                                        \
	XX(EINVAL, -2, "invalid argument")                                     \
	XX(EIO, -3, "input/output error")                                      \
	XX(ENOENT, -4, "no such file or directory")                            \
	XX(EPARSE, -5, "malformed input")                                      \
	XX(ETOOBIG, -6, "input exceeds a configured limit")                    \
	XX(ENOTSETITEC, -7, "not a Setitec drill file")                        \
	XX(ENODATA, -8, "no time series in input")                             \
	XX(EJSON, -9, "invalid JSON")                                          \
	XX(EMISSING, -10, "a required field is missing")                       \
	XX(ENOSTEP, -11, "a required program step is absent")                  \
	XX(ENOTFOUND, -12, "keypoint not found")                               \
	XX(ERANGE, -13, "value out of range")                                  \
	XX(EUNSUPPORTED, -14, "unsupported feature")                           \
	XX(ESHAPE, -15, "tensor shape mismatch")                               \
	XX(ECONFIG, -16, "invalid configuration")                              \
	XX(ETRUNCATED, -17, "input is truncated")                              \
	XX(EMQTT, -18, "MQTT error")                                           \
	XX(EDB, -19, "database error")                                         \
	XX(EFULL, -20, "queue or buffer full")                                 \
	XX(ETIMEOUT, -21, "timed out")                                         \
	XX(EDUPLICATE, -22, "duplicate message")                               \
	XX(ESHORT, -23, "too few samples")                                     \
	XX(ENOTIMPL, -24, "not implemented")                                   \
	XX(EDTYPE, -25, "unsupported tensor data type")                        \
	XX(ESTATE, -26, "invalid state for this call")                         \
	XX(EAGAIN, -27, "not decided here: use the full path")

enum abyss_err {
#define ABYSS__ERR_ENUM(name, val, msg) ABYSS_##name = (val),
	ABYSS_ERRNO_MAP(ABYSS__ERR_ENUM)
#undef ABYSS__ERR_ENUM
};

/* Returns a static, never-NULL English description of an error code.
 * Unknown codes give "unknown error". Thread-safe. */
const char *abyss_strerror(int code);

/* Returns the symbolic name ("ABYSS_EPARSE") of a code, or "ABYSS_E?". */
const char *abyss_errname(int code);

#define ABYSS_DIAG_FILE_MAX 512
#define ABYSS_DIAG_MSG_MAX  512

/* Where and why an input was rejected. line and col are 1-based; 0 means
 * "not applicable" (for example an error about the whole file). For JSON the
 * line/column come from the JSON parser. file is filled by the functions that
 * open files; functions that parse a memory buffer leave it as the caller set
 * it (abyss_diag_init sets it empty). */
struct abyss_diag {
	int code;
	size_t line;
	size_t col;
	char file[ABYSS_DIAG_FILE_MAX];
	char msg[ABYSS_DIAG_MSG_MAX];
};

/* Clears a diagnostic. NULL is accepted and ignored. */
void abyss_diag_init(struct abyss_diag *d);

/* Records code, position and a printf-style message in d (if d is not NULL)
 * and returns code, so callers can write `return abyss_diag_set(...)`. A
 * message too long for the buffer is truncated. */
int abyss_diag_set(struct abyss_diag *d, int code, size_t line, size_t col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sets d->file (truncated to fit). NULL d or name is ignored. */
void abyss_diag_set_file(struct abyss_diag *d, const char *name);

/* Formats "file:line:col: message (ABYSS_EXXX)" into buf (size n, always
 * NUL-terminated when n > 0); parts that are unknown are left out. Returns buf.
 */
char *abyss_diag_format(const struct abyss_diag *d, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
