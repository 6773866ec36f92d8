/*
 * validate.c - the named validators rules can attach (see validate.h).
 *
 * Address policy: an IP address is masked only if it is public, i.e. it
 * could identify a real host. Private (RFC 1918, ULA), loopback, link-local,
 * carrier-grade NAT, multicast, reserved, benchmarking and documentation
 * ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32,
 * 3fff::/20) are left in clear: they name nothing outside the example or
 * the private network, and masking them would only confuse the model.
 *
 * Validators must not depend on text that a mask could replace (see
 * v_public_ipv4): masking masked text has to change nothing.
 */
#include <arpa/inet.h>
#include <string.h>

#include "rules.h"
#include "validate.h"

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_b64(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
	    c == '/' || c == '+';
}

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Whether the word w (lower case) ends at text[p] (exclusive), case-blind.
 * A word inside a placeholder (AWS_EC2_HOST_001, SECRET_DB_PASSWORD_001) does not count: the
 * context must read the same before and after masking.
 */
struct word {
	const char *w;
	size_t n;
};
#define WORD(s) { s, sizeof(s) - 1 }

static int
word_before(const char *text, size_t p, const struct word *word)
{
	const char *w = word->w;
	size_t n = word->n, i, q;

	if (p < n || lc(text[p - 1]) != w[n - 1])
		return 0;
	for (i = 0; i < n; i++)
		if (lc(text[p - n + i]) != w[i])
			return 0;
	for (q = p - n; q > 0 && (is_alpha(text[q - 1]) || is_digit(text[q - 1]) || text[q - 1] == '_'); q--)
		;
	return rules_family_at(text, p, q) == 0;
}

/*
 * Version context: "v1.2.3.4", "version 1.2.3.4", "Release: 1.2.3.4",
 * "pkg (2.39.90.1-1)" and "1.2.3.4-1" / "1.2.3.4~rc1" / "1.2.3.4+dfsg"
 * (Debian and semver suffixes).
 */
static int
version_context(const char *text, size_t len, size_t start, size_t end)
{
	static const struct word words[] = { WORD("version"), WORD("ver"), WORD("release"),
		WORD("rev"), WORD("revision"), WORD("build"), WORD("firmware"), WORD("kernel"),
		WORD("package"), WORD("upgrade to"), WORD("update to") };
	size_t p = start, i;

	if (end < len && (text[end] == '-' || text[end] == '~' || text[end] == '+') &&
	    end + 1 < len && (is_digit(text[end + 1]) || is_alpha(text[end + 1])))
		return 1;
	if (p > 0 && (text[p - 1] == 'v' || text[p - 1] == 'V'))
		return 1;
	if (p > 0 && text[p - 1] == '(')
		return 1;
	while (p > 0 && start - p < 3 && (text[p - 1] == ' ' || text[p - 1] == ':' ||
	    text[p - 1] == '=' || text[p - 1] == '"' || text[p - 1] == '\''))
		p--;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_before(text, p, &words[i]))
			return 1;
	return 0;
}

/*
 * Address context for numbers that could be versions: a CIDR suffix or a
 * port after it ("/32", ":443", " port 51122"), "user@" or "scheme://"
 * before it, or,
 * earlier on the same line (up to 24 bytes), a word that names an address:
 * "ip" as a word or a camel-case part (PublicIp, ip_address, SourceIP),
 * address, host, cidr, inet, server, peer, dns, gateway, endpoint, remote,
 * client, proxy, connection, ssh, ping, listen, curl, wget, telnet,
 * traceroute, nslookup, whois.
 */
static int
ip_context(const char *text, size_t len, size_t start, size_t end)
{
	static const struct word words[] = { WORD("addr"), WORD("host"), WORD("cidr"),
		WORD("inet"), WORD("server"), WORD("peer"), WORD("dns"), WORD("gateway"),
		WORD("endpoint"), WORD("remote"), WORD("client"), WORD("proxy"), WORD("nameserver"),
		WORD("connection"), WORD("connect to"), WORD("ssh"), WORD("ping"), WORD("listen"),
		WORD("curl"), WORD("wget"), WORD("telnet"), WORD("traceroute"), WORD("nslookup"),
		WORD("whois") };
	static const struct word ip = WORD("ip");
	size_t lo = start > 24 ? start - 24 : 0, p, i;

	if (end + 1 < len && (text[end] == '/' || text[end] == ':') && is_digit(text[end + 1]))
		return 1;
	if (start > 0 && text[start - 1] == '@')	/* user@host */
		return 1;
	if (start >= 3 && memcmp(text + start - 3, "://", 3) == 0)	/* a URL's host */
		return 1;
	if (end + 6 <= len && memcmp(text + end, " port ", 6) == 0)
		return 1;
	for (p = start; p > lo && text[p - 1] != '\n'; p--) {
		if (p >= 2 && text[p - 1] == '.' && is_digit(text[p - 2]))
			break;	/* another number: its context is not this one's */
		if (p >= lo + 2 && lc(text[p - 2]) == 'i' && lc(text[p - 1]) == 'p') {
			char before = p >= 3 ? text[p - 3] : ' ', after = p < len ? text[p] : ' ';
			int start_ok = !is_alpha(before) || (text[p - 2] == 'I' && before >= 'a' && before <= 'z');
			int end_ok = !(after >= 'a' && after <= 'z') || after == 's' || after == 'v';
			if (start_ok && end_ok && word_before(text, p, &ip))
				return 1;
		}
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (word_before(text, p, &words[i]))
				return 1;
	}
	return 0;
}

static int
v_public_ipv4(const char *text, size_t len, size_t start, size_t end)
{
	unsigned o[4] = { 0, 0, 0, 0 };
	size_t i, k = 0, digits = 0;

	(void)len;
	if (end - start > 15)
		return 0;
	for (i = start; i < end; i++) {
		char c = text[i];
		if (c == '.') {
			if (digits == 0 || ++k > 3)
				return 0;
			digits = 0;
		} else if (is_digit(c)) {
			o[k] = o[k] * 10 + (unsigned)(c - '0');
			if (++digits > 3 || o[k] > 255)
				return 0;
		} else {
			return 0;
		}
	}
	if (k != 3 || digits == 0)
		return 0;
	if (version_context(text, len, start, end))
		return 0;
	/*
	 * Four small numbers ("1.2.3.4", "3.11.4.1", "2.39.90.1") are as likely
	 * a version as an address: a first part below 10, or every part below
	 * 32, is an address only in address context (3.8.12.25 is AWS's).
	 */
	if ((o[0] < 10 || (o[0] < 32 && o[1] < 32 && o[2] < 32 && o[3] < 32)) &&
	    !ip_context(text, len, start, end))
		return 0;
	if (o[0] == 0 || o[0] == 10 || o[0] == 127 || o[0] >= 224)	/* this, private, loopback, multicast, reserved */
		return 0;
	if (o[0] == 100 && o[1] >= 64 && o[1] <= 127)			/* CGN 100.64/10 */
		return 0;
	if (o[0] == 169 && o[1] == 254)					/* link-local */
		return 0;
	if (o[0] == 172 && o[1] >= 16 && o[1] <= 31)			/* private */
		return 0;
	if (o[0] == 192 && o[1] == 168)					/* private */
		return 0;
	if (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))	/* IETF, TEST-NET-1 */
		return 0;
	if (o[0] == 198 && (o[1] == 18 || o[1] == 19))			/* benchmarking */
		return 0;
	if (o[0] == 198 && o[1] == 51 && o[2] == 100)			/* TEST-NET-2 */
		return 0;
	if (o[0] == 203 && o[1] == 0 && o[2] == 113)			/* TEST-NET-3 */
		return 0;
	return 1;
}

static int
v_public_ipv6(const char *text, size_t len, size_t start, size_t end)
{
	unsigned char a[16];
	char s[64];

	(void)len;
	if (end - start >= sizeof(s) || end - start < 3)
		return 0;
	memcpy(s, text + start, end - start);
	s[end - start] = '\0';
	if (inet_pton(AF_INET6, s, a) != 1)
		return 0;
	if ((a[0] & 0xe0) != 0x20)					/* global unicast 2000::/3 only */
		return 0;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)	/* documentation */
		return 0;
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)		/* documentation 3fff::/20 */
		return 0;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && (a[3] & 0xf0) == 0x10)	/* ORCHID */
		return 0;
	return 1;
}

/* Whether "secret" (any case) stands up to 64 bytes before start, same line. */
static int
secret_named(const char *text, size_t start)
{
	size_t p, lo = start > 64 ? start - 64 : 0;

	for (p = start; p >= lo + 6 && text[p - 1] != '\n'; p--)
		if (lc(text[p - 6]) == 's' && lc(text[p - 5]) == 'e' && lc(text[p - 4]) == 'c' &&
		    lc(text[p - 3]) == 'r' && lc(text[p - 2]) == 'e' && lc(text[p - 1]) == 't')
			return 1;
	return 0;
}

/*
 * A 40-character secret access key: base64 alphabet and not a repeated
 * filler. Under a name that says "secret" that is enough (hex and
 * low-entropy values too: there a false mask costs nothing and a miss
 * leaks a credential); found only next to an access key ID it must also
 * mix character classes and not be plain hex (a git SHA is 40 hex digits).
 */
static int
v_secret_key(const char *text, size_t len, size_t start, size_t end)
{
	int upper = 0, lower = 0, digit = 0, nonhex = 0;
	unsigned char seen[256];
	int distinct = 0;
	size_t i;

	(void)len;
	if (end - start != 40)
		return 0;
	memset(seen, 0, sizeof(seen));
	for (i = start; i < end; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!is_b64(c))
			return 0;
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		digit |= is_digit(c) || c == '/' || c == '+';
		nonhex |= !(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
		if (!seen[c]) {
			seen[c] = 1;
			distinct++;
		}
	}
	if (secret_named(text, start))
		return distinct >= 8;
	return nonhex && upper + lower + digit >= 2 && distinct >= 12;
}

/*
 * A session token: long base64 with mixed classes; URL-encoded (%2F) or
 * base64url and JWT-shaped ('.', '-', '_') forms too.
 */
static int
v_session_token(const char *text, size_t len, size_t start, size_t end)
{
	int upper = 0, lower = 0, digit = 0;
	size_t i;

	(void)len;
	if (end - start < 80)
		return 0;
	for (i = start; i < end; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!is_b64(c) && c != '=' && c != '%' && c != '.' && c != '-' && c != '_')
			return 0;
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		digit |= is_digit(c);
	}
	return upper && lower && digit;
}

/* S3 bucket naming rules (general purpose buckets). */
static int
v_s3_bucket(const char *text, size_t len, size_t start, size_t end)
{
	size_t n = end - start, i, dots = 0, digitdots = 1;
	const char *b = text + start;

	(void)len;
	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = b[i];
		if (c == '.') {
			dots++;
			if (i > 0 && b[i - 1] == '.')
				return 0;
		} else if (!is_digit(c)) {
			digitdots = 0;
			if (!((c >= 'a' && c <= 'z') || c == '-'))
				return 0;
		}
	}
	if (!((b[0] >= 'a' && b[0] <= 'z') || is_digit(b[0])))
		return 0;
	if (!((b[n - 1] >= 'a' && b[n - 1] <= 'z') || is_digit(b[n - 1])))
		return 0;
	if (digitdots && dots == 3)		/* formatted like an IP address */
		return 0;
	if (n >= 4 && memcmp(b, "xn--", 4) == 0)
		return 0;
	return 1;
}

/* 12 digits, not a filler like 000000000000. */
static int
v_account_id(const char *text, size_t len, size_t start, size_t end)
{
	size_t i, digits = 0;
	int same = 1;
	char first = 0;

	(void)len;
	for (i = start; i < end; i++) {
		if (text[i] == '-')
			continue;
		if (!is_digit(text[i]))
			return 0;
		if (digits == 0)
			first = text[i];
		else if (text[i] != first)
			same = 0;
		digits++;
	}
	return digits == 12 && !same;
}

/* At least one digit: keeps all-capital English words out of ID rules. */
static int
v_has_digit(const char *text, size_t len, size_t start, size_t end)
{
	size_t i;

	(void)len;
	for (i = start; i < end; i++)
		if (is_digit(text[i]))
			return 1;
	return 0;
}

static int
is_region(const char *l, size_t n)
{
	/* xx-name-N, xx-gov-name-N, xx-iso[b]-name-N */
	size_t i = 0, dashes = 0;

	if (n < 6 || !is_digit(l[n - 1]) || l[n - 2] != '-')
		return 0;
	for (i = 0; i < n - 1; i++) {
		if (l[i] == '-')
			dashes++;
		else if (!(l[i] >= 'a' && l[i] <= 'z'))
			return 0;
	}
	return dashes >= 2 && l[2] == '-';
}

/* Region abbreviations in ElastiCache names: use1, usw2, apne1, euc1. */
static int
is_region_abbrev(const char *l, size_t n)
{
	size_t i;

	if (n < 4 || n > 6)
		return 0;
	for (i = 0; i < n - 1; i++)
		if (!(l[i] >= 'a' && l[i] <= 'z'))
			return 0;
	return is_digit(l[n - 1]);
}

/*
 * A host under amazonaws.com that names a customer resource: some label
 * other than a region or a service name carries digits (a cluster id, a
 * random suffix, an endpoint id). S3 hosts belong to the s3-bucket rule.
 */
static int
v_aws_host(const char *text, size_t len, size_t start, size_t end)
{
	static const char *const public_labels[] = { "ec2", "route53", "ec2messages",
		"route53resolver", "ec2-instance-connect", "iot", "sso-oidc", "ec2-fips" };
	const char *h = text + start, *stop;
	size_t n = end - start, i;
	int ident = 0;

	(void)len;
	if (n > 15 && memcmp(h + n - 3, ".cn", 3) == 0)
		n -= 3;
	if (n < 15 || memcmp(h + n - 14, ".amazonaws.com", 14) != 0)
		return 0;
	stop = h + n - 14;
	while (h < stop) {
		const char *dot = memchr(h, '.', (size_t)(stop - h));
		size_t l = (size_t)((dot != NULL ? dot : stop) - h);
		int digit = 0, known = 0;
		if ((l == 2 && memcmp(h, "s3", 2) == 0) || (l > 3 && memcmp(h, "s3-", 3) == 0))
			return 0;
		for (i = 0; i < l; i++)
			digit |= is_digit(h[i]);
		for (i = 0; i < sizeof(public_labels) / sizeof(public_labels[0]); i++)
			if (strlen(public_labels[i]) == l && memcmp(public_labels[i], h, l) == 0)
				known = 1;
		if (digit && !known && !is_region(h, l) && !is_region_abbrev(h, l))
			ident = 1;
		h += l + 1;
	}
	return ident;
}

static const struct validator {
	const char *name;
	int (*fn)(const char *, size_t, size_t, size_t);
} validators[] = {
	{ "public_ipv4", v_public_ipv4 },
	{ "public_ipv6", v_public_ipv6 },
	{ "secret_key", v_secret_key },
	{ "session_token", v_session_token },
	{ "s3_bucket", v_s3_bucket },
	{ "account_id", v_account_id },
	{ "has_digit", v_has_digit },
	{ "aws_host", v_aws_host },
	{ "github_crc32", rules_v_github_crc32 },
	{ "luhn", rules_v_luhn },
	{ "iban", rules_v_iban },
	{ "phone", rules_v_phone },
	{ "password", rules_v_password },
	{ "secret_value", rules_v_secret_value },
	{ "k8s_secret", rules_v_k8s_secret },
	{ "random", rules_v_random },
};

int
validate_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
		if (strcmp(validators[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
validate_name(int idx)
{
	if (idx < 0 || (size_t)idx >= sizeof(validators) / sizeof(validators[0]))
		return NULL;
	return validators[idx].name;
}

int
validate_run(int idx, const char *text, size_t len, size_t start, size_t end)
{
	if (idx < 0 || (size_t)idx >= sizeof(validators) / sizeof(validators[0]))
		return 1;
	return validators[idx].fn(text, len, start, end);
}
