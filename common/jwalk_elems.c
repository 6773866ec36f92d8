/*
 * jwalk_elems.c - the elements of a request's long arrays (system, tools,
 * messages), found in the raw body before it is parsed, so that an element
 * sent again unchanged (Claude Code resends the whole conversation on every
 * turn) can skip parsing and masking: the exchange takes its masked bytes
 * from the per-worker cache and parses only a reduced body, the request
 * without those elements. See jwalk.h for the contract.
 *
 * The scanner only finds boundaries; it proves nothing. What it finds is
 * used only when every element it takes out is byte-identical to one that
 * was parsed, checked and masked before, and the reduced body is parsed
 * strictly like any other; anything it does not understand makes it give
 * up, and the request takes the ordinary path.
 */
#include <stdint.h>
#include <string.h>

#include "jwalk.h"

/* The members whose array elements are cached; jwalk_elem.field points here. */
static const char *const fields[] = { "system", "tools", "messages" };

struct scan {
	const char *s;
	size_t len;
	const struct jwalk_known *known;
};

static size_t
skip_ws(const struct scan *sc, size_t p)
{
	while (p < sc->len && (sc->s[p] == ' ' || sc->s[p] == '\t' || sc->s[p] == '\n' ||
	    sc->s[p] == '\r'))
		p++;
	return p;
}

/*
 * The first '"' or '\\' in s[q..len), or len. Eight bytes at a time: the
 * text of a tool result is long and full of escaped quotes, and a memchr
 * for each kind of byte in turn paid a call per escape.
 */
static size_t
quote_or_escape(const struct scan *sc, size_t q)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;

	for (; q + 8 <= sc->len; q += 8) {
		uint64_t w, a, b;
		memcpy(&w, sc->s + q, 8);
		a = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		/* a byte of a or b is zero where w has the byte looked for: any? (exact) */
		if ((((a - ones) & ~a) | ((b - ones) & ~b)) & high)
			break;
	}
	for (; q < sc->len; q++)
		if (sc->s[q] == '"' || sc->s[q] == '\\')
			return q;
	return sc->len;
}

/* s[p] is '"': the offset after the closing quote, or 0 (unterminated). */
static size_t
str_end(const struct scan *sc, size_t p)
{
	size_t q = p + 1;

	for (;;) {
		q = quote_or_escape(sc, q);
		if (q >= sc->len)
			return 0;
		if (sc->s[q] == '"')
			return q + 1;
		q += 2;	/* the escaped character is skipped */
	}
}

/*
 * The end of the JSON value starting at s[p] (after whitespace), or 0 when
 * the text is not shaped like one: brackets and strings are matched, the
 * rest is left to the parser.
 */
static size_t
value_end(const struct scan *sc, size_t p)
{
	char stack[JWALK_MAX_DEPTH + 1];
	size_t depth = 0;

	if (p >= sc->len)
		return 0;
	if (sc->s[p] != '{' && sc->s[p] != '[' && sc->s[p] != '"') {
		while (p < sc->len && strchr(" \t\r\n,]}:\"[{", sc->s[p]) == NULL)
			p++;
		return p;
	}
	while (p < sc->len) {
		char c = sc->s[p];
		if (c == '"') {
			p = str_end(sc, p);
			if (p == 0)
				return 0;
			if (depth == 0)
				return p;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth == JWALK_MAX_DEPTH)
				return 0;
			stack[depth++] = c == '{' ? '}' : ']';
		} else if (c == '}' || c == ']') {
			if (depth == 0 || stack[depth - 1] != c)
				return 0;
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return 0;
}

/* The cached array named by the member key s[k..kend) (quotes included), or NULL. */
static const char *
cached_field(const struct scan *sc, size_t k, size_t kend)
{
	size_t i, n = kend - k - 2;

	for (i = 0; i < MG_NELEM(fields); i++)
		if (strlen(fields[i]) == n && memcmp(sc->s + k + 1, fields[i], n) == 0)
			return fields[i];
	return NULL;
}

/* Adds the array s[p..] (s[p] == '[') and its elements; the offset after it, or 0. */
static size_t
scan_array(const struct scan *sc, size_t p, const char *field, struct arena *a,
    struct jwalk_elems *el)
{
	struct jwalk_array *arr;

	if (el->narr == MG_NELEM(el->arr))
		return 0;
	arr = &el->arr[el->narr++];
	arr->field = field;
	arr->open = p;
	arr->first = el->n;
	p = skip_ws(sc, p + 1);
	if (p < sc->len && sc->s[p] == ']')
		return arr->close = p + 1;
	for (;;) {
		struct jwalk_elem *v;
		size_t e = 0;
		if (el->n == el->cap) {
			size_t ncap = el->cap ? el->cap * 2 : 32;
			struct jwalk_elem *g = arena_alloc(a, ncap * sizeof(*g));
			if (g == NULL)
				return 0;
			if (el->n > 0)
				memcpy(g, el->v, el->n * sizeof(*g));
			el->v = g;
			el->cap = ncap;
		}
		v = &el->v[el->n];
		memset(v, 0, sizeof(*v));
		v->field = field;
		v->start = p;
		if (sc->known != NULL && p < sc->len)
			e = sc->known->find(sc->known->ctx, v, sc->s + p, sc->len - p);
		if (e > sc->len - p)
			return 0;
		e = e > 0 ? p + e : value_end(sc, p);
		if (e == 0)
			return 0;
		v->end = e;
		el->n++;
		arr->n++;
		p = skip_ws(sc, e);
		if (p < sc->len && sc->s[p] == ']')
			return arr->close = p + 1;
		if (p >= sc->len || sc->s[p] != ',')
			return 0;
		p = skip_ws(sc, p + 1);
	}
}

/* The members of the top-level object; 0 when the text is not shaped so. */
static int
scan_body(const struct scan *sc, struct arena *a, struct jwalk_elems *el)
{
	size_t p = skip_ws(sc, 0), k, e;
	const char *field;

	if (p >= sc->len || sc->s[p] != '{')
		return 0;
	p = skip_ws(sc, p + 1);
	if (p < sc->len && sc->s[p] == '}')
		return skip_ws(sc, p + 1) == sc->len;
	for (;;) {
		if (p >= sc->len || sc->s[p] != '"')
			return 0;
		e = str_end(sc, p);
		if (e == 0)
			return 0;
		k = p;
		el->nkeys++;
		p = skip_ws(sc, e);
		if (p >= sc->len || sc->s[p] != ':')
			return 0;
		p = skip_ws(sc, p + 1);
		field = cached_field(sc, k, e);
		if (field != NULL && p < sc->len && sc->s[p] == '[')
			e = scan_array(sc, p, field, a, el);
		else
			e = value_end(sc, p);
		if (e == 0)
			return 0;
		p = skip_ws(sc, e);
		if (p < sc->len && sc->s[p] == '}')
			return skip_ws(sc, p + 1) == sc->len;
		if (p >= sc->len || sc->s[p] != ',')
			return 0;
		p = skip_ws(sc, p + 1);
	}
}

int
jwalk_elems_find(const char *body, size_t len, struct arena *a, struct jwalk_elems *el,
    const struct jwalk_known *known)
{
	struct scan sc = { body, len, known };

	memset(el, 0, sizeof(*el));
	if (!scan_body(&sc, a, el)) {
		memset(el, 0, sizeof(*el));
		return 0;
	}
	return el->n > 0;
}

char *
jwalk_elems_reduce(const char *body, size_t len, const struct jwalk_elems *el, struct arena *a,
    size_t *outlen)
{
	struct buf out;
	size_t k, i, at = 0;

	buf_init(&out, a);
	if (buf_reserve(&out, len / 4 + 64) != MG_OK)
		return NULL;
	for (k = 0; k < el->narr; k++) {
		const struct jwalk_array *arr = &el->arr[k];
		int sep = 0;
		if (buf_append(&out, body + at, arr->open - at) != MG_OK ||
		    buf_appendc(&out, '[') != MG_OK)
			return NULL;
		for (i = arr->first; i < arr->first + arr->n; i++) {
			const struct jwalk_elem *e = &el->v[i];
			if (e->cached)
				continue;
			if ((sep && buf_appendc(&out, ',') != MG_OK) ||
			    buf_append(&out, body + e->start, e->end - e->start) != MG_OK)
				return NULL;
			sep = 1;
		}
		if (buf_appendc(&out, ']') != MG_OK)
			return NULL;
		at = arr->close;
	}
	if (buf_append(&out, body + at, len - at) != MG_OK || buf_appendc(&out, '\0') != MG_OK)
		return NULL;
	*outlen = out.len - 1;
	return out.data;
}

char *
jwalk_elems_merge(const char *body, struct jwalk_elems *el, const char *reduced, size_t rlen,
    struct arena *a, size_t *outlen)
{
	struct jwalk_elems r;
	struct buf out;
	size_t k, i, j, at = 0;

	jwalk_elems_find(reduced, rlen, a, &r, NULL);
	if (r.nkeys != el->nkeys || r.narr != el->narr)
		return NULL;	/* policy changed the top level: the spans do not line up */
	for (k = 0; k < el->narr; k++) {
		const struct jwalk_array *arr = &el->arr[k];
		if (r.arr[k].field != arr->field)
			return NULL;
		for (i = arr->first, j = r.arr[k].first; i < arr->first + arr->n; i++) {
			if (el->v[i].cached)
				continue;
			if (j >= r.arr[k].first + r.arr[k].n)
				return NULL;
			el->v[i].out = reduced + r.v[j].start;
			el->v[i].outlen = r.v[j].end - r.v[j].start;
			j++;
		}
		if (j != r.arr[k].first + r.arr[k].n)
			return NULL;
	}
	/* the reduced output around the arrays; inside them the client's bytes */
	buf_init(&out, a);
	if (buf_reserve(&out, rlen + (el->narr > 0 ? el->arr[el->narr - 1].close : 0) + 64) != MG_OK)
		return NULL;
	for (k = 0; k < el->narr; k++) {
		const struct jwalk_array *arr = &el->arr[k];
		size_t pos = arr->open;
		if (buf_append(&out, reduced + at, r.arr[k].open - at) != MG_OK)
			return NULL;
		for (i = arr->first; i < arr->first + arr->n; i++) {
			const struct jwalk_elem *e = &el->v[i];
			if (buf_append(&out, body + pos, e->start - pos) != MG_OK ||
			    buf_append(&out, e->out, e->outlen) != MG_OK)
				return NULL;
			pos = e->end;
		}
		if (buf_append(&out, body + pos, arr->close - pos) != MG_OK)
			return NULL;
		at = r.arr[k].close;
	}
	if (buf_append(&out, reduced + at, rlen - at) != MG_OK || buf_appendc(&out, '\0') != MG_OK)
		return NULL;
	*outlen = out.len - 1;
	return out.data;
}
