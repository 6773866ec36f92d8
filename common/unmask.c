/*
 * unmask.c - the other direction of the masking engine (mask.c): restores
 * placeholders to the tenant's values where the rule's restore policy
 * allows, and tells a stream how much of its tail could still grow into a
 * placeholder (the holdback). The grammar is rules_placeholder.c's.
 */
#include <ctype.h>
#include <string.h>

#include "log.h"
#include "mask.h"
#include "mask_int.h"
#include "rules.h"
#include "store_map.h"

static int
is_word(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* longest text mask_holdback keeps: runs this long are no placeholder */
#define RUN_KEEP 1024

/* Number of backslashes directly before in[pos]. */
static size_t
backslashes_before(const char *in, size_t pos)
{
	size_t k = 0;

	while (pos > k && in[pos - k - 1] == '\\')
		k++;
	return k;
}

/*
 * In JSON string text, does an escape sequence end right before pos? Sets
 * *cp to the character it stands for.
 */
static int
escape_before(const char *in, size_t pos, int *cp)
{
	if (pos >= 2 && strchr("nrtbf", in[pos - 1]) != NULL && in[pos - 2] == '\\' &&
	    backslashes_before(in, pos - 1) % 2 == 1) {
		*cp = '\n';
		return 1;
	}
	if (pos >= 6 && in[pos - 6] == '\\' && in[pos - 5] == 'u' &&
	    backslashes_before(in, pos - 5) % 2 == 1) {
		int i, v = 0;
		for (i = 4; i >= 1; i--) {
			int h = crypto_hexval(in[pos - (size_t)i]);
			if (h < 0)
				return 0;
			v = v * 16 + h;
		}
		*cp = v;
		return 1;
	}
	return 0;
}

/*
 * Token boundary before pos (start of text counts: see mask_holdback). An
 * escape like "\n" or "\u00e9" before a placeholder is a boundary in JSON
 * string text and in plain text alike (code the model writes has them), so
 * that both modes agree with the one mask_holdback.
 */
static int
left_boundary(const char *in, size_t pos, int json)
{
	int cp;

	(void)json;
	if (pos == 0 || !isalnum((unsigned char)in[pos - 1]))
		return 1;
	if (escape_before(in, pos, &cp))
		return cp > 127 || !isalnum(cp);
	return 0;
}

/* Token boundary at end (the placeholder's word run already stopped). */
static int
right_boundary(const char *in, size_t len, size_t end, int json)
{
	int i, v = 0;

	if (!json || end + 6 > len || in[end] != '\\' || in[end + 1] != 'u')
		return 1;
	for (i = 2; i < 6; i++) {
		int h = crypto_hexval(in[end + (size_t)i]);
		if (h < 0)
			return 1;
		v = v * 16 + h;
	}
	return v > 127 || !isalnum(v);
}

/* The value of placeholder (rule, num) for this tenant, or NULL. */
static enum mg_err
lookup_value(struct mask_session *m, unsigned rule, unsigned long num, const char **v,
    size_t *n)
{
	struct rentry *e = mask_cache_rfind(m, rule, num);
	struct buf val;
	enum mg_err rc;

	if (e->used) {
		*v = e->value;
		*n = e->len;
		return MG_OK;
	}
	buf_init(&val, m->arena);
	rc = store_map_resolve(m->store, m->tenant, rules_type(m->rules, rule), num, time(NULL),
	    &val);
	if (rc == MG_ENOTFOUND) {
		*v = NULL;
		*n = 0;
		return mask_cache_rput(m, rule, num, NULL, 0);
	}
	if (rc != MG_OK)
		return rc;
	if (val.data == NULL) {
		val.data = arena_strdup(m->arena, "");
		if (val.data == NULL)
			return MG_ENOMEM;
	}
	*v = val.data;
	*n = val.len;
	return mask_cache_rput(m, rule, num, val.data, val.len);
}

/* Is the tag at text[tag..) the one this tenant's (rule, num) carries? */
static enum mg_err
tag_ok(struct mask_session *m, const char *text, const struct rules_placeholder *p, int *ok)
{
	char tag[RULES_TAG_LEN];
	enum mg_err rc;

	*ok = 0;
	if (p->tag == 0)
		return MG_OK;
	rc = mask_placeholder_tag(m, p->rule, p->num, tag);
	if (rc == MG_OK)
		*ok = crypto_equal(tag, text + p->tag, RULES_TAG_LEN);
	return rc;
}

/*
 * Restores the placeholders of in[0..len) that this tenant holds and the
 * rule's restore policy lets out here. In tool input, a placeholder that is
 * unknown, expired or mutated (a credential's without its tag or with a
 * wrong one) is counted: a tool call naming it was not written from what
 * the model was shown.
 */
enum mg_err
mask_unmask(struct mask_session *m, const char *in, size_t len, int flags, struct buf *out)
{
	int json_escape = (flags & MASK_UNMASK_JSON) != 0;
	int tool = (flags & MASK_UNMASK_TOOL_INPUT) != 0;
	size_t p = MASK_UNMASK_CTX_LEN(flags), copied = p;
	enum mg_err rc;

	if (m == NULL || (in == NULL && len > 0) || p > len)
		return MG_EINVAL;
	while (p + 4 <= len) {
		struct rules_placeholder ph;
		enum rules_restore policy;
		size_t pos = rules_placeholder_next(m->rules, in, len, p);
		const char *v;
		size_t vlen;
		int ok = 1;

		if (pos >= len)
			break;
		if (!left_boundary(in, pos, json_escape) ||
		    !rules_placeholder_parse(m->rules, in, len, pos, &ph) ||
		    !right_boundary(in, len, ph.end, json_escape)) {
			p = pos + 1;
			continue;
		}
		p = ph.end;
		if (rules_credential(m->rules, ph.rule)) {
			rc = tag_ok(m, in, &ph, &ok);
			if (rc != MG_OK)
				return rc;
		}
		v = NULL;
		vlen = 0;
		if (ok) {
			rc = lookup_value(m, ph.rule, ph.num, &v, &vlen);
			if (rc != MG_OK) {
				log_error("mask: unmask failed for tenant %s: %s", m->tenant,
				    mg_strerror(rc));
				return rc;
			}
		}
		if (v == NULL) {	/* unknown to this tenant, expired or mutated */
			if (tool)
				m->counts[ph.rule].unknown++;
			continue;
		}
		policy = rules_restore(m->rules, ph.rule);
		if (policy == RULES_RESTORE_NEVER || (policy == RULES_RESTORE_TEXT && tool)) {
			m->counts[ph.rule].withheld++;
			continue;
		}
		if (buf_append(out, in + copied, pos - copied) != MG_OK)
			return MG_ENOMEM;
		rc = json_escape ? buf_append_json_escaped(out, v, vlen) : buf_append(out, v, vlen);
		if (rc != MG_OK)
			return rc;
		copied = ph.end;
		m->counts[ph.rule].restored++;
	}
	return buf_append(out, in + copied, len - copied);
}

/*
 * What a stream must keep back so that every placeholder reaches the
 * unmasker whole: the shortest tail of text that could still become one.
 * The stream passes the text it released last as context
 * (MASK_UNMASK_CTX), so whether a placeholder starts at a boundary is
 * decided by the real character before it, and nothing else needs to wait:
 *  - an unfinished JSON escape ("\\", "\\u0", ...): its character is
 *    not known yet;
 *  - from the first place in the trailing word run ([A-Za-z0-9_]) where a
 *    placeholder may start (the run's start, or right after a '_') and
 *    still be growing: a prefix of the grammar (rules_placeholder_prefix:
 *    family, type, digits, tag), a complete one included, since a digit or
 *    a tag may follow.
 * Ordinary text (a word that is no placeholder prefix, punctuation, a
 * space) is released at once.
 */
size_t
mask_holdback(const struct mask_session *m, const char *text, size_t len)
{
	size_t r, k, p, w;

	if (m == NULL || len == 0)
		return 0;
	r = len;
	for (k = 0; k <= 3 && k + 2 <= len; k++) {
		size_t u = len - k - 1, j;
		if (text[u] != 'u' || text[u - 1] != '\\' || backslashes_before(text, u) % 2 == 0)
			continue;
		for (j = u + 1; j < len && crypto_hexval(text[j]) >= 0; j++)
			;
		if (j == len) {
			r = u - 1;
			break;
		}
	}
	if (r == len && text[len - 1] == '\\' && backslashes_before(text, len) % 2 == 1)
		r = len - 1;
	for (w = r; w > 0 && is_word(text[w - 1]); w--) {
		int cp;
		if (escape_before(text, w, &cp))
			break;
	}
	for (p = w; p < r; p++)
		if ((p == w || text[p - 1] == '_') &&
		    rules_placeholder_prefix(m->rules, text + p, r - p))
			return len - p > RUN_KEEP ? RUN_KEEP : len - p;
	return len - r;
}
