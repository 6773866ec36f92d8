/*
 * crypto.h - thin wrappers over OpenSSL libcrypto: randomness, SHA-256,
 * HMAC-SHA256, constant-time comparison, AES-256-GCM.
 */
#ifndef MG_CRYPTO_H
#define MG_CRYPTO_H

#include <stddef.h>
#include "mg.h"
#include "arena.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_HASH_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)

/* Fills out with bytes from the OS random source. */
enum mg_err crypto_random(void *out, size_t len);
/* A byte string, one of several fed to crypto_hmac_sha256v(). */
struct crypto_part {
	const void *data;
	size_t len;
};

/* These fail only when OpenSSL cannot allocate (MG_ENOMEM). */
enum mg_err crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN]);
enum mg_err crypto_hmac_sha256(const unsigned char *key, size_t keylen,
    const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN]);
/* HMAC-SHA256 of the concatenation of parts[0..nparts). */
enum mg_err crypto_hmac_sha256v(const unsigned char *key, size_t keylen,
    const struct crypto_part *parts, size_t nparts, unsigned char out[CRYPTO_HASH_LEN]);
/*
 * Derives a subkey for one purpose: HMAC-SHA256(key, label). The label must
 * be a string literal ("" label does not compile otherwise), whose length
 * the compiler counts: a hand-counted length that drifts derives another
 * key without a word. Evaluates to crypto_hmac_sha256()'s result.
 */
#define CRYPTO_DERIVE(key, keylen, label, out) \
	crypto_hmac_sha256((key), (keylen), "" label, sizeof("" label) - 1, (out))

/* Writes 2*len lowercase hex digits and a NUL into out. */
void crypto_hex(char *out, const unsigned char *in, size_t len);
/* The value of one hex digit, or -1. */
int crypto_hexval(int c);
/* Parses exactly 2*len hex digits; returns MG_EINVAL otherwise. */
enum mg_err crypto_unhex(unsigned char *out, size_t len, const char *hex);
/* Constant-time equality of two byte strings of equal length. */
int crypto_equal(const void *a, const void *b, size_t len);
/*
 * Constant-time equality of two strings, time independent of content;
 * 0 (unequal) if hashing fails.
 */
int crypto_str_equal(const char *a, const char *b);

/*
 * AES-256-GCM. crypto_seal appends nonce || ciphertext || tag to out;
 * crypto_open appends the plaintext to out and fails on any tampering.
 * aad binds the ciphertext to its context (tenant, type).
 */
enum mg_err crypto_seal(const unsigned char key[CRYPTO_KEY_LEN],
    const void *aad, size_t aadlen, const void *plain, size_t len, struct buf *out);
enum mg_err crypto_open(const unsigned char key[CRYPTO_KEY_LEN],
    const void *aad, size_t aadlen, const void *sealed, size_t len, struct buf *out);

#endif
