/*
 * store_map.c - mapping SQL (schema in sql/002_mask.sql).
 *
 * Values never reach the database in clear: value_hash is HMAC-SHA256 with
 * the lookup key over tenant, type and value (NUL separated), value_sealed
 * is AES-256-GCM with the value key and aad = tenant, type and number, so a
 * sealed value cannot be moved to another row, type or tenant unnoticed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "store_map.h"

enum mg_err
store_map_hash(const struct store *s, const char *tenant, const char *type, const char *value,
    size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	/* NUL separators keep ("ab","c") and ("a","bc") apart */
	struct crypto_part parts[3] = {
		{ tenant, strlen(tenant) + 1 }, { type, strlen(type) + 1 }, { value, len },
	};

	return crypto_hmac_sha256v(s->hmac_key, sizeof(s->hmac_key), parts, 3, out);
}

/* aad binding a sealed value to its row: "tenant\0type\0num" */
static size_t
aad(char *out, size_t outlen, const char *tenant, const char *type, unsigned long num)
{
	int n = snprintf(out, outlen, "%s%c%s%c%lu", tenant, 0, type, 0, num);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

static int
live(const struct store *s, sqlite3_int64 last_seen, time_t now)
{
	return s->map_ttl <= 0 || (sqlite3_int64)now - last_seen < s->map_ttl;
}

enum mg_err
store_map_lookup(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    time_t now)
{
	sqlite3_stmt *sel = NULL, *touch = NULL;
	unsigned char *stale = NULL;
	size_t i, nstale = 0;
	enum mg_err rc = MG_OK;

	if (!s->have_keys)
		return MG_ESTORE;
	sel = store_prepare(s, "SELECT num, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND value_hash = ?3");
	if (sel == NULL)
		return MG_ESTORE;
	/* one read transaction: one shared lock for the batch, not one per value */
	if (n > 1 && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return store_rc(sqlite3_errcode(s->db)) == MG_OK ? MG_ESTORE : store_rc(sqlite3_errcode(s->db));
	}
	for (i = 0; i < n && rc == MG_OK; i++) {
		int step;
		if (items[i].num != 0)
			continue;
		sqlite3_reset(sel);
		sqlite3_bind_text(sel, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(sel, 2, items[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_blob(sel, 3, items[i].hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
		step = sqlite3_step(sel);
		if (step == SQLITE_ROW) {
			sqlite3_int64 last = sqlite3_column_int64(sel, 1);
			if (!live(s, last, now))
				continue;	/* expired: store_map_assign mints anew */
			items[i].num = (unsigned long)sqlite3_column_int64(sel, 0);
			if ((sqlite3_int64)now - last >= STORE_MAP_TOUCH_INTERVAL) {
				if (stale == NULL)
					stale = calloc(n, 1);
				if (stale != NULL) {
					stale[i] = 1;
					nstale++;
				}
			}
		} else if (step != SQLITE_DONE) {
			log_error("store: mapping lookup failed: %s", sqlite3_errmsg(s->db));
			rc = store_rc(step);
			if (rc == MG_OK)
				rc = MG_ESTORE;
		}
	}
	sqlite3_finalize(sel);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != MG_OK || nstale == 0)
		goto out;
	/* refreshing last_seen is bookkeeping: a failure here is not fatal */
	if (store_begin(s) != MG_OK)
		goto out;
	touch = store_prepare(s, "UPDATE mask_map SET last_seen = ?1 "
	    "WHERE tenant = ?2 AND type = ?3 AND num = ?4 AND last_seen < ?1");
	for (i = 0; touch != NULL && i < n; i++) {
		if (!stale[i])
			continue;
		sqlite3_reset(touch);
		sqlite3_bind_int64(touch, 1, (sqlite3_int64)now);
		sqlite3_bind_text(touch, 2, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(touch, 3, items[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(touch, 4, (sqlite3_int64)items[i].num);
		if (sqlite3_step(touch) != SQLITE_DONE)
			break;
	}
	if (touch != NULL && i == n)
		store_commit(s);
	else
		store_rollback(s);
	sqlite3_finalize(touch);
out:
	free(stale);
	return rc;
}

/* Next number for (tenant, type), advancing the counter. */
static enum mg_err
next_number(struct store *s, sqlite3_stmt *st, const char *tenant, const char *type,
    unsigned long *num)
{
	int step;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		log_error("store: counter update failed: %s", sqlite3_errmsg(s->db));
		return store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
	}
	*num = (unsigned long)sqlite3_column_int64(st, 0);
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	return MG_OK;
}

enum mg_err
store_map_assign(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    time_t now)
{
	sqlite3_stmt *sel = NULL, *del = NULL, *ctr = NULL, *ins = NULL;
	struct arena a;
	struct buf sealed;
	unsigned char *fresh;
	enum mg_err rc;
	size_t i;
	long minted = 0;

	if (!s->have_keys)
		return MG_ESTORE;
	for (i = 0; i < n; i++)
		if (items[i].num == 0)
			break;
	if (i == n)
		return MG_OK;
	fresh = calloc(n, 1);
	if (fresh == NULL)
		return MG_ENOMEM;
	for (i = 0; i < n; i++)
		fresh[i] = items[i].num == 0;
	arena_init(&a);
	rc = store_begin(s);
	if (rc != MG_OK) {
		arena_free(&a);
		free(fresh);
		return rc;
	}
	sel = store_prepare(s, "SELECT num, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND value_hash = ?3");
	del = store_prepare(s, "DELETE FROM mask_map WHERE tenant = ?1 AND type = ?2 AND num = ?3");
	/* the counter row holds the number to hand out next */
	ctr = store_prepare(s, "INSERT INTO mask_counter(tenant, type, next) VALUES(?1, ?2, 2) "
	    "ON CONFLICT(tenant, type) DO UPDATE SET next = next + 1 RETURNING next - 1");
	ins = store_prepare(s, "INSERT INTO mask_map(tenant, type, num, value_hash, value_sealed, "
	    "first_seen, last_seen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)");
	if (sel == NULL || del == NULL || ctr == NULL || ins == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct store_map_item *it = &items[i];
		char ad[512];
		size_t adlen;
		int step;

		if (it->num != 0)
			continue;
		sqlite3_reset(sel);
		sqlite3_bind_text(sel, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(sel, 2, it->type, -1, SQLITE_STATIC);
		sqlite3_bind_blob(sel, 3, it->hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
		step = sqlite3_step(sel);
		if (step == SQLITE_ROW) {
			sqlite3_int64 num = sqlite3_column_int64(sel, 0);
			if (live(s, sqlite3_column_int64(sel, 1), now)) {
				it->num = (unsigned long)num;	/* another worker was first */
				continue;
			}
			/* expired: its number stays retired, the value gets a new one */
			sqlite3_reset(sel);
			sqlite3_reset(del);
			sqlite3_bind_text(del, 1, tenant, -1, SQLITE_STATIC);
			sqlite3_bind_text(del, 2, it->type, -1, SQLITE_STATIC);
			sqlite3_bind_int64(del, 3, num);
			if (sqlite3_step(del) != SQLITE_DONE) {
				rc = MG_ESTORE;
				goto out;
			}
		} else if (step != SQLITE_DONE) {
			rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
			goto out;
		}
		sqlite3_reset(sel);
		/* a request (or tenant) over its budget of new mappings mints none */
		if (s->mint_quota > 0 && s->minted + minted >= s->mint_quota) {
			s->mint_quota_hit = 1;
			rc = MG_ETOOBIG;
			goto out;
		}
		rc = next_number(s, ctr, tenant, it->type, &it->num);
		if (rc != MG_OK)
			goto out;
		adlen = aad(ad, sizeof(ad), tenant, it->type, it->num);
		buf_init(&sealed, &a);
		if (adlen == 0) {
			rc = MG_EINVAL;
			goto out;
		}
		rc = crypto_seal(s->aead_key, ad, adlen, it->value, it->len, &sealed);
		if (rc != MG_OK)
			goto out;
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, it->type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)it->num);
		sqlite3_bind_blob(ins, 4, it->hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 5, sealed.data, (int)sealed.len, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 6, (sqlite3_int64)now);
		step = sqlite3_step(ins);
		if (step != SQLITE_DONE) {
			log_error("store: mapping insert failed: %s", sqlite3_errmsg(s->db));
			rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
			goto out;
		}
		arena_reset(&a);
		minted++;
	}
	rc = store_commit(s);
	if (rc == MG_OK)
		s->minted += minted;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	sqlite3_finalize(ctr);
	sqlite3_finalize(ins);
	if (rc != MG_OK) {
		store_rollback(s);
		/* numbers handed out in a rolled-back transaction are void */
		for (i = 0; i < n && fresh != NULL; i++)
			if (fresh[i])
				items[i].num = 0;
	}
	free(fresh);
	arena_free(&a);
	return rc;
}

void
store_map_set_quota(struct store *s, long quota)
{
	s->mint_quota = quota > 0 ? quota : 0;
	s->minted = 0;
	s->mint_quota_hit = 0;
}

long
store_map_minted(const struct store *s, int *hit)
{
	if (hit != NULL)
		*hit = s->mint_quota_hit;
	return s->minted;
}

enum mg_err
store_map_resolve(struct store *s, const char *tenant, const char *type, unsigned long num,
    time_t now, struct buf *out)
{
	sqlite3_stmt *st;
	enum mg_err rc = MG_ENOTFOUND;
	char ad[512];
	size_t adlen;
	int step;

	if (!s->have_keys)
		return MG_ESTORE;
	st = store_prepare(s, "SELECT value_sealed, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND num = ?3");
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)num);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		sqlite3_int64 last = sqlite3_column_int64(st, 1);
		if (live(s, last, now)) {
			adlen = aad(ad, sizeof(ad), tenant, type, num);
			rc = crypto_open(s->aead_key, ad, adlen, sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0), out);
			if (rc != MG_OK) {
				log_error("store: mapping %s #%lu of tenant %s fails authentication",
				    type, num, tenant);
				rc = MG_ESTORE;
			}
		}
	} else if (step != SQLITE_DONE) {
		log_error("store: mapping resolve failed: %s", sqlite3_errmsg(s->db));
		rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
	}
	sqlite3_finalize(st);
	return rc;
}

enum mg_err
store_map_purge(struct store *s, time_t now, long *deleted)
{
	sqlite3_stmt *st;
	enum mg_err rc;

	*deleted = 0;
	if (s->map_ttl <= 0)
		return MG_OK;
	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	st = store_prepare(s, "DELETE FROM mask_map WHERE last_seen <= ?1");
	if (st == NULL) {
		store_rollback(s);
		return MG_ESTORE;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now - s->map_ttl);
	rc = store_rc(sqlite3_step(st));
	if (rc == MG_OK)
		*deleted = (long)sqlite3_changes(s->db);
	sqlite3_finalize(st);
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

enum mg_err
store_map_stats(struct store *s, time_t now, void (*fn)(void *arg, const struct store_map_stat *st),
    void *arg)
{
	sqlite3_stmt *st;
	int step;

	st = store_prepare(s, "SELECT c.tenant, c.type, c.next, "
	    "(SELECT count(*) FROM mask_map m WHERE m.tenant = c.tenant AND m.type = c.type "
	    "  AND (?1 <= 0 OR m.last_seen > ?2 - ?1)), "
	    "(SELECT count(*) FROM mask_map m WHERE m.tenant = c.tenant AND m.type = c.type "
	    "  AND ?1 > 0 AND m.last_seen <= ?2 - ?1) "
	    "FROM mask_counter c ORDER BY c.tenant, c.type");
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->map_ttl);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	for (;;) {
		struct store_map_stat x;
		step = sqlite3_step(st);
		if (step != SQLITE_ROW)
			break;
		x.tenant = (const char *)sqlite3_column_text(st, 0);
		x.type = (const char *)sqlite3_column_text(st, 1);
		x.next = (long)sqlite3_column_int64(st, 2);
		x.live = (long)sqlite3_column_int64(st, 3);
		x.expired = (long)sqlite3_column_int64(st, 4);
		fn(arg, &x);
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : MG_ESTORE;
}
