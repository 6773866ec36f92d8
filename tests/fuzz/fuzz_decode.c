/*
 * fuzz_decode.c - libFuzzer harness for the decoders of decode.c.
 * Properties, on any input:
 *  - a decoded view is never longer than its text, its map never
 *    decreases and stays inside the text, every span maps to a non-empty
 *    original range, and a text without '\\', '%' or '&' is not decoded;
 *  - one level of decoding, applied to text that has no escape char,
 *    changes nothing, and deeper levels only ever shorten the view;
 *  - base64 encoding round-trips every input, padded and not;
 *  - the `name: base64` finder advances, stays in bounds and only returns
 *    credential names with values decode_is_base64_text accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "decode.h"

static void
check_view(struct arena *a, const char *in, size_t size, int levels)
{
	struct decode_view v;
	size_t i;
	int r = decode_view_deep(a, in, size, levels, &v);

	if (r < 0)
		abort();
	if (r == 0)
		return;	/* no escape, or only characters that begin none */
	if (memchr(in, '\\', size) == NULL && memchr(in, '%', size) == NULL &&
	    memchr(in, '&', size) == NULL)
		abort();
	if (v.len > size || v.from[v.len] != size || v.text[v.len] != '\0')
		abort();
	for (i = 0; i < v.len; i++) {
		if (v.from[i] >= size || (i > 0 && v.from[i] < v.from[i - 1]))
			abort();
		if (decode_end(&v, i + 1) <= v.from[i] || decode_end(&v, i + 1) > size)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct arena a;
	struct buf enc, dec;
	struct decode_field f;
	size_t pos = 0, last = 0;
	int pad, padded;

	arena_init(&a);
	check_view(&a, in, size, 1);
	check_view(&a, in, size, DECODE_MAX_LEVELS);
	for (pad = 0; pad <= 1; pad++) {
		buf_init(&enc, &a);
		buf_init(&dec, &a);
		if (decode_base64_append(&enc, in, size, pad) != MG_OK)
			abort();
		if (pad && enc.len % 4 != 0)
			abort();
		if (decode_base64(enc.data != NULL ? enc.data : "", enc.len, &dec) != MG_OK)
			abort();
		if (dec.len != size || (size > 0 && memcmp(dec.data, in, size) != 0))
			abort();
	}
	while (decode_next_b64_field(in, size, &pos, &f)) {
		if (pos <= last && last != 0)
			abort();
		if (f.name + f.namelen > f.value || f.value + f.valuelen != pos || pos > size)
			abort();
		if (!decode_credential_name(in + f.name, f.namelen) ||
		    !decode_is_base64_text(in + f.value, f.valuelen, &padded))
			abort();
		last = pos;
	}
	if (pos != size)
		abort();
	arena_free(&a);
	return 0;
}
