/*
 * sse_tokens.h - the placeholder grammar of the table-based test unmasker
 * shared by test_sse.c and fuzz_sse.c: tokens AWS_<A-Z>+_<0-9>+[_<TAG>],
 * TAG four of [0-9A-Z] (the shape of a credential's keyed tag).
 */
#ifndef SSE_TOKENS_H
#define SSE_TOKENS_H

#include <stddef.h>
#include <string.h>

/* Length of the token at s (maximal digits), or 0. */
static size_t
token_at(const char *s, size_t len)
{
	size_t i = 4, j;

	if (len < 4 || memcmp(s, "AWS_", 4) != 0)
		return 0;
	for (j = i; j < len && s[j] >= 'A' && s[j] <= 'Z'; j++)
		;
	if (j == i || j >= len || s[j] != '_')
		return 0;
	i = ++j;
	for (; j < len && s[j] >= '0' && s[j] <= '9'; j++)
		;
	if (j == i)
		return 0;
	if (j + 5 <= len && s[j] == '_') {
		for (i = j + 1; i < j + 5 && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')); i++)
			;
		if (i == j + 5)
			return i;
	}
	return j;
}

/* Is s[0..len) a non-empty prefix of some token (or a token that could grow)? */
static int
token_prefix(const char *s, size_t len)
{
	size_t i, j;

	if (len == 0)
		return 0;
	if (len <= 4)
		return memcmp(s, "AWS_", len) == 0;
	if (memcmp(s, "AWS_", 4) != 0)
		return 0;
	for (i = 4; i < len && s[i] >= 'A' && s[i] <= 'Z'; i++)
		;
	if (i == len)
		return 1;
	if (i == 4 || s[i] != '_')
		return 0;
	for (j = i + 1; j < len && s[j] >= '0' && s[j] <= '9'; j++)
		;
	if (j == len)
		return 1;
	if (j == i + 1 || s[j] != '_' || len - j - 1 > 4)
		return 0;
	for (j++; j < len && ((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'A' && s[j] <= 'Z')); j++)
		;
	return j == len;	/* a tag may still be growing */
}


/* Holds back the tail from the first position that could start a token. */
static size_t
t_holdback(void *ctx, const char *in, size_t len)
{
	size_t p;

	(void)ctx;
	for (p = 0; p < len; p++)
		if (token_prefix(in + p, len - p))
			return len - p;
	return 0;
}

#endif
