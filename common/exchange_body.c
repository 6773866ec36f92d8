/*
 * exchange_body.c - a Messages request body from the client's bytes to
 * what goes upstream: read, parsed strictly, masked in two phases and
 * spliced back into the client's own bytes (jwalk_splice.c).
 *
 * Turn N+1: the elements of system, tools and messages that the worker
 * masked before (the same bytes, the same tenant filter) come from the
 * cache of masked elements (mask_elems.c); only the rest of the body is
 * parsed and masked, and the cached bytes are put back in place
 * (jwalk_elems.c). Whenever that could differ from masking the whole body
 * (the reduced body is refused, the filter changed while masking, policy
 * rewrote the top level) the whole body is masked again, in a new
 * session, exactly as without the cache.
 */
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "exchange_int.h"
#include "log.h"
#include "mask.h"

static enum mg_err
mask_cb(void *ctx, const char *in, size_t len, struct buf *out)
{
	return mask_text(ctx, in, len, out);
}

static enum mg_err
mask_keyed_cb(void *ctx, const char *key, size_t keylen, const char *in, size_t len,
    struct buf *out)
{
	return mask_text_keyed(ctx, key, keylen, in, len, out);
}

static unsigned long
provisional_cb(void *ctx)
{
	return mask_provisional(ctx);
}

static enum mg_err
resolve_cb(void *ctx, int *again)
{
	return mask_resolve(ctx, again);
}

/* Parses src[0..len) into b->root; 0 when refused (answered). */
static int
parse(struct exchange *ex, struct exchange_body *b, const char *src, size_t len)
{
	char err[256];

	if (jwalk_parse(src, len, &b->root, err, sizeof(err)) != MG_OK) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST, "%s", err);
		return 0;
	}
	b->src = src;
	b->srclen = len;
	return 1;
}

/* Forgets the cached elements: the whole body is parsed and masked. */
static void
drop_cached(struct exchange_body *b)
{
	memset(&b->el, 0, sizeof(b->el));
	b->hits = 0;
	b->ms = NULL;
}

/* Looks the body's elements up in the cache; the body to parse in *src. */
static void
take_cached(struct exchange *ex, struct exchange_body *b, const char **src, size_t *len)
{
	struct jwalk_known known = { mask_elems_known, NULL };
	size_t i;

	*src = b->raw;
	*len = b->rawlen;
	b->ms = mask_session_new(ex->arena, ex->env->rules, ex->env->store,
	    ex->principal.tenant);
	if (b->ms == NULL || mask_elems_begin(b->ms) != MG_OK) {
		drop_cached(b);	/* the ordinary path meets and reports the error */
		return;
	}
	known.ctx = b->ms;
	if (!jwalk_elems_find(b->raw, b->rawlen, ex->arena, &b->el, &known)) {
		drop_cached(b);
		return;
	}
	for (i = 0; i < b->el.n; i++)
		b->hits += (size_t)b->el.v[i].cached;
	if (b->hits > 0) {
		*src = jwalk_elems_reduce(b->raw, b->rawlen, &b->el, ex->arena, len);
		if (*src == NULL) {
			drop_cached(b);
			*src = b->raw;
			*len = b->rawlen;
		}
	}
}

int
exchange_body_read(struct exchange *ex, struct exchange_body *b, int cacheable)
{
	const char *ct = ex->io->header(ex->io_ctx, "content-type"), *body = NULL, *src;
	size_t len = 0, srclen, max = ex->env->cfg->max_body;
	char err[256];
	enum mg_err rc;

	memset(b, 0, sizeof(*b));
	if (ct != NULL && *ct != '\0' && strncasecmp(ct, "application/json", 16) != 0) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
		    "content-type must be application/json");
		return 0;
	}
	rc = ex->io->read_body(ex->io_ctx, max, &body, &len);
	if (rc == MG_ETOOBIG) {
		exchange_refuse(ex, OUT_OK, 413, ET_REQUEST_TOO_LARGE,
		    "request body is larger than %zu bytes", max);
		return 0;
	}
	if (rc != MG_OK) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
		    "could not read the request body");
		return 0;
	}
	if (len == 0) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
		    "request body is empty; expected JSON");
		return 0;
	}
	b->raw = body;
	b->rawlen = len;
	if (!cacheable || ex->env->cfg->mask_cache == 0)
		return parse(ex, b, body, len);
	take_cached(ex, b, &src, &srclen);
	log_debug("rid=%s body: %zu of %zu elements from the cache", ex->request_id, b->hits,
	    b->el.n);
	if (b->hits == 0)
		return parse(ex, b, body, len);
	if (jwalk_parse(src, srclen, &b->root, err, sizeof(err)) == MG_OK) {
		b->src = src;
		b->srclen = srclen;
		return 1;
	}
	/* the error (and its offset) as the whole body gives it */
	drop_cached(b);
	return parse(ex, b, body, len);
}

/*
 * Masks b->root in b->ms; 0 when refused (answered). quiet: a refusal that
 * names a place in the body is not answered (the place is the reduced
 * body's): *redo is set instead.
 */
static int
mask_root(struct exchange *ex, struct exchange_body *b, int quiet, int *redo)
{
	struct jwalk_xform xf = { mask_cb, b->ms, mask_keyed_cb };
	struct jwalk_phases phases = { provisional_cb, resolve_cb, b->ms };
	char err[256];
	enum mg_err rc;

	mask_defer(b->ms);
	rc = jwalk_mask_request_phased(b->root, ex->arena, &xf, &phases, err, sizeof(err));
	if (rc == MG_OK)
		return 1;
	if (exchange_mint_refused(ex))
		return 0;
	if (rc == MG_EINVAL && quiet) {
		*redo = 1;
		return 0;
	}
	if (rc == MG_EINVAL)
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST, "%s", err);
	else if (rc == MG_EBLOCKED)
		exchange_refuse(ex, OUT_BLOCK_RULE, 400, ET_INVALID_REQUEST, "request contains a "
		    "%s, which this gateway refuses to forward; remove it and retry",
		    mask_blocked_type(b->ms));
	else {
		log_error("rid=%s masking failed (%s); request refused", ex->request_id,
		    mg_strerror(rc));
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API, "masking failed (%s); request "
		    "not forwarded", mg_strerror(rc));
	}
	return 0;
}

/* The whole body again, parsed and masked in a new session; 0 when refused (answered). */
static int
whole_again(struct exchange *ex, struct exchange_body *b)
{
	const char *model;
	int redo = 0;

	log_debug("rid=%s body: masked whole again", ex->request_id);
	jwalk_free(b->root);
	b->root = NULL;
	drop_cached(b);
	if (!parse(ex, b, b->raw, b->rawlen) ||
	    !exchange_model_policy(ex, b->root, b->in_path, &model))
		return 0;
	b->ms = mask_session_new(ex->arena, ex->env->rules, ex->env->store,
	    ex->principal.tenant);
	if (b->ms == NULL) {
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API,
		    "masking unavailable; request not forwarded");
		return 0;
	}
	ex->out.mask = b->ms;
	/* its elements, none from the cache: kept afterwards when settled */
	if (mask_elems_begin(b->ms) != MG_OK ||
	    !jwalk_elems_find(b->raw, b->rawlen, ex->arena, &b->el, NULL))
		memset(&b->el, 0, sizeof(b->el));
	return mask_root(ex, b, 0, &redo);
}

/* Do the elements taken from the cache read as masking them now would? */
static int
hits_hold(struct exchange_body *b)
{
	size_t i;

	if (!mask_elems_settled(b->ms))
		return 0;
	for (i = 0; i < b->el.n; i++) {
		const struct jwalk_elem *e = &b->el.v[i];
		if (e->cached && !mask_elems_valid(b->ms, e->field, b->raw + e->start,
		    e->end - e->start))
			return 0;
	}
	return 1;
}

int
exchange_body_mask(struct exchange *ex, struct exchange_body *b, struct mask_session *ms)
{
	int redo = 0;

	b->ms = ms;
	if (!mask_root(ex, b, b->hits > 0, &redo))
		return redo ? whole_again(ex, b) : 0;
	/* the filter changed: a cached element may now read otherwise */
	if (b->hits > 0 && !hits_hold(b))
		return whole_again(ex, b);
	return 1;
}

char *
exchange_body_splice(struct exchange *ex, struct exchange_body *b, size_t *len)
{
	char *out, *merged;
	size_t olen, mlen, i;

	out = jwalk_splice(b->root, b->src, b->srclen, ex->arena, &olen);
	if (out == NULL) {
		exchange_refuse(ex, OUT_OK, 500, ET_API, "out of memory");
		return NULL;
	}
	*len = olen;
	if (b->el.n == 0)
		return out;
	merged = jwalk_elems_merge(b->raw, &b->el, out, olen, ex->arena, &mlen);
	if (merged == NULL && b->hits == 0)
		return out;
	if (merged == NULL)
		return whole_again(ex, b) ? exchange_body_splice(ex, b, len) : NULL;
	for (i = 0; i < b->el.n; i++) {
		const struct jwalk_elem *e = &b->el.v[i];
		if (!e->cached)
			mask_elems_store(b->ms, e->field, b->raw + e->start, e->end - e->start,
			    e->out, e->outlen);
	}
	if (b->hits == 0)
		return out;
	*len = mlen;
	return merged;
}

void
exchange_body_free(struct exchange_body *b)
{
	jwalk_free(b->root);
	b->root = NULL;
}
