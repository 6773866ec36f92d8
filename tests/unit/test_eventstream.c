/*
 * test_eventstream.c - AWS event-stream codec: round trip under every
 * chunking, a vector built independently (Python's zlib), CRC and bound
 * failures, every header type.
 */
#include <stdlib.h>
#include <string.h>

#include "th.h"
#include "../../common/eventstream.c"

struct seen {
	int n;
	char payload[256];
	size_t payload_len;
	char type[64];
	size_t nheaders;
};

static enum mg_err
on_msg(void *ctx, const struct es_message *m)
{
	struct seen *s = ctx;
	size_t tl = 0;
	const char *t = es_header_string(m, ":event-type", &tl);

	s->n++;
	s->nheaders = m->nheaders;
	s->payload_len = m->payload_len < sizeof(s->payload) ? m->payload_len : 0;
	memcpy(s->payload, m->payload, s->payload_len);
	s->type[0] = '\0';
	if (t != NULL && tl < sizeof(s->type)) {
		memcpy(s->type, t, tl);
		s->type[tl] = '\0';
	}
	return MG_OK;
}

/*
 * One message with headers :event-type=chunk, :content-type=application/json,
 * :message-type=event and payload {"bytes":"eyJ0eXBlIjoicGluZyJ9"}, framed
 * by a separate Python encoder (struct + zlib.crc32).
 */
static const unsigned char vector[] = {
	0x00,0x00,0x00,0x7b,0x00,0x00,0x00,0x4b,0x0a,0x2e,0x96,0xaf,0x0b,0x3a,0x65,0x76,
	0x65,0x6e,0x74,0x2d,0x74,0x79,0x70,0x65,0x07,0x00,0x05,0x63,0x68,0x75,0x6e,0x6b,
	0x0d,0x3a,0x63,0x6f,0x6e,0x74,0x65,0x6e,0x74,0x2d,0x74,0x79,0x70,0x65,0x07,0x00,
	0x10,0x61,0x70,0x70,0x6c,0x69,0x63,0x61,0x74,0x69,0x6f,0x6e,0x2f,0x6a,0x73,0x6f,
	0x6e,0x0d,0x3a,0x6d,0x65,0x73,0x73,0x61,0x67,0x65,0x2d,0x74,0x79,0x70,0x65,0x07,
	0x00,0x05,0x65,0x76,0x65,0x6e,0x74,0x7b,0x22,0x62,0x79,0x74,0x65,0x73,0x22,0x3a,
	0x22,0x65,0x79,0x4a,0x30,0x65,0x58,0x42,0x6c,0x49,0x6a,0x6f,0x69,0x63,0x47,0x6c,
	0x75,0x5a,0x79,0x4a,0x39,0x22,0x7d,0x00,0x00,0x00,0x00,
};

static const unsigned char vector_crc[4] = { 0xa0,0x1f,0x56,0xc4 };

static struct es_header hdrs[3] = {
	{ ":event-type", 11, ES_STRING, "chunk", 5 },
	{ ":content-type", 13, ES_STRING, "application/json", 16 },
	{ ":message-type", 13, ES_STRING, "event", 5 },
};

int
main(void)
{
	static const char payload[] = "{\"bytes\":\"eyJ0eXBlIjoicGluZyJ9\"}";
	struct arena a;
	struct buf enc;
	struct es_decoder d;
	struct seen s;
	size_t i, step;
	int ok;

	arena_init(&a);
	buf_init(&enc, &a);
	TH_OK(es_encode(&enc, hdrs, 3, payload, strlen(payload)) == MG_OK, "encode");
	TH_OK(enc.len == sizeof(vector), "encoded length %zu is the vector's", enc.len);
	TH_OK(enc.len == sizeof(vector) && memcmp(enc.data, vector, sizeof(vector) - 4) == 0 &&
	    memcmp(enc.data + enc.len - 4, vector_crc, 4) == 0,
	    "encoding is byte for byte the independent vector");

	/* the same two messages however the bytes are chunked */
	if (buf_append(&enc, enc.data, enc.len) != MG_OK)
		return 1;
	ok = 1;
	for (step = 1; step <= enc.len; step++) {
		memset(&s, 0, sizeof(s));
		es_decoder_init(&d, &a, 0);
		for (i = 0; i < enc.len; i += step)
			if (es_feed(&d, enc.data + i, enc.len - i < step ? enc.len - i : step,
			    on_msg, &s) != MG_OK)
				ok = 0;
		if (s.n != 2 || !es_idle(&d) || s.payload_len != strlen(payload) ||
		    memcmp(s.payload, payload, s.payload_len) != 0 || strcmp(s.type, "chunk") != 0 ||
		    s.nheaders != 3)
			ok = 0;
	}
	TH_OK(ok, "two messages decoded identically under every chunk size");

	/* a partial message is not idle */
	memset(&s, 0, sizeof(s));
	es_decoder_init(&d, &a, 0);
	TH_OK(es_feed(&d, enc.data, 20, on_msg, &s) == MG_OK && !es_idle(&d) && s.n == 0,
	    "half a message: nothing delivered, not idle");

	/* every single-bit flip is refused (prelude or message CRC) and delivers nothing */
	ok = 1;
	for (i = 0; i < sizeof(vector) * 8; i++) {
		unsigned char bad[sizeof(vector)];

		memcpy(bad, enc.data, sizeof(bad));
		bad[i / 8] ^= (unsigned char)(1u << (i % 8));
		memset(&s, 0, sizeof(s));
		es_decoder_init(&d, &a, 0);
		if (es_feed(&d, (const char *)bad, sizeof(bad), on_msg, &s) != MG_EUPSTREAM ||
		    s.n != 0)
			ok = 0;
	}
	TH_OK(ok, "every bit flip is an error and nothing is delivered");
	{
		unsigned char bad[sizeof(vector)];

		memcpy(bad, enc.data, sizeof(bad));
		bad[sizeof(bad) - 1] ^= 1;
		es_decoder_init(&d, &a, 0);
		TH_OK(es_feed(&d, (const char *)bad, sizeof(bad), on_msg, &s) == MG_EUPSTREAM &&
		    strstr(d.why, "message CRC") != NULL, "bad message CRC named: %s", d.why);
		TH_OK(es_feed(&d, enc.data, sizeof(vector), on_msg, &s) == MG_EUPSTREAM,
		    "after an error every call fails");
	}

	/* bounds: a message over max_message is refused from its prelude */
	memset(&s, 0, sizeof(s));
	es_decoder_init(&d, &a, 64);
	TH_OK(es_feed(&d, enc.data, 12, on_msg, &s) == MG_EUPSTREAM &&
	    strstr(d.why, "length") != NULL, "message over the bound refused at the prelude");

	/* all header types parse; an unknown type does not */
	{
		static const unsigned char hb[] = {
			1, 'a', ES_BOOL_TRUE, 1, 'b', ES_BOOL_FALSE, 1, 'c', ES_BYTE, 7,
			1, 'd', ES_SHORT, 0, 1, 1, 'e', ES_INT, 0, 0, 0, 1,
			1, 'f', ES_LONG, 0, 0, 0, 0, 0, 0, 0, 1,
			1, 'g', ES_BYTES, 0, 2, 'x', 'y', 1, 'h', ES_STRING, 0, 1, 'z',
			1, 'i', ES_TIMESTAMP, 0, 0, 0, 0, 0, 0, 0, 1,
			1, 'j', ES_UUID, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		};
		struct es_message m;
		struct es_decoder hd;

		es_decoder_init(&hd, &a, 0);
		TH_OK(parse_headers(&hd, hb, sizeof(hb), &m) == MG_OK && m.nheaders == 10 &&
		    m.headers[6].value_len == 2 && m.headers[9].value_len == 16,
		    "all ten header types parse");
		es_decoder_init(&hd, &a, 0);
		TH_OK(parse_headers(&hd, (const unsigned char *)"\001a\012", 3, &m) == MG_EUPSTREAM,
		    "unknown header type refused");
		es_decoder_init(&hd, &a, 0);
		TH_OK(parse_headers(&hd, (const unsigned char *)"\001a\007\000\011zz", 6, &m) ==
		    MG_EUPSTREAM, "string longer than the header block refused");
	}
	arena_free(&a);
	return th_done();
}
