/*
 * crypto.c - OpenSSL-backed primitives. Nothing here is hand-rolled, except
 * the RFC 2104 HMAC construction over OpenSSL's SHA-256 (see below).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "crypto.h"

enum mg_err
crypto_random(void *out, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(out, (int)len) != 1)
		return MG_EIO;
	return MG_OK;
}

/*
 * SHA-256 and HMAC-SHA256 run on OpenSSL's low-level SHA256_* functions,
 * which work on a stack context and cannot fail. OpenSSL 3's SHA256() and
 * HMAC() one-shots fetch and allocate contexts: under memory pressure they
 * fail, and these functions have no error to return (the HMAC used to
 * abort the worker, the digest to leave out unset). The low-level API is
 * deprecated in OpenSSL 3 but kept; hence the pragma.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void
crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	SHA256_CTX ctx;

	SHA256_Init(&ctx);
	SHA256_Update(&ctx, data, len);
	SHA256_Final(out, &ctx);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)), K padded to the block */
void
crypto_hmac_sha256(const unsigned char *key, size_t keylen, const void *data,
    size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	unsigned char k[SHA256_CBLOCK], pad[SHA256_CBLOCK], inner[CRYPTO_HASH_LEN];
	SHA256_CTX ctx;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k))
		crypto_sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, pad, sizeof(pad));
	SHA256_Update(&ctx, data, len);
	SHA256_Final(inner, &ctx);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, pad, sizeof(pad));
	SHA256_Update(&ctx, inner, sizeof(inner));
	SHA256_Final(out, &ctx);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&ctx, sizeof(ctx));
}
#pragma GCC diagnostic pop

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

enum mg_err
crypto_unhex(unsigned char *out, size_t len, const char *hex)
{
	size_t i;

	if (strlen(hex) != 2 * len)
		return MG_EINVAL;
	for (i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
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
	crypto_sha256(a, strlen(a), ha);
	crypto_sha256(b, strlen(b), hb);
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
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p) != 1 ||
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
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, s) != 1 ||
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
