"""PostgreSQL faults: the server restarted under load, a connection killed
mid-transaction, a statement timeout, a database that is down when
maskgate starts. Every request fails closed (503 in the Anthropic envelope,
nothing unmasked upstream) and maskgate recovers without a restart.
(A worker SIGKILLed holding a parallel-slot lease: test_faults.py's
standalone_worker_sigkill_mid_request in the MG_E2E_DB=pg pass.)"""
import random
import subprocess
import threading
import time

import harness
import pg
from harness import assert_envelope, auth, curl

MODEL = "claude-sonnet-4-5"


def ask(srv, vals, timeout=30):
    return curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data={
        "model": MODEL, "max_tokens": 32,
        "messages": [{"role": "user", "content": "check " + " ".join(vals)}]}, timeout=timeout)


def fresh(r, n):
    return ["i-0%016x" % r.getrandbits(64) for _ in range(n)]


def assert_not_upstream(mock, vals):
    raw = mock.all_bytes()
    for v in vals:
        assert v.encode() not in raw, "upstream saw " + v


def until_ok(srv, r, seconds=20):
    deadline = time.time() + seconds
    while True:
        s, _, b = ask(srv, fresh(r, 2))
        if s == 200 or time.time() > deadline:
            return s, b
        time.sleep(0.3)


def own_cluster():
    return pg.Cluster().init().start()


def standalone_pg_restart_under_load(mock):
    cluster = own_cluster()
    srv = harness.Lighttpd(mock, MASKGATE_DB=cluster.url(cluster.new_database())).start()
    r = random.Random(1)
    stop = threading.Event()
    outcomes, sent, lock = {}, [], threading.Lock()

    def load():
        rr = random.Random(2)
        while not stop.is_set():
            vals = fresh(rr, 3)
            with lock:
                sent.extend(vals)
            try:
                s, _, b = ask(srv, vals, timeout=20)
            except Exception:  # noqa: BLE001 - counted
                s, b = -1, b""
            with lock:
                outcomes[s] = outcomes.get(s, 0) + 1
            if s == 503:
                assert_envelope(b)
    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        cluster.stop("fast")
        time.sleep(2.0)
        s, _, b = ask(srv, fresh(r, 2))
        assert s == 503, (s, b[:300])
        assert_envelope(b)
        cluster.start()
        s, b = until_ok(srv, r)
        assert s == 200, (s, b[:300])
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    print("# outcomes during the restart: %s" % outcomes)
    assert outcomes.get(503, 0) > 0 and outcomes.get(200, 0) > 0, outcomes
    assert set(outcomes) <= {200, 503}, outcomes
    assert_not_upstream(mock, sent)
    log = srv.read_log()
    assert cluster.password not in log


def standalone_pg_terminate_backend_mid_transaction(mock):
    cluster = own_cluster()
    db = cluster.new_database()
    srv = harness.Lighttpd(mock, MASKGATE_DB=cluster.url(db), MASKGATE_MAX_NEW_MAPPINGS=0).start()
    r = random.Random(3)
    assert ask(srv, fresh(r, 1))[0] == 200
    stop = threading.Event()
    killed = [0]

    def killer():
        while not stop.is_set():
            out = cluster.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE usename = 'maskgate' AND state LIKE '%%transaction%%'")
            killed[0] += int(out or 0)
            time.sleep(0.01)
    t = threading.Thread(target=killer)
    t.start()
    outcomes, sent = {}, []
    try:
        for i in range(12):
            vals = fresh(r, 400)
            sent.extend(vals)
            s, _, b = ask(srv, vals)
            outcomes[s] = outcomes.get(s, 0) + 1
            if s != 200:
                assert s == 503, (s, b[:300])
                assert_envelope(b)
    finally:
        stop.set()
        t.join(10)
    print("# %d backends killed in a transaction; outcomes %s" % (killed[0], outcomes))
    assert killed[0] > 0 and outcomes.get(503, 0) > 0, (killed, outcomes)
    assert_not_upstream(mock, sent)
    s, b = until_ok(srv, r)
    assert s == 200, (s, b[:300])
    # nothing half-written: every mapping row has its recall sequence
    assert cluster.psql("SELECT count(*) FROM mask_map WHERE seq IS NULL", db) == "0"


def standalone_pg_statement_timeout(mock):
    cluster = own_cluster()
    db = cluster.new_database()
    srv = harness.Lighttpd(mock, MASKGATE_DB=cluster.url(db), MASKGATE_BUSY_TIMEOUT_MS=800).start()
    r = random.Random(4)
    assert ask(srv, fresh(r, 1))[0] == 200
    # another session holds the counter table: minting must wait, then give up
    argv = ["psql", "-X", "-q", "-h", cluster.sock, "-p", str(cluster.port), "-U", "postgres",
            "-d", db]
    if cluster.user:
        argv = ["runuser", "-u", cluster.user, "--"] + argv
    holder = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE mask_counter IN ACCESS EXCLUSIVE MODE;\n"
                           "\\echo locked\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        vals = fresh(r, 2)
        t0 = time.time()
        s, _, b = ask(srv, vals)
        took = time.time() - t0
        assert s == 503, (s, b[:300])
        assert_envelope(b)
        assert took < 10, took
        assert_not_upstream(mock, vals)
    finally:
        holder.stdin.write("ROLLBACK;\n\\q\n")
        holder.stdin.flush()
        holder.wait(10)
    s, b = until_ok(srv, r)
    assert s == 200, (s, b[:300])


def standalone_pg_down_at_startup(mock):
    cluster = own_cluster()
    url = cluster.url(cluster.new_database())
    cluster.stop()
    srv = harness.Lighttpd(mock, MASKGATE_DB=url).start()
    r = random.Random(6)
    vals = fresh(r, 2)
    s, _, b = ask(srv, vals)
    assert s == 503, (s, b[:300])
    assert_envelope(b)
    s, _, b = curl(srv.url + "/health/readiness")
    assert s == 503, (s, b[:300])
    log = srv.read_log()
    lines = [ln for ln in log.splitlines() if "cannot connect to PostgreSQL" in ln]
    assert lines, log[-2000:]
    assert "maskgate@127.0.0.1:%d/" % cluster.port in lines[0], lines[0]
    assert cluster.password not in log
    # the database comes back: no restart needed, migrations run then
    cluster.start()
    s, b = until_ok(srv, r)
    assert s == 200, (s, b[:300])
    assert_not_upstream(mock, vals)
    s, _, b = curl(srv.url + "/health/readiness")
    assert s == 200, (s, b[:300])


def standalone_pg_doctor_hides_password(mock):
    cluster = pg.shared()
    url = cluster.url(cluster.new_database())
    env = dict(harness.maskgate_env(harness.tmpdir(), mock.url), MASKGATE_DB=url)
    p = subprocess.run([harness.CLI, "doctor", "--offline"], env=env, capture_output=True,
                       text=True, timeout=60)
    out = p.stdout + p.stderr
    assert "PostgreSQL maskgate@127.0.0.1:%d/" % cluster.port in out, out
    assert cluster.password not in out, out
    bad = dict(env, MASKGATE_DB=url.replace(cluster.password, "wrong-secret-pw"))
    p = subprocess.run([harness.CLI, "doctor", "--offline"], env=bad, capture_output=True,
                       text=True, timeout=60)
    out = p.stdout + p.stderr
    assert "wrong-secret-pw" not in out and "database" in out and p.returncode != 0, out
    # a connection string libpq cannot parse: its error quotes the bad piece
    broken = dict(env, MASKGATE_DB=url.replace(cluster.password, "sec%zzret-pw"))
    for argv in (["doctor", "--offline"], ["stats"]):
        p = subprocess.run([harness.CLI] + argv, env=broken, capture_output=True, text=True,
                           timeout=60)
        out = p.stdout + p.stderr
        assert "zzret" not in out and "not a valid PostgreSQL connection string" in out, out
