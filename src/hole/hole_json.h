/*
 * hole_json.h - helpers shared by the JSON readers and writers of src/hole/
 * (mqtt.c, legacy.c, write.c). Internal: never installed, names hole__*.
 */
#ifndef ABYSS_HOLE_JSON_H
#define ABYSS_HOLE_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/message.h"

/* Parses len bytes of JSON into *root and checks lim (payload size, array
 * length, nesting). EJSON with jansson's line/column, ETOOBIG, ENOMEM. */
int hole__json_load(const char *buf, size_t len,
		    const struct abyss_msg_limits *lim, json_t **root,
		    struct abyss_diag *diag);

/* The same tree as json_loadb(buf, len, 0, NULL) for an object document of
 * ASCII strings without escapes, nested less than max_depth levels (the
 * root is level 0) with no array over max_array_len elements (json_fast.c),
 * or NULL when it cannot tell: the caller then asks jansson, which also
 * words any error. */
json_t *hole__json_fast(const char *buf, size_t len, size_t max_depth,
			size_t max_array_len);

/* What hole__json_scan reports. */
struct hole__json_scan {
	const char *ts; /* the first SourceTimestamp string, in the order of
			   hole__find_key (borrowed from buf), or NULL */
	size_t ts_len;
	int has_payload; /* root.Messages.Payload is an object */
};

/* Checks buf exactly as hole__json_fast would parse it (same acceptance,
 * same limits) without building the tree, and reads what the correlator
 * needs. Also gives up on an object with a repeated key, and on a
 * SourceTimestamp that is not a string (parse's error to word). Returns 1
 * (out filled) when hole__json_fast would succeed, 0 when it cannot tell. */
int hole__json_scan(const char *buf, size_t len, size_t max_depth,
		    size_t max_array_len, struct hole__json_scan *out);

/* First value of `key` in a pre-order walk over nested objects, in document
 * order, not descending into arrays (the original's find_in_dict); NULL if
 * none. */
json_t *hole__find_key(json_t *obj, const char *key);

/* In a payload object, the first key that contains (match_suffix == 0) or
 * ends with (match_suffix == 1) `sub`; returns that entry's "Value" member,
 * or NULL when there is no such key or the entry has no "Value". *keyp (may
 * be NULL) receives the key found, or NULL. */
json_t *hole__payload_value(json_t *payload, const char *sub, int match_suffix,
			    const char **keyp);

/* Python's str() of a scalar: strings as they are, integers in decimal,
 * reals as repr(), booleans "True"/"False". ABYSS_EMISSING for null,
 * ABYSS_EPARSE for arrays/objects, ABYSS_ETOOBIG when it does not fit. */
int hole__json_str(const json_t *v, char *buf, size_t n);

/* Python's int() of a scalar: integers, reals truncated toward zero, and
 * decimal strings (surrounding blanks allowed). ABYSS_EPARSE otherwise. */
int hole__json_int(const json_t *v, int64_t *out);

/* A number (integer or real) or null (-> NaN) as a double; EPARSE else. */
int hole__json_num(const json_t *v, double *out);

/* Copies s into buf (size n > 0) without surrounding blanks, truncating. */
void hole__strip_copy(char *buf, size_t n, const char *s);

#endif
