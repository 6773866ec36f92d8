/*
 * ccauth.h - short-lived credentials for the headless Claude Code runs of
 * POST /v1/claude-code.
 *
 * The CLI that maskgate starts calls maskgate's own /v1/messages. It must
 * mask in the caller's tenant, be charged to the caller's key, and never
 * hold a long-lived secret: so it gets a token that names the tenant (and
 * the caller's key, if any), expires within minutes, and is signed with
 * HMAC-SHA256 under a key derived from MASKGATE_DATA_KEY. No state is
 * stored; any worker can verify it.
 *
 *   sk-mgcc-1_<expiry>_<kind>_<hex tenant>_<key hash or 0>_<hex mac>
 */
#ifndef MG_CCAUTH_H
#define MG_CCAUTH_H

#include "arena.h"
#include "cfg.h"
#include "keys.h"
#include "mg.h"

struct store;

#define CCAUTH_PREFIX "sk-mgcc-"
/* A token is never valid for longer than this, whatever ttl asked for. */
#define CCAUTH_MAX_TTL (24L * 3600L)

/* What a token carries, as verified. Strings live in the verify arena. */
struct ccauth_claims {
	const char *tenant;
	const char *key_hash;	/* hex SHA-256 of the caller's virtual key, or NULL */
	enum principal_kind kind;	/* of the caller who minted it */
	long expires;		/* Unix seconds */
};

/*
 * Mints a token for the caller p, valid for ttl seconds (1..CCAUTH_MAX_TTL).
 * Returns a new string in a, or NULL (no data key, bad ttl, no memory).
 */
char *ccauth_mint(const struct cfg *c, const struct principal *p, long ttl, struct arena *a);

/* The same from a bare tenant (no key): for tests and the CLI. */
char *ccauth_mint_tenant(const struct cfg *c, const char *tenant, long ttl, struct arena *a);

/* 1 when token has the ccauth prefix (whether or not it is valid). */
int ccauth_is_token(const char *token);

/*
 * Verifies token (MAC compared in constant time, then expiry). MG_OK with
 * *tenant set (arena string) and, if claims is not NULL, all claims;
 * MG_ENOTFOUND when malformed, forged or expired; MG_ENOMEM.
 */
enum mg_err ccauth_verify(const struct cfg *c, const char *token, struct arena *a,
    const char **tenant, struct ccauth_claims *claims);

/*
 * The keys.c hook: fills out (already zeroed, cfg and key_hash set by the
 * caller) for a ccauth token, as keys_authenticate_ex() would for any other
 * credential. A token minted by a virtual key reloads that key, so its
 * model allow-list, budget, rate limits and blocking apply and spend is
 * charged to it; the principal is never admin. MG_ENOTFOUND with *why set
 * when the token or its key is no longer valid.
 */
enum mg_err ccauth_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *token, struct principal *out, const char **why);

#endif
