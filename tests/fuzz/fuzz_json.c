/*
 * fuzz_json.c - differential target for the JSON fast path (json_fast.c):
 * whenever hole__json_fast accepts an input, jansson's json_loadb must
 * accept it too and give the same tree - same types (integer vs real), the
 * same bits for every real, the same strings and the same key order. The
 * fast path may refuse anything (jansson then decides), so refusals are not
 * checked. Replayed by `make test` through replay_main.c.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *f = hole__json_fast((const char *)data, size);
	json_t *j;

	if (!f)
		return 0;
	j = json_loadb((const char *)data, size, 0, NULL);
	if (!j || !same(f, j))
		abort();
	json_decref(f);
	json_decref(j);
	return 0;
}
