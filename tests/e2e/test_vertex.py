"""The Vertex AI routes through lighttpd and Apache against a mock Vertex
endpoint and a mock OAuth2 token endpoint that verifies the service
account's signed grant: masking up, restoring down (JSON and SSE), the
token cached across requests, a failing token endpoint as a clear error,
and the Claude Code CLI in Vertex mode."""
import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile

import harness
import mock_vertex
from harness import curl, tmpdir

SERVERS = ["lighttpd", "apache"]
VERTEX = mock_vertex.VertexMock()
atexit.register(VERTEX.close)
# module lifetime, unlike harness.tmpdir() which the runner empties after each test
_KEYDIR = tempfile.mkdtemp(prefix="mg-vertex-key-")
atexit.register(shutil.rmtree, _KEYDIR, True)
SA_KEY, VERTEX.pub = mock_vertex.new_service_account(_KEYDIR, VERTEX.url + "/token")
ENV = {"MASKGATE_VERTEX_URL": VERTEX.url, "MASKGATE_VERTEX_SA_KEY_FILE": SA_KEY,
       "MASKGATE_VERTEX_PROJECT": "gw-project", "MASKGATE_VERTEX_REGION": "us-east5"}

PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")
MODEL = "claude-sonnet-4-5@20250929"
BASE = "/v1/projects/client-project/locations/us-east5/publishers/anthropic/models/"
UPSTREAM = "/v1/projects/gw-project/locations/us-east5/publishers/anthropic/models/"
INSTANCE = "i-0a1b2c3d4e5f67890"
ROLE = "arn:aws:iam::123456789012:role/DeployRole"
REALS = [INSTANCE, ROLE, "123456789012"]


def body(stream=False):
    b = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 1024,
         "messages": [{"role": "user", "content": "Why can't %s assume %s?" % (INSTANCE, ROLE)}]}
    if stream:
        b["stream"] = True
    return b


def headers(srv):
    return {"x-api-key": srv.master, "content-type": "application/json",
            "anthropic-beta": "some-beta-2025", "x-goog-user-project": "client-billing",
            "authorization": "Bearer ya29.client-own-google-token"}


def assert_upstream_clean():
    seen = VERTEX.all_bytes()
    for v in REALS + ["client-own-google-token", "client-billing"]:
        assert v.encode() not in seen, "Vertex mock saw %s" % v
    assert not VERTEX.grant_errors, VERTEX.grant_errors


def test_raw_predict(srv, mock):
    VERTEX.reset()
    calls = VERTEX.token_calls
    for _ in range(2):
        s, h, out = curl(srv.url + BASE + MODEL + ":rawPredict", method="POST",
                         headers=headers(srv), data=body())
        assert s == 200, out
        reply = json.loads(out)["content"][0]["text"]
        assert INSTANCE in reply and ROLE in reply and not PLACEHOLDER.search(reply), reply
    rec = VERTEX.requests[-1]
    assert rec.path == UPSTREAM + MODEL + ":rawPredict", rec.path
    assert rec.headers.get("anthropic-beta") == "some-beta-2025"
    sent = json.loads(rec.body)
    assert sent["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent
    assert PLACEHOLDER.search(json.dumps(sent["messages"]))
    assert_upstream_clean()
    # one worker process may serve both; at most one grant per worker
    assert VERTEX.token_calls - calls <= 2


def test_stream_raw_predict(srv, mock):
    VERTEX.reset()
    s, h, out = curl(srv.url + BASE + MODEL + ":streamRawPredict", method="POST",
                     headers=headers(srv), data=body(stream=True))
    assert s == 200, out
    assert h.get("content-type", "").startswith("text/event-stream"), h
    text = ""
    for line in out.decode().splitlines():
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            if ev["type"] == "content_block_delta":
                text += ev["delta"]["text"]
    assert INSTANCE in text and ROLE in text and not PLACEHOLDER.search(text), text
    assert_upstream_clean()


def test_count_tokens(srv, mock):
    VERTEX.reset()
    b = body()
    b["model"] = MODEL
    s, _, out = curl(srv.url + BASE + "count-tokens:rawPredict", method="POST",
                     headers=headers(srv), data=b)
    assert s == 200 and json.loads(out) == {"input_tokens": 42}, out
    assert VERTEX.requests[-1].path == UPSTREAM + "count-tokens:rawPredict"
    assert_upstream_clean()


def test_token_endpoint_failure_is_clear(srv, mock):
    VERTEX.reset()
    VERTEX.tokens.clear()          # cached tokens stop working: Vertex says 401
    s, _, out = curl(srv.url + BASE + MODEL + ":rawPredict", method="POST",
                     headers=headers(srv), data=body())
    assert s == 401, out           # Vertex's own answer, passed on unchanged
    VERTEX.fail_tokens = True
    # a fresh server has no cached token: the token endpoint is asked, and fails
    fresh = harness.SERVERS[srv.kind](mock, **ENV).start()
    try:
        s, _, out = curl(fresh.url + BASE + MODEL + ":rawPredict", method="POST",
                         headers=headers(fresh), data=body())
    finally:
        fresh.stop()
        VERTEX.fail_tokens = False
    assert s == 502, out
    msg = json.loads(out)["error"]["message"]
    assert "token endpoint" in msg and "invalid_grant" in msg, msg
    assert not VERTEX.requests or all(r.headers.get("authorization") for r in VERTEX.requests)


def test_claude_code_cli_vertex(srv, mock):
    """Claude Code in Vertex mode (CLAUDE_CODE_USE_VERTEX) against maskgate."""
    VERTEX.reset()
    ec2 = "i-1234567890abcdef0"
    work, home = tmpdir("mg-ccv-"), tmpdir("mg-ccv-home-")

    def reply(rec):
        b = json.loads(rec.body)
        ph = PLACEHOLDER.findall(json.dumps(b.get("messages", [])))
        if rec.path.endswith("count-tokens:rawPredict"):
            return VERTEX.echo(rec)
        text = "Looking at %s now." % (ph[0] if ph else "nothing")
        from mock_bedrock import text_events
        if rec.path.endswith(":streamRawPredict"):
            out = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(),
                                                         json.dumps(e).encode())
                           for e in text_events([text[:13], text[13:16], text[16:]]))
            return 200, "text/event-stream; charset=utf-8", out
        return 200, "application/json", json.dumps({
            "id": "m", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 3}}).encode()
    VERTEX.default = reply
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE", "MASKGATE_", "GOOGLE_", "CLOUD_ML"))}
    env.update({"HOME": home, "CLAUDE_CODE_USE_VERTEX": "1",
                "ANTHROPIC_VERTEX_BASE_URL": srv.url + "/v1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
                "ANTHROPIC_VERTEX_PROJECT_ID": "client-project", "CLOUD_ML_REGION": "us-east5",
                "ANTHROPIC_CUSTOM_HEADERS": "x-api-key: " + srv.master,
                "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1", "CI": "1"})
    claude = os.path.join(harness.ROOT, "tests", "clients", "node_modules", ".bin", "claude")
    p = subprocess.run([claude, "-p", "Why is %s slow?" % ec2, "--output-format", "json",
                        "--model", MODEL], env=env, cwd=work, capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    result = json.loads(p.stdout)
    assert result["result"] == "Looking at %s now." % ec2, result
    assert ec2.encode() not in VERTEX.all_bytes()
    posts = [r for r in VERTEX.requests if ":streamRawPredict" in r.path]
    assert posts and all(r.path == UPSTREAM + MODEL + ":streamRawPredict" for r in posts), \
        [r.path for r in VERTEX.requests]
    assert not mock.requests


def standalone_messages_client_vertex_upstream(mock):
    """MASKGATE_UPSTREAM_FORMAT=vertex: /v1/messages and count_tokens served
    from Vertex; the model goes into the path (via the alias table)."""
    models = os.path.join(tmpdir("mg-vrtx-models-"), "models.conf")
    with open(models, "w") as f:
        f.write("alias claude-sonnet-4-5 %s\n" % MODEL)
    os.chmod(models, 0o644)
    VERTEX.reset()
    srv = harness.Lighttpd(mock, MASKGATE_UPSTREAM_FORMAT="vertex", MASKGATE_MODELS=models,
                           **ENV).start()
    try:
        h = {"x-api-key": srv.master, "content-type": "application/json",
             "anthropic-version": "2023-06-01", "anthropic-beta": "b-one"}
        b = {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
             "messages": [{"role": "user", "content": "Why can't %s assume %s?" % (INSTANCE, ROLE)}]}
        s, hd, out = curl(srv.url + "/v1/messages", method="POST", headers=h, data=b)
        assert s == 200 and hd["content-type"].startswith("text/event-stream"), (s, out)
        assert INSTANCE.encode() in out and ROLE.encode() in out, out
        rec = VERTEX.requests[-1]
        assert rec.path == UPSTREAM + MODEL + ":streamRawPredict", rec.path
        sent = json.loads(rec.body)
        assert "model" not in sent and sent["stream"] is True, sent
        assert sent["anthropic_version"] == "vertex-2023-10-16"
        assert rec.headers.get("anthropic-beta") == "b-one"
        s, _, out = curl(srv.url + "/v1/messages/count_tokens", method="POST", headers=h,
                         data={k: v for k, v in b.items() if k != "stream"})
        assert s == 200 and json.loads(out) == {"input_tokens": 42}, out
        assert VERTEX.requests[-1].path == UPSTREAM + "count-tokens:rawPredict"
        assert json.loads(VERTEX.requests[-1].body)["model"] == MODEL
        assert_upstream_clean()
        assert not mock.requests
    finally:
        srv.stop()
