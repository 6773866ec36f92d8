/*
 * sigv4.c - AWS Signature Version 4. See sigv4.h for why it is ours.
 *
 * canonical request = method \n canonical URI \n canonical query \n
 *                     canonical headers \n signed headers \n payload hash
 * string to sign    = AWS4-HMAC-SHA256 \n date \n scope \n hash(canonical)
 * signing key       = HMAC chain over "AWS4"+secret, day, region, service,
 *                     "aws4_request"
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "sigv4.h"

enum mg_err
sigv4_uri_encode(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (buf_appendc(out, (char)c) != MG_OK)
				return MG_ENOMEM;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		if (buf_append(out, esc, 3) != MG_OK)
			return MG_ENOMEM;
	}
	return MG_OK;
}

/*
 * Splits url into its Host header value (default ports dropped, as curl
 * sends it) and its path; MG_EINVAL for anything else than http(s).
 */
static enum mg_err
split_url(struct arena *a, const char *url, char **host, const char **path)
{
	const char *p, *slash;
	size_t hlen;
	int https;

	if (strncmp(url, "https://", 8) == 0)
		https = 1;
	else if (strncmp(url, "http://", 7) == 0)
		https = 0;
	else
		return MG_EINVAL;
	p = url + (https ? 8 : 7);
	slash = strchr(p, '/');
	hlen = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (hlen == 0 || strchr(url, '?') != NULL)
		return MG_EINVAL;
	if (https && hlen > 4 && memcmp(p + hlen - 4, ":443", 4) == 0)
		hlen -= 4;
	else if (!https && hlen > 3 && memcmp(p + hlen - 3, ":80", 3) == 0)
		hlen -= 3;
	*host = arena_strndup(a, p, hlen);
	*path = slash != NULL ? slash : "/";
	return *host != NULL ? MG_OK : MG_ENOMEM;
}

static enum mg_err
hmac(const unsigned char *key, size_t keylen, const char *s, unsigned char out[CRYPTO_HASH_LEN])
{
	return crypto_hmac_sha256(key, keylen, s, strlen(s), out);
}

enum mg_err
sigv4_sign(struct arena *a, const struct sigv4_key *k, const char *method, const char *url,
    const char *content_type, const char *body, size_t body_len, time_t now,
    struct sigv4_headers *out)
{
	unsigned char h[CRYPTO_HASH_LEN], key[CRYPTO_HASH_LEN];
	char hexd[2 * CRYPTO_HASH_LEN + 1], amz_date[17], day[9];
	const char *path, *p;
	const char *signed_headers;
	struct buf canon, sts, secret;
	struct tm tm;
	char *host;
	enum mg_err rc;

	if (gmtime_r(&now, &tm) == NULL)
		return MG_EINVAL;
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(day, amz_date, 8);
	day[8] = '\0';
	rc = split_url(a, url, &host, &path);
	if (rc != MG_OK)
		return rc;
	rc = crypto_sha256(body != NULL ? body : "", body_len, h);
	if (rc != MG_OK)
		return rc;
	crypto_hex(hexd, h, sizeof(h));
	out->content_sha256 = arena_strdup(a, hexd);
	out->amz_date = arena_strdup(a, amz_date);

	/* canonical URI: each segment of the path as sent, encoded again */
	buf_init(&canon, a);
	buf_printf(&canon, "%s\n", method);
	for (p = path; *p != '\0';) {
		size_t n;

		if (*p == '/') {
			buf_appendc(&canon, '/');
			p++;
			continue;
		}
		n = strcspn(p, "/");
		if (sigv4_uri_encode(&canon, p, n) != MG_OK)
			return MG_ENOMEM;
		p += n;
	}
	signed_headers = k->session_token != NULL ?
	    "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token" :
	    "content-type;host;x-amz-content-sha256;x-amz-date";
	buf_printf(&canon, "\n\ncontent-type:%s\nhost:%s\nx-amz-content-sha256:%s\n"
	    "x-amz-date:%s\n", content_type, host, hexd, amz_date);
	if (k->session_token != NULL)
		buf_printf(&canon, "x-amz-security-token:%s\n", k->session_token);
	if (buf_printf(&canon, "\n%s\n%s", signed_headers, hexd) != MG_OK)
		return MG_ENOMEM;

	rc = crypto_sha256(canon.data, canon.len, h);
	if (rc != MG_OK)
		return rc;
	crypto_hex(hexd, h, sizeof(h));
	buf_init(&sts, a);
	if (buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, day,
	    k->region, k->service, hexd) != MG_OK)
		return MG_ENOMEM;

	buf_init(&secret, a);
	if (buf_printf(&secret, "AWS4%s", k->secret_key) != MG_OK)
		return MG_ENOMEM;
	rc = hmac((const unsigned char *)secret.data, secret.len, day, key);
	explicit_bzero(secret.data, secret.len);
	if (rc == MG_OK)
		rc = hmac(key, sizeof(key), k->region, key);
	if (rc == MG_OK)
		rc = hmac(key, sizeof(key), k->service, key);
	if (rc == MG_OK)
		rc = hmac(key, sizeof(key), "aws4_request", key);
	if (rc == MG_OK)
		rc = crypto_hmac_sha256(key, sizeof(key), sts.data, sts.len, h);
	explicit_bzero(key, sizeof(key));
	if (rc != MG_OK)
		return rc;
	crypto_hex(hexd, h, sizeof(h));
	out->authorization = arena_printf(a, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", k->access_key, day, k->region, k->service,
	    signed_headers, hexd);
	if (out->authorization == NULL || out->amz_date == NULL || out->content_sha256 == NULL)
		return MG_ENOMEM;
	return MG_OK;
}
