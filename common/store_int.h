/*
 * store_int.h - internals shared by the store_*.c files only.
 */
#ifndef MG_STORE_INT_H
#define MG_STORE_INT_H

#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "db.h"
#include "store.h"

struct store {
	struct db *db;				/* this process's connection */
	unsigned char hmac_key[CRYPTO_KEY_LEN];	/* lookup hashes of values */
	unsigned char aead_key[CRYPTO_KEY_LEN];	/* encryption of values */
	int have_keys;
	long map_ttl;				/* seconds */
	long mint_quota;			/* new mappings store_map_assign may add, 0 = any */
	long mint_hour_cap;			/* the tenant's in mint_hour, 0 = any */
	long mint_hour;
	long minted;				/* added since store_map_set_caps */
	int mint_hit;				/* enum store_mint_hit: the cap that refused one */
	long mint_hour_used, mint_refused;	/* for STORE_MINT_HOUR (store_map.h) */
	long write_tx;				/* write transactions begun, not yet taken */
	int ready;				/* migrated and backfilled on this database */
	long lease_slot;			/* parallel slot this worker holds, 0 = none */
	long lease_renewed;			/* when it was last renewed */
};

/* Attempts of a transaction that failed on a serialisation failure or deadlock. */
#define STORE_RETRIES 6

/*
 * Whether a transaction that ended in rc (attempt counts from 0) should
 * run again: a PostgreSQL serialisation failure or deadlock, not past
 * STORE_RETRIES, after a short random pause. Anything else is final.
 */
int store_retry(struct store *s, enum mg_err rc, int attempt);

/*
 * store_mint.c: adds n to tenant's count of the hour inside the open
 * transaction and reads the new total back; the first count of a
 * tenant's hour also forgets hours older than a day.
 */
enum mg_err store_mint_charge(struct store *s, const char *tenant, long hour, long n,
    long *total);

/* store_map.c: aad binding a sealed value to its row ("tenant\0type\0num"),
 * 0 if it does not fit; whether a mapping last seen then is still live */
size_t store_map_aad(char *out, size_t outlen, const char *tenant, const char *type,
    unsigned long num);
int store_map_live(const struct store *s, int64_t last_seen, time_t now);
/* logs what failed and maps the step to an mg_err */
enum mg_err store_map_step_err(struct store *s, enum db_step step, const char *what);

#endif
