"""Byte-faithful forwarding: the body upstream receives is the client's own
bytes, except the string literals masking changed and the fields policy
changed (model alias, max_tokens clamp); duplicate object keys are refused."""
import json

from harness import assert_envelope, auth, curl

INSTANCE = "i-0a1b2c3d4e5f67890"

PRETTY = ('{\n  "model" : "claude-sonnet-4-5-20250929",\n  "max_tokens":  1024 ,\n'
          '  "temperature": -0,\n  "top_p": 1.50,\n  "metadata": {"user_id": "u\\u0031", "n": 1E2},\n'
          '  "messages": [\n    {\n      "role": "user",\n'
          '      "content": "caf\\u00e9 \\/ \\ud83d\\ude00 \\"quoted\\"\\tPLACE"\n    }\n  ]\n}\n')


def post(srv, body):
    return curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data=body.encode())


def test_unmasked_body_arrives_byte_identical(srv, mock):
    body = PRETTY.replace("PLACE", "nothing to mask here")
    s, _, b = post(srv, body)
    assert s == 200, b
    assert mock.last().body == body.encode(), mock.last().body


def test_only_the_masked_literal_changes(srv, mock):
    body = PRETTY.replace("PLACE", "host " + INSTANCE)
    s, _, b = post(srv, body)
    assert s == 200, b
    sent = mock.last().body.decode()
    assert INSTANCE not in sent
    content = json.loads(sent)["messages"][0]["content"]
    ph = content.split("host ")[1]
    assert ph.startswith("AWS_EC2_"), content
    # the literal is written anew (json-c's escapes); every other byte is the client's
    start = PRETTY.index('"caf')
    end = PRETTY.index('PLACE"') + len('PLACE"')
    assert sent[:start] == body[:start] and sent.endswith(PRETTY[end:]), sent
    assert json.loads(sent[start:len(sent) - len(PRETTY) + end]) == "caf\u00e9 / \U0001F600 \"quoted\"\thost " + ph


def test_policy_fields_change_alone(srv, mock):
    body = ('{ "model": "claude-3-haiku-20240307",\n "max_tokens" : 8192,\n'
            ' "messages": [ {"role": "user", "content": "x\\u0020y"} ], "temperature": -0 }')
    s, _, b = post(srv, body)
    assert s == 200, b
    assert mock.last().body == body.replace("8192", "4096").encode(), mock.last().body


def test_duplicate_keys_refused(srv, mock):
    for body in ('{"model":"claude-sonnet-4-5","max_tokens":5,"max_tokens":6,"messages":[]}',
                 '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user",'
                 '"content":[{"type":"text","text":"a","t\\u0065xt":"b"}]}]}'):
        s, _, b = post(srv, body)
        assert s == 400, (s, b)
        assert_envelope(b, "invalid_request_error")
        assert b"duplicate object key" in b, b
    assert not mock.requests
