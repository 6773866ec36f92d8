/*
 * session.c - console sign-in, sessions, CSRF tokens and login throttling.
 *
 * The cookie value is 32 random bytes in hex. The store keeps only its
 * SHA-256, so a copied database signs nobody in. The CSRF token is an HMAC
 * of a fixed label keyed with the cookie value: only the holder of the
 * cookie can know it, the server need not store it, and it dies with the
 * session. A session remembers which credential opened it and is refused
 * once that credential is blocked, deleted, expired, demoted or rotated out.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "crypto.h"
#include "keys.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "store_console.h"
#include "store_keys.h"

static const char csrf_label[] = "maskgate console csrf v1";

static enum mg_err
hex_sha256(const char *s, char out[SESSION_HEXLEN + 1])
{
	unsigned char h[CRYPTO_HASH_LEN];

	if (crypto_sha256(s, strlen(s), h) != MG_OK)
		return MG_ENOMEM;
	crypto_hex(out, h, sizeof(h));
	return MG_OK;
}

static enum mg_err
csrf_of(const char *cookie, char out[SESSION_HEXLEN + 1])
{
	unsigned char h[CRYPTO_HASH_LEN];

	if (crypto_hmac_sha256((const unsigned char *)cookie, strlen(cookie), csrf_label,
	    sizeof(csrf_label) - 1, h) != MG_OK)
		return MG_ENOMEM;
	crypto_hex(out, h, sizeof(h));
	return MG_OK;
}

static int
well_formed(const char *cookie)
{
	size_t i;

	if (cookie == NULL || strlen(cookie) != SESSION_HEXLEN)
		return 0;
	for (i = 0; i < SESSION_HEXLEN; i++)
		if (crypto_hexval((unsigned char)cookie[i]) < 0)
			return 0;
	return 1;
}

static const char *
actor_of(struct arena *a, const struct principal *p)
{
	if (p->kind == PRINCIPAL_MASTER)
		return arena_printf(a, "master:%.12s", p->key_hash);
	return arena_printf(a, "key:%.12s%s%s", p->key_hash, p->key_alias != NULL ? " alias:" : "",
	    p->key_alias != NULL ? p->key_alias : "");
}

/* Counts a failure and audits it; returns MG_ENOTFOUND for the caller. */
static enum mg_err
refuse(struct store *s, struct arena *a, const char *addr, long window, const char *why)
{
	if (store_login_fail(s, addr, window) != MG_OK ||
	    store_audit_add(s, arena_printf(a, "console@%s", addr), "console_login", NULL,
	    "denied", why) != MG_OK)
		log_warn("console: a failed sign-in could not be recorded");
	return MG_ENOTFOUND;
}

enum mg_err
session_login(const struct cfg *c, struct store *s, struct arena *a, const char *addr,
    const char *key, long now, char cookie[SESSION_HEXLEN + 1], struct session *out,
    const char **why)
{
	struct store_session ss;
	struct principal p;
	unsigned char rnd[32];
	char hash[SESSION_HEXLEN + 1];
	long window = now - now % SESSION_LOGIN_WINDOW, failures;
	enum mg_err rc;

	memset(out, 0, sizeof(*out));
	cookie[0] = '\0';
	*why = "invalid key";
	if (addr == NULL || *addr == '\0')
		addr = "-";
	rc = store_login_failures(s, addr, window, &failures);
	if (rc != MG_OK)
		return rc;
	if (failures >= SESSION_LOGIN_MAX) {
		*why = "too many failed sign-ins from this address; try again later";
		if (store_audit_add(s, arena_printf(a, "console@%s", addr), "console_login", NULL,
		    "throttled", NULL) != MG_OK)
			log_warn("console: a throttled sign-in could not be audited");
		return MG_ETOOBIG;
	}
	rc = auth_authenticate(c, s, a, key, NULL, NULL, &p, why, NULL);
	if (rc == MG_ENOTFOUND)
		return refuse(s, a, addr, window, *why);
	if (rc != MG_OK)
		return rc;
	if (!p.admin || (p.kind != PRINCIPAL_MASTER && p.kind != PRINCIPAL_VIRTUAL)) {
		*why = "this key may not manage maskgate (use the master key or an admin key)";
		return refuse(s, a, addr, window, *why);
	}
	if (crypto_random(rnd, sizeof(rnd)) != MG_OK)
		return MG_EIO;
	crypto_hex(cookie, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	rc = hex_sha256(cookie, hash);
	if (rc != MG_OK)
		goto out;
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.kind, sizeof(ss.kind), "%s", p.kind == PRINCIPAL_MASTER ? "master" : "virtual");
	snprintf(ss.key_hash, sizeof(ss.key_hash), "%s", p.key_hash);
	ss.actor = actor_of(a, &p);
	ss.created_at = now;
	ss.expires_at = now + c->console_session;
	rc = ss.actor != NULL ? store_begin(s) : MG_ENOMEM;
	if (rc != MG_OK)
		goto out;
	rc = store_session_purge(s, now, window - SESSION_LOGIN_WINDOW);
	if (rc == MG_OK)
		rc = store_session_add(s, hash, &ss);
	if (rc == MG_OK)
		rc = store_audit_add(s, ss.actor, "console_login", NULL, "ok",
		    arena_printf(a, "from %s", addr));
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		store_rollback(s);
		goto out;
	}
	out->actor = ss.actor;
	out->expires_at = ss.expires_at;
	rc = csrf_of(cookie, out->csrf);
out:
	if (rc != MG_OK)
		explicit_bzero(cookie, SESSION_HEXLEN + 1);
	return rc;
}

/* 1 when the credential that opened ss may still manage maskgate. */
static int
credential_valid(const struct cfg *c, struct store *s, struct arena *a,
    const struct store_session *ss, long now)
{
	struct keys_record k;
	char conf[SESSION_HEXLEN + 1];
	int state;

	if (strcmp(ss->kind, "master") == 0) {
		state = store_master_state(s, ss->key_hash, now);
		if (state >= 0)
			return state == 1;
		/* the configured key, never recorded by a rotation */
		return c->master_key != NULL && hex_sha256(c->master_key, conf) == MG_OK &&
		    crypto_str_equal(conf, ss->key_hash);
	}
	if (store_keys_get(s, a, ss->key_hash, now, &k) != MG_OK)
		return 0;
	return k.admin && !k.blocked && (k.expires <= 0 || now < k.expires);
}

enum mg_err
session_check(const struct cfg *c, struct store *s, struct arena *a, const char *cookie,
    long now, struct session *out)
{
	struct store_session ss;
	char hash[SESSION_HEXLEN + 1];
	enum mg_err rc;

	memset(out, 0, sizeof(*out));
	if (!well_formed(cookie))
		return MG_ENOTFOUND;
	rc = hex_sha256(cookie, hash);
	if (rc == MG_OK)
		rc = store_session_get(s, a, hash, now, &ss);
	if (rc != MG_OK)
		return rc;
	if (!credential_valid(c, s, a, &ss, now))
		return MG_ENOTFOUND;
	out->actor = ss.actor;
	out->expires_at = ss.expires_at;
	return csrf_of(cookie, out->csrf);
}

enum mg_err
session_logout(struct store *s, const char *cookie, const char *actor)
{
	char hash[SESSION_HEXLEN + 1];
	enum mg_err rc;

	if (!well_formed(cookie))
		return MG_ENOTFOUND;
	rc = hex_sha256(cookie, hash);
	if (rc == MG_OK)
		rc = store_session_delete(s, hash);
	if (rc == MG_OK)
		rc = store_audit_add(s, actor, "console_logout", NULL, "ok", NULL);
	return rc;
}

int
session_csrf_ok(const char *cookie, const char *token)
{
	char want[SESSION_HEXLEN + 1];

	if (!well_formed(cookie) || token == NULL || csrf_of(cookie, want) != MG_OK)
		return 0;
	return crypto_str_equal(want, token);
}

const char *
session_cookie_value(struct arena *a, const char *header, const char *name)
{
	size_t n = strlen(name);
	const char *p = header;

	while (p != NULL && *p != '\0') {
		const char *end;
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return arena_strndup(a, p + n + 1,
			    end != NULL ? (size_t)(end - p - n - 1) : strlen(p + n + 1));
		p = end;
	}
	return NULL;
}
