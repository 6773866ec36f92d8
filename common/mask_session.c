/*
 * mask_session.c - a masking session and its caches, in the request's
 * arena: value -> number (vtab), (rule, number) -> value (rtab), so that
 * within a request each distinct value or placeholder costs at most one
 * store lookup; and what the session reports (counts per type, the block
 * rule that refused). The engine that fills them is mask.c.
 */
#include <stdint.h>
#include <string.h>

#include "mask_int.h"
#include "rules.h"

static uint64_t
hash_bytes(unsigned rule, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ rule;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static uint64_t
hash_num(unsigned rule, unsigned long num)
{
	uint64_t h = ((uint64_t)rule << 40) ^ num;

	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 31);
}

struct mask_session *
mask_session_new(struct arena *a, const struct rules *r, struct store *s, const char *tenant)
{
	struct mask_session *m;

	if (a == NULL || r == NULL || s == NULL || tenant == NULL || tenant[0] == '\0')
		return NULL;
	m = arena_alloc(a, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->arena = a;
	m->rules = r;
	m->store = s;
	m->tenant = arena_strdup(a, tenant);
	m->nslots = rules_slots(r);
	m->counts = arena_alloc(a, (m->nslots + 1) * sizeof(*m->counts));
	m->vcap = 64;
	m->vtab = arena_alloc(a, m->vcap * sizeof(*m->vtab));
	m->rcap = 64;
	m->rtab = arena_alloc(a, m->rcap * sizeof(*m->rtab));
	m->kcap = 64;
	m->ktab = arena_alloc(a, m->kcap * sizeof(*m->ktab));
	if (m->tenant == NULL || m->counts == NULL || m->vtab == NULL || m->rtab == NULL ||
	    m->ktab == NULL)
		return NULL;
	return m;
}

/* ---- caches (open addressing, grown at half load) --------------------- */

static struct centry *
vfind(struct mask_session *m, unsigned rule, const char *v, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->vcap - 1);

	for (;; i = (i + 1) & (m->vcap - 1)) {
		struct centry *e = &m->vtab[i];
		if (!e->used || (e->hash == h && e->rule == rule && e->len == n &&
		    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): v is NULL only for empty text, which has no matches */
		    memcmp(e->value, v, n) == 0))
			return e;
	}
}

static enum mg_err
vgrow(struct mask_session *m)
{
	struct centry *old = m->vtab;
	size_t oldcap = m->vcap, i;

	m->vtab = arena_alloc(m->arena, oldcap * 2 * sizeof(*m->vtab));
	if (m->vtab == NULL) {
		m->vtab = old;
		return MG_ENOMEM;
	}
	m->vcap = oldcap * 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].used)
			*vfind(m, old[i].rule, old[i].value, old[i].len, old[i].hash) = old[i];
	/*
	 * What outlives this pass must point into the new table: the values
	 * waiting for mask_resolve and the recall entries (a deferred value
	 * gets its number there; the old copies, still readable in the
	 * arena, would keep 0).
	 */
	for (i = 0; i < m->npend; i++)
		m->pend[i] = vfind(m, m->pend[i]->rule, m->pend[i]->value, m->pend[i]->len,
		    m->pend[i]->hash);
	for (i = 0; i < m->kcap; i++)
		if (m->ktab[i].used)
			m->ktab[i].e = vfind(m, m->ktab[i].e->rule, m->ktab[i].e->value,
			    m->ktab[i].e->len, m->ktab[i].e->hash);
	return MG_OK;
}

/*
 * The cache entry for (rule, value), created (num 0) if missing. The caller
 * makes room first, so that entry pointers stay valid while it holds them.
 */
struct centry *
mask_cache_get(struct mask_session *m, unsigned rule, const char *v, size_t n)
{
	uint64_t h = hash_bytes(rule, v, n);
	struct centry *e;

	MG_ASSERT((m->vcount + 1) * 2 <= m->vcap);	/* mask_text grew it */
	e = vfind(m, rule, v, n, h);
	if (!e->used) {
		e->value = arena_strndup(m->arena, v, n);
		if (e->value == NULL)
			return NULL;
		e->len = n;
		e->hash = h;
		e->rule = rule;
		e->used = 1;
		m->vcount++;
	}
	return e;
}

struct rentry *
mask_cache_rfind(struct mask_session *m, unsigned rule, unsigned long num)
{
	size_t i = (size_t)hash_num(rule, num) & (m->rcap - 1);

	for (;; i = (i + 1) & (m->rcap - 1)) {
		struct rentry *e = &m->rtab[i];
		if (!e->used || (e->rule == rule && e->num == num))
			return e;
	}
}

enum mg_err
mask_cache_rput(struct mask_session *m, unsigned rule, unsigned long num, const char *v, size_t n)
{
	struct rentry *e;

	if ((m->rcount + 1) * 2 > m->rcap) {
		struct rentry *old = m->rtab;
		size_t oldcap = m->rcap, i;
		m->rtab = arena_alloc(m->arena, oldcap * 2 * sizeof(*m->rtab));
		if (m->rtab == NULL) {
			m->rtab = old;
			return MG_ENOMEM;
		}
		m->rcap = oldcap * 2;
		for (i = 0; i < oldcap; i++)
			if (old[i].used)
				*mask_cache_rfind(m, old[i].rule, old[i].num) = old[i];
	}
	e = mask_cache_rfind(m, rule, num);
	if (!e->used)
		m->rcount++;
	e->used = 1;
	e->rule = rule;
	e->num = num;
	e->value = v;
	e->len = n;
	return MG_OK;
}

enum mg_err
mask_cache_reserve(struct mask_session *m, size_t more)
{
	while ((m->vcount + more + 1) * 2 > m->vcap)
		if (vgrow(m) != MG_OK)
			return MG_ENOMEM;
	return MG_OK;
}

const char *
mask_blocked_type(const struct mask_session *m)
{
	return m != NULL ? m->blocked : NULL;
}

void
mask_session_foreach_type(const struct mask_session *m,
    void (*fn)(void *arg, const char *type, const struct mask_type_counts *c), void *arg)
{
	size_t i;

	for (i = 0; m != NULL && i < m->nslots; i++) {
		const struct mask_counts *c = &m->counts[i];
		struct mask_type_counts tc;
		if (!(c->masked || c->restored || c->minted || c->withheld || c->unknown))
			continue;
		tc.masked = c->masked;
		tc.restored = c->restored;
		tc.minted = c->minted;
		tc.withheld = c->withheld;
		tc.unknown = c->unknown;
		fn(arg, rules_type(m->rules, (unsigned)i), &tc);
	}
}

struct arena *
mask_session_arena(const struct mask_session *m)
{
	return m->arena;
}
