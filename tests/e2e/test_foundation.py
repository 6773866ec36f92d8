"""Foundation: routing, envelope, health, auth, limits, worker lifecycle,
configuration validation."""
import json
import os
import signal
import subprocess
import time

from harness import CLI, FCGI, assert_envelope, auth, curl, maskgate_env, new_key, tmpdir

ENV = {"MASKGATE_MAX_BODY": "1M"}


def test_root_head_and_get(srv, mock):
    s, h, _ = curl(srv.url + "/", method="HEAD")
    assert s == 200 and h.get("request-id"), (s, h)
    s, h, b = curl(srv.url + "/")
    assert s == 200 and json.loads(b)["status"] == "ok"


def test_health(srv, mock):
    s, _, b = curl(srv.url + "/health/liveliness")
    assert s == 200, b
    s, _, b = curl(srv.url + "/health/readiness")
    assert s == 200 and json.loads(b)["status"] == "ready", b
    assert mock.requests == [], "readiness must not call the model"


def test_unknown_path_404(srv, mock):
    s, h, b = curl(srv.url + "/nope/x")
    assert s == 404 and h.get("request-id", "").startswith("req_mg_")
    assert_envelope(b, "not_found_error")


def test_wrong_method_405(srv, mock):
    s, h, b = curl(srv.url + "/health/readiness", method="POST", data="{}")
    assert s == 405 and "GET" in h.get("allow", ""), (s, h)
    assert_envelope(b, "invalid_request_error")


def test_auth_x_api_key_and_bearer(srv, mock):
    s, _, b = curl(srv.url + "/v1/models", headers={"x-api-key": srv.master})
    assert s == 200, b
    s, _, b = curl(srv.url + "/v1/models", headers={"Authorization": "Bearer " + srv.master})
    assert s == 200, b
    assert len(mock.requests) == 2


def test_auth_refused(srv, mock):
    for hdrs in ({}, {"x-api-key": new_key()}, {"Authorization": "Bearer " + new_key()},
                 {"Authorization": "Basic " + srv.master}):
        s, _, b = curl(srv.url + "/v1/models", headers=hdrs)
        assert s == 401, (hdrs, s, b)
        assert_envelope(b, "authentication_error")
    assert mock.requests == [], "refused requests must not reach the upstream"


def test_body_limit_413(srv, mock):
    big = '{"model":"x","messages":[{"role":"user","content":"' + "a" * (1100 * 1024) + '"}]}'
    s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=big)
    assert s == 413, (s, b[:200])
    assert_envelope(b)
    assert mock.requests == []


def test_worker_sigkill_replaced(srv, mock):
    curl(srv.url + "/health/readiness")
    pids = srv.worker_pids()
    assert pids, "no maskgate worker found"
    os.kill(pids[0], signal.SIGKILL)
    time.sleep(0.3)
    ok = 0
    for _ in range(6):
        s, _, _ = curl(srv.url + "/health/readiness")
        ok += s == 200
    assert ok >= 5, "worker not replaced (%d/6 ok)" % ok


def test_access_log_has_no_secrets(srv, mock):
    curl(srv.url + "/v1/models", headers={"x-api-key": srv.master})
    curl(srv.url + "/v1/models?key=" + srv.master, headers={"x-api-key": srv.master})
    time.sleep(0.3)
    log = srv.read_log()
    assert "access rid=req_mg_" in log and "route=/v1/models" in log, log[-2000:]
    assert srv.master not in log
    assert srv.env["MASKGATE_UPSTREAM_API_KEY"] not in log


# ---------------------------------------------------------------- configuration

def _check(env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASKGATE_")}
    base.update(env)
    return subprocess.run([FCGI, "--check"], env=base, capture_output=True, text=True, timeout=30)


def standalone_config_refuses_bad_master_keys(mock):
    d = tmpdir()
    env = maskgate_env(d, mock.url)
    cases = {None: "not set", "sk-litellm-master-key": "sample", "sk-1234": "sample",
             "sk-short": "too short", "nosk-" + "ab" * 30: "sk-",
             "sk-" + "a" * 40: "entropy", "sk-" + "ab" * 20: "entropy"}
    for key, why in cases.items():
        e = dict(env)
        if key is None:
            del e["MASKGATE_MASTER_KEY"]
        else:
            e["MASKGATE_MASTER_KEY"] = key
        p = _check(e)
        assert p.returncode != 0, (key, p.stdout)
        line = p.stderr.strip()
        assert "MASKGATE_MASTER_KEY" in line and line.count("\n") == 0, line
        assert why in line, (why, line)
        if key:
            assert key not in line, "the refused key must not be echoed"
    assert _check(env).returncode == 0


def standalone_config_file_and_secret_files(mock):
    d = tmpdir()
    env = maskgate_env(d, mock.url)
    keyfile = os.path.join(d, "master.key")
    with open(keyfile, "w") as f:
        f.write(env.pop("MASKGATE_MASTER_KEY") + "\n")
    e = dict(env, MASKGATE_MASTER_KEY_FILE=keyfile)
    p = _check(e)
    assert p.returncode == 0, p.stderr
    # MASKGATE_CONFIG env file holding everything, with a _FILE entry
    conf = os.path.join(d, "maskgate.env")
    with open(conf, "w") as f:
        f.write("# maskgate test config\n")
        for k, v in env.items():
            f.write('%s="%s"\n' % (k, v))
        f.write("MASKGATE_MASTER_KEY_FILE=%s\n" % keyfile)
    p = _check({"MASKGATE_CONFIG": conf})
    assert p.returncode == 0, p.stderr
    # both NAME and NAME_FILE: refused
    p = _check(dict(e, MASKGATE_MASTER_KEY=new_key()))
    assert p.returncode != 0 and "MASKGATE_MASTER_KEY" in p.stderr
    # bad values name the variable
    for var, val in (("MASKGATE_DATA_KEY", "xyz"), ("MASKGATE_UPSTREAM_URL", "ftp://x"),
                     ("MASKGATE_MAX_BODY", "lots"), ("MASKGATE_MAP_TTL", "7 days")):
        p = _check(dict(e, **{var: val}))
        assert p.returncode != 0 and p.stderr.startswith("maskgate: " + var), (var, p.stderr)
    # a missing secret file
    p = _check(dict(env, MASKGATE_MASTER_KEY_FILE=os.path.join(d, "nope")))
    assert p.returncode != 0 and "MASKGATE_MASTER_KEY_FILE" in p.stderr


def standalone_keygen_and_help(mock):
    a = subprocess.run([CLI, "keygen"], capture_output=True, text=True).stdout.strip()
    b = subprocess.run([CLI, "keygen"], capture_output=True, text=True).stdout.strip()
    assert a.startswith("sk-") and len(a) == 67 and a != b
    int(a[3:], 16)
    k = subprocess.run([CLI, "keygen", "--data"], capture_output=True, text=True).stdout.strip()
    assert len(k) == 64
    int(k, 16)
    for argv in ([CLI, "--help"], [FCGI, "--help"], [CLI, "keygen", "--help"],
                 [CLI, "doctor", "--help"], [CLI, "mask", "--help"], [CLI, "stats", "--help"],
                 [CLI, "purge", "--help"], [CLI, "rules", "--help"]):
        p = subprocess.run(argv, capture_output=True, text=True)
        assert p.returncode == 0 and "usage" in p.stdout.lower(), (argv, p.stdout, p.stderr)


def standalone_doctor(mock):
    d = tmpdir()
    env = maskgate_env(d, mock.url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASKGATE_")}
    p = subprocess.run([CLI, "doctor"], env=dict(base, **env), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout
    weak = dict(base, **env)
    weak["MASKGATE_MASTER_KEY"] = "sk-1234"
    p = subprocess.run([CLI, "doctor", "--offline"], env=weak, capture_output=True, text=True)
    assert p.returncode == 1 and "weak" in p.stdout, p.stdout
    secret = os.path.join(d, "k")
    with open(secret, "w") as f:
        f.write(env["MASKGATE_MASTER_KEY"])
    os.chmod(secret, 0o644)
    e = dict(base, **env)
    del e["MASKGATE_MASTER_KEY"]
    e["MASKGATE_MASTER_KEY_FILE"] = secret
    e["ANTHROPIC_BASE_URL"] = mock.url
    e["MASKGATE_UPSTREAM_URL"] = mock.url
    p = subprocess.run([CLI, "doctor", "--offline"], env=e, capture_output=True, text=True)
    assert "accessible by group or others" in p.stdout, p.stdout
    assert "equals ANTHROPIC_BASE_URL" in p.stdout and p.returncode == 1, p.stdout


# ---------------------------------------------------------------- modes and lifecycle

def standalone_cgi_mode(mock):
    """Plain CGI: one request per process, environment and stdin."""
    d = tmpdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASKGATE_", "HTTP_"))}
    env.update(maskgate_env(d, mock.url))
    env.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
                "REQUEST_URI": "/health/readiness", "SERVER_PROTOCOL": "HTTP/1.1"})
    p = subprocess.run([FCGI], env=env, input=b"", capture_output=True, timeout=30)
    assert p.stdout.startswith(b"Status: 200"), p.stdout[:300] + p.stderr[-500:]
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 10,
                       "messages": [{"role": "user", "content": "stop i-0a1b2c3d4e5f67890"}]}).encode()
    env.update({"REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/messages",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_API_KEY": env["MASKGATE_MASTER_KEY"]})
    p = subprocess.run([FCGI], env=env, input=body, capture_output=True, timeout=30)
    assert p.stdout.startswith(b"Status: 200"), p.stdout[:300] + p.stderr[-500:]
    assert b"i-0a1b2c3d4e5f67890" in p.stdout, "reply not restored"
    assert b"i-0a1b2c3d4e5f67890" not in mock.all_bytes()
    # a misconfigured CGI still answers in the envelope
    bad = dict(env)
    del bad["MASKGATE_MASTER_KEY"]
    p = subprocess.run([FCGI], env=bad, input=body, capture_output=True, timeout=30)
    assert p.stdout.startswith(b"Status: 503") and b'"type":"error"' in p.stdout, p.stdout
    assert b"MASKGATE_MASTER_KEY" in p.stderr


def standalone_pool_drains_on_sigterm(mock):
    import threading
    import harness
    from harness import message_reply
    srv = harness.LighttpdPool(mock).start()
    try:
        mock.script.append(message_reply("slow answer"))
        mock.script[0].delay = 2.0
        result = {}

        def slow():
            result["r"] = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master),
                               data={"model": "claude-sonnet-4-5", "max_tokens": 5,
                                     "messages": [{"role": "user", "content": "hi"}]})
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.7)
        srv.pool.send_signal(signal.SIGTERM)
        t.join(20)
        assert result["r"][0] == 200, result
        assert json.loads(result["r"][2])["content"][0]["text"] == "slow answer"
        assert srv.pool.wait(timeout=15) == 0
        assert not os.path.exists(os.path.join(srv.dir, "pool.sock"))
        assert "pool: stopped" in srv.read_log()
    finally:
        srv.stop()


def standalone_pool_replaces_retired_workers(mock):
    import harness
    srv = harness.LighttpdPool(mock, MASKGATE_MAX_REQUESTS="3").start()
    try:
        seen = set()
        for _ in range(10):
            s, _, _ = curl(srv.url + "/health/readiness")
            assert s == 200
            seen.update(srv.worker_pids())
        assert len(seen) >= 3, seen
        assert "exiting to be replaced" in srv.read_log()
        sock = os.path.join(srv.dir, "pool.sock")
        assert oct(os.stat(sock).st_mode & 0o777) == "0o660"
    finally:
        srv.stop()


def standalone_make_run(mock):
    import harness
    d = tmpdir()
    port = harness.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASKGATE_")}
    env.update({"MG_RUN_DIR": os.path.join(d, "var"), "MASKGATE_PORT": str(port),
                "MASKGATE_UPSTREAM_URL": mock.url, "MG_BINDIR": harness.BINDIR})
    log = os.path.join(d, "run.log")
    p = harness.spawn(["sh", os.path.join(harness.ROOT, "scripts", "run.sh")], env=env, log=log)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if curl(url + "/health/readiness", timeout=3)[0] == 200:
                break
        except RuntimeError:
            time.sleep(0.2)
    with open(os.path.join(d, "var", "master.key")) as f:
        key = f.read().strip()
    assert oct(os.stat(os.path.join(d, "var", "master.key")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.join(d, "var")).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.join(d, "var", "maskgate.db")).st_mode & 0o777) == "0o600"
    out = open(log).read()
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:%d" % port in out and key in out, out
    s, _, b = curl(url + "/v1/models", headers={"x-api-key": key})
    assert s == 200, b
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(timeout=15) is not None
    time.sleep(0.5)
    left = [cmd for cmd in harness.run_processes().values() if os.path.join(d, "var") in cmd]
    assert not left, "processes left behind: %s" % left


def standalone_env_templates_validate(mock):
    """Each deploy/env template passes --check once its paths point here."""
    import harness
    d = tmpdir()
    secrets_ = {"master": new_key(), "data": maskgate_env(d, mock.url)["MASKGATE_DATA_KEY"],
                "upstream": "sk-ant-test"}
    for name in ("development", "staging", "production"):
        src = os.path.join(harness.ROOT, "deploy", "env", name + ".env")
        lines = []
        for line in open(src):
            k, _, v = line.strip().partition("=")
            if line.startswith("#") or not _:
                continue
            assert "MASTER_KEY=" not in line and "DATA_KEY=" not in line, \
                "%s: secrets belong in files, not in the template" % name
            if k.endswith("_FILE"):
                which = "master" if "MASTER" in k else "data" if "DATA" in k else "upstream"
                path = os.path.join(d, "%s-%s.key" % (name, which))
                with open(path, "w") as f:
                    f.write(secrets_[which] + "\n")
                v = path
            elif k == "MASKGATE_DB":
                v = os.path.join(d, name, "maskgate.db")
            lines.append("%s=%s" % (k, v))
        conf = os.path.join(d, name + ".env")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = _check({"MASKGATE_CONFIG": conf})
        assert p.returncode == 0, (name, p.stderr)
        assert "(%s)" % name in p.stdout, p.stdout
