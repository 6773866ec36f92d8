/*
 * rules_validate.c - the validators of the secrets and pii packs
 * (referenced by name from rules/NAME.rules through validate.c's table):
 * checksums the token formats carry (GitHub's CRC32), the card (Luhn) and
 * IBAN (ISO 13616 mod 97) check digits, phone-number shape, and the shape
 * checks that tell a configured secret from a reference to one
 * (`password: ${DB_PASSWORD}`) or an ordinary word (`token_type: bearer`).
 *
 * Like every validator they read only the match and plain context, never
 * text a mask could have replaced, so masking masked text changes nothing.
 */
#include <stdint.h>
#include <string.h>

#include "validate.h"

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int
is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static int
lc(int c)
{
	return is_upper(c) ? c + 32 : c;
}

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), bitwise: tokens are short. */
static uint32_t
crc32_ieee(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/*
 * Filler rather than a token: a run of 6 equal characters, or an ordered
 * run such as 123456 or abcdef (documentation writes ghp_XXXX..., 
 * ghp_1234567890abcdef...).
 */
static int
is_filler(const char *s, size_t n)
{
	size_t i, same = 1, up = 1;

	for (i = 1; i < n; i++) {
		same = s[i] == s[i - 1] ? same + 1 : 1;
		up = s[i] == s[i - 1] + 1 ? up + 1 : 1;
		if (same >= 6 || up >= 6)
			return 1;
	}
	return 0;
}

/* Classes among lower, upper, digit, other present in s[0..n). */
static int
classes(const char *s, size_t n)
{
	int lo = 0, up = 0, dg = 0, ot = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_lower(s[i]))
			lo = 1;
		else if (is_upper(s[i]))
			up = 1;
		else if (is_digit(s[i]))
			dg = 1;
		else
			ot = 1;
	}
	return lo + up + dg + ot;
}

/*
 * GitHub tokens (ghp_ gho_ ghu_ ghs_ ghr_ + 30 random + 6 base62 digits of
 * the CRC32 of the random part): a valid checksum is always a token; one
 * without is kept only when it looks random, not like filler (a revoked
 * or test token is still worth masking, ghp_XXXXXXXX... is not).
 */
int
rules_v_github_crc32(const char *text, size_t len, size_t start, size_t end)
{
	static const char b62[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const char *body;
	char sum[7];
	uint32_t c;
	int i;

	(void)len;
	if (end - start != 40 || text[start + 3] != '_')
		return 0;
	body = text + start + 4;
	c = crc32_ieee((const unsigned char *)body, 30);
	for (i = 5; i >= 0; i--) {
		sum[i] = b62[c % 62];
		c /= 62;
	}
	if (memcmp(sum, body + 30, 6) == 0)
		return 1;
	return !is_filler(body, 36) && classes(body, 36) >= 2;
}

/* Payment card numbers: 13-19 digits (spaces or dashes between groups), Luhn. */
int
rules_v_luhn(const char *text, size_t len, size_t start, size_t end)
{
	int sum = 0, dbl = 0, n = 0;
	size_t i;

	(void)len;
	for (i = end; i > start; i--) {
		int c = (unsigned char)text[i - 1];
		if (!is_digit(c))
			continue;
		c -= '0';
		if (dbl) {
			c *= 2;
			if (c > 9)
				c -= 9;
		}
		sum += c;
		dbl = !dbl;
		n++;
	}
	return n >= 13 && n <= 19 && sum % 10 == 0 && !is_filler(text + start, end - start);
}

/* IBAN: country, check digits, BBAN; spaces allowed; mod 97 == 1. */
int
rules_v_iban(const char *text, size_t len, size_t start, size_t end)
{
	char s[40];
	size_t n = 0, i;
	unsigned rem = 0;

	(void)len;
	for (i = start; i < end; i++) {
		if (text[i] == ' ')
			continue;
		if (n == sizeof(s))
			return 0;
		s[n++] = text[i];
	}
	if (n < 15 || n > 34)
		return 0;
	/* move the first four to the end, letters become 10..35 */
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[(i + 4) % n];
		if (is_digit(c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (is_upper(c))
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return 0;
	}
	return rem == 1;
}

/*
 * Phone numbers: E.164 (+ and 8 to 15 digits, first not 0) anywhere; a
 * national form only after a phone word (phone, tel, mobile, cell, fax,
 * call) on the same line. Not a date, a version or an ordered filler.
 */
int
rules_v_phone(const char *text, size_t len, size_t start, size_t end)
{
	size_t i, nd = 0, q;
	static const char *const words[] = { "phone", "tel", "mobile", "cell", "fax", "call",
		"contact", "sms", "whatsapp" };

	(void)len;
	for (i = start; i < end; i++)
		if (is_digit(text[i]))
			nd++;
	if (nd < 8 || nd > 15 || is_filler(text + start, end - start))
		return 0;
	if (text[start] == '+')
		return text[start + 1] != '0';
	for (q = start; q > 0 && start - q < 40 && text[q - 1] != '\n'; q--) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			size_t wl = strlen(words[i]), k;
			if (q < wl)
				continue;
			for (k = 0; k < wl && lc(text[q - wl + k]) == words[i][k]; k++)
				;
			if (k == wl)
				return 1;
		}
	}
	return 0;
}

/* Does s[0..n) read as a reference to a secret rather than the secret? */
static int
is_reference(const char *s, size_t n)
{
	static const char *const words[] = { "password", "passwd", "secret", "token", "changeme",
		"null", "none", "nil", "true", "false", "undefined", "required", "optional",
		"string", "example", "redacted", "hidden", "masked", "your", "xxx", "bearer",
		"basic", "placeholder", "dummy", "sample", "test", "env", "str", "bytes",
		"mypassword", "yourpassword", "mysecret", "foobar", "value", "pass", "pwd", "user",
		"username", "login" };
	size_t i;
	char low[40];

	if (n == 0)
		return 1;
	if (s[0] == '$' || s[0] == '{' || s[0] == '<' || s[0] == '%' || s[0] == '[' ||
	    s[0] == '(' || s[0] == '*' || s[0] == '@' || s[0] == '#' || s[0] == '&' || s[0] == '`' ||
	    s[0] == '"' || s[0] == '\\')
		return 1;
	for (i = 0; i + 1 < n; i++)
		if (s[i] == '$' && (s[i + 1] == '{' || s[i + 1] == '('))
			return 1;	/* ${VAR}, $(command) */
	if (memchr(s, '(', n) != NULL || memchr(s, '{', n) != NULL || memchr(s, '}', n) != NULL ||
	    memchr(s, '[', n) != NULL || memchr(s, ']', n) != NULL || memchr(s, '<', n) != NULL)
		return 1;	/* templates and code */
	if (n < sizeof(low)) {
		for (i = 0; i < n; i++)
			low[i] = (char)lc(s[i]);
		low[n] = '\0';
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strstr(low, words[i]) == low && strlen(words[i]) + 2 >= n)
				return 1;
	}
	return is_filler(s, n);
}

/*
 * Letters only (Incorrect, testPass, NotSet), or a dotted path of
 * identifiers without a digit (cls.FIREBASE_PRIVATE_KEY): a name in code,
 * not a value.
 */
static int
is_code_name(const char *s, size_t n)
{
	size_t i;
	int digit = 0, ident = 1;

	for (i = 0; i < n; i++) {
		if (is_digit(s[i]))
			digit = 1;
		else if (!(is_lower(s[i]) || is_upper(s[i]) || s[i] == '_' || s[i] == '.'))
			ident = 0;
	}
	return ident && !digit;
}

/*
 * Random-looking: no filler run and two character classes at least
 * (xoxp-...-####, hvs.xxxxxxxx... are documentation placeholders).
 */
int
rules_v_random(const char *text, size_t len, size_t start, size_t end)
{
	const char *s = text + start;
	size_t n = end - start, i, p = 0;

	(void)len;
	/* the random part: after the last '.' or '-' (prefixes and ids before) */
	for (i = n; i > 0; i--)
		if (s[i - 1] == '.' || s[i - 1] == '-') {
			p = i;
			break;
		}
	if (n - p < 8)
		p = 0;
	return !is_filler(s + p, n - p) && classes(s + p, n - p) >= 2;
}

/*
 * A password found by its context (URL user:password@, Password= in a
 * connection string, .netrc, .pgpass): anything of 4 or more characters
 * that is no reference or placeholder.
 */
int
rules_v_password(const char *text, size_t len, size_t start, size_t end)
{
	(void)len;
	return end - start >= 4 && !is_reference(text + start, end - start);
}

/*
 * A value under a secret-like name (password:, api_key =, "token": ...):
 * no reference, and the shape of a secret: at least 8 characters with two
 * character classes, or 16 and more of any; a single lower-case word
 * (bearer, required) or a dotted name (spring.datasource.password) is none.
 */
int
rules_v_secret_value(const char *text, size_t len, size_t start, size_t end)
{
	const char *s = text + start;
	size_t n = end - start, i, dots = 0, lowers = 0;

	(void)len;
	if (n < 8 || is_reference(s, n) || s[n - 1] == ':' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;	/* bytes, not text: base64 that only looked like it */
	for (i = 0; i < n; i++) {
		if (s[i] == '.' || s[i] == '/' || s[i] == ' ')
			dots++;
		if (is_lower(s[i]) || s[i] == '_' || s[i] == '-')
			lowers++;
	}
	if (lowers == n || (dots > 0 && classes(s, n) <= 2 && lowers + dots == n))
		return 0;	/* words, names, paths */
	if (is_code_name(s, n))
		return 0;	/* cls.FIREBASE_KEY, github.GithubObject.NotSet, testPass */
	if (memchr(s, ' ', n) != NULL && classes(s, n) < 4)
		return 0;	/* prose */
	return classes(s, n) >= 2 || n >= 16;
}

/*
 * Kubernetes Secret data: the block belongs to an object of kind Secret
 * (a YAML `kind: Secret` or JSON "kind": "Secret", any quotes, s or S, within 4 KB).
 */
int
rules_v_k8s_secret(const char *text, size_t len, size_t start, size_t end)
{
	size_t a = start > 4096 ? start - 4096 : 0, b = end + 4096 < len ? end + 4096 : len;
	const char *p = text + a;

	while (p < text + b) {
		const char *k = memmem(p, (size_t)(text + b - p), "kind", 4);
		const char *q;
		if (k == NULL)
			return 0;
		q = k + 4;
		while (q < text + b && (*q == '"' || *q == '\'' || *q == ':' || *q == ' ' || *q == '\t'))
			q++;
		if (text + b - q >= 6 && lc(q[0]) == 's' && memcmp(q + 1, "ecret", 5) == 0 &&
		    (q + 6 == text + b || !is_lower(q[6])))
			return 1;
		p = k + 4;
	}
	return 0;
}
