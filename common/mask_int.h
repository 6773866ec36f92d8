/*
 * mask_int.h - the one step of the masking engine (mask.c) that
 * mask_context.c builds on; not for other callers.
 */
#ifndef MG_MASK_INT_H
#define MG_MASK_INT_H

#include <stddef.h>
#include "arena.h"
#include "decode.h"
#include "mask.h"

/*
 * One masking pass. Scans scan[0..scanlen) with the rules and acts only on
 * the matches inside the window [lo, hi): the text around it is context
 * (`"aws_secret_access_key": "` before a value). A match straddling an edge
 * makes the pass scan the window alone. Appends in[0..len) to out with
 * every match replaced by its placeholder, where the window is either in
 * itself (view NULL) or a decoded view of in (view->text), in which case
 * each match replaces the original bytes it was decoded from. Errors as
 * mask_text.
 */
enum mg_err mask_pass(struct mask_session *m, const char *scan, size_t scanlen, size_t lo,
    size_t hi, const struct decode_view *view, const char *in, size_t len, struct buf *out);

/* The request arena of the session. */
struct arena *mask_session_arena(const struct mask_session *m);

#endif
