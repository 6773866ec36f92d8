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

size_t
store_map_aad(char *out, size_t outlen, const char *tenant, const char *type, unsigned long num)
{
	int n = snprintf(out, outlen, "%s%c%s%c%lu", tenant, 0, type, 0, num);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

int
store_map_live(const struct store *s, int64_t last_seen, time_t now)
{
	return s->map_ttl <= 0 || (int64_t)now - last_seen < s->map_ttl;
}

enum mg_err
store_map_step_err(struct store *s, enum db_step step, const char *what)
{
	log_error("store: %s failed: %s", what, db_errmsg(s->db));
	return db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
}

enum mg_err
store_map_lookup(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    time_t now)
{
	struct db_stmt *sel = NULL, *touch = NULL;
	unsigned char *stale = NULL;
	size_t i, nstale = 0;
	enum mg_err rc = MG_OK;

	if (!s->have_keys)
		return MG_ESTORE;
	sel = db_prepare(s->db, "SELECT num, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND value_hash = ?3");
	if (sel == NULL)
		return MG_ESTORE;
	/* one read transaction: one shared lock for the batch, not one per value */
	if (n > 1) {
		enum db_step b = db_begin_read(s->db);
		if (b != DB_DONE) {
			db_done(sel);
			return db_rc_want(b, DB_DONE);
		}
	}
	for (i = 0; i < n && rc == MG_OK; i++) {
		enum db_step step;
		if (items[i].num != 0)
			continue;
		db_reset(sel);
		db_bind_text(sel, 1, tenant);
		db_bind_text(sel, 2, items[i].type);
		db_bind_blob(sel, 3, items[i].hash, CRYPTO_HASH_LEN);
		step = db_step(sel);
		if (step == DB_ROW) {
			int64_t last = db_column_int64(sel, 1);
			if (!store_map_live(s, last, now))
				continue;	/* expired: store_map_assign mints anew */
			items[i].num = (unsigned long)db_column_int64(sel, 0);
			if ((int64_t)now - last >= STORE_MAP_TOUCH_INTERVAL) {
				if (stale == NULL)
					stale = calloc(n, 1);
				if (stale != NULL) {
					stale[i] = 1;
					nstale++;
				}
			}
		} else if (step != DB_DONE) {
			log_error("store: mapping lookup failed: %s", db_errmsg(s->db));
			rc = db_rc(step);
			if (rc == MG_OK)
				rc = MG_ESTORE;
		}
	}
	db_done(sel);
	if (db_in_transaction(s->db))
		db_commit(s->db);
	if (rc != MG_OK || nstale == 0)
		goto out;
	/* refreshing last_seen is bookkeeping: a failure here is not fatal */
	if (store_begin(s) != MG_OK)
		goto out;
	touch = db_prepare(s->db, "UPDATE mask_map SET last_seen = ?1 "
	    "WHERE tenant = ?2 AND type = ?3 AND num = ?4 AND last_seen < ?1");
	for (i = 0; touch != NULL && i < n; i++) {
		if (!stale[i])
			continue;
		db_reset(touch);
		db_bind_int64(touch, 1, (int64_t)now);
		db_bind_text(touch, 2, tenant);
		db_bind_text(touch, 3, items[i].type);
		db_bind_int64(touch, 4, (int64_t)items[i].num);
		if (db_step(touch) != DB_DONE)
			break;
	}
	if (touch != NULL && i == n)
		store_commit(s);
	else
		store_rollback(s);
	db_done(touch);
out:
	free(stale);
	return rc;
}

/* Next number for (tenant, type), advancing the counter. */
static enum mg_err
next_number(struct store *s, struct db_stmt *st, const char *tenant, const char *type,
    unsigned long *num)
{
	enum db_step step;

	db_reset(st);
	db_bind_text(st, 1, tenant);
	db_bind_text(st, 2, type);
	step = db_step(st);
	if (step != DB_ROW) {
		log_error("store: counter update failed: %s", db_errmsg(s->db));
		return db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
	}
	*num = (unsigned long)db_column_int64(st, 0);
	while (db_step(st) == DB_ROW)
		;
	return MG_OK;
}

/* hands out the tenant's next recall seq (and creates its row, gen ?2) */
#define RECALL_NEXT_SEQ "INSERT INTO mask_recall(tenant, gen, seq) " \
	"VALUES(?1, ?2, 1) ON CONFLICT(tenant) DO UPDATE SET seq = mask_recall.seq + 1 " \
	"RETURNING seq"

/* A random odd (so never 0) recall generation: made in C, the same on every backend. */
static int64_t
random_gen(void)
{
	uint64_t g = 0;

	if (crypto_random(&g, sizeof(g)) != MG_OK)
		g = (uint64_t)time(NULL) << 20;
	return (int64_t)(g | 1);
}

/* Every tenant gets a new recall generation: workers drop their filters. */
static enum mg_err
new_generation(struct store *s)
{
	struct db_stmt *st = db_prepare(s->db, "UPDATE mask_recall SET gen = ?1");
	enum mg_err rc;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, random_gen());
	rc = db_rc_want(db_step(st), DB_DONE);
	db_done(st);
	return rc;
}

static enum mg_err
recall_next_seq(struct store *s, struct db_stmt *st, const char *tenant, int64_t *seq)
{
	enum db_step step;

	db_reset(st);
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, random_gen());
	step = db_step(st);
	if (step != DB_ROW) {
		log_error("store: recall sequence failed: %s", db_errmsg(s->db));
		return db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
	}
	*seq = db_column_int64(st, 0);
	while (db_step(st) == DB_ROW)
		;
	return MG_OK;
}

/* Refreshes last_seen of the items marked stale, inside the open transaction. */
static void
touch_stale(struct store *s, const char *tenant, const struct store_map_item *items, size_t n,
    const unsigned char *stale, const unsigned char *fresh, time_t now)
{
	struct db_stmt *touch;
	size_t i;

	touch = db_prepare(s->db, "UPDATE mask_map SET last_seen = ?1 "
	    "WHERE tenant = ?2 AND type = ?3 AND num = ?4 AND last_seen < ?1");
	for (i = 0; touch != NULL && i < n; i++) {
		if (!stale[i] || fresh[i] || items[i].num == 0)
			continue;
		db_reset(touch);
		db_bind_int64(touch, 1, (int64_t)now);
		db_bind_text(touch, 2, tenant);
		db_bind_text(touch, 3, items[i].type);
		db_bind_int64(touch, 4, (int64_t)items[i].num);
		if (db_step(touch) != DB_DONE)
			break;	/* bookkeeping: the next lookup tries again */
	}
	db_done(touch);
}

/*
 * The tenant's count of the hour, in the transaction that minted: past
 * the cap, the transaction is refused whole (the caller rolls it back).
 */
static enum mg_err
charge_hour(struct store *s, const char *tenant, long minted)
{
	long total = 0;
	enum mg_err rc;

	if (minted == 0 || s->mint_hour_cap <= 0)
		return MG_OK;
	rc = store_mint_charge(s, tenant, s->mint_hour, minted, &total);
	if (rc != MG_OK || total <= s->mint_hour_cap)
		return rc;
	s->mint_hit = STORE_MINT_HOUR;
	s->mint_hour_used = total - minted;
	s->mint_refused = minted;
	return MG_ETOOBIG;
}

static enum mg_err
settle_once(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    const unsigned char *stale, time_t now)
{
	struct db_stmt *sel = NULL, *del = NULL, *ctr = NULL, *ins = NULL, *rseq = NULL;
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
		if (items[i].num == 0 || (stale != NULL && stale[i]))
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
	sel = db_prepare(s->db, "SELECT num, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND value_hash = ?3");
	del = db_prepare(s->db, "DELETE FROM mask_map WHERE tenant = ?1 AND type = ?2 AND num = ?3");
	/* the counter row holds the number to hand out next */
	ctr = db_prepare(s->db, "INSERT INTO mask_counter(tenant, type, next) VALUES(?1, ?2, 2) "
	    "ON CONFLICT(tenant, type) DO UPDATE SET next = mask_counter.next + 1 RETURNING next - 1");
	ins = db_prepare(s->db, "INSERT INTO mask_map(tenant, type, num, value_hash, value_sealed, "
	    "first_seen, last_seen, recall_tag, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8) "
	    "ON CONFLICT(tenant, type, value_hash) DO NOTHING RETURNING num");
	rseq = db_prepare(s->db, RECALL_NEXT_SEQ);
	if (sel == NULL || del == NULL || ctr == NULL || ins == NULL || rseq == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct store_map_item *it = &items[i];
		int64_t seq = 0;
		char ad[512];
		size_t adlen;
		enum db_step step;

		if (it->num != 0)
			continue;
		db_reset(sel);
		db_bind_text(sel, 1, tenant);
		db_bind_text(sel, 2, it->type);
		db_bind_blob(sel, 3, it->hash, CRYPTO_HASH_LEN);
		step = db_step(sel);
		if (step == DB_ROW) {
			int64_t num = db_column_int64(sel, 0);
			if (store_map_live(s, db_column_int64(sel, 1), now)) {
				it->num = (unsigned long)num;	/* another worker was first */
				continue;
			}
			/* expired: its number stays retired, the value gets a new one */
			db_reset(sel);
			db_reset(del);
			db_bind_text(del, 1, tenant);
			db_bind_text(del, 2, it->type);
			db_bind_int64(del, 3, num);
			if (db_step(del) != DB_DONE) {
				rc = MG_ESTORE;
				goto out;
			}
		} else if (step != DB_DONE) {
			rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
			goto out;
		}
		db_reset(sel);
		/* a request over its budget of new mappings mints none */
		if (s->mint_quota > 0 && s->minted + minted >= s->mint_quota) {
			s->mint_hit = STORE_MINT_QUOTA;
			rc = MG_ETOOBIG;
			goto out;
		}
		/* past the tenant's hour whatever it holds already: stop here */
		if (s->mint_hour_cap > 0 && minted >= s->mint_hour_cap) {
			s->mint_hit = STORE_MINT_HOUR;
			s->mint_hour_used = -1;
			s->mint_refused = minted + 1;
			rc = MG_ETOOBIG;
			goto out;
		}
		rc = next_number(s, ctr, tenant, it->type, &it->num);
		if (rc != MG_OK)
			goto out;
		adlen = store_map_aad(ad, sizeof(ad), tenant, it->type, it->num);
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
		db_reset(ins);
		db_bind_int64(ins, 7,
		    (int64_t)crypto_siphash(rkey, it->value, it->len));
		db_bind_int64(ins, 8, seq);
		db_bind_text(ins, 1, tenant);
		db_bind_text(ins, 2, it->type);
		db_bind_int64(ins, 3, (int64_t)it->num);
		db_bind_blob(ins, 4, it->hash, CRYPTO_HASH_LEN);
		db_bind_blob(ins, 5, sealed.data, sealed.len);
		db_bind_int64(ins, 6, (int64_t)now);
		step = db_step(ins);
		if (step == DB_ROW) {
			step = db_step(ins);
			minted++;
		} else if (step == DB_DONE) {
			/*
			 * Another host minted the value since our look (PostgreSQL,
			 * read committed): take its number; ours stays unused.
			 */
			db_reset(sel);
			db_bind_text(sel, 1, tenant);
			db_bind_text(sel, 2, it->type);
			db_bind_blob(sel, 3, it->hash, CRYPTO_HASH_LEN);
			step = db_step(sel);
			if (step == DB_ROW) {
				it->num = (unsigned long)db_column_int64(sel, 0);
				step = DB_DONE;
			} else if (step == DB_DONE) {
				step = DB_EOTHER;
			}
			db_reset(sel);
		}
		if (step != DB_DONE) {
			log_error("store: mapping insert failed: %s", db_errmsg(s->db));
			rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
			goto out;
		}
		arena_reset(&a);
	}
	if (stale != NULL)
		touch_stale(s, tenant, items, n, stale, fresh, now);
	rc = charge_hour(s, tenant, minted);
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc == MG_OK)
		s->minted += minted;
out:
	db_done(sel);
	db_done(del);
	db_done(ctr);
	db_done(ins);
	db_done(rseq);
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

struct settle_tx {
	const char *tenant;
	struct store_map_item *items;
	size_t n;
	const unsigned char *stale;
	time_t now;
};

static enum mg_err
settle_tx_run(struct store *s, void *arg)
{
	struct settle_tx *t = arg;

	return settle_once(s, t->tenant, t->items, t->n, t->stale, t->now);
}

enum mg_err
store_map_settle(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    const unsigned char *stale, time_t now)
{
	struct settle_tx t = { tenant, items, n, stale, now };

	return store_tx_retry(s, settle_tx_run, &t);
}

enum mg_err
store_map_assign(struct store *s, const char *tenant, struct store_map_item *items, size_t n,
    time_t now)
{
	return store_map_settle(s, tenant, items, n, NULL, now);
}

long
store_map_ttl(const struct store *s)
{
	return s->map_ttl;
}

void
store_map_set_caps(struct store *s, const struct store_mint_caps *c)
{
	s->mint_quota = c != NULL && c->quota > 0 ? c->quota : 0;
	s->mint_hour_cap = c != NULL && c->hour_cap > 0 ? c->hour_cap : 0;
	s->mint_hour = c != NULL ? c->hour : 0;
	s->minted = 0;
	s->mint_hit = STORE_MINT_NONE;
	s->mint_hour_used = -1;
	s->mint_refused = 0;
}

void
store_map_mint_report(const struct store *s, struct store_mint_report *r)
{
	r->minted = s->minted;
	r->hit = (enum store_mint_hit)s->mint_hit;
	r->hour_used = s->mint_hour_used;
	r->refused = s->mint_refused;
}

enum mg_err
store_map_resolve(struct store *s, const char *tenant, const char *type, unsigned long num,
    time_t now, struct buf *out)
{
	struct db_stmt *st;
	enum mg_err rc = MG_ENOTFOUND;
	char ad[512];
	size_t adlen;
	enum db_step step;

	if (!s->have_keys)
		return MG_ESTORE;
	st = db_prepare(s->db, "SELECT value_sealed, last_seen FROM mask_map "
	    "WHERE tenant = ?1 AND type = ?2 AND num = ?3");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, tenant);
	db_bind_text(st, 2, type);
	db_bind_int64(st, 3, (int64_t)num);
	step = db_step(st);
	if (step == DB_ROW) {
		int64_t last = db_column_int64(st, 1);
		if (store_map_live(s, last, now)) {
			adlen = store_map_aad(ad, sizeof(ad), tenant, type, num);
			rc = crypto_open(s->aead_key, ad, adlen, db_column_blob(st, 0),
			    (size_t)db_column_bytes(st, 0), out);
			if (rc != MG_OK) {
				log_error("store: mapping %s #%lu of tenant %s fails authentication",
				    type, num, tenant);
				rc = MG_ESTORE;
			}
		}
	} else if (step != DB_DONE) {
		log_error("store: mapping resolve failed: %s", db_errmsg(s->db));
		rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
	}
	db_done(st);
	return rc;
}

enum mg_err
store_map_purge(struct store *s, time_t now, long *deleted)
{
	struct db_stmt *st;
	enum mg_err rc;

	*deleted = 0;
	if (s->map_ttl <= 0)
		return MG_OK;
	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	st = db_prepare(s->db, "DELETE FROM mask_map WHERE last_seen <= ?1");
	if (st == NULL) {
		store_rollback(s);
		return MG_ESTORE;
	}
	db_bind_int64(st, 1, (int64_t)now - s->map_ttl);
	rc = db_rc(db_step(st));
	if (rc == MG_OK)
		*deleted = (long)db_changes(s->db);
	db_done(st);
	/* workers drop their filters (stale tags cost only a lookup) */
	if (rc == MG_OK && *deleted > 0)
		rc = new_generation(s);
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
	struct db_stmt *st;
	enum db_step step;

	st = db_prepare(s->db, "SELECT c.tenant, c.type, c.next, "
	    "(SELECT count(*) FROM mask_map m WHERE m.tenant = c.tenant AND m.type = c.type "
	    "  AND (?1 <= 0 OR m.last_seen > ?2 - ?1)), "
	    "(SELECT count(*) FROM mask_map m WHERE m.tenant = c.tenant AND m.type = c.type "
	    "  AND ?1 > 0 AND m.last_seen <= ?2 - ?1) "
	    "FROM mask_counter c ORDER BY c.tenant, c.type");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, (int64_t)s->map_ttl);
	db_bind_int64(st, 2, (int64_t)now);
	for (;;) {
		struct store_map_stat x;
		step = db_step(st);
		if (step != DB_ROW)
			break;
		x.tenant = (const char *)db_column_text(st, 0);
		x.type = (const char *)db_column_text(st, 1);
		x.next = (long)db_column_int64(st, 2);
		x.live = (long)db_column_int64(st, 3);
		x.expired = (long)db_column_int64(st, 4);
		fn(arg, &x);
	}
	db_done(st);
	return step == DB_DONE ? MG_OK : MG_ESTORE;
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
	struct db_stmt *sel = NULL, *upd = NULL, *rseq = NULL;
	struct unseq *rows = NULL;
	size_t n = 0, cap = 0, i;
	struct arena a;
	enum mg_err rc;
	enum db_step step;

	if (!s->have_keys)
		return MG_OK;
	sel = db_prepare(s->db, "SELECT 1 FROM mask_map WHERE seq IS NULL LIMIT 1");
	if (sel == NULL)
		return MG_ESTORE;
	step = db_step(sel);
	db_done(sel);
	if (step == DB_DONE)
		return MG_OK;
	arena_init(&a);
	rc = store_begin(s);
	if (rc != MG_OK)
		goto out;
	sel = db_prepare(s->db, "SELECT tenant, type, num, value_sealed FROM mask_map "
	    "WHERE seq IS NULL");
	upd = db_prepare(s->db, "UPDATE mask_map SET recall_tag = ?1, seq = ?2 "
	    "WHERE tenant = ?3 AND type = ?4 AND num = ?5");
	rseq = db_prepare(s->db, RECALL_NEXT_SEQ);
	if (sel == NULL || upd == NULL || rseq == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	/* read everything first: the updates change what the select walks */
	for (step = db_step(sel); step == DB_ROW; step = db_step(sel)) {
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
		u->tenant = arena_strdup(&a, (const char *)db_column_text(sel, 0));
		u->type = arena_strdup(&a, (const char *)db_column_text(sel, 1));
		u->num = (unsigned long)db_column_int64(sel, 2);
		u->has_tag = 0;
		if (u->tenant == NULL || u->type == NULL) {
			rc = MG_ENOMEM;
			goto out;
		}
		buf_init(&val, &a);
		if (store_map_open(s, u->tenant, u->type, u->num, db_column_blob(sel, 3),
		    (size_t)db_column_bytes(sel, 3), &val) != MG_OK) {
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
	if (step != DB_DONE) {
		rc = store_map_step_err(s, step, "recall backfill");
		goto out;
	}
	for (i = 0; i < n; i++) {
		int64_t seq = 0;
		rc = recall_next_seq(s, rseq, rows[i].tenant, &seq);
		if (rc != MG_OK)
			goto out;
		db_reset(upd);
		if (rows[i].has_tag)
			db_bind_int64(upd, 1, (int64_t)rows[i].tag);
		else
			db_bind_null(upd, 1);
		db_bind_int64(upd, 2, seq);
		db_bind_text(upd, 3, rows[i].tenant);
		db_bind_text(upd, 4, rows[i].type);
		db_bind_int64(upd, 5, (int64_t)rows[i].num);
		step = db_step(upd);
		if (step != DB_DONE) {
			rc = store_map_step_err(s, step, "recall backfill");
			goto out;
		}
	}
	rc = store_commit(s);
	if (rc == MG_OK)
		log_info("store: %zu mappings prepared for recall", n);
out:
	db_done(sel);
	db_done(upd);
	db_done(rseq);
	if (rc != MG_OK)
		store_rollback(s);
	arena_free(&a);
	return rc;
}
