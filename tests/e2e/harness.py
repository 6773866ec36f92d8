"""End-to-end harness: real web servers (lighttpd, Apache) in front of the
built maskgate.fcgi, a recording mock Anthropic upstream, and real clients.

Everything runs on 127.0.0.1 with ephemeral ports inside a temp directory;
every process started here is stopped by stop_all(), even on failure.
"""
import atexit
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINDIR = os.path.join(ROOT, os.environ.get("MG_BINDIR", "bin"))
FCGI = os.path.join(BINDIR, "maskgate.fcgi")
CLI = os.path.join(BINDIR, "maskgate")
APACHE_MODULES = "/usr/lib/apache2/modules"


class Skip(Exception):
    """Raised by a test that cannot run on this machine; reported as skipped."""

_procs = []
_tmpdirs = []

# Every process of this run carries RUN_VAR=RUN_TOKEN in its environment when
# it inherits ours; with track_descendants() the runner is also the child
# subreaper, so orphans (a pool worker whose master died, a daemon) come
# back to it instead of PID 1 and stay findable. Other runs on the machine
# have other tokens and other ancestors: leftovers() never sees them.
RUN_VAR = "MG_E2E_RUN"
RUN_TOKEN = secrets.token_hex(8)
os.environ[RUN_VAR] = RUN_TOKEN
PR_SET_CHILD_SUBREAPER = 36


def track_descendants():
    """Makes this process the subreaper of everything it starts. Returns
    whether the kernel agreed."""
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def proc_table():
    """{pid: (ppid, state, cmdline, environ bytes)} of the processes we may read."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    env = f.read()
            except OSError:
                env = b""
        except (OSError, IndexError):
            continue
        table[int(name)] = (int(fields[1]), fields[0], cmd, env)
    return table


# Roots of process trees that outlive single tests on purpose (a test
# database server, see pg.py): the leftover check spares them; whoever
# added a root stops it and removes it.
keep_trees = set()


def run_processes():
    """{pid: command line} of the live (non-zombie) processes this run
    started: descendants of this process and carriers of this run's token,
    except the trees in keep_trees."""
    table = proc_table()
    me = os.getpid()
    children = {}
    for pid, (ppid, _, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)

    def subtree(roots):
        out, todo = set(), list(roots)
        while todo:
            pid = todo.pop()
            if pid not in out:
                out.add(pid)
                todo.extend(children.get(pid, []))
        return out
    mine = subtree(children.get(me, []))
    kept = subtree(keep_trees)
    tag = ("\0%s=%s\0" % (RUN_VAR, RUN_TOKEN)).encode()
    return {pid: cmd for pid, (_, state, cmd, env) in table.items()
            if pid != me and state != "Z" and pid not in kept
            and (pid in mine or tag in b"\0" + env)}


def reap():
    """Collects exited children (orphans adopted as subreaper included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def leftovers(grace=5.0):
    """Processes of this run still alive after grace seconds: {pid: cmdline}.
    Call when nothing should be running (after stop_all())."""
    deadline = time.time() + grace
    while True:
        reap()
        left = run_processes()
        if not left or time.time() >= deadline:
            return left
        time.sleep(0.1)


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    reap()


def _group_alive(pgid):
    """Whether a live (non-zombie) process remains in process group pgid."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _stop_groups(procs, timeout):
    """SIGTERM to each process group, also when its leader is gone (its
    workers may not be); wait for the group to empty; SIGKILL at timeout."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.time() + timeout
    for p in procs:
        while (p.poll() is None or _group_alive(p.pid)) and time.time() < deadline:
            time.sleep(0.05)
        if p.poll() is None or _group_alive(p.pid):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        p.wait()


def stop_all():
    _stop_groups(list(reversed(_procs)), 10)
    _procs.clear()
    if not os.environ.get("MG_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
        _tmpdirs.clear()


atexit.register(stop_all)


def spawn(argv, env=None, log=None, **kw):
    """Starts a process in its own group so stop_all() reaps its children."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    if env is not None:
        env = dict(env, **{RUN_VAR: RUN_TOKEN})
    p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    if log:
        out.close()
    _procs.append(p)
    return p


def tmpdir(prefix="mg-e2e-"):
    d = tempfile.mkdtemp(prefix=prefix)
    # Apache runs maskgate as www-data: it must create the database here
    os.chmod(d, 0o777)
    _tmpdirs.append(d)
    return d


_shared = {}


def www_copy(path):
    """A copy of path (a file in the checkout) that Apache's workers can reach.

    As root, Apache runs maskgate as www-data, which may not be able to enter
    the checkout (a clone under /root or in a 0700 directory). Everything
    Apache executes therefore runs from a 0755 directory of this run: a hard
    link when it is on the same file system, else a copy. Returns the path."""
    d = _shared.get("dir")
    if d is None or not os.path.isdir(d):
        d = tempfile.mkdtemp(prefix="mg-e2e-bin-")
        os.chmod(d, 0o755)
        _tmpdirs.append(d)
        _shared.clear()
        _shared["dir"] = d
    src = os.path.realpath(path)
    if src not in _shared:
        sub = os.path.join(d, str(len(_shared)))
        os.mkdir(sub)
        os.chmod(sub, 0o755)
        dst = os.path.join(sub, os.path.basename(path))
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        _shared[src] = dst
    return _shared[src]


def www_env(env):
    """env with every value that names a file in the checkout replaced by its www_copy()."""
    out = {}
    for k, v in env.items():
        if v.startswith(ROOT + os.sep) and os.path.isfile(v):
            v = www_copy(v)
        out[k] = v
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_key():
    return "sk-" + secrets.token_hex(32)


# ---------------------------------------------------------------- mock upstream

class Recorded:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self):
        return json.loads(self.body)


class Reply:
    """A scripted upstream answer.

    kind: "json" (status, obj), "sse" (events: list of (name, obj|str) with
    `delay` seconds between events), "raw" (bytes as body), "hang"
    (sleep `delay` then close), "hold" (wait up to `delay` for the client to
    close, recording when in Mock.dropped), "reset" (close the socket at once).
    For "sse", `cut_after` stops after that many events; `cut_how` says how:
    None (close), "reset" (TCP RST) or bytes (write them, then close).
    """

    def __init__(self, kind="json", status=200, obj=None, events=None, delay=0.0,
                 headers=None, raw=b"", cut_after=None, cut_how=None):
        self.kind, self.status, self.obj, self.events = kind, status, obj, events
        self.delay, self.headers, self.raw, self.cut_after = delay, headers or {}, raw, cut_after
        self.cut_how = cut_how


def message_reply(text, model="claude-sonnet-4-5", usage=None, content=None):
    return Reply("json", 200, {
        "id": "msg_mock01", "type": "message", "role": "assistant", "model": model,
        "content": content if content is not None else [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5,
                           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }, headers={"request-id": "req_upstream_01", "anthropic-ratelimit-requests-remaining": "99"})


def sse_text_events(pieces, model="claude-sonnet-4-5", usage_out=7):
    """A realistic Messages stream whose text arrives in the given pieces."""
    ev = [("message_start", {"type": "message_start", "message": {
        "id": "msg_mock02", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"})]
    for p in pieces:
        ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": p}}))
    ev += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
           ("message_delta", {"type": "message_delta",
                              "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                              "usage": {"output_tokens": usage_out}}),
           ("message_stop", {"type": "message_stop"})]
    return ev


class Mock:
    """Recording mock of the Anthropic API."""

    def __init__(self):
        self.requests = []
        self.script = []          # Replies consumed in order; then default
        # strict, as the real API: a POST body that is not labelled JSON is
        # refused (a scripted reply is not consumed by the refusal)
        self.strict = True
        self.default = None       # callable(Recorded) -> Reply
        self.dropped = []         # when "hold" replies saw the connection end

        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                rec = Recorded(self.command, self.path,
                               {k.lower(): v for k, v in self.headers.items()}, body)
                with mock.lock:
                    mock.requests.append(rec)
                    if mock.strict and not mock.acceptable(rec):
                        reply = Reply("json", 400, {"type": "error", "error": {
                            "type": "invalid_request_error",
                            "message": "mock (strict): a POST body must be "
                                       "content-type application/json"}})
                    else:
                        reply = mock.script.pop(0) if mock.script else None
                if reply is None:
                    reply = mock.default(rec) if mock.default else mock.auto(rec)
                mock.send(self, reply)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def acceptable(rec):
        if rec.method != "POST":
            return True
        ct = rec.headers.get("content-type", "")
        return ct.split(";")[0].strip().lower() == "application/json"

    def auto(self, rec):
        if rec.path.startswith("/v1/models"):
            return Reply("json", 200, {"data": [{"type": "model", "id": "claude-sonnet-4-5",
                                                 "display_name": "Claude Sonnet 4.5"}],
                                       "has_more": False})
        if rec.path.startswith("/v1/messages/count_tokens"):
            return Reply("json", 200, {"input_tokens": len(rec.body) // 4})
        if rec.method == "POST" and rec.path.startswith("/v1/messages"):
            body = json.loads(rec.body or b"{}")
            text = "echo: " + json.dumps(body.get("messages", []))[:2000]
            if body.get("stream"):
                return Reply("sse", events=sse_text_events([text[:10], text[10:]]))
            return message_reply(text)
        return Reply("json", 404, {"type": "error", "error": {"type": "not_found_error",
                                                             "message": "mock: no route"}})

    def send(self, h, r):
        if r.kind == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            h.connection.close()
            h.close_connection = True
            return
        if r.kind == "hang":
            time.sleep(r.delay)
            h.close_connection = True
            return
        if r.kind == "hold":
            # answer nothing for up to `delay` seconds, noting when the
            # client (maskgate) closes the connection
            deadline = time.time() + r.delay
            h.connection.settimeout(0.1)
            while time.time() < deadline:
                try:
                    if h.connection.recv(1, socket.MSG_PEEK) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            with self.lock:
                self.dropped.append(time.time())
            h.close_connection = True
            return
        if r.kind == "sse":
            h.send_response(r.status)
            h.send_header("content-type", "text/event-stream; charset=utf-8")
            h.send_header("cache-control", "no-cache")
            h.send_header("connection", "close")
            for k, v in r.headers.items():
                h.send_header(k, v)
            h.end_headers()
            for i, (name, obj) in enumerate(r.events):
                if r.cut_after is not None and i >= r.cut_after:
                    if r.cut_how == "reset":
                        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        h.connection.close()
                    elif isinstance(r.cut_how, bytes):
                        try:
                            h.wfile.write(r.cut_how)
                            h.wfile.flush()
                        except OSError:
                            pass
                    break
                data = obj if isinstance(obj, str) else json.dumps(obj)
                try:
                    h.wfile.write(("event: %s\ndata: %s\n\n" % (name, data)).encode())
                    h.wfile.flush()
                except OSError:
                    return
                if r.delay:
                    time.sleep(r.delay)
            h.close_connection = True
            return
        body = r.raw if r.kind == "raw" else json.dumps(r.obj).encode()
        h.send_response(r.status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        for k, v in r.headers.items():
            h.send_header(k, v)
        h.end_headers()
        if r.delay:
            time.sleep(r.delay)
        if h.command != "HEAD":
            h.wfile.write(body)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()
            self.dropped.clear()
        self.default = None
        self.strict = True

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def all_bytes(self):
        """Everything the upstream received, for leak scans."""
        with self.lock:
            return b"\n".join(r.path.encode() + b"\n" + json.dumps(r.headers).encode()
                              + b"\n" + r.body for r in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- maskgate config

def maskgate_env(dirpath, upstream_url, **extra):
    env = {
        "MASKGATE_MASTER_KEY": new_key(),
        "MASKGATE_DATA_KEY": secrets.token_hex(32),
        "MASKGATE_DB": os.path.join(dirpath, "var", "maskgate.db"),
        "MASKGATE_UPSTREAM_URL": upstream_url,
        "MASKGATE_UPSTREAM_API_KEY": "sk-ant-upstream-test-" + secrets.token_hex(8),
        "MASKGATE_LOG_LEVEL": "info",
    }
    if os.environ.get("MG_E2E_DB") == "pg" and "MASKGATE_DB" not in extra:
        # the PostgreSQL pass: a database of its own in the run's cluster
        import pg
        cluster = pg.shared()
        env["MASKGATE_DB"] = cluster.url(cluster.new_database())
        # this host's lock files (Claude Code run slots): not next to a database file
        env["MASKGATE_RUN_DIR"] = os.path.join(dirpath, "run")
    env.update({k: str(v) for k, v in extra.items()})
    return env


# ---------------------------------------------------------------- web servers

class Server:
    kind = "?"

    def __init__(self, mock, **extra_env):
        self.dir = tmpdir("mg-%s-" % self.kind)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.env = maskgate_env(self.dir, mock.url, **extra_env)
        self.master = self.env["MASKGATE_MASTER_KEY"]
        self.log = os.path.join(self.dir, "server.log")
        self.procs = []

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                s, _, _ = curl(self.url + "/health/liveliness", timeout=5)
                if s == 200:
                    return
                last = s
            except Exception as e:  # noqa: BLE001 - keep polling
                last = e
            time.sleep(0.1)
        raise RuntimeError("%s did not start (%s); log:\n%s" % (self.kind, last, self.read_log()[-3000:]))

    def read_log(self):
        out = ""
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
        return out

    def worker_pids(self):
        """maskgate.fcgi processes serving this server's database (never
        the pool's master, which serves nothing)."""
        tag = ("\0MASKGATE_DB=%s\0" % self.env["MASKGATE_DB"]).encode()
        master = self.pool.pid if getattr(self, "pool", None) else None
        return sorted(pid for pid, (_, state, cmd, env) in proc_table().items()
                      if state != "Z" and os.path.basename(cmd.split(" ")[0]) == "maskgate.fcgi"
                      and tag in b"\0" + env and pid != master)

    def cli_argv(self):
        """argv that runs the maskgate CLI as the account owning this
        server's database: www-data under Apache as root, from a copy that
        account can reach (see www_copy)."""
        if os.geteuid() == 0 and self.kind == "apache":
            return ["runuser", "-u", "www-data", "--", www_copy(CLI)]
        return [CLI]

    def stop(self):
        _stop_groups(self.procs, 15)


def _lighttpd_env_block(env):
    return ",\n".join('        "%s" => "%s"' % (k, v.replace('"', '\\"')) for k, v in env.items())


class Lighttpd(Server):
    """lighttpd spawning maskgate.fcgi itself (bin-path): fd 0 mode."""
    kind = "lighttpd"

    def backend(self):
        return """(( "bin-path" => "%s",
      "socket" => "%s/fcgi.sock",
      "max-procs" => 2,
      "check-local" => "disable",
      "bin-copy-environment" => ("PATH"),
      "bin-environment" => (
%s
      ) ))""" % (FCGI, self.dir, _lighttpd_env_block(self.env))

    def start(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write("""server.modules = ("mod_fastcgi")
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd-error.log"
server.stream-response-body = 2
server.stream-request-body = 0
server.max-request-size = 65536
fastcgi.server = ( "/" => %s )
""" % (self.port, www, self.dir, self.backend()))
        self.procs.append(spawn(["lighttpd", "-D", "-f", conf], log=os.path.join(self.dir, "stdout.log")))
        self.wait_ready()
        return self


class LighttpdPool(Lighttpd):
    """lighttpd connecting to maskgate's own pre-fork pool (socket mode)."""
    kind = "lighttpd-pool"
    workers = 2

    def backend(self):
        return """(( "socket" => "%s/pool.sock", "check-local" => "disable" ))""" % self.dir

    def start(self):
        env = dict(os.environ)
        env = {k: v for k, v in env.items() if not k.startswith("MASKGATE_")}
        env.update(self.env)
        self.pool = spawn([FCGI, "--listen", "unix:%s/pool.sock" % self.dir, "--workers", str(self.workers)],
                          env=env, log=os.path.join(self.dir, "pool.log"))
        self.procs.append(self.pool)
        deadline = time.time() + 10
        while not os.path.exists("%s/pool.sock" % self.dir) and time.time() < deadline:
            time.sleep(0.05)
        return super().start()


LIBPCRE1 = "/usr/lib/x86_64-linux-gnu/libpcre.so.3"


def apache_conf(d, port, mods, body):
    """Writes d/apache.conf: the modules, a loopback Listen, runtime files in
    d, workers as www-data when root, then body. Returns its path."""
    user = ""
    if os.geteuid() == 0:
        pwd.getpwnam("www-data")
        user = "User www-data\nGroup www-data\n"
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        # Debian's mod_qos needs the old PCRE loaded first
        if "qos" in mods and os.path.exists(LIBPCRE1):
            f.write("LoadFile %s\n" % LIBPCRE1)
        f.write("\n".join("LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m)
                          for m in mods))
        f.write("""
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
%(user)sPidFile %(dir)s/apache.pid
DefaultRuntimeDir %(dir)s
Mutex file:%(dir)s default
ErrorLog %(dir)s/apache-error.log
LogLevel warn
Define APACHE_LOG_DIR %(dir)s
%(body)s
""" % {"port": port, "user": user, "dir": d, "body": body})
    return conf


class Apache(Server):
    """Apache 2.4 with mod_fcgid, as an admin would configure it."""
    kind = "apache"

    def start(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "fcgid"), exist_ok=True)
        os.chmod(os.path.join(self.dir, "fcgid"), 0o777)
        env_lines = "\n".join('FcgidInitialEnv %s "%s"' % (k, v) for k, v in www_env(self.env).items())
        fcgi = www_copy(FCGI)
        conf = apache_conf(self.dir, self.port, ["mpm_event", "authz_core", "authz_host", "alias",
                                                 "fcgid"], """DocumentRoot %(www)s
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
FcgidIPCDir %(dir)s/fcgid
FcgidProcessTableFile %(dir)s/fcgid/shm
FcgidOutputBufferSize 0
FcgidMaxRequestLen 67108864
FcgidIOTimeout 600
FcgidBusyTimeout 900
FcgidMaxProcessesPerClass 4
FcgidMinProcessesPerClass 0
FcgidConnectTimeout 20
AllowEncodedSlashes NoDecode
%(env)s
AliasMatch "^/(.*)$" "%(fcgi)s/$1"
<Directory "%(bindir)s">
    Options +ExecCGI
    SetHandler fcgid-script
    CGIPassAuth On
    Require all granted
</Directory>
""" % {"dir": self.dir, "www": www, "env": env_lines, "fcgi": fcgi,
       "bindir": os.path.dirname(fcgi)})
        self.procs.append(spawn(["apache2", "-f", conf, "-DFOREGROUND"],
                                log=os.path.join(self.dir, "stdout.log")))
        self.wait_ready()
        return self


SERVERS = {"lighttpd": Lighttpd, "apache": Apache, "lighttpd-pool": LighttpdPool}


# ---------------------------------------------------------------- clients

def curl(url, method=None, headers=None, data=None, timeout=30, extra=None):
    """Runs the real curl; returns (status, headers dict lowercased, body bytes)."""
    argv = ["curl", "-sS", "-i", "--max-time", str(timeout), "--noproxy", "*"]
    if method == "HEAD":
        argv += ["-I"]
    elif method:
        argv += ["-X", method]
    for k, v in (headers or {}).items():
        argv += ["-H", "%s: %s" % (k, v)]
    if data is not None:
        argv += ["--data-binary", "@-"]
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
    argv += extra or []
    argv.append(url)
    p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout + 10)
    if p.returncode != 0:
        raise RuntimeError("curl failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
    return parse_http(p.stdout)


def parse_http(raw):
    # skip interim 100-continue responses
    while raw.startswith(b"HTTP/") and b" 100 " in raw.split(b"\r\n", 1)[0]:
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def curl_stream(url, headers=None, data=None, timeout=60):
    """Streams with curl -N; returns [(seconds since start, line bytes)]."""
    argv = ["curl", "-sS", "-N", "--max-time", str(timeout), "--noproxy", "*"]
    for k, v in (headers or {}).items():
        argv += ["-H", "%s: %s" % (k, v)]
    if data is not None:
        argv += ["--data-binary", "@-"]
    argv.append(url)
    t0 = time.time()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = []
    try:
        payload = json.dumps(data).encode() if isinstance(data, (dict, list)) else data
        if payload is not None:
            p.stdin.write(payload)
        p.stdin.close()
        for line in p.stdout:
            lines.append((time.time() - t0, line))
    except BaseException:
        p.kill()        # the caller's curl ends with it
        raise
    finally:
        p.wait()
    return lines


def auth(key):
    return {"x-api-key": key, "content-type": "application/json",
            "anthropic-version": "2023-06-01"}


def assert_envelope(body, etype=None):
    obj = json.loads(body)
    assert obj.get("type") == "error", obj
    assert isinstance(obj.get("error"), dict), obj
    assert isinstance(obj["error"].get("message"), str), obj
    if etype is not None:
        assert obj["error"].get("type") == etype, obj
    return obj
