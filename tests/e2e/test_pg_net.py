"""The way to PostgreSQL: TLS with sslmode=verify-full against a CA made
here with openssl, and PgBouncer in transaction pooling mode (where no
session state may cross a transaction: MASKGATE_DB_PREPARED=0)."""
import json
import os
import pwd
import random
import shutil
import subprocess
import time

import harness
import pg
from harness import auth, curl

MODEL = "claude-sonnet-4-5"


def ask(srv, text):
    return curl(srv.url + "/v1/messages", method="POST", headers=auth(srv.master), data={
        "model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": text}]})


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    """A CA (name.crt, name.key) in d."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=maskgate test CA %s" % name, "-keyout", name + ".key", "-out", name + ".crt",
            cwd=d)


def standalone_pg_tls_verify_full(mock):
    d = harness.tmpdir("mg-pgtls-")
    make_ca(d, "ca")
    make_ca(d, "other")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
            "server.key", "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)
    cluster = pg.Cluster(ssl=True).init()
    for name in ("server.crt", "server.key"):
        dst = os.path.join(cluster.data, name)
        shutil.copy(os.path.join(d, name), dst)
        os.chmod(dst, 0o600)
        if cluster.user:
            pw = pwd.getpwnam(cluster.user)
            os.chown(dst, pw.pw_uid, pw.pw_gid)
    cluster.start()
    db = cluster.new_database()
    good = cluster.url(db, host="localhost",
                       extra="?sslmode=verify-full&sslrootcert=%s/ca.crt" % d)
    srv = harness.Lighttpd(mock, MASKGATE_DB=good).start()
    s, _, b = ask(srv, "over tls i-0123456789abcdef0")
    assert s == 200, b
    assert cluster.psql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                        "USING (pid) WHERE a.usename = 'maskgate' AND s.ssl", db) != "0"
    srv.stop()
    # a server certificate from another CA is refused; so is plain TCP
    for bad in (cluster.url(db, host="localhost",
                            extra="?sslmode=verify-full&sslrootcert=%s/other.crt" % d),
                cluster.url(db, extra="?sslmode=disable")):
        env = dict(srv.env, MASKGATE_DB=bad)
        p = subprocess.run([harness.CLI, "stats"], env=dict(os.environ, **env),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "cannot connect" in p.stderr, p.stderr
        assert cluster.password not in p.stderr, p.stderr


def standalone_pg_pgbouncer_transaction_pooling(mock):
    if shutil.which("pgbouncer") is None:
        raise harness.Skip("pgbouncer not installed (make deps)")
    cluster = pg.shared()
    db = cluster.new_database()
    d = harness.tmpdir("mg-pgbouncer-")
    port = harness.free_port()
    with open(os.path.join(d, "users.txt"), "w") as f:
        f.write('"maskgate" "%s"\n' % cluster.password)
    with open(os.path.join(d, "pgbouncer.ini"), "w") as f:
        f.write("""[databases]
* = host=127.0.0.1 port=%d
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
ignore_startup_parameters = options
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
""" % (cluster.port, port, d, d, d))
    argv = ["pgbouncer", os.path.join(d, "pgbouncer.ini")]
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for name in os.listdir(d):
            os.chown(os.path.join(d, name), pw.pw_uid, pw.pw_gid)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        argv = ["runuser", "-u", "postgres", "--"] + argv
    harness.spawn(argv, log=os.path.join(d, "stdout.log"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            import socket
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    url = "postgresql://maskgate:%s@127.0.0.1:%d/%s" % (cluster.password, port, db)
    # one server connection shared by every worker, transaction by transaction
    srv = harness.LighttpdPool(mock, MASKGATE_DB=url, MASKGATE_DB_PREPARED=0).start()
    r = random.Random(9)
    vals = ["i-0%016x" % r.getrandbits(64) for _ in range(6)]
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        got = list(ex.map(lambda i: ask(srv, "pooled %s %s" % (vals[i % 6], vals[(i + 1) % 6])),
                          range(24)))
    assert all(s == 200 for s, _, _ in got), [(s, b[:200]) for s, _, b in got if s != 200]
    placeholders = {}
    for rec in mock.requests:
        words = json.loads(rec.body)["messages"][0]["content"].split()
        if words[0] == "pooled":
            for v, ph in zip((0, 1), words[1:]):
                placeholders.setdefault(ph, 0)
    assert len(placeholders) == 6, placeholders
    assert cluster.psql("SELECT count(*) FROM mask_map", db) == "6"
