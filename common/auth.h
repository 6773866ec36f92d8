/*
 * auth.h - who is calling: one entry point for every credential kind
 * (master key, virtual key, JWT, /v1/claude-code run token, BYOK). The
 * result names the masking tenant (struct principal, keys.h).
 */
#ifndef MG_AUTH_H
#define MG_AUTH_H

#include "arena.h"
#include "cfg.h"
#include "keys.h"
#include "mg.h"
#include "outcome.h"

struct store;

/*
 * Extracts the credential from x-api-key or "Authorization: Bearer" and
 * checks it in constant time. MG_OK with *out filled; MG_ENOTFOUND when no
 * credential matches (*why says why, for the 401 message, and *reason,
 * when not NULL, which refusal it was: OUT_AUTH, OUT_BLOCKED_KEY or
 * OUT_EXPIRED); any other error means the store failed.
 * BYOK mode: when MASKGATE_BYOK is on and the request carries
 * x-maskgate-key (NULL: none), that header authenticates the caller and the
 * caller's own x-api-key/Authorization goes upstream (out->byok = 1,
 * out->byok_api_key/byok_authorization). A value that authenticates to
 * maskgate is never picked; a BYOK caller with no credential of its own
 * gets MG_ENOTFOUND (401), never the server's key.
 */
enum mg_err auth_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, const char *x_maskgate_key,
    struct principal *out, const char **why, enum outcome_reason *reason);

#endif
