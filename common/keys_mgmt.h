/*
 * keys_mgmt.h - the key management operations behind both the HTTP
 * endpoints (/key/generate, ...) and `bin/maskgate key ...`, with
 * LiteLLM's request and response field names. Every call is audited.
 */
#ifndef MG_KEYS_MGMT_H
#define MG_KEYS_MGMT_H

#include <stddef.h>
#include <json-c/json.h>

#include "arena.h"
#include "cfg.h"
#include "mg.h"

struct store;

enum keys_op {
	KO_GENERATE, KO_INFO, KO_LIST, KO_UPDATE, KO_DELETE, KO_REGENERATE, KO_BLOCK,
	KO_UNBLOCK, KO__MAX
};

/* "generate", "info", ... ; KO__MAX for an unknown name. */
enum keys_op keys_op_parse(const char *name);
const char *keys_op_name(enum keys_op op);

/*
 * Runs one operation for actor (who, for the audit log). req holds the
 * request fields (a body, or query parameters as strings); it is borrowed.
 * MG_OK with *resp set (a new object, caller puts); otherwise a one-line
 * reason in err and MG_EINVAL (the request is wrong), MG_ENOTFOUND (no
 * such key) or another error (the store or the OS failed). The front end
 * maps these to its own statuses.
 */
enum mg_err keys_mgmt(struct store *s, struct arena *a, enum keys_op op, const char *actor,
    struct json_object *req, struct json_object **resp, char *err, size_t errlen);

/*
 * `master rotate`: records a new master key as primary and gives the
 * configured key and every earlier one grace seconds. Writes the new key
 * (shown once) into key_out. Audited.
 */
enum mg_err keys_master_rotate(const struct cfg *c, struct store *s, const char *actor,
    long grace, char *key_out, size_t key_outlen, char *err, size_t errlen);

#endif
