/*
 * jwt_claims.h - what an identity provider's token grants: its groups
 * claim mapped to allowed models by MASKGATE_JWT_GROUP_MODELS.
 */
#ifndef MG_JWT_CLAIMS_H
#define MG_JWT_CLAIMS_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

/*
 * groups_json is the groups claim (a JSON array of strings, or one string;
 * NULL when absent). *models becomes the JSON array of the models the
 * listed groups are granted by MASKGATE_JWT_GROUP_MODELS ("*" for all), in
 * the arena. MG_ENOTFOUND when no group of the token is mapped (the token
 * grants nothing); MG_EINVAL when the claim or the setting is malformed.
 */
enum mg_err jwt_claims_group_models(const struct cfg *c, struct arena *a,
    const char *groups_json, const char **models);

#endif
