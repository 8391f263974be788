/*
 * abyss/safetensors.h - read and write Hugging Face safetensors files.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 * {"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...,
 * "__metadata__":{...}}, then the raw little-endian tensor bytes. The reader
 * maps the file read-only and validates everything before handing out a
 * tensor: the header is bounded, every entry has a supported dtype (F32,
 * F64), a shape whose element count matches its byte range, and the byte
 * ranges tile the data section exactly (no holes, no overlap, nothing past
 * the end). No tensor byte is ever read outside the mapping.
 *
 * Only F32 and F64 are accepted (the model is float32; pipeline tables are
 * float64); other dtypes fail with ABYSS_EDTYPE naming the tensor.
 */
#ifndef ABYSS_SAFETENSORS_H
#define ABYSS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ABYSS_ST_MAX_DIMS 8

enum abyss_st_dtype { ABYSS_ST_F32 = 0, ABYSS_ST_F64 = 1 };

/* One tensor of an open file. name and data are borrowed from the file and
 * stay valid until abyss_st_close(). data is not necessarily aligned for
 * its type: use abyss_st_read_f32/f64 to copy it out, or memcpy. */
struct abyss_st_tensor {
	const char *name;
	enum abyss_st_dtype dtype;
	int ndim;			 /* 0..ABYSS_ST_MAX_DIMS */
	size_t shape[ABYSS_ST_MAX_DIMS]; /* row-major, C order */
	size_t nelem;			 /* product of shape (1 for ndim 0) */
	size_t nbytes;			 /* nelem * dtype size */
	const unsigned char *data;
};

/* Bounds on what the reader accepts; zero fields take the defaults. */
struct abyss_st_limits {
	size_t max_header_bytes; /* default 16 MiB */
	size_t max_tensors;	 /* default 100000 */
	size_t max_name_bytes;	 /* default 1024 */
};

struct abyss_st_file;

/* Maps `path` and validates it. On success *out owns the mapping; free it
 * with abyss_st_close(). limits may be NULL (defaults). Errors:
 * ABYSS_ENOENT/EIO (open, map), ABYSS_ETRUNCATED (file shorter than its
 * header says), ABYSS_ETOOBIG (over a limit), ABYSS_EJSON (header not JSON;
 * diag has line and column), ABYSS_EPARSE (structure), ABYSS_EDTYPE,
 * ABYSS_ESHAPE (shape and byte range disagree), ABYSS_ENOMEM. diag names the
 * offending tensor. *out is untouched on failure. */
int abyss_st_open(const char *path, const struct abyss_st_limits *limits,
		  struct abyss_st_file **out, struct abyss_diag *diag);

/* Same as abyss_st_open on a memory buffer, which is BORROWED: it must
 * outlive the returned file and stay unchanged. */
int abyss_st_parse(const void *buf, size_t len,
		   const struct abyss_st_limits *limits,
		   struct abyss_st_file **out, struct abyss_diag *diag);

/* Unmaps and frees. NULL is a no-op. */
void abyss_st_close(struct abyss_st_file *f);

/* Number of tensors (the __metadata__ entry is not a tensor). */
size_t abyss_st_count(const struct abyss_st_file *f);

/* The i-th tensor in name order (strcmp), or NULL when i is out of range. */
const struct abyss_st_tensor *abyss_st_at(const struct abyss_st_file *f,
					  size_t i);

/* The tensor called `name`, or NULL. O(log n). */
const struct abyss_st_tensor *abyss_st_find(const struct abyss_st_file *f,
					    const char *name);

/* The string value of __metadata__[key], or NULL when absent or not a
 * string. Borrowed from f. */
const char *abyss_st_metadata(const struct abyss_st_file *f, const char *key);

/* Copies a tensor into dst converting to float / double (F64 -> F32 rounds
 * to nearest). n must equal t->nelem, else ABYSS_ESHAPE. */
int abyss_st_read_f32(const struct abyss_st_tensor *t, float *dst, size_t n);
int abyss_st_read_f64(const struct abyss_st_tensor *t, double *dst, size_t n);

/* A tensor to write. data holds nelem values of dtype, row-major. */
struct abyss_st_entry {
	const char *name;
	enum abyss_st_dtype dtype;
	int ndim;
	size_t shape[ABYSS_ST_MAX_DIMS];
	const void *data;
};

/* Writes n entries to `path` (replaced atomically through path.tmp and
 * rename): header keys sorted, __metadata__ {"format":"pt"}, header padded
 * with spaces to a multiple of 8, tensors stored back to back in name
 * order. Names must be unique and non-empty (ABYSS_EINVAL). Errors:
 * ABYSS_EIO, ABYSS_ENOMEM, ABYSS_EINVAL. */
int abyss_st_write(const char *path, const struct abyss_st_entry *entries,
		   size_t n, struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
