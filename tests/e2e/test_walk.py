"""Property test of the request walk (issue 11, routes 3, 4 and 5), through
lighttpd and Apache, streaming and not.

For every kind of value in VALUES (identifiers the rules recognise by shape,
and credentials and IDs they recognise only with context), every FORM of
carrying it (its context as text, as a JSON key, as a number, URL-encoded,
HTML references, JSON text with \\/ escapes, base64 under a credential
name), and every POSITION of a Messages request (system, text, thinking,
tool input values and keys, tool names and ids, image and document URLs,
schema property names, enum, default, examples, title, tool_choice,
metadata keys and values, citations, unknown block types and fields,
stop_sequences, mcp_servers, container, output_format, context_management,
unknown top-level fields, cache_control ...), a fresh value is planted, so
that no value is masked only because another copy was seen with context.
One request per (kind, form, streaming) carries all positions. The
property: the request is accepted and the recording upstream never sees a
planted value, in its raw bytes or in any decoding of them.

Adding route-1 cases (values the tenant's mapping already holds, sent
again without context): add a form to FORMS with prime=True, e.g.
    Form("bare", lambda v: v.value, prime=True)
test_walk_property then sends each value once with its context first
(the priming request) and then the planted request.
"""
import base64
import html
import json
import random
import re
import secrets
import string
import urllib.parse

from harness import auth, curl, curl_stream

SERVERS = ["lighttpd", "apache"]
MODEL = "claude-sonnet-4-5"
B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
rnd = random.SystemRandom()


def _s(alpha, n):
    return "".join(rnd.choice(alpha) for _ in range(n))


class Value:
    """A planted value: value is what must never reach the upstream; text
    carries it with enough context for the rules; key is a JSON key that
    gives the same context; number is the value as an int if it is one."""

    def __init__(self, kind, value, text, key, number=None):
        self.kind, self.value, self.text, self.key, self.number = kind, value, text, key, number


def _acct():
    return str(rnd.randint(2, 9)) + _s(string.digits, 11)


# kind -> fresh Value. Shape: the rules know the value alone; context: only
# next to its name (secret keys, account ids, buckets, KMS key ids, zones).
VALUES = {
    "ec2": lambda: (lambda v: Value("ec2", v, "instance " + v, "InstanceId"))("i-0" + secrets.token_hex(8)),
    "access_key": lambda: (lambda v: Value("access_key", v, "key " + v, "AccessKeyId"))(
        "AKIA" + _s(string.ascii_uppercase + "234567", 16)),
    "role_arn": lambda: (lambda v: Value("role_arn", v, "role " + v, "RoleArn"))(
        "arn:aws:iam::%s:role/deploy-%s" % (_acct(), secrets.token_hex(4))),
    "session_token": lambda: (lambda v: Value("session_token", v, "token " + v, "SessionToken"))(
        "IQoJb3JpZ2luX2Vj" + _s(B64, 300)),
    "secret_key": lambda: (lambda v: Value("secret_key", v, "aws_secret_access_key = " + v,
                                           "aws_secret_access_key"))(_s(B62, 12) + "/" + _s(B64, 27)),
    "account": lambda: (lambda v: Value("account", v, "AccountId: " + v, "AccountId", int(v)))(_acct()),
    "bucket": lambda: (lambda v: Value("bucket", v, "s3://%s/reports" % v, "Bucket"))(
        "acme-" + secrets.token_hex(5) + "-logs"),
    "kms": lambda: (lambda v: Value("kms", v, "KeyId " + v, "KeyId"))(
        "%s-%s-%s-%s-%s" % tuple(secrets.token_hex(n) for n in (4, 2, 2, 2, 6))),
    "zone": lambda: (lambda v: Value("zone", v, "HostedZoneId: " + v, "HostedZoneId"))(
        "Z" + _s(string.ascii_uppercase + string.digits, 12) + "7"),
}


class Form:
    """How a value is written: string(v) for string positions, pair(v) ->
    (key, json value) for keyed positions (None: form has none)."""

    def __init__(self, name, string_of, pair_of=None, prime=False):
        self.name, self.string_of, self.pair_of, self.prime = name, string_of, pair_of, prime


def _html(s):
    return "".join(c if c.isalnum() else "&#%d;" % ord(c) for c in s)


def _json_text(s):
    return json.dumps({"note": s}).replace("/", "\\/")


def _b64_field(v):
    return "kind: Secret\ndata:\n  credentials: %s\n" % base64.b64encode(v.text.encode()).decode()


FORMS = [
    Form("context", lambda v: v.text, lambda v: (v.key, v.value)),
    Form("number", None, lambda v: (v.key, v.number) if v.number is not None else None),
    Form("url", lambda v: "https://h.example/cb?" + urllib.parse.quote(v.text, safe=""),
         lambda v: (v.key, urllib.parse.quote(v.value, safe=""))),
    Form("html", lambda v: "<td>%s</td>" % _html(v.text), lambda v: (v.key, _html(v.value))),
    Form("json_slash", lambda v: _json_text(v.text)),
    Form("base64", _b64_field,
         lambda v: ("credentials", base64.b64encode(v.text.encode()).decode())),
]


def _plant(form, kind, planted):
    """Returns s(): a fresh string carrying a new value, and kv(): a fresh
    {key: value} dict (empty when the form has no keyed spelling)."""
    def s():
        if form.string_of is None:
            return "plain"
        v = VALUES[kind]()
        planted.append(v)
        return form.string_of(v)

    def kv():
        if form.pair_of is None:
            return {}
        v = VALUES[kind]()
        pair = form.pair_of(v)
        if pair is None:
            return {}
        planted.append(v)
        return {pair[0]: pair[1]}
    return s, kv


def request(s, kv, stream):
    """A Messages request with s() in every string position and kv() in every
    place an object can take a member. A value glued to '_' (mcp__srv__i-0...)
    is a boundary matter of the rules (issue 11, route 7), not of the walk:
    tool names and ids here put a space before the value."""
    tool_id = "toolu_01 " + s()
    return {
        "model": MODEL, "max_tokens": 64, "stream": stream,
        "system": [{"type": "text", "text": s(), "cache_control": dict({"type": "ephemeral"}, **kv())}],
        "messages": [
            {"role": "user", "content": s()},
            {"role": "user", "extra_message_field": s(), "content": [
                dict({"type": "text", "text": s(), "extra": s()}, **kv()),
                {"type": "image", "source": {"type": "url", "url": "https://img.example/" + s()}},
                {"type": "document", "title": s(), "context": s(),
                 "source": {"type": "text", "media_type": "text/plain", "data": s()}},
                {"type": "document", "source": {"type": "url", "url": "https://doc.example/?q=" + s()},
                 "citations": {"enabled": True}},
                dict({"type": "x_future_block", "body": s(), "nested": [{"deep": s()}, s()]}, **kv()),
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": s(), "signature": "EqQBCkYIBxgCKkBdTm9zaWduYXR1cmU="},
                {"type": "text", "text": s(), "citations": [
                    {"type": "web_search_result_location", "url": "https://cite.example/" + s(),
                     "title": s(), "cited_text": s(), "encrypted_index": "RXFRQkNrWUlC"}]},
                {"type": "tool_use", "id": tool_id, "name": "mcp__srv__x " + s(),
                 "input": dict({"command": s(), "args": [s(), {"deep": s()}], s(): "as key"}, **kv())},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tool_id, "content": s()},
                {"type": "tool_result", "tool_use_id": tool_id,
                 "content": [{"type": "text", "text": s()}]},
            ]},
        ],
        "tools": [{"name": "t " + s(), "description": s(), "input_schema": {
            "type": "object", "title": s(),
            "properties": dict({s(): {"type": "string", "description": s(), "enum": [s()],
                                      "default": s(), "examples": [s()], "title": s()}},
                               **{k: {"type": "string", "default": v} for k, v in kv().items()})}}],
        "tool_choice": {"type": "tool", "name": "t " + s()},
        "stop_sequences": [s()],
        "mcp_servers": [{"type": "url", "url": "https://mcp.example/" + s(), "name": s(),
                         "authorization_token": s()}],
        "container": s(),
        "output_format": {"type": "json_schema", "schema": {"description": s()}},
        "context_management": {"edits": [{"type": "clear", "note": s()}]},
        "metadata": dict({"user_id": s(), s(): "k"}, **kv()),
        "x_unknown_top": dict({"list": [s(), 1.5]}, **kv()),
    }


def decodings(raw):
    """The upstream bytes and every decoding an attacker could apply."""
    text = raw.decode(errors="replace")
    out = [text, urllib.parse.unquote(text), html.unescape(text), text.replace("\\/", "/"),
           urllib.parse.unquote(html.unescape(text.replace("\\/", "/")))]
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            out.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode(errors="replace"))
        except ValueError:
            pass
    return "\n".join(out)


def _send(srv, body):
    url = srv.url + "/v1/messages"
    if body["stream"]:
        lines = curl_stream(url, headers=auth(srv.master), data=body, timeout=60)
        text = b"".join(line for _, line in lines)
        assert b"message_stop" in text, text[:500]
        return
    s, _, b = curl(url, method="POST", headers=auth(srv.master), data=body, timeout=60)
    assert s == 200, (s, b[:500])


def test_walk_property(srv, mock):
    leaks, sent, planted_total = [], 0, 0
    for kind in VALUES:
        for form in FORMS:
            for stream in (False, True):
                planted = []
                s, kv = _plant(form, kind, planted)
                body = request(s, kv, stream)
                if not planted:
                    continue
                if form.prime:
                    for v in planted:
                        _send(srv, {"model": MODEL, "max_tokens": 8, "stream": False,
                                    "messages": [{"role": "user", "content": v.text}]})
                n = len(mock.requests)
                _send(srv, body)
                assert len(mock.requests) > n, "request not forwarded"
                seen = decodings(mock.requests[-1].body)
                sent += 1
                planted_total += len(planted)
                for v in planted:
                    if v.value in seen or (v.number is not None and str(v.number) in seen):
                        at = seen.find(v.value if v.value in seen else str(v.number))
                        leaks.append((kind, form.name, stream, seen[max(0, at - 60):at + 20]))
    assert not leaks, "%d planted values reached the upstream, e.g. %s" % (len(leaks), leaks[:8])
    print("# %s: %d requests, %d planted values (%d kinds x %d forms), none seen upstream"
          % (srv.kind, sent, planted_total, len(VALUES), len(FORMS)))


def test_walk_refusals(srv, mock):
    """A value the API routes by, holding an identifier, is refused (400
    naming it) before anything is sent."""
    v = "i-0" + secrets.token_hex(8)
    cases = [({"model": "claude-" + v}, "model"),
             ({"messages": [{"role": "user", "content": [{"type": "text " + v, "text": "x"}]}]},
              "messages[0].content[0].type"),
             ({"messages": [{"role": "assistant", "content": [
                 {"type": "thinking", "thinking": "t", "signature": "sig-" + v}]},
                 {"role": "user", "content": "hi"}]}, "messages[0].content[0].signature")]
    for extra, field in cases:
        body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        body.update(extra)
        n = len(mock.requests)
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body)
        assert s == 400 and field.encode() in b, (s, b[:300])
        assert len(mock.requests) == n, "refused request went upstream"
    assert v.encode() not in mock.all_bytes()


def test_walk_realistic_routes(srv, mock):
    """Issue 11 routes 3-5 as a Claude Code session would carry them: an MCP
    tool whose schema lists real resources, a presigned S3 URL as an image
    source, `kubectl get secret -o yaml` and PHP json_encode output in tool
    results, and AWS API JSON with numbers in a tool call."""
    acct, bucket = _acct(), "acme-" + secrets.token_hex(4) + "-prod"
    akid = "ASIA" + _s(string.ascii_uppercase + "234567", 16)
    secret = _s(B62, 20) + "/" + _s(B64, 19)
    token = "IQoJb3JpZ2luX2Vj" + _s(B62, 40) + "/" + _s(B64, 200)
    inst = "i-0" + secrets.token_hex(8)
    presigned = ("https://%s.s3.amazonaws.com/shot.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                 "&X-Amz-Credential=%s%%2F20250101%%2Fus-east-1%%2Fs3%%2Faws4_request"
                 "&X-Amz-Security-Token=%s&X-Amz-Signature=%s"
                 % (bucket, akid, urllib.parse.quote(token, safe=""), secrets.token_hex(32)))
    kube = ("apiVersion: v1\nkind: Secret\ndata:\n  aws_access_key_id: %s\n"
            "  aws_secret_access_key: %s\n" % (base64.b64encode(akid.encode()).decode(),
                                              base64.b64encode(secret.encode()).decode()))
    php = json.dumps({"role": "arn:aws:iam::%s:role/ci" % acct, "log": "s3://%s/x" % bucket}).replace("/", "\\/")
    body = {
        "model": MODEL, "max_tokens": 64,
        "tools": [{"name": "mcp__aws__describe", "description": "Describe resources",
                   "input_schema": {"type": "object", "properties": {
                       "AccountId": {"type": "string", "enum": [acct], "default": acct},
                       "Bucket": {"type": "string", "examples": [bucket]},
                       inst: {"type": "boolean", "title": "instance " + inst}}}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is in this screenshot?"},
                {"type": "image", "source": {"type": "url", "url": presigned}}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_01", "name": "mcp__aws__describe",
                 "input": {"AccountId": int(acct), "Bucket": bucket,
                           "aws_secret_access_key": secret}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": kube},
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": php}]}]}],
        "metadata": {"user_id": "u1", "Owner": {"OwnerId": int(acct)}},
    }
    for stream in (False, True):
        body["stream"] = stream
        n = len(mock.requests)
        _send(srv, body)
        assert len(mock.requests) == n + 1
        seen = decodings(mock.requests[-1].body)
        for name, v in (("account", acct), ("bucket", bucket), ("access key", akid), ("secret", secret),
                        ("token", token), ("instance", inst)):
            assert v not in seen, "%s reached the upstream (stream=%s)" % (name, stream)
        up = mock.requests[-1].json()
        assert up["messages"][1]["content"][0]["input"]["AccountId"].startswith("AWS_ACCOUNT_")
        assert up["tools"][0]["input_schema"]["properties"]["AccountId"]["default"].startswith("AWS_ACCOUNT_")
