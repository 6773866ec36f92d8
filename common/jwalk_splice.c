/*
 * jwalk_splice.c - byte-faithful forwarding: the body sent upstream is the
 * client's own bytes, with only the values that masking or policy changed
 * in the tree written anew. Whitespace, key order, \u escapes and number
 * spellings (-0, 1E2, 1.50) of everything else travel as the client wrote
 * them, so a client that signs, hashes or caches its body sees it intact.
 *
 * The raw text is walked in step with the json-c tree it was parsed into:
 * json-c keeps object members in document order and arrays are positional,
 * so the n-th member of a raw object is the n-th member of the tree object
 * as long as no key occurs twice. A duplicate key makes json-c keep one
 * copy silently (and another parser might keep the other), so
 * jwalk_check_duplicates() refuses such a body right after parsing, with
 * the same walk.
 *
 * Whatever does not line up (an object whose member count policy changed,
 * a number that masking turned into a string) is written from the tree,
 * so the output always parses to exactly the tree; only its spelling
 * falls back to json-c's for that value.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

struct splice {
	const char *s;		/* the client's body, already accepted by jwalk_parse */
	size_t len;
	struct buf *out;	/* NULL: check only (duplicate keys) */
	size_t copied;		/* s[0..copied) is in out */
	struct buf scratch;	/* a decoded string literal */
	enum mg_err rc;
	size_t dup_at;		/* offset of the object with a duplicate key */
};

static size_t
skip_ws(const struct splice *sp, size_t p)
{
	while (p < sp->len && (sp->s[p] == ' ' || sp->s[p] == '\t' || sp->s[p] == '\n' ||
	    sp->s[p] == '\r'))
		p++;
	return p;
}

/* s[p] is '"': returns the offset after the closing quote; *esc: it holds a '\'. */
static size_t
str_end(const struct splice *sp, size_t p, int *esc)
{
	size_t q = p + 1;

	*esc = 0;
	for (;;) {
		const char *hit = memchr(sp->s + q, '"', sp->len - q);
		size_t i, k = 0;
		if (hit == NULL)
			return sp->len;	/* cannot happen in accepted JSON */
		i = (size_t)(hit - sp->s);
		while (i - k > p + 1 && sp->s[i - k - 1] == '\\')
			k++;
		if (k > 0)
			*esc = 1;
		if (k % 2 == 0) {
			if (!*esc && memchr(sp->s + p + 1, '\\', i - p - 1) != NULL)
				*esc = 1;
			return i + 1;
		}
		q = i + 1;
	}
}

static size_t
scalar_end(const struct splice *sp, size_t p)
{
	while (p < sp->len && strchr(" \t\r\n,]}:", sp->s[p]) == NULL)
		p++;
	return p;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits (json-c checked them) as a code unit. */
static unsigned
hex4(const char *s)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < 4; k++)
		v = v << 4 | ((unsigned)hexval(s[k]) & 0xfu);
	return v;
}

static enum mg_err
put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}

/*
 * Decodes the literal s[p..end) (quotes included, escapes valid: jwalk_parse
 * refused lone surrogates) into sp->scratch.
 */
static enum mg_err
decode_literal(struct splice *sp, size_t p, size_t end)
{
	const char *s = sp->s;
	size_t i = p + 1, stop = end - 1, run;
	enum mg_err rc = MG_OK;

	buf_clear(&sp->scratch);
	while (i < stop && rc == MG_OK) {
		const char *bs = memchr(s + i, '\\', stop - i);
		unsigned cp;
		run = bs != NULL ? (size_t)(bs - s) - i : stop - i;
		rc = buf_append(&sp->scratch, s + i, run);
		i += run;
		if (i >= stop || rc != MG_OK)
			break;
		switch (s[i + 1]) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = hex4(s + i + 2);
			if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= stop) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s + i + 8) - 0xdc00);
				i += 6;
			}
			i += 4;
			break;
		default: cp = (unsigned char)s[i + 1]; break;	/* " \ / */
		}
		rc = put_utf8(&sp->scratch, cp);
		i += 2;
	}
	return rc;
}

/* Does the literal s[p..end) spell exactly str[0..n)? */
static int
same_string(struct splice *sp, size_t p, size_t end, int esc, const char *str, size_t n)
{
	if (!esc)
		return end - p - 2 == n && memcmp(sp->s + p + 1, str, n) == 0;
	if (decode_literal(sp, p, end) != MG_OK) {
		sp->rc = MG_ENOMEM;
		return 0;
	}
	return sp->scratch.len == n && (n == 0 || memcmp(sp->scratch.data, str, n) == 0);
}

/* Is the scalar literal s[p..end) (number, true, false, null) still node's value? */
static int
same_scalar(const struct splice *sp, size_t p, size_t end, struct json_object *node)
{
	char lit[64];
	size_t n = end - p;

	if (node == NULL)
		return n == 4 && memcmp(sp->s + p, "null", 4) == 0;
	switch (json_object_get_type(node)) {
	case json_type_boolean:
		return json_object_get_boolean(node) ? sp->s[p] == 't' : sp->s[p] == 'f';
	case json_type_int:
		if (n >= sizeof(lit) || memchr(sp->s + p, '.', n) != NULL ||
		    memchr(sp->s + p, 'e', n) != NULL || memchr(sp->s + p, 'E', n) != NULL)
			return 0;
		/* by value: json-c also takes -0 and -007 (spellings kept as sent) */
		memcpy(lit, sp->s + p, n);
		lit[n] = '\0';
		errno = 0;
		if (lit[0] == '-') {
			long long v = strtoll(lit, NULL, 10);
			return errno == 0 && v == (long long)json_object_get_int64(node) &&
			    (v < 0 || v == 0);
		} else {
			unsigned long long v = strtoull(lit, NULL, 10);
			return errno == 0 && json_object_get_int64(node) >= 0 &&
			    v == (unsigned long long)json_object_get_uint64(node);
		}
	case json_type_double: {
		double d;
		if (n >= sizeof(lit))
			return 0;
		memcpy(lit, sp->s + p, n);
		lit[n] = '\0';
		d = strtod(lit, NULL);
		/* -0.0 == 0.0: the sign is compared apart */
		return d == json_object_get_double(node) &&
		    signbit(d) == signbit(json_object_get_double(node));
	}
	default:
		return 0;
	}
}

static enum mg_err
flush_to(struct splice *sp, size_t upto)
{
	enum mg_err rc = buf_append(sp->out, sp->s + sp->copied, upto - sp->copied);

	sp->copied = upto;
	return rc;
}

/* Writes node (json-c's spelling) in place of s[p..end). */
static void
replace(struct splice *sp, size_t p, size_t end, struct json_object *node)
{
	const char *js;
	size_t n = 0;

	if (sp->out == NULL || sp->rc != MG_OK)
		return;
	js = json_object_to_json_string_length(node, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (js == NULL || flush_to(sp, p) != MG_OK || buf_append(sp->out, js, n) != MG_OK)
		sp->rc = MG_ENOMEM;
	sp->copied = end;
}

static size_t splice_value(struct splice *sp, size_t p, struct json_object *node, int depth);

/* Skips the value at p without looking at it: the end offset. */
static size_t
skip_value(struct splice *sp, size_t p, int depth)
{
	struct buf *out = sp->out;
	size_t end;

	sp->out = NULL;
	end = splice_value(sp, p, NULL, depth);
	sp->out = out;
	return end;
}

static enum mg_err
put_key(struct splice *sp, const char *key)
{
	if (buf_appendc(sp->out, '"') != MG_OK ||
	    buf_append_json_escaped(sp->out, key, strlen(key)) != MG_OK ||
	    buf_appendc(sp->out, '"') != MG_OK)
		return MG_ENOMEM;
	return MG_OK;
}

/*
 * The object at p (s[p] == '{'), member by member against obj. Members
 * beyond the tree's are dropped, the tree's members beyond the raw ones are
 * appended (policy added or removed fields: wire.c).
 */
static size_t
splice_object(struct splice *sp, size_t p, struct json_object *obj, int depth)
{
	struct lh_entry *e = NULL;
	size_t q = skip_ws(sp, p + 1), nraw = 0, last_end = p + 1;
	int tree = json_object_is_type(obj, json_type_object), check = sp->out == NULL;
	int dropping = 0;

	if (tree)
		e = json_object_get_object(obj)->head;
	while (q < sp->len && sp->s[q] != '}' && sp->rc == MG_OK) {
		size_t ks = q, ke, vs, ve;
		int esc;
		ke = str_end(sp, ks, &esc);
		vs = skip_ws(sp, skip_ws(sp, ke) + 1);	/* past the ':' */
		nraw++;
		if (e == NULL || !tree) {
			ve = skip_value(sp, vs, depth + 1);
			if (!check && tree && !dropping && sp->rc == MG_OK) {
				/* members policy took out: the rest is dropped at '}' */
				if (flush_to(sp, last_end) != MG_OK)
					sp->rc = MG_ENOMEM;
				dropping = 1;
			}
		} else {
			const char *key = (const char *)lh_entry_k(e);
			if (!check && !same_string(sp, ks, ke, esc, key, strlen(key)) &&
			    sp->rc == MG_OK) {
				if (flush_to(sp, ks) != MG_OK || put_key(sp, key) != MG_OK)
					sp->rc = MG_ENOMEM;
				sp->copied = ke;
			}
			ve = splice_value(sp, vs, (struct json_object *)lh_entry_v(e), depth + 1);
			last_end = ve;
			e = e->next;
		}
		q = skip_ws(sp, ve);
		if (q < sp->len && sp->s[q] == ',')
			q = skip_ws(sp, q + 1);
	}
	if (dropping)
		sp->copied = q;
	if (check && tree && sp->rc == MG_OK && (e != NULL ||
	    nraw != (size_t)json_object_object_length(obj))) {
		sp->rc = MG_EINVAL;
		sp->dup_at = p;
	}
	if (!check && tree && sp->rc == MG_OK && e != NULL) {
		/* members the tree has beyond the raw ones */
		int first = nraw == 0;
		if (flush_to(sp, last_end) != MG_OK)
			sp->rc = MG_ENOMEM;
		for (; e != NULL && sp->rc == MG_OK; e = e->next) {
			const char *js = json_object_to_json_string_ext(
			    (struct json_object *)lh_entry_v(e),
			    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
			if (js == NULL || (!first && buf_appendc(sp->out, ',') != MG_OK) ||
			    put_key(sp, (const char *)lh_entry_k(e)) != MG_OK ||
			    buf_appendc(sp->out, ':') != MG_OK || buf_appends(sp->out, js) != MG_OK)
				sp->rc = MG_ENOMEM;
			first = 0;
		}
		sp->copied = q;
	}
	return q + 1;
}

/* The array at p (s[p] == '['), element by element against arr. */
static size_t
splice_array(struct splice *sp, size_t p, struct json_object *arr, int depth)
{
	size_t q = skip_ws(sp, p + 1), i = 0, n;
	size_t mark = sp->out != NULL ? sp->out->len : 0, copied = sp->copied;
	int tree = json_object_is_type(arr, json_type_array);

	n = tree ? json_object_array_length(arr) : 0;
	while (q < sp->len && sp->s[q] != ']' && sp->rc == MG_OK) {
		size_t ve;
		if (tree && i < n)
			ve = splice_value(sp, q, json_object_array_get_idx(arr, i), depth + 1);
		else
			ve = skip_value(sp, q, depth + 1);
		i++;
		q = skip_ws(sp, ve);
		if (q < sp->len && sp->s[q] == ',')
			q = skip_ws(sp, q + 1);
	}
	if (tree && i != n && sp->rc == MG_OK && sp->out != NULL) {
		/* paired with another member (policy moved members): written whole */
		sp->out->len = mark;
		sp->copied = copied;
		replace(sp, p, q + 1, arr);
	}
	return q + 1;
}

/*
 * Walks the value at p against node, splicing node's spelling into sp->out
 * where it differs (and sp->out is not NULL). Returns the value's end.
 */
static size_t
splice_value(struct splice *sp, size_t p, struct json_object *node, int depth)
{
	size_t end;
	int esc, skip = sp->out == NULL && node == NULL;

	if (p >= sp->len || depth > JWALK_MAX_DEPTH + 1) {
		sp->rc = MG_EINVAL;
		return sp->len;
	}
	switch (sp->s[p]) {
	case '{':
		end = splice_object(sp, p, skip ? NULL : node, depth);
		if (!skip && !json_object_is_type(node, json_type_object))
			replace(sp, p, end, node);
		return end;
	case '[':
		end = splice_array(sp, p, skip ? NULL : node, depth);
		if (!skip && !json_object_is_type(node, json_type_array))
			replace(sp, p, end, node);
		return end;
	case '"':
		end = str_end(sp, p, &esc);
		if (sp->out != NULL && !(json_object_is_type(node, json_type_string) &&
		    same_string(sp, p, end, esc, json_object_get_string(node),
		    (size_t)json_object_get_string_len(node))))
			replace(sp, p, end, node);
		return end;
	default:
		end = scalar_end(sp, p);
		if (sp->out != NULL && !same_scalar(sp, p, end, node))
			replace(sp, p, end, node);
		return end;
	}
}

char *
jwalk_splice(struct json_object *root, const char *body, size_t len, struct arena *a,
    size_t *outlen)
{
	struct splice sp;
	struct buf out;
	size_t p;

	memset(&sp, 0, sizeof(sp));
	buf_init(&out, a);
	buf_init(&sp.scratch, a);
	sp.s = body;
	sp.len = len;
	sp.out = &out;
	if (buf_reserve(&out, len + 64) != MG_OK)
		return NULL;
	p = skip_ws(&sp, 0);
	(void)splice_value(&sp, p, root, 1);
	if (sp.rc != MG_OK || flush_to(&sp, len) != MG_OK)
		return NULL;
	if (outlen != NULL)
		*outlen = out.len;
	return out.data != NULL ? out.data : arena_strdup(a, "");
}

enum mg_err
jwalk_check_duplicates(struct json_object *root, const char *body, size_t len, char *err,
    size_t errlen)
{
	struct splice sp;

	memset(&sp, 0, sizeof(sp));
	sp.s = body;
	sp.len = len;
	(void)splice_value(&sp, skip_ws(&sp, 0), root, 1);
	if (sp.rc == MG_EINVAL)
		mg_errf(err, errlen, "duplicate object key in the object at offset %zu: refused, "
		    "since JSON parsers disagree on which copy counts", sp.dup_at);
	return sp.rc;
}
