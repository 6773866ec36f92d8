"""The shipped deployment files, started as written: deploy/apache,
deploy/lighttpd, deploy/cgi, deploy/systemd and deploy/docker.

Each file is templated only for ports, paths and certificates (every
substituted string must be present, so a changed file fails here rather
than being tested in a stale form). Certificates are self-signed, made
with openssl at test time.
"""
import http.client
import json
import os
import re
import shlex
import ssl
import subprocess
import time

import harness
from harness import (FCGI, Reply, assert_envelope, auth, curl,
                     free_port, spawn, sse_text_events, tmpdir)

DEPLOY = os.path.join(harness.ROOT, "deploy")
EC2 = "i-1234567890abcdef0"
PLACEHOLDER = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")


# ---------------------------------------------------------------- helpers

def template(relpath, subs):
    """The shipped file with each (old, new) substituted; old must occur."""
    with open(os.path.join(DEPLOY, relpath)) as f:
        text = f.read()
    for old, new in subs:
        assert old in text, "%s no longer contains %r" % (relpath, old)
        text = text.replace(old, new)
    return text


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)    # the test's web server may drop to www-data before reading
    return cert, key


def write_env_file(d, env):
    path = os.path.join(d, "maskgate.env")
    with open(path, "w") as f:
        for k, v in env.items():
            f.write("%s=%s\n" % (k, v))
    os.chmod(path, 0o644)   # www-data reads it in the test; 0640 root:www-data in production
    return path


def https(port, path, cert, **kw):
    extra = ["--cacert", cert] + kw.pop("extra", [])
    return curl("https://127.0.0.1:%d%s" % (port, path), extra=extra, **kw)


def wait_https(port, cert, log, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            s, _, _ = https(port, "/health/liveliness", cert, timeout=5)
            if s == 200:
                return
            last = s
        except Exception as e:  # noqa: BLE001 - keep polling
            last = e
        time.sleep(0.1)
    with open(log, errors="replace") as f:
        raise RuntimeError("server did not come up (%s): %s" % (last, f.read()[-3000:]))


def stream_times(port, cert, key, body):
    """SSE over HTTPS with curl -N: [(seconds, line)]."""
    argv = ["curl", "-sS", "-N", "--max-time", "60", "--noproxy", "*", "--cacert", cert]
    for k, v in auth(key).items():
        argv += ["-H", "%s: %s" % (k, v)]
    argv += ["--data-binary", "@-", "https://127.0.0.1:%d/v1/messages" % port]
    t0 = time.time()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        p.stdin.write(json.dumps(body).encode())
        p.stdin.close()
        lines = [(time.time() - t0, line) for line in p.stdout]
    except BaseException:
        p.kill()        # this test's curl ends with it
        raise
    finally:
        p.wait()
    return lines


def check_common_https(port, cert, master, mock):
    """HTTPS works, the allow-list refuses 127.0.0.2, masking happens, SSE is unbuffered."""
    s, _, b = https(port, "/health/readiness", cert)
    assert s == 200, (s, b)
    # a client outside the allow-list (127.0.0.2; 127.0.0.1 is admitted)
    s, _, b = https(port, "/health/liveliness", cert, extra=["--interface", "127.0.0.2"])
    assert s == 403, ("allow-list", s, b[:300])
    # a masked round trip over TLS
    mock.default = _echo
    s, _, b = https(port, "/v1/messages", cert, method="POST", headers=auth(master),
                    data={"model": "claude-sonnet-4-5", "max_tokens": 50,
                          "messages": [{"role": "user", "content": "Check %s" % EC2}]})
    assert s == 200, (s, b[:500])
    assert EC2 in json.loads(b)["content"][0]["text"]
    assert EC2.encode() not in mock.all_bytes()
    # SSE through the web server: events arrive as they are produced
    mock.default = None
    mock.script.append(Reply("sse", events=sse_text_events(["one ", "two ", "three ", "four"]),
                             delay=0.6))
    lines = stream_times(port, cert, master, {"model": "claude-sonnet-4-5", "max_tokens": 50,
                                              "stream": True, "messages": [
                                                  {"role": "user", "content": "count"}]})
    deltas = [t for t, line in lines if b"text_delta" in line]
    # the rewriter may split a word's last letter into its own delta
    assert len(deltas) >= 4, lines
    # 0.6s between upstream events: a buffering server would deliver them together
    assert deltas[-1] - deltas[0] > 1.2, ("buffered", deltas)
    assert lines[-1][0] - deltas[0] > 1.0, ("buffered", [t for t, _ in lines])


def _echo(rec):
    body = rec.json()
    ph = PLACEHOLDER.findall(json.dumps(body.get("messages", [])))
    return harness.message_reply("Seen %s." % (ph[0] if ph else "nothing"))


def standalone_apache_vhost(mock):
    d = tmpdir("mg-dep-apache-")
    port = free_port()
    cert, key = make_cert(d)
    env = harness.maskgate_env(d, mock.url)
    envfile = write_env_file(d, env)
    www = os.path.join(d, "www")
    os.makedirs(www)
    os.makedirs(os.path.join(d, "fcgid"), mode=0o777)
    os.chmod(os.path.join(d, "fcgid"), 0o777)
    fcgi = harness.www_copy(FCGI)   # www-data may not reach the checkout
    vhost = template("apache/maskgate.conf", [
        ("*:443", "*:%d" % port),
        ("/etc/ssl/maskgate/cert.pem", cert), ("/etc/ssl/maskgate/key.pem", key),
        ("/etc/maskgate/maskgate.env", envfile),
        ("/usr/local/lib/maskgate/bin/maskgate.fcgi", fcgi),
        ("/usr/local/lib/maskgate/bin", os.path.dirname(fcgi)),
        ("/usr/local/lib/maskgate/www", www)])
    with open(os.path.join(d, "vhost.conf"), "w") as f:
        f.write(vhost)
    mods = ["mpm_event", "authz_core", "authz_host", "alias", "fcgid", "ssl", "socache_shmcb",
            "qos", "setenvif", "env", "headers", "unique_id"]
    conf = harness.apache_conf(d, port, mods, """FcgidIPCDir %(dir)s/fcgid
FcgidProcessTableFile %(dir)s/fcgid/shm
Include %(dir)s/vhost.conf
""" % {"dir": d})
    p = subprocess.run(["apache2", "-t", "-f", conf], capture_output=True, text=True)
    assert p.returncode == 0, ("apache2 -t", p.stderr)
    spawn(["apache2", "-f", conf, "-DFOREGROUND"], log=os.path.join(d, "stdout.log"))
    wait_https(port, cert, os.path.join(d, "apache-error.log"))
    master = env["MASKGATE_MASTER_KEY"]

    check_common_https(port, cert, master, mock)
    # Authorization: Bearer reaches maskgate (CGIPassAuth On)
    s, _, b = https(port, "/v1/models", cert, headers={"authorization": "Bearer " + master})
    assert s == 200, ("bearer", s, b[:300])
    s, _, b = https(port, "/v1/models", cert, headers={"authorization": "Bearer sk-wrong"})
    assert s == 401, s
    assert_envelope(b, "authentication_error")
    # a body over mod_fcgid's 128 KiB default gets through (FcgidMaxRequestLen)
    mock.default = _echo
    big = "x " * 150000 + "Check %s" % EC2
    s, _, b = https(port, "/v1/messages", cert, method="POST", headers=auth(master),
                    data={"model": "claude-sonnet-4-5", "max_tokens": 10,
                          "messages": [{"role": "user", "content": big}]})
    assert s == 200, ("big body", s, b[:300])

    # the per-IP rate limit (mod_qos, 120 requests per 60 s): count on one
    # kept-alive TLS connection until it refuses
    ctx = ssl.create_default_context(cafile=cert)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    statuses = []
    for _ in range(140):
        conn.request("GET", "/health/liveliness")
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
        if r.status != 200:
            conn.close()
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    conn.close()
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert 100 <= first <= 120, ("refused too early or late", first)
    assert set(statuses[first:]) == {429}, statuses[first:]
    # another address is not affected by 127.0.0.1's count (it is refused by
    # the allow-list instead: 403, not 429)
    s, _, _ = https(port, "/health/liveliness", cert, extra=["--interface", "127.0.0.2"])
    assert s == 403, s


# ---------------------------------------------------------------- lighttpd

def standalone_lighttpd_conf(mock):
    d = tmpdir("mg-dep-lighttpd-")
    port, plain = free_port(), free_port()
    cert, key = make_cert(d)
    env = harness.maskgate_env(d, mock.url)
    envfile = write_env_file(d, env)
    www = os.path.join(d, "www")
    os.makedirs(www)
    snippet = template("lighttpd/maskgate.conf", [
        ("0.0.0.0:443", "127.0.0.1:%d" % port),
        ("/etc/ssl/maskgate/cert.pem", cert), ("/etc/ssl/maskgate/key.pem", key),
        ("/etc/maskgate/maskgate.env", envfile),
        ("/usr/local/lib/maskgate/bin/maskgate.fcgi", FCGI),
        ("/run/lighttpd/maskgate.sock", os.path.join(d, "maskgate.sock"))])
    with open(os.path.join(d, "50-maskgate.conf"), "w") as f:
        f.write(snippet)
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        # what Debian's /etc/lighttpd/lighttpd.conf provides, on test ports
        f.write("""server.modules = ()
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd-error.log"
include "%s/50-maskgate.conf"
""" % (plain, www, d, d))
    p = subprocess.run(["lighttpd", "-tt", "-f", conf], capture_output=True, text=True)
    assert p.returncode == 0, ("lighttpd -tt", p.stdout, p.stderr)
    spawn(["lighttpd", "-D", "-f", conf], log=os.path.join(d, "stdout.log"))
    wait_https(port, cert, os.path.join(d, "lighttpd-error.log"))
    master = env["MASKGATE_MASTER_KEY"]

    check_common_https(port, cert, master, mock)
    s, _, b = https(port, "/v1/models", cert, headers={"authorization": "Bearer " + master})
    assert s == 200, ("bearer", s, b[:300])
    # rate limit: lighttpd has no per-IP limiter; maskgate's per-key rpm_limit refuses
    s, _, b = https(port, "/key/generate", cert, method="POST", headers=auth(master),
                    data={"rpm_limit": 3, "key_alias": "ratelimited"})
    assert s == 200, (s, b)
    vkey = json.loads(b)["key"]
    mock.default = _echo
    codes, hdrs = [], None
    for _ in range(5):
        s, h, b = https(port, "/v1/messages", cert, method="POST", headers=auth(vkey),
                        data={"model": "claude-sonnet-4-5", "max_tokens": 5,
                              "messages": [{"role": "user", "content": "hi"}]})
        codes.append(s)
        if s == 429:
            hdrs, body = h, b
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429], codes
    assert_envelope(body, "rate_limit_error")
    assert hdrs.get("retry-after"), hdrs


# ---------------------------------------------------------------- CGI (.htaccess)

def standalone_cgi_htaccess(mock):
    d = tmpdir("mg-dep-cgi-")
    port = free_port()
    env = harness.maskgate_env(d, mock.url)
    envfile = write_env_file(d, env)
    www = os.path.join(d, "www")
    os.makedirs(www)
    os.chmod(www, 0o755)
    with open(os.path.join(www, ".htaccess"), "w") as f:
        f.write(template("cgi/.htaccess", [("/home/USER/maskgate/maskgate.env", envfile)]))
    with open(FCGI, "rb") as src, open(os.path.join(www, "maskgate.cgi"), "wb") as dst:
        dst.write(src.read())
    os.chmod(os.path.join(www, "maskgate.cgi"), 0o755)
    with open(os.path.join(www, "leaked.env"), "w") as f:
        f.write("MASKGATE_MASTER_KEY=should-never-be-served\n")
    mods = ["mpm_event", "authz_core", "authz_host", "cgid", "rewrite", "env", "dir", "mime"]
    conf = harness.apache_conf(d, port, mods, """ScriptSock %(dir)s/cgid.sock
TypesConfig /dev/null
DocumentRoot %(www)s
<Directory "%(www)s">
    AllowOverride Options FileInfo AuthConfig Indexes
    Require all granted
</Directory>
""" % {"dir": d, "www": www})
    spawn(["apache2", "-f", conf, "-DFOREGROUND"], log=os.path.join(d, "stdout.log"))
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 20
    s = None
    while time.time() < deadline:
        try:
            s, _, b = curl(url + "/health/liveliness", timeout=5)
            if s == 200:
                break
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.1)
    assert s == 200, (s, open(os.path.join(d, "apache-error.log")).read()[-2000:])
    master = env["MASKGATE_MASTER_KEY"]
    s, _, b = curl(url + "/health/readiness")
    assert s == 200, (s, b)
    # Authorization: Bearer reaches the CGI program
    s, _, b = curl(url + "/v1/models", headers={"authorization": "Bearer " + master})
    assert s == 200, ("bearer", s, b[:300])
    s, _, b = curl(url + "/v1/models")
    assert s == 401, s
    # a masked round trip, one process per request
    mock.default = _echo
    s, _, b = curl(url + "/v1/messages?beta=true", method="POST", headers=auth(master),
                   data={"model": "claude-sonnet-4-5", "max_tokens": 50,
                         "messages": [{"role": "user", "content": "Check %s" % EC2}]})
    assert s == 200, (s, b[:500])
    assert EC2 in json.loads(b)["content"][0]["text"]
    assert EC2.encode() not in mock.all_bytes()
    # the mapping persisted between CGI processes: same placeholder twice
    s, _, b = curl(url + "/v1/messages", method="POST", headers=auth(master),
                   data={"model": "claude-sonnet-4-5", "max_tokens": 50,
                         "messages": [{"role": "user", "content": "Again %s" % EC2}]})
    seen = [PLACEHOLDER.findall(r.body.decode()) for r in mock.requests if r.method == "POST"]
    assert seen[0] and seen[0] == seen[1], seen
    # SSE is not buffered by mod_cgid either
    mock.default = None
    mock.script.append(Reply("sse", events=sse_text_events(["a ", "b ", "c ", "d"]), delay=0.6))
    lines = harness.curl_stream(url + "/v1/messages", headers=auth(master),
                                data={"model": "claude-sonnet-4-5", "max_tokens": 50,
                                      "stream": True,
                                      "messages": [{"role": "user", "content": "x"}]})
    deltas = [t for t, line in lines if b"text_delta" in line]
    assert len(deltas) == 4 and deltas[-1] - deltas[0] > 1.2, ("buffered", lines)
    # a secret-looking file under the web root is never served
    s, _, b = curl(url + "/leaked.env")
    assert s == 403 and b"should-never" not in b, (s, b[:200])


# ---------------------------------------------------------------- systemd

def _unit_text(d):
    return template("systemd/maskgate.service", [
        ("/usr/local/lib/maskgate/bin/maskgate.fcgi", FCGI)])


def standalone_systemd_unit_verify(mock):
    analyze = subprocess.run(["sh", "-c", "command -v systemd-analyze"], capture_output=True,
                             text=True).stdout.strip()
    if not analyze:
        raise harness.Skip("systemd-analyze is not installed (Debian package systemd)")
    d = tmpdir("mg-dep-systemd-")
    unit = os.path.join(d, "maskgate.service")
    with open(unit, "w") as f:
        f.write(_unit_text(d))
    p = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
    # verify only warns (exit 0) on many mistakes: any output is a failure
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), (p.stdout, p.stderr)
    # and it does look: the same unit with a broken hardening value complains
    with open(unit, "w") as f:
        f.write(_unit_text(d).replace("NoNewPrivileges=yes", "NoNewPrivileges=maybe"))
    p = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
    assert "NoNewPrivileges" in p.stdout + p.stderr or "boolean" in p.stderr, p.stderr


def _unit_service(text):
    """Environment=, ExecStartPre= and ExecStart= of the [Service] section."""
    env, pre, start = {}, [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Environment="):
            k, v = line[len("Environment="):].split("=", 1)
            env[k] = v
        elif line.startswith("ExecStartPre="):
            pre.append(shlex.split(line[len("ExecStartPre="):]))
        elif line.startswith("ExecStart="):
            start = shlex.split(line[len("ExecStart="):])
    return env, pre, start


def standalone_systemd_pool(mock):
    """Runs the unit's own commands with its environment (paths templated)."""
    d = tmpdir("mg-dep-pool-")
    creds = os.path.join(d, "credentials")
    os.makedirs(creds)
    menv = harness.maskgate_env(d, mock.url)
    for name, var in (("master_key", "MASKGATE_MASTER_KEY"), ("data_key", "MASKGATE_DATA_KEY"),
                      ("upstream_api_key", "MASKGATE_UPSTREAM_API_KEY")):
        with open(os.path.join(creds, name), "w") as f:
            f.write(menv[var] + "\n")
    envfile = os.path.join(d, "maskgate.env")
    with open(envfile, "w") as f:
        f.write("MASKGATE_UPSTREAM_URL=%s\nMASKGATE_LOG_LEVEL=info\n" % mock.url)
    sock = os.path.join(d, "maskgate.sock")
    text = template("systemd/maskgate.service", [
        ("/usr/local/lib/maskgate/bin/maskgate.fcgi", FCGI),
        ("%d/", creds + "/"),
        ("/var/lib/maskgate/maskgate.db", os.path.join(d, "var", "maskgate.db")),
        ("/run/maskgate/maskgate.sock", sock),
        ("/etc/maskgate/maskgate.env", envfile)])
    unit_env, pre, start = _unit_service(text)
    assert start and "--listen" in start and "--workers" in start, start
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASKGATE_", "ANTHROPIC_"))}
    env.update(unit_env)
    env["CREDENTIALS_DIRECTORY"] = creds
    os.makedirs(os.path.join(d, "var"), mode=0o700)
    for argv in pre:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, ("ExecStartPre", argv, p.stdout, p.stderr)
    pool = spawn(start, env=env, log=os.path.join(d, "pool.log"))
    deadline = time.time() + 10
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(sock), open(os.path.join(d, "pool.log")).read()
    assert (os.stat(sock).st_mode & 0o777) == 0o660, oct(os.stat(sock).st_mode)
    # a web server in front of the socket, as deploy/lighttpd's alternative
    port = free_port()
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""server.modules = ("mod_fastcgi")
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd-error.log"
server.stream-response-body = 2
fastcgi.server = ( "/" => (( "socket" => "%s", "check-local" => "disable" )) )
""" % (port, d, d, sock))
    spawn(["lighttpd", "-D", "-f", conf], log=os.path.join(d, "lighttpd.log"))
    url = "http://127.0.0.1:%d" % port
    master = menv["MASKGATE_MASTER_KEY"]

    def round_trip():
        deadline2 = time.time() + 15
        s = None
        while time.time() < deadline2:
            try:
                s, _, b = curl(url + "/v1/messages", method="POST", headers=auth(master),
                               data={"model": "claude-sonnet-4-5", "max_tokens": 20,
                                     "messages": [{"role": "user", "content": "Check %s" % EC2}]},
                               timeout=10)
                if s == 200:
                    return json.loads(b)
            except Exception:  # noqa: BLE001 - lighttpd still starting
                pass
            time.sleep(0.1)
        raise AssertionError("no 200 from the pool (%s): %s" % (
            s, open(os.path.join(d, "pool.log")).read()[-2000:]))

    mock.default = _echo
    out = round_trip()
    assert EC2 in out["content"][0]["text"], out
    assert EC2.encode() not in mock.all_bytes()

    def workers():
        return sorted(pid for pid, (ppid, state, _, _) in harness.proc_table().items()
                      if ppid == pool.pid and state != "Z")
    # a worker can answer before the master has forked the last one
    nworkers = int(start[start.index("--workers") + 1])
    deadline = time.time() + 10
    before = workers()
    while len(before) != nworkers and time.time() < deadline:
        time.sleep(0.1)
        before = workers()
    assert len(before) == nworkers, before
    os.kill(before[0], 9)
    deadline = time.time() + 10
    after = workers()
    while (before[0] in after or len(after) != len(before)) and time.time() < deadline:
        time.sleep(0.1)
        after = workers()
    assert before[0] not in after and len(after) == len(before), (before, after)
    out = round_trip()
    assert EC2 in out["content"][0]["text"], out
    # SIGTERM drains and exits cleanly, as systemctl stop does
    os.kill(pool.pid, 15)   # KillMode=mixed: SIGTERM to the main process first
    assert pool.wait(timeout=40) == 0, open(os.path.join(d, "pool.log")).read()[-2000:]


# ---------------------------------------------------------------- Docker

def _dockerfile_instructions():
    with open(os.path.join(DEPLOY, "docker", "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def standalone_docker_files(mock):
    """No Docker engine runs here: check what can be checked, then run the
    image's own commands (compose's pool command, the web service's lighttpd
    config) the way the containers would."""
    import yaml
    with open(os.path.join(DEPLOY, "docker", "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    svc = compose["services"]["maskgate"]
    web = compose["services"]["web"]
    env = svc["environment"]
    # Docker secrets: every *_FILE points at a secret the service mounts, each defined as a file
    for name in svc["secrets"]:
        assert name in compose["secrets"] and compose["secrets"][name]["file"].startswith("./secrets/")
    file_vars = {k: v for k, v in env.items() if k.endswith("_FILE")}
    assert set(file_vars) >= {"MASKGATE_MASTER_KEY_FILE", "MASKGATE_DATA_KEY_FILE"}, file_vars
    for k, v in file_vars.items():
        assert v.startswith("/run/secrets/") and v[len("/run/secrets/"):] in svc["secrets"], (k, v)
    assert not any(k in env for k in ("MASKGATE_MASTER_KEY", "MASKGATE_DATA_KEY")), env
    # the database lives on a named volume
    dbdir = os.path.dirname(env["MASKGATE_DB"])
    assert any(v.split(":")[1] == dbdir and v.split(":")[0] in compose["volumes"]
               for v in svc["volumes"]), svc["volumes"]
    # the pool command is the systemd unit's ExecStart and the image's CMD
    _, _, unit_start = _unit_service(template("systemd/maskgate.service", []))
    assert svc["command"] == unit_start, (svc["command"], unit_start)
    instr = _dockerfile_instructions()
    cmd = [json.loads(rest) for word, rest in instr if word == "CMD"][-1]
    assert cmd == svc["command"], (cmd, svc["command"])
    sock = svc["command"][svc["command"].index("--listen") + 1][len("unix:"):]
    assert any(v.endswith(":" + os.path.dirname(sock)) for v in web["volumes"]), web["volumes"]
    # the build runs make, like every test here; COPY sources exist
    assert any(word == "RUN" and re.search(r"\bmake\b", rest) for word, rest in instr)
    for word, rest in instr:
        if word == "COPY" and not rest.startswith("--from"):
            for src in rest.split()[:-1]:
                assert os.path.exists(os.path.join(harness.ROOT, src)), src
    # the runtime stage installs the package of every library the binary links
    runtime = " ".join(rest for word, rest in instr[[w for w, _ in instr].index("FROM", 1):]
                       if word == "RUN")
    needed = subprocess.run(["sh", "-c", "readelf -d %s | sed -n 's/.*Shared library: \\[\\(.*\\)\\]/\\1/p'"
                             % shlex.quote(FCGI)], capture_output=True, text=True).stdout.split()
    assert "libfcgi.so.0" in needed, needed
    for lib in needed:
        # the sanitizer runtimes only appear in `make SANITIZE=1` builds
        if lib.startswith(("libc.so", "libm.so", "ld-linux", "libasan", "libubsan")):
            continue
        path = subprocess.run(["sh", "-c", "ldconfig -p | awk '$1 == \"%s\" {print $NF; exit}'" % lib],
                              capture_output=True, text=True).stdout.strip()
        # zlib lives in /lib (merged /usr): dpkg knows it by that path, not the real one
        pkg = ""
        for candidate in (path, os.path.realpath(path)):
            pkg = pkg or subprocess.run(["dpkg", "-S", candidate], capture_output=True,
                                        text=True).stdout.split(":")[0]
        assert pkg and re.search(r"\b%s\b" % re.escape(pkg), runtime), (lib, pkg)

    # run the two services' commands as the containers would
    d = tmpdir("mg-dep-docker-")
    secrets_dir = os.path.join(d, "secrets")
    os.makedirs(secrets_dir)
    menv = harness.maskgate_env(d, mock.url)
    values = {"master_key": menv["MASKGATE_MASTER_KEY"], "data_key": menv["MASKGATE_DATA_KEY"],
              "upstream_api_key": menv["MASKGATE_UPSTREAM_API_KEY"]}
    for name in svc["secrets"]:
        with open(os.path.join(secrets_dir, name), "w") as f:
            f.write(values[name] + "\n")
    sockpath = os.path.join(d, "maskgate.sock")
    penv = {k: v for k, v in os.environ.items() if not k.startswith(("MASKGATE_", "ANTHROPIC_"))}
    for k, v in env.items():
        penv[k] = str(v).replace("/run/secrets", secrets_dir)
    penv["MASKGATE_DB"] = os.path.join(d, "var", "maskgate.db")
    penv["MASKGATE_UPSTREAM_URL"] = mock.url
    argv = [FCGI] + [a.replace("unix:" + sock, "unix:" + sockpath) for a in svc["command"][1:]]
    spawn(argv, env=penv, log=os.path.join(d, "pool.log"))
    port = free_port()
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write(template("docker/lighttpd.conf", [
            ('"0.0.0.0"', '"127.0.0.1"'), ("8080", str(port)),
            ("/dev/stderr", os.path.join(d, "lighttpd-error.log")),
            ('"/tmp"', '"%s"' % d), (sock, sockpath)]))
    deadline = time.time() + 10
    while not os.path.exists(sockpath) and time.time() < deadline:
        time.sleep(0.05)
    spawn(["lighttpd", "-D", "-f", conf], log=os.path.join(d, "lighttpd.log"))
    mock.default = _echo
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 15
    s = b = None
    while time.time() < deadline:
        try:
            s, _, b = curl(url + "/v1/messages", method="POST", headers=auth(values["master_key"]),
                           data={"model": "claude-sonnet-4-5", "max_tokens": 20,
                                 "messages": [{"role": "user", "content": "Check %s" % EC2}]},
                           timeout=10)
            if s == 200:
                break
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.1)
    assert s == 200, (s, b, open(os.path.join(d, "pool.log")).read()[-2000:])
    assert EC2 in json.loads(b)["content"][0]["text"]
    assert EC2.encode() not in mock.all_bytes()
