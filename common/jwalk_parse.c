/*
 * jwalk_parse.c - strict parsing of client JSON bodies.
 *
 * json-c 0.16 is lenient in ways a gateway cannot be: with
 * JSON_TOKENER_STRICT it still accepts NaN, turns lone surrogate escapes
 * into U+FFFD, lets overlong UTF-8 and encoded surrogates through, truncates
 * object keys at \u0000 and clamps integers past 64 bits. So jwalk_parse()
 * validates UTF-8 itself before parsing and scans the accepted text once
 * more for what json-c would silently change.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

/*
 * Returns the offset of the first byte that is not well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), or
 * len when all of s is valid.
 */
static size_t
utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n, k;
		uint64_t w;

		if (c < 0x80) {
			/* ASCII runs eight bytes a step */
			for (i++; i + 8 <= len; i += 8) {
				memcpy(&w, s + i, 8);
				if (w & 0x8080808080808080ULL)
					break;
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return i;
		if (len - i <= n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += n + 1;
	}
	return len;
}

static int
hex4(const char *s, unsigned *cp)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*cp = v;
	return 0;
}

/* Does the integer literal s[0..n) (no fraction, no exponent) fit json-c? */
static int
int_literal_exact(const char *s, size_t n)
{
	static const char i64min[] = "9223372036854775808";
	static const char u64max[] = "18446744073709551615";
	const char *lim = u64max;

	if (n > 0 && s[0] == '-') {
		s++;
		n--;
		lim = i64min;	/* -0 is fine: jwalk_splice forwards its spelling */
	}
	if (n < strlen(lim))
		return 1;
	if (n > strlen(lim))
		return 0;
	return memcmp(s, lim, n) <= 0;
}

/*
 * Second pass over text json-c has already accepted as one JSON value:
 * rejects what json-c would change silently. Returns 0 or -1 with err set.
 */
static int
lexical_check(const char *s, size_t len, char *err, size_t errlen)
{
	size_t i = 0, j;

	while (i < len) {
		char c = s[i];

		if (c == '"') {
			size_t start = i;
			int has_nul = 0;

			for (i++; i < len && s[i] != '"'; i++) {
				unsigned cp, lo;

				if (s[i] != '\\') {
					/* up to the next quote or backslash at once */
					const char *q = memchr(s + i, '"', len - i);
					const char *b = memchr(s + i, '\\', (size_t)((q != NULL ? q :
					    s + len) - (s + i)));
					i = (size_t)((b != NULL ? b : q != NULL ? q : s + len) - s) - 1;
					continue;
				}
				i++;
				if (i >= len || s[i] != 'u')
					continue;
				if (len - i < 5 || hex4(s + i + 1, &cp) != 0)
					break;	/* json-c rejected this already */
				i += 4;
				if (cp == 0)
					has_nul = 1;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					goto lone;
				if (cp < 0xd800 || cp > 0xdbff)
					continue;
				if (len - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
				    hex4(s + i + 3, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
					goto lone;
				i += 6;
				continue;
lone:
				mg_errf(err, errlen, "invalid UTF-16 surrogate escape at offset %zu",
				    i - 5);
				return -1;
			}
			i++;
			if (has_nul) {
				for (j = i; j < len && strchr(" \t\r\n", s[j]) != NULL; j++)
					;
				if (j < len && s[j] == ':') {
					mg_errf(err, errlen,
					    "object key with \\u0000 at offset %zu", start);
					return -1;
				}
			}
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			int integer = 1;

			for (j = i; j < len && strchr("+-0123456789.eE", s[j]) != NULL; j++)
				if (s[j] == '.' || s[j] == 'e' || s[j] == 'E')
					integer = 0;
			if (integer && !int_literal_exact(s + i, j - i)) {
				mg_errf(err, errlen,
				    "number at offset %zu cannot be forwarded exactly", i);
				return -1;
			}
			i = j;
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			for (j = i; j < len && ((s[j] >= 'a' && s[j] <= 'z') ||
			    (s[j] >= 'A' && s[j] <= 'Z')); j++)
				;
			if (!((j - i == 4 && memcmp(s + i, "true", 4) == 0) ||
			    (j - i == 5 && memcmp(s + i, "false", 5) == 0) ||
			    (j - i == 4 && memcmp(s + i, "null", 4) == 0))) {
				mg_errf(err, errlen, "body is not valid JSON at offset %zu", i);
				return -1;
			}
			i = j;
			continue;
		}
		i++;
	}
	return 0;
}

/*
 * Parses body strictly into a new tree that the caller owns (jwalk_free).
 * All bad input is MG_EINVAL with a message for the client in err.
 */
enum mg_err
jwalk_parse(const char *body, size_t len, struct json_object **root,
    char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	enum mg_err rc = MG_EINVAL;
	size_t bad, end;

	*root = NULL;
	mg_errf(err, errlen, "ok");
	if (len == 0) {
		mg_errf(err, errlen, "body is empty");
		goto out;
	}
	if (len > INT32_MAX) {
		rc = MG_ETOOBIG;
		mg_errf(err, errlen, "body is too large");
		goto out;
	}
	bad = utf8_invalid_at((const unsigned char *)body, len);
	if (bad != len) {
		mg_errf(err, errlen, "invalid UTF-8 at offset %zu", bad);
		goto out;
	}
	tok = json_tokener_new_ex(JWALK_MAX_DEPTH);
	if (tok == NULL) {
		rc = MG_ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_error_depth)
			mg_errf(err, errlen, "nesting deeper than %d", JWALK_MAX_DEPTH);
		else if (jerr == json_tokener_continue)
			mg_errf(err, errlen, "body is not valid JSON: it ends early");
		else
			mg_errf(err, errlen, "body is not valid JSON at offset %zu (%s)",
			    end, json_tokener_error_desc(jerr));
		goto out;
	}
	if (end != len) {
		mg_errf(err, errlen, "body is not valid JSON at offset %zu (trailing data)", end);
		goto out;
	}
	if (lexical_check(body, len, err, errlen) != 0)
		goto out;
	if (!json_object_is_type(obj, json_type_object)) {
		mg_errf(err, errlen, "body must be a JSON object");
		goto out;
	}
	rc = jwalk_check_duplicates(obj, body, len, err, errlen);
	if (rc != MG_OK)
		goto out;
	*root = obj;
	obj = NULL;
	rc = MG_OK;
out:
	json_object_put(obj);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* Drops the caller's reference to a tree from jwalk_parse(). */
void
jwalk_free(struct json_object *root)
{
	json_object_put(root);
}

