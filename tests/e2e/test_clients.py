"""Real clients against maskgate: the Anthropic TypeScript SDK and the
Claude Code CLI, both from npm, talking to the recording mock upstream."""
import json
import os
import re
import subprocess

import harness
from harness import Reply, message_reply, sse_text_events, tmpdir

CLIENTS = os.path.join(harness.ROOT, "tests", "clients")
PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")
SERVERS = ["lighttpd", "apache"]
EC2 = "i-1234567890abcdef0"


def _echo_placeholders(rec):
    body = rec.json()
    ph = PLACEHOLDER.findall(json.dumps(body["messages"]))
    text = "Looking at %s now." % (ph[0] if ph else "nothing")
    if body.get("stream"):
        return Reply("sse", events=sse_text_events([text[:13], text[13:16], text[16:]]))
    return message_reply(text)


def test_typescript_sdk(srv, mock):
    mock.default = _echo_placeholders
    p = subprocess.run(["node", os.path.join(CLIENTS, "sdk_check.mjs"), srv.url, srv.master,
                        "Why is %s slow?" % EC2], capture_output=True, text=True, timeout=120,
                       cwd=CLIENTS)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["plain"] == "Looking at %s now." % EC2, out
    assert out["streamed"] == "Looking at %s now." % EC2, out
    assert out["usage"]["output_tokens"] == 7
    assert out["errorType"] == "authentication_error", out
    assert EC2.encode() not in mock.all_bytes()
    assert len(mock.requests) == 2


def _claude_code_upstream(workdir):
    """Answers like the API would for a Bash-using agent turn."""
    def reply(rec):
        body = rec.json()
        raw = json.dumps(body["messages"])
        tools = [t.get("name") for t in body.get("tools", [])]
        last = body["messages"][-1]
        has_result = isinstance(last.get("content"), list) and any(
            b.get("type") == "tool_result" for b in last["content"])
        ph = PLACEHOLDER.findall(raw)
        if "Bash" in tools and ph and not has_result:
            cmd = "echo %s | tee %s/seen.txt" % (ph[0], workdir)
            return _tool_use_stream(cmd) if body.get("stream") else message_reply("", content=[
                {"type": "tool_use", "id": "toolu_cc1", "name": "Bash", "input": {"command": cmd}}])
        text = "Done with %s." % (ph[0] if ph else "it")
        if body.get("stream"):
            return Reply("sse", events=sse_text_events([text]))
        return message_reply(text)
    return reply


def _tool_use_stream(cmd):
    partial = json.dumps({"command": cmd})
    cut = len(partial) // 2
    return Reply("sse", events=[
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_cc", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_cc1", "name": "Bash", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": partial[:cut]}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": partial[cut:]}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                              "stop_sequence": None},
                           "usage": {"output_tokens": 15}}),
        ("message_stop", {"type": "message_stop"})])


def claude_env(url, key, home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE", "MASKGATE_"))}
    env.update({"HOME": home, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": key,
                "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1", "CI": "1"})
    return env


def test_claude_code_cli(srv, mock):
    work = tmpdir("mg-cc-")
    home = tmpdir("mg-cc-home-")
    reply = _claude_code_upstream(work)
    auto = mock.auto

    def default(rec):
        if rec.method == "POST" and rec.path.startswith("/v1/messages?") or rec.path == "/v1/messages":
            return reply(rec)
        return auto(rec)
    mock.default = default
    claude = os.path.join(CLIENTS, "node_modules", ".bin", "claude")
    p = subprocess.run([claude, "-p", "Test with EC2 %s: echo it with Bash." % EC2,
                        "--output-format", "json", "--allowedTools", "Bash",
                        "--model", "claude-sonnet-4-5"],
                       env=claude_env(srv.url, srv.master, home), cwd=work,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    result = json.loads(p.stdout)
    # the command ran on the client with the real identifier
    with open(os.path.join(work, "seen.txt")) as f:
        assert f.read().strip() == EC2
    assert EC2 in result["result"], result
    # the upstream never saw it; the follow-up carried the placeholder back
    assert EC2.encode() not in mock.all_bytes()
    posts = [r for r in mock.requests if r.path.startswith("/v1/messages") and r.method == "POST"]
    follow = [r for r in posts if b"tool_result" in r.body]
    assert follow, [r.path for r in mock.requests]
    assert PLACEHOLDER.search(follow[-1].body.decode())
