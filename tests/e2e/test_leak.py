"""Leak-proof system test: a generated corpus of 10,080 realistic AWS
identifiers and credentials (every type the default rules cover, the same
count of each), planted in Claude-Code-shaped conversations, sent through maskgate
behind lighttpd and Apache, every conversation once streaming and once not.

The mock upstream echoes back everything it was given: the whole masked text
as a text block, every placeholder as thinking and as a tool_use input (when
streaming, split at random points across deltas). Pass only if

  - the upstream saw none of the real values (raw bytes and decoded strings),
  - the client got the original text back byte for byte, and every
    placeholder in thinking and tool_use restored to its real value, except
    credentials (secret keys, session tokens) in tool_use, which stay
    placeholders (their restore policy is `text`),
  - the same value got the same placeholder in every request (determinism)
    and different values different placeholders.
"""
import collections
import json
import random
import re
import subprocess

import corpus_gen
from harness import CLI, Reply, auth, curl, curl_stream, message_reply

SERVERS = ["lighttpd", "apache"]
N_ITEMS = 10080
PER_CONV = 420
# <FAMILY>_<TYPE>_<N>[_<TAG>]: credentials carry a 4-character keyed tag
PH = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}(?:_[0-9A-HJKMNP-TV-Z]{4}(?![A-Za-z0-9]))?")
CREDENTIAL = ("AWS_SECRET_KEY_", "AWS_SESSION_TOKEN_")


def _unique(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _split(text, rnd):
    """Random cut points, so placeholders often straddle two deltas."""
    out, i = [], 0
    while i < len(text):
        n = rnd.randint(1, 90)
        out.append(text[i:i + n])
        i += n
    return out or [""]


def echo(rec):
    """The mock's reply: the masked conversation text, thinking and a tool call."""
    body = rec.json()
    masked = corpus_gen.strings_of(body)
    text = "\n".join(masked)
    phs = _unique(PH.findall(text))
    thinking = " ".join(phs)
    tool = {"command": "aws ec2 describe-instances --instance-ids " + " ".join(phs[:40]), "ids": phs}
    if not body.get("stream"):
        return message_reply("", content=[
            {"type": "thinking", "thinking": thinking, "signature": "EqQBCkYIsig"},
            {"type": "text", "text": text},
            {"type": "tool_use", "id": "toolu_echo", "name": "Tool00", "input": tool}])
    rnd = random.Random(len(rec.body))
    ev = [("message_start", {"type": "message_start", "message": {
        "id": "msg_echo", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}})]
    blocks = [("thinking", {"type": "thinking", "thinking": "", "signature": ""}, "thinking_delta", "thinking",
               thinking),
              ("text", {"type": "text", "text": ""}, "text_delta", "text", text),
              ("tool_use", {"type": "tool_use", "id": "toolu_echo", "name": "Tool00", "input": {}},
               "input_json_delta", "partial_json", json.dumps(tool))]
    for idx, (_, start, dtype, field, full) in enumerate(blocks):
        ev.append(("content_block_start", {"type": "content_block_start", "index": idx, "content_block": start}))
        for piece in _split(full, rnd):
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": {"type": dtype, field: piece}}))
        if dtype == "thinking_delta":
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": {"type": "signature_delta", "signature": "EqQBsig"}}))
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
    ev += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                              "usage": {"output_tokens": 99}}),
           ("message_stop", {"type": "message_stop"})]
    return Reply("sse", events=ev)


def align(masked, original, planted_by_prefix):
    """Placeholder -> original text it replaced, read off one string pair.
    Known planted values decide ambiguous spans; the result is checked by
    rebuilding the original."""
    pieces = PH.split(masked)
    phs = PH.findall(masked)
    out = {}
    assert original.startswith(pieces[0]), (masked[:200], original[:200])
    pos = len(pieces[0])
    for i, ph in enumerate(phs):
        lit = pieces[i + 1]
        last = i == len(phs) - 1
        best = None
        for v in planted_by_prefix.get(original[pos:pos + 4], ()):
            if original.startswith(v, pos) and (original.startswith(lit, pos + len(v)) if not last
                                                else original[pos + len(v):] == lit):
                if best is None or len(v) > len(best):
                    best = v
        if best is None:
            if last:
                end = len(original) - len(lit)
            else:
                end = original.find(lit, pos + 1) if lit else -1
            assert end > pos, "cannot align %s in %r" % (ph, original[pos:pos + 120])
            best = original[pos:end]
        out.setdefault(ph, set()).add(best)
        pos += len(best) + len(lit)
    assert pos == len(original), (pos, len(original))
    return out


def sse_parse(lines):
    events, name = [], None
    for _, raw in lines:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:].strip())))
    return events


def stream_content(events):
    """Rebuilds the content blocks from the deltas."""
    blocks = collections.defaultdict(str)
    for n, d in events:
        if n == "content_block_delta":
            delta = d["delta"]
            for f in ("text", "thinking", "partial_json"):
                if f in delta:
                    blocks[d["index"]] += delta[f]
    return [{"type": "thinking", "thinking": blocks[0]}, {"type": "text", "text": blocks[1]},
            {"type": "tool_use", "input": json.loads(blocks[2])}]


def upstream_strings(mock):
    out = []
    for r in mock.requests:
        try:
            out.append("\n".join(corpus_gen.strings_of(r.json())))
        except ValueError:
            out.append(r.body.decode(errors="replace"))
    return "\n".join(out)


def test_leak_corpus(srv, mock):
    items = corpus_gen.corpus(N_ITEMS)
    convs = corpus_gen.conversations(items, PER_CONV)
    by_prefix = collections.defaultdict(list)
    for it in items:
        by_prefix[it.value[:4]].append(it.value)
    mock.default = echo
    mapping = collections.defaultdict(set)     # placeholder -> real values
    restored_fail = []
    for ci, conv in enumerate(convs):
        original = corpus_gen.strings_of(conv)
        for stream in (False, True):
            body = dict(conv, stream=stream)
            n_before = len(mock.requests)
            if stream:
                lines = curl_stream(srv.url + "/v1/messages?beta=true", headers=auth(srv.master),
                                    data=body, timeout=120)
                events = sse_parse(lines)
                assert events and events[-1][0] == "message_stop", (ci, events[-3:])
                content = stream_content(events)
            else:
                s, _, b = curl(srv.url + "/v1/messages?beta=true", method="POST",
                               headers=auth(srv.master), data=body, timeout=120)
                assert s == 200, (ci, s, b[:300])
                content = json.loads(b)["content"]
            assert len(mock.requests) == n_before + 1
            masked = corpus_gen.strings_of(mock.requests[-1].json())
            assert len(masked) == len(original), (len(masked), len(original))
            local = collections.defaultdict(set)
            for m, o in zip(masked, original):
                for ph, vals in align(m, o, by_prefix).items():
                    local[ph] |= vals
            for ph, vals in local.items():
                mapping[ph] |= vals
            text = content[1]["text"]
            if text != "\n".join(original):
                restored_fail.append((ci, stream, "text"))
            phs = _unique(PH.findall("\n".join(masked)))
            want = [next(iter(local[p])) for p in phs]
            if content[0]["thinking"] != " ".join(want):
                restored_fail.append((ci, stream, "thinking"))
            tool = content[2]["input"]
            want_tool = [p if p.startswith(CREDENTIAL) else w for p, w in zip(phs, want)]
            if tool != {"command": "aws ec2 describe-instances --instance-ids " + " ".join(want_tool[:40]),
                        "ids": want_tool}:
                restored_fail.append((ci, stream, "tool_use"))
            assert not PH.search(json.dumps(content[:2])), "placeholder reached the client"
            assert all(p.startswith(CREDENTIAL) for p in PH.findall(json.dumps(tool))), \
                "a non-credential placeholder reached the client in tool input"
    # what the upstream saw
    raw = mock.all_bytes()
    seen = upstream_strings(mock)
    leaked = [it for it in items if it.value.encode() in raw or it.value in seen]
    per_type = collections.Counter(it.type for it in leaked)
    assert not leaked, "upstream saw %d real values: %s; e.g. %s" % (
        len(leaked), dict(per_type), [it.snippet for it in leaked[:5]])
    # one placeholder per value, one value per placeholder
    multi = {p: v for p, v in mapping.items() if len(v) > 1}
    assert not multi, "a placeholder stood for several values: %s" % list(multi.items())[:3]
    inverse = collections.defaultdict(set)
    for p, v in mapping.items():
        inverse[next(iter(v))].add(p)
    unstable = {v: p for v, p in inverse.items() if len(p) > 1}
    assert not unstable, "a value got several placeholders: %s" % list(unstable.items())[:3]
    values = set(inverse)
    unmasked = [it for it in items if it.value not in values]
    assert not unmasked, "planted values not replaced by their own placeholder: %s" % unmasked[:5]
    assert not restored_fail, "client did not get the real values back: %s" % restored_fail[:10]
    assert len(mock.requests) == 2 * len(convs)
    print("# %s: %d values of %d types planted, %d requests, %d placeholders, 0 seen upstream, all restored"
          % (srv.kind, len(items), len(set(it.type for it in items)), len(mock.requests), len(mapping)))


def standalone_corpus_covers_every_rule_type(mock):
    out = subprocess.run([CLI, "rules", "list"], capture_output=True, text=True, timeout=30).stdout
    # RULE PACK TYPE ACTION ...: the aws pack's types (the corpus is AWS's)
    rule_types = {line.split()[2] for line in out.splitlines()[1:] if len(line.split()) >= 4
                  and line.split()[1] == "aws" and line.split()[3] == "mask"}
    assert len(rule_types) >= 70, out
    missing = rule_types - set(corpus_gen.TYPES)
    assert not missing, "corpus has no generator for rule types %s" % sorted(missing)
    items = corpus_gen.corpus(N_ITEMS)
    counts = collections.Counter(it.type for it in items)
    assert len(items) >= 10000 and min(counts.values()) >= 100, counts
    assert len({it.value for it in items}) == len(items)
