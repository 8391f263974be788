/*
 * fuzz_json.c - differential target for the JSON fast path (json_fast.c):
 * whenever hole__json_fast accepts an input, jansson's json_loadb must
 * accept it too and give the same tree - same types (integer vs real), the
 * same bits for every real, the same strings and the same key order. The
 * fast path may refuse anything (jansson then decides), so refusals are not
 * checked. The scan (hole__json_scan) must agree with the tree: whatever it
 * accepts the fast path parses, with the same first SourceTimestamp
 * (hole__find_key) and the same verdict on Messages.Payload. Replayed by
 * `make test` through replay_main.c.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hole/hole_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(json_t *a, json_t *b)
{
	size_t i;

	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		void *ia = json_object_iter(a), *ib = json_object_iter(b);

		if (json_object_size(a) != json_object_size(b))
			return 0;
		for (; ia && ib; ia = json_object_iter_next(a, ia),
				 ib = json_object_iter_next(b, ib)) {
			size_t ka = json_object_iter_key_len(ia);

			if (ka != json_object_iter_key_len(ib) ||
			    memcmp(json_object_iter_key(ia),
				   json_object_iter_key(ib), ka) != 0 ||
			    !same(json_object_iter_value(ia),
				  json_object_iter_value(ib)))
				return 0;
		}
		return !ia && !ib;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
			      json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL: {
		double x = json_real_value(a), y = json_real_value(b);

		return memcmp(&x, &y, sizeof(x)) == 0;
	}
	default:
		return 1;
	}
}

/* The deepest container level (root 0) and the longest array. */
static void measure(json_t *v, size_t level, size_t *deep, size_t *wide)
{
	const char *k;
	json_t *c;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return;
	if (level > *deep)
		*deep = level;
	if (json_is_array(v)) {
		if (json_array_size(v) > *wide)
			*wide = json_array_size(v);
		json_array_foreach(v, i, c) measure(c, level + 1, deep, wide);
	} else {
		json_object_foreach(v, k, c) measure(c, level + 1, deep, wide);
	}
}

/* Accepted under (max_depth, max_array_len) means: jansson agrees, and the
 * tree is within the limits the caller no longer checks. */
static void check(const uint8_t *data, size_t size, size_t max_depth,
		  size_t max_len)
{
	json_t *f =
	    hole__json_fast((const char *)data, size, max_depth, max_len);
	json_t *j;
	size_t deep = 0, wide = 0;

	if (!f)
		return;
	j = json_loadb((const char *)data, size, 0, NULL);
	if (!j || !same(f, j))
		abort();
	measure(f, 0, &deep, &wide);
	if (deep >= max_depth || wide > max_len)
		abort();
	json_decref(f);
	json_decref(j);
}

static void check_scan(const uint8_t *data, size_t size, size_t max_depth,
		       size_t max_len)
{
	struct hole__json_scan sc;
	json_t *f, *ts, *msgs;
	int has_payload;

	if (!hole__json_scan((const char *)data, size, max_depth, max_len, &sc))
		return;
	f = hole__json_fast((const char *)data, size, max_depth, max_len);
	if (!f)
		abort();
	ts = hole__find_key(f, "SourceTimestamp");
	if (sc.ts
		? !json_is_string(ts) || json_string_length(ts) != sc.ts_len ||
		      memcmp(json_string_value(ts), sc.ts, sc.ts_len) != 0
		: ts != NULL)
		abort();
	msgs = json_object_get(f, "Messages");
	has_payload = json_is_object(msgs) &&
		      json_is_object(json_object_get(msgs, "Payload"));
	if (has_payload != sc.has_payload)
		abort();
	json_decref(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 32, 1000000);
	check(data, size, 3, 4);
	check_scan(data, size, 32, 1000000);
	check_scan(data, size, 3, 4);
	return 0;
}
