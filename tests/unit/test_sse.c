/*
 * test_sse.c - the streaming rewriter against a small table-based unmasker:
 * placeholders split across deltas and network chunks, holdback at
 * AWS_X_1 / AWS_X_10, JSON escaping in input_json_delta, passthrough,
 * usage capture, malformed upstream streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "th.h"
#include "arena.h"
#include "sse.h"

/* ---- test unmasker: tokens AWS_<A-Z>+_<0-9>+ looked up in a table ---- */

static const struct {
	const char *placeholder;
	const char *original;
} table[] = {
	{ "AWS_X_1", "one" },
	{ "AWS_X_10", "ten" },
	{ "AWS_Q_2", "q\"uo\\te" },
	{ "AWS_EC_7", "i-0abc7" },
	{ "AWS_SK_3_K7Q2", "wJalr/secret" },	/* a credential: not into tool input */
};

static int flags_seen;	/* every flag any unmask call got */

#include "sse_tokens.h"

static int unmask_calls_fail;

static enum mg_err
t_unmask(void *ctx, const char *in, size_t len, int flags, struct buf *out)
{
	int json_escape = (flags & SSE_UNMASK_JSON) != 0;
	/* in[0..ctx) was released before: context only, not written again */
	size_t ctxlen = SSE_UNMASK_CTX_LEN(flags);
	size_t i = ctxlen, k, n;

	(void)ctx;
	flags_seen |= flags & (SSE_UNMASK_JSON | SSE_UNMASK_TOOL_INPUT);
	if (unmask_calls_fail)
		return MG_ESTORE;
	while (i < len) {
		n = token_at(in + i, len - i);
		for (k = 0; n > 0 && k < MG_NELEM(table); k++) {
			if (strlen(table[k].placeholder) == n &&
			    memcmp(table[k].placeholder, in + i, n) == 0)
				break;
		}
		if (n > 0 && k < MG_NELEM(table) && (flags & SSE_UNMASK_TOOL_INPUT) &&
		    strncmp(table[k].placeholder, "AWS_SK_", 7) == 0)
			k = MG_NELEM(table);	/* the restore policy of credentials */
		if (n > 0 && k < MG_NELEM(table)) {
			if (json_escape)
				buf_append_json_escaped(out, table[k].original,
				    strlen(table[k].original));
			else
				buf_appends(out, table[k].original);
			i += n;
			continue;
		}
		buf_appendc(out, in[i]);
		i++;
	}
	return MG_OK;
}

static const struct sse_unmasker um = { t_unmask, t_holdback, NULL };

/* ---- output capture ---- */

struct sink {
	struct buf out;
	int events;
	int fail_after;	/* emit returns MG_EIO once this many events are out; -1 never */
};

static enum mg_err
t_emit(void *ctx, const char *bytes, size_t len)
{
	struct sink *s = ctx;

	if (s->fail_after >= 0 && s->events >= s->fail_after)
		return MG_EIO;
	s->events++;
	return buf_append(&s->out, bytes, len);
}

/* Runs input through a rewriter, chunked at the given split points. */
static enum mg_err
run_split(struct arena *a, const char *in, size_t len, const size_t *cuts, size_t ncuts,
    struct sink *s, struct sse **rp)
{
	struct sse *r;
	enum mg_err rc = MG_OK;
	size_t prev = 0, i;

	buf_init(&s->out, a);
	s->events = 0;
	r = sse_new(a, &um, t_emit, s);
	if (rp != NULL)
		*rp = r;
	for (i = 0; i <= ncuts && rc == MG_OK; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		rc = sse_feed(r, in + prev, end - prev);
		prev = end;
	}
	if (rc == MG_OK)
		rc = sse_finish(r);
	return rc;
}

static enum mg_err
run(struct arena *a, const char *in, struct sink *s, struct sse **rp)
{
	return run_split(a, in, strlen(in), NULL, 0, s, rp);
}

/*
 * Concatenation of the delta text of type dtype for block index in an
 * output stream (LF-terminated events); malloc'd.
 */
static char *
deltas(const char *stream, int index, const char *dtype, const char *field)
{
	struct buf acc;
	struct arena a;
	const char *p = stream, *nl;
	char *res;

	arena_init(&a);
	buf_init(&acc, &a);
	buf_appends(&acc, "");
	while ((nl = strchr(p, '\n')) != NULL) {
		if (strncmp(p, "data: ", 6) == 0) {
			char *line = strndup(p + 6, (size_t)(nl - p - 6));
			struct json_object *ev = json_tokener_parse(line), *d, *v, *ix, *t;
			if (json_object_object_get_ex(ev, "delta", &d) &&
			    json_object_object_get_ex(ev, "index", &ix) &&
			    json_object_get_int(ix) == index &&
			    json_object_object_get_ex(d, "type", &t) &&
			    strcmp(json_object_get_string(t), dtype) == 0 &&
			    json_object_object_get_ex(d, field, &v))
				buf_append(&acc, json_object_get_string(v),
				    (size_t)json_object_get_string_len(v));
			json_object_put(ev);
			free(line);
		}
		p = nl + 1;
	}
	res = strdup(acc.data);
	arena_free(&a);
	return res;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

#define START "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":7,\"output_tokens\":1}}}\n\n"
#define BSTART(i, t) "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":" #i ",\"content_block\":{\"type\":\"" t "\",\"text\":\"\"}}\n\n"
#define TEXT(i, s) "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" s "\"}}\n\n"
#define THINK(i, s) "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"" s "\"}}\n\n"
#define JSOND(i, s) "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"" s "\"}}\n\n"
#define SIG(i) "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM/AWS_X_1+==\"}}\n\n"
#define BSTOP(i) "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":" #i "}\n\n"
#define PING "event: ping\ndata: {\"type\": \"ping\"}\n\n"
#define MDELTA "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n"
#define STOP "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

static void
test_split_two_and_three(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	enum mg_err rc;
	char *t;

	rc = run(a, START BSTART(0, "text") TEXT(0, "Instance AWS_X") TEXT(0, "_1 is up")
	    BSTOP(0) MDELTA STOP, &s, NULL);
	TH_OK(rc == MG_OK, "two-delta split: finishes OK");
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "Instance one is up", "two-delta split restored");
	free(t);
	TH_OK(strstr(s.out.data, "AWS_") == NULL, "no placeholder fragment reaches the client");
	TH_OK(strstr(s.out.data, TEXT(0, "Instance ")) != NULL,
	    "safe prefix released at once, same event shape");

	rc = run(a, START BSTART(0, "text") TEXT(0, "see AW") TEXT(0, "S_E") TEXT(0, "C_7 now")
	    BSTOP(0) MDELTA STOP, &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_OK(rc == MG_OK, "three-delta split: finishes OK");
	TH_STREQ(t, "see i-0abc7 now", "three-delta split restored");
	free(t);
	TH_OK(count(s.out.data, "content_block_delta\ndata") == 2,
	    "a delta with nothing releasable emits nothing (2 deltas out of 3)");
}

static void
test_prefix_confusion(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	char *t;

	run(a, START BSTART(0, "text") TEXT(0, "a AWS_X_1") TEXT(0, "0 b") BSTOP(0) MDELTA STOP,
	    &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "a ten b", "AWS_X_1 then 0 becomes AWS_X_10");
	free(t);

	run(a, START BSTART(0, "text") TEXT(0, "a AWS_X_1") TEXT(0, " b") BSTOP(0) MDELTA STOP,
	    &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "a one b", "AWS_X_1 then space stays AWS_X_1");
	free(t);

	run(a, START BSTART(0, "text") TEXT(0, "ends AWS_X_1") BSTOP(0) MDELTA STOP, &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "ends one", "held tail flushed at content_block_stop");
	free(t);
	TH_OK(strstr(s.out.data, TEXT(0, "one") BSTOP(0)) != NULL,
	    "flush is one text_delta right before the stop event");

	run(a, START BSTART(0, "text") TEXT(0, "AWS_") TEXT(0, "unknown AWS_Z_99") BSTOP(0)
	    MDELTA STOP, &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "AWS_unknown AWS_Z_99", "unknown placeholders and false starts pass as text");
	free(t);
}

static void
test_input_json(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	struct json_object *o, *v;
	char *t;

	run(a, START "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{}}}\n\n"
	    JSOND(1, "") JSOND(1, "{\\\"command\\\": \\\"echo AWS_") JSOND(1, "Q_2 AWS_X_")
	    JSOND(1, "10\\\"}") BSTOP(1) MDELTA STOP, &s, NULL);
	t = deltas(s.out.data, 1, "input_json_delta", "partial_json");
	TH_STREQ(t, "{\"command\": \"echo q\\\"uo\\\\te ten\"}",
	    "input_json_delta: split placeholders restored, JSON-escaped");
	o = json_tokener_parse(t);
	TH_OK(o != NULL && json_object_object_get_ex(o, "command", &v) &&
	    strcmp(json_object_get_string(v), "echo q\"uo\\te ten") == 0,
	    "concatenated partial_json parses to the real value");
	json_object_put(o);
	free(t);
	TH_OK(strstr(s.out.data, JSOND(1, "")) != NULL, "empty partial_json delta passes");
}

/*
 * Tool input carries SSE_UNMASK_TOOL_INPUT: a credential placeholder
 * (tagged, split across deltas) stays one there, and restores in text.
 */
static void
test_tool_input_policy(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	char *t;

	flags_seen = 0;
	run(a, START BSTART(0, "text") TEXT(0, "key AWS_SK_3") TEXT(0, "_K7") TEXT(0, "Q2 ok") BSTOP(0)
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{}}}\n\n"
	    JSOND(1, "{\\\"command\\\": \\\"curl x?sk=AWS_SK_") JSOND(1, "3_K7Q") JSOND(1, "2&i=AWS_EC_7\\\"}")
	    BSTOP(1) MDELTA STOP, &s, NULL);
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "key wJalr/secret ok", "text: a tagged placeholder split three ways restores");
	free(t);
	t = deltas(s.out.data, 1, "input_json_delta", "partial_json");
	TH_STREQ(t, "{\"command\": \"curl x?sk=AWS_SK_3_K7Q2&i=i-0abc7\"}",
	    "tool input: the credential stays a placeholder, the ID restores");
	free(t);
	TH_OK(flags_seen == (SSE_UNMASK_JSON | SSE_UNMASK_TOOL_INPUT),
	    "input_json_delta is unmasked as JSON tool input, text as plain text");
}

static void
test_thinking_and_passthrough(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	const char *in = START BSTART(0, "thinking") PING THINK(0, "check AWS_E") THINK(0, "C_7.")
	    SIG(0) BSTOP(0) BSTART(1, "text") TEXT(1, "ok") BSTOP(1)
	    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded AWS_X_1\"}}\n\n";
	char *t;
	enum mg_err rc;

	rc = run(a, in, &s, NULL);
	TH_OK(rc == MG_OK, "stream ending with an upstream error event is clean");
	t = deltas(s.out.data, 0, "thinking_delta", "thinking");
	TH_STREQ(t, "check i-0abc7.", "thinking_delta restored");
	free(t);
	TH_OK(strncmp(s.out.data, START BSTART(0, "thinking") PING, strlen(START BSTART(0, "thinking") PING)) == 0,
	    "message_start, content_block_start, ping byte for byte");
	TH_OK(strstr(s.out.data, SIG(0) BSTOP(0)) != NULL, "signature_delta byte for byte");
	TH_OK(strstr(s.out.data, "\"Overloaded AWS_X_1\"}}\n\n") != NULL,
	    "upstream error event byte for byte, last");
	TH_OK(count(s.out.data, "event: error") == 1, "no error event added");
}

static void
test_citations(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
#define CITE_PLAIN "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"char_location\",\"cited_text\":\"nothing here\",\"document_index\":0}}}\n\n"

	run(a, START BSTART(0, "text") "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"char_location\",\"cited_text\":\"id AWS_X_1\",\"document_index\":0,\"document_title\":\"AWS_EC_7\"}}}\n\n"
	    CITE_PLAIN BSTOP(0) MDELTA STOP, &s, NULL);
	TH_OK(strstr(s.out.data, "\"cited_text\":\"id one\",\"document_index\":0,\"document_title\":\"i-0abc7\"") != NULL,
	    "citations_delta: cited text restored in full");
	TH_OK(strstr(s.out.data, CITE_PLAIN) != NULL, "citations_delta with nothing to restore: byte for byte");
}

static void
test_usage(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	struct sse *r;
	const struct jwalk_usage *u;

	run(a, START BSTART(0, "text") TEXT(0, "hi") BSTOP(0)
	    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n"
	    MDELTA STOP, &s, &r);
	u = sse_usage(r);
	TH_OK(u->input_tokens == 25 && u->cache_creation_input_tokens == 3 &&
	    u->cache_read_input_tokens == 7, "usage from message_start");
	TH_OK(u->output_tokens == 42, "output_tokens is the last cumulative message_delta value");
	TH_STREQ(sse_model(r), "claude-sonnet-4-5", "model from message_start");
	TH_OK(sse_events_emitted(r) == 7, "events emitted counted");
}

static void
test_all_split_points(struct arena *a)
{
	static const char in[] = START BSTART(0, "text") PING TEXT(0, "Hi AWS_X_1") TEXT(0, "0 and AWS_")
	    TEXT(0, "X_1, AWS_Q_2") BSTOP(0)
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{}}}\n\n"
	    JSOND(1, "{\\\"a\\\":\\\"AWS_Q") JSOND(1, "_2\\\"}") BSTOP(1) ": keepalive\n\n" MDELTA STOP;
	struct sink s1 = { .fail_after = -1 }, s2 = { .fail_after = -1 };
	size_t len = strlen(in), cut, cuts[2];
	int bad = 0, bad3 = 0;
	char *t, *expect_out;
	enum mg_err rc;

	rc = run(a, in, &s1, NULL);
	TH_OK(rc == MG_OK, "recorded stream: one-shot OK");
	t = deltas(s1.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "Hi ten and one, q\"uo\\te", "recorded stream: text restored");
	free(t);
	t = deltas(s1.out.data, 1, "input_json_delta", "partial_json");
	TH_STREQ(t, "{\"a\":\"q\\\"uo\\\\te\"}", "recorded stream: tool input restored and escaped");
	free(t);
	expect_out = strdup(s1.out.data);
	for (cut = 0; cut <= len; cut++) {
		cuts[0] = cut;
		rc = run_split(a, in, len, cuts, 1, &s2, NULL);
		if (rc != MG_OK || strcmp(s2.out.data, expect_out) != 0)
			bad++;
		arena_reset(a);
	}
	TH_OK(bad == 0, "every one of %zu split points gives the same output (%d differ)", len + 1, bad);
	for (cut = 0; cut + 1 < len; cut += 7) {
		cuts[0] = cut;
		cuts[1] = cut + 1 + (cut * 13) % (len - cut - 1);
		rc = run_split(a, in, len, cuts, 2, &s2, NULL);
		if (rc != MG_OK || strcmp(s2.out.data, expect_out) != 0)
			bad3++;
		arena_reset(a);
	}
	TH_OK(bad3 == 0, "three-chunk splits give the same output (%d differ)", bad3);
	{
		struct sse *r;
		size_t i;

		buf_init(&s2.out, a);
		s2.events = 0;
		r = sse_new(a, &um, t_emit, &s2);
		rc = MG_OK;
		for (i = 0; i < len && rc == MG_OK; i++)
			rc = sse_feed(r, in + i, 1);
		if (rc == MG_OK)
			rc = sse_finish(r);
		TH_OK(rc == MG_OK && strcmp(s2.out.data, expect_out) == 0,
		    "one byte at a time gives the same output");
	}
	free(expect_out);
}

static void
test_crlf(struct arena *a)
{
	static const char in[] = "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\r\n\r\n"
	    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\r\ndata: \"delta\":{\"type\":\"text_delta\",\"text\":\"x AWS_X_1\"}}\r\n\r\n"
	    ": comment\r\n"
	    "event: content_block_stop\rdata: {\"type\":\"content_block_stop\",\"index\":0}\r\r"
	    "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";
	struct sink s1 = { .fail_after = -1 }, s2 = { .fail_after = -1 };
	size_t len = strlen(in), cut;
	int bad = 0;
	char *t, *expect_out;
	enum mg_err rc;

	rc = run(a, in, &s1, NULL);
	TH_OK(rc == MG_OK, "CRLF/CR stream with multi-line data: OK");
	t = deltas(s1.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "x one", "multi-line data joined and restored");
	free(t);
	TH_OK(strncmp(s1.out.data, "event: message_start\r\n", 22) == 0,
	    "CRLF passthrough byte for byte");
	expect_out = strdup(s1.out.data);
	for (cut = 0; cut <= len; cut++) {
		rc = run_split(a, in, len, &cut, 1, &s2, NULL);
		if (rc != MG_OK || strcmp(s2.out.data, expect_out) != 0)
			bad++;
		arena_reset(a);
	}
	TH_OK(bad == 0, "CRLF stream: every split point gives the same output (%d differ)", bad);
	free(expect_out);
}

static void
test_malformed(struct arena *a)
{
	struct sink s = { .fail_after = -1 };
	struct sse *r;
	enum mg_err rc;
	char *t, *big;
	size_t i;

	rc = run(a, START BSTART(0, "text") TEXT(0, "held AWS_X_1")
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x}\n\n"
	    BSTOP(0) STOP, &s, &r);
	TH_OK(rc == MG_EUPSTREAM, "bad JSON in a delta: MG_EUPSTREAM");
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "held one", "bad JSON: held text released first");
	free(t);
	TH_OK(strstr(s.out.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":") != NULL &&
	    s.out.len > 2 && strcmp(s.out.data + s.out.len - 2, "\n\n") == 0,
	    "bad JSON: well-formed error event ends the output");
	TH_OK(strstr(s.out.data, "content_block_stop") == NULL, "nothing after the error");
	TH_OK(sse_feed(r, PING, strlen(PING)) == MG_EUPSTREAM, "feed after failure keeps failing");

	rc = run(a, START BSTART(0, "text") TEXT(0, "part AWS_X_1") "event: content_block_delta\ndata: {\"type\":", &s, NULL);
	TH_OK(rc == MG_EUPSTREAM, "closed mid-event: MG_EUPSTREAM");
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "part one", "closed mid-event: held text released");
	free(t);
	TH_OK(count(s.out.data, "event: error\n") == 1 && strstr(s.out.data, "mid-event") != NULL,
	    "closed mid-event: one error event");

	rc = run(a, START BSTART(0, "text") TEXT(0, "cut AWS_") , &s, NULL);
	TH_OK(rc == MG_EUPSTREAM && strstr(s.out.data, "before message_stop") != NULL,
	    "closed between events before message_stop: error event");
	t = deltas(s.out.data, 0, "text_delta", "text");
	TH_STREQ(t, "cut AWS_", "closed before stop: partial prefix released as text");
	free(t);

	rc = run(a, "", &s, &r);
	TH_OK(rc == MG_EUPSTREAM && sse_events_emitted(r) == 0, "empty upstream body: error");

	buf_init(&s.out, a);
	s.events = 0;
	r = sse_new(a, &um, t_emit, &s);
	sse_set_max_event(r, 1024);
	rc = sse_feed(r, START, strlen(START));
	big = malloc(4096);
	memset(big, 'a', 4096);
	memcpy(big, "data: ", 6);
	for (i = 0; i < 4 && rc == MG_OK; i++)
		rc = sse_feed(r, big, 1024);
	free(big);
	TH_OK(rc == MG_EUPSTREAM && strstr(s.out.data, "too large") != NULL,
	    "event over the size bound: error before it ends");

	rc = run(a, START "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":99999,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n", &s, NULL);
	TH_OK(rc == MG_EUPSTREAM, "absurd block index: error");

	rc = run(a, START "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":5}}\n\n", &s, NULL);
	TH_OK(rc == MG_EUPSTREAM, "delta text not a string: error");

	rc = run(a, START "event: ping\ndata: {not json\n\n" "event: weird\ndata: [1,2\n\n" MDELTA STOP, &s, NULL);
	TH_OK(rc == MG_OK && strstr(s.out.data, "data: {not json\n\n") != NULL &&
	    strstr(s.out.data, "data: [1,2\n\n") != NULL, "unparseable non-delta events pass through");

	unmask_calls_fail = 1;
	rc = run(a, START BSTART(0, "text") TEXT(0, "hello") BSTOP(0) MDELTA STOP, &s, NULL);
	unmask_calls_fail = 0;
	TH_OK(rc == MG_ESTORE && strstr(s.out.data, "hello") == NULL &&
	    strstr(s.out.data, "event: error") != NULL,
	    "unmasker failure: error event, text not sent unrestored");
}

static void
test_client_gone(struct arena *a)
{
	struct sink s = { .fail_after = 2 };
	struct sse *r;
	enum mg_err rc;

	buf_init(&s.out, a);
	r = sse_new(a, &um, t_emit, &s);
	rc = sse_feed(r, START BSTART(0, "text") PING TEXT(0, "x") BSTOP(0),
	    strlen(START BSTART(0, "text") PING TEXT(0, "x") BSTOP(0)));
	TH_OK(rc == MG_EIO, "emit error is returned at once");
	TH_OK(s.events == 2, "nothing is emitted after the emit error");
	TH_OK(sse_finish(r) == MG_EIO && s.events == 2, "finish after client gone: same error, no output");
}

int
main(void)
{
	struct arena a;

	arena_init(&a);
	test_split_two_and_three(&a);
	test_prefix_confusion(&a);
	test_input_json(&a);
	test_tool_input_policy(&a);
	test_thinking_and_passthrough(&a);
	test_citations(&a);
	test_usage(&a);
	test_all_split_points(&a);
	test_crlf(&a);
	test_malformed(&a);
	test_client_gone(&a);
	arena_free(&a);
	return th_done();
}
