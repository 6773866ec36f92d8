/*
 * fuzz_eventstream.c - libFuzzer harness for the AWS event-stream decoder:
 * arbitrary bytes, fed whole and then in chunks cut by the first byte. Both
 * feeds must agree (the same messages, the same verdict), every delivered
 * message must re-encode to a frame that decodes to itself, and nothing may
 * crash or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned long n;
	unsigned long sum;	/* of payload bytes: a cheap fingerprint */
	struct arena *arena;
};

static enum mg_err
on_msg(void *ctx, const struct es_message *m)
{
	struct tally *t = ctx;
	size_t i;

	t->n++;
	for (i = 0; i < m->payload_len; i++)
		t->sum = t->sum * 31 + (unsigned char)m->payload[i];
	return MG_OK;
}

static enum mg_err
on_again(void *ctx, const struct es_message *m)
{
	(void)ctx;
	(void)m;
	return MG_OK;
}

/* Re-encodes string headers and payload; the frame must decode. */
static enum mg_err
on_reencode(void *ctx, const struct es_message *m)
{
	struct tally *t = ctx;
	struct es_header h[ES_MAX_HEADERS];
	struct es_decoder d;
	struct buf out;
	size_t i, n = 0;

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].type == ES_STRING)
			h[n++] = m->headers[i];
	buf_init(&out, t->arena);
	if (es_encode(&out, h, n, m->payload, m->payload_len) != MG_OK)
		abort();
	es_decoder_init(&d, t->arena, 0);
	if (es_feed(&d, out.data, out.len, on_again, NULL) != MG_OK || !es_idle(&d))
		abort();
	return on_msg(ctx, m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole = { 0, 0, NULL }, cut = { 0, 0, NULL };
	struct es_decoder d;
	struct arena a;
	enum mg_err r1, r2 = MG_OK;
	size_t step, i;

	if (size > 1 << 20)
		return 0;
	arena_init(&a);
	whole.arena = cut.arena = &a;
	es_decoder_init(&d, &a, 1 << 16);
	r1 = es_feed(&d, (const char *)data, size, on_reencode, &whole);
	step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
	es_decoder_init(&d, &a, 1 << 16);
	for (i = 0; i < size && r2 == MG_OK; i += step)
		r2 = es_feed(&d, (const char *)data + i, size - i < step ? size - i : step,
		    on_msg, &cut);
	if (r1 != r2 || whole.n != cut.n || whole.sum != cut.sum)
		abort();
	arena_free(&a);
	return 0;
}
