"""The admin console under /ui/: a real browser (Debian's chromium driven by
playwright-core) signs in, creates a key, watches its spend, blocks it and
reads the audit log, through lighttpd and Apache; the HTML is validated
offline by html-validate. curl checks the protocol details (CSRF, cookie,
headers), plain CGI mode and login throttling."""
import json
import os
import re
import subprocess
import tempfile
import time

import harness
from harness import FCGI, auth, curl, tmpdir

CLIENTS = os.path.join(harness.ROOT, "tests", "clients")
SERVERS = ["lighttpd", "apache"]
# a floor of one request, so that the browser test's one request is flagged
ENV = {"MASKGATE_ANOMALY_MIN_REQUESTS": "1"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def sign_in(srv):
    s, h, _ = curl(srv.url + "/ui/login", method="POST", headers=FORM, data="key=" + srv.master)
    assert s == 303, s
    cookie = h["set-cookie"].split(";")[0]
    s, _, body = curl(srv.url + "/ui/keys", headers={"cookie": cookie})
    assert s == 200, s
    csrf = re.search(rb'name="csrf" value="([0-9a-f]{64})"', body).group(1).decode()
    return cookie, csrf


def test_console_browser(srv, mock):
    # kept after the run (not in the harness's cleanup list): the screenshots
    # are the test's artifacts; MG_ARTIFACTS names a directory to put them in
    parent = os.environ.get("MG_ARTIFACTS") or None
    if parent:
        os.makedirs(parent, exist_ok=True)
    art = tempfile.mkdtemp(prefix="mg-console-%s-" % srv.kind, dir=parent)
    p = subprocess.run(["node", os.path.join(CLIENTS, "console_check.mjs"), srv.url, srv.master,
                        art], capture_output=True, text=True, timeout=150, cwd=CLIENTS)
    shots = sorted(f for f in os.listdir(art) if f.endswith(".png"))
    print("# console screenshots (%s): %s" % (srv.kind, art))
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    assert seen["foreign"] == [], seen
    for page in ("login", "keys", "key-created", "spend", "masking", "audit", "health"):
        assert "console-%s.png" % page in shots, shots
    # the anomaly is counted in /metrics too
    s, _, body = curl(srv.url + "/metrics", headers=auth(srv.master))
    assert s == 200
    assert re.search(rb'maskgate_usage_anomalies_total\{kind="requests"\} 1', body), body[-800:]
    # the browser's proxied requests reached the upstream masked
    assert b"i-0a1b2c3d4e5f60718" not in mock.all_bytes()


def test_console_protocol(srv, mock):
    # signed out: pages redirect, POSTs are refused, and the login page is strict
    s, h, _ = curl(srv.url + "/ui/audit")
    assert s == 303 and h["location"] == "/ui/login", (s, h)
    s, h, body = curl(srv.url + "/ui/login")
    assert s == 200 and b"<script" not in body
    assert "default-src 'none'" in h["content-security-policy"]
    assert h["cache-control"] == "no-store" and h["x-frame-options"] == "DENY"
    s, _, _ = curl(srv.url + "/ui/keys/create", method="POST", headers=FORM, data="key_alias=x")
    assert s == 403
    # a virtual key without admin rights cannot sign in
    _, _, body = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                      data={"key_alias": "plain"})
    plain = json.loads(body)["key"]
    s, h, body = curl(srv.url + "/ui/login", method="POST", headers=FORM, data="key=" + plain)
    assert s == 401 and "set-cookie" not in h, s
    # an admin virtual key can; blocking that key ends its session
    _, _, body = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                      data={"key_alias": "ops", "admin": True})
    admin = json.loads(body)["key"]
    s, h, _ = curl(srv.url + "/ui/login", method="POST", headers=FORM, data="key=" + admin)
    assert s == 303, s
    attrs = [a.strip() for a in h["set-cookie"].split(";")]
    assert {"HttpOnly", "SameSite=Strict", "Path=/ui"} <= set(attrs), attrs
    assert "Secure" not in attrs    # plain http here; HTTPS=on adds it (see the CGI test)
    cookie = attrs[0]
    s, _, body = curl(srv.url + "/ui/keys", headers={"cookie": cookie})
    assert s == 200 and b"alias:ops" in body
    curl(srv.url + "/key/block", method="POST", headers=auth(srv.master), data={"key": admin})
    s, h, _ = curl(srv.url + "/ui/keys", headers={"cookie": cookie})
    assert s == 303 and h["location"] == "/ui/login", s
    # CSRF: the token of one session does not work with another
    c1, t1 = sign_in(srv)
    c2, t2 = sign_in(srv)
    assert t1 != t2
    s, _, body = curl(srv.url + "/ui/keys/create", method="POST", headers=dict(FORM, cookie=c2),
                      data="csrf=%s&key_alias=csrf-test" % t1)
    assert s == 403, s
    s, _, body = curl(srv.url + "/ui/keys/create", method="POST", headers=dict(FORM, cookie=c2),
                      data="csrf=%s&key_alias=csrf-test" % t2)
    assert s == 200 and b'id="newkey"' in body, s
    # data is escaped: an alias with markup comes back inert
    s, _, body = curl(srv.url + "/ui/keys/create", method="POST", headers=dict(FORM, cookie=c2),
                      data="csrf=%s&key_alias=%%3Cimg%%20src%%3Dx%%3E" % t2)
    assert s == 200 and b"<img" not in body and b"&lt;img src=x&gt;" in body
    # a bad field is refused by the same validation /key/generate uses
    s, _, body = curl(srv.url + "/ui/keys/create", method="POST", headers=dict(FORM, cookie=c2),
                      data="csrf=%s&max_budget=-4" % t2)
    assert s == 400 and b"max_budget" in body, s
    # sign-out is a CSRF-protected POST and revokes the session server-side
    s, _, _ = curl(srv.url + "/ui/logout", method="POST", headers=dict(FORM, cookie=c1),
                   data="csrf=" + t2)
    assert s == 403
    s, h, _ = curl(srv.url + "/ui/logout", method="POST", headers=dict(FORM, cookie=c1),
                   data="csrf=" + t1)
    assert s == 303 and "Max-Age=0" in h["set-cookie"]
    s, _, _ = curl(srv.url + "/ui/keys", headers={"cookie": c1})
    assert s == 303
    # every console action is in the audit log with who did it
    _, _, body = curl(srv.url + "/audit?limit=100", headers=auth(srv.master))
    rows = json.loads(body)
    acts = [(r["actor"], r["action"], r["outcome"]) for r in rows]
    assert any(a == "console_logout" for _, a, _ in acts), acts
    assert any(a.startswith("console@") and o == "denied" for a, _, o in acts), acts
    assert any(a.startswith("master:") and act == "generate" for a, act, _ in acts), acts


def _cgi(env, method, uri, body=b"", cookie=None, https=False):
    e = dict(env)
    e.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "REQUEST_URI": uri,
              "SCRIPT_NAME": uri.split("?")[0], "REMOTE_ADDR": "127.0.0.9",
              "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": str(len(body))})
    if body:
        e["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    if cookie:
        e["HTTP_COOKIE"] = cookie
    if https:
        e["HTTPS"] = "on"
    p = subprocess.run([FCGI], input=body, env=e, capture_output=True, timeout=30)
    head, _, out = p.stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(hdrs["status"].split()[0]), hdrs, out


def standalone_console_cgi(mock):
    """Plain CGI (one process per request), behind TLS: the cookie is Secure."""
    d = tmpdir("mg-console-cgi-")
    env = harness.maskgate_env(d, mock.url)
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    s, h, _ = _cgi(env, "POST", "/ui/login", b"key=" + env["MASKGATE_MASTER_KEY"].encode(),
                   https=True)
    assert s == 303, s
    assert "; Secure" in h["set-cookie"] and "HttpOnly" in h["set-cookie"], h
    cookie = h["set-cookie"].split(";")[0]
    for page in ("keys", "spend", "masking", "audit", "health"):
        s, h, body = _cgi(env, "GET", "/ui/" + page, cookie=cookie, https=True)
        assert s == 200, (page, s, body[:300])
        assert b"</html>" in body and "default-src 'none'" in h["content-security-policy"]
    s, h, body = _cgi(env, "GET", "/ui/style.css")
    assert s == 200 and h["content-type"].startswith("text/css")


def standalone_console_login_throttle(mock):
    """Failed sign-ins are limited per client address, in the shared store."""
    srv = harness.Lighttpd(mock).start()
    try:
        for i in range(10):
            s, _, _ = curl(srv.url + "/ui/login", method="POST", headers=FORM,
                           data="key=sk-wrong-%02d" % i)
            assert s == 401, (i, s)
        t0 = time.time()
        s, h, _ = curl(srv.url + "/ui/login", method="POST", headers=FORM, data="key=" + srv.master)
        assert s == 429 and "set-cookie" not in h, s
        assert int(h["retry-after"]) > 0
        assert time.time() - t0 < 5
        _, _, body = curl(srv.url + "/audit?action=console_login&limit=50",
                          headers=auth(srv.master))
        outcomes = [r["outcome"] for r in json.loads(body)]
        assert outcomes.count("denied") == 10 and "throttled" in outcomes, outcomes
    finally:
        srv.stop()
