/*
 * mask_context.c - where the masking engine looks: the text as written,
 * the text with its escapes decoded (JSON "\/", URL "%2F", HTML "&#43;"),
 * base64 values under credential names, and, for a JSON value, the key it
 * stands under as context ({"AccountId": "483920175634"} reads like
 * `"AccountId": "483920175634"` to the rules). The engine itself (spans,
 * numbers, placeholders) is mask.c.
 */
#include <string.h>

#include "decode.h"
#include "mask.h"
#include "mask_int.h"
#include "rules.h"

/* shorter texts are masked again rather than looked up in the cache */
#define MASK_CACHE_MIN 32

/*
 * One pass over text, or over a view decoded from in, with key (when not
 * NULL) as context: the rules see `"KEY": "TEXT"` and act inside TEXT only.
 */
static enum mg_err
pass(struct mask_session *m, const char *key, size_t keylen, const char *text, size_t textlen,
    const struct decode_view *view, const char *in, size_t len, struct buf *out)
{
	struct buf ctx;
	size_t lo;

	if (key == NULL)
		return mask_pass(m, text, textlen, 0, textlen, view, in, len, out);
	buf_init(&ctx, mask_session_arena(m));
	if (buf_appendc(&ctx, '"') != MG_OK || buf_append(&ctx, key, keylen) != MG_OK ||
	    buf_append(&ctx, "\": \"", 4) != MG_OK)
		return MG_ENOMEM;
	lo = ctx.len;
	if (buf_append(&ctx, text, textlen) != MG_OK || buf_appendc(&ctx, '"') != MG_OK)
		return MG_ENOMEM;
	return mask_pass(m, ctx.data, ctx.len, lo, lo + textlen, view, in, len, out);
}

/*
 * The escape and plain passes: first the decoded view (so an identifier
 * spelled with escapes is found whole and replaced with its escapes), then
 * the text as written.
 */
static enum mg_err
layers(struct mask_session *m, const char *key, size_t keylen, const char *in, size_t len,
    struct buf *out)
{
	struct arena *a = mask_session_arena(m);
	struct decode_view v;
	struct buf esc;
	enum mg_err rc;
	int r;

	r = decode_view_deep(a, in, len, DECODE_MAX_LEVELS, &v);
	if (r < 0)
		return MG_ENOMEM;
	if (r > 0) {
		m->plain = 0;	/* a value may hide behind escapes: no carry-over */
		buf_init(&esc, a);
		rc = pass(m, key, keylen, v.text, v.len, &v, in, len, &esc);
		if (rc != MG_OK)
			return rc;
		in = esc.data != NULL ? esc.data : "";
		len = esc.len;
	}
	return pass(m, key, keylen, in, len, NULL, in, len, out);
}

/*
 * Masks the base64 value in[0..len) under name: decoded and masked with
 * the name as context; when that finds anything, the whole blob becomes
 * one value of the first identifier's type, so its placeholder restores to
 * exactly the blob sent (a NextToken stays usable, a Kubernetes secret
 * stays whole). *changed says if it did.
 */
static enum mg_err
b64_value(struct mask_session *m, const char *name, size_t namelen, const char *in, size_t len,
    struct buf *out, int *changed)
{
	struct arena *a = mask_session_arena(m);
	struct buf plain, masked;
	unsigned long num;
	unsigned rule;
	size_t at, end;
	enum mg_err rc;
	int padded = 0;

	*changed = 0;
	if (!decode_is_base64_text(in, len, &padded))
		return MG_OK;
	m->plain = 0;	/* opened: a value may hide inside */
	buf_init(&plain, a);
	buf_init(&masked, a);
	rc = decode_base64(in, len, &plain);
	if (rc == MG_OK)
		rc = layers(m, name, namelen, plain.data, plain.len, &masked);
	if (rc != MG_OK)
		return rc;
	if (masked.len == plain.len && memcmp(masked.data, plain.data, plain.len) == 0)
		return MG_OK;
	*changed = 1;
	for (at = rules_placeholder_next(m->rules, masked.data, masked.len, 0); at < masked.len;
	    at = rules_placeholder_next(m->rules, masked.data, masked.len, at + 1))
		if (rules_placeholder_at(m->rules, masked.data, masked.len, at, &rule, &num, &end))
			return mask_whole(m, rule, in, len, out);
	/* changed without a placeholder of ours: the masked text, encoded again */
	return decode_base64_append(out, masked.data, masked.len, padded);
}

/*
 * The base64 pass: a value that is base64 under a credential-named key,
 * and every `name: base64` with a credential name inside the text. Writes
 * the result to out and sets *changed, or leaves out alone.
 */
static enum mg_err
b64_pass(struct mask_session *m, const char *key, size_t keylen, const char *in, size_t len,
    struct buf *out, int *changed)
{
	struct decode_field f;
	struct buf val;
	size_t pos = 0, copied = 0;
	enum mg_err rc;
	int ch;

	*changed = 0;
	if (key != NULL && decode_credential_name(key, keylen)) {
		rc = b64_value(m, key, keylen, in, len, out, changed);
		if (rc != MG_OK || *changed)
			return rc;
	}
	while (decode_next_b64_field(in, len, &pos, &f)) {
		buf_init(&val, mask_session_arena(m));
		rc = b64_value(m, in + f.name, f.namelen, in + f.value, f.valuelen, &val, &ch);
		if (rc != MG_OK)
			return rc;
		if (!ch)
			continue;
		if (buf_append(out, in + copied, f.value - copied) != MG_OK ||
		    buf_append(out, val.data, val.len) != MG_OK)
			return MG_ENOMEM;
		copied = f.value + f.valuelen;
		*changed = 1;
	}
	if (*changed)
		return buf_append(out, in + copied, len - copied);
	return MG_OK;
}

static enum mg_err
mask_all(struct mask_session *m, const char *key, size_t keylen, const char *in, size_t len,
    struct buf *out)
{
	const struct mask_strings_entry *hit = NULL;
	const char *in0 = in;
	size_t len0 = len, outstart, capstart;
	struct mask_mark mark;
	struct buf b64;
	enum mg_err rc;
	int changed = 0;

	if (m == NULL || (in == NULL && len > 0) || (key == NULL && keylen > 0) || out == NULL)
		return MG_EINVAL;
	if (in == NULL)
		in0 = in = "";
	rc = mask_recall_begin(m);
	if (rc != MG_OK)
		return rc;
	if (len >= MASK_CACHE_MIN)
		hit = mask_strings_find(m, key, keylen, in, len, mask_recall_version(m));
	if (hit != NULL) {
		/* the same text masked before, under the same filter: same bytes */
		const struct mask_cache_val *vals;
		size_t n, outlen;
		const char *cached = mask_strings_out(hit, &outlen, &vals, &n);
		m->cache_hits++;
		m->nonplain += !mask_strings_plain(hit);
		rc = buf_append(out, cached, outlen);
		return rc == MG_OK ? mask_replay(m, vals, n, 0) : rc;
	}
	mask_mark_begin(m, &mark);
	outstart = out->len;
	capstart = m->ncapture;
	m->plain = 1;
	buf_init(&b64, mask_session_arena(m));
	rc = b64_pass(m, key, keylen, in, len, &b64, &changed);
	if (rc == MG_OK && changed) {
		in = b64.data;
		len = b64.len;
	}
	if (rc == MG_OK)
		rc = layers(m, key, keylen, in, len, out);
	m->nonplain += !m->plain;
	if (rc == MG_OK && len0 >= MASK_CACHE_MIN && m->provisional == mark.provisional)
		mask_strings_store(m, key, keylen, in0, len0, out->data + outstart,
		    out->len - outstart, m->capture != NULL ? m->capture + capstart : NULL,
		    m->ncapture - capstart,
		    mask_recall_version(m), m->plain ? MASK_CACHE_PLAIN : 0);
	m->ncapture = capstart;
	mask_mark_end(m, &mark);
	return rc;
}

enum mg_err
mask_text(struct mask_session *m, const char *in, size_t len, struct buf *out)
{
	return mask_all(m, NULL, 0, in, len, out);
}

enum mg_err
mask_text_keyed(struct mask_session *m, const char *key, size_t keylen, const char *in,
    size_t len, struct buf *out)
{
	if (key != NULL && keylen == 0)
		key = NULL;
	return mask_all(m, key, keylen, in, len, out);
}
