"""Hostile input through the real web servers: each class is a test that
must end in a 4xx or a controlled refusal (or a correct 200), never a 5xx,
never a real value upstream or another tenant's value downstream, and the
worker serves on (readiness 200 afterwards)."""
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time

from harness import assert_envelope, auth, curl, message_reply

SERVERS = ["lighttpd", "apache"]
MODEL = "claude-sonnet-4-5"
PH = re.compile(r"AWS_[A-Z0-9_]+?_\d{3,}")


def secret_id():
    """A fresh instance id, so a leak cannot be hidden by an earlier mapping."""
    return "i-0" + secrets.token_hex(8)


def akid():
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "AKIA" + "".join(alpha[b % 32] for b in secrets.token_bytes(16))


def post(srv, data, path="/v1/messages", headers=None, key=None, timeout=30):
    h = auth(key or srv.master)
    h.update(headers or {})
    return curl(srv.url + path, method="POST", headers=h, data=data, timeout=timeout)


def msg(content, **extra):
    b = {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": content}]}
    b.update(extra)
    return b


def raw_http(srv, payload, pieces=None, delay=0.0, timeout=15):
    """Sends bytes on a raw socket (in pieces with a delay if asked);
    returns (status or None, raw response)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        chunks = pieces or [payload]
        for c in chunks:
            try:
                s.sendall(c)
            except OSError:
                break
            if delay:
                time.sleep(delay)
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
                if b"\r\n\r\n" in out and _complete(out):
                    break
        except (socket.timeout, OSError):
            pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return (int(m.group(1)) if m else None), out


def _complete(out):
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    return body.endswith(b"0\r\n\r\n")


def request_head(srv, method="POST", path="/v1/messages", extra=b"", body=None, cl=None):
    h = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nx-api-key: %s\r\nanthropic-version: 2023-06-01\r\n" \
        b"content-type: application/json\r\nConnection: close\r\n" % (
            method.encode(), path.encode(), srv.port, srv.master.encode())
    if cl is not None:
        h += b"Content-Length: %s\r\n" % cl
    elif body is not None:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + extra + b"\r\n" + (body or b"")


def refused(s, b=b"", allow_200=False, name=""):
    """A 4xx (or 200 when the input is valid after all), never a 5xx."""
    assert s is not None, "%s: no HTTP answer at all" % name
    assert s < 500, "%s: server error %s %r" % (name, s, b[:300])
    if not allow_200:
        assert 400 <= s < 500, "%s: accepted (%s) %r" % (name, s, b[:300])


def alive(srv, mock, secrets_=()):
    seen = mock.all_bytes()
    for v in secrets_:
        assert v.encode() not in seen, "upstream saw " + v
    for _ in range(10):
        try:
            if curl(srv.url + "/health/readiness", timeout=5)[0] == 200:
                return
        except RuntimeError:
            pass
        time.sleep(0.2)
    raise AssertionError("readiness not 200 after the hostile input")


# ------------------------------------------------------------------ JSON

def test_01_malformed_json(srv, mock):
    for body in (b"{", b"}", b'{"model":}', b"{'model':'x'}", b'{"model":"x",}', b"nul", b"tru",
                 b'{"a":1}{"b":2}', b'{"model":"x"} trailing', b"\x00{}", b'{"model":"x" "max_tokens":1}'):
        s, _, b = post(srv, body)
        refused(s, b, name=body[:20])
        assert_envelope(b, "invalid_request_error")
    assert mock.requests == []
    alive(srv, mock)


def test_02_truncated_json(srv, mock):
    v = secret_id()
    full = json.dumps(msg("stop " + v + " " + "x" * 5000)).encode()
    for cut in (1, 10, len(full) // 3, len(full) // 2, len(full) - 30, len(full) - 1):
        s, _, b = post(srv, full[:cut])
        refused(s, b, name="cut %d" % cut)
    assert mock.requests == []
    alive(srv, mock, [v])


def test_03_huge_strings(srv, mock):
    v = secret_id()
    body = msg("a" * (8 << 20) + " " + v + " " + "b" * 1000)
    s, _, b = post(srv, body, timeout=60)
    refused(s, b, allow_200=True, name="8 MB string")
    if s == 200:
        assert mock.requests and v.encode() not in mock.requests[-1].body
    v2 = secret_id()
    s, _, b = post(srv, msg("c" * (40 << 20) + v2), timeout=60)
    assert s == 413 or (s == 400 and srv.kind == "apache"), (s, b[:200])
    alive(srv, mock, [v, v2])


def test_04_million_element_arrays(srv, mock):
    v = secret_id()
    arr = "[" + ",".join(["0"] * 1000000) + "]"
    body = ('{"model":"%s","max_tokens":5,"x_future":%s,"messages":[{"role":"user","content":"%s"}]}'
            % (MODEL, arr, v)).encode()
    s, _, b = post(srv, body, timeout=60)
    refused(s, b, allow_200=True, name="1e6 numbers")
    blocks = ",".join(['{"type":"text","text":"%s"}' % v] * 100000)
    s, _, b = post(srv, ('{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":[%s]}]}'
                        % (MODEL, blocks)).encode(), timeout=60)
    refused(s, b, allow_200=True, name="1e5 text blocks")
    s, _, b = post(srv, ('{"model":"%s","max_tokens":5,"messages":[%s]}'
                        % (MODEL, ",".join(['{"role":"user","content":"%s"}' % v] * 200000))).encode(),
                   timeout=60)
    refused(s, b, allow_200=True, name="2e5 messages")
    alive(srv, mock, [v])


def test_05_nesting_beyond_bound(srv, mock):
    for depth in (200, 5000, 100000):
        for body in (b'{"model":"x","a":' + b"[" * depth + b"]" * depth + b"}",
                     b'{"model":"x","a":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
                     b"[" * depth):
            s, _, b = post(srv, body)
            refused(s, b, name="depth %d" % depth)
    v = secret_id()
    inp = v
    for _ in range(150):
        inp = {"x": [inp]}
    s, _, b = post(srv, msg([{"type": "tool_result", "tool_use_id": "t", "content": "ok"}], ) |
                   {"messages": [{"role": "assistant", "content": [
                       {"type": "tool_use", "id": "t", "name": "Bash", "input": inp}]}]})
    refused(s, b, allow_200=True, name="deep tool input")
    alive(srv, mock, [v])


def test_06_invalid_utf8(srv, mock):
    v = secret_id()
    for bad in (b"\xff", b"\xfe\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80"):
        for where in ("content", "key", "model"):
            if where == "content":
                body = b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"' + v.encode() + bad + b'"}]}'
            elif where == "key":
                body = b'{"model":"x","max_tokens":1,"' + bad + b'":1,"messages":[{"role":"user","content":"' + v.encode() + b'"}]}'
            else:
                body = b'{"model":"x' + bad + b'","max_tokens":1,"messages":[{"role":"user","content":"' + v.encode() + b'"}]}'
            s, _, b = post(srv, body)
            refused(s, b, name="%r in %s" % (bad, where))
    assert mock.requests == []
    alive(srv, mock, [v])


def test_07_overlong_encodings(srv, mock):
    for bad in (b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xc0\x80", b"\xe0\x9f\xbf"):
        s, _, b = post(srv, b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"a' + bad + b'"}]}')
        refused(s, b, name=repr(bad))
    assert mock.requests == []
    alive(srv, mock)


def test_08_utf8_encoded_surrogates(srv, mock):
    for bad in (b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\xbd\xed\xb8\x80"):
        s, _, b = post(srv, b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"a' + bad + b'"}]}')
        refused(s, b, name=repr(bad))
    assert mock.requests == []
    alive(srv, mock)


def test_09_surrogate_escapes(srv, mock):
    for esc in (b"\\ud800", b"\\udc00", b"\\udc00\\ud800", b"\\ud800x", b"\\ud800\\u0041", b"\\uZZZZ", b"\\u12"):
        s, _, b = post(srv, b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"a' + esc + b'"}]}')
        refused(s, b, name=repr(esc))
    assert mock.requests == []
    v = secret_id()
    s, _, b = post(srv, b'{"model":"%s","max_tokens":1,"messages":[{"role":"user","content":"\\ud83d\\ude00 %s"}]}'
                   % (MODEL.encode(), v.encode()))
    assert s == 200, (s, b[:200])
    alive(srv, mock, [v])


def test_10_nul_bytes(srv, mock):
    v = secret_id()
    s, _, b = post(srv, b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"a\x00' + v.encode() + b'"}]}')
    refused(s, b, name="raw NUL")
    # an escaped NUL is valid JSON: masking must go on past it
    for text in ("a\u0000 " + v, "\u0000" * 50 + v + "\u0000"):
        s, _, b = post(srv, msg(text))
        refused(s, b, allow_200=True, name="escaped NUL")
    s, _, b = post(srv, msg([{"type": "text", "text": "x"}], system="\u0000" + v))
    refused(s, b, allow_200=True, name="NUL in system")
    alive(srv, mock, [v])


def test_11_duplicate_keys(srv, mock):
    v = secret_id()
    cases = [
        '{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"%s"}],'
        '"messages":[{"role":"user","content":"clean"}]}' % (MODEL, v),
        '{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"clean"}],'
        '"messages":[{"role":"user","content":"%s"}]}' % (MODEL, v),
        '{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"%s","content":"x"}]}' % (MODEL, v),
        '{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a","text":"%s"}]}]}'
        % (MODEL, v),
        '{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","type":"text","text":"%s"}]}]}'
        % (MODEL, v),
        '{"model":"%s","model":"claude-3-haiku-20240307","max_tokens":5,"messages":[{"role":"user","content":"%s"}]}'
        % (MODEL, v),
        '{"model":"%s","max_tokens":5,"system":"%s","system":[{"type":"text","text":"%s"}],'
        '"messages":[{"role":"user","content":"hi"}]}' % (MODEL, v, v),
    ]
    for c in cases:
        s, _, b = post(srv, c.encode())
        refused(s, b, allow_200=True, name=c[:80])
        assert v.encode() not in mock.all_bytes(), "duplicate key smuggled %s upstream: %s" % (v, c)
    alive(srv, mock, [v])


def test_12_wrong_types(srv, mock):
    v = secret_id()
    cases = [{"model": 5}, {"model": None}, {"model": [MODEL]}, {"max_tokens": "10"}, {"max_tokens": -1},
             {"max_tokens": 1.5e300}, {"messages": {"role": "user"}}, {"messages": [5]},
             {"messages": [{"role": "user", "content": [5]}]},
             {"messages": [{"role": "user", "content": [{"type": 5, "text": v}]}]},
             {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
             {"messages": [{"role": "user", "content": [{"type": "text", "text": [v]}]}]},
             {"messages": [{"role": 7, "content": v}]}, {"system": 5}, {"system": [{"type": "text", "text": {"a": v}}]},
             {"stream": "yes"}, {"tools": {"name": v}}, {"tools": [{"name": "x", "description": [v]}]},
             {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "B",
                                                              "input": v}]}]},
             {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                                         "content": {"text": v}}]}]},
             {"thinking": "on"}]
    for extra in cases:
        body = msg("hello " + v)
        body.update(extra)
        s, _, b = post(srv, body)
        refused(s, b, allow_200=True, name=json.dumps(extra)[:80])
        assert v.encode() not in mock.all_bytes(), "wrong type let %s through: %s" % (v, extra)
    alive(srv, mock, [v])


def test_13_unknown_blocks_and_odd_places(srv, mock):
    """Identifiers where a walker might not look: unknown block types, object
    keys in tool input, escaped characters inside the identifier."""
    v1, v2, k = secret_id(), secret_id(), akid()
    body = msg([{"type": "future_block", "text": "see " + v1, "payload": {"note": v1}},
                {"type": "text", "text": "ok", "citations": [{"cited_text": v2, "type": "char_location"}]}])
    body["messages"].insert(0, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"k": ["x", {"deep": k}]}}]})
    s, _, b = post(srv, body)
    refused(s, b, allow_200=True, name="odd places")
    esc = b'{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"%s"}]}' % (
        MODEL.encode(), v1.replace("-", "\\u002d").encode())
    s, _, b = post(srv, esc)
    refused(s, b, allow_200=True, name="escaped identifier")
    alive(srv, mock, [v1, v2, k])


def test_32_tool_input_object_keys(srv, mock):
    """The model reads tool_use.input whole, keys included: an identifier
    used as an object key ({"i-0...": "running"}) must not go upstream."""
    v = secret_id()
    body = msg("hi")
    body["messages"].insert(0, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"states": {v: "running"}}}]})
    s, _, b = post(srv, body)
    refused(s, b, allow_200=True, name="id as object key")
    alive(srv, mock, [v])


def test_33_identifiers_in_metadata(srv, mock):
    """metadata goes to the API too: an identifier a client puts there must
    not reach it."""
    v, k = secret_id(), akid()
    for meta in ({"user_id": "deploy " + v}, {"user_id": "x", "note": k}, [v]):
        s, _, b = post(srv, msg("hi", metadata=meta))
        refused(s, b, allow_200=True, name=str(meta))
    alive(srv, mock, [v, k])


def test_34_identifiers_in_forwarded_query_params(srv, mock):
    """The API's own query parameters are forwarded: their values must not
    carry an identifier upstream."""
    k = akid()
    s, _, b = curl(srv.url + "/v1/models?limit=5&before_id=" + k, headers=auth(srv.master))
    refused(s, b, allow_200=True, name="id in before_id")
    s, _, b = curl(srv.url + "/v1/messages?beta=" + k, method="POST", headers=auth(srv.master), data=msg("hi"))
    refused(s, b, allow_200=True, name="id in beta")
    alive(srv, mock, [k])


def test_14_numbers_and_bom(srv, mock):
    for body in (b'{"model":"%s","max_tokens":1e999999,"messages":[]}' % MODEL.encode(),
                 b'{"model":"%s","max_tokens":123456789012345678901234567890,"messages":[{"role":"user","content":"x"}]}'
                 % MODEL.encode(),
                 b'{"model":"%s","max_tokens":-0,"messages":[]}' % MODEL.encode(),
                 b'{"model":"%s","max_tokens":NaN,"messages":[]}' % MODEL.encode(),
                 b'\xef\xbb\xbf{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' % MODEL.encode(),
                 '{"model":"x"}'.encode("utf-16")):
        s, _, b = post(srv, body)
        refused(s, b, allow_200=True, name=body[:40])
    alive(srv, mock)


def test_15_many_object_keys(srv, mock):
    v = secret_id()
    meta = ",".join('"k%d":"x"' % i for i in range(200000))
    s, _, b = post(srv, ('{"model":"%s","max_tokens":5,"metadata":{%s},"messages":[{"role":"user","content":"%s"}]}'
                         % (MODEL, meta, v)).encode(), timeout=60)
    refused(s, b, allow_200=True, name="2e5 keys")
    alive(srv, mock, [v])


# ------------------------------------------------------------------ HTTP

def test_16_oversized_header(srv, mock):
    hfile = os.path.join(srv.dir, "big-header")
    with open(hfile, "w") as f:
        f.write("x-big: " + "a" * 200000 + "\n")
    s, _, b = curl(srv.url + "/v1/models", headers={"x-api-key": srv.master}, extra=["-H", "@" + hfile])
    refused(s, b, name="200 KB header")
    s, _, b = curl(srv.url + "/v1/models", headers={"x-api-key": srv.master + "b" * 60000})
    refused(s, b, name="60 KB key")
    alive(srv, mock)


def test_17_many_headers(srv, mock):
    h = {"x-api-key": srv.master}
    h.update({"x-h%d" % i: "v%d" % i for i in range(2000)})
    argv = []
    for k, v in h.items():
        argv += ["-H", "%s: %s" % (k, v)]
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                        "--noproxy", "*"] + argv + [srv.url + "/v1/models"], capture_output=True, text=True)
    s = int(p.stdout or 0)
    refused(s or None, allow_200=True, name="2000 headers")
    alive(srv, mock)


def test_18_bad_content_length(srv, mock):
    body = json.dumps(msg("hi")).encode()
    for cl, payload in ((b"-5", body), (b"abc", body), (b"1" * 30, body), (b"5, 6", body),
                        (b"%d" % (len(body) - 10), body)):
        s, out = raw_http(srv, request_head(srv, body=payload, cl=cl))
        refused(s, out, allow_200=cl == b"%d" % (len(body) - 10), name=cl)
    # a body shorter than announced, then the client stops: no answer
    # needed, but the server must not hang a worker on it
    s, out = raw_http(srv, request_head(srv, body=body[:20], cl=b"%d" % len(body)), timeout=3)
    assert s is None or s < 500, (s, out[:200])
    # both Content-Length and Transfer-Encoding: the smuggling shape
    s, out = raw_http(srv, request_head(srv, body=b"5\r\nhello\r\n0\r\n\r\n", cl=b"5",
                                        extra=b"Transfer-Encoding: chunked\r\n"))
    refused(s, out, allow_200=False, name="CL+TE")
    alive(srv, mock)


def test_19_chunked_bodies(srv, mock):
    v = secret_id()
    body = json.dumps(msg("stop " + v)).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    s, out = raw_http(srv, request_head(srv, extra=b"Transfer-Encoding: chunked\r\n") + chunks + b"0\r\n\r\n")
    refused(s, out, allow_200=True, name="valid chunked")
    for bad in (b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"ffffffffffffffffff\r\nx\r\n",
                b"-1\r\nx\r\n0\r\n\r\n"):
        s, out = raw_http(srv, request_head(srv, extra=b"Transfer-Encoding: chunked\r\n") + bad, timeout=5)
        assert s is None or s < 500, (bad, s, out[:300])
    alive(srv, mock, [v])


def test_20_slowloris(srv, mock):
    """Slow headers and a slow body from a few clients at once (bounded to
    about 4 s): the server keeps answering others meanwhile."""
    body = json.dumps(msg("hi")).encode()
    head = request_head(srv, body=body)
    results = []

    def slow_head():
        results.append(raw_http(srv, head, pieces=[head[i:i + 3] for i in range(0, len(head), 3)][:60], delay=0.06,
                                timeout=6))

    def slow_body():
        h, _, b = head.partition(b"\r\n\r\n")
        results.append(raw_http(srv, h + b"\r\n\r\n" + b[:10], pieces=[h + b"\r\n\r\n"] +
                                [b[i:i + 2] for i in range(0, 40, 2)], delay=0.2, timeout=6))
    ts = [threading.Thread(target=f) for f in (slow_head, slow_head, slow_body, slow_body)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    t0 = time.time()
    for _ in range(5):
        s, _, _ = curl(srv.url + "/health/readiness", timeout=5)
        assert s == 200
    assert time.time() - t0 < 5, "slow clients starved the server"
    for t in ts:
        t.join(15)
    for s, out in results:
        assert s is None or s < 500 or s == 408, (s, out[:200])
    alive(srv, mock)


def test_21_credentials_in_query_string(srv, mock):
    k = akid()
    sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + secrets.token_hex(5)
    s, _, b = curl(srv.url + "/v1/models?x-api-key=" + srv.master + "&api_key=" + srv.master)
    assert s == 401, (s, b)
    s, _, b = curl(srv.url + "/v1/messages?key=%s&beta=true&aws_secret_access_key=%s&id=%s" % (srv.master, sk, k),
                   method="POST", headers=auth(srv.master), data=msg("hi"))
    refused(s, b, allow_200=True, name="secrets in query")
    log = srv.read_log()
    assert srv.master not in log and sk not in log
    alive(srv, mock, [srv.master, sk, k])


def test_22_odd_paths_and_methods(srv, mock):
    for path in ("/v1/messages/../../etc/passwd", "/v1/%2e%2e/%2e%2e/etc/passwd", "/v1/messages%00.json",
                 "/" + "a" * 7000, "/v1//messages", "/v1/messages/count_tokens/x", "/%ff%fe"):
        s, _, b = curl(srv.url + path, method="POST", headers=auth(srv.master), data=msg("hi"),
                       extra=["--path-as-is"])
        refused(s, b, allow_200=path == "/v1//messages", name=path[:40])
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        s, _, b = curl(srv.url + "/v1/messages", method=m, headers=auth(srv.master), data=msg("hi"))
        refused(s, b, allow_200=m == "OPTIONS", name=m)
    alive(srv, mock)


def test_23_odd_auth_values(srv, mock):
    for h in ({"x-api-key": srv.master + " "}, {"x-api-key": " " + srv.master + "x"},
              {"Authorization": "Bearer " + srv.master + " extra"}, {"Authorization": "Bearer"},
              {"Authorization": "Bearer " + "A" * 50000}, {"x-api-key": "sk-" + "'; DROP TABLE vkey; --"},
              {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
              {"x-api-key": srv.master[:-1]}):
        hh = {"content-type": "application/json"}
        hh.update(h)
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=hh, data=msg("hi"))
        refused(s, b, allow_200=h.get("x-api-key") == srv.master + " ", name=str(h)[:60])
    alive(srv, mock)


def test_24_content_type_oddities(srv, mock):
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
               "application/json; charset=utf-16", ""):
        s, _, b = post(srv, json.dumps(msg("hi")), headers={"content-type": ct})
        refused(s, b, allow_200=ct.startswith("application/json") or ct == "", name=ct)
    alive(srv, mock)


# ------------------------------------------------------------------ tenants

def _key(srv, **fields):
    s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master), data=fields)
    assert s == 200, b
    return json.loads(b)["key"]


def test_25_placeholder_lookalikes_cross_tenant(srv, mock):
    """Tenant A masks a value; tenant B sends A's placeholder (and guesses
    around it) and must never get A's value back."""
    a = _key(srv, team_id="team-a-" + secrets.token_hex(3))
    b_ = _key(srv, team_id="team-b-" + secrets.token_hex(3))
    va = [secret_id() for _ in range(5)] + [akid()]
    s, _, body = post(srv, msg("mine: " + " ".join(va)), key=a)
    assert s == 200, body
    placeholders = PH.findall(mock.last().body.decode())
    assert len(placeholders) >= 6, placeholders
    # the mock answers with whatever placeholders B sent
    mock.default = lambda rec: message_reply("echo " + " ".join(PH.findall(rec.body.decode())) +
                                             " " + rec.body.decode()[-300:])
    guesses = placeholders + ["AWS_EC2_%03d" % i for i in range(0, 40)] + [
        "AWS_EC2_0001", "AWS_EC2_1", "AWS_EC2_99999999999999999999", "AWS_ACCESS_KEY_001",
        "aws_ec2_001", "AWS_EC2_001\u200b", "AWS\u005fEC2\u005f001", "AWS_EC2__001"]
    text = " ".join(guesses)
    for stream in (False, True):
        s, _, out = post(srv, msg(text, stream=stream), key=b_)
        assert s == 200, out[:300]
        for v in va:
            assert v.encode() not in out, "tenant B got tenant A's value %s" % v
    # thinking and tool_use too
    mock.default = lambda rec: message_reply("", content=[
        {"type": "thinking", "thinking": " ".join(placeholders), "signature": "s"},
        {"type": "tool_use", "id": "t", "name": "B", "input": {"c": " ".join(placeholders)}}])
    s, _, out = post(srv, msg("x"), key=b_)
    assert s == 200 and not any(v.encode() in out for v in va), out[:300]
    # and the same reply to A does restore them (the placeholders are real)
    s, _, out = post(srv, msg("x"), key=a)
    assert all(v.encode() in out for v in va), out[:300]
    mock.default = None
    alive(srv, mock, va)


def test_26_client_planted_placeholders_not_masked_twice(srv, mock):
    """A client writing placeholder-shaped text gets it back unchanged and
    it never collides with a real mapping of its own tenant."""
    v = secret_id()
    s, _, b = post(srv, msg("real %s and fake AWS_EC2_777 AWS_EC2_001" % v))
    assert s == 200
    up = mock.last().body.decode()
    assert v not in up
    out = json.loads(b)["content"][0]["text"]
    assert "AWS_EC2_777" in out and v in out, out[:400]
    alive(srv, mock, [v])


# ------------------------------------------------------------------ management

SQLI = ["x'); DROP TABLE vkey; --", "' OR '1'='1", "\" OR \"\"=\"", "1; DELETE FROM vkey_slot",
        "%' --", "a\\'; SELECT sqlite_version(); --", "Robert'); DROP TABLE audit;--", "`x`; --", "\\x27"]


def test_27_sql_metacharacters_in_management_fields(srv, mock):
    before = curl(srv.url + "/key/list", headers=auth(srv.master))
    assert before[0] == 200
    keys = []
    for i, evil in enumerate(SQLI):
        fields = {"key_alias": evil + str(i), "user_id": evil, "team_id": evil, "models": [evil, MODEL],
                  "metadata": {evil: evil, "n": [evil]}, "budget_duration": "1d", "duration": "1h"}
        s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master), data=fields)
        refused(s, b, allow_200=True, name="generate " + evil)
        if s == 200:
            o = json.loads(b)
            keys.append((evil, o["key"]))
            assert o.get("key_alias", evil + str(i)) == evil + str(i), o
    assert keys, "no key with metacharacters was stored"
    for evil, k in keys:
        s, _, b = curl(srv.url + "/key/info?key=" + k, headers=auth(srv.master))
        assert s == 200 and json.loads(b)["info"]["user_id"] == evil, (s, b[:300])
        for path in ("/key/info?key=" + evil, "/key/list?user_id=" + evil, "/key/list?team_id=" + evil,
                     "/key/list?key_alias=" + evil, "/spend/logs?user_id=" + evil, "/audit?action=" + evil):
            s, _, b = curl(srv.url + path.replace(" ", "%20").replace("#", "%23"), headers=auth(srv.master))
            refused(s, b, allow_200=True, name=path)
        for path, body in (("/key/update", {"key": evil, "key_alias": evil}),
                           ("/key/update", {"key": k, "key_alias": evil, "user_id": evil, "metadata": {"q": evil}}),
                           ("/key/block", {"key": evil}), ("/key/unblock", {"key": evil}),
                           ("/key/delete", {"keys": [evil]}), ("/key/delete", {"key_aliases": [evil]}),
                           ("/key/regenerate", {"key": evil})):
            s, _, b = curl(srv.url + path, method="POST", headers=auth(srv.master), data=body)
            refused(s, b, allow_200=True, name=path + " " + evil)
    # every key still there and usable; nothing was dropped
    for evil, k in keys:
        s, _, b = curl(srv.url + "/key/info?key=" + k, headers=auth(srv.master))
        assert s in (200, 404), (s, b[:200])
    s, _, b = curl(srv.url + "/key/list", headers=auth(srv.master))
    assert s == 200, b
    s, _, b = post(srv, msg("hi"), key=keys[-1][1])
    refused(s, b, allow_200=True, name="use")
    s, _, b = curl(srv.url + "/audit?limit=5", headers=auth(srv.master))
    assert s == 200, b
    alive(srv, mock)


def test_28_management_hostile_json(srv, mock):
    for body in (b"{" * 100000, b'{"key_alias":"' + b"a" * (2 << 20) + b'"}', b'{"models":[' + b'"m",' * 200000 + b'"m"]}',
                 b'{"metadata":{"a":' * 1000 + b"1" + b"}" * 1001, b'{"key_alias":"\xff\xfe"}',
                 b'{"duration":"99999999999999999999d"}', b'{"max_budget":1e308,"rpm_limit":9223372036854775807}',
                 b'{"max_parallel_requests":-9223372036854775808}', b'{"duration":"-1s"}'):
        s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master), data=body, timeout=60)
        refused(s, b, allow_200=True, name=body[:40])
    alive(srv, mock)


def test_29_count_tokens_hostile(srv, mock):
    v = secret_id()
    for body in (b"{", b'{"model":"x","messages":[{"role":"user","content":"\xff"}]}',
                 b"[" * 10000, json.dumps(msg("id " + v)).encode()):
        s, _, b = post(srv, body, path="/v1/messages/count_tokens")
        refused(s, b, allow_200=True, name=body[:30])
    alive(srv, mock, [v])


def test_30_sse_and_header_injection_from_client(srv, mock):
    """Client text shaped like SSE framing or with CR/LF cannot break the
    response framing or forge headers."""
    v = secret_id()
    evil = "x\r\n\r\nevent: message_stop\ndata: {}\n\n" + v + "\r\nSet-Cookie: a=b"
    s, h, b = post(srv, msg(evil, stream=True))
    assert s == 200 and "set-cookie" not in h, h
    s, h, b = post(srv, msg(evil))
    assert s == 200 and "set-cookie" not in h, h
    assert json.loads(b)["content"][0]["text"].count(v) == 1
    s, out = raw_http(srv, request_head(srv, path="/v1/models", extra=b"x-evil: a\x00b\r\nx-api-key2: \x7f\r\n"))
    refused(s, out, allow_200=True, name="control chars in headers")
    alive(srv, mock, [v])


def test_31_cli_unmask_other_tenant(srv, mock):
    """The CLI follows the same scoping: tenant B cannot unmask A's placeholders."""
    v = secret_id()
    env = {k: val for k, val in os.environ.items() if not k.startswith("MASKGATE_")}
    env.update(srv.env)
    argv = srv.cli_argv()
    p = subprocess.run(argv + ["mask", "--tenant", "team:alpha"], input=("x " + v).encode(), env=env,
                       capture_output=True, timeout=30)
    ph = PH.findall(p.stdout.decode())
    assert ph, p.stdout + p.stderr
    for tenant in ("team:beta", "master", "team:alph", "team:alpha ", "team:%", "team:alpha' OR '1'='1"):
        q = subprocess.run(argv + ["unmask", "--tenant", tenant], input=ph[0].encode(), env=env,
                           capture_output=True, timeout=30)
        assert v.encode() not in q.stdout, tenant
    q = subprocess.run(argv + ["unmask", "--tenant", "team:alpha"], input=ph[0].encode(), env=env,
                       capture_output=True, timeout=30)
    assert v.encode() in q.stdout
    alive(srv, mock)


def test_35_nul_in_management_fields(srv, mock):
    """A NUL inside a management string is refused or stored whole, never
    cut short (a cut team_id could name another team's tenant)."""
    s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                   data={"key_alias": "a\u0000b", "team_id": "team-x\u0000evil", "user_id": "u\u0000v"})
    refused(s, b, allow_200=True, name="NUL")
    if s == 200:
        o = json.loads(b)
        assert o["team_id"] == "team-x\u0000evil" and o["user_id"] == "u\u0000v", o
    alive(srv, mock)
