/*
 * jwks.h - the identity provider's signing keys (RFC 7517 JSON Web Key
 * Set) fetched from MASKGATE_JWT_JWKS_URL with libcurl, cached per worker
 * process, fetched again when a token names a kid the cache does not hold
 * (at most once per MASKGATE_JWT_JWKS_REFRESH) or when the cache is an hour
 * old; the document and the key count are bounded.
 */
#ifndef MG_JWKS_H
#define MG_JWKS_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

/* Largest JWKS document accepted and most keys taken from it. */
#define JWKS_MAX_BYTES (64 * 1024)
#define JWKS_MAX_KEYS 32
/* A cache older than this is fetched again (keys the provider removed die). */
#define JWKS_MAX_AGE 3600

/*
 * The PEM public key that verifies token (a JWS compact serialisation):
 * the JWKS key whose kid is the token header's kid and whose kty fits the
 * configured algorithm (RS256: RSA, ES256: EC P-256). *pem in the arena.
 * MG_ENOTFOUND with *why when no key fits; MG_EUPSTREAM when the JWKS
 * could not be fetched and no cached key fits.
 */
enum mg_err jwks_key_for_token(const struct cfg *c, struct arena *a, const char *token,
    long now, const char **pem, const char **why);

/*
 * Replaces the cache with the JWKS document json as if fetched at now
 * (tests, and the fetch itself; the next fetch waits the refresh time).
 * MG_EINVAL when it is not a JWKS.
 */
enum mg_err jwks_cache_set(const char *json, long now);

/* Forgets the cache and the fetch times (tests; process exit). */
void jwks_reset(void);

/* Fetches so far in this process (tests: the refresh is rate-bounded). */
long jwks_fetch_count(void);

#endif
