"""Bounded retry of the admission, mint and settlement transactions on
PostgreSQL. A trigger made here raises a real serialisation failure
(SQLSTATE 40001) in the first N attempts of the statement it guards; a
sequence (which a rollback does not undo) counts the attempts. Under the
bound the request succeeds; past it admission fails closed (503 in the
Anthropic envelope, nothing forwarded) and settlement is logged and
counted in maskgate_settle_failures_total."""
import json
import os
import subprocess
import threading
import time

import harness
import pg
from harness import assert_envelope, auth, curl

MODEL = "claude-sonnet-4-5"
RETRIES = 6  # STORE_RETRIES in common/store_int.h


def setup_faults(cluster, db, table, when="true"):
    """Guards INSERTs into table: the attempt fails with 40001 while the
    number of attempts so far is at most mg_fault.fails."""
    cluster.psql("""
CREATE SEQUENCE mg_attempts;
CREATE TABLE mg_fault (fails bigint NOT NULL);
INSERT INTO mg_fault VALUES (0);
CREATE FUNCTION mg_conflict() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF nextval('mg_attempts') <= (SELECT fails FROM mg_fault) THEN
    RAISE EXCEPTION 'injected conflict' USING ERRCODE = '40001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER mg_conflict BEFORE INSERT ON %s FOR EACH ROW WHEN (%s)
  EXECUTE FUNCTION mg_conflict();
""" % (table, when), db)


def arm(cluster, db, fails):
    """The next `fails` attempts conflict; returns nothing."""
    cluster.psql("SELECT setval('mg_attempts', 1, false); UPDATE mg_fault SET fails = %d"
                 % fails, db)


def attempts(cluster, db):
    out = cluster.psql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                       "FROM mg_attempts", db)
    return int(out)


def generate(srv, **fields):
    s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master),
                   data=fields)
    assert s == 200, (s, b)
    return json.loads(b)["key"]


def ask(srv, key, text="hello"):
    return curl(srv.url + "/v1/messages", method="POST", headers=auth(key), data={
        "model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": text}]})


def start(mock, workers=2):
    cluster = pg.shared()
    db = cluster.new_database()
    srv = harness.LighttpdPool(mock, MASKGATE_DB=cluster.url(db))
    srv.workers = workers
    return cluster, db, srv.start()


def standalone_pg_retry_admission(mock):
    cluster, db, srv = start(mock)
    # a key with a parallel limit: admission inserts its slot (vkey_slot)
    key = generate(srv, max_parallel_requests=4)
    setup_faults(cluster, db, "vkey_slot")
    arm(cluster, db, 2)
    s, _, b = ask(srv, key, "retried admission")
    assert s == 200, (s, b[:300])
    assert attempts(cluster, db) == 3, attempts(cluster, db)
    assert b"retried admission" in mock.all_bytes()
    # past the bound: fails closed after exactly RETRIES attempts
    mock.reset()
    arm(cluster, db, 1000)
    s, _, b = ask(srv, key, "never forwarded")
    assert s == 503, (s, b[:300])
    assert_envelope(b, "api_error")
    assert attempts(cluster, db) == RETRIES, attempts(cluster, db)
    assert b"never forwarded" not in mock.all_bytes()
    assert "still conflicting after %d attempts" % RETRIES in srv.read_log()
    # and it works again once the conflicts stop
    arm(cluster, db, 0)
    s, _, b = ask(srv, key, "after")
    assert s == 200, (s, b[:300])


def psql_session(cluster, db):
    """An interactive superuser psql the test drives line by line."""
    argv = ["psql", "-X", "-q", "-At", "-h", cluster.sock, "-p", str(cluster.port), "-U",
            "postgres", "-d", db]
    if cluster.user:
        argv = ["runuser", "-u", cluster.user, "--"] + argv
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def say(session, sql, marker="ok"):
    """Runs sql in session; returns its output lines once it has finished."""
    session.stdin.write(sql + "\n\\echo " + marker + "\n")
    session.stdin.flush()
    lines = []
    while True:
        line = session.stdout.readline()
        assert line, "psql ended: %s" % lines
        if line.strip() == marker:
            return lines
        lines.append(line.strip())


def server_log(cluster):
    with open(os.path.join(cluster.dir, "server.log"), errors="replace") as f:
        return f.read()


def standalone_pg_retry_admission_real_deadlock(mock):
    """A true deadlock: admission holds the key's row (FOR UPDATE) and waits
    for vkey_slot, which another session holds while it waits for the key's
    row. PostgreSQL aborts maskgate's transaction (its wait is the older
    one, and the other session checks only after 60 s); the retry waits for
    the other session and the request succeeds."""
    cluster, db, srv = start(mock)
    key = generate(srv, max_parallel_requests=4)
    deadlocks = server_log(cluster).count("deadlock detected")
    holder = psql_session(cluster, db)
    result = {}

    def request():
        result["r"] = ask(srv, key, "after a deadlock")
    t = threading.Thread(target=request)
    try:
        say(holder, "SET deadlock_timeout = '60s'; BEGIN; "
            "LOCK TABLE vkey_slot IN SHARE MODE;")
        t.start()
        deadline = time.time() + 10
        while cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'maskgate' "
                           "AND wait_event_type = 'Lock'", db) == "0":
            assert time.time() < deadline, "admission never waited for vkey_slot"
            time.sleep(0.02)
        # closes the cycle; returns once PostgreSQL aborted maskgate's side
        assert say(holder, "SELECT 1 FROM vkey FOR UPDATE;") == ["1"]
        time.sleep(0.3)
        say(holder, "ROLLBACK;")
    finally:
        holder.stdin.write("ROLLBACK;\n\\q\n")
        holder.stdin.flush()
        holder.wait(10)
        t.join(30)
    s, _, b = result["r"]
    assert s == 200, (s, b[:300])
    assert b"after a deadlock" in mock.all_bytes()
    assert server_log(cluster).count("deadlock detected") > deadlocks


def spend_rows(cluster, db):
    return int(cluster.psql("SELECT count(*) FROM spend_log", db))


def metric(srv, name):
    s, _, b = curl(srv.url + "/metrics", headers=auth(srv.master))
    assert s == 200, (s, b[:300])
    for line in b.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_for(fn, want, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v == want or time.time() > deadline:
            return v
        time.sleep(0.05)


def standalone_pg_retry_settlement(mock):
    # one worker: the failure it counts is added by its own next settlement
    cluster, db, srv = start(mock, workers=1)
    key = generate(srv)
    setup_faults(cluster, db, "spend_log")
    arm(cluster, db, 2)
    s, _, b = ask(srv, key)
    assert s == 200, (s, b[:300])
    assert wait_for(lambda: spend_rows(cluster, db), 1) == 1
    assert attempts(cluster, db) == 3, attempts(cluster, db)
    # past the bound: the response went out, the write is lost loudly
    arm(cluster, db, 1000)
    s, _, b = ask(srv, key)
    assert s == 200, (s, b[:300])
    assert wait_for(lambda: attempts(cluster, db), RETRIES) == RETRIES
    assert wait_for(lambda: "SETTLEMENT LOST" in srv.read_log(), True), srv.read_log()[-2000:]
    assert spend_rows(cluster, db) == 1
    arm(cluster, db, 0)
    s, _, b = ask(srv, key)
    assert s == 200, (s, b[:300])
    assert wait_for(lambda: spend_rows(cluster, db), 2) == 2
    assert wait_for(lambda: metric(srv, "maskgate_settle_failures_total"), 1.0) == 1.0


def standalone_pg_retry_mint(mock):
    """The mint transaction (a value seen for the first time) shares the
    helper: retried under the bound, failing closed past it."""
    cluster, db, srv = start(mock)
    setup_faults(cluster, db, "mask_map")
    arm(cluster, db, 2)
    s, _, b = ask(srv, srv.master, "host i-0aaaaaaaaaaaaaaa1 first")
    assert s == 200, (s, b[:300])
    assert attempts(cluster, db) == 3, attempts(cluster, db)
    assert b"i-0aaaaaaaaaaaaaaa1" not in mock.all_bytes()
    mock.reset()
    arm(cluster, db, 1000)
    s, _, b = ask(srv, srv.master, "host i-0bbbbbbbbbbbbbbb2 second")
    assert s == 503, (s, b[:300])
    assert_envelope(b, "api_error")
    assert attempts(cluster, db) == RETRIES, attempts(cluster, db)
    assert b"i-0bbbbbbbbbbbbbbb2" not in mock.all_bytes() and not mock.requests
