/*
 * test_jwalk_elems.c - the raw scanner of a request's long arrays
 * (jwalk_elems.c): the spans it finds, the bodies it gives up on, and that
 * reduce + merge give back the client's bytes, whichever elements were
 * taken out, for compact, pretty-printed and escaped bodies.
 */
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "jwalk.h"
#include "th.h"

static struct arena a;

/* The span of element i as a copy (arena). */
static const char *
span(const char *body, const struct jwalk_elems *el, size_t i)
{
	return arena_strndup(&a, body + el->v[i].start, el->v[i].end - el->v[i].start);
}

static void
test_find(void)
{
	const char *body = "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"a]}\\\"[\"}],"
	    "\"x\":[1,2],\"messages\": [ {\"role\":\"user\",\"content\":\"hi\"} ,\n"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"{\"}]} ],"
	    "\"tools\":[]}";
	struct jwalk_elems el;

	TH_OK(jwalk_elems_find(body, strlen(body), &a, &el, NULL) == 1, "find: elements found");
	TH_OK(el.n == 3 && el.narr == 3 && el.nkeys == 5, "find: 3 elements in 3 arrays, 5 members "
	    "(%zu, %zu, %zu)", el.n, el.narr, el.nkeys);
	TH_STREQ(span(body, &el, 0), "{\"type\":\"text\",\"text\":\"a]}\\\"[\"}",
	    "find: brackets and escaped quotes inside strings are text");
	TH_STREQ(el.v[1].field, "messages", "find: the element's array");
	TH_STREQ(span(body, &el, 1), "{\"role\":\"user\",\"content\":\"hi\"}",
	    "find: whitespace around elements is not theirs");
	TH_OK(el.arr[2].n == 0 && strcmp(el.arr[2].field, "tools") == 0, "find: an empty array");
}

static void
test_give_up(void)
{
	const char *bad[] = {
		"", "[]", "{\"messages\":[{\"a\":1}", "{\"messages\":[{\"a\":1}]", "{\"messages\":[{]}]}",
		"{\"messages\":[\"unterminated]}", "{\"messages\":[1 2]}", "{\"a\":1} trailing",
		"{\"messages\":[{}],}", "{\"messages\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		    "[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]]]]]]]]]]]}"
	};
	struct jwalk_elems el;
	size_t i;

	for (i = 0; i < MG_NELEM(bad); i++)
		TH_OK(jwalk_elems_find(bad[i], strlen(bad[i]), &a, &el, NULL) == 0 && el.n == 0,
		    "give up: %.30s", bad[i]);
	TH_OK(jwalk_elems_find("{\"system\":\"text\"}", 17, &a, &el, NULL) == 0 && el.nkeys == 1,
	    "a system string has no elements");
}

/*
 * Takes out the elements whose bit is set in mask, then merges the reduced
 * body (standing for its own masked output) back: the original bytes.
 */
static int
round_trip(const char *body, unsigned mask)
{
	struct jwalk_elems el;
	const char *reduced, *merged;
	size_t rlen, mlen, i;

	if (!jwalk_elems_find(body, strlen(body), &a, &el, NULL))
		return 0;
	for (i = 0; i < el.n; i++) {
		el.v[i].cached = (mask >> i) & 1;
		el.v[i].out = el.v[i].cached ? body + el.v[i].start : NULL;
		el.v[i].outlen = el.v[i].end - el.v[i].start;
	}
	reduced = jwalk_elems_reduce(body, strlen(body), &el, &a, &rlen);
	if (reduced == NULL)
		return 0;
	merged = jwalk_elems_merge(body, &el, reduced, rlen, &a, &mlen);
	return merged != NULL && mlen == strlen(body) && memcmp(merged, body, mlen) == 0;
}

static void
test_round_trip(void)
{
	const char *bodies[] = {
		"{\"system\":[{\"t\":1},{\"t\":2}],\"tools\":[{\"n\":\"a\"},{\"n\":\"b\"},{\"n\":\"c\"}],"
		    "\"messages\":[{\"c\":\"x\"},{\"c\":\"y\"}]}",
		"{\n  \"messages\" : [\n    {\"c\": \"\\u0041\\\"]\"} ,\n    {\"c\": [1, {\"d\": null}]}\n  ],\n"
		    "  \"model\": \"m\",\n  \"tools\": [ {\"n\": \"a\"}\t]\n}\n",
	};
	unsigned mask;
	size_t i;
	int ok;

	for (i = 0; i < MG_NELEM(bodies); i++) {
		ok = 1;
		for (mask = 0; mask < 128; mask++)
			ok &= round_trip(bodies[i], mask);
		TH_OK(ok, "round trip %zu: every choice of cached elements gives the body back", i);
	}
}

/* An escaped quote or backslash at every offset of a string, short and long. */
static void
test_escapes_everywhere(void)
{
	char body[256];
	struct jwalk_elems el;
	int at, ok = 1, found = 1;

	for (at = 0; at < 60; at++) {
		snprintf(body, sizeof(body), "{\"messages\":[{\"c\":\"%.*s\\\"]}\\\\%.*s\"},"
		    "{\"d\":1}]}", at, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij",
		    60 - at, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ");
		found &= jwalk_elems_find(body, strlen(body), &a, &el, NULL) == 1 && el.n == 2 &&
		    strcmp(span(body, &el, 1), "{\"d\":1}") == 0;
		ok &= round_trip(body, 1) && round_trip(body, 2);
	}
	TH_OK(found, "escapes: an escaped quote or backslash anywhere stays inside its string");
	TH_OK(ok, "escapes: round trips");
}

static void
test_merge_refuses_a_changed_top_level(void)
{
	const char *body = "{\"model\":\"m\",\"messages\":[{\"c\":\"x\"},{\"c\":\"y\"}]}";
	const char *other = "{\"model\":\"m\",\"extra\":1,\"messages\":[{\"c\":\"y\"}]}";
	struct jwalk_elems el;
	size_t mlen;

	TH_OK(jwalk_elems_find(body, strlen(body), &a, &el, NULL), "merge: found");
	el.v[0].cached = 1;
	el.v[0].out = "{\"c\":\"x\"}";
	el.v[0].outlen = 9;
	TH_OK(jwalk_elems_merge(body, &el, other, strlen(other), &a, &mlen) == NULL,
	    "merge: a member more at the top level does not line up");
	TH_OK(jwalk_elems_merge(body, &el, "{\"model\":\"m\",\"messages\":[]}", 26, &a, &mlen) ==
	    NULL, "merge: an element missing does not line up");
}

int
main(void)
{
	arena_init(&a);
	test_find();
	test_give_up();
	test_round_trip();
	test_escapes_everywhere();
	test_merge_refuses_a_changed_top_level();
	arena_free(&a);
	return th_done();
}
