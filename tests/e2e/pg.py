"""A private PostgreSQL cluster for the end-to-end tests: initdb in a temp
directory, pg_ctl, a Unix socket in that directory and a loopback port, no
system service. As root the server runs as the `postgres` account (initdb
refuses root). Every cluster started here is stopped by stop_all() (and at
exit), on failure too.

Used by run.py when MG_E2E_DB=pg (every maskgate of the run gets its own
database in one shared cluster) and by the PostgreSQL-only tests.
"""
import atexit
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time

import harness


def pg_bindir():
    """Debian's versioned server binaries (initdb, pg_ctl, postgres)."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


def available():
    return pg_bindir() is not None


_clusters = []


class Cluster:
    """One PostgreSQL server. url(db) gives a connection string with the
    password of role `maskgate` (SCRAM over TCP); psql() runs SQL as the
    superuser over the Unix socket."""

    def __init__(self, port=None, ssl=False, conf=""):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise harness.Skip("PostgreSQL server not installed (make deps)")
        self.dir = tempfile.mkdtemp(prefix="mg-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.mkdir(self.sock)
        self.port = port or harness.free_port()
        self.password = "pw-" + secrets.token_hex(12)
        self.ssl = ssl
        self.extra_conf = conf
        self.user = None
        self.started = False
        self.ndb = 0
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            for d in (self.dir, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        _clusters.append(self)

    def _run(self, argv, check=True, **kw):
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **kw)

    def bin(self, name):
        return os.path.join(self.bindir, name)

    def init(self):
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([self.bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                   "--no-sync", "-E", "UTF8", "--locale=C"])
        os.unlink(pwfile)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nmax_connections = 200\nshared_buffers = 32MB\n"
                    "max_prepared_transactions = 0\nlog_min_messages = warning\n"
                    "password_encryption = 'scram-sha-256'\n%s\n"
                    % (self.port, self.sock, self.extra_conf))
            if self.ssl:
                f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\nlocal all all scram-sha-256\n")
            if self.ssl:
                f.write("hostssl all all 127.0.0.1/32 scram-sha-256\n")
            else:
                f.write("host all all 127.0.0.1/32 scram-sha-256\n")
        return self

    def start(self, timeout=30):
        log = os.path.join(self.dir, "server.log")
        if self.user and not os.path.exists(log):
            open(log, "w").close()
            pw = pwd.getpwnam(self.user)
            os.chown(log, pw.pw_uid, pw.pw_gid)
        self._run([self.bin("pg_ctl"), "-D", self.data, "-l", log, "-w", "-t", str(timeout),
                   "start"])
        self.started = True
        # the server outlives single tests: the leftover check spares its tree
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        harness.keep_trees.add(self.pid)
        if not getattr(self, "_role", False):
            self.psql("CREATE ROLE maskgate LOGIN PASSWORD '%s'" % self.password)
            self._role = True
        return self

    def stop(self, mode="fast"):
        if self.started:
            self._run([self.bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "30", "stop"],
                      check=False)
            self.started = False
            harness.keep_trees.discard(self.pid)
            harness.reap()

    def restart(self):
        self.stop()
        self.start()

    def psql(self, sql, db="postgres"):
        """Runs sql as the superuser; returns stdout (tuples only, | separated)."""
        p = self._run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                       "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql], check=False)
        if p.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql, p.stdout))
        return p.stdout.strip()

    def new_database(self, name=None):
        self.ndb += 1
        name = name or "mg_%d_%s" % (self.ndb, secrets.token_hex(3))
        self.psql('CREATE DATABASE "%s" OWNER maskgate' % name)
        return name

    def url(self, db, host="127.0.0.1", extra=""):
        return "postgresql://maskgate:%s@%s:%d/%s%s" % (self.password, host, self.port, db, extra)

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_all():
    while _clusters:
        _clusters.pop().cleanup()


atexit.register(stop_all)

_shared = []


def shared():
    """The run's cluster (started on first use)."""
    if not _shared:
        _shared.append(Cluster().init().start())
    return _shared[0]


def enabled():
    """Whether this run puts every maskgate on PostgreSQL (MG_E2E_DB=pg)."""
    return os.environ.get("MG_E2E_DB", "sqlite") == "pg"


def sqlite_only():
    """Called first by a test that inspects or breaks the SQLite file itself."""
    if enabled():
        raise harness.Skip("SQLite file test (this pass runs on PostgreSQL)")


def database_bytes(target):
    """Everything the store holds, as bytes: the SQLite file and its -wal and
    -shm, or a pg_dump of the PostgreSQL database target names."""
    if not target.startswith("postgresql://"):
        data = b""
        for f in glob.glob(target + "*"):
            with open(f, "rb") as fh:
                data += fh.read()
        return data
    c = shared()
    db = target.rsplit("/", 1)[1].split("?")[0]
    p = c._run([c.bin("pg_dump"), "-h", c.sock, "-p", str(c.port), "-U", "postgres", db])
    return p.stdout.encode()
