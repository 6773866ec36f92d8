/*
 * session.h - sign-in to the admin console: the master key or an admin
 * virtual key is exchanged for a short-lived session cookie, stored only
 * as a hash, revocable, re-checked against its credential on every use;
 * CSRF tokens bound to the session; failed sign-ins throttled per address.
 */
#ifndef MG_SESSION_H
#define MG_SESSION_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

struct store;

#define SESSION_COOKIE "mg_console"
/* Hex length of a cookie value and of a CSRF token. */
#define SESSION_HEXLEN (2 * 32)
/* Failed sign-ins allowed per address and window before refusing. */
#define SESSION_LOGIN_MAX 10
#define SESSION_LOGIN_WINDOW 600

/* A signed-in admin. */
struct session {
	const char *actor;	/* "master:<hash12>" or "key:<hash12> alias:<a>" */
	long expires_at;
	char csrf[SESSION_HEXLEN + 1];
};

/*
 * Signs in with key from client address addr. MG_OK: cookie holds the new
 * cookie value (send it once, never log it) and *out the session.
 * MG_ENOTFOUND: not a valid admin credential (*why says why).
 * MG_ETOOBIG: too many failed sign-ins from addr; try again later.
 * Every attempt is audited. Other errors: the store failed.
 */
enum mg_err session_login(const struct cfg *c, struct store *s, struct arena *a,
    const char *addr, const char *key, long now, char cookie[SESSION_HEXLEN + 1],
    struct session *out, const char **why);

/*
 * The session of cookie when it is live and its credential still valid
 * and admin; MG_ENOTFOUND otherwise.
 */
enum mg_err session_check(const struct cfg *c, struct store *s, struct arena *a,
    const char *cookie, long now, struct session *out);

/* Ends the session of cookie (audited as actor). */
enum mg_err session_logout(struct store *s, const char *cookie, const char *actor);

/* 1 when token is the CSRF token of cookie's session (constant time). */
int session_csrf_ok(const char *cookie, const char *token);

/* The value of cookie name in a Cookie header, copied into a; NULL when absent. */
const char *session_cookie_value(struct arena *a, const char *header, const char *name);

#endif
