/*
 * mg_jwt.h - JSON Web Tokens as caller credentials, verified with libjwt
 * (named mg_jwt.h because <jwt.h> is libjwt's own header).
 * Only the configured algorithm is accepted (HS256 with MASKGATE_JWT_SECRET,
 * RS256/ES256 with MASKGATE_JWT_PUBLIC_KEY); alg none never is.
 */
#ifndef MG_JWT_H
#define MG_JWT_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

/* What a verified token says about its holder; strings in the arena. */
struct mg_jwt_claims {
	const char *user;	/* user_id claim, else sub */
	const char *team;	/* team_id claim, else team; may be NULL */
	const char *models;	/* models claim as a JSON array, or NULL (all) */
	long exp;
};

/* 1 when JWTs are configured at all. */
int mg_jwt_enabled(const struct cfg *c);

/* 1 when token has the shape of a JWS compact serialisation (a.b.c). */
int mg_jwt_looks_like(const char *token);

/*
 * Verifies signature, algorithm, exp (required), nbf and iat (with
 * MASKGATE_JWT_LEEWAY), iss and aud (when configured) at time now.
 * MG_OK with *out filled; MG_EINVAL with *why (static) when refused.
 */
enum mg_err mg_jwt_verify(const struct cfg *c, struct arena *a, const char *token, long now,
    struct mg_jwt_claims *out, const char **why);

#endif
