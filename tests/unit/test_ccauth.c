/*
 * test_ccauth.c - the short-lived claude-code credentials: round trip,
 * tenant binding, expiry, forgery, malformed input, key separation and the
 * keys.c hook (virtual keys reloaded, blocked keys refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccauth.h"
#include "crypto.h"
#include "store.h"
#include "store_keys.h"
#include "th.h"

static struct cfg
test_cfg(unsigned char fill)
{
	struct cfg c;

	memset(&c, 0, sizeof(c));
	memset(c.data_key, fill, sizeof(c.data_key));
	c.have_data_key = 1;
	return c;
}

/* Re-signs a modified token body with the right key, as an insider could not. */
static char *
resign(const struct cfg *c, const char *body, struct arena *a)
{
	static const char label[] = "maskgate ccauth v1";
	unsigned char key[32], mac[32];
	char hex[65];

	MG_ASSERT(crypto_hmac_sha256(c->data_key, 32, label, sizeof(label) - 1, key) == MG_OK);
	MG_ASSERT(crypto_hmac_sha256(key, 32, body, strlen(body), mac) == MG_OK);
	crypto_hex(hex, mac, 32);
	return arena_printf(a, "%s%s", body, hex);
}

int
main(void)
{
	struct arena a;
	struct cfg c = test_cfg(0x42), other = test_cfg(0x43), nokey;
	struct ccauth_claims cl;
	struct principal p;
	const char *tenant, *why = NULL;
	char *tok, *bad, *body;
	size_t n;
	char tpl[] = "/tmp/mg-ccauth-XXXXXX";

	arena_init(&a);
	memset(&nokey, 0, sizeof(nokey));

	tok = ccauth_mint_tenant(&c, "team-alpha", 300, &a);
	TH_OK(tok != NULL && strncmp(tok, "sk-mgcc-", 8) == 0, "mint gives an sk-mgcc- token");
	TH_OK(ccauth_is_token(tok) && !ccauth_is_token("sk-abc") && !ccauth_is_token(NULL),
	    "is_token recognises the prefix only");
	TH_OK(ccauth_verify(&c, tok, &a, &tenant, &cl) == MG_OK, "a fresh token verifies");
	TH_STREQ(tenant, "team-alpha", "verify returns the tenant it was minted for");
	TH_OK(cl.key_hash == NULL && cl.expires > (long)time(NULL) + 290 &&
	    cl.expires <= (long)time(NULL) + 300, "claims: no key, expiry = now + ttl");
	TH_OK(ccauth_verify(&other, tok, &a, &tenant, NULL) == MG_ENOTFOUND && tenant == NULL,
	    "another data key refuses it");
	TH_OK(ccauth_verify(&nokey, tok, &a, &tenant, NULL) == MG_ENOTFOUND,
	    "no data key refuses it");
	TH_OK(ccauth_mint_tenant(&nokey, "t", 60, &a) == NULL, "no data key mints nothing");
	TH_OK(ccauth_mint_tenant(&c, "t", 0, &a) == NULL &&
	    ccauth_mint_tenant(&c, "t", CCAUTH_MAX_TTL + 1, &a) == NULL &&
	    ccauth_mint_tenant(&c, "", 60, &a) == NULL, "bad ttl or empty tenant mint nothing");

	/* flip each character of the MAC and of the body: all refused */
	{
		int refused = 1;
		size_t i;
		for (i = 8; i < strlen(tok); i++) {
			bad = arena_strdup(&a, tok);
			bad[i] = bad[i] == 'a' ? 'b' : 'a';
			if (ccauth_verify(&c, bad, &a, &tenant, NULL) != MG_ENOTFOUND)
				refused = 0;
		}
		TH_OK(refused, "any changed character is refused");
	}
	/* another tenant with the MAC of the first one */
	{
		char *t2 = ccauth_mint_tenant(&c, "team-beta", 300, &a);
		char *mix = arena_strdup(&a, t2);
		memcpy(mix + strlen(mix) - 64, tok + strlen(tok) - 64, 64);
		TH_OK(ccauth_verify(&c, mix, &a, &tenant, NULL) == MG_ENOTFOUND,
		    "a MAC does not move to another tenant");
	}
	/* expired, and too far in the future, even when correctly signed */
	body = arena_printf(&a, "sk-mgcc-1_%ld_2_%s_0_", (long)time(NULL) - 1, "74");
	TH_OK(ccauth_verify(&c, resign(&c, body, &a), &a, &tenant, NULL) == MG_ENOTFOUND,
	    "an expired token is refused");
	body = arena_printf(&a, "sk-mgcc-1_%ld_2_%s_0_", (long)time(NULL) + CCAUTH_MAX_TTL + 100,
	    "74");
	TH_OK(ccauth_verify(&c, resign(&c, body, &a), &a, &tenant, NULL) == MG_ENOTFOUND,
	    "an expiry past the maximum ttl is refused");
	body = arena_printf(&a, "sk-mgcc-1_%ld_2_%s_0_", (long)time(NULL) + 60, "7400");
	TH_OK(ccauth_verify(&c, resign(&c, body, &a), &a, &tenant, NULL) == MG_ENOTFOUND,
	    "a tenant with a NUL byte is refused");
	body = arena_printf(&a, "sk-mgcc-1_%ld_2_%s_0_", (long)time(NULL) + 60, "74");
	TH_OK(ccauth_verify(&c, resign(&c, body, &a), &a, &tenant, NULL) == MG_OK &&
	    strcmp(tenant, "t") == 0, "a correctly signed hand-made token verifies (format check)");
	{
		static const char *const junk[] = { "sk-mgcc-", "sk-mgcc-1", "sk-mgcc-1_2_3_4_5",
		    "sk-mgcc-1_x_2_74_0_00", "sk-mgcc-_____", "sk-mgcc-1_1_1_1_1_1_1" };
		int ok = 1;
		for (n = 0; n < MG_NELEM(junk); n++)
			if (ccauth_verify(&c, junk[n], &a, &tenant, NULL) != MG_ENOTFOUND)
				ok = 0;
		TH_OK(ok, "malformed tokens are refused");
	}
	/* tenants with any bytes survive the round trip */
	tok = ccauth_mint_tenant(&c, "user:alice@example.com_x y", 60, &a);
	TH_OK(ccauth_verify(&c, tok, &a, &tenant, NULL) == MG_OK &&
	    strcmp(tenant, "user:alice@example.com_x y") == 0, "tenant with separators round-trips");

	/* master principal: tenant master, never admin */
	memset(&p, 0, sizeof(p));
	p.kind = PRINCIPAL_MASTER;
	p.tenant = "master";
	p.admin = 1;
	tok = ccauth_mint(&c, &p, 60, &a);
	memset(&p, 0, sizeof(p));
	TH_OK(ccauth_authenticate(&c, NULL, &a, tok, &p, &why) == MG_OK &&
	    strcmp(p.tenant, "master") == 0 && p.admin == 0 && p.kind == PRINCIPAL_MASTER,
	    "hook: master's token gives tenant master without admin rights");
	memset(&p, 0, sizeof(p));
	TH_OK(ccauth_authenticate(&c, NULL, &a, "sk-mgcc-1_1_1_1_1_1", &p, &why) == MG_ENOTFOUND &&
	    why != NULL && strstr(why, "claude-code") != NULL, "hook: a bad token gives a reason");

	/* virtual key: reloaded from the store, refused once blocked */
	if (mkdtemp(tpl) != NULL) {
		struct store *s = NULL;
		struct keys_record k;
		char dbpath[256], err[256];
		enum mg_err rc;

		snprintf(dbpath, sizeof(dbpath), "%s/t.db", tpl);
		c.db_path = dbpath;
		c.busy_timeout_ms = 2000;
		rc = store_open(&c, &s, err, sizeof(err));
		TH_OK(rc == MG_OK, "store opens (%s)", rc == MG_OK ? "ok" : err);
		if (rc == MG_OK) {
			memset(&k, 0, sizeof(k));
			memset(k.hash, 'a', 64);
			k.key_name = "sk-...aaaa";
			k.team_id = "team-v";
			k.models = "[\"claude-sonnet-4-5\"]";
			k.metadata = "{}";
			k.max_budget = -1;
			k.budget_duration = -1;
			k.rpm_limit = k.tpm_limit = k.max_parallel_requests = -1;
			TH_OK(store_keys_insert(s, &k) == MG_OK, "virtual key inserted");
			memset(&p, 0, sizeof(p));
			p.kind = PRINCIPAL_VIRTUAL;
			p.key = &k;
			p.key_hash = k.hash;
			p.tenant = "team-v";
			tok = ccauth_mint(&c, &p, 60, &a);
			memset(&p, 0, sizeof(p));
			TH_OK(ccauth_authenticate(&c, s, &a, tok, &p, &why) == MG_OK &&
			    p.kind == PRINCIPAL_VIRTUAL && p.key != NULL &&
			    strcmp(p.tenant, "team-v") == 0 && p.models_json != NULL &&
			    strstr(p.models_json, "sonnet") != NULL && strcmp(p.key_hash, k.hash) == 0,
			    "hook: a virtual key's token reloads the key and its allow-list");
			k.blocked = 1;
			TH_OK(store_keys_update(s, &k) == MG_OK, "key blocked");
			memset(&p, 0, sizeof(p));
			TH_OK(ccauth_authenticate(&c, s, &a, tok, &p, &why) == MG_ENOTFOUND,
			    "hook: the token dies with its blocked key");
			store_close(s);
		}
		unlink(dbpath);
		{
			char side[300];
			snprintf(side, sizeof(side), "%s-wal", dbpath);
			unlink(side);
			snprintf(side, sizeof(side), "%s-shm", dbpath);
			unlink(side);
		}
		rmdir(tpl);
	}
	arena_free(&a);
	return th_done();
}
