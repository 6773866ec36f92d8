/*
 * store_map.h - the mask mapping in the shared store: per tenant and type a
 * monotonic counter, and per value its placeholder number, keyed hash,
 * sealed value and first/last use. All mapping SQL lives in store_map.c.
 */
#ifndef MG_STORE_MAP_H
#define MG_STORE_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "arena.h"
#include "crypto.h"
#include "mg.h"

struct store;

/* One value to map; num is 0 until the store assigned or found it. */
struct store_map_item {
	const char *type;
	const char *value;
	size_t len;
	unsigned char hash[CRYPTO_HASH_LEN];	/* store_map_hash() */
	unsigned long num;
};

/* The keyed lookup hash of (tenant, type, value); MG_ENOMEM if OpenSSL fails. */
enum mg_err store_map_hash(const struct store *s, const char *tenant, const char *type,
    const char *value, size_t len, unsigned char out[CRYPTO_HASH_LEN]);

/*
 * Fills num for every item with num == 0 that has a live mapping, reading
 * without the write lock; refreshes last_seen of mappings not touched for
 * an hour (so lookups do not write on every request).
 */
enum mg_err store_map_lookup(struct store *s, const char *tenant, struct store_map_item *items,
    size_t n, time_t now);

/*
 * Assigns a number to every item still at num == 0, in one BEGIN IMMEDIATE
 * transaction: a value another worker mapped meanwhile gets that worker's
 * number; a new or expired value gets the next number of its counter.
 */
enum mg_err store_map_assign(struct store *s, const char *tenant, struct store_map_item *items,
    size_t n, time_t now);

/*
 * store_map_assign, and in the same write transaction the last_seen of
 * the items whose stale[i] is set (from store_map_lookup_batch; NULL:
 * none): a request's masking writes at most once. Nothing to do, no
 * transaction.
 */
enum mg_err store_map_settle(struct store *s, const char *tenant, struct store_map_item *items,
    size_t n, const unsigned char *stale, time_t now);

/*
 * The original value of placeholder (type, num) for tenant, appended to
 * out. MG_ENOTFOUND when unknown or expired.
 */
enum mg_err store_map_resolve(struct store *s, const char *tenant, const char *type,
    unsigned long num, time_t now, struct buf *out);

/* Deletes mappings idle for longer than the TTL; *deleted gets the count. */
enum mg_err store_map_purge(struct store *s, time_t now, long *deleted);

/* Per tenant and type: live and expired mappings, next number. No values. */
struct store_map_stat {
	const char *tenant;
	const char *type;
	long live;
	long expired;
	long next;
};
enum mg_err store_map_stats(struct store *s, time_t now,
    void (*fn)(void *arg, const struct store_map_stat *st), void *arg);

/*
 * Placeholder tags: the keyed bytes a credential placeholder's tag is made
 * of, from (tenant, type, num), so the same placeholder comes out in every
 * worker and after restarts, and nobody without the data key can make it.
 */
enum mg_err store_map_tag(const struct store *s, const char *tenant, const char *type,
    unsigned long num, unsigned char out[CRYPTO_HASH_LEN]);

/*
 * Recall (cross-request): every mapping row carries the 64-bit SipHash of
 * its value under the tenant's recall key, and a per-tenant sequence
 * number, so that workers can keep the tags as a filter and refresh it
 * with the rows added since they last looked.
 */
enum mg_err store_map_recall_key(const struct store *s, const char *tenant,
    unsigned char key[CRYPTO_SIPHASH_KEY_LEN]);

/*
 * The tenant's recall state: gen (changes when rows may have been deleted,
 * 0 when the tenant has none) and the last seq handed out; then, when
 * after >= 0, fn is called with the tag of every row whose seq > after
 * (after < 0: every row), all in one read transaction.
 */
enum mg_err store_map_recall_load(struct store *s, const char *tenant, long long after,
    long long *gen, long long *seq, void (*fn)(void *arg, uint64_t tag), void *arg);

/* One token to confirm; type and num are filled when it is a live value. */
struct store_map_recall_item {
	uint64_t tag;
	const char *value;
	size_t len;
	char type[64];
	unsigned long num;	/* 0: not a value of the tenant */
};

/*
 * Confirms recall candidates in one read transaction: for each item, the
 * live row whose sealed value equals it exactly (the earliest minted if
 * the value was mapped under several types).
 */
enum mg_err store_map_recall_find(struct store *s, const char *tenant,
    struct store_map_recall_item *items, size_t n, time_t now);

/* A worker's recall filter catching up, inside store_map_lookup_batch's transaction. */
struct store_map_sync {
	long long gen_known, seq_known;	/* what the filter holds (0, 0: nothing yet) */
	long long gen, seq;		/* the store's, filled in */
	/* every tag newer than seq_known, or every tag when gen differs from gen_known */
	void (*fn)(void *arg, uint64_t tag);
	void *arg;
};

/*
 * One read transaction for a request's masking (store_map_batch.c): first
 * the recall filter's catch-up (sync, when not NULL), then num of every
 * item with a live mapping (num 0 ones; stale[i], when stale is not NULL,
 * set where last_seen wants a refresh), then every recall candidate of
 * ritems confirmed as store_map_recall_find does.
 */
enum mg_err store_map_lookup_batch(struct store *s, const char *tenant,
    struct store_map_item *items, size_t n, struct store_map_recall_item *ritems, size_t rn,
    time_t now, unsigned char *stale, struct store_map_sync *sync);

/* Opens the sealed value of row (tenant, type, num) into out (MG_ESTORE-ish on a bad seal). */
enum mg_err store_map_open(struct store *s, const char *tenant, const char *type,
    unsigned long num, const void *sealed, size_t sealedlen, struct buf *out);

/*
 * Gives rows from before recall (migration 006) their tag and seq. Called
 * by store_open; cheap when there is nothing to do.
 */
enum mg_err store_map_backfill(struct store *s);

/*
 * The caps on new mappings a request's masking works under, set by its
 * policy (limits.c) before masking. store_map_assign refuses (MG_ETOOBIG,
 * nothing of that call kept) a value that would make more than quota new
 * mappings since store_map_set_caps; and in the transaction that mints,
 * adds what it minted to the tenant's count of the hour and reads the
 * total back (the row lock serialises the tenant's minters on PostgreSQL,
 * the write lock on SQLite), refusing the whole transaction the same way
 * when the total passes hour_cap. A call that mints nothing never touches
 * the count.
 */
struct store_mint_caps {
	long quota;		/* new mappings per request, 0 = any */
	long hour_cap;		/* new mappings per tenant and clock hour, 0 = any */
	long hour;		/* that hour: Unix seconds / 3600 */
};
/* NULL lifts both caps. Restarts the count of the request either way. */
void store_map_set_caps(struct store *s, const struct store_mint_caps *c);

/* What the request minted, and which cap refused a mint if one did. */
enum store_mint_hit { STORE_MINT_NONE, STORE_MINT_QUOTA, STORE_MINT_HOUR };
struct store_mint_report {
	long minted;			/* committed since store_map_set_caps */
	enum store_mint_hit hit;
	long hour_used;			/* STORE_MINT_HOUR: the tenant's count before, -1 unread */
	long refused;			/* STORE_MINT_HOUR: new values the refused call held */
};
void store_map_mint_report(const struct store *s, struct store_mint_report *r);

/* New mappings tenant minted in the clock hour (Unix seconds / 3600). */
enum mg_err store_mint_used(struct store *s, const char *tenant, long hour, long *used);

/* MASKGATE_MAP_TTL in seconds (0: mappings never expire). */
long store_map_ttl(const struct store *s);

/* Seconds after which a lookup refreshes last_seen. */
#define STORE_MAP_TOUCH_INTERVAL 3600

#endif
