/*
 * mask_recall_filter.c - the process's per-tenant filters of recall tags
 * (64-bit SipHash of every value the tenant's mapping holds, keyed per
 * tenant), kept up to date with the store's mask_recall row: only new tags
 * are loaded after mints, the whole set after a purge. One request at a
 * time per process. mask_recall.c uses them.
 */
#include <stdlib.h>
#include <string.h>

#include "mask_int.h"
#include "store_map.h"

#define RECALL_TENANTS 64	/* filters a worker keeps */


static unsigned long filter_versions;	/* never repeats a version, across slots */

static struct recall_filter filters[RECALL_TENANTS];
static unsigned long filter_clock;

static uint64_t
norm_tag(uint64_t tag)
{
	return tag == 0 ? 1 : tag;
}

int
recall_filter_has(const struct recall_filter *f, uint64_t tag)
{
	size_t i;

	if (f->count == 0)
		return 0;
	tag = norm_tag(tag);
	for (i = (size_t)(tag ^ tag >> 29) & (f->cap - 1);; i = (i + 1) & (f->cap - 1)) {
		if (f->set[i] == tag)
			return 1;
		if (f->set[i] == 0)
			return 0;
	}
}

static void
set_put(uint64_t *set, size_t cap, uint64_t tag)
{
	size_t i;

	for (i = (size_t)(tag ^ tag >> 29) & (cap - 1); set[i] != 0 && set[i] != tag;
	    i = (i + 1) & (cap - 1))
		;
	set[i] = tag;
}

enum mg_err
recall_filter_add(struct recall_filter *f, uint64_t tag)
{
	tag = norm_tag(tag);
	if (f->cap > 0 && recall_filter_has(f, tag))
		return MG_OK;
	if ((f->count + 1) * 2 > f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 256, i;
		uint64_t *g = calloc(ncap, sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		for (i = 0; i < f->cap; i++)
			if (f->set[i] != 0)
				set_put(g, ncap, f->set[i]);
		free(f->set);
		f->set = g;
		f->cap = ncap;
	}
	set_put(f->set, f->cap, tag);
	f->count++;
	f->version = ++filter_versions;
	return MG_OK;
}

void
recall_filter_clear(struct recall_filter *f)
{
	free(f->set);
	f->set = NULL;
	f->cap = 0;
	f->count = 0;
	f->gen = 0;
	f->seq = 0;
	f->version = ++filter_versions;
}

struct recall_filter *
recall_filter_find(const char *tenant)
{
	size_t i;

	for (i = 0; i < RECALL_TENANTS; i++)
		if (filters[i].tenant != NULL && strcmp(filters[i].tenant, tenant) == 0)
			return &filters[i];
	return NULL;
}

/* The tenant's slot, taking the least recently used one if it has none. */
struct recall_filter *
recall_filter_slot(const char *tenant)
{
	struct recall_filter *f = recall_filter_find(tenant), *lru = &filters[0];
	size_t i;

	if (f != NULL)
		return f;
	for (i = 0; i < RECALL_TENANTS; i++) {
		if (filters[i].tenant == NULL) {
			lru = &filters[i];
			break;
		}
		if (filters[i].used < lru->used)
			lru = &filters[i];
	}
	recall_filter_clear(lru);
	free(lru->tenant);
	lru->tenant = strdup(tenant);
	return lru->tenant != NULL ? lru : NULL;
}

/* Marks the slot used now (the least recently used slot is reused first). */
void
recall_filter_touch(struct recall_filter *f)
{
	f->used = ++filter_clock;
}

void
mask_recall_reset(void)
{
	size_t i;

	for (i = 0; i < RECALL_TENANTS; i++) {
		recall_filter_clear(&filters[i]);
		free(filters[i].tenant);
		filters[i].tenant = NULL;
	}
}

struct load_ctx {
	struct recall_filter *f;
	enum mg_err rc;
};

static void
load_tag(void *arg, uint64_t tag)
{
	struct load_ctx *lc = arg;

	if (lc->rc == MG_OK)
		lc->rc = recall_filter_add(lc->f, tag);
}

/* Brings the tenant's filter up to date with the store. */
enum mg_err
recall_filter_refresh(struct store *s, const char *tenant, struct mask_store_calls *calls)
{
	struct recall_filter *f = recall_filter_slot(tenant);
	struct load_ctx lc = { f, MG_OK };
	long long gen, seq, after;
	enum mg_err rc;

	if (f == NULL)
		return MG_ENOMEM;
	f->used = ++filter_clock;
	calls->reads++;
	rc = store_map_recall_load(s, tenant, 0, &gen, &seq, NULL, NULL);
	if (rc != MG_OK)
		return rc;
	if (gen == f->gen && seq <= f->seq)
		return MG_OK;
	after = f->seq;
	if (gen != f->gen) {
		recall_filter_clear(f);
		after = -1;
	}
	calls->reads++;
	rc = store_map_recall_load(s, tenant, after, &gen, &seq, load_tag, &lc);
	if (rc == MG_OK)
		rc = lc.rc;
	if (rc != MG_OK) {
		recall_filter_clear(f);	/* half loaded: start over next time */
		return rc;
	}
	f->gen = gen;
	f->seq = seq;
	return MG_OK;
}

