"""bin/maskgate migrate: a store copied SQLite -> PostgreSQL -> SQLite comes
back row for row, and maskgate on the copy restores placeholders minted
before the move and accepts the keys made before it."""
import json
import os
import random
import sqlite3
import subprocess

import harness
import pg
from harness import auth, curl, message_reply

MODEL = "claude-sonnet-4-5"


def migrate(env, src, dst):
    return subprocess.run([harness.CLI, "migrate", "--from", src, "--to", dst], env=env,
                          capture_output=True, text=True, timeout=120)


def rows(path):
    """{table: sorted rows} of a SQLite store (in-flight slots left out)."""
    con = sqlite3.connect(path)
    try:
        out = {}
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                "AND name NOT LIKE 'sqlite_%' AND name != 'vkey_slot'"):
            out[t] = sorted(con.execute('SELECT * FROM "%s"' % t).fetchall(), key=repr)
        return out
    finally:
        con.close()


def standalone_migrate_round_trip(mock):
    cluster = pg.shared()
    d = harness.tmpdir("mg-migrate-")
    first = os.path.join(d, "first.db")
    back = os.path.join(d, "back.db")
    srv = harness.Lighttpd(mock, MASKGATE_DB=first).start()
    env = dict(os.environ, **srv.env)
    try:
        s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                       data={"key_alias": "moved", "max_budget": 5})
        assert s == 200, b
        vkey = json.loads(b)["key"]
        r = random.Random(7)
        values = ["i-0%016x" % r.getrandbits(64) for _ in range(5)]
        s, _, b = curl(srv.url + "/v1/messages", method="POST", headers=auth(vkey), data={
            "model": MODEL, "max_tokens": 32,
            "messages": [{"role": "user", "content": "check " + " ".join(values)}]})
        assert s == 200, b
        sent = mock.last().body.decode()
        for v in values:
            assert v not in sent
        placeholders = [w for w in json.loads(sent)["messages"][0]["content"].split()[1:]]
        assert len(placeholders) == 5, sent
    finally:
        srv.stop()

    url = cluster.url(cluster.new_database())
    p = migrate(env, first, url)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mask_map" in p.stdout and cluster.password not in p.stdout + p.stderr, p.stdout
    # into a store that is not empty: refused, nothing changed
    p2 = migrate(env, first, url)
    assert p2.returncode != 0 and "already holds" in p2.stderr, p2.stdout + p2.stderr

    # maskgate on the copy: the old key works and the old placeholders restore
    srv2 = harness.Lighttpd(mock, **{k: v for k, v in srv.env.items()
                                     if k in ("MASKGATE_MASTER_KEY", "MASKGATE_DATA_KEY")},
                            MASKGATE_DB=url).start()
    try:
        mock.script.append(message_reply("seen " + " ".join(placeholders)))
        s, _, b = curl(srv2.url + "/v1/messages", method="POST", headers=auth(vkey), data={
            "model": MODEL, "max_tokens": 32,
            "messages": [{"role": "user", "content": "again " + " ".join(values)}]})
        assert s == 200, b
        text = json.loads(b)["content"][0]["text"]
        assert text == "seen " + " ".join(values), text
        # the same values get the same placeholders as before the move
        assert json.loads(mock.last().body)["messages"][0]["content"].split()[1:] == placeholders
    finally:
        srv2.stop()

    # and back: the same rows as at the start (plus what srv2 added)
    before = rows(first)
    p = migrate(env, url, back)
    assert p.returncode == 0, p.stdout + p.stderr
    after = rows(back)
    for t in ("mask_map", "mask_counter", "master_key", "vkey_grace"):
        assert after.get(t) == before.get(t), (t, before.get(t), after.get(t))
    assert len(after["audit_log"]) >= len(before["audit_log"])
    assert after["vkey"][0][:3] == before["vkey"][0][:3]
    # spend and audit rows keep their ids; the second request added one spend row
    assert [r[0] for r in after["spend_log"]][:len(before["spend_log"])] == \
        [r[0] for r in before["spend_log"]]
    assert len(after["spend_log"]) == len(before["spend_log"]) + 1
