/*
 * store_map_batch.c - a request's masking asks the store once: the numbers
 * of every value it found (by lookup hash) and the recall candidates it
 * must confirm (by tag), in one read transaction of a few IN/OR
 * statements (STORE_MAP_BATCH values each) instead of one statement per
 * value. The new values are then minted in one write transaction
 * (store_map_settle in store_map.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store_int.h"
#include "store_map.h"

/* values per statement: 2 parameters each, well under every engine's limit */
#define STORE_MAP_BATCH 16

/*
 * "SELECT ... WHERE (tenant = ?1 AND type = ?2 AND value_hash = ?3) OR ...":
 * every term names all three columns of the unique index, so each is one
 * index probe (the tenant outside the ORs would make it a scan of the
 * tenant's rows per statement).
 */
static const char *
lookup_sql(void)
{
	static char sql[4096];
	size_t n, k;

	if (sql[0] != '\0')
		return sql;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT type, value_hash, num, last_seen "
	    "FROM mask_map WHERE ");
	for (k = 0; k < STORE_MAP_BATCH; k++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
		    "%s(tenant = ?1 AND type = ?%zu AND value_hash = ?%zu)", k > 0 ? " OR " : "",
		    2 + 2 * k, 3 + 2 * k);
	return sql;
}

static const char *
recall_sql(void)
{
	static char sql[1024];
	size_t n, k;

	if (sql[0] != '\0')
		return sql;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT recall_tag, type, num, value_sealed, "
	    "last_seen FROM mask_map WHERE tenant = ?1 AND recall_tag IN (");
	for (k = 0; k < STORE_MAP_BATCH; k++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%zu", k > 0 ? ", " : "", 2 + k);
	snprintf(sql + n, sizeof(sql) - n, ") ORDER BY first_seen, type, num");
	return sql;
}

/* Numbers of items[from..to) (num 0 only) from one statement. */
static enum mg_err
lookup_chunk(struct store *s, struct db_stmt *st, const char *tenant, struct store_map_item *items,
    size_t from, size_t to, time_t now, unsigned char *stale)
{
	enum db_step step;
	size_t i, k;

	db_reset(st);
	db_bind_text(st, 1, tenant);
	for (k = 0; k < STORE_MAP_BATCH; k++) {
		/* unused slots repeat the last value: same rows, no harm */
		const struct store_map_item *it = &items[from + k < to ? from + k : to - 1];
		db_bind_text(st, (int)(2 + 2 * k), it->type);
		db_bind_blob(st, (int)(3 + 2 * k), it->hash, CRYPTO_HASH_LEN);
	}
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		const char *type = db_column_text(st, 0);
		const void *hash = db_column_blob(st, 1);
		int64_t last = db_column_int64(st, 3);
		if (type == NULL || hash == NULL || db_column_bytes(st, 1) != CRYPTO_HASH_LEN)
			continue;
		for (i = from; i < to; i++) {
			struct store_map_item *it = &items[i];
			if (it->num != 0 || memcmp(it->hash, hash, CRYPTO_HASH_LEN) != 0 ||
			    strcmp(it->type, type) != 0)
				continue;
			if (!store_map_live(s, last, now))
				continue;	/* expired: minted anew */
			it->num = (unsigned long)db_column_int64(st, 2);
			if (stale != NULL && (int64_t)now - last >= STORE_MAP_TOUCH_INTERVAL)
				stale[i] = 1;
		}
	}
	return step == DB_DONE ? MG_OK : store_map_step_err(s, step, "mapping lookup");
}

static enum mg_err
recall_chunk(struct store *s, struct db_stmt *st, const char *tenant,
    struct store_map_recall_item *items, size_t from, size_t to, time_t now, struct arena *a)
{
	enum db_step step;
	size_t i, k;

	db_reset(st);
	db_bind_text(st, 1, tenant);
	for (k = 0; k < STORE_MAP_BATCH; k++)
		db_bind_int64(st, (int)(2 + k), (int64_t)items[from + k < to ? from + k : to - 1].tag);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		uint64_t tag = (uint64_t)db_column_int64(st, 0);
		const char *type = db_column_text(st, 1);
		unsigned long num = (unsigned long)db_column_int64(st, 2);
		struct buf val;
		int opened = 0;
		if (type == NULL || !store_map_live(s, db_column_int64(st, 4), now))
			continue;
		for (i = from; i < to; i++) {
			struct store_map_recall_item *it = &items[i];
			if (it->num != 0 || it->tag != tag || strlen(type) >= sizeof(it->type))
				continue;
			if (!opened) {
				buf_init(&val, a);
				if (store_map_open(s, tenant, type, num, db_column_blob(st, 3),
				    db_column_bytes(st, 3), &val) != MG_OK) {
					/* it may be this very value: refuse, never forward it */
					log_error("store: mapping %s #%lu of tenant %s fails "
					    "authentication", type, num, tenant);
					return MG_ESTORE;
				}
				opened = 1;
			}
			/* rows come earliest first: the first that matches wins */
			if (val.len == it->len && (it->len == 0 ||
			    crypto_equal(val.data, it->value, it->len))) {
				snprintf(it->type, sizeof(it->type), "%s", type);
				it->num = num;
			}
		}
	}
	return step == DB_DONE ? MG_OK : store_map_step_err(s, step, "recall lookup");
}

/* The filter's catch-up (see struct store_map_sync), in the open transaction. */
static enum mg_err
sync_filter(struct store *s, const char *tenant, struct store_map_sync *sync)
{
	struct db_stmt *st;
	enum db_step step;
	long long after;

	sync->gen = 0;
	sync->seq = 0;
	st = db_prepare(s->db, "SELECT gen, seq FROM mask_recall WHERE tenant = ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, tenant);
	step = db_step(st);
	if (step == DB_ROW) {
		sync->gen = db_column_int64(st, 0);
		sync->seq = db_column_int64(st, 1);
	}
	db_done(st);
	if (step != DB_ROW && step != DB_DONE)
		return store_map_step_err(s, step, "recall version");
	after = sync->gen == sync->gen_known ? sync->seq_known : -1;
	if (sync->gen == 0 || after >= sync->seq)
		return MG_OK;
	st = db_prepare(s->db, "SELECT recall_tag FROM mask_map WHERE tenant = ?1 AND seq > ?2 "
	    "AND seq <= ?3 AND recall_tag IS NOT NULL");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, after);
	db_bind_int64(st, 3, sync->seq);
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		sync->fn(sync->arg, (uint64_t)db_column_int64(st, 0));
	db_done(st);
	return step == DB_DONE ? MG_OK : store_map_step_err(s, step, "recall load");
}

enum mg_err
store_map_lookup_batch(struct store *s, const char *tenant, struct store_map_item *items,
    size_t n, struct store_map_recall_item *ritems, size_t rn, time_t now, unsigned char *stale,
    struct store_map_sync *sync)
{
	struct db_stmt *st = NULL;
	struct arena a;
	enum db_step step;
	enum mg_err rc = MG_OK;
	size_t i;

	if (!s->have_keys)
		return MG_ESTORE;
	for (i = 0; i < rn; i++)
		ritems[i].num = 0;
	if (n == 0 && rn == 0 && sync == NULL)
		return MG_OK;
	step = db_begin_read(s->db);
	if (step != DB_DONE)
		return store_map_step_err(s, step, "mapping lookup");
	arena_init(&a);
	if (sync != NULL)
		rc = sync_filter(s, tenant, sync);
	if (n > 0 && rc == MG_OK) {
		st = db_prepare(s->db, lookup_sql());
		for (i = 0; st != NULL && rc == MG_OK && i < n; i += STORE_MAP_BATCH)
			rc = lookup_chunk(s, st, tenant, items, i,
			    i + STORE_MAP_BATCH < n ? i + STORE_MAP_BATCH : n, now, stale);
		if (st == NULL)
			rc = MG_ESTORE;
		db_done(st);
	}
	if (rn > 0 && rc == MG_OK) {
		st = db_prepare(s->db, recall_sql());
		for (i = 0; st != NULL && rc == MG_OK && i < rn; i += STORE_MAP_BATCH) {
			rc = recall_chunk(s, st, tenant, ritems, i,
			    i + STORE_MAP_BATCH < rn ? i + STORE_MAP_BATCH : rn, now, &a);
			arena_reset(&a);
		}
		if (st == NULL)
			rc = MG_ESTORE;
		db_done(st);
	}
	if (db_in_transaction(s->db))
		db_commit(s->db);
	arena_free(&a);
	return rc;
}
