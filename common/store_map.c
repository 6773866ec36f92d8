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

/* hands out the tenant's next recall seq (and creates its row, gen random) */
#define RECALL_NEXT_SEQ "INSERT INTO mask_recall(tenant, gen, seq) " \
	"VALUES(?1, (random() | 1), 1) ON CONFLICT(tenant) DO UPDATE SET seq = seq + 1 RETURNING seq"

static enum mg_err
recall_next_seq(struct store *s, sqlite3_stmt *st, const char *tenant, sqlite3_int64 *seq)
{
	int step;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		log_error("store: recall sequence failed: %s", sqlite3_errmsg(s->db));
		return store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
	}
	*seq = sqlite3_column_int64(st, 0);
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	return MG_OK;
}

enum mg_err
store_map_assign(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    time_t now)
{
	sqlite3_stmt *sel = NULL, *del = NULL, *ctr = NULL, *ins = NULL, *rseq = NULL;
	unsigned char rkey[CRYPTO_SIPHASH_KEY_LEN];
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
	if (store_map_recall_key(s, tenant, rkey) != MG_OK)
		return MG_ENOMEM;
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
	    "first_seen, last_seen, recall_tag, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)");
	rseq = store_prepare(s, RECALL_NEXT_SEQ);
	if (sel == NULL || del == NULL || ctr == NULL || ins == NULL || rseq == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct store_map_item *it = &items[i];
		sqlite3_int64 seq = 0;
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
		rc = recall_next_seq(s, rseq, tenant, &seq);
		if (rc != MG_OK)
			goto out;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 7,
		    (sqlite3_int64)crypto_siphash(rkey, it->value, it->len));
		sqlite3_bind_int64(ins, 8, seq);
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
	sqlite3_finalize(rseq);
	explicit_bzero(rkey, sizeof(rkey));
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
	/* workers drop their filters (stale tags cost only a lookup) */
	if (rc == MG_OK && *deleted > 0)
		rc = store_rc(sqlite3_exec(s->db, "UPDATE mask_recall SET gen = (random() | 1)",
		    NULL, NULL, NULL));
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

/* ---- placeholder tags and recall ------------------------------------- */

enum mg_err
store_map_tag(const struct store *s, const char *tenant, const char *type, unsigned long num,
    unsigned char out[CRYPTO_HASH_LEN])
{
	static const char label[] = "maskgate placeholder tag v1";	/* with its NUL */
	char n[24];
	struct crypto_part parts[4] = {
		{ label, sizeof(label) },
		{ tenant, strlen(tenant) + 1 }, { type, strlen(type) + 1 }, { n, 0 },
	};

	parts[3].len = (size_t)snprintf(n, sizeof(n), "%lu", num);
	return crypto_hmac_sha256v(s->hmac_key, sizeof(s->hmac_key), parts, 4, out);
}

enum mg_err
store_map_recall_key(const struct store *s, const char *tenant,
    unsigned char key[CRYPTO_SIPHASH_KEY_LEN])
{
	static const char label[] = "maskgate recall key v1";	/* with its NUL */
	unsigned char h[CRYPTO_HASH_LEN];
	struct crypto_part parts[2] = {
		{ label, sizeof(label) }, { tenant, strlen(tenant) },
	};
	enum mg_err rc = crypto_hmac_sha256v(s->hmac_key, sizeof(s->hmac_key), parts, 2, h);

	memcpy(key, h, CRYPTO_SIPHASH_KEY_LEN);
	explicit_bzero(h, sizeof(h));
	return rc;
}

static enum mg_err
step_err(struct store *s, int step, const char *what)
{
	log_error("store: %s failed: %s", what, sqlite3_errmsg(s->db));
	return store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
}

enum mg_err
store_map_recall_load(struct store *s, const char *tenant, long long after, long long *gen,
    long long *seq, void (*fn)(void *arg, uint64_t tag), void *arg)
{
	sqlite3_stmt *st = NULL;
	enum mg_err rc = MG_OK;
	int step;

	*gen = 0;
	*seq = 0;
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return step_err(s, sqlite3_errcode(s->db), "recall load");
	st = store_prepare(s, "SELECT gen, seq FROM mask_recall WHERE tenant = ?1");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*gen = sqlite3_column_int64(st, 0);
		*seq = sqlite3_column_int64(st, 1);
	} else if (step != SQLITE_DONE) {
		rc = step_err(s, step, "recall version");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (fn == NULL || *gen == 0 || (after >= 0 && after >= *seq))
		goto out;
	st = store_prepare(s, "SELECT recall_tag FROM mask_map WHERE tenant = ?1 AND seq > ?2 "
	    "AND seq <= ?3 AND recall_tag IS NOT NULL");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, *seq);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st))
		fn(arg, (uint64_t)sqlite3_column_int64(st, 0));
	if (step != SQLITE_DONE)
		rc = step_err(s, step, "recall load");
out:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* Opens the sealed value of row (tenant, type, num) into out. */
static enum mg_err
open_row(struct store *s, const char *tenant, const char *type, unsigned long num,
    const void *sealed, size_t sealedlen, struct buf *out)
{
	char ad[512];
	size_t adlen = aad(ad, sizeof(ad), tenant, type, num);

	if (adlen == 0)
		return MG_EINVAL;
	return crypto_open(s->aead_key, ad, adlen, sealed, sealedlen, out);
}

enum mg_err
store_map_recall_find(struct store *s, const char *tenant, struct store_map_recall_item *items,
    size_t n, time_t now)
{
	sqlite3_stmt *st;
	struct arena a;
	struct buf val;
	enum mg_err rc = MG_OK;
	size_t i;
	int step;

	if (!s->have_keys)
		return MG_ESTORE;
	st = store_prepare(s, "SELECT type, num, value_sealed, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND recall_tag = ?2 ORDER BY first_seen, type, num");
	if (st == NULL)
		return MG_ESTORE;
	if (n > 1 && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return step_err(s, sqlite3_errcode(s->db), "recall lookup");
	}
	arena_init(&a);
	for (i = 0; i < n && rc == MG_OK; i++) {
		struct store_map_recall_item *it = &items[i];
		it->num = 0;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)it->tag);
		for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
			const char *type = (const char *)sqlite3_column_text(st, 0);
			unsigned long num = (unsigned long)sqlite3_column_int64(st, 1);
			if (type == NULL || strlen(type) >= sizeof(it->type) ||
			    !live(s, sqlite3_column_int64(st, 3), now))
				continue;
			buf_init(&val, &a);
			if (open_row(s, tenant, type, num, sqlite3_column_blob(st, 2),
			    (size_t)sqlite3_column_bytes(st, 2), &val) != MG_OK) {
				log_error("store: mapping %s #%lu of tenant %s fails authentication",
				    type, num, tenant);
				continue;
			}
			if (val.len == it->len && (it->len == 0 ||
			    crypto_equal(val.data, it->value, it->len))) {
				snprintf(it->type, sizeof(it->type), "%s", type);
				it->num = num;
				break;
			}
		}
		arena_reset(&a);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			rc = step_err(s, step, "recall lookup");
	}
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	arena_free(&a);
	return rc;
}

/* A row waiting for its recall tag. */
struct unseq {
	char *tenant;
	char *type;
	unsigned long num;
	uint64_t tag;
	int has_tag;
};

enum mg_err
store_map_backfill(struct store *s)
{
	sqlite3_stmt *sel = NULL, *upd = NULL, *rseq = NULL;
	struct unseq *rows = NULL;
	size_t n = 0, cap = 0, i;
	struct arena a;
	enum mg_err rc;
	int step;

	if (!s->have_keys)
		return MG_OK;
	sel = store_prepare(s, "SELECT 1 FROM mask_map WHERE seq IS NULL LIMIT 1");
	if (sel == NULL)
		return MG_ESTORE;
	step = sqlite3_step(sel);
	sqlite3_finalize(sel);
	if (step == SQLITE_DONE)
		return MG_OK;
	arena_init(&a);
	rc = store_begin(s);
	if (rc != MG_OK)
		goto out;
	sel = store_prepare(s, "SELECT tenant, type, num, value_sealed FROM mask_map "
	    "WHERE seq IS NULL");
	upd = store_prepare(s, "UPDATE mask_map SET recall_tag = ?1, seq = ?2 "
	    "WHERE tenant = ?3 AND type = ?4 AND num = ?5");
	rseq = store_prepare(s, RECALL_NEXT_SEQ);
	if (sel == NULL || upd == NULL || rseq == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	/* read everything first: the updates change what the select walks */
	for (step = sqlite3_step(sel); step == SQLITE_ROW; step = sqlite3_step(sel)) {
		struct unseq *u;
		unsigned char key[CRYPTO_SIPHASH_KEY_LEN];
		struct buf val;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct unseq *g = arena_alloc(&a, ncap * sizeof(*g));
			if (g == NULL) {
				rc = MG_ENOMEM;
				goto out;
			}
			if (n > 0)
				memcpy(g, rows, n * sizeof(*g));
			rows = g;
			cap = ncap;
		}
		u = &rows[n++];
		u->tenant = arena_strdup(&a, (const char *)sqlite3_column_text(sel, 0));
		u->type = arena_strdup(&a, (const char *)sqlite3_column_text(sel, 1));
		u->num = (unsigned long)sqlite3_column_int64(sel, 2);
		u->has_tag = 0;
		if (u->tenant == NULL || u->type == NULL) {
			rc = MG_ENOMEM;
			goto out;
		}
		buf_init(&val, &a);
		if (open_row(s, u->tenant, u->type, u->num, sqlite3_column_blob(sel, 3),
		    (size_t)sqlite3_column_bytes(sel, 3), &val) != MG_OK) {
			log_error("store: mapping %s #%lu of tenant %s fails authentication",
			    u->type, u->num, u->tenant);
			continue;	/* gets a seq but no tag: never recalled */
		}
		if (store_map_recall_key(s, u->tenant, key) != MG_OK) {
			rc = MG_ENOMEM;
			goto out;
		}
		u->tag = crypto_siphash(key, val.data != NULL ? val.data : "", val.len);
		u->has_tag = 1;
		explicit_bzero(key, sizeof(key));
		if (val.data != NULL)
			explicit_bzero(val.data, val.len);
	}
	if (step != SQLITE_DONE) {
		rc = step_err(s, step, "recall backfill");
		goto out;
	}
	for (i = 0; i < n; i++) {
		sqlite3_int64 seq = 0;
		rc = recall_next_seq(s, rseq, rows[i].tenant, &seq);
		if (rc != MG_OK)
			goto out;
		sqlite3_reset(upd);
		if (rows[i].has_tag)
			sqlite3_bind_int64(upd, 1, (sqlite3_int64)rows[i].tag);
		else
			sqlite3_bind_null(upd, 1);
		sqlite3_bind_int64(upd, 2, seq);
		sqlite3_bind_text(upd, 3, rows[i].tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(upd, 4, rows[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 5, (sqlite3_int64)rows[i].num);
		step = sqlite3_step(upd);
		if (step != SQLITE_DONE) {
			rc = step_err(s, step, "recall backfill");
			goto out;
		}
	}
	rc = store_commit(s);
	if (rc == MG_OK)
		log_info("store: %zu mappings prepared for recall", n);
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_finalize(rseq);
	if (rc != MG_OK)
		store_rollback(s);
	arena_free(&a);
	return rc;
}
