/*
 * store_int.h - internals shared by the store_*.c files only.
 */
#ifndef MG_STORE_INT_H
#define MG_STORE_INT_H

#include <sqlite3.h>
#include "crypto.h"
#include "store.h"

struct store {
	sqlite3 *db;
	unsigned char hmac_key[CRYPTO_KEY_LEN];	/* lookup hashes of values */
	unsigned char aead_key[CRYPTO_KEY_LEN];	/* encryption of values */
	int have_keys;
	long map_ttl;				/* seconds */
	long mint_quota;			/* new mappings store_map_assign may add, 0 = any */
	long minted;				/* added since store_map_set_quota */
	int mint_quota_hit;			/* the quota refused one */
};

/* Maps a SQLite result code to an mg_err (BUSY/LOCKED -> MG_EBUSY). */
enum mg_err store_rc(int sqlite_rc);

/* Prepares sql or logs and returns NULL. */
sqlite3_stmt *store_prepare(struct store *s, const char *sql);

#endif
