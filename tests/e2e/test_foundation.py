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
    assert "access rid=req_mg_" in log and "path=/v1/models" in log, log[-2000:]
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
