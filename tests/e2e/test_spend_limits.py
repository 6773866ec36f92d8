"""Spend limits Claude Code can show: per-developer caps by day, week or
month at organisation, team (rbac_group) and user level, set through the
Admin-API shaped /v1/organizations/spend_limits, enforced at admission with
the 429 of the Claude apps gateway contract (billing_error,
x-should-retry: false, retry-after, "spend limit reached (<period>; resets
<time> UTC)" and the operator's message); a key's own exhausted budget
answers the same way."""
import calendar
import json
import re
import time

from harness import assert_envelope, auth, curl

SERVERS = ["lighttpd"]
OPERATOR = "ask for more in #platform-finops"
ENV = {"MASKGATE_SPEND_LIMIT_MESSAGE": OPERATOR,
       # Bedrock routes configured; a capped request never gets that far
       "MASKGATE_BEDROCK_REGION": "us-east-1", "MASKGATE_BEDROCK_URL": "http://127.0.0.1:9",
       "MASKGATE_BEDROCK_API_KEY": "bedrock-test-key-never-used"}
MODEL = "claude-sonnet-4-5"
SL = "/v1/organizations/spend_limits"


def call(srv, path, body=None, key=None):
    s, h, b = curl(srv.url + path, method="POST" if body is not None else "GET",
                   headers=auth(key or srv.master), data=body)
    try:
        return s, h, json.loads(b)
    except ValueError:
        return s, h, b


def key_for(srv, **fields):
    s, _, o = call(srv, "/key/generate", fields)
    assert s == 200, o
    return o["key"]


def ask(srv, key, path="/v1/messages"):
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    return curl(srv.url + path, method="POST", headers=auth(key), data=body)


def next_midnight(now):
    return (int(now) // 86400 + 1) * 86400


def test_spend_limits_api(srv, mock):
    plain = key_for(srv, key_alias="not-admin")
    s, _, _ = call(srv, SL, {"scope": {"type": "organization"}, "amount": "1", "period": "daily"},
                   key=plain)
    assert s in (401, 403), s
    for bad in ({"scope": {"type": "organization"}, "amount": "12.5", "period": "daily"},
                {"scope": {"type": "organization"}, "amount": 100, "period": "daily"},
                {"scope": {"type": "organization"}, "amount": "100", "period": "yearly"},
                {"scope": {"type": "user"}, "amount": "100", "period": "daily"},
                {"scope": {"type": "workspace"}, "amount": "100", "period": "daily"},
                {"scope": {"type": "organization"}, "amount": "100", "period": "daily",
                 "currency": "EUR"}):
        s, _, o = call(srv, SL, bad)
        assert s == 400, (bad, s, o)
        assert_envelope(json.dumps(o), "invalid_request_error")
    s, h, o = call(srv, SL, {"scope": {"type": "user", "user_id": "carol"}, "amount": "50000",
                             "period": "monthly"})
    assert s == 200, o
    assert o["type"] == "spend_limit" and o["id"].startswith("spl_"), o
    assert o["amount"] == "50000" and o["currency"] == "USD" and o["period"] == "monthly", o
    assert o["scope"] == {"type": "user", "user_id": "carol"}, o
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", o["created_at"]), o
    assert h.get("request-id"), h
    # the same scope and period replaces the cap and keeps its id
    s, _, o2 = call(srv, SL, {"scope": {"type": "user", "user_id": "carol"}, "amount": None,
                              "period": "monthly"})
    assert s == 200 and o2["id"] == o["id"] and o2["amount"] is None, o2
    s, _, got = call(srv, SL + "/" + o["id"])
    assert s == 200 and got["id"] == o["id"] and got["amount"] is None, got
    s, _, lst = call(srv, SL + "?limit=1000")
    assert s == 200 and any(x["id"] == o["id"] for x in lst["data"]), lst
    assert lst["has_more"] is False, lst
    s, _, _ = call(srv, SL + "/spl_nope")
    assert s == 404


def test_spend_limit_enforced(srv, mock):
    dev = key_for(srv, key_alias="dave", user_id="dave-%d" % time.time_ns(), team_id="infra-x")
    assert ask(srv, dev)[0] == 200
    n = len(mock.requests)
    # a zero daily cap for the user blocks the next request, before upstream
    uid = call(srv, "/key/info?key=" + dev)[2]["info"]["user_id"]
    s, _, _ = call(srv, SL, {"scope": {"type": "user", "user_id": uid}, "amount": "0",
                             "period": "daily"})
    assert s == 200
    s, h, b = ask(srv, dev)
    now = time.time()
    assert s == 429, (s, b)
    err = assert_envelope(b, "billing_error")
    assert h.get("x-should-retry") == "false", h
    reset = next_midnight(now)
    assert abs(int(h["retry-after"]) - (reset - now)) <= 5, h
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(reset))
    assert err["error"]["message"] == "spend limit reached (daily; resets %s UTC) %s" % (
        when, OPERATOR), err
    assert err.get("request_id"), err
    assert len(mock.requests) == n, "a capped request went upstream"
    # counting tokens is free and never blocked
    assert ask(srv, dev, "/v1/messages/count_tokens")[0] == 200


def test_spend_limit_precedence(srv, mock):
    tag = str(time.time_ns())
    team = "team-" + tag
    alice = key_for(srv, user_id="alice-" + tag, team_id=team)
    bob = key_for(srv, user_id="bob-" + tag, team_id=team)
    # a team cap of zero per week blocks every member...
    s, _, _ = call(srv, SL, {"scope": {"type": "rbac_group", "rbac_group_id": team},
                             "amount": "0", "period": "weekly"})
    assert s == 200
    s, _, b = ask(srv, alice)
    assert s == 429 and "(weekly; resets " in json.loads(b)["error"]["message"], b
    # ...except one whose own cap overrides it (unlimited)
    s, _, _ = call(srv, SL, {"scope": {"type": "user", "user_id": "bob-" + tag},
                             "amount": None, "period": "weekly"})
    assert s == 200
    assert ask(srv, bob)[0] == 200
    assert ask(srv, alice)[0] == 429
    # over several caps, the message names the one that resets last
    s, _, _ = call(srv, SL, {"scope": {"type": "user", "user_id": "alice-" + tag},
                             "amount": "0", "period": "monthly"})
    s, h, b = ask(srv, alice)
    msg = json.loads(b)["error"]["message"]
    # the team's week (to next Monday) or alice's month, whichever ends later
    # (on the last days of a month the week does)
    t = time.gmtime()
    first = calendar.timegm((t.tm_year + (t.tm_mon == 12), t.tm_mon % 12 + 1, 1, 0, 0, 0))
    today = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    monday = today + (7 - t.tm_wday) * 86400
    period, reset = ("monthly", first) if first >= monday else ("weekly", monday)
    want = "(%s; resets %s 00:00 UTC)" % (period, time.strftime("%Y-%m-%d", time.gmtime(reset)))
    assert s == 429 and want in msg, (want, msg)


def test_key_budget_429_shape(srv, mock):
    key = key_for(srv, max_budget=0.0001, budget_duration="1d")
    assert ask(srv, key)[0] == 200
    s, h, b = ask(srv, key)
    assert s == 429 and h.get("x-should-retry") == "false", (s, h)
    msg = assert_envelope(b, "billing_error")["error"]["message"]
    assert re.match(r"spend limit reached \(daily; resets \d{4}-\d\d-\d\d \d\d:\d\d UTC\) ", msg), msg
    assert msg.endswith(OPERATOR), msg


def test_spend_limit_bedrock_route(srv, mock):
    tag = str(time.time_ns())
    key = key_for(srv, user_id="brock-" + tag)
    s, _, _ = call(srv, SL, {"scope": {"type": "user", "user_id": "brock-" + tag},
                             "amount": "0", "period": "daily"})
    assert s == 200
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]}
    s, h, b = curl(srv.url + "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
                   method="POST", headers=auth(key), data=body)
    o = json.loads(b)
    assert s == 429 and h.get("x-should-retry") == "false" and "x-amzn-errortype" in h, (s, h)
    # the AWS shape: a top-level message, with the same words
    assert o["message"].startswith("spend limit reached (daily; resets "), o
    assert o["message"].endswith(OPERATOR), o
