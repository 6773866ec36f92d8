/*
 * h_ui_sso.c - console sign-in through the web server's single sign-on
 * (Apache mod_auth_openidc, deploy/apache/maskgate-sso.conf).
 *
 * Trusted only when configured: MASKGATE_CONSOLE_TRUST_USER names the
 * server variable holding the signed-in user (OIDC_CLAIM_email with
 * OIDCPassClaimsAs environment), MASKGATE_CONSOLE_TRUST_GROUPS the one
 * holding the groups (comma-separated, as mod_auth_openidc joins arrays),
 * MASKGATE_CONSOLE_ADMIN_GROUP the group allowed in. Server variables,
 * never HTTP_* headers (cfg_check.c refuses those), so a client cannot
 * claim an identity. Without the settings these variables are ignored and
 * the console asks for a key as before.
 *
 * The web server holds the SSO session, so there is no console cookie:
 * each request carries the identity. The CSRF token is an HMAC, keyed from
 * MASKGATE_DATA_KEY, of the identity and the UTC day (yesterday's is still
 * taken, so a form loaded before midnight works after it): another site
 * cannot read it from our pages, and it names one admin only.
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "store_keys.h"
#include "ui.h"
#include "worker.h"

/* 1 when the comma-separated list holds group exactly. */
static int
in_groups(const char *list, const char *group)
{
	size_t n = strlen(group);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		if (len == n && strncmp(p, group, n) == 0)
			return 1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

/* The CSRF token of actor for UTC day into out (hex). */
static enum mg_err
sso_csrf(const struct cfg *c, const char *actor, long day, char out[SESSION_HEXLEN + 1])
{
	unsigned char key[CRYPTO_HASH_LEN], h[CRYPTO_HASH_LEN];
	char d[24];
	struct crypto_part parts[3];
	enum mg_err rc;

	rc = CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate console sso csrf v1", key);
	if (rc != MG_OK)
		return rc;
	snprintf(d, sizeof(d), "%ld", day);
	parts[0].data = actor;
	parts[0].len = strlen(actor) + 1;	/* the NUL keeps actor and day apart */
	parts[1].data = d;
	parts[1].len = strlen(d);
	parts[2].data = "";
	parts[2].len = 0;
	rc = crypto_hmac_sha256v(key, sizeof(key), parts, 3, h);
	explicit_bzero(key, sizeof(key));
	if (rc == MG_OK)
		crypto_hex(out, h, sizeof(h));
	return rc;
}

int
ui_sso_csrf_ok(const struct ui *u, const char *token)
{
	char want[SESSION_HEXLEN + 1];
	long day = u->now / 86400;

	if (token == NULL || u->sess.actor == NULL)
		return 0;
	if (sso_csrf(u->req->worker->cfg, u->sess.actor, day, want) == MG_OK &&
	    crypto_str_equal(want, token))
		return 1;
	return sso_csrf(u->req->worker->cfg, u->sess.actor, day - 1, want) == MG_OK &&
	    crypto_str_equal(want, token);
}

int
ui_sso(struct ui *u)
{
	struct request *req = u->req;
	const struct cfg *c = req->worker->cfg;
	const char *user, *groups;

	if (c->console_trust_user == NULL)
		return -1;
	user = http_param(req, c->console_trust_user);
	if (user == NULL || *user == '\0')
		return -1;	/* no SSO on this path: the key sign-in stays */
	groups = http_param(req, c->console_trust_groups);
	u->sess.actor = arena_printf(req->arena, "sso:%s", user);
	if (u->sess.actor == NULL)
		return 0;
	if (groups == NULL || !in_groups(groups, c->console_admin_group)) {
		if (store_audit_add(req->worker->store, u->sess.actor, "console_sso", NULL, "denied",
		    arena_printf(req->arena, "not in group %s", c->console_admin_group)) != MG_OK)
			log_warn("console: a refused SSO sign-in could not be audited");
		u->sess.actor = NULL;
		ui_begin(u, "Not allowed", NULL);
		ui_notice(u, "error", arena_printf(req->arena, "Signed in as %s, but not a member "
		    "of %s, the group that may manage maskgate.", user, c->console_admin_group));
		ui_end(u, 403);
		return 0;
	}
	u->sso = 1;
	u->sess.expires_at = u->now + c->console_session;
	if (sso_csrf(c, u->sess.actor, u->now / 86400, u->sess.csrf) != MG_OK) {
		ui_begin(u, "Error", NULL);
		ui_notice(u, "error", "Out of memory.");
		ui_end(u, 500);
		return 0;
	}
	return 1;
}
