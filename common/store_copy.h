/*
 * store_copy.h - copying a whole store between backends, for
 * `bin/maskgate migrate`.
 */
#ifndef MG_STORE_COPY_H
#define MG_STORE_COPY_H

#include <stddef.h>
#include "mg.h"

struct store;

/*
 * Copies every row of every table from `from` into `to` (both open and
 * migrated; `to` empty), in one transaction on `to`: values as stored,
 * sealed values and hashes included. In-flight parallel slots are not
 * copied. fn (may be NULL) hears each table's row count. On failure `to`
 * is unchanged and err says why.
 */
enum mg_err store_copy(struct store *from, struct store *to,
    void (*fn)(void *arg, const char *table, long rows), void *arg, char *err, size_t errlen);

#endif
