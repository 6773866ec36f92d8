"""The Bedrock routes through lighttpd and Apache against a mock Bedrock
runtime that verifies every SigV4 signature with botocore: masking up,
restoring down (JSON and event-stream), frames decoded and CRC-checked by
botocore's own event-stream parser, corrupt frames, refused signatures."""
import atexit
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from botocore.eventstream import EventStreamBuffer

import harness
import mock_bedrock
from harness import curl, tmpdir

SERVERS = ["lighttpd", "apache"]
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEMockSessionToken0123456789"
BEDROCK = mock_bedrock.BedrockMock(session_token=SESSION_TOKEN)
atexit.register(BEDROCK.close)
# module lifetime, unlike harness.tmpdir() which the runner empties after each test
_MODELS_DIR = tempfile.mkdtemp(prefix="mg-bdrk-alias-")
atexit.register(shutil.rmtree, _MODELS_DIR, True)
os.chmod(_MODELS_DIR, 0o755)
_MODELS = os.path.join(_MODELS_DIR, "models.conf")
with open(_MODELS, "w") as _f:
    _f.write("alias claude-via-profile arn:aws:bedrock:us-east-1:210987654321:"
             "application-inference-profile/a1b2c3d4e5\n")
os.chmod(_MODELS, 0o644)
ENV = {"MASKGATE_MODELS": _MODELS, "MASKGATE_BEDROCK_URL": BEDROCK.url, "MASKGATE_BEDROCK_REGION": mock_bedrock.REGION,
       "MASKGATE_AWS_ACCESS_KEY_ID": mock_bedrock.ACCESS_KEY,
       "MASKGATE_AWS_SECRET_ACCESS_KEY": mock_bedrock.SECRET_KEY,
       "MASKGATE_AWS_SESSION_TOKEN": SESSION_TOKEN}

PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
INSTANCE = "i-0a1b2c3d4e5f67890"
ROLE = "arn:aws:iam::123456789012:role/DeployRole"
REALS = [INSTANCE, ROLE, "123456789012"]
CLIENT_TOKEN = "ClientOwnSessionTokenMustNotTravel"


def body(text="Why can't %s assume %s?" % (INSTANCE, ROLE)):
    return {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["some-beta-2025"],
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "Account 123456789012.",
                        "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def headers(srv, stream=False):
    h = {"x-api-key": srv.master, "content-type": "application/json",
         # what an AWS SDK client adds: never forwarded
         "x-amz-security-token": CLIENT_TOKEN, "x-amz-date": "20250101T000000Z",
         "amz-sdk-invocation-id": "0d1e"}
    if stream:
        h["accept"] = "application/vnd.amazon.eventstream"
    return h


def decode_frames(raw):
    """botocore's decoder: raises on any CRC or length error."""
    buf = EventStreamBuffer()
    buf.add_data(raw)
    return list(buf)


def stream_view(raw):
    text, types, exceptions = "", [], []
    for m in decode_frames(raw):
        mtype = m.headers.get(":message-type")
        if mtype == "exception":
            exceptions.append((m.headers.get(":exception-type"), json.loads(m.payload)))
            continue
        ev = json.loads(base64.b64decode(json.loads(m.payload)["bytes"]))
        types.append(ev["type"])
        if ev["type"] == "content_block_delta":
            text += ev["delta"].get("text", "")
    return text, types, exceptions


def assert_upstream_clean():
    seen = BEDROCK.all_bytes()
    for v in REALS + [CLIENT_TOKEN]:
        assert v.encode() not in seen, "Bedrock mock saw %s" % v
    assert not BEDROCK.sig_errors, BEDROCK.sig_errors


def placeholders_for(srv):
    """Mints the placeholders of REALS with one invoke; returns the masked text."""
    BEDROCK.reset()
    s, _, _ = curl(srv.url + MODEL_PATH + "/invoke", method="POST", headers=headers(srv),
                   data=body())
    assert s == 200
    sent = json.loads(BEDROCK.requests[-1].body)
    return sent["messages"][0]["content"][0]["text"]


def test_invoke_masks_and_restores(srv, mock):
    BEDROCK.reset()
    s, h, out = curl(srv.url + MODEL_PATH + "/invoke", method="POST", headers=headers(srv),
                     data=body())
    assert s == 200, out
    rec = BEDROCK.requests[-1]
    assert rec.path == MODEL_PATH + "/invoke", rec.path
    sent = json.loads(rec.body)
    assert sent["anthropic_version"] == "bedrock-2023-05-31" and "model" not in sent, sent
    assert sent["anthropic_beta"] == ["some-beta-2025"]
    assert PLACEHOLDER.search(sent["messages"][0]["content"][0]["text"]), sent
    assert rec.headers.get("x-amz-security-token") == SESSION_TOKEN
    assert "x-api-key" not in rec.headers and "amz-sdk-invocation-id" not in rec.headers
    assert_upstream_clean()
    reply = json.loads(out)
    assert INSTANCE in reply["content"][0]["text"] and ROLE in reply["content"][0]["text"], reply
    assert not PLACEHOLDER.search(reply["content"][0]["text"])
    assert h.get("content-type") == "application/json"


def test_stream_split_placeholders(srv, mock):
    masked = placeholders_for(srv)
    ph = PLACEHOLDER.findall(masked)
    assert len(ph) >= 2, masked
    a, b = ph[0], ph[1]
    text = "Instance %s and role %s." % (a, b)
    # cut inside both placeholders, across frames
    pieces = [text[:text.index(a) + 4], text[text.index(a) + 4:text.index(b) + 7],
              text[text.index(b) + 7:]]
    frames = [mock_bedrock.chunk_frame(e) for e in mock_bedrock.text_events(pieces)]
    wire = b"".join(frames)
    # and across network chunks: cut the bytes at odd places
    cuts = [wire[i:i + 37] for i in range(0, len(wire), 37)]
    BEDROCK.script.append(lambda rec: (200, {}, cuts))
    s, h, out = curl(srv.url + MODEL_PATH + "/invoke-with-response-stream", method="POST",
                     headers=headers(srv, stream=True), data=body("go on"))
    assert s == 200, out
    assert h.get("content-type") == "application/vnd.amazon.eventstream", h
    got, types, exc = stream_view(out)
    assert got == "Instance %s and role %s." % (INSTANCE, ROLE), got
    assert not exc, exc
    assert types[0] == "message_start" and types[-1] == "message_stop" and "ping" in types, types
    # a frame nothing changed passes byte for byte
    assert frames[2] in out   # the ping
    assert_upstream_clean()


def test_stream_bad_crc_ends_with_exception(srv, mock):
    masked = placeholders_for(srv)
    a = PLACEHOLDER.findall(masked)[0]
    events = mock_bedrock.text_events(["before ", "secret %s after" % a])
    frames = [mock_bedrock.chunk_frame(e) for e in events]
    bad = bytearray(frames[4])          # the second delta
    bad[-1] ^= 0x01                     # its message CRC
    frames[4] = bytes(bad)
    BEDROCK.script.append(lambda rec: (200, {}, frames))
    s, h, out = curl(srv.url + MODEL_PATH + "/invoke-with-response-stream", method="POST",
                     headers=headers(srv, stream=True), data=body("go"))
    assert s == 200
    got, types, exc = stream_view(out)     # every frame maskgate sent has valid CRCs
    assert got == "before ", got
    assert INSTANCE not in out.decode(errors="replace") and a.encode() not in out
    assert exc and exc[-1][0] == "internalServerException" and "CRC" in exc[-1][1]["message"], exc
    assert "message_stop" not in types


def test_refused_signature_is_clear(srv, mock):
    BEDROCK.reset()
    try:
        BEDROCK.secret = "not-the-key-maskgate-signs-with"
        s, h, out = curl(srv.url + MODEL_PATH + "/invoke", method="POST", headers=headers(srv),
                         data=body())
    finally:
        BEDROCK.secret = mock_bedrock.SECRET_KEY
        BEDROCK.sig_errors.clear()
    assert s == 403, (s, out)
    assert h.get("x-amzn-errortype") == "InvalidSignatureException", h
    assert "signature" in json.loads(out)["message"]


def test_refusals_in_aws_shape(srv, mock):
    BEDROCK.reset()
    s, h, out = curl(srv.url + MODEL_PATH + "/invoke", method="POST",
                     headers={"x-api-key": "sk-wrong", "content-type": "application/json"},
                     data=body())
    assert s == 401 and h.get("x-amzn-errortype") == "UnrecognizedClientException", (s, h)
    assert json.loads(out)["message"] and json.loads(out)["type"] == "error"
    s, h, out = curl(srv.url + "/model/a%2F%2Fb/invoke", method="POST", headers=headers(srv),
                     data=body())
    assert s == 400 and h.get("x-amzn-errortype") == "ValidationException", (s, out)
    s, h, out = curl(srv.url + "/inference-profiles?type=SYSTEM_DEFINED&maxResults=100")
    assert s == 200 and json.loads(out) == {"inferenceProfileSummaries": []}, out
    assert not BEDROCK.requests


def test_spend_recorded_at_bedrock_price(srv, mock):
    s, _, out = curl(srv.url + "/key/generate", method="POST",
                     headers={"x-api-key": srv.master, "content-type": "application/json"},
                     data={"max_budget": 10})
    key = json.loads(out)["key"]
    BEDROCK.reset()
    h = headers(srv)
    h["x-api-key"] = key
    s, _, out = curl(srv.url + MODEL_PATH + "/invoke", method="POST", headers=h, data=body())
    assert s == 200, out
    # 10 input, 5 output tokens at Sonnet 4.5 prices (3 and 15 USD per million),
    # written just after the response: polled briefly
    want = (10 * 3 + 5 * 15) / 1e6
    deadline = time.time() + 5
    while True:
        s, _, out = curl(srv.url + "/key/info?key=" + key, headers={"x-api-key": srv.master})
        info = json.loads(out)
        spend = info.get("info", info).get("spend")
        if (spend is not None and abs(spend - want) < 1e-9) or time.time() > deadline:
            break
        time.sleep(0.02)
    assert spend is not None and abs(spend - want) < 1e-9, info


def test_inference_profile_arn(srv, mock):
    """An inference-profile ARN carries an account id: asked for directly it
    is refused (it would reach the spend log and metrics); an admin alias
    may point at one, and it reaches Bedrock escaped and signed as AWS wants."""
    BEDROCK.reset()
    arn = ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A210987654321%3A"
           "application-inference-profile%2Fa1b2c3d4e5/invoke")
    s, h, out = curl(srv.url + arn, method="POST", headers=headers(srv), data=body())
    assert s == 400 and h.get("x-amzn-errortype") == "ValidationException", (s, out)
    assert b"210987654321" not in out and not BEDROCK.requests
    s, _, out = curl(srv.url + "/model/claude-via-profile/invoke", method="POST",
                     headers=headers(srv), data=body())
    assert s == 200, out
    assert BEDROCK.requests[-1].path == arn, BEDROCK.requests[-1].path
    assert_upstream_clean()


def _claude_code_bedrock(workdir):
    """Answers like Bedrock would for a Bash-using agent turn, in frames."""
    def reply(rec):
        body = json.loads(rec.body)
        raw = json.dumps(body["messages"])
        last = body["messages"][-1]
        has_result = isinstance(last.get("content"), list) and any(
            b.get("type") == "tool_result" for b in last["content"])
        ph = PLACEHOLDER.findall(raw)
        start = {"type": "message_start", "message": {
            "id": "msg_cc", "type": "message", "role": "assistant", "model": "claude",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 1}}}
        if ph and not has_result:
            partial = json.dumps({"command": "echo %s | tee %s/seen.txt" % (ph[0], workdir)})
            cut = partial.index(ph[0]) + 5          # inside the placeholder
            events = [start, {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_bd1", "name": "Bash", "input": {}}}]
            for piece in (partial[:cut], partial[cut:]):
                events.append({"type": "content_block_delta", "index": 0, "delta": {
                    "type": "input_json_delta", "partial_json": piece}})
            events += [{"type": "content_block_stop", "index": 0},
                       {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                           "stop_sequence": None},
                        "usage": {"output_tokens": 15}}, {"type": "message_stop"}]
        else:
            events = mock_bedrock.text_events(["Done with %s." % (ph[0] if ph else "it")])
        if rec.path.endswith("/invoke-with-response-stream"):
            return 200, {}, [mock_bedrock.chunk_frame(e) for e in events]
        return BEDROCK.echo(rec)
    return reply


def test_claude_code_cli_bedrock(srv, mock):
    """The Claude Code CLI in Bedrock mode (CLAUDE_CODE_USE_BEDROCK) runs a
    Bash tool call on an EC2 id: Bedrock saw only placeholders, the command
    got the real value, the follow-up carried the placeholder back."""
    ec2 = "i-1234567890abcdef0"
    work, home = tmpdir("mg-ccb-"), tmpdir("mg-ccb-home-")
    BEDROCK.reset()
    BEDROCK.default = _claude_code_bedrock(work)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE", "MASKGATE_", "AWS_"))}
    env.update({"HOME": home, "CLAUDE_CODE_USE_BEDROCK": "1",
                "ANTHROPIC_BEDROCK_BASE_URL": srv.url, "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
                "AWS_REGION": "us-east-1", "ANTHROPIC_CUSTOM_HEADERS": "x-api-key: " + srv.master,
                "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1", "CI": "1"})
    claude = os.path.join(harness.ROOT, "tests", "clients", "node_modules", ".bin", "claude")
    p = subprocess.run([claude, "-p", "Test with EC2 %s: echo it with Bash." % ec2,
                        "--output-format", "json", "--allowedTools", "Bash",
                        "--model", MODEL], env=env, cwd=work, capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    result = json.loads(p.stdout)
    with open(os.path.join(work, "seen.txt")) as f:
        assert f.read().strip() == ec2
    assert ec2 in result["result"], result
    assert ec2.encode() not in BEDROCK.all_bytes()
    assert not BEDROCK.sig_errors, BEDROCK.sig_errors
    posts = [r for r in BEDROCK.requests if r.path.startswith("/model/")]
    assert all(r.path == MODEL_PATH + "/invoke-with-response-stream" for r in posts), \
        [r.path for r in posts]
    follow = [r for r in posts if b"tool_result" in r.body]
    assert follow and PLACEHOLDER.search(follow[-1].body.decode())
    assert not mock.requests          # nothing went to the Anthropic API


def standalone_messages_client_bedrock_upstream(mock):
    """MASKGATE_UPSTREAM_FORMAT=bedrock: a /v1/messages client (SSE, model
    names as Anthropic spells them) is served from Bedrock: the alias
    picks the Bedrock id, the body loses model and stream, betas move into
    anthropic_beta, and the event stream comes back as SSE, restored."""
    models = os.path.join(tmpdir("mg-bdrk-models-"), "models.conf")
    with open(models, "w") as f:
        f.write("alias claude-sonnet-4-5 %s\n" % MODEL)
    os.chmod(models, 0o644)
    for kind in SERVERS:
        BEDROCK.reset()
        srv = harness.SERVERS[kind](mock, **dict(ENV, MASKGATE_UPSTREAM_FORMAT="bedrock",
                                                 MASKGATE_MODELS=models)).start()
        try:
            h = {"x-api-key": srv.master, "content-type": "application/json",
                 "anthropic-version": "2023-06-01", "anthropic-beta": "b-one, b-two"}
            b = {"model": "claude-sonnet-4-5", "max_tokens": 100,
                 "messages": [{"role": "user", "content": "Why can't %s assume %s?"
                               % (INSTANCE, ROLE)}]}
            s, _, out = curl(srv.url + "/v1/messages", method="POST", headers=h, data=b)
            assert s == 200, out
            text = json.loads(out)["content"][0]["text"]
            assert INSTANCE in text and ROLE in text, text
            rec = BEDROCK.requests[-1]
            assert rec.path == MODEL_PATH + "/invoke", rec.path
            sent = json.loads(rec.body)
            assert "model" not in sent and "stream" not in sent, sent
            assert sent["anthropic_version"] == "bedrock-2023-05-31"
            assert sent["anthropic_beta"] == ["b-one", "b-two"], sent
            masked = sent["messages"][0]["content"]
            ph = PLACEHOLDER.findall(masked)
            text = "Instance %s and role %s." % (ph[0], ph[1])
            cut = text.index(ph[0]) + 6
            BEDROCK.script.append(lambda rec, t=text, c=cut: (200, {}, [
                mock_bedrock.chunk_frame(e) for e in mock_bedrock.text_events([t[:c], t[c:]])]))
            s, hd, out = curl(srv.url + "/v1/messages", method="POST", headers=h,
                              data=dict(b, stream=True))
            assert s == 200 and hd["content-type"].startswith("text/event-stream"), (s, hd)
            events, got = [], ""
            for block in out.decode().split("\n\n"):
                lines = dict(l.split(": ", 1) for l in block.splitlines() if ": " in l)
                if "data" in lines:
                    ev = json.loads(lines["data"])
                    assert lines.get("event") == ev["type"], block
                    events.append(ev["type"])
                    if ev["type"] == "content_block_delta":
                        got += ev["delta"]["text"]
            assert got == "Instance %s and role %s." % (INSTANCE, ROLE), got
            assert events[-1] == "message_stop", events
            assert BEDROCK.requests[-1].path == MODEL_PATH + "/invoke-with-response-stream"
            assert "stream" not in json.loads(BEDROCK.requests[-1].body)
            s, _, out = curl(srv.url + "/v1/messages/count_tokens", method="POST", headers=h,
                             data=b)
            assert s == 404 and "Bedrock" in json.loads(out)["error"]["message"], out
            assert_upstream_clean()
            assert not mock.requests
        finally:
            srv.stop()


def standalone_dead_bedrock_is_clear(mock):
    """Nothing listens at the Bedrock URL: 502 in the shape AWS SDKs read."""
    env = dict(ENV, MASKGATE_BEDROCK_URL="http://127.0.0.1:%d" % harness.free_port())
    srv = harness.Lighttpd(mock, **env).start()
    try:
        s, h, out = curl(srv.url + MODEL_PATH + "/invoke-with-response-stream", method="POST",
                         headers=headers(srv, stream=True), data=body())
    finally:
        srv.stop()
    assert s == 502, (s, out)
    assert h.get("x-amzn-errortype") == "InternalServerException", h
    assert "upstream" in json.loads(out)["message"]
