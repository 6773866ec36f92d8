"""The messages proxy through lighttpd and Apache: masking on the way up,
restoring on the way down, streaming, tool use, thinking, errors."""
import base64
import json
import os
import re
import time

import harness
from harness import (Reply, assert_envelope, auth, curl, curl_stream, message_reply,
                     sse_text_events)

PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")

INSTANCE = "i-0a1b2c3d4e5f67890"
VPC = "vpc-0fedcba9876543210"
ROLE = "arn:aws:iam::123456789012:role/DeployRole"
AKID = "AKIA2B3C4D5E6F7G2H3J"
BUCKET_URI = "s3://acme-prod-artifacts-7f3a/releases/app.tgz"
SG = "sg-0123456789abcdef0"
REALS = [INSTANCE, VPC, ROLE, AKID, SG, "123456789012", "acme-prod-artifacts-7f3a"]

CLI_OUTPUT = json.dumps({"Reservations": [{"OwnerId": "123456789012", "Instances": [
    {"InstanceId": INSTANCE, "VpcId": VPC, "SecurityGroups": [{"GroupId": SG}],
     "IamInstanceProfile": {"Arn": ROLE}}]}]}, indent=2)


def conversation(stream=False, extra_turns=()):
    msgs = [{"role": "user", "content": [
        {"type": "text", "text": "Why can't %s reach %s? My key is %s." % (INSTANCE, BUCKET_URI, AKID)}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Check the instance %s first." % INSTANCE,
             "signature": "sig-opaque-abc=="},
            {"type": "tool_use", "id": "toolu_01", "name": "Bash",
             "input": {"command": "aws ec2 describe-instances --instance-ids %s" % INSTANCE,
                       "nested": {"list": [VPC, 3, True]}}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": CLI_OUTPUT},
            {"type": "tool_result", "tool_use_id": "toolu_02",
             "content": [{"type": "text", "text": "role " + ROLE}]}]}]
    msgs += list(extra_turns)
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 1024,
            "system": [{"type": "text", "text": "You operate account 123456789012.",
                        "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "Bash", "description": "Run commands; default VPC is " + VPC,
                       "input_schema": {"type": "object", "properties": {
                           "command": {"type": "string", "description": "shell command"}}}}],
            "metadata": {"user_id": "user-42"},
            "unknown_future_field": {"keep": ["me", 1.5]}}
    if stream:
        body["stream"] = True
    body["messages"] = msgs
    return body


def assert_no_leak(mock, reals=REALS):
    seen = mock.all_bytes()
    for v in reals:
        assert v.encode() not in seen, "upstream saw a real value: %s" % v


def placeholders_in(rec):
    return sorted(set(PLACEHOLDER.findall(rec.body.decode())))


def sse_events(lines):
    """Parses curl -N output into [(event, data-obj)]."""
    out, name = [], None
    for _, raw in lines:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            out.append((name, json.loads(line[5:].strip())))
    return out


def deltas_text(events, kind="text_delta", field="text"):
    return "".join(d["delta"][field] for n, d in events
                   if n == "content_block_delta" and d["delta"]["type"] == kind)


# ---------------------------------------------------------------- request path

def test_request_masked_everywhere(srv, mock):
    s, _, b = curl(srv.url + "/v1/messages?beta=true", method="POST", headers=auth(srv.master),
                   data=conversation())
    assert s == 200, b
    assert_no_leak(mock)
    up = mock.last().json()
    ph = placeholders_in(mock.last())
    assert len(ph) >= 6, ph
    # structure and structural values untouched
    assert up["model"] == "claude-sonnet-4-5-20250929"
    assert up["messages"][1]["content"][0]["signature"] == "sig-opaque-abc=="
    assert up["messages"][1]["content"][1]["id"] == "toolu_01"
    assert up["messages"][1]["content"][1]["name"] == "Bash"
    assert up["messages"][1]["content"][1]["input"]["nested"]["list"][1:] == [3, True]
    assert up["messages"][2]["content"][0]["tool_use_id"] == "toolu_01"
    assert up["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert up["unknown_future_field"] == {"keep": ["me", 1.5]}
    assert up["metadata"] == {"user_id": "user-42"}
    assert mock.last().path == "/v1/messages?beta=true"
    # the echo reply carried placeholders; the client sees real values only
    text = json.loads(b)["content"][0]["text"]
    assert INSTANCE in text and ROLE in text and not PLACEHOLDER.search(text), text[:500]


def test_headers_both_ways(srv, mock):
    mock.script.append(message_reply("hi"))
    h = auth(srv.master)
    h["anthropic-beta"] = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
    h["x-app"] = "cli"
    h["X-Claude-Code-Session-Id"] = "sess-1"
    s, rh, b = curl(srv.url + "/v1/messages", method="POST", headers=h, data=conversation())
    assert s == 200, b
    up = mock.last().headers
    assert up["anthropic-beta"] == h["anthropic-beta"] and up["anthropic-version"] == "2023-06-01"
    assert up["x-app"] == "cli" and up["x-claude-code-session-id"] == "sess-1"
    assert up["x-api-key"] == srv.env["MASKGATE_UPSTREAM_API_KEY"], "client key forwarded"
    assert "authorization" not in up and srv.master not in json.dumps(up)
    assert rh.get("request-id") == "req_upstream_01"
    assert rh.get("anthropic-ratelimit-requests-remaining") == "99"
    assert rh.get("x-maskgate-request-id", "").startswith("req_mg_")


def test_deterministic_prefix_across_turns(srv, mock):
    body1 = conversation()
    curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body1)
    up1 = mock.last().body
    reply = json.loads(up1)  # what the model would answer about
    turn = [{"role": "assistant", "content": [{"type": "text", "text": "Instance %s is in %s." % (INSTANCE, VPC)}]},
            {"role": "user", "content": "thanks, and " + SG + "?"}]
    curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master),
         data=conversation(extra_turns=turn))
    up2 = mock.last().body
    assert up1.endswith(b"]}") and up2.startswith(up1[:-2]), "turn N is not a byte prefix of turn N+1"
    assert reply["messages"]
    assert_no_leak(mock)


def test_images_and_documents(srv, mock):
    png = base64.b64encode(os.urandom(300) + b"i-0a1b2c3d4e5f67890").decode()
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                        "data": "Runbook for " + INSTANCE}},
        {"type": "text", "text": "see above"}]}]}
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
    assert s == 200, b
    up = mock.last().json()["messages"][0]["content"]
    assert up[0]["source"]["data"] == png
    assert INSTANCE not in up[1]["source"]["data"] and "AWS_" in up[1]["source"]["data"]


def test_count_tokens_and_models(srv, mock):
    s, _, b = curl(srv.url + "/v1/messages/count_tokens?beta=true", method="POST",
                   headers=auth(srv.master), data=conversation())
    assert s == 200 and "input_tokens" in json.loads(b), b
    assert mock.last().path == "/v1/messages/count_tokens?beta=true"
    assert_no_leak(mock)
    s, _, b = curl(srv.url + "/v1/models?limit=5&key=" + srv.master, headers=auth(srv.master))
    assert s == 200 and json.loads(b)["data"][0]["id"] == "claude-sonnet-4-5"
    assert mock.last().path == "/v1/models?limit=5", mock.last().path


def test_upstream_error_passthrough(srv, mock):
    err = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    mock.script.append(Reply("json", 429, err, headers={"retry-after": "17", "request-id": "req_u429"}))
    s, h, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=conversation())
    assert s == 429 and json.loads(b) == err and h.get("retry-after") == "17", (s, h, b)
    assert h.get("request-id") == "req_u429"
    mock.script.append(Reply("json", 529, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}))
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=conversation())
    assert s == 529 and json.loads(b)["error"]["type"] == "overloaded_error"


def test_model_clamp(srv, mock):
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 8192,
            "messages": [{"role": "user", "content": "hi"}]}
    curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
    assert mock.last().json()["max_tokens"] == 4096
    body["max_tokens"] = 100
    curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
    assert mock.last().json()["max_tokens"] == 100


# ---------------------------------------------------------------- responses

def _split_reply(rec, pieces_of):
    """Streams back the first placeholder received, split as pieces_of says."""
    ph = placeholders_in(rec)[0]
    return ph, pieces_of(ph)


def test_stream_placeholder_split_across_deltas(srv, mock):
    state = {}

    def reply(rec):
        ph = [p for p in placeholders_in(rec) if "EC2" in p or "INSTANCE" in p][0]
        state["ph"] = ph
        return Reply("sse", events=sse_text_events(["Instance ", ph[:5], ph[5:9], ph[9:], " is up; also ",
                                                     ph, "."]))
    mock.default = reply
    lines = curl_stream(srv.url + "/v1/messages", headers=auth(srv.master), data=conversation(stream=True))
    ev = sse_events(lines)
    text = deltas_text(ev)
    assert text == "Instance %s is up; also %s." % (INSTANCE, INSTANCE), text
    assert [n for n, _ in ev][:3] == ["message_start", "content_block_start", "ping"]
    assert [n for n, _ in ev][-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert ev[-2][1]["usage"]["output_tokens"] == 7
    raw = b"".join(l for _, l in lines)
    assert state["ph"].encode() not in raw


def test_stream_tool_use_and_thinking(srv, mock):
    def reply(rec):
        ph = [p for p in placeholders_in(rec) if "EC2" in p or "INSTANCE" in p][0]
        cmd = json.dumps({"command": "aws ec2 stop-instances --instance-ids " + ph})
        cut = cmd.index(ph) + 6
        ev = [("message_start", {"type": "message_start", "message": {
            "id": "m", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "thinking", "thinking": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "thinking_delta", "thinking": "Stop " + ph[:7]}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "thinking_delta", "thinking": ph[7:] + " now"}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "signature_delta", "signature": "c2ln"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
                "type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "input_json_delta", "partial_json": cmd[:cut]}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "input_json_delta", "partial_json": cmd[cut:]}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                               "usage": {"output_tokens": 30}}),
            ("message_stop", {"type": "message_stop"})]
        return Reply("sse", events=ev)
    mock.default = reply
    ev = sse_events(curl_stream(srv.url + "/v1/messages", headers=auth(srv.master),
                                data=conversation(stream=True)))
    assert deltas_text(ev, "thinking_delta", "thinking") == "Stop %s now" % INSTANCE
    tool = json.loads(deltas_text(ev, "input_json_delta", "partial_json"))
    assert tool == {"command": "aws ec2 stop-instances --instance-ids " + INSTANCE}, tool
    sig = [d for n, d in ev if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"]
    assert sig[0]["delta"]["signature"] == "c2ln"


def test_nonstream_tool_use_and_thinking(srv, mock):
    def reply(rec):
        ph = placeholders_in(rec)
        return message_reply("", content=[
            {"type": "thinking", "thinking": "look at " + " ".join(ph), "signature": "s"},
            {"type": "text", "text": "Found " + ph[0]},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash",
             "input": {"command": "echo " + ph[0], "args": [ph[-1], {"deep": ph[0] + "\"q"}]}}])
    mock.default = reply
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=conversation())
    assert s == 200, b
    assert not PLACEHOLDER.search(b.decode()), b[:600]
    c = json.loads(b)["content"]
    assert c[0]["signature"] == "s" and c[2]["id"] == "toolu_1"
    assert c[2]["input"]["args"][1]["deep"].endswith('"q')


def test_sse_arrives_event_by_event(srv, mock):
    mock.script.append(Reply("sse", events=sse_text_events(["a ", "b ", "c ", "d "]), delay=0.6))
    lines = curl_stream(srv.url + "/v1/messages", headers=auth(srv.master),
                        data={"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]})
    times = [t for t, l in lines if l.startswith(b"event: content_block_delta")]
    assert len(times) == 4, lines
    # events are 0.6 s apart upstream; buffering would deliver them together
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) > 0.3, gaps


def test_stream_broken_upstream(srv, mock):
    ev = sse_text_events(["partial answer ", "more"])
    mock.script.append(Reply("sse", events=ev, cut_after=4))
    events = sse_events(curl_stream(srv.url + "/v1/messages", headers=auth(srv.master),
                                    data=conversation(stream=True)))
    assert events[-1][0] == "error" and events[-1][1]["type"] == "error", events[-2:]
    assert deltas_text(events).startswith("partial answer")
    bad = list(ev)
    bad[4] = ("content_block_delta", "{not json")
    mock.script.append(Reply("sse", events=bad))
    events = sse_events(curl_stream(srv.url + "/v1/messages", headers=auth(srv.master),
                                    data=conversation(stream=True)))
    assert any(n == "error" for n, _ in events), events
    s, _, _ = curl(srv.url + "/health/readiness")
    assert s == 200


def test_client_disconnect_mid_stream(srv, mock):
    mock.script.append(Reply("sse", events=sse_text_events(["x"] * 40), delay=0.25))
    try:
        curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), timeout=1,
             data={"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]})
    except RuntimeError:
        pass  # curl's --max-time: the client went away
    time.sleep(0.5)
    for _ in range(4):
        s, _, _ = curl(srv.url + "/health/readiness")
        assert s == 200


# ---------------------------------------------------------------- bad input

def test_bad_input(srv, mock):
    h = auth(srv.master)
    cases = [
        ("not json", b"{oops", 400),
        ("truncated", b'{"model":"x","messages":[', 400),
        ("empty", b"", 400),
        ("top-level array", b"[1,2]", 400),
        ("messages not array", json.dumps({"model": "x", "max_tokens": 1, "messages": "hi"}).encode(), 400),
        ("content a number", json.dumps({"model": "x", "max_tokens": 1,
                                         "messages": [{"role": "user", "content": 5}]}).encode(), 400),
        ("invalid utf-8", b'{"model":"x","messages":[{"role":"user","content":"\xff\xfe"}]}', 400),
        ("overlong utf-8", b'{"model":"x","messages":[{"role":"user","content":"\xc0\xaf"}]}', 400),
        ("lone surrogate", b'{"model":"x","messages":[{"role":"user","content":"\\ud800"}]}', 400),
        ("deep nesting", b'{"model":"x","a":' + b"[" * 200 + b"]" * 200 + b"}", 400),
        ("no model", json.dumps({"max_tokens": 1, "messages": []}).encode(), 400),
    ]
    for name, body, want in cases:
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=h, data=body)
        assert s == want, (name, s, b[:200])
        assert_envelope(b, "invalid_request_error")
    h2 = dict(h)
    h2["content-type"] = "text/plain"
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=h2, data=b"{}")
    assert s == 400, b
    assert mock.requests == [], "bad input must not reach the upstream"
    s, _, _ = curl(srv.url + "/health/readiness")
    assert s == 200


# ---------------------------------------------------------------- faults and loops

def standalone_upstream_faults(mock):
    srv = harness.Lighttpd(mock, MASKGATE_UPSTREAM_TIMEOUT="2s").start()
    try:
        body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        mock.script.append(Reply("hang", delay=4))
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
        assert s == 504, (s, b)
        assert_envelope(b, "timeout_error")
        mock.script.append(Reply("reset"))
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
        assert s == 502, (s, b)
        mock.script.append(Reply("raw", 200, raw=b"<html>garbage"))
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
        assert s == 502, (s, b)
        s, _, _ = curl(srv.url + "/health/readiness")
        assert s == 200
    finally:
        srv.stop()
    dead = harness.Lighttpd(mock)
    dead.env["MASKGATE_UPSTREAM_URL"] = "http://127.0.0.1:%d" % harness.free_port()
    dead.start()
    try:
        s, _, b = curl(dead.url + "/v1/messages", method="POST", headers=auth(dead.master), data=body)
        assert s == 502, (s, b)
        assert_envelope(b, "api_error")
    finally:
        dead.stop()


def standalone_loop_guard(mock):
    srv = harness.Lighttpd(mock)
    srv.env["MASKGATE_UPSTREAM_URL"] = srv.url
    srv.start()
    try:
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master),
                       data={"model": "claude-sonnet-4-5", "max_tokens": 5,
                             "messages": [{"role": "user", "content": "hi"}]})
        assert s == 508, (s, b)
        assert "MASKGATE_UPSTREAM_URL" in json.loads(b)["error"]["message"]
    finally:
        srv.stop()


def test_metrics_count_masking(srv, mock):
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=conversation())
    assert s == 200, b
    h2 = auth(srv.master)
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=h2,
                   data={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": "nope"})
    assert s == 400
    s, _, m = curl(srv.url + "/metrics", headers={"x-api-key": srv.master})
    text = m.decode()
    assert s == 200, text[:300]
    masked = [l for l in text.splitlines() if l.startswith("maskgate_masked_total{")]
    restored = [l for l in text.splitlines() if l.startswith("maskgate_restored_total{")]
    assert len(masked) >= 4 and restored, text[:2000]
    assert "maskgate_upstream_ttfb_seconds_count" in text
    assert INSTANCE not in text and srv.master not in text


def test_models_path_cannot_reach_other_endpoints(srv, mock):
    """/v1/models/<id> is the only extension of the models route: dot
    segments (curl squashes them before sending) or encoded ones must not
    turn it into a GET of another upstream endpoint under the server's key."""
    before = len(mock.requests)
    for path in ("/v1/models/../files", "/v1/models/../../v1/messages/batches",
                 "/v1/models/%2e%2e/files", "/v1/models/./x", "/v1/models/a/b", "/v1/models/"):
        s, _, b = curl(srv.url + path, headers=auth(srv.master), extra=["--path-as-is"])
        assert s == 404, (path, s, b)
        assert_envelope(b, "not_found_error")
    assert len(mock.requests) == before, [r.path for r in mock.requests[before:]]
    s, _, b = curl(srv.url + "/v1/models/claude-sonnet-4-5", headers=auth(srv.master))
    assert s == 200, b
    assert mock.last().path == "/v1/models/claude-sonnet-4-5", mock.last().path


def test_models_id_in_path_is_masked(srv, mock):
    """/v1/models/<id> forwards the id masked, like every other caller text."""
    s, _, b = curl(srv.url + "/v1/models/" + INSTANCE, headers=auth(srv.master))
    assert s == 200, b
    path = mock.last().path
    assert INSTANCE not in path and PLACEHOLDER.search(path), path
