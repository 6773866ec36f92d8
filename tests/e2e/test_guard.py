"""Defects a security test found in the proxy path, each asserted on what
the upstream received, through lighttpd and Apache: the request's content
type, loop marks across instances, BYOK credentials, request headers, model
names, and a client that goes away during a non-streaming call."""
import json
import os
import subprocess
import threading
import time

import harness
from harness import Reply, assert_envelope, auth, curl

SERVERS = ["lighttpd", "apache"]
ENV = {"MASKGATE_BYOK": "on"}
MODEL = "claude-sonnet-4-5"
AKID = "AKIA2B3C4D5E6F7G2H3J"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def body(text="hi", model=MODEL, **extra):
    b = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


def post(srv, path, data, headers=None, key=None, timeout=30):
    h = auth(key or srv.master)
    h.update(headers or {})
    return curl(srv.url + path, method="POST", headers=h, data=data, timeout=timeout)


# ------------------------------------------------------------- content type

def test_content_type_forwarded(srv, mock):
    """The strict mock refuses a POST not labelled JSON (as the API would)."""
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        s, _, b = post(srv, path, body())
        assert s == 200, (path, s, b)
        assert mock.last().headers.get("content-type") == "application/json", mock.last().headers
    s, _, b = post(srv, "/v1/messages", body(), {"content-type": "application/json; charset=utf-8"})
    assert s == 200, b
    assert mock.last().headers["content-type"] == "application/json; charset=utf-8"
    # parameters are no channel upstream
    s, _, b = post(srv, "/v1/messages", body(), {"content-type": "application/json; x=" + AKID})
    assert s == 200, b
    assert mock.last().headers["content-type"] == "application/json"
    assert AKID.encode() not in mock.all_bytes()


# ------------------------------------------------------------- loop marks

def test_hop_limit(srv, mock):
    """Marks of other gateways are counted; too many is a loop (508)."""
    s, _, b = curl(srv.url + "/v1/models", headers=dict(auth(srv.master), **{
        "x-maskgate-hop": ", ".join("%032x" % i for i in range(1, 5))}))
    assert s == 508, (s, b)
    assert not mock.requests
    s, _, b = curl(srv.url + "/v1/models", headers=dict(auth(srv.master), **{
        "x-maskgate-hop": "%032x" % 7}))
    assert s == 200, (s, b)
    hops = mock.last().headers["x-maskgate-hop"].split(", ")
    assert len(hops) == 2 and hops[0] == "%032x" % 7, hops
    # a mark is forwarded as it came, so nothing but a mark is accepted there
    n = len(mock.requests)
    s, _, b = curl(srv.url + "/v1/models", headers=dict(auth(srv.master), **{
        "x-maskgate-hop": AKID}))
    assert s == 400 and len(mock.requests) == n, (s, b)


def standalone_two_instances_loop(mock):
    """Two instances with different data keys, each the other's upstream."""
    a = harness.Lighttpd(mock, MASKGATE_UPSTREAM_TIMEOUT="20s")
    b = harness.Lighttpd(mock, MASKGATE_UPSTREAM_TIMEOUT="20s")
    a.env["MASKGATE_UPSTREAM_URL"], b.env["MASKGATE_UPSTREAM_URL"] = b.url, a.url
    a.env["MASKGATE_UPSTREAM_API_KEY"], b.env["MASKGATE_UPSTREAM_API_KEY"] = b.master, a.master
    a.start()
    b.start()
    try:
        t0 = time.time()
        s, _, out = curl(a.url + "/v1/models", headers=auth(a.master), timeout=60)
        assert s == 508, (s, out)
        assert time.time() - t0 < 10, "the loop ran until a timeout"
        s, _, out = curl(a.url + "/v1/messages", method="POST", headers=auth(a.master),
                         data=body(), timeout=60)
        assert s == 508, (s, out)
        assert not mock.requests
    finally:
        a.stop()
        b.stop()


# ------------------------------------------------------------- BYOK

def generate(srv, **fields):
    s, _, b = post(srv, "/key/generate", fields)
    assert s == 200, (s, b)
    return json.loads(b)


def ask_byok(srv, headers):
    h = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    h.update(headers)
    return curl(srv.url + "/v1/messages", method="POST", headers=h, data=body())


def test_byok_never_forwards_maskgate_credentials(srv, mock):
    k1, k2 = generate(srv, user_id="byok-a")["key"], generate(srv, user_id="byok-b")["key"]
    own = "sk-ant-own-" + os.urandom(8).hex()
    # a BYOK caller without a credential of its own: 401, not the server's key
    for extra in ({}, {"x-api-key": srv.master}, {"x-api-key": k2},
                  {"authorization": "Bearer " + k1}, {"x-api-key": k1, "authorization": "Bearer " + srv.master}):
        s, _, b = ask_byok(srv, dict({"x-maskgate-key": k1}, **extra))
        assert s == 401, (extra, s, b)
        assert_envelope(b, "authentication_error")
    assert not mock.requests, "a refused BYOK request went upstream"
    # beside a maskgate credential, only the caller's own one goes up
    s, _, b = ask_byok(srv, {"x-maskgate-key": k1, "x-api-key": srv.master,
                             "authorization": "Bearer " + own})
    assert s == 200, b
    up = mock.last().headers
    assert up.get("authorization") == "Bearer " + own and "x-api-key" not in up, up
    s, _, b = ask_byok(srv, {"x-maskgate-key": k1, "x-api-key": own})
    assert s == 200, b
    assert mock.last().headers.get("x-api-key") == own
    seen = mock.all_bytes()
    for secret in (srv.master, k1, k2, srv.env["MASKGATE_UPSTREAM_API_KEY"]):
        assert secret.encode() not in seen, "a maskgate or server credential went upstream"


# ------------------------------------------------------------- budgets

def test_budget_refuses_unpriced_model(srv, mock):
    budgeted = generate(srv, max_budget=1)["key"]
    s, _, b = post(srv, "/v1/messages", body(model="claude-unpriced-9"), key=budgeted)
    assert s == 403, (s, b)
    assert "price" in assert_envelope(b, "permission_error")["error"]["message"]
    assert not mock.requests, "an unpriced model went upstream on a budgeted key"
    s, _, b = post(srv, "/v1/messages", body(), key=budgeted)
    assert s == 200, b
    free = generate(srv)["key"]
    s, _, b = post(srv, "/v1/messages", body(model="claude-unpriced-9"), key=free)
    assert s == 200, b


# ------------------------------------------------------------- where maskgate writes

def test_model_name_must_be_a_model_name(srv, mock):
    key = generate(srv, key_alias="model-names")["key"]
    for bad in (AKID, "i-0a1b2c3d4e5f67890", "arn:aws:iam::123456789012:role/x",
                "claude sonnet", "x" * 101, "Claude-Sonnet-4-5"):
        s, _, b = post(srv, "/v1/messages", body(model=bad), key=key)
        assert s == 400, (bad, s, b)
        assert bad not in assert_envelope(b, "invalid_request_error")["error"]["message"]
        s, _, b = post(srv, "/v1/messages/count_tokens", body(model=bad), key=key)
        assert s == 400, (bad, s, b)
    assert not mock.requests, "a refused model name went upstream"
    for good in ("claude-sonnet-4-5-20250929", "claude-3-5-sonnet-v2@20241022",
                 "anthropic.claude-3-5-sonnet-20240620-v1:0"):
        s, _, b = post(srv, "/v1/messages", body(model=good), key=key)
        assert s == 200, (good, s, b)
    s, _, logs = curl(srv.url + "/spend/logs", headers=auth(srv.master))
    s2, _, metrics = curl(srv.url + "/metrics", headers=auth(srv.master))
    assert s == 200 and s2 == 200
    for where, text in (("spend log", logs), ("metrics", metrics),
                        ("server log", srv.read_log().encode())):
        assert AKID.encode() not in text and b"i-0a1b2c3d4e5f67890" not in text, where


def test_access_log_has_no_raw_path(srv, mock):
    key = "sk-" + os.urandom(32).hex()
    s, _, _ = curl(srv.url + "/key/info/" + key, headers=auth(srv.master))
    assert s == 404
    s, _, _ = curl(srv.url + "/v1/models/" + AKID, headers=auth(srv.master))
    assert s == 200
    time.sleep(0.3)
    log = srv.read_log()
    assert "route=other status=404" in log, log[-2000:]
    assert key not in log and key[3:] not in log, "a key in the path reached the log"
    assert AKID not in log
    assert AKID.encode() not in mock.all_bytes()


# ------------------------------------------------------------- request headers

CLAUDE_CODE_HEADERS = {
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-app": "cli", "user-agent": "claude-cli/2.1.3 (external, cli)",
    "x-claude-code-session-id": "4f1c2a9e-8b7d-4e3f-9a1b-2c3d4e5f6a7b",
    "x-stainless-os": "Linux", "x-stainless-arch": "x64", "x-stainless-lang": "js",
    "x-stainless-runtime-version": "v22.11.0", "x-stainless-retry-count": "0",
    "x-stainless-timeout": "600", "x-stainless-package-version": "0.60.0",
    "accept": "application/json", "x-custom-team": "platform-infra",
}


def test_request_headers_scanned(srv, mock):
    s, _, b = post(srv, "/v1/messages", body(), CLAUDE_CODE_HEADERS)
    assert s == 200, b
    up = mock.last().headers
    for k, v in CLAUDE_CODE_HEADERS.items():
        assert up.get(k) == v, (k, up.get(k))
    mock.reset()
    for name, value in (("x-aws-creds", "%s:%s" % (AKID, SECRET)),
                        ("x-aws-secret-access-key", SECRET),
                        ("x-debug-host", "runs on i-0a1b2c3d4e5f67890"),
                        ("anthropic-beta", "tools-2024-04-04," + AKID),
                        ("x-stainless-os", "arn:aws:iam::123456789012:role/Deploy")):
        for path, method in (("/v1/messages", "POST"), ("/v1/messages/count_tokens", "POST"),
                             ("/v1/models", "GET")):
            h = dict(auth(srv.master), **{name: value})
            s, _, b = curl(srv.url + path, method=method, headers=h,
                           data=body() if method == "POST" else None)
            assert s == 400, (name, path, s, b)
            assert name in assert_envelope(b, "invalid_request_error")["error"]["message"]
    seen = mock.all_bytes()
    assert not mock.requests, "a request with a secret in a header went upstream"
    for v in (AKID, SECRET, "i-0a1b2c3d4e5f67890", "123456789012"):
        assert v.encode() not in seen


# ------------------------------------------------------------- count_tokens

def test_count_tokens_counts_against_rpm(srv, mock):
    key = generate(srv, rpm_limit=2)["key"]
    for _ in range(2):
        s, _, b = post(srv, "/v1/messages/count_tokens", body(), key=key)
        assert s == 200, b
    s, h, b = post(srv, "/v1/messages", body(), key=key)
    assert s == 429 and "retry-after" in h, (s, b)
    s, h, b = post(srv, "/v1/messages/count_tokens", body(), key=key)
    assert s == 429, (s, b)


def instances(first, n):
    return " ".join("i-0%016x" % (0xabc000 + i) for i in range(first, first + n))


def standalone_new_mapping_caps(mock):
    """Per request 50, per tenant and hour 120 new mappings (both servers)."""
    for kind in (harness.Lighttpd, harness.Apache):
        mock.reset()
        srv = kind(mock, MASKGATE_MAX_NEW_MAPPINGS=50, MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR=120).start()
        try:
            k1 = generate(srv, user_id="mint-a")["key"]
            k2 = generate(srv, user_id="mint-b")["key"]
            s, _, b = post(srv, "/v1/messages/count_tokens", body(instances(0, 60)), key=k1)
            assert s == 413, (kind.kind, s, b)
            assert "MASKGATE_MAX_NEW_MAPPINGS" in assert_envelope(b)["error"]["message"]
            assert not mock.requests
            s, _, b = post(srv, "/v1/messages/count_tokens", body(instances(0, 40)), key=k1)
            assert s == 200, b
            sent = mock.last().body.decode()
            # nothing of the refused request was minted: numbering starts at 001
            assert "AWS_EC2_001" in sent and "AWS_EC2_040" in sent and "AWS_EC2_041" not in sent
            s, _, b = post(srv, "/v1/messages", body(instances(100, 40)), key=k1)
            assert s == 200, b
            s, h, b = post(srv, "/v1/messages", body(instances(200, 45)), key=k1)
            assert s == 429 and 0 < int(h["retry-after"]) <= 3600, (s, h, b)
            assert_envelope(b, "rate_limit_error")
            n = len(mock.requests)
            s, _, b = post(srv, "/v1/messages", body(instances(0, 40) + " again"), key=k1)
            assert s == 200, b            # known values mint nothing
            s, _, b = post(srv, "/v1/messages", body(instances(300, 40)), key=k1)
            assert s == 200, b            # exactly the 120 of the hour
            s, h, b = post(srv, "/v1/messages", body(instances(400, 1)), key=k1)
            assert s == 429 and 0 < int(h["retry-after"]) <= 3600, (s, h, b)
            msg = assert_envelope(b, "rate_limit_error")["error"]["message"]
            assert "MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR" in msg and "120" in msg, msg
            assert len(mock.requests) == n + 2
            # the hour is used up, but a request of known values adds nothing: served
            s, _, b = post(srv, "/v1/messages", body(instances(300, 40) + " once more"), key=k1)
            assert s == 200, (s, b)
            sent = mock.last().body.decode()
            assert "AWS_EC2_120" in sent and "AWS_EC2_121" not in sent, sent[:300]
            s, _, b = post(srv, "/v1/messages", body(instances(0, 3) + " " + instances(500, 1)), key=k1)
            assert s == 429, (s, b)
            assert len(mock.requests) == n + 3
            s, _, b = post(srv, "/v1/messages", body(instances(400, 1)), key=k2)
            assert s == 200, "another tenant's hour is its own"
        finally:
            srv.stop()


class _Pool6(harness.LighttpdPool):
    workers = 6


def _live_mappings(srv):
    """Live mappings of every tenant (maskgate stats), summed."""
    p = subprocess.run(srv.cli_argv() + ["stats"], env=dict(os.environ, **srv.env),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return sum(int(line.split()[2]) for line in p.stdout.splitlines()[1:] if line.strip())


def standalone_new_mapping_hour_exact(mock):
    """Six workers, 18 requests at once, each adding 10 new values under an
    hourly cap of 60: the tenant ends with at most 60 new mappings (once the
    count was read before masking and added after the response, so workers
    in flight together each saw room and minted past the cap), the served
    ones minted 10 each, the refused ones nothing."""
    cap, k, n = 60, 10, 18
    srv = _Pool6(mock, MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR=cap).start()

    def slow(rec):
        r = mock.auto(rec)
        r.delay = 0.4     # many requests in flight together
        return r
    try:
        key = generate(srv, user_id="mint-race")["key"]
        mock.default = slow
        res = [None] * n

        def one(i):
            try:
                res[i] = post(srv, "/v1/messages", body(instances(1000 + i * k, k)), key=key,
                              timeout=60)[0]
            except Exception as e:  # noqa: BLE001 - reported below
                res[i] = e
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        mock.default = None
        ok, refused = res.count(200), res.count(429)
        assert ok + refused == n, res
        live = _live_mappings(srv)
        assert live <= cap, "%d new mappings under a cap of %d (%d served)" % (live, cap, ok)
        assert live == ok * k, "%d served requests of %d new values, %d minted" % (ok, k, live)
        assert ok == cap // k, (ok, refused)
    finally:
        mock.default = None
        srv.stop()


# ------------------------------------------------------------- client gone

def test_client_gone_nonstreaming(srv, mock):
    """The client gives up after 2 s; the upstream call must end soon after,
    not at MASKGATE_UPSTREAM_TIMEOUT (600 s)."""
    mock.script.append(Reply("hold", delay=40))
    t0 = time.time()
    try:
        curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body(),
             timeout=2)
    except RuntimeError:
        pass                              # curl: operation timed out
    deadline = t0 + 20
    while not mock.dropped and time.time() < deadline:
        time.sleep(0.1)
    assert mock.dropped, "the upstream call outlived the client by 18 s"
    assert mock.dropped[0] - t0 < 10, mock.dropped[0] - t0
    # the worker is free again
    s, _, b = post(srv, "/v1/messages", body())
    assert s == 200, b
