"""The cache of masked elements (mask_elems.c, jwalk_elems.c): Claude Code
sends the whole conversation again on every turn, and the elements of system,
tools and messages that come back byte for byte take their masked bytes from
the worker's cache instead of being parsed and masked again.

What the upstream receives must be exactly what a gateway without any cache
(MASKGATE_MASK_CACHE=0) sends for the same body, on the same store: checked
turn after turn of a growing conversation, with a turn that brings a new
value (the filter changes: cached elements are carried over when the value
is not in them, else the whole body is masked again),
a turn that sends restored values back bare (recall), a pretty-printed body
(other bytes: nothing is reused until it has been seen), and refusals that
name a place in the body (the place is the whole body's, not the reduced
one's)."""
import copy
import json
import re

import harness
from body import claude_code_body
from harness import auth, curl

HITS = re.compile(r"body: (\d+) of (\d+) elements from the cache")


def _pair(mock):
    a = harness.Lighttpd(mock, MASKGATE_LOG_LEVEL="debug").start()
    b = harness.Lighttpd(mock, MASKGATE_MASK_CACHE="0", MASKGATE_DB=a.env["MASKGATE_DB"],
                         MASKGATE_MASTER_KEY=a.master,
                         MASKGATE_DATA_KEY=a.env["MASKGATE_DATA_KEY"]).start()
    return a, b


def _upstream(srv, mock, text):
    n = len(mock.requests)
    s, _, out = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master),
                     data=text.encode())
    assert s == 200, (s, out[:300])
    assert len(mock.requests) == n + 1
    return mock.requests[-1].body


def _hits(srv):
    return sum(int(m.group(1)) for m in HITS.finditer(srv.read_log()))


def _same_as_uncached(a, b, mock, text, times=3):
    """Sends text to a (several times: two workers, each with its own cache)
    and once to b; every body upstream got must be the same bytes."""
    want = _upstream(b, mock, text)
    for _ in range(times):
        got = _upstream(a, mock, text)
        assert got == want, "differs at byte %d" % next(
            (i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
    return want


def standalone_turns_match_the_uncached_gateway(mock):
    a, b = _pair(mock)
    try:
        conv = claude_code_body()
        sent = _same_as_uncached(a, b, mock, json.dumps(conv))
        assert b"i-0123456789abcdef0" not in sent and b"acme-logs-prod" not in sent
        h1 = _hits(a)
        assert h1 > 0, "the resent elements never came from the cache"
        # turn 2: the answer and a new question with a value never seen before
        conv["messages"] += [
            {"role": "assistant", "content": [{"type": "text", "text": "The instance is in a private subnet."}]},
            {"role": "user", "content": "Now check i-0fedcba9876543210.\n$ aws sts get-caller-identity\n"
                                        "{\"Account\": \"210987654321\"}"}]
        sent = _same_as_uncached(a, b, mock, json.dumps(conv))
        assert b"i-0fedcba9876543210" not in sent and b"210987654321" not in sent
        # turn 3: the values come back bare, as restored answers do
        conv["messages"] += [
            {"role": "assistant", "content": "Checked."},
            {"role": "user", "content": "So 210987654321 owns it? Compare with i-0fedcba9876543210."}]
        sent = _same_as_uncached(a, b, mock, json.dumps(conv))
        assert b"210987654321" not in sent and b"i-0fedcba9876543210" not in sent
        h3 = _hits(a)
        assert h3 > h1, (h1, h3)
        # another spelling of the same conversation: other bytes, same tree
        pretty = json.dumps(conv, indent=2)
        _same_as_uncached(a, b, mock, pretty)
        assert _hits(a) > h3
    finally:
        a.stop()
        b.stop()


def _to_a_first(a, b, mock, text, times=2):
    """As _same_as_uncached, but a masks first: the values it learns are its
    own (its cached elements are carried over when the value is not in
    them), not another worker's."""
    got = [_upstream(a, mock, text) for _ in range(times)]
    want = _upstream(b, mock, text)
    for g in got:
        at = next((i for i, (x, y) in enumerate(zip(g, want)) if x != y), min(len(g), len(want)))
        assert g == want, (at, g[max(0, at - 200):at + 60], want[max(0, at - 200):at + 60])
    return want


def standalone_new_values_each_turn_keep_the_cache(mock):
    """Claude Code's tool results bring new identifiers on most turns: the
    elements taken from the cache stay in use when the new value is not in
    them, and an element that holds it (a value asked about bare before its
    context came) is masked again, with the whole body."""
    a, b = _pair(mock)
    try:
        conv = claude_code_body(target_kb=16)
        _to_a_first(a, b, mock, json.dumps(conv))
        question = ("Something is odd with 334455667788: the exports stopped on Monday "
                    "and nobody knows which team runs it. Can you find out who owns it?")
        conv["messages"].append({"role": "user", "content": question})
        _to_a_first(a, b, mock, json.dumps(conv))
        sent = _to_a_first(a, b, mock, json.dumps(conv))
        assert b"334455667788" in sent, "not known yet: forwarded as written"
        log0 = a.read_log()
        for turn in range(4):
            conv["messages"] += [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_%02d" % turn,
                                                   "name": "Bash", "input": {"command": "aws ec2 describe-instances"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_%02d" % turn,
                                              "content": "{\"InstanceId\": \"i-0%016x\"}" % (0xfeed00 + turn)}]}]
            sent = _to_a_first(a, b, mock, json.dumps(conv))
            assert ("i-0%016x" % (0xfeed00 + turn)).encode() not in sent
        new = a.read_log()[len(log0):]
        hit_turns = [int(m.group(1)) for m in HITS.finditer(new)]
        assert hit_turns and max(hit_turns) >= 3, hit_turns
        assert "masked whole again" not in new, "a turn with a new value gave up the cache"
        # the context of the bare value arrives: the question is masked now
        conv["messages"].append({"role": "user", "content": "$ aws sts get-caller-identity\n"
                                 "{\"Account\": \"334455667788\"}"})
        log1 = a.read_log()
        sent = _to_a_first(a, b, mock, json.dumps(conv))
        assert b"334455667788" not in sent
        assert "masked whole again" in a.read_log()[len(log1):]
    finally:
        a.stop()
        b.stop()


def standalone_refusals_name_the_whole_bodys_place(mock):
    a, b = _pair(mock)
    try:
        conv = claude_code_body(target_kb=8)
        text = json.dumps(conv)
        for _ in range(3):
            _upstream(a, mock, text)
        assert _hits(a) > 0
        bad = copy.deepcopy(conv)
        bad["messages"].append({"role": "user", "content": 7})
        broken = text[:-1] + ',"x":}'
        n = len(mock.requests)
        for body, want in ((json.dumps(bad), "messages[3].content"), (broken, "offset")):
            said = []
            for srv in (a, b):
                s, _, out = curl(srv.url + "/v1/messages", method="POST",
                                 headers=auth(srv.master), data=body.encode())
                assert s == 400, (s, out)
                said.append(json.loads(out)["error"]["message"])
            assert said[0] == said[1] and want in said[0], said
        assert len(mock.requests) == n
    finally:
        a.stop()
        b.stop()
