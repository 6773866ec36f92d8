/*
 * eventstream.h - AWS event-stream framing (application/vnd.amazon.eventstream),
 * the binary framing of Bedrock's InvokeModelWithResponseStream.
 *
 * One message on the wire:
 *   total length (u32 BE) | headers length (u32 BE) | CRC32 of those 8 bytes
 *   headers: name length (u8), name, value type (u8), value
 *   payload
 *   CRC32 of everything before it
 * The decoder is incremental (any network chunking gives the same
 * messages), bounded, and treats a bad CRC or a malformed header block as
 * an error: nothing of a corrupt message is ever handed on.
 */
#ifndef MG_EVENTSTREAM_H
#define MG_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "mg.h"

/* AWS's own bounds: 16 MiB per message, 128 KiB of headers. */
#define ES_MAX_MESSAGE (16u * 1024 * 1024)
#define ES_MAX_HEADERS_LEN (128u * 1024)
#define ES_MAX_HEADERS 32	/* per message; Bedrock sends three */
#define ES_PRELUDE_LEN 12
#define ES_MIN_MESSAGE 16

enum es_type {
	ES_BOOL_TRUE = 0, ES_BOOL_FALSE, ES_BYTE, ES_SHORT, ES_INT, ES_LONG,
	ES_BYTES, ES_STRING, ES_TIMESTAMP, ES_UUID, ES_TYPE__MAX
};

struct es_header {
	const char *name;
	size_t name_len;
	enum es_type type;
	const char *value;	/* the raw value bytes (big-endian for numbers) */
	size_t value_len;
};

struct es_message {
	struct es_header headers[ES_MAX_HEADERS];
	size_t nheaders;
	const char *payload;
	size_t payload_len;
	const char *raw;	/* the whole frame as received */
	size_t raw_len;
};

struct es_decoder {
	struct buf pending;	/* bytes of the message being received */
	size_t max_message;
	enum mg_err failed;
	char why[96];		/* what was wrong, for the log and error event */
};

/*
 * Called once per complete, CRC-checked message; pointers are valid only
 * during the call. A non-MG_OK return stops the decoder with that error.
 */
typedef enum mg_err (*es_on_message)(void *ctx, const struct es_message *m);

/* Buffers in a (request lifetime); max_message 0 means ES_MAX_MESSAGE. */
void es_decoder_init(struct es_decoder *d, struct arena *a, size_t max_message);

/*
 * Consumes a chunk, calling on_message for each message it completes.
 * MG_EUPSTREAM on malformed framing or a bad CRC (d->why says which),
 * MG_ENOMEM, or the callback's error. After an error every later call
 * returns it again and calls nothing.
 */
enum mg_err es_feed(struct es_decoder *d, const char *data, size_t len,
    es_on_message on_message, void *ctx);

/* 1 when no partial message is buffered (the stream may end here). */
int es_idle(const struct es_decoder *d);

/* The value of a string header, or NULL (len in *len when found). */
const char *es_header_string(const struct es_message *m, const char *name, size_t *len);

/*
 * Appends one encoded message to out: string headers only (enough for
 * every message this gateway writes), payload, both CRCs.
 */
enum mg_err es_encode(struct buf *out, const struct es_header *headers, size_t nheaders,
    const char *payload, size_t payload_len);

#endif
