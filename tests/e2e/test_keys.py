"""Keys and access through lighttpd and Apache: virtual key lifecycle,
limits, spend, master rotation, JWT, BYOK, audit, metrics."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time

import harness
import pg
from harness import Reply, assert_envelope, auth, curl, message_reply, sse_text_events

SERVERS = ["lighttpd", "apache"]
JWT_SECRET = "jwt-" + secrets.token_hex(24)
ENV = {"MASKGATE_JWT_SECRET": JWT_SECRET, "MASKGATE_BYOK": "on",
       "MASKGATE_SPEND_HEADERS": "on"}
MODEL = "claude-sonnet-4-5"


def mg(srv, path, body=None, key=None, method=None):
    """A management call; returns (status, parsed JSON or raw body)."""
    s, h, b = curl(srv.url + path, method=method or ("POST" if body is not None else "GET"),
                   headers=auth(key or srv.master), data=body)
    try:
        return s, json.loads(b)
    except ValueError:
        return s, b


def generate(srv, **fields):
    s, o = mg(srv, "/key/generate", fields)
    assert s == 200, (s, o)
    assert o["key"].startswith("sk-") and len(o["key"]) >= 3 + 32, o
    return o


def ask(srv, key, model=MODEL, stream=False, headers=None):
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    h = auth(key) if key else {"content-type": "application/json",
                               "anthropic-version": "2023-06-01"}
    h.update(headers or {})
    return curl(srv.url + "/v1/messages", method="POST", headers=h, data=body)


def recorded(fetch, done, timeout=5.0):
    """Spend, usage and metrics are written just after the response (one
    write after FCGX_Finish_r): poll briefly for them instead of racing it."""
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if done(value) or time.time() > deadline:
            return value
        time.sleep(0.02)


def info_spend(srv, key, want):
    s, info = recorded(lambda: mg(srv, "/key/info?key=" + key),
                       lambda r: r[0] == 200 and abs(r[1]["info"]["spend"] - want) < 1e-9)
    return info


def cli(srv, *args):
    """Runs bin/maskgate against the server's store, as the server's user."""
    env = dict(os.environ)
    env = {k: v for k, v in env.items() if not k.startswith("MASKGATE_")}
    env.update(srv.env)
    argv = srv.cli_argv() + list(args)
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims, secret, header=None):
    head = b64u(json.dumps(header or {"alg": "HS256", "typ": "JWT"}))
    body = b64u(json.dumps(claims))
    sig = hmac.new(secret.encode() if isinstance(secret, str) else secret,
                   ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64u(sig))


# ------------------------------------------------------------------ lifecycle

def test_lifecycle(srv, mock):
    o = generate(srv, models=[MODEL], key_alias="life", user_id="u-life", team_id="t-life",
                 metadata={"owner": "ops"}, max_budget=5, rpm_limit=100)
    key, token = o["key"], o["token"]
    assert token == hashlib.sha256(key.encode()).hexdigest()
    s, _, _ = ask(srv, key)
    assert s == 200
    # info by key and by hash
    for ref in (key, token):
        s, info = mg(srv, "/key/info?key=" + ref)
        assert s == 200 and info["info"]["key_alias"] == "life", info
        assert info["info"]["spend"] > 0, info
        assert "key" not in info["info"]
    s, lst = mg(srv, "/key/list?team_id=t-life")
    assert s == 200 and lst["keys"] == [token] and lst["total_count"] == 1, lst
    s, lst = mg(srv, "/key/list?key_alias=life&return_full_object=true&page=1&size=5")
    assert s == 200 and lst["keys"][0]["user_id"] == "u-life", lst
    s, up = mg(srv, "/key/update", {"key": key, "max_budget": 7.5, "key_alias": "life2"})
    assert s == 200 and up["max_budget"] == 7.5 and up["key_alias"] == "life2", up
    s, _ = mg(srv, "/key/block", {"key": token})
    assert s == 200
    s, _, b = ask(srv, key)
    assert s == 401
    assert_envelope(b, "authentication_error")
    s, _ = mg(srv, "/key/unblock", {"key": key})
    assert s == 200
    assert ask(srv, key)[0] == 200
    # regenerate without grace: the old key stops at once
    s, re1 = mg(srv, "/key/regenerate", {"key": key})
    assert s == 200 and re1["key"] != key, re1
    assert ask(srv, key)[0] == 401
    assert ask(srv, re1["key"])[0] == 200
    # with grace: both work
    s, re2 = mg(srv, "/key/regenerate", {"key": re1["key"], "grace_period": "1h"})
    assert s == 200
    assert ask(srv, re1["key"])[0] == 200
    assert ask(srv, re2["key"])[0] == 200
    s, info = mg(srv, "/key/info?key=" + re2["key"])
    assert info["info"]["key_alias"] == "life2" and info["info"]["max_budget"] == 7.5
    s, d = mg(srv, "/key/delete", {"keys": [re2["key"]]})
    assert s == 200 and d["deleted_keys"] == [re2["key"]], d
    assert ask(srv, re2["key"])[0] == 401
    assert ask(srv, re1["key"])[0] == 401
    s, _ = mg(srv, "/key/info?key=" + re2["key"])
    assert s == 404
    # audit rows for every action
    s, audit = mg(srv, "/audit?limit=50")
    assert s == 200
    actions = [r["action"] for r in audit if r["outcome"] == "ok"]
    for a in ("generate", "update", "block", "unblock", "regenerate", "delete"):
        assert a in actions, (a, actions)
    assert all(r["actor"].startswith("master:") for r in audit)
    gen = [r for r in audit if r["action"] == "generate" and r["target"] == token]
    assert gen and "time" in gen[0]


def test_expiry(srv, mock):
    o = generate(srv, duration="2s")
    assert ask(srv, o["key"])[0] == 200
    time.sleep(3)
    s, _, b = ask(srv, o["key"])
    assert s == 401
    assert "expired" in assert_envelope(b, "authentication_error")["error"]["message"]


def test_model_allowlist(srv, mock):
    o = generate(srv, models=["claude-haiku-4-5"])
    s, _, b = ask(srv, o["key"], model=MODEL)
    assert s == 403
    assert_envelope(b, "permission_error")
    assert not [r for r in mock.requests if r.path.startswith("/v1/messages")]
    assert ask(srv, o["key"], model="claude-haiku-4-5")[0] == 200


def test_budget_nonstreaming(srv, mock):
    o = generate(srv, max_budget=0.0001)
    s, h, _ = ask(srv, o["key"])
    assert s == 200
    assert h.get("x-maskgate-key-spend") == "0.000000", h
    assert int(h.get("x-maskgate-overhead-ms", "-1")) >= 0, h
    # 10 input * $3/M + 5 output * $15/M
    info = info_spend(srv, o["key"], 0.000105)
    assert abs(info["info"]["spend"] - 0.000105) < 1e-9, info
    n = len(mock.requests)
    s, h, b = ask(srv, o["key"])
    # a budget without budget_duration never resets: nothing to wait for
    assert s == 429 and "retry-after" not in h, (s, h)
    # the spend-limit 429 Claude Code renders (test_spend_limits.py has the details)
    assert "spend limit reached" in assert_envelope(b, "billing_error")["error"]["message"]
    assert h.get("x-should-retry") == "false", h
    assert len(mock.requests) == n, "refused request went upstream"
    s, logs = mg(srv, "/spend/logs?api_key=" + o["key"])
    assert s == 200 and len(logs) == 1 and logs[0]["model"].startswith(MODEL), logs
    assert logs[0]["prompt_tokens"] == 10 and logs[0]["completion_tokens"] == 5
    assert logs[0]["request_id"].startswith("req_mg_"), logs
    assert "hi" not in json.dumps(logs)


def test_budget_streaming(srv, mock):
    o = generate(srv, max_budget=0.0001)
    mock.script.append(Reply("sse", events=sse_text_events(["Hel", "lo"], usage_out=7)))
    s, h, b = ask(srv, o["key"], stream=True)
    assert s == 200 and b"message_stop" in b
    # 12 input * $3/M + 7 output * $15/M
    info = info_spend(srv, o["key"], 0.000141)
    assert abs(info["info"]["spend"] - 0.000141) < 1e-9, info
    s, _, b = ask(srv, o["key"], stream=True)
    assert s == 429
    assert_envelope(b, "billing_error")


def test_budget_reset(srv, mock):
    o = generate(srv, max_budget=0.0001, budget_duration="3s")
    assert ask(srv, o["key"])[0] == 200
    info_spend(srv, o["key"], 0.000105)
    assert ask(srv, o["key"])[0] == 429
    time.sleep(3.5)
    assert ask(srv, o["key"])[0] == 200
    info = info_spend(srv, o["key"], 0.000105)
    assert abs(info["info"]["spend"] - 0.000105) < 1e-9, info


def _parallel(fn, n):
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda _: fn(), range(n)))


def test_rpm_limit(srv, mock):
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    o = generate(srv, rpm_limit=3)
    res = _parallel(lambda: ask(srv, o["key"]), 6)
    codes = sorted(r[0] for r in res)
    assert codes == [200] * 3 + [429] * 3, codes
    assert all("retry-after" in r[1] for r in res if r[0] == 429)


def test_parallel_limit(srv, mock):
    o = generate(srv, max_parallel_requests=1)

    def slow(rec):
        r = message_reply("slow")
        r.delay = 1.5
        return r
    mock.default = slow
    res = _parallel(lambda: ask(srv, o["key"]), 3)
    mock.default = None
    codes = [r[0] for r in res]
    assert 200 in codes and 429 in codes, codes
    # the slot is released: a later request gets through
    assert ask(srv, o["key"])[0] == 200


def test_non_admin_403(srv, mock):
    user = generate(srv, user_id="plain")
    other = generate(srv, user_id="other")
    for path, body in (("/key/generate", {}), ("/key/list", None), ("/key/update", {"key": other["key"]}),
                       ("/key/delete", {"keys": [other["key"]]}), ("/key/block", {"key": other["key"]}),
                       ("/audit", None), ("/spend/logs", None), ("/metrics", None),
                       ("/key/info?key=" + other["token"], None)):
        s, o = mg(srv, path, body, key=user["key"])
        assert s == 403, (path, s, o)
    s, o = mg(srv, "/key/info?key=" + user["key"], key=user["key"])
    assert s == 200 and o["info"]["user_id"] == "plain"
    admin = generate(srv, admin=True, key_alias="adm")
    s, o = mg(srv, "/key/generate", {"user_id": "by-admin"}, key=admin["key"])
    assert s == 200
    s, audit = mg(srv, "/audit?action=generate&limit=1")
    assert audit[0]["actor"].startswith("key:") and "adm" in audit[0]["actor"], audit


def test_malformed_400(srv, mock):
    bad = ["not json", "[]", '{"max_budget": -1}', '{"duration": "5x"}', '{"duration": 30}',
           '{"models": "claude"}', '{"rpm_limit": "abc"}', '{"max_budget": "lots"}',
           '{"budget_duration": "-3d"}', '{"metadata": [1]}', '{"blocked": "maybe"}',
           '{"tpm_limit": -5}', '{"user_id": 5}', '{"a": 1} trailing']
    for body in bad:
        s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master), data=body)
        assert s == 400, (body, s, b)
        assert_envelope(b, "invalid_request_error")
    s, _, b = curl(srv.url + "/key/update", method="POST", headers=auth(srv.master),
                   data={"key": "nope"})
    assert s == 400
    s, _, b = curl(srv.url + "/key/delete", method="POST", headers=auth(srv.master), data={"keys": "x"})
    assert s == 400


def test_no_raw_key_in_db(srv, mock):
    keys = [generate(srv, user_id="dbscan")["key"] for _ in range(3)]
    s, re = mg(srv, "/key/regenerate", {"key": keys[0], "grace_period": "1h"})
    keys.append(re["key"])
    for k in keys:
        ask(srv, k)
    data = pg.database_bytes(srv.env["MASKGATE_DB"])
    assert data
    for k in keys + [srv.master]:
        assert k.encode() not in data and k[3:].encode() not in data, "raw key in the database"


def test_byok(srv, mock):
    o = generate(srv, user_id="byok-user")
    own = "sk-ant-caller-own-" + secrets.token_hex(8)
    s, _, _ = ask(srv, None, headers={"x-maskgate-key": o["key"], "x-api-key": own})
    assert s == 200
    last = mock.last()
    assert last.headers.get("x-api-key") == own, last.headers
    assert "x-maskgate-key" not in last.headers
    # without BYOK credentials the server's own key goes upstream
    assert ask(srv, o["key"])[0] == 200
    assert mock.last().headers.get("x-api-key") == srv.env["MASKGATE_UPSTREAM_API_KEY"]
    s, _, _ = ask(srv, None, headers={"x-maskgate-key": "sk-" + "0" * 64, "x-api-key": own})
    assert s == 401


def test_jwt_hs256(srv, mock):
    now = int(time.time())
    good = hs256({"sub": "jwt-alice", "team": "jwt-team", "exp": now + 300, "iat": now,
                  "models": [MODEL + "*"]}, JWT_SECRET)
    assert ask(srv, good)[0] == 200
    assert ask(srv, good, model="claude-haiku-4-5")[0] == 403
    expired = hs256({"sub": "a", "exp": now - 600}, JWT_SECRET)
    wrong = hs256({"sub": "a", "exp": now + 300}, JWT_SECRET + "x")
    no_exp = hs256({"sub": "a"}, JWT_SECRET)
    none = "%s.%s." % (b64u(json.dumps({"alg": "none", "typ": "JWT"})),
                       b64u(json.dumps({"sub": "a", "exp": now + 300})))
    hs512 = hs256({"sub": "a", "exp": now + 300}, JWT_SECRET, {"alg": "HS512", "typ": "JWT"})
    for name, tok in (("expired", expired), ("wrong signature", wrong), ("no exp", no_exp),
                      ("alg none", none), ("other alg", hs512)):
        s, _, b = ask(srv, tok)
        assert s == 401, (name, s)
        assert_envelope(b, "authentication_error")
    # JWTs never manage keys
    s, _ = mg(srv, "/key/generate", {}, key=good)
    assert s == 403


def test_master_rotation(srv, mock):
    rc, out, err = cli(srv, "master", "rotate", "--grace", "4s", "--json")
    assert rc == 0, err
    new = json.loads(out)["master_key"]
    assert new.startswith("sk-") and new != srv.master
    old = srv.master
    assert mg(srv, "/key/list", key=new)[0] == 200
    assert mg(srv, "/key/list", key=old)[0] == 200
    time.sleep(5)
    assert mg(srv, "/key/list", key=old)[0] == 401
    assert mg(srv, "/key/list", key=new)[0] == 200
    s, audit = mg(srv, "/audit?action=master_rotate", key=new)
    assert s == 200 and audit and audit[0]["actor"].startswith("cli:"), audit
    srv.master = new


def test_metrics_add_up(srv, mock):
    o = generate(srv, user_id="metrics-user", key_alias="metrics-alias")
    res = _parallel(lambda: ask(srv, o["key"]), 8)
    assert all(r[0] == 200 for r in res)
    # refusals whose reasons the outcome record carries to the metrics
    b = generate(srv, max_budget=0.0001)
    assert ask(srv, b["key"])[0] == 200
    info_spend(srv, b["key"], 0.000105)
    assert ask(srv, b["key"])[0] == 429
    blocked = generate(srv)
    assert mg(srv, "/key/block", {"key": blocked["key"]})[0] == 200
    assert ask(srv, blocked["key"])[0] == 401
    assert ask(srv, "sk-" + "0" * 64)[0] == 401
    want = 'maskgate_requests_total{route="/v1/messages",status="200",tenant="user:metrics-user"} 8'
    s, _, body = recorded(lambda: curl(srv.url + "/metrics", headers=auth(srv.master)),
                          lambda r: want in r[2].decode()
                          and 'reason="blocked_key"' in r[2].decode())
    assert s == 200
    text = body.decode()
    assert want in text, text[:3000]
    assert 'maskgate_tokens_input_total{key_alias="metrics-alias",model="%s"} 80' % MODEL in text
    assert 'maskgate_upstream_latency_seconds_bucket{route="/v1/messages",le="+Inf"}' in text
    assert "# TYPE maskgate_upstream_latency_seconds histogram" in text
    assert 'maskgate_rejections_total{reason="auth"}' in text
    # reasons come from each request's outcome record, set where it was refused
    assert 'maskgate_rejections_total{reason="budget"}' in text, text[-3000:]
    assert 'maskgate_rejections_total{reason="blocked_key"}' in text, text[-3000:]
    assert "maskgate_store_write_transactions_total" in text
    assert o["key"] not in text


def standalone_jwt_rs256(mock):
    d = harness.tmpdir("mg-rsa-")
    priv, pub = os.path.join(d, "rsa.pem"), os.path.join(d, "rsa.pub.pem")
    subprocess.run(["openssl", "genrsa", "-out", priv, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    os.chmod(pub, 0o644)
    srv = harness.Lighttpd(mock, MASKGATE_JWT_PUBLIC_KEY=pub, MASKGATE_JWT_ALG="RS256",
                           MASKGATE_JWT_ISSUER="https://idp.example", MASKGATE_JWT_AUDIENCE="maskgate").start()
    try:
        now = int(time.time())

        def rs256(claims):
            head = b64u(json.dumps({"alg": "RS256", "typ": "JWT"}))
            body = b64u(json.dumps(claims))
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv],
                                 input=("%s.%s" % (head, body)).encode(), capture_output=True,
                                 check=True).stdout
            return "%s.%s.%s" % (head, body, b64u(sig))
        claims = {"sub": "oidc-bob", "iss": "https://idp.example", "aud": ["x", "maskgate"],
                  "exp": now + 300, "nbf": now - 5}
        assert ask(srv, rs256(claims))[0] == 200
        assert ask(srv, rs256(dict(claims, iss="https://evil.example")))[0] == 401
        assert ask(srv, rs256(dict(claims, aud="other")))[0] == 401
        assert ask(srv, rs256(dict(claims, exp=now - 600)))[0] == 401
        assert ask(srv, rs256(dict(claims, nbf=now + 3600)))[0] == 401
        # HS/RS confusion: HS256 signed with the public key as the HMAC secret
        with open(pub, "rb") as f:
            pem = f.read()
        for secret in (pem, pem.rstrip(b"\n")):
            s, _, b = ask(srv, hs256(claims, secret))
            assert s == 401, s
            assert_envelope(b, "authentication_error")
    finally:
        srv.stop()


def standalone_weak_jwt_secret(mock):
    env = harness.maskgate_env(harness.tmpdir(), mock.url, MASKGATE_JWT_SECRET="your-256-bit-secret")
    p = subprocess.run([harness.CLI, "doctor"], env=env, capture_output=True, text=True)
    out = p.stdout + p.stderr
    assert "MASKGATE_JWT_SECRET" in out, out
