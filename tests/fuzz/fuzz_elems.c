/*
 * fuzz_elems.c - libFuzzer harness for the cache of masked elements
 * (jwalk_elems.c): what the exchange forwards when some elements of
 * system, tools and messages come from the cache must be byte for byte
 * what masking the whole body gives.
 *
 * For any input: jwalk_elems_find and jwalk_elems_reduce must not crash.
 * For every body jwalk_parse accepts and the request walk masks (with a
 * substring table standing in for the engine): the whole body is masked
 * and spliced; the elements the first input byte picks take their masked
 * bytes from that output, told to the scanner as the cache tells it (they
 * must end where the scanner alone ends them); the reduced body
 * must parse, mask and splice, and merging must give exactly the whole
 * body's output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "jwalk.h"
#include "../unit/table_mask.h"


static const struct jwalk_xform xmask = { table_mask_default, NULL, NULL };

/* Parses, masks and splices text; NULL when it is refused. */
static char *
mask_body(const char *text, size_t len, struct arena *a, size_t *outlen)
{
	struct json_object *root = NULL;
	char err[200], *out = NULL;

	if (jwalk_parse(text, len, &root, err, sizeof(err)) == MG_OK &&
	    jwalk_mask_request(root, a, &xmask, err, sizeof(err)) == MG_OK)
		out = jwalk_splice(root, text, len, a, outlen);
	jwalk_free(root);
	return out;
}

/* The cache as the exchange asks it: the elements pick chooses, known from a first scan. */
struct oracle {
	const char *body;
	const struct jwalk_elems *first, *whole;
	const char *full;
	unsigned pick;
};

static size_t
oracle_find(void *ctx, struct jwalk_elem *e, const char *s, size_t avail)
{
	const struct oracle *o = ctx;
	size_t i, at = (size_t)(s - o->body);

	for (i = 0; i < o->first->n; i++) {
		const struct jwalk_elem *f = &o->first->v[i];
		if (f->start != at || !((o->pick >> (i % 8)) & 1))
			continue;
		if (f->end - f->start > avail)
			abort();
		e->cached = 1;
		e->out = o->full + o->whole->v[i].start;
		e->outlen = o->whole->v[i].end - o->whole->v[i].start;
		return f->end - f->start;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwalk_elems first, el, whole;
	struct jwalk_known known;
	struct oracle o;
	struct arena a;
	const char *body, *reduced;
	char *full, *part, *merged;
	size_t len, flen, rlen, plen, mlen, i;
	unsigned pick;

	if (size < 1)
		return 0;
	pick = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	arena_init(&a);
	if (!jwalk_elems_find(body, len, &a, &first, NULL))
		goto out;
	full = mask_body(body, len, &a, &flen);
	if (full == NULL || !jwalk_elems_find(full, flen, &a, &whole, NULL) ||
	    whole.n != first.n) {
		/* not a body the exchange would cache from: the scanner alone */
		for (i = 0; i < first.n; i++) {
			first.v[i].cached = (pick >> (i % 8)) & 1;
			first.v[i].out = body + first.v[i].start;
			first.v[i].outlen = first.v[i].end - first.v[i].start;
		}
		(void)jwalk_elems_reduce(body, len, &first, &a, &rlen);
		goto out;
	}
	/* elements told by the cache end where the scanner ends them */
	o = (struct oracle){ body, &first, &whole, full, pick };
	known = (struct jwalk_known){ oracle_find, &o };
	if (!jwalk_elems_find(body, len, &a, &el, &known) || el.n != first.n)
		abort();
	for (i = 0; i < el.n; i++)
		if (el.v[i].start != first.v[i].start || el.v[i].end != first.v[i].end ||
		    el.v[i].cached != (int)((pick >> (i % 8)) & 1))
			abort();
	reduced = jwalk_elems_reduce(body, len, &el, &a, &rlen);
	part = reduced != NULL ? mask_body(reduced, rlen, &a, &plen) : NULL;
	if (part == NULL) {
		fprintf(stderr, "the reduced body was refused:\n%.*s\n", (int)rlen,
		    reduced != NULL ? reduced : "");
		abort();
	}
	merged = jwalk_elems_merge(body, &el, part, plen, &a, &mlen);
	if (merged == NULL || mlen != flen || memcmp(merged, full, flen) != 0) {
		fprintf(stderr, "merged output differs from the whole body's:\n%.*s\n%.*s\n",
		    (int)(merged != NULL ? mlen : 0), merged != NULL ? merged : "", (int)flen, full);
		abort();
	}
out:
	arena_free(&a);
	return 0;
}
