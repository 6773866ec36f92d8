/*
 * crypto.c - OpenSSL-backed primitives. Nothing here is hand-rolled.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "crypto.h"

enum mg_err
crypto_random(void *out, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(out, (int)len) != 1)
		return MG_EIO;
	return MG_OK;
}

/*
 * The algorithms are fetched once per process, not on every call
 * (EVP_sha256() and a "digest" parameter look the name up each time,
 * a measurable part of a request): a fetched object is immutable.
 */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md;
}

static const EVP_CIPHER *
gcm_cipher(void)
{
	static EVP_CIPHER *c;

	if (c == NULL)
		c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	return c;
}

enum mg_err
crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	unsigned int outlen = CRYPTO_HASH_LEN;
	const EVP_MD *md = sha256_md();

	if (md == NULL || EVP_Digest(data, len, out, &outlen, md, NULL) != 1)
		return MG_ENOMEM;
	return MG_OK;
}

/*
 * HMAC-SHA256 over the concatenation of parts, with OpenSSL's EVP_MAC, so
 * callers hash several fields without building one buffer. Each call
 * copies a context that has its digest already (set once per process).
 */
enum mg_err
crypto_hmac_sha256v(const unsigned char *key, size_t keylen,
    const struct crypto_part *parts, size_t nparts, unsigned char out[CRYPTO_HASH_LEN])
{
	static EVP_MAC_CTX *tmpl;
	EVP_MAC_CTX *ctx = NULL;
	enum mg_err rc = MG_ENOMEM;
	size_t i, outlen = 0;

	if (tmpl == NULL) {
		EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM params[2];

		if (hmac == NULL)
			return MG_ENOMEM;
		tmpl = EVP_MAC_CTX_new(hmac);
		EVP_MAC_free(hmac);	/* the context holds its own reference */
		if (tmpl == NULL)
			return MG_ENOMEM;
		params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		/* initialised (any key) so that it can be copied; each copy is keyed again */
		if (EVP_MAC_init(tmpl, (const unsigned char *)"k", 1, params) != 1) {
			EVP_MAC_CTX_free(tmpl);
			tmpl = NULL;
			return MG_ENOMEM;
		}
	}
	ctx = EVP_MAC_CTX_dup(tmpl);
	if (ctx == NULL)
		return MG_ENOMEM;
	if (EVP_MAC_init(ctx, key, keylen, NULL) != 1)
		goto out;
	for (i = 0; i < nparts; i++)
		if (EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &outlen, CRYPTO_HASH_LEN) != 1 || outlen != CRYPTO_HASH_LEN)
		goto out;
	rc = MG_OK;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}

enum mg_err
crypto_hmac_sha256(const unsigned char *key, size_t keylen, const void *data,
    size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	struct crypto_part part = { data, len };

	return crypto_hmac_sha256v(key, keylen, &part, 1, out);
}

void
crypto_hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
crypto_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum mg_err
crypto_unhex(unsigned char *out, size_t len, const char *hex)
{
	size_t i;

	if (strlen(hex) != 2 * len)
		return MG_EINVAL;
	for (i = 0; i < len; i++) {
		int hi = crypto_hexval(hex[2 * i]), lo = crypto_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return MG_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return MG_OK;
}

int
crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int
crypto_str_equal(const char *a, const char *b)
{
	unsigned char ha[CRYPTO_HASH_LEN], hb[CRYPTO_HASH_LEN];

	/* hashing first makes the comparison independent of both lengths */
	if (crypto_sha256(a, strlen(a), ha) != MG_OK || crypto_sha256(b, strlen(b), hb) != MG_OK)
		return 0;
	return crypto_equal(ha, hb, sizeof(ha));
}

enum mg_err
crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const void *plain, size_t len, struct buf *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *p;
	enum mg_err rc = MG_ENOMEM;
	int n, m;

	if (len > (size_t)INT32_MAX || aadlen > (size_t)INT32_MAX)
		return MG_EINVAL;
	if (buf_reserve(out, len + CRYPTO_SEAL_OVERHEAD) != MG_OK)
		return MG_ENOMEM;
	p = (unsigned char *)out->data + out->len;
	rc = crypto_random(p, CRYPTO_NONCE_LEN);
	if (rc != MG_OK)
		return rc;
	rc = MG_EIO;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		goto out;
	if (EVP_EncryptInit_ex(ctx, gcm_cipher(), NULL, key, p) != 1 ||
	    (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_EncryptUpdate(ctx, p + CRYPTO_NONCE_LEN, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, p + CRYPTO_NONCE_LEN + n, &m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN,
	    p + CRYPTO_NONCE_LEN + len) != 1)
		goto out;
	out->len += len + CRYPTO_SEAL_OVERHEAD;
	out->data[out->len] = '\0';
	rc = MG_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

enum mg_err
crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const void *sealed, size_t len, struct buf *out)
{
	const unsigned char *s = sealed;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *p;
	size_t plen;
	enum mg_err rc = MG_EINVAL;
	int n, m;

	if (len < CRYPTO_SEAL_OVERHEAD || len > (size_t)INT32_MAX ||
	    aadlen > (size_t)INT32_MAX)
		return MG_EINVAL;
	plen = len - CRYPTO_SEAL_OVERHEAD;
	if (buf_reserve(out, plen) != MG_OK)
		return MG_ENOMEM;
	p = (unsigned char *)out->data + out->len;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		rc = MG_ENOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, gcm_cipher(), NULL, key, s) != 1 ||
	    (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_DecryptUpdate(ctx, p, &n, s + CRYPTO_NONCE_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
	    (void *)(s + CRYPTO_NONCE_LEN + plen)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, p + n, &m) != 1)
		goto out;
	out->len += plen;
	out->data[out->len] = '\0';
	rc = MG_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t
load64le(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* One SipRound over the state v[0..3]. */
static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

uint64_t
crypto_siphash(const unsigned char key[CRYPTO_SIPHASH_KEY_LEN], const void *data, size_t len)
{
	const unsigned char *in = data;
	uint64_t k0 = load64le(key), k1 = load64le(key + 8), m, b = (uint64_t)len << 56;
	uint64_t v[4];
	size_t i, left = len & 7;

	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = load64le(in + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (; left > 0; left--)
		b |= (uint64_t)in[i + left - 1] << (8 * (left - 1));
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
