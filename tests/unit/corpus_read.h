/*
 * corpus_read.h - reading the labelled corpora of tests/corpus/ for the
 * recognition tests (test_corpus_thirdparty, test_corpus_packs): a gzip
 * file split into documents at "\x1eDOC " lines, and how much of a
 * labelled value the masked spans cover.
 */
#ifndef MG_CORPUS_READ_H
#define MG_CORPUS_READ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* The whole decompressed file (gzip -dc), NUL-terminated, or NULL. */
static char *
gunzip(const char *path, size_t *len)
{
	char cmd[1200];
	FILE *p;
	char *d = NULL;
	size_t cap = 0, n = 0, r;

	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			char *g = realloc(d, cap + (1 << 20));
			if (g == NULL) {
				free(d);
				pclose(p);
				return NULL;
			}
			d = g;
			cap += 1 << 20;
		}
		r = fread(d + n, 1, cap - n - 1, p);
		if (r == 0)
			break;
		n += r;
	}
	if (pclose(p) != 0) {
		free(d);
		return NULL;
	}
	d[n] = '\0';
	*len = n;
	return d;
}

struct doc {
	const char *text;
	size_t len;
	char head[200];	/* the "\x1eDOC " line: source and name */
};

/* Splits data at "\x1eDOC " lines; returns the number of documents. */
static size_t
split_docs(char *data, size_t len, struct doc **out)
{
	size_t n = 0, cap = 0;
	char *p = data, *end = data + len;
	struct doc *d = NULL;

	while (p < end) {
		char *h = memmem(p, (size_t)(end - p), "\x1e" "DOC ", 5), *nl, *next;
		if (h == NULL)
			break;
		nl = memchr(h, '\n', (size_t)(end - h));
		if (nl == NULL)
			break;
		next = memmem(nl + 1, (size_t)(end - nl - 1), "\x1e" "DOC ", 5);
		if (n == cap) {
			struct doc *g;
			cap = cap ? cap * 2 : 256;
			g = realloc(d, cap * sizeof(*d));
			if (g == NULL)
				break;
			d = g;
		}
		snprintf(d[n].head, sizeof(d[n].head), "%.*s", (int)(nl - h - 5), h + 5);
		d[n].text = nl + 1;
		d[n].len = (size_t)((next != NULL ? next : end) - (nl + 1));
		n++;
		p = next != NULL ? next : end;
	}
	*out = d;
	return n;
}

/* how much of [s, e) the masked spans m[0..n) cover (they are sorted) */
static size_t
covered(const struct rules_match *m, size_t n, size_t s, size_t e)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++) {
		size_t a = m[i].start > s ? m[i].start : s, b = m[i].end < e ? m[i].end : e;
		if (m[i].action == RULES_MASK && a < b)
			c += b - a;
	}
	return c;
}

#endif
