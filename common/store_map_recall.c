/*
 * store_map_recall.c - mapping SQL for placeholder tags and recall (the
 * per-tenant filter of known values; schema in sql/006_recall.sql).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "store_map.h"

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

enum mg_err
store_map_recall_load(struct store *s, const char *tenant, long long after, long long *gen,
    long long *seq, void (*fn)(void *arg, uint64_t tag), void *arg)
{
	struct db_stmt *st = NULL;
	enum mg_err rc = MG_OK;
	enum db_step step;

	*gen = 0;
	*seq = 0;
	step = db_begin_read(s->db);
	if (step != DB_DONE)
		return store_map_step_err(s, step, "recall load");
	st = db_prepare(s->db, "SELECT gen, seq FROM mask_recall WHERE tenant = ?1");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	db_bind_text(st, 1, tenant);
	step = db_step(st);
	if (step == DB_ROW) {
		*gen = db_column_int64(st, 0);
		*seq = db_column_int64(st, 1);
	} else if (step != DB_DONE) {
		rc = store_map_step_err(s, step, "recall version");
		goto out;
	}
	db_done(st);
	st = NULL;
	if (fn == NULL || *gen == 0 || (after >= 0 && after >= *seq))
		goto out;
	st = db_prepare(s->db, "SELECT recall_tag FROM mask_map WHERE tenant = ?1 AND seq > ?2 "
	    "AND seq <= ?3 AND recall_tag IS NOT NULL");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, after);
	db_bind_int64(st, 3, *seq);
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		fn(arg, (uint64_t)db_column_int64(st, 0));
	if (step != DB_DONE)
		rc = store_map_step_err(s, step, "recall load");
out:
	db_done(st);
	if (db_in_transaction(s->db))
		db_commit(s->db);
	return rc;
}

/* Opens the sealed value of row (tenant, type, num) into out. */
enum mg_err
store_map_open(struct store *s, const char *tenant, const char *type, unsigned long num,
    const void *sealed, size_t sealedlen, struct buf *out)
{
	char ad[512];
	size_t adlen = store_map_aad(ad, sizeof(ad), tenant, type, num);

	if (adlen == 0)
		return MG_EINVAL;
	return crypto_open(s->aead_key, ad, adlen, sealed, sealedlen, out);
}

enum mg_err
store_map_recall_find(struct store *s, const char *tenant, struct store_map_recall_item *items,
    size_t n, time_t now)
{
	struct db_stmt *st;
	struct arena a;
	struct buf val;
	enum mg_err rc = MG_OK;
	size_t i;
	enum db_step step;

	if (!s->have_keys)
		return MG_ESTORE;
	st = db_prepare(s->db, "SELECT type, num, value_sealed, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND recall_tag = ?2 ORDER BY first_seen, type, num");
	if (st == NULL)
		return MG_ESTORE;
	step = n > 1 ? db_begin_read(s->db) : DB_DONE;
	if (step != DB_DONE) {
		db_done(st);
		return store_map_step_err(s, step, "recall lookup");
	}
	arena_init(&a);
	for (i = 0; i < n && rc == MG_OK; i++) {
		struct store_map_recall_item *it = &items[i];
		it->num = 0;
		db_reset(st);
		db_bind_text(st, 1, tenant);
		db_bind_int64(st, 2, (int64_t)it->tag);
		for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
			const char *type = (const char *)db_column_text(st, 0);
			unsigned long num = (unsigned long)db_column_int64(st, 1);
			if (type == NULL || strlen(type) >= sizeof(it->type) ||
			    !store_map_live(s, db_column_int64(st, 3), now))
				continue;
			buf_init(&val, &a);
			if (store_map_open(s, tenant, type, num, db_column_blob(st, 2),
			    (size_t)db_column_bytes(st, 2), &val) != MG_OK) {
				/* it may be this very value: refuse, never forward it */
				log_error("store: mapping %s #%lu of tenant %s fails authentication",
				    type, num, tenant);
				rc = MG_ESTORE;
				break;
			}
			if (val.len == it->len && (it->len == 0 ||
			    crypto_equal(val.data, it->value, it->len))) {
				snprintf(it->type, sizeof(it->type), "%s", type);
				it->num = num;
				break;
			}
		}
		arena_reset(&a);
		if (step != DB_ROW && step != DB_DONE)
			rc = store_map_step_err(s, step, "recall lookup");
	}
	db_done(st);
	if (db_in_transaction(s->db))
		db_commit(s->db);
	arena_free(&a);
	return rc;
}
