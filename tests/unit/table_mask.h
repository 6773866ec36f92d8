/*
 * table_mask.h - the stand-in for the masking engine that the JSON tests
 * (test_jwalk) and fuzz harnesses (fuzz_jwalk, fuzz_splice, fuzz_elems)
 * give the walk: a small substring table, real value -> placeholder.
 * Placeholders end in a letter, so that a placeholder followed by digits
 * never spells a table entry.
 */
#ifndef MG_FUZZ_TABLE_MASK_H
#define MG_FUZZ_TABLE_MASK_H

#include <string.h>

#include "arena.h"

struct table_sub {
	const char *from, *to;
};

/* Appends in[0..len) to out with every entry of table[0..n) replaced. */
static enum mg_err __attribute__((unused))
table_mask(const struct table_sub *table, size_t n, const char *in, size_t len, struct buf *out)
{
	size_t i = 0, k, fl;

	while (i < len) {
		for (k = 0; k < n; k++) {
			fl = strlen(table[k].from);
			if (len - i >= fl && memcmp(in + i, table[k].from, fl) == 0)
				break;
		}
		if (k < n) {
			if (buf_appends(out, table[k].to) != MG_OK)
				return MG_ENOMEM;
			i += strlen(table[k].from);
		} else {
			if (buf_appendc(out, in[i]) != MG_OK)
				return MG_ENOMEM;
			i++;
		}
	}
	return MG_OK;
}

/* The table most harnesses use, as a jwalk_xform transform. */
static const struct table_sub table_default[] = {
	{ "i-0", "AWS_EC2_X" },
	{ "1234", "AWS_ACCOUNT_Y" },
	{ "\"", "AWS_QUOTE_Z" },
};

static enum mg_err __attribute__((unused))
table_mask_default(void *ctx, const char *in, size_t len, struct buf *out)
{
	(void)ctx;
	return table_mask(table_default, MG_NELEM(table_default), in, len, out);
}

#endif
