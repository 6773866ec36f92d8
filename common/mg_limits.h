/*
 * mg_limits.h - limits.c: what a caller may do before anything goes
 * upstream (named apart from the system's <limits.h>): the model
 * allow-list of its key or token, the key's budget, rpm/tpm and
 * parallel-request limits, and the request's budget of new mappings.
 * Every limit is a reservation taken at admission (a window row, a slot,
 * a mint quota) and settled after the response (spend.c).
 */
#ifndef MG_MG_LIMITS_H
#define MG_MG_LIMITS_H

#include "arena.h"
#include "cfg.h"
#include "keys.h"
#include "mg.h"
#include "outcome.h"

struct store;
struct models;

/* Seconds a request (and its tokens) counts against rpm_limit/tpm_limit. */
#define LIMITS_RATE_WINDOW 60
/*
 * How long an admission at the key's max_parallel_requests waits for a
 * slot to be freed (slots are freed just after a response went out), and
 * how often it looks.
 */
#define LIMITS_SLOT_WAIT_MS 250
#define LIMITS_SLOT_POLL_MS 5

/* A request admitted by limits_admit(), settled once by spend_settle(). */
struct keys_ticket {
	const struct principal *principal;
	long slot;		/* parallel slot, 0 = none */
	double spend;		/* virtual key spend at admission, -1 otherwise */
};

/*
 * Checks, before anything goes upstream, everything the caller's key or
 * token limits: model allow-list (and, for a key with a budget, that the
 * model is priced), expiry, budget, rpm/tpm, parallel requests.
 * MG_OK with *ticket set (arena memory) when admitted; MG_EINVAL with r
 * filled (r->reason says which limit) when refused; any other error means
 * the store failed.
 */
enum mg_err limits_admit(const struct models *mt, struct store *s, struct arena *a,
    const struct principal *p, const char *model, struct keys_ticket **ticket,
    struct keys_refusal *r);

/*
 * The admission transaction for one virtual key at time now: budget (with
 * its periodic reset), rpm and tpm in the sliding window of the last
 * LIMITS_RATE_WINDOW seconds, parallel slots (reclaiming those of dead
 * workers or older than slot_stale seconds). On MG_OK *slot is the slot
 * taken (0 when the key has no parallel limit) and *k the record after
 * the reset; MG_EINVAL with r filled when refused; others: the store.
 */
enum mg_err limits_admit_key(struct store *s, struct arena *a, const char *hash, long now,
    long slot_stale, struct keys_record *k, long *slot, struct keys_refusal *r);

struct spend_block;

/*
 * The developer's spend caps (spend_limit.c) before anything goes
 * upstream: MG_EINVAL with *b naming the cap when over one; MG_OK when
 * under every cap, for the master key, and for a request that costs
 * nothing (free: count_tokens); other errors: the store failed.
 */
enum mg_err limits_spend_caps(struct store *s, const struct principal *p, int free,
    struct spend_block *b);

/* The key's spend at admission (virtual keys), or -1 when it has none. */
double limits_ticket_spend(const struct keys_ticket *t);

/*
 * Opens the request's budget of new mappings: MASKGATE_MAX_NEW_MAPPINGS
 * per request and MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR per tenant, handed
 * to the store, which checks and counts them in the transaction that
 * mints (store_map_set_caps): nothing is read before masking, a request
 * whose values are all known never touches the hour's count, and the
 * hour holds exactly under concurrency. Without the caps one request of
 * 300k distinct IDs grew the database by hundreds of MB.
 */
void limits_mint_begin(const struct cfg *c, struct store *s, struct outcome_mint *mb);
/* After a masking error: 1 with r filled (413 or 429) when a cap refused it. */
int limits_mint_refused(struct store *s, const struct outcome_mint *mb, struct keys_refusal *r);
/* Lifts the caps: what the request minted is counted already. */
void limits_mint_end(struct store *s, struct outcome_mint *mb);

#endif
