"""The secrets pack end to end: a Claude Code CLI session (the real `claude`
from npm) through lighttpd and Apache, in which the model (the mock) reads a
.env with a GitHub token and a Postgres URL with a password and a PEM
private key through a Bash tool call, then writes a file with what it read.

The upstream sees only placeholders in every request of the session. The
written file holds what each type's restore policy says: the URL password
restored (tests/e2e/packs.rules sets restore = everywhere for it), the
GitHub token and the private key as their placeholders (credentials
default to restore = text: never restored into tool input)."""
import json
import os
import re
import secrets
import subprocess
import zlib

import harness
from harness import Reply, message_reply, sse_text_events, tmpdir
from test_clients import CLIENTS, claude_env, _tool_use_stream

SERVERS = ["lighttpd", "apache"]
ENV = {"MASKGATE_RULE_PACKS": "aws,secrets",
       "MASKGATE_RULES": os.path.join(harness.ROOT, "tests", "e2e", "packs.rules")}
FAMILY_PH = re.compile(r"(?:AWS|SECRET|GCP|AZURE|PII)_[A-Z0-9_]+?_\d{3,}(?:_[0-9A-Z]{4})?")
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def github_token():
    """A fresh classic token: 30 random base62 characters and their CRC32."""
    body = "".join(secrets.choice(B62) for _ in range(30))
    c, tail = zlib.crc32(body.encode()), ""
    for _ in range(6):
        tail = B62[c % 62] + tail
        c //= 62
    return "ghp_" + body + tail


def _results(body):
    return [b for m in body["messages"] if isinstance(m.get("content"), list)
            for b in m["content"] if b.get("type") == "tool_result"]


def _result_text(block):
    c = block.get("content")
    if isinstance(c, list):
        return "".join(x.get("text", "") for x in c if x.get("type") == "text")
    return c or ""


def _unique(reply, tool_id):
    """_tool_use_stream's events with a tool_use id of this turn (Claude
    Code refuses a turn that reuses an earlier id)."""
    for _, ev in reply.events:
        if ev.get("type") == "content_block_start":
            ev["content_block"]["id"] = tool_id
    return reply


def _agent(workdir):
    """Turn 1: cat the files. Turn 2: write what came back into out.txt.
    Then: done."""
    def reply(rec):
        body = rec.json()
        tools = [t.get("name") for t in body.get("tools", [])]
        res = _results(body)
        if "Bash" not in tools:
            return message_reply("ok")
        if not res:
            cmd = "cat %s/.env %s/key.pem" % (workdir, workdir)
        elif len(res) == 1:
            seen = _result_text(res[0])
            cmd = "cat > %s/out.txt <<'MGEOF'\n%s\nMGEOF" % (workdir, seen.strip("\n"))
        else:
            text = "Wrote out.txt."
            return Reply("sse", events=sse_text_events([text])) if body.get("stream") \
                else message_reply(text)
        if body.get("stream"):
            return _unique(_tool_use_stream(cmd), "toolu_p%d" % len(res))
        return message_reply("", content=[{"type": "tool_use", "id": "toolu_p%d" % len(res),
                                           "name": "Bash", "input": {"command": cmd}}])
    return reply


def test_claude_code_reads_secrets_and_writes_them(srv, mock):
    work = tmpdir("mg-packs-")
    home = tmpdir("mg-packs-home-")
    token = github_token()
    password = "Pg-" + secrets.token_urlsafe(12)
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
                         capture_output=True, text=True, check=True).stdout
    key_body = pem.splitlines()[1]
    with open(os.path.join(work, ".env"), "w") as f:
        f.write("GITHUB_TOKEN=%s\nDATABASE_URL=postgres://app:%s@db.internal:5432/app\n"
                % (token, password))
    with open(os.path.join(work, "key.pem"), "w") as f:
        f.write(pem)
    agent = _agent(work)
    auto = mock.auto

    def default(rec):
        if rec.method == "POST" and rec.path.split("?")[0] == "/v1/messages":
            return agent(rec)
        return auto(rec)
    mock.default = default
    claude = os.path.join(CLIENTS, "node_modules", ".bin", "claude")
    p = subprocess.run([claude, "-p", "Read .env and key.pem, then write them to out.txt.",
                        "--output-format", "json", "--allowedTools", "Bash",
                        "--model", "claude-sonnet-4-5"],
                       env=claude_env(srv.url, srv.master, home), cwd=work,
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    posts = [r for r in mock.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    follow = [r for r in posts if b"tool_result" in r.body]
    assert len(follow) >= 2, [r.path for r in mock.requests]
    # the upstream saw only placeholders, in every request of the session
    seen = mock.all_bytes()
    for real in (token, password, key_body, "BEGIN PRIVATE KEY-----\\n" + key_body[:20]):
        assert real.encode() not in seen, "real value upstream: %s" % real[:12]
    first = _result_text(_results(json.loads(follow[0].body))[0])
    phs = FAMILY_PH.findall(first)
    assert any(x.startswith("SECRET_GITHUB_TOKEN_") for x in phs), first
    assert any(x.startswith("SECRET_URL_PASSWORD_") for x in phs), first
    assert any(x.startswith("SECRET_PRIVATE_KEY_") for x in phs), first
    # the file on the client holds what each restore policy says
    with open(os.path.join(work, "out.txt")) as f:
        out = f.read()
    assert "postgres://app:%s@db.internal:5432/app" % password in out, out
    assert token not in out and re.search(r"GITHUB_TOKEN=SECRET_GITHUB_TOKEN_\d{3,}_[0-9A-Z]{4}", out), out
    assert key_body not in out and re.search(r"SECRET_PRIVATE_KEY_\d{3,}_[0-9A-Z]{4}", out), out
