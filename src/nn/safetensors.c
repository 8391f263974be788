/*
 * safetensors.c - Hugging Face safetensors reader (mmap, validated) and
 * writer. The reader checks the whole header before any tensor is handed
 * out, so later code may index tensor bytes without further checks. It
 * does not convert dtypes other than F32/F64 and does not support big-endian
 * hosts. It sits under the model loader (model.c) and the tests' reference
 * tensor readers.
 */
#include "abyss/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST__DEF_HEADER	((size_t)16 << 20)
#define ST__DEF_TENSORS ((size_t)100000)
#define ST__DEF_NAME	((size_t)1024)

struct abyss_st_file {
	void *map; /* mmap'd region, or NULL for a borrowed buffer */
	size_t map_len;
	size_t count;
	struct abyss_st_tensor *t; /* sorted by name */
	char *names;		   /* all names, NUL-separated */
	json_t *meta;		   /* __metadata__ object or NULL */
};

static size_t dtype_size(enum abyss_st_dtype d)
{
	return d == ABYSS_ST_F64 ? 8 : 4;
}

static int cmp_by_name(const void *a, const void *b)
{
	const struct abyss_st_tensor *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int cmp_by_offset(const void *a, const void *b)
{
	const struct abyss_st_tensor *const *x = a, *const *y = b;
	if ((*x)->data < (*y)->data)
		return -1;
	return (*x)->data > (*y)->data;
}

/* Reads a JSON non-negative integer into *v; 0 or -1. */
static int json_size(const json_t *j, size_t *v)
{
	json_int_t i;

	if (!json_is_integer(j))
		return -1;
	i = json_integer_value(j);
	if (i < 0 || (unsigned long long)i > (unsigned long long)SIZE_MAX)
		return -1;
	*v = (size_t)i;
	return 0;
}

/* Parses one header entry (not __metadata__) into t; data is filled with
 * the offset (relative to the data section) for the caller to rebase. */
static int parse_entry(const char *name, json_t *v, size_t data_len,
		       struct abyss_st_tensor *t, size_t *begin,
		       struct abyss_diag *diag)
{
	json_t *dt, *sh, *off;
	const char *ds;
	size_t i, end, nelem = 1, sz;

	if (!json_is_object(v))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "tensor '%s': header entry is not an "
				      "object",
				      name);
	dt = json_object_get(v, "dtype");
	sh = json_object_get(v, "shape");
	off = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "tensor '%s': needs string 'dtype', "
				      "array 'shape' and array 'data_offsets'",
				      name);
	ds = json_string_value(dt);
	if (strcmp(ds, "F32") == 0)
		t->dtype = ABYSS_ST_F32;
	else if (strcmp(ds, "F64") == 0)
		t->dtype = ABYSS_ST_F64;
	else
		return abyss_diag_set(diag, ABYSS_EDTYPE, 0, 0,
				      "tensor '%s': dtype '%.16s' is not "
				      "supported (F32 and F64 only)",
				      name, ds);
	if (json_array_size(sh) > ABYSS_ST_MAX_DIMS)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "tensor '%s': %zu dimensions, at most %d",
				      name, json_array_size(sh),
				      ABYSS_ST_MAX_DIMS);
	t->ndim = (int)json_array_size(sh);
	for (i = 0; i < json_array_size(sh); i++) {
		size_t d;

		if (json_size(json_array_get(sh, i), &d) != 0)
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "tensor '%s': shape[%zu] is not "
					      "a non-negative integer",
					      name, i);
		t->shape[i] = d;
		if (d != 0 && nelem > SIZE_MAX / d)
			return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
					      "tensor '%s': element count "
					      "overflows",
					      name);
		nelem *= d;
	}
	sz = dtype_size(t->dtype);
	if (nelem > SIZE_MAX / sz)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "tensor '%s': byte size overflows", name);
	if (json_array_size(off) != 2 ||
	    json_size(json_array_get(off, 0), begin) != 0 ||
	    json_size(json_array_get(off, 1), &end) != 0 || end < *begin)
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "tensor '%s': data_offsets must be "
				      "[begin, end] with 0 <= begin <= end",
				      name);
	if (end > data_len)
		return abyss_diag_set(diag, ABYSS_ETRUNCATED, 0, 0,
				      "tensor '%s': bytes [%zu, %zu) lie past "
				      "the end of the data (%zu bytes)",
				      name, *begin, end, data_len);
	if (end - *begin != nelem * sz)
		return abyss_diag_set(diag, ABYSS_ESHAPE, 0, 0,
				      "tensor '%s': %zu bytes for %zu elements "
				      "of %s",
				      name, end - *begin, nelem, ds);
	t->nelem = nelem;
	t->nbytes = nelem * sz;
	return 0;
}

static int parse_header(struct abyss_st_file *f, const unsigned char *buf,
			size_t len, const struct abyss_st_limits *lim,
			struct abyss_diag *diag)
{
	size_t max_header = lim && lim->max_header_bytes ? lim->max_header_bytes
							 : ST__DEF_HEADER;
	size_t max_tensors =
	    lim && lim->max_tensors ? lim->max_tensors : ST__DEF_TENSORS;
	size_t max_name =
	    lim && lim->max_name_bytes ? lim->max_name_bytes : ST__DEF_NAME;
	uint64_t n = 0;
	size_t i, k, names_len = 0, data_len, expect;
	const unsigned char *data;
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	const struct abyss_st_tensor **order = NULL;
	char *np;
	int rc;

	if (len < 8)
		return abyss_diag_set(diag, ABYSS_ETRUNCATED, 0, 0,
				      "file is %zu bytes, shorter than the "
				      "8-byte header length",
				      len);
	for (i = 0; i < 8; i++)
		n |= (uint64_t)buf[i] << (8 * i);
	if (n > max_header)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "header of %llu bytes exceeds the limit "
				      "of %zu",
				      (unsigned long long)n, max_header);
	if (n > len - 8)
		return abyss_diag_set(diag, ABYSS_ETRUNCATED, 0, 0,
				      "header says %llu bytes but only %zu "
				      "follow",
				      (unsigned long long)n, len - 8);
	if (n < 2 || buf[8] != '{')
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "header does not start with a JSON "
				      "object");
	root = json_loadb((const char *)buf + 8, (size_t)n,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return abyss_diag_set(diag, ABYSS_EJSON, (size_t)jerr.line,
				      (size_t)jerr.column, "header JSON: %s",
				      jerr.text);
	if (!json_is_object(root)) {
		rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				    "header is not a JSON object");
		goto out;
	}
	data = buf + 8 + n;
	data_len = len - 8 - (size_t)n;
	f->count = 0;
	json_object_foreach(root, key, v)
	{
		size_t kl = strlen(key);

		if (strcmp(key, "__metadata__") == 0) {
			if (!json_is_object(v)) {
				rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
						    "__metadata__ is not an "
						    "object");
				goto out;
			}
			continue;
		}
		if (kl == 0 || kl > max_name) {
			rc = abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
					    "tensor name of %zu bytes (limit "
					    "1..%zu)",
					    kl, max_name);
			goto out;
		}
		f->count++;
		names_len += kl + 1;
	}
	if (f->count > max_tensors) {
		rc = abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				    "%zu tensors exceed the limit of %zu",
				    f->count, max_tensors);
		goto out;
	}
	f->t = calloc(f->count ? f->count : 1, sizeof(*f->t));
	f->names = malloc(names_len ? names_len : 1);
	order = calloc(f->count ? f->count : 1,
		       sizeof(const struct abyss_st_tensor *));
	if (!f->t || !f->names || !order) {
		rc = abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				    "out of memory reading the header");
		goto out;
	}
	np = f->names;
	k = 0;
	json_object_foreach(root, key, v)
	{
		size_t begin = 0, kl;

		if (strcmp(key, "__metadata__") == 0)
			continue;
		rc = parse_entry(key, v, data_len, &f->t[k], &begin, diag);
		if (rc)
			goto out;
		kl = strlen(key);
		memcpy(np, key, kl + 1);
		f->t[k].name = np;
		np += kl + 1;
		f->t[k].data = data + begin;
		order[k] = &f->t[k];
		k++;
	}
	/* The byte ranges must tile the data section: sorted by offset, each
	 * begins where the previous ended and the last ends at the file end. */
	qsort(order, f->count, sizeof(const struct abyss_st_tensor *),
	      cmp_by_offset);
	expect = 0;
	for (k = 0; k < f->count; k++) {
		size_t b = (size_t)(order[k]->data - data);

		if (b != expect) {
			rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					    "tensor '%s': data begins at %zu, "
					    "expected %zu (ranges must be "
					    "contiguous, without holes or "
					    "overlap)",
					    order[k]->name, b, expect);
			goto out;
		}
		expect = b + order[k]->nbytes;
	}
	if (expect != data_len) {
		rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				    "tensors cover %zu data bytes but the file "
				    "holds %zu",
				    expect, data_len);
		goto out;
	}
	qsort(f->t, f->count, sizeof(*f->t), cmp_by_name);
	v = json_object_get(root, "__metadata__");
	if (v)
		f->meta = json_incref(v);
	rc = 0;
out:
	free(order);
	json_decref(root);
	return rc;
}

void abyss_st_close(struct abyss_st_file *f)
{
	if (!f)
		return;
	if (f->map)
		munmap(f->map, f->map_len);
	json_decref(f->meta);
	free(f->t);
	free(f->names);
	free(f);
}

int abyss_st_parse(const void *buf, size_t len,
		   const struct abyss_st_limits *limits,
		   struct abyss_st_file **out, struct abyss_diag *diag)
{
	struct abyss_st_file *f;
	int rc;

	if ((!buf && len) || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_st_parse: NULL argument");
	f = calloc(1, sizeof(*f));
	if (!f)
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	rc = parse_header(f, buf, len, limits, diag);
	if (rc) {
		abyss_st_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

int abyss_st_open(const char *path, const struct abyss_st_limits *limits,
		  struct abyss_st_file **out, struct abyss_diag *diag)
{
	struct abyss_st_file *f = NULL;
	struct stat st;
	void *map;
	int fd, rc;

	if (!path || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_st_open: NULL argument");
	abyss_diag_set_file(diag, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return abyss_diag_set(
		    diag, errno == ENOENT ? ABYSS_ENOENT : ABYSS_EIO, 0, 0,
		    "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				      "not a regular file");
	}
	if (st.st_size < 8) {
		close(fd);
		return abyss_diag_set(diag, ABYSS_ETRUNCATED, 0, 0,
				      "file is %lld bytes, shorter than the "
				      "8-byte header length",
				      (long long)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0, "cannot map: %s",
				      strerror(errno));
	f = calloc(1, sizeof(*f));
	if (!f) {
		munmap(map, (size_t)st.st_size);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	f->map = map;
	f->map_len = (size_t)st.st_size;
	rc = parse_header(f, map, f->map_len, limits, diag);
	if (rc) {
		abyss_st_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

size_t abyss_st_count(const struct abyss_st_file *f)
{
	return f ? f->count : 0;
}

const struct abyss_st_tensor *abyss_st_at(const struct abyss_st_file *f,
					  size_t i)
{
	if (!f || i >= f->count)
		return NULL;
	return &f->t[i];
}

const struct abyss_st_tensor *abyss_st_find(const struct abyss_st_file *f,
					    const char *name)
{
	size_t lo = 0, hi;

	if (!f || !name)
		return NULL;
	hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, f->t[mid].name);

		if (c == 0)
			return &f->t[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *abyss_st_metadata(const struct abyss_st_file *f, const char *key)
{
	json_t *v;

	if (!f || !f->meta || !key)
		return NULL;
	v = json_object_get(f->meta, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int abyss_st_read_f32(const struct abyss_st_tensor *t, float *dst, size_t n)
{
	size_t i;

	if (!t || (!dst && n))
		return ABYSS_EINVAL;
	if (n != t->nelem)
		return ABYSS_ESHAPE;
	if (n == 0)
		return 0;
	if (t->dtype == ABYSS_ST_F32) {
		memcpy(dst, t->data, n * sizeof(float));
		return 0;
	}
	for (i = 0; i < n; i++) {
		double d;

		memcpy(&d, t->data + i * sizeof(double), sizeof(d));
		dst[i] = (float)d;
	}
	return 0;
}

int abyss_st_read_f64(const struct abyss_st_tensor *t, double *dst, size_t n)
{
	size_t i;

	if (!t || (!dst && n))
		return ABYSS_EINVAL;
	if (n != t->nelem)
		return ABYSS_ESHAPE;
	if (n == 0)
		return 0;
	if (t->dtype == ABYSS_ST_F64) {
		memcpy(dst, t->data, n * sizeof(double));
		return 0;
	}
	for (i = 0; i < n; i++) {
		float x;

		memcpy(&x, t->data + i * sizeof(float), sizeof(x));
		dst[i] = x;
	}
	return 0;
}

/* ---- writer ------------------------------------------------------------ */

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct abyss_st_entry *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static size_t entry_bytes(const struct abyss_st_entry *e)
{
	size_t n = 1;
	int i;

	for (i = 0; i < e->ndim; i++)
		n *= e->shape[i];
	return n * dtype_size(e->dtype);
}

int abyss_st_write(const char *path, const struct abyss_st_entry *entries,
		   size_t n, struct abyss_diag *diag)
{
	const struct abyss_st_entry **sorted = NULL;
	json_t *root = NULL, *meta;
	char *hdr = NULL, tmp[4096];
	size_t i, off = 0, hlen, pad;
	unsigned char lenbuf[8];
	FILE *fp = NULL;
	int rc = ABYSS_ENOMEM;

	if (!path || (!entries && n))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_st_write: NULL argument");
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "path too long");
	sorted = calloc(n ? n : 1, sizeof(const struct abyss_st_entry *));
	root = json_object();
	meta = json_object();
	if (!sorted || !root || !meta ||
	    json_object_set_new(meta, "format", json_string("pt")) ||
	    json_object_set_new(root, "__metadata__", meta))
		goto fail;
	for (i = 0; i < n; i++) {
		const struct abyss_st_entry *e = &entries[i];

		if (!e->name || !*e->name || e->ndim < 0 ||
		    e->ndim > ABYSS_ST_MAX_DIMS ||
		    strcmp(e->name, "__metadata__") == 0 ||
		    (e->dtype != ABYSS_ST_F32 && e->dtype != ABYSS_ST_F64) ||
		    (!e->data && entry_bytes(e))) {
			rc = abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
					    "entry %zu is invalid", i);
			goto fail;
		}
		sorted[i] = e;
	}
	qsort(sorted, n, sizeof(const struct abyss_st_entry *), cmp_entry_ptr);
	for (i = 0; i < n; i++) {
		const struct abyss_st_entry *e = sorted[i];
		json_t *o = json_object(), *shape = json_array(),
		       *offs = json_array();
		size_t nb = entry_bytes(e);
		int d, bad = !o || !shape || !offs;

		if (i > 0 && strcmp(sorted[i - 1]->name, e->name) == 0) {
			json_decref(o);
			json_decref(shape);
			json_decref(offs);
			rc = abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
					    "duplicate tensor name '%s'",
					    e->name);
			goto fail;
		}
		for (d = 0; !bad && d < e->ndim; d++)
			bad |= json_array_append_new(
			    shape, json_integer((json_int_t)e->shape[d]));
		bad = bad ||
		      json_array_append_new(offs,
					    json_integer((json_int_t)off)) ||
		      json_array_append_new(
			  offs, json_integer((json_int_t)off + (json_int_t)nb));
		bad =
		    bad ||
		    json_object_set_new(
			o, "dtype",
			json_string(e->dtype == ABYSS_ST_F32 ? "F32" : "F64"));
		if (bad || json_object_set_new(o, "shape", shape)) {
			json_decref(o);
			json_decref(offs);
			goto fail;
		}
		if (json_object_set_new(o, "data_offsets", offs)) {
			json_decref(o);
			goto fail;
		}
		if (json_object_set_new(root, e->name, o))
			goto fail;
		off += nb;
	}
	hdr = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!hdr)
		goto fail;
	hlen = strlen(hdr);
	pad = (8 - (8 + hlen) % 8) % 8;
	for (i = 0; i < 8; i++)
		lenbuf[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
	fp = fopen(tmp, "wb");
	if (!fp) {
		rc = abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				    "cannot create %s: %s", tmp,
				    strerror(errno));
		goto fail;
	}
	if (fwrite(lenbuf, 1, 8, fp) != 8 || fwrite(hdr, 1, hlen, fp) != hlen)
		goto fail_io;
	for (i = 0; i < pad; i++)
		if (fputc(' ', fp) == EOF)
			goto fail_io;
	for (i = 0; i < n; i++) {
		size_t nb = entry_bytes(sorted[i]);

		if (nb && fwrite(sorted[i]->data, 1, nb, fp) != nb)
			goto fail_io;
	}
	if (fclose(fp) != 0) {
		fp = NULL;
		goto fail_io;
	}
	fp = NULL;
	if (rename(tmp, path) != 0)
		goto fail_io;
	rc = 0;
	goto done;
fail_io:
	rc = abyss_diag_set(diag, ABYSS_EIO, 0, 0, "cannot write %s: %s", path,
			    strerror(errno));
	if (fp)
		fclose(fp);
	remove(tmp);
	goto done;
fail:
	if (rc == ABYSS_ENOMEM)
		abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0, "out of memory");
done:
	free(hdr);
	json_decref(root);
	free(sorted);
	return rc;
}
