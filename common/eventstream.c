/*
 * eventstream.c - AWS event-stream decoder and encoder. See eventstream.h.
 *
 * CRC32 is zlib's (the IEEE polynomial AWS uses). The decoder copies a
 * message into its buffer only while it is incomplete; whole messages in a
 * chunk are decoded in place.
 */
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "eventstream.h"

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
crc(const unsigned char *p, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

/* Fixed value sizes by type; -1: a 2-byte length precedes the value. */
static const int es_value_size[ES_TYPE__MAX] = {
	[ES_BOOL_TRUE] = 0, [ES_BOOL_FALSE] = 0, [ES_BYTE] = 1, [ES_SHORT] = 2,
	[ES_INT] = 4, [ES_LONG] = 8, [ES_BYTES] = -1, [ES_STRING] = -1,
	[ES_TIMESTAMP] = 8, [ES_UUID] = 16,
};

void
es_decoder_init(struct es_decoder *d, struct arena *a, size_t max_message)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->pending, a);
	d->max_message = max_message != 0 && max_message < ES_MAX_MESSAGE ? max_message :
	    ES_MAX_MESSAGE;
}

int
es_idle(const struct es_decoder *d)
{
	return d->pending.len == 0;
}

static enum mg_err
fail(struct es_decoder *d, const char *why)
{
	snprintf(d->why, sizeof(d->why), "%s", why);
	d->failed = MG_EUPSTREAM;
	return d->failed;
}

/* Parses the header block p[0..len) into m; MG_EUPSTREAM if malformed. */
static enum mg_err
parse_headers(struct es_decoder *d, const unsigned char *p, size_t len, struct es_message *m)
{
	size_t i = 0, vlen;
	int size;

	m->nheaders = 0;
	while (i < len) {
		struct es_header *h;

		if (m->nheaders == ES_MAX_HEADERS)
			return fail(d, "too many event-stream headers");
		h = &m->headers[m->nheaders];
		h->name_len = p[i++];
		if (h->name_len == 0 || len - i < h->name_len + 1)
			return fail(d, "malformed event-stream header name");
		h->name = (const char *)p + i;
		i += h->name_len;
		if (p[i] >= ES_TYPE__MAX)
			return fail(d, "unknown event-stream header type");
		h->type = (enum es_type)p[i++];
		size = es_value_size[h->type];
		if (size < 0) {
			if (len - i < 2)
				return fail(d, "malformed event-stream header value");
			vlen = (size_t)p[i] << 8 | p[i + 1];
			i += 2;
		} else
			vlen = (size_t)size;
		if (len - i < vlen)
			return fail(d, "malformed event-stream header value");
		h->value = (const char *)p + i;
		h->value_len = vlen;
		i += vlen;
		m->nheaders++;
	}
	return MG_OK;
}

/*
 * Checks the prelude at p (ES_PRELUDE_LEN bytes available); sets *total.
 */
static enum mg_err
check_prelude(struct es_decoder *d, const unsigned char *p, size_t *total)
{
	uint32_t t = get_u32(p), h = get_u32(p + 4);

	if (crc(p, 8) != get_u32(p + 8))
		return fail(d, "event-stream prelude CRC mismatch");
	if (t < ES_MIN_MESSAGE || t > d->max_message)
		return fail(d, "event-stream message length out of bounds");
	if (h > ES_MAX_HEADERS_LEN || h > t - ES_MIN_MESSAGE)
		return fail(d, "event-stream headers length out of bounds");
	*total = t;
	return MG_OK;
}

/* Decodes one complete message p[0..total) (prelude already checked). */
static enum mg_err
decode(struct es_decoder *d, const unsigned char *p, size_t total, es_on_message on_message,
    void *ctx)
{
	struct es_message m;
	size_t hlen = get_u32(p + 4);
	enum mg_err rc;

	if (crc(p, total - 4) != get_u32(p + total - 4))
		return fail(d, "event-stream message CRC mismatch");
	rc = parse_headers(d, p + ES_PRELUDE_LEN, hlen, &m);
	if (rc != MG_OK)
		return rc;
	m.payload = (const char *)p + ES_PRELUDE_LEN + hlen;
	m.payload_len = total - ES_MIN_MESSAGE - hlen;
	m.raw = (const char *)p;
	m.raw_len = total;
	rc = on_message(ctx, &m);
	if (rc != MG_OK)
		d->failed = rc;
	return rc;
}

enum mg_err
es_feed(struct es_decoder *d, const char *data, size_t len, es_on_message on_message, void *ctx)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t total, need;
	enum mg_err rc;

	if (d->failed != MG_OK)
		return d->failed;
	while (len > 0) {
		if (d->pending.len == 0 && len >= ES_PRELUDE_LEN) {
			/* fast path: whole messages straight from the chunk */
			rc = check_prelude(d, p, &total);
			if (rc != MG_OK)
				return rc;
			if (len >= total) {
				rc = decode(d, p, total, on_message, ctx);
				if (rc != MG_OK)
					return rc;
				p += total;
				len -= total;
				continue;
			}
		}
		/* a partial message: gather the prelude, then the rest */
		need = ES_PRELUDE_LEN;
		if (d->pending.len >= ES_PRELUDE_LEN)
			need = get_u32((const unsigned char *)d->pending.data);
		need -= d->pending.len;
		if (need > len)
			need = len;
		if (buf_append(&d->pending, p, need) != MG_OK) {
			d->failed = MG_ENOMEM;
			return d->failed;
		}
		p += need;
		len -= need;
		if (d->pending.len == ES_PRELUDE_LEN) {
			rc = check_prelude(d, (const unsigned char *)d->pending.data, &total);
			if (rc != MG_OK)
				return rc;
			if (buf_reserve(&d->pending, total - ES_PRELUDE_LEN) != MG_OK) {
				d->failed = MG_ENOMEM;
				return d->failed;
			}
		}
		if (d->pending.len > ES_PRELUDE_LEN &&
		    d->pending.len == get_u32((const unsigned char *)d->pending.data)) {
			rc = decode(d, (const unsigned char *)d->pending.data, d->pending.len,
			    on_message, ctx);
			buf_clear(&d->pending);
			if (rc != MG_OK)
				return rc;
		}
	}
	return MG_OK;
}

const char *
es_header_string(const struct es_message *m, const char *name, size_t *len)
{
	size_t i, nlen = strlen(name);

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].type == ES_STRING && m->headers[i].name_len == nlen &&
		    memcmp(m->headers[i].name, name, nlen) == 0) {
			*len = m->headers[i].value_len;
			return m->headers[i].value;
		}
	return NULL;
}

enum mg_err
es_encode(struct buf *out, const struct es_header *headers, size_t nheaders,
    const char *payload, size_t payload_len)
{
	size_t hlen = 0, total, start = out->len, i;
	unsigned char word[4];

	for (i = 0; i < nheaders; i++) {
		if (headers[i].name_len == 0 || headers[i].name_len > 255 ||
		    headers[i].value_len > 0xffff)
			return MG_EINVAL;
		hlen += 1 + headers[i].name_len + 1 + 2 + headers[i].value_len;
	}
	if (hlen > ES_MAX_HEADERS_LEN || payload_len > ES_MAX_MESSAGE - ES_MIN_MESSAGE - hlen)
		return MG_ETOOBIG;
	total = ES_MIN_MESSAGE + hlen + payload_len;
	if (buf_reserve(out, total) != MG_OK)
		return MG_ENOMEM;
	put_u32(word, (uint32_t)total);
	buf_append(out, word, 4);
	put_u32(word, (uint32_t)hlen);
	buf_append(out, word, 4);
	put_u32(word, crc((const unsigned char *)out->data + start, 8));
	buf_append(out, word, 4);
	for (i = 0; i < nheaders; i++) {
		unsigned char b[3];

		b[0] = (unsigned char)headers[i].name_len;
		buf_append(out, b, 1);
		buf_append(out, headers[i].name, headers[i].name_len);
		b[0] = ES_STRING;
		b[1] = (unsigned char)(headers[i].value_len >> 8);
		b[2] = (unsigned char)headers[i].value_len;
		buf_append(out, b, 3);
		buf_append(out, headers[i].value, headers[i].value_len);
	}
	buf_append(out, payload, payload_len);
	put_u32(word, crc((const unsigned char *)out->data + start, total - 4));
	return buf_append(out, word, 4);
}
