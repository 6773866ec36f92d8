/*
 * keys.h - who is calling: the master key, and (through the same entry
 * point) virtual keys and JWTs. The result names the masking tenant.
 */
#ifndef MG_KEYS_H
#define MG_KEYS_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

struct store;

enum principal_kind { PRINCIPAL_MASTER, PRINCIPAL_VIRTUAL, PRINCIPAL_JWT, PRINCIPAL__MAX };

struct principal {
	enum principal_kind kind;
	const char *tenant;	/* masking scope; never a raw key */
	const char *key_hash;	/* hex SHA-256 of the credential, for logs */
	int admin;		/* may call management endpoints */
};

/* The tenant every master-key request uses. */
#define KEYS_MASTER_TENANT "master"

/*
 * Extracts the credential from x-api-key or "Authorization: Bearer" and
 * checks it in constant time. MG_OK with *out filled; MG_ENOTFOUND when no
 * credential matches (*why says why, for the 401 message).
 */
enum mg_err keys_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, struct principal *out,
    const char **why);

#endif
