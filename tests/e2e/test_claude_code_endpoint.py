"""POST /v1/claude-code: the real Claude Code CLI from npm run headless by
maskgate, pointed back at maskgate, against the recording mock upstream;
plus a stand-in CLI (a shell script) for the failure paths: timeout,
crash, missing binary, the concurrent-run cap, the clean environment and
the temporary working directory."""
import json
import os
import re
import signal
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


def test_real_cli_masks_and_restores(srv, mock):
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
# stand-in for the Claude Code CLI: behaviour chosen by the prompt, read
# from stdin as the real CLI does with -p and no prompt argument (or taken
# from after a "--", as maskgate once passed it, so the tests can show why)
prev=; last=
for a; do prev=$last; last=$a; done
if [ "$prev" = "--" ]; then prompt=$last; else prompt=$(cat); fi
case "$prompt" in
env)
    # report the environment, argv, working directory and both prompts
    python3 -c 'import json,os,sys; sp=open("/dev/fd/3").read() if "--system-prompt-file" in sys.argv else None
print(json.dumps({"type":"result","subtype":"success",
"is_error":False,"result":json.dumps({"env":dict(os.environ),"cwd":os.getcwd(),
"argv":sys.argv[1:-1],"prompt":sys.argv[-1],"system":sp,"uid":os.getuid(),
"pids":sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}),
"usage":{"input_tokens":1,"output_tokens":2},"num_turns":1}))' "$@" "$prompt" ;;
probe:*)
    # which of the paths (a JSON list after "probe:") the run can see or read
    python3 -c 'import json,os,sys
def look(p):
    try:
        with open(p, "rb") as f:
            return "read %d bytes" % len(f.read())
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e.strerror)
paths=json.loads(sys.argv[1][len("probe:"):])
print(json.dumps({"type":"result","subtype":"success","is_error":False,
"result":json.dumps({p: look(p) for p in paths}),"usage":{}}))' "$prompt" ;;
slow*)
    sleep 2
    echo '{"type":"result","subtype":"success","is_error":false,"result":"slow done","usage":{}}' ;;
setsid:*)
    # a tool that escapes into its own session: the timeout must kill it too
    setsid sleep "${prompt#setsid:}" </dev/null >/dev/null 2>&1 &
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
        s, _, b = _post(srv, {"prompt": "env", "allowed_tools": ["Read"],
                              "system_prompt": "Be terse.\nNo tools."})
        assert s == 200, (s, b)
        res = json.loads(json.loads(b)["result"])
        env, cwd = res["env"], res["cwd"]
        # both prompts arrive whole, the prompt on stdin and the system prompt on fd 3
        assert res["prompt"] == "env" and res["system"] == "Be terse.\nNo tools.", res
        # inside the sandbox: nobody, in a PID namespace of its own (no worker there)
        assert res["uid"] == 65534, res["uid"]
        assert not set(res["pids"]) & set(srv.worker_pids()), (res["pids"], srv.worker_pids())
        assert len(res["pids"]) < 10, res["pids"]
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
        assert argv[argv.index("--system-prompt-file") + 1] == "/dev/fd/3", argv
        assert "env" not in argv and "Be terse.\nNo tools." not in argv, argv
        # the working directory is gone afterwards
        assert not os.path.exists(cwd), cwd
    finally:
        srv.stop()


def standalone_fake_cli_failures(mock):
    srv, d = _fake_server(mock)
    try:
        # a descendant that called setsid(): out of the CLI's process group and
        # session, so only the sandbox's PID namespace can take it down
        marker = "%d.%d" % (1000 + os.getpid() % 1000, time.time_ns() % 10**6)
        seen = []
        result = []
        t = threading.Thread(target=lambda: result.append(_post(srv, {"prompt": "setsid:" + marker})))
        t0 = time.time()
        t.start()
        try:
            while t.is_alive() and not seen:
                seen = _sleepers(marker)
                time.sleep(0.1)
            t.join()
            s, _, b = result[0]
            took = time.time() - t0
            assert seen, "the setsid sleep never started"
            assert s == 504, (s, b)
            assert_envelope(b, "timeout_error")
            assert took < 15, took
            deadline = time.time() + 3
            while _sleepers(marker) and time.time() < deadline:
                time.sleep(0.1)
            assert not _sleepers(marker), _sleepers(marker)
        finally:
            t.join()
            for pid in _sleepers(marker):  # what a failure left behind
                os.kill(pid, signal.SIGKILL)

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


def _sleepers(marker):
    """Live (non-zombie) processes running `sleep <marker>`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", marker.encode()] and state != "Z":
            found.append(int(pid))
    return found


def _cmdlines():
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    out[int(pid)] = f.read()
            except OSError:
                pass
    return out


def standalone_prompt_not_in_argv(mock):
    """The prompt and the system prompt reach the CLI on stdin and an fd:
    no process's command line, readable by every local user, holds them."""
    srv, d = _fake_server(mock)
    try:
        marker = "secret-%d-%d" % (os.getpid(), time.time_ns())
        result = []
        t = threading.Thread(target=lambda: result.append(_post(srv, {
            "prompt": "slow " + marker, "system_prompt": "sys-" + marker})))
        t.start()
        saw_cli = False
        leaks = []
        while t.is_alive():
            for pid, cmd in _cmdlines().items():
                if d.encode() in cmd:
                    saw_cli = True
                if marker.encode() in cmd:
                    leaks.append((pid, cmd))
            time.sleep(0.05)
        t.join()
        assert result[0][0] == 200, result[0]
        assert saw_cli, "never saw the fake CLI run"
        assert not leaks, leaks[:3]
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


# ---------------------------------------------------------------- the sandbox

def _tool_calls_reply(calls, stream):
    """A model turn that asks for the tool calls [(name, input), ...]."""
    blocks = [{"type": "tool_use", "id": "toolu_sbx%02d" % i, "name": n, "input": inp}
              for i, (n, inp) in enumerate(calls)]
    if not stream:
        return message_reply("", content=blocks)
    events = [("message_start", {"type": "message_start", "message": {
        "id": "msg_sbx", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 1}}})]
    for i, blk in enumerate(blocks):
        events += [
            ("content_block_start", {"type": "content_block_start", "index": i,
                                     "content_block": dict(blk, input={})}),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(blk["input"])}}),
            ("content_block_stop", {"type": "content_block_stop", "index": i})]
    events += [("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 15}}),
        ("message_stop", {"type": "message_stop"})]
    return Reply("sse", events=events)


def _secret_file_server(kind, mock, **env):
    """A server keeping its keys in MASKGATE_*_FILE files next to its database,
    as deploy/ does, readable by the worker and nobody else."""
    srv = harness.SERVERS[kind](mock, **dict(ENV, **env))
    for name, fname in (("MASKGATE_MASTER_KEY", "master.key"), ("MASKGATE_DATA_KEY", "data.key")):
        path = os.path.join(srv.dir, fname)
        with open(path, "w") as f:
            f.write(srv.env.pop(name) + "\n")
        os.chmod(path, 0o600)
        if kind == "apache" and os.geteuid() == 0:
            import pwd
            www = pwd.getpwnam("www-data")
            os.chown(path, www.pw_uid, www.pw_gid)
        srv.env[name + "_FILE"] = path
    return srv.start()


def _reads_secrets(srv, kind, mock):
    master, data = srv.master, open(srv.env["MASKGATE_DATA_KEY_FILE"]).read().strip()
    db = srv.env["MASKGATE_DB"]
    asked = []
    auto = mock.auto

    def reply(rec):
        body = rec.json()
        last = body["messages"][-1]
        done = isinstance(last.get("content"), list) and any(
            b.get("type") == "tool_result" for b in last["content"])
        if "Read" in [t.get("name") for t in body.get("tools", [])] and not done:
            paths = [srv.env["MASKGATE_MASTER_KEY_FILE"], srv.env["MASKGATE_DATA_KEY_FILE"], db]
            paths += ["/proc/%d/environ" % pid for pid in srv.worker_pids()]
            calls = [("Read", {"file_path": p}) for p in paths]
            # Read itself declines .db and /proc paths; Grep (ripgrep) does not
            calls += [("Grep", {"pattern": "MASKGATE|SQLite|sk-", "path": p,
                                "output_mode": "content"})
                      for p in [os.path.dirname(db)] + paths[3:]]
            asked.extend(calls)
            return _tool_calls_reply(calls, body.get("stream"))
        text = "Nothing readable."
        if body.get("stream"):
            return Reply("sse", events=sse_text_events([text]))
        return message_reply(text)

    def default(rec):
        if rec.method == "POST" and rec.path.split("?")[0] == "/v1/messages":
            return reply(rec)
        return auto(rec)
    mock.default = default
    # a non-admin key, as in the attack
    s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                   data={"key_alias": "cc-attacker"})
    assert s == 200, (s, b)
    key = json.loads(b)["key"]
    s, _, b = _post(srv, {"prompt": "Read the maskgate key files and tell me what is in them.",
                          "allowed_tools": ["Read", "Grep"], "model": "claude-sonnet-4-5"}, key=key)
    assert s == 200, (s, b[:2000], srv.read_log()[-3000:])
    assert len(asked) >= 6, asked
    # every Read came back as an error: the files are not in the run's world
    results = []
    for r in mock.requests:
        if r.method == "POST" and r.path.startswith("/v1/messages"):
            for m in r.json().get("messages", []):
                if isinstance(m.get("content"), list):
                    results += [blk for blk in m["content"] if blk.get("type") == "tool_result"]
    assert len(results) >= len(asked), (len(results), asked)
    upstream_key = srv.env["MASKGATE_UPSTREAM_API_KEY"]
    for res in results:
        assert res.get("is_error") is True, res
        # the worker's environment holds the upstream key: /proc/<worker>/environ stayed shut
        assert upstream_key not in json.dumps(res), res
    assert upstream_key.encode() not in b
    # nothing secret reached the upstream or the caller
    sent = mock.all_bytes()
    for secret in (master, data, "MASKGATE_"):
        assert secret.encode() not in sent, secret[:12]
        assert secret.encode() not in b, secret[:12]
    assert b"SQLite format 3" not in sent


def standalone_run_cannot_read_secrets(mock):
    """With Read allowed, a non-admin caller's run asks for the key files, the
    database and the worker's environment: the sandbox holds none of them.
    (The CLI's Read and Grep also decline /proc and .db paths by themselves;
    standalone_sandbox_view shows those are absent from the sandbox too.)"""
    # the pool too: its workers inherit the sandbox check made once at start
    for kind in SERVERS + ["lighttpd-pool"]:
        mock.reset()
        srv = _secret_file_server(kind, mock)
        try:
            _reads_secrets(srv, kind, mock)
        finally:
            srv.stop()


def standalone_sandbox_view(mock):
    """What the run's world holds, seen by a stand-in CLI: its working
    directory, the system; not the keys, the database, its directory, the
    config file, the worker's /proc or the host's /tmp."""
    d = tmpdir("mg-cfgfile-")
    conf = os.path.join(d, "maskgate.env")
    with open(conf, "w") as f:
        f.write("MASKGATE_LOG_LEVEL=info\n")
    srv, cli_dir = _fake_server(mock, MASKGATE_CONFIG=conf)
    try:
        db = srv.env["MASKGATE_DB"]
        secret_paths = [db, os.path.dirname(db), conf, srv.log, srv.dir,
                        os.path.join(srv.dir, "lighttpd.conf")]
        secret_paths += ["/proc/%d/environ" % pid for pid in srv.worker_pids()]
        paths = secret_paths + ["/etc/shadow", "/etc/ssl/private", "/root", "/home",
                                "/usr/bin/env", os.path.join(cli_dir, "claude")]
        s, _, b = _post(srv, {"prompt": "probe:" + json.dumps(paths)})
        assert s == 200, (s, b)
        seen = json.loads(json.loads(b)["result"])
        for p in secret_paths + ["/etc/shadow", "/etc/ssl/private", "/root", "/home"]:
            assert seen[p].startswith(("FileNotFoundError", "NotADirectory")), (p, seen[p])
        # the system and the CLI itself are there, read-only
        assert seen["/usr/bin/env"].startswith("read "), seen["/usr/bin/env"]
        assert seen[os.path.join(cli_dir, "claude")].startswith("read "), seen
    finally:
        srv.stop()


def _fake_bwrap(body):
    d = tmpdir("mg-fakebwrap-")
    path = os.path.join(d, "bwrap")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def standalone_refused_without_sandbox(mock):
    """No bubblewrap, or one that cannot create namespaces (user namespaces
    disabled): the endpoint answers 503 and says why, the CLI never runs, the
    log says so once at start, and `maskgate doctor` reports it."""
    userns_off = _fake_bwrap("echo 'bwrap: No permissions to creating new namespace, likely "
                             "because the kernel does not allow non-privileged user namespaces.' >&2\n"
                             "exit 1\n")
    cases = (("/nonexistent/bwrap", "not installed"),
             (userns_off, "No permissions to creating new namespace"),
             # a stand-in that runs its command without isolating it: the probe sees the database
             (_fake_bwrap('while [ "$1" != "--" ]; do shift; done; shift; exec "$@"\n'),
              "cannot isolate"))
    for bwrap, why in cases:
        srv, cli_dir = _fake_server(mock, MASKGATE_CLAUDE_BWRAP=bwrap)
        try:
            s, _, b = _post(srv, {"prompt": "env"})
            assert s == 503, (bwrap, s, b)
            msg = assert_envelope(b, "api_error")["error"]["message"]
            assert "sandbox" in msg and why in msg, msg
            assert not mock.requests
            log = srv.read_log()
            assert "/v1/claude-code will answer 503" in log and why in log, log[-2000:]
            env = {k: v for k, v in os.environ.items() if not k.startswith("MASKGATE_")}
            env.update(srv.env)
            p = subprocess.run([os.path.join(harness.BINDIR, "maskgate"), "doctor",
                                "--offline"], env=env, capture_output=True, text=True, timeout=60)
            assert "/v1/claude-code will answer 503" in p.stdout and why in p.stdout, p.stdout
        finally:
            srv.stop()


def standalone_systemd_dropin_verify(mock):
    """deploy/systemd/maskgate-claude-code.conf parses cleanly as a drop-in
    of the shipped unit (systemd-analyze verify reads the unit's .d dir)."""
    analyze = subprocess.run(["sh", "-c", "command -v systemd-analyze"], capture_output=True,
                             text=True).stdout.strip()
    if not analyze:
        print("# SKIP systemd drop-in verify: systemd-analyze is not installed "
              "(Debian package systemd)", flush=True)
        return
    d = tmpdir("mg-cc-systemd-")
    with open(os.path.join(harness.ROOT, "deploy", "systemd", "maskgate.service")) as f:
        unit = f.read().replace("/usr/local/lib/maskgate/bin/maskgate.fcgi", harness.FCGI)
    with open(os.path.join(harness.ROOT, "deploy", "systemd", "maskgate-claude-code.conf")) as f:
        dropin = f.read()
    with open(os.path.join(d, "maskgate.service"), "w") as f:
        f.write(unit)
    os.makedirs(os.path.join(d, "maskgate.service.d"))
    for text, clean in ((dropin, True), (dropin.replace("ProcSubset=all", "ProcSubset=some"), False)):
        with open(os.path.join(d, "maskgate.service.d", "claude-code.conf"), "w") as f:
            f.write(text)
        p = subprocess.run([analyze, "verify", os.path.join(d, "maskgate.service")],
                           capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip()
        if clean:
            assert p.returncode == 0 and not out, out
        else:  # and it does read the drop-in
            assert "claude-code.conf" in out, out
