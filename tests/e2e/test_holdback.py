"""Streaming holdback keeps back only a tail that could still become a
placeholder: while the upstream pauses, ordinary text has already reached
the client."""
import json

from harness import Reply, auth, curl_stream, sse_text_events


def deltas(lines):
    out = []
    for t, raw in lines:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            d = json.loads(line[5:])
            if d.get("type") == "content_block_delta":
                out.append((t, d["delta"]["text"]))
    return out


def test_pause_delivers_ordinary_text_at_once(srv, mock):
    # each delta ends in a letter that cannot start a placeholder (the one
    # before it is a letter too), then the upstream pauses 0.6 s
    mock.script.append(Reply("sse", events=sse_text_events(["Hello wor", "ld, it is don", "e now A",
                                                            "WS is fine"]), delay=0.4))
    lines = curl_stream(srv.url + "/v1/messages", headers=auth(srv.master),
                        data={"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]})
    got = deltas(lines)
    texts = [x for _, x in got]
    assert "".join(texts) == "Hello world, it is done now AWS is fine", texts
    # the whole first delta arrived before the second was sent upstream
    assert texts[0] == "Hello wor", texts
    assert texts[1] == "ld, it is don", texts
    # " A" could start a placeholder: only that letter waits for the next delta
    assert texts[2] == "e now ", texts
    assert got[1][0] - got[0][0] > 0.3, got
