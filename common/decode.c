/*
 * decode.c - decoded views of escaped text and base64 for the masking
 * engine; see decode.h. Decoding is lenient on purpose: anything that is
 * not a complete escape is copied as it is, because the view only decides
 * what to scan and never replaces the client's text.
 */
#include <ctype.h>
#include <string.h>

#include "crypto.h"
#include "decode.h"

/* Appends code point cp as UTF-8 (a replacement character if invalid). */
static size_t
utf8_put(char *out, unsigned long cp)
{
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Value of the 4 hex digits at s, or -1. */
static long
hex4(const char *s)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int h = crypto_hexval(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * A JSON string escape at in[i] ('\\' there): writes what it stands for to
 * out, returns its length in the input, or 0 if it is none.
 */
static size_t
json_escape(const char *in, size_t len, size_t i, char *out, size_t *outlen)
{
	static const char from[] = "/\"\\bfnrt", to[] = "/\"\\\b\f\n\r\t";
	const char *p;
	long cp, lo;

	if (i + 1 >= len)
		return 0;
	p = strchr(from, in[i + 1]);
	if (p != NULL && in[i + 1] != '\0') {
		out[0] = to[p - from];
		*outlen = 1;
		return 2;
	}
	if (in[i + 1] != 'u' || i + 6 > len)
		return 0;
	cp = hex4(in + i + 2);
	if (cp < 0)
		return 0;
	lo = i + 12 <= len && in[i + 6] == '\\' && in[i + 7] == 'u' ? hex4(in + i + 8) : -1;
	if (cp >= 0xD800 && cp <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF) {
		*outlen = utf8_put(out, 0x10000 + (((unsigned long)cp - 0xD800) << 10) +
		    ((unsigned long)lo - 0xDC00));
		return 12;
	}
	*outlen = utf8_put(out, (unsigned long)cp);
	return 6;
}

/* A percent escape at in[i] ('%' there). */
static size_t
percent_escape(const char *in, size_t len, size_t i, char *out, size_t *outlen)
{
	int h, l;

	if (i + 3 > len)
		return 0;
	h = crypto_hexval(in[i + 1]);
	l = crypto_hexval(in[i + 2]);
	if (h < 0 || l < 0)
		return 0;
	out[0] = (char)(h * 16 + l);
	*outlen = 1;
	return 3;
}

/* Named references that can stand for a character of an identifier. */
static const struct {
	const char *name;
	char c;
} named[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "sol", '/' }, { "plus", '+' }, { "equals", '=' }, { "colon", ':' },
	{ "lowbar", '_' }, { "period", '.' }, { "comma", ',' }, { "num", '#' },
	{ "percnt", '%' }, { "nbsp", ' ' }, { "Tab", '\t' }, { "NewLine", '\n' },
};

/* An HTML character reference at in[i] ('&' there). */
static size_t
html_escape(const char *in, size_t len, size_t i, char *out, size_t *outlen)
{
	size_t j = i + 1, k;
	unsigned long cp = 0;
	int digits = 0;

	if (j < len && in[j] == '#') {
		int hex = j + 1 < len && (in[j + 1] == 'x' || in[j + 1] == 'X');
		for (j += 1 + (size_t)hex; j < len && digits < 8; j++, digits++) {
			int d = hex ? crypto_hexval(in[j]) :
			    (isdigit((unsigned char)in[j]) ? in[j] - '0' : -1);
			if (d < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (digits == 0 || j >= len || in[j] != ';' || cp == 0)
			return 0;
		*outlen = utf8_put(out, cp);
		return j + 1 - i;
	}
	for (k = 0; k < MG_NELEM(named); k++) {
		size_t n = strlen(named[k].name);
		if (j + n < len && memcmp(in + j, named[k].name, n) == 0 && in[j + n] == ';') {
			out[0] = named[k].c;
			*outlen = 1;
			return n + 2;
		}
	}
	return 0;
}

/* One level; returns 1 decoded, 0 nothing to decode, -1 out of memory. */
static int
decode_once(struct arena *a, const char *in, size_t len, struct decode_view *v)
{
	size_t i = 0, o = 0, used, n;
	char tmp[8];
	int any = 0;

	if (len >= UINT32_MAX)
		return -1;
	if (memchr(in, '\\', len) == NULL && memchr(in, '%', len) == NULL &&
	    memchr(in, '&', len) == NULL)
		return 0;
	/* a decoded escape is never longer than its spelling */
	v->text = arena_alloc(a, len + 1);
	v->from = arena_alloc(a, (len + 1) * sizeof(*v->from));
	if (v->text == NULL || v->from == NULL)
		return -1;
	while (i < len) {
		used = 0;
		n = 0;
		if (in[i] == '\\')
			used = json_escape(in, len, i, tmp, &n);
		else if (in[i] == '%')
			used = percent_escape(in, len, i, tmp, &n);
		else if (in[i] == '&')
			used = html_escape(in, len, i, tmp, &n);
		if (used == 0) {
			tmp[0] = in[i];
			n = 1;
			used = 1;
		} else {
			any = 1;
		}
		MG_ASSERT(n <= used);
		memcpy(v->text + o, tmp, n);
		while (n-- > 0)
			v->from[o++] = (uint32_t)i;
		i += used;
	}
	v->text[o] = '\0';
	v->from[o] = (uint32_t)len;
	v->len = o;
	return any;
}

int
decode_view_deep(struct arena *a, const char *in, size_t len, int levels, struct decode_view *v)
{
	struct decode_view cur, next;
	size_t i;
	int rc, depth;

	rc = decode_once(a, in, len, &cur);
	if (rc <= 0)
		return rc;
	for (depth = 1; depth < levels; depth++) {
		rc = decode_once(a, cur.text, cur.len, &next);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		/* compose: next indexes cur, cur indexes the original */
		for (i = 0; i <= next.len; i++)
			next.from[i] = cur.from[next.from[i]];
		cur = next;
	}
	*v = cur;
	return 1;
}

size_t
decode_end(const struct decode_view *v, size_t b)
{
	MG_ASSERT(b > 0 && b <= v->len);
	while (b < v->len && v->from[b] == v->from[b - 1])
		b++;
	return v->from[b];
}

int
decode_credential_name(const char *name, size_t len)
{
	static const char *const words[] = {
		"secret", "token", "password", "passwd", "credential", "key", "auth", "aws",
		"config", "env",
	};
	char low[64];
	size_t i;

	if (len == 0)
		return 0;
	if (len >= sizeof(low))
		len = sizeof(low) - 1;
	for (i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[len] = '\0';
	for (i = 0; i < MG_NELEM(words); i++)
		if (strstr(low, words[i]) != NULL)
			return 1;
	return 0;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes in[0..len) into out (room for len * 3 / 4 + 3); returns bytes. */
static size_t
b64_decode_raw(const char *in, size_t len, unsigned char *out)
{
	unsigned long acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < len && in[i] != '='; i++) {
		acc = (acc << 6) | (unsigned long)b64val((unsigned char)in[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	return o;
}

int
decode_is_base64_text(const char *in, size_t len, int *padded)
{
	unsigned char buf[96];
	size_t body = len, i, n;

	while (body > 0 && len - body < 2 && in[body - 1] == '=')
		body--;
	if (body < 16 || (body % 4) == 1 || (body != len && len % 4 != 0))
		return 0;
	for (i = 0; i < body; i++)
		if (b64val((unsigned char)in[i]) < 0)
			return 0;
	/* text, judged by its start: binary (keys, images) is not scanned */
	n = b64_decode_raw(in, body < 128 ? body : 128, buf);
	for (i = 0; i < n; i++)
		if (buf[i] == 0 || (buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\r' &&
		    buf[i] != '\t') || buf[i] == 0x7f)
			return 0;
	*padded = body != len;
	return 1;
}

enum mg_err
decode_base64(const char *in, size_t len, struct buf *out)
{
	enum mg_err rc = buf_reserve(out, len / 4 * 3 + 4);
	size_t n;

	if (rc != MG_OK)
		return rc;
	n = b64_decode_raw(in, len, (unsigned char *)out->data + out->len);
	out->len += n;
	out->data[out->len] = '\0';
	return MG_OK;
}

enum mg_err
decode_base64_append(struct buf *out, const char *in, size_t len, int pad)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)in;
	size_t i;
	enum mg_err rc = buf_reserve(out, (len + 2) / 3 * 4 + 1);

	if (rc != MG_OK)
		return rc;
	for (i = 0; i + 3 <= len; i += 3) {
		unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8) | s[i + 2];
		char q[4] = { alpha[v >> 18], alpha[(v >> 12) & 63], alpha[(v >> 6) & 63],
			alpha[v & 63] };
		rc = buf_append(out, q, 4);
		if (rc != MG_OK)
			return rc;
	}
	if (i < len) {
		unsigned long v = (unsigned long)s[i] << 16;
		char q[4];
		size_t k = 2;
		if (i + 1 < len) {
			v |= (unsigned long)s[i + 1] << 8;
			k = 3;
		}
		q[0] = alpha[v >> 18];
		q[1] = alpha[(v >> 12) & 63];
		q[2] = k == 3 ? alpha[(v >> 6) & 63] : '=';
		q[3] = '=';
		rc = buf_append(out, q, pad ? 4 : k);
	}
	return rc;
}

static int
name_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

int
decode_next_b64_field(const char *text, size_t len, size_t *pos, struct decode_field *f)
{
	size_t p;

	for (p = *pos; p < len; p++) {
		size_t ne, ns, vs, ve;
		int padded, pad;

		if (text[p] != ':' && text[p] != '=')
			continue;
		ne = p;
		while (ne > *pos && (text[ne - 1] == ' ' || text[ne - 1] == '\t'))
			ne--;
		if (ne > *pos && (text[ne - 1] == '"' || text[ne - 1] == '\''))
			ne--;
		ns = ne;
		while (ns > *pos && name_char((unsigned char)text[ns - 1]))
			ns--;
		if (ns == ne || !decode_credential_name(text + ns, ne - ns))
			continue;
		vs = p + 1;
		while (vs < len && (text[vs] == ' ' || text[vs] == '\t'))
			vs++;
		if (vs < len && (text[vs] == '"' || text[vs] == '\''))
			vs++;
		for (ve = vs; ve < len && b64val((unsigned char)text[ve]) >= 0; ve++)
			;
		for (pad = 0; ve < len && pad < 2 && text[ve] == '='; pad++)
			ve++;
		if (ve < len && (text[ve] == '=' || b64val((unsigned char)text[ve]) >= 0))
			continue;
		if (!decode_is_base64_text(text + vs, ve - vs, &padded))
			continue;
		f->name = ns;
		f->namelen = ne - ns;
		f->value = vs;
		f->valuelen = ve - vs;
		*pos = ve;
		return 1;
	}
	*pos = len;
	return 0;
}
