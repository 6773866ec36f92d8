"""POST /v1/claude-code: the real Claude Code CLI from npm run headless by
maskgate, pointed back at maskgate, against the recording mock upstream;
plus a stand-in CLI (a shell script) for the failure paths: timeout,
crash, missing binary, the concurrent-run cap, the clean environment and
the temporary working directory."""
import json
import os
import re
import subprocess
import threading
import time

import harness
from harness import Reply, assert_envelope, auth, curl, message_reply, sse_text_events, tmpdir

CLIENTS = os.path.join(harness.ROOT, "tests", "clients")
CLAUDE = os.path.join(CLIENTS, "node_modules", ".bin", "claude")
PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")
EC2 = "i-1234567890abcdef0"
SERVERS = ["lighttpd", "apache"]
ENV = {"MASKGATE_CLAUDE_BIN": CLAUDE, "MASKGATE_CLAUDE_TOOLS": "Read, Grep",
       "MASKGATE_CLAUDE_TIMEOUT": "120s", "MASKGATE_CLAUDE_MAX_RUNS": "2"}


def _echo_placeholder(rec):
    """Answers every Messages call by naming the first placeholder it saw."""
    body = rec.json()
    ph = PLACEHOLDER.findall(json.dumps(body.get("messages", [])))
    text = "The instance is %s." % (ph[0] if ph else "unknown")
    if body.get("stream"):
        return Reply("sse", events=sse_text_events([text[:9], text[9:20], text[20:]]))
    return message_reply(text)


def _mock_default(mock):
    auto = mock.auto

    def default(rec):
        if rec.method == "POST" and (rec.path == "/v1/messages" or rec.path.startswith("/v1/messages?")):
            return _echo_placeholder(rec)
        return auto(rec)
    return default


def _post(srv, body, key=None, timeout=150):
    return curl(srv.url + "/v1/claude-code", method="POST",
                headers=auth(key or srv.master), data=body, timeout=timeout)


def _inner_auth_wired():
    """The CLI's sk-mgcc- credential needs one line in keys.c (see ccauth.h)."""
    with open(os.path.join(harness.ROOT, "common", "keys.c")) as f:
        if "ccauth_authenticate" in f.read():
            return True
    print("# SKIP real-CLI run: keys.c does not call ccauth_authenticate() yet", flush=True)
    return False


def test_real_cli_masks_and_restores(srv, mock):
    if not _inner_auth_wired():
        return
    mock.default = _mock_default(mock)
    s, h, b = _post(srv, {"prompt": "Test with EC2 %s" % EC2, "model": "claude-sonnet-4-5"})
    assert s == 200, (s, b[:2000], srv.read_log()[-3000:])
    out = json.loads(b)
    # the caller gets the real identifier back ...
    assert EC2 in out["result"], out
    assert out["is_error"] is False, out
    assert isinstance(out["usage"], dict) and "output_tokens" in out["usage"], out
    assert isinstance(out["duration_ms"], int), out
    # ... the model only ever saw a placeholder ...
    posts = [r for r in mock.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    assert posts, [r.path for r in mock.requests]
    assert EC2.encode() not in mock.all_bytes()
    assert any(PLACEHOLDER.search(r.body.decode()) for r in posts)
    # ... and the CLI's short-lived credential never left the machine
    assert b"sk-mgcc-" not in mock.all_bytes()
    assert all(r.headers.get("x-api-key", "").startswith("sk-ant-upstream-test-") for r in posts)
    # no tools by default: the nested request offered the model none
    first = posts[0].json()
    assert not first.get("tools"), [t.get("name") for t in first.get("tools", [])]


def test_allowed_tool_reaches_model(srv, mock):
    if not _inner_auth_wired():
        return
    mock.default = _mock_default(mock)
    s, _, b = _post(srv, {"prompt": "Test with EC2 %s" % EC2, "allowed_tools": ["Read"],
                          "model": "claude-sonnet-4-5", "system_prompt": "You are terse."})
    assert s == 200, (s, b[:2000])
    posts = [r for r in mock.requests if r.method == "POST" and r.path.startswith("/v1/messages")]
    names = [t.get("name") for t in posts[-1].json().get("tools", [])]
    assert names == ["Read"], names
    assert "You are terse." in json.dumps(posts[-1].json().get("system"))


def test_tool_not_on_allow_list(srv, mock):
    s, _, b = _post(srv, {"prompt": "hi", "allowed_tools": ["Read", "Bash"]})
    assert s == 403, (s, b)
    obj = assert_envelope(b, "permission_error")
    assert "Bash" in obj["error"]["message"], obj
    assert not mock.requests


def test_bad_requests(srv, mock):
    s, h, b = curl(srv.url + "/v1/claude-code", method="POST",
                   headers={"content-type": "application/json"}, data={"prompt": "hi"})
    assert s == 401, (s, b)
    assert_envelope(b, "authentication_error")
    for body in ({}, {"prompt": ""}, {"prompt": 5}, {"prompt": "x", "allowed_tools": "Read"},
                 {"prompt": "x", "allowed_tools": ["--dangerously-skip-permissions"]},
                 {"prompt": "x", "model": "--debug"}, "not json"):
        s, _, b = _post(srv, body)
        assert s == 400, (body, s, b)
        assert_envelope(b, "invalid_request_error")
    s, h, b = curl(srv.url + "/v1/claude-code", headers=auth(srv.master))
    assert s == 405 and "POST" in h.get("allow", ""), (s, h)
    assert not mock.requests


# ---------------------------------------------------------------- stand-in CLI

FAKE_CLI = r"""#!/bin/sh
# stand-in for the Claude Code CLI: behaviour chosen by the prompt (last argument)
for last; do :; done
case "$last" in
env)
    # report the environment, argv and working directory as the result
    python3 -c 'import json,os,sys; print(json.dumps({"type":"result","subtype":"success",
"is_error":False,"result":json.dumps({"env":dict(os.environ),"cwd":os.getcwd(),
"argv":sys.argv[1:]}),"usage":{"input_tokens":1,"output_tokens":2},"num_turns":1}))' "$@" ;;
slow)
    sleep 2
    echo '{"type":"result","subtype":"success","is_error":false,"result":"slow done","usage":{}}' ;;
sleep:*)
    # leave a background child in the process group: the timeout must kill it too
    sleep 60 &
    echo $! > "${last#sleep:}"
    sleep 60 ;;
crash)
    kill -SEGV $$ ;;
garbage)
    echo "this is not json"; echo "boom on stderr" >&2; exit 3 ;;
esac
"""


def _fake_server(mock, **env):
    d = tmpdir("mg-fakecli-")
    cli = os.path.join(d, "claude")
    with open(cli, "w") as f:
        f.write(FAKE_CLI)
    os.chmod(cli, 0o755)
    base = {"MASKGATE_CLAUDE_BIN": cli, "MASKGATE_CLAUDE_TIMEOUT": "4s",
            "MASKGATE_CLAUDE_MAX_RUNS": "1"}
    base.update(env)
    return harness.Lighttpd(mock, **base).start(), d


def standalone_fake_cli_environment_and_workdir(mock):
    srv, _ = _fake_server(mock, MASKGATE_CLAUDE_TOOLS="Read")
    try:
        s, _, b = _post(srv, {"prompt": "env", "allowed_tools": ["Read"]})
        assert s == 200, (s, b)
        res = json.loads(json.loads(b)["result"])
        env, cwd = res["env"], res["cwd"]
        # a clean environment: nothing of maskgate's own configuration leaks in
        assert not [k for k in env if k.startswith("MASKGATE_")], sorted(env)
        assert env["HOME"] == cwd and cwd.startswith("/tmp/maskgate-cc-"), env
        assert env["ANTHROPIC_BASE_URL"] == srv.url, env["ANTHROPIC_BASE_URL"]
        assert env["ANTHROPIC_API_KEY"].startswith("sk-mgcc-"), env["ANTHROPIC_API_KEY"][:12]
        assert env["DISABLE_TELEMETRY"] == "1"
        assert "ANTHROPIC_AUTH_TOKEN" not in env and "http_proxy" not in env
        # argv, not a shell line; tools named both as the available set and approved
        argv = res["argv"]
        assert argv[:3] == ["-p", "--output-format", "json"], argv
        assert argv[argv.index("--tools") + 1] == "Read", argv
        assert argv[argv.index("--allowedTools") + 1] == "Read", argv
        assert argv[-2:] == ["--", "env"], argv
        # the working directory is gone afterwards
        assert not os.path.exists(cwd), cwd
    finally:
        srv.stop()


def standalone_fake_cli_failures(mock):
    srv, d = _fake_server(mock)
    try:
        pidfile = os.path.join(d, "bg.pid")
        t0 = time.time()
        s, _, b = _post(srv, {"prompt": "sleep:" + pidfile})
        took = time.time() - t0
        assert s == 504, (s, b)
        assert_envelope(b, "timeout_error")
        assert took < 15, took
        # the whole process group went, including the background child
        with open(pidfile) as f:
            bg = int(f.read().strip())
        time.sleep(0.3)
        assert not os.path.exists("/proc/%d" % bg) or \
            open("/proc/%d/stat" % bg).read().split()[2] == "Z", bg

        s, _, b = _post(srv, {"prompt": "crash"})
        assert s == 502, (s, b)
        assert "signal 11" in assert_envelope(b, "api_error")["error"]["message"]

        s, _, b = _post(srv, {"prompt": "garbage"})
        assert s == 502, (s, b)
        msg = assert_envelope(b, "api_error")["error"]["message"]
        assert "exit status 3" in msg and "boom on stderr" in msg, msg

        # the cap on concurrent runs (1 here) holds across workers
        results = []

        def one():
            results.append(_post(srv, {"prompt": "slow"}))
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.3)
        for t in threads:
            t.join()
        codes = sorted(r[0] for r in results)
        assert codes == [200, 429], [(r[0], r[2][:200]) for r in results]
        busy = [r for r in results if r[0] == 429][0]
        assert_envelope(busy[2], "rate_limit_error")
        assert busy[1].get("retry-after"), busy[1]
        # and the slot is free again afterwards
        s, _, b = _post(srv, {"prompt": "slow"})
        assert s == 200 and json.loads(b)["result"] == "slow done", (s, b)
    finally:
        srv.stop()


def standalone_missing_cli(mock):
    srv = harness.Lighttpd(mock, MASKGATE_CLAUDE_BIN="/nonexistent/claude").start()
    try:
        s, _, b = _post(srv, {"prompt": "hi"})
        assert s == 503, (s, b)
        msg = assert_envelope(b, "api_error")["error"]["message"]
        assert "MASKGATE_CLAUDE_BIN" in msg, msg
    finally:
        srv.stop()


def standalone_strict_body_parsing(mock):
    """The body gets the strict parser every other body gets: what json-c's
    lenient parser would let through (trailing data, comments, NaN, a lone
    surrogate, a second object after a NUL) is a 400, before any CLI run.
    No CLI is installed, so a body that parsed would answer 503."""
    srv = harness.Lighttpd(mock, MASKGATE_CLAUDE_BIN="/nonexistent/claude").start()
    try:
        s, _, b = _post(srv, {"prompt": "hi"})
        assert s == 503, ("control: a good body reaches the CLI check", s, b)
        for body in (b'{"prompt": "hi"} trailing', b'{"prompt": "hi"}{"prompt": "again"}',
                     b'{"prompt": "hi" /* comment */}', b'{"prompt": "hi", "n": NaN}',
                     b'{"prompt": "\\ud800"}', b'{"prompt": "hi"}\x00{"model": "x"}'):
            s, _, b = _post(srv, body)
            assert s == 400, (body, s, b)
            assert_envelope(b, "invalid_request_error")
        assert not mock.requests
    finally:
        srv.stop()


def standalone_turned_off(mock):
    srv = harness.Lighttpd(mock, MASKGATE_CLAUDE_MAX_RUNS="0").start()
    try:
        s, _, b = _post(srv, {"prompt": "hi"})
        assert s == 403, (s, b)
        assert_envelope(b, "permission_error")
    finally:
        srv.stop()


def standalone_config_validation(mock):
    d = tmpdir("mg-ccfg-")
    env = harness.maskgate_env(d, mock.url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASKGATE_")}
    for name, bad in (("MASKGATE_CLAUDE_TIMEOUT", "soon"), ("MASKGATE_CLAUDE_MAX_RUNS", "-1"),
                      ("MASKGATE_SELF_URL", "ftp://x")):
        e = dict(base, **env)
        e[name] = bad
        p = subprocess.run([harness.FCGI, "--check"], env=e, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode != 0 and name in (p.stdout + p.stderr), (name, p.stdout, p.stderr)


def standalone_jwt_models_claim_not_widened(mock):
    """The run's sk-mgcc- credential carries no models list, so a JWT with a
    models claim would reach every model through its nested calls: refused."""
    import base64
    import hashlib
    import hmac
    import secrets

    def b64u(data):
        return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()

    def hs256(claims, secret):
        head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}))
        body = b64u(json.dumps(claims))
        sig = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
        return "%s.%s.%s" % (head, body, base64.urlsafe_b64encode(sig).rstrip(b"=").decode())

    secret = "jwt-" + secrets.token_hex(24)
    srv, _ = _fake_server(mock, MASKGATE_JWT_SECRET=secret)
    try:
        now = int(time.time())
        limited = hs256({"sub": "cc-alice", "exp": now + 300, "models": ["claude-haiku*"]}, secret)
        s, _, b = _post(srv, {"prompt": "env", "model": "claude-opus-4-1"}, key=limited)
        assert s == 403, (s, b)
        assert_envelope(b, "permission_error")
        free = hs256({"sub": "cc-bob", "exp": now + 300}, secret)
        s, _, b = _post(srv, {"prompt": "env"}, key=free)
        assert s == 200, (s, b)
    finally:
        srv.stop()
