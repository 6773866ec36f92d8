/*
 * ccauth.c - signed, short-lived, tenant-bound credentials for the Claude
 * Code runs of /v1/claude-code (see ccauth.h for the format and why).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccauth.h"
#include "crypto.h"
#include "store_keys.h"

#define CCAUTH_VERSION "1"
/* Longest tenant we sign; tenants are key aliases, team or user ids. */
#define CCAUTH_MAX_TENANT 256

/*
 * The signing key is derived from the data key rather than being the data
 * key itself, so the MAC never exposes material used for AES-GCM and a
 * future token version can rotate by changing the label.
 */
static int
derive_key(const struct cfg *c, unsigned char key[CRYPTO_HASH_LEN])
{
	if (c == NULL || !c->have_data_key)
		return 0;
	return CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate ccauth v1", key) ==
	    MG_OK;
}

/* Appends the hex MAC of body (the token up to and including its last '_') to out. */
static enum mg_err
append_mac(const unsigned char key[CRYPTO_HASH_LEN], const char *body, size_t len,
    struct buf *out)
{
	unsigned char mac[CRYPTO_HASH_LEN];
	char hex[2 * CRYPTO_HASH_LEN + 1];

	if (crypto_hmac_sha256(key, CRYPTO_HASH_LEN, body, len, mac) != MG_OK)
		return MG_ENOMEM;
	crypto_hex(hex, mac, sizeof(mac));
	return buf_append(out, hex, 2 * CRYPTO_HASH_LEN);
}

static char *
mint(const struct cfg *c, enum principal_kind kind, const char *tenant, const char *key_hash,
    long ttl, struct arena *a)
{
	unsigned char key[CRYPTO_HASH_LEN];
	struct buf b;
	size_t tlen, i;
	char *hex;

	if (tenant == NULL || ttl <= 0 || ttl > CCAUTH_MAX_TTL || !derive_key(c, key))
		return NULL;
	tlen = strlen(tenant);
	if (tlen == 0 || tlen > CCAUTH_MAX_TENANT)
		return NULL;
	if (key_hash != NULL && strlen(key_hash) != 2 * CRYPTO_HASH_LEN)
		return NULL;
	for (i = 0; key_hash != NULL && i < 2 * CRYPTO_HASH_LEN; i++)
		if (!((key_hash[i] >= '0' && key_hash[i] <= '9') ||
		    (key_hash[i] >= 'a' && key_hash[i] <= 'f')))
			return NULL;
	hex = arena_alloc(a, 2 * tlen + 1);
	if (hex == NULL)
		return NULL;
	crypto_hex(hex, (const unsigned char *)tenant, tlen);
	buf_init(&b, a);
	if (buf_printf(&b, "%s%s_%ld_%d_%s_%s_", CCAUTH_PREFIX, CCAUTH_VERSION,
	    (long)time(NULL) + ttl, (int)kind, hex, key_hash != NULL ? key_hash : "0") != MG_OK)
		return NULL;
	if (append_mac(key, b.data, b.len, &b) != MG_OK)
		return NULL;
	return b.data;
}

char *
ccauth_mint(const struct cfg *c, const struct principal *p, long ttl, struct arena *a)
{
	if (p == NULL)
		return NULL;
	/* only a virtual key has a record to reload; others carry the tenant alone */
	return mint(c, p->kind, p->tenant,
	    p->kind == PRINCIPAL_VIRTUAL && p->key != NULL ? p->key_hash : NULL, ttl, a);
}

char *
ccauth_mint_tenant(const struct cfg *c, const char *tenant, long ttl, struct arena *a)
{
	return mint(c, PRINCIPAL_JWT, tenant, NULL, ttl, a);
}

int
ccauth_is_token(const char *token)
{
	return token != NULL && strncmp(token, CCAUTH_PREFIX, strlen(CCAUTH_PREFIX)) == 0;
}

/* The next '_'-separated field of *p, as [start, end); NULL at the end. */
static const char *
field(const char **p, size_t *len)
{
	const char *start = *p, *end;

	if (start == NULL)
		return NULL;
	end = strchr(start, '_');
	*len = end != NULL ? (size_t)(end - start) : strlen(start);
	*p = end != NULL ? end + 1 : NULL;
	return start;
}

static int
all_digits(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 18)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

enum mg_err
ccauth_verify(const struct cfg *c, const char *token, struct arena *a,
    const char **tenant, struct ccauth_claims *claims)
{
	unsigned char key[CRYPTO_HASH_LEN], mac[CRYPTO_HASH_LEN], given[CRYPTO_HASH_LEN];
	const char *p, *ver, *exp, *kind, *thex, *khash, *machex;
	size_t vlen, elen, klen, tlen, hlen, mlen;
	char *name, *hash = NULL, *end;
	long expires, now = (long)time(NULL);

	*tenant = NULL;
	if (!ccauth_is_token(token) || !derive_key(c, key))
		return MG_ENOTFOUND;
	p = token + strlen(CCAUTH_PREFIX);
	ver = field(&p, &vlen);
	exp = field(&p, &elen);
	kind = field(&p, &klen);
	thex = field(&p, &tlen);
	khash = field(&p, &hlen);
	machex = field(&p, &mlen);
	if (machex == NULL || p != NULL)
		return MG_ENOTFOUND;
	/* the MAC first, in constant time, before any field is trusted */
	if (mlen != 2 * CRYPTO_HASH_LEN ||
	    crypto_unhex(given, sizeof(given), arena_strndup(a, machex, mlen)) != MG_OK)
		return MG_ENOTFOUND;
	if (crypto_hmac_sha256(key, sizeof(key), token, (size_t)(machex - token), mac) != MG_OK ||
	    !crypto_equal(mac, given, sizeof(mac)))
		return MG_ENOTFOUND;
	if (vlen != 1 || ver[0] != CCAUTH_VERSION[0] || !all_digits(exp, elen) ||
	    klen != 1 || kind[0] < '0' || kind[0] >= '0' + PRINCIPAL__MAX ||
	    tlen == 0 || tlen % 2 != 0 || tlen > 2 * CCAUTH_MAX_TENANT)
		return MG_ENOTFOUND;
	errno = 0;
	expires = strtol(exp, &end, 10);
	if (errno != 0 || end != exp + elen || expires <= now || expires > now + CCAUTH_MAX_TTL)
		return MG_ENOTFOUND;
	name = arena_alloc(a, tlen / 2 + 1);
	if (name == NULL)
		return MG_ENOMEM;
	if (crypto_unhex((unsigned char *)name, tlen / 2, arena_strndup(a, thex, tlen)) != MG_OK ||
	    memchr(name, '\0', tlen / 2) != NULL)
		return MG_ENOTFOUND;
	if (!(hlen == 1 && khash[0] == '0')) {
		if (hlen != 2 * CRYPTO_HASH_LEN)
			return MG_ENOTFOUND;
		hash = arena_strndup(a, khash, hlen);
		if (hash == NULL)
			return MG_ENOMEM;
	}
	*tenant = name;
	if (claims != NULL) {
		claims->tenant = name;
		claims->key_hash = hash;
		claims->kind = (enum principal_kind)(kind[0] - '0');
		claims->expires = expires;
	}
	return MG_OK;
}

enum mg_err
ccauth_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *token, struct principal *out, const char **why)
{
	struct ccauth_claims cl;
	struct keys_record *k;
	const char *tenant;
	enum mg_err rc;

	rc = ccauth_verify(c, token, a, &tenant, &cl);
	if (rc == MG_ENOTFOUND)
		*why = "invalid or expired claude-code credential";
	if (rc != MG_OK)
		return rc;
	out->kind = cl.kind;
	out->tenant = cl.tenant;
	out->admin = 0;
	if (cl.key_hash == NULL)
		return MG_OK;
	/* reload the caller's key: blocking, expiry, models and limits still apply */
	if (s == NULL)
		return MG_ENOTFOUND;
	k = arena_alloc(a, sizeof(*k));
	if (k == NULL)
		return MG_ENOMEM;
	rc = store_keys_get(s, a, cl.key_hash, (long)time(NULL), k);
	if (rc == MG_ENOTFOUND || (rc == MG_OK && (k->blocked ||
	    (k->expires > 0 && (long)time(NULL) >= k->expires)))) {
		*why = "the key behind this claude-code credential is no longer valid";
		return MG_ENOTFOUND;
	}
	if (rc != MG_OK)
		return rc;
	out->kind = PRINCIPAL_VIRTUAL;
	out->key = k;
	out->key_hash = cl.key_hash;
	out->user_id = k->user_id;
	out->team_id = k->team_id;
	out->key_alias = k->key_alias;
	out->models_json = k->models;
	/* the tenant signed at mint time wins: the mapping scope never moves mid-run */
	out->tenant = cl.tenant;
	return MG_OK;
}
