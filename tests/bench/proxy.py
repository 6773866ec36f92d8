"""Proxy benchmark for `make bench`: added latency and throughput of
maskgate behind lighttpd, against the same fast mock upstream reached
directly and through lighttpd's plain mod_proxy, in one run.

Prints markdown table rows: | measurement | value | ratio to baseline |.
"""
import copy
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from body import claude_code_body  # noqa: E402

OUT = os.environ.get("MG_OUT", "build/rel")
LOADGEN = os.path.join(harness.ROOT, OUT, "bench", "bench_loadgen")
UPSTREAM = os.path.join(harness.ROOT, OUT, "bench", "bench_upstream")
N1 = int(os.environ.get("MG_BENCH_N1", "400"))
N16 = int(os.environ.get("MG_BENCH_N16", "3200"))
NSAT = int(os.environ.get("MG_BENCH_NSAT", "4000"))
SAT_CLIENTS = 64


def worker_rss(srv):
    rss = []
    for pid in srv.worker_pids():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss.append(int(line.split()[1]))
        except OSError:
            pass
    return sorted(rss)


def worker_mem(srv):
    """Per worker, from smaps_rollup: Pss (its own pages, plus each shared
    page divided by the processes mapping it), private pages (USS: what
    the worker's exit would free) and shared pages, each sorted, KB."""
    pss, uss, shared = [], [], []
    for pid in srv.worker_pids():
        f = {}
        try:
            with open("/proc/%d/smaps_rollup" % pid) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) == 3 and parts[2] == "kB":
                        f[parts[0].rstrip(":")] = int(parts[1])
        except OSError:
            continue
        if "Pss" in f:
            pss.append(f["Pss"])
            uss.append(f.get("Private_Clean", 0) + f.get("Private_Dirty", 0))
            shared.append(f.get("Shared_Clean", 0) + f.get("Shared_Dirty", 0))
    return sorted(pss), sorted(uss), sorted(shared)


class Upstream:
    def __init__(self):
        self.port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        harness.spawn([UPSTREAM, str(self.port)])
        time.sleep(0.3)


class ModProxy(harness.Server):
    kind = "mod_proxy"

    def start(self, upstream_port):
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write("""server.modules = ("mod_proxy")
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd-error.log"
server.stream-response-body = 2
proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => %d )) )
""" % (self.port, self.dir, self.dir, upstream_port))
        self.procs.append(harness.spawn(["lighttpd", "-D", "-f", conf]))
        time.sleep(0.5)
        return self


class Gateway(harness.Lighttpd):
    """maskgate behind lighttpd with 16 workers, all started at once:
    lighttpd otherwise starts 4 and adds one every second or so under
    load, and a new worker's first requests (statements compiled, caches
    empty) took 10 ms or more, inside whichever measurement was running.
    A deployment that has been up under load has all its workers."""
    kind = "maskgate"

    def backend(self):
        return super().backend().replace('"max-procs" => 2',
                                         '"min-procs" => 16, "max-procs" => 16')


class Passthrough(Gateway):
    """The floor under maskgate's path: tests/bench/bench_passthrough.c, a
    FastCGI worker on the same two libraries (libfcgi, libcurl) that
    forwards each request unchanged and copies the answer back, behind the
    same lighttpd configuration with as many workers. What is left between
    it and maskgate is maskgate's own work (auth, masking, store, restore)."""
    kind = "passthrough"
    BIN = os.path.join(harness.ROOT, OUT, "bench", "bench_passthrough")

    def backend(self):
        return super().backend().replace(harness.FCGI, self.BIN)

    def worker_pids(self):
        tag = ("\0MASKGATE_DB=%s\0" % self.env["MASKGATE_DB"]).encode()
        return sorted(pid for pid, (_, state, cmd, env) in harness.proc_table().items()
                      if state != "Z" and os.path.basename(cmd.split(" ")[0]) == "bench_passthrough"
                      and tag in b"\0" + env)


def warm_up(gw, body):
    """Requests from 16 clients, so that every worker has served some (a
    long-running deployment's workers all have): connections, the mapping
    store (every value known afterwards), each worker's masked-string cache."""
    load(gw.url + "/v1/messages", body, 16, 16 * 10, gw.master)


def load(url, body, conc, n, key=None):
    hdrs = ["content-type: application/json", "anthropic-version: 2023-06-01"]
    if key:
        hdrs.append("x-api-key: " + key)
    p = subprocess.run([LOADGEN, url, body, str(conc), str(n)] + hdrs,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("loadgen failed: " + p.stdout + p.stderr)
    return json.loads(p.stdout)


def store_counts(gw):
    """(write transactions, /v1/messages requests) so far, from /metrics."""
    s, _, body = harness.curl(gw.url + "/metrics", headers={"x-api-key": gw.master})
    tx = req = 0.0
    for line in body.decode().splitlines():
        if line.startswith("maskgate_store_write_transactions_total"):
            tx += float(line.rsplit(" ", 1)[1])
        elif line.startswith('maskgate_requests_total{route="/v1/messages"'):
            req += float(line.rsplit(" ", 1)[1])
    return tx, req


def first_turns(gw, req, tmp, n=20):
    """Requests whose identifiers the gateway has never seen (a first turn),
    one at a time over one kept-alive connection, as turn N+1 is measured:
    median latency and write transactions per request. (One load generator
    per request, as before, measured a new connection and a machine gone
    idle between requests: a request every value of which was known took
    3-4 ms more that way than in a run.)"""
    text = json.dumps(dict(req, stream=False))
    paths = []
    for i in range(n):
        fresh = re.sub(r"i-[0-9a-f]{17}", lambda m: "i-%017x" % random.getrandbits(68), text)
        paths.append(os.path.join(tmp, "first%d.json" % i))
        with open(paths[-1], "w") as f:
            f.write(fresh)
    tx0, r0 = store_counts(gw)
    g = load(gw.url + "/v1/messages", ",".join(paths), 1, n, gw.master)
    tx1, r1 = store_counts(gw)
    return g["p50_ms"], (tx1 - tx0) / max(r1 - r0, 1)


def new_value_turns(gw, req, tmp, n=40):
    """Turn N+1 as Claude Code's tool results make it most of the time: the
    conversation sent before, with one more exchange that brings an
    identifier the gateway has never seen. One at a time over one
    kept-alive connection, as turn N+1 is measured: median latency."""
    paths = []
    for i in range(n):
        turn = copy.deepcopy(req)
        turn["messages"] += [
            {"role": "assistant", "content": [{"type": "text", "text": "Checking instance i-%017x now."
                                               % random.getrandbits(68)}]},
            {"role": "user", "content": "ok"}]
        paths.append(os.path.join(tmp, "newvalue%d.json" % i))
        with open(paths[-1], "w") as f:
            json.dump(dict(turn, stream=False), f)
    return load(gw.url + "/v1/messages", ",".join(paths), 1, n, gw.master)["p50_ms"]


def main():
    tmp = harness.tmpdir("mg-bench-")
    body = os.path.join(tmp, "body.json")
    sbody = os.path.join(tmp, "stream.json")
    req = claude_code_body()
    with open(body, "w") as f:
        json.dump(dict(req, stream=False), f)
    with open(sbody, "w") as f:
        json.dump(dict(req, stream=True), f)
    size_kb = os.path.getsize(body) / 1024
    up = Upstream()
    mp = ModProxy(up).start(up.port)
    pt = Passthrough(up).start()
    gw = Gateway(up, MASKGATE_LOG_LEVEL="warn", MASKGATE_BEDROCK_URL=up.url,
                 MASKGATE_BEDROCK_REGION="us-east-1",
                 MASKGATE_AWS_ACCESS_KEY_ID="AKIABENCH00000000001",
                 MASKGATE_AWS_SECRET_ACCESS_KEY="benchSecretKey0123456789abcdefghijklmnop").start()
    bedrock = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
    bbody = os.path.join(tmp, "bedrock.json")
    breq = {k: v for k, v in req.items() if k not in ("model", "stream")}
    breq["anthropic_version"] = "bedrock-2023-05-31"
    with open(bbody, "w") as f:
        json.dump(breq, f)
    rows = []
    try:
        # first turn: the same request with the cache of masked strings off, so
        # every string is scanned and looked up (its values are known: the
        # warm-up minted them), as on the first turn of a conversation
        cold = Gateway(up, MASKGATE_LOG_LEVEL="warn", MASKGATE_MASK_CACHE="0").start()
        try:
            warm_up(cold, body)
            for conc, n in ((1, N1), (16, N16)):
                p = load(mp.url + "/v1/messages", body, conc, n)
                g = load(cold.url + "/v1/messages", body, conc, n, cold.master)
                if conc == 1:
                    rows.append(("first turn (nothing cached), %.0f KB request, 1 client, p50: "
                                 "mod_proxy / maskgate" % size_kb,
                                 "%.2f / %.2f ms" % (p["p50_ms"], g["p50_ms"]),
                                 "maskgate adds %.2f ms over mod_proxy" % (g["p50_ms"] - p["p50_ms"])))
                rows.append(("first turn (nothing cached), %d client%s, requests/s: mod_proxy / maskgate"
                             % (conc, "s" if conc > 1 else ""),
                             "%.0f / %.0f" % (p["rps"], g["rps"]),
                             "maskgate %.2fx of mod_proxy" % (g["rps"] / p["rps"])))
        finally:
            cold.stop()
        # warm up: from here on every request is a turn N+1 on a warm worker
        warm_up(gw, body)
        load(pt.url + "/v1/messages", body, 16, 16 * 10)
        idle = worker_rss(gw)
        idle_pss, idle_uss, _ = worker_mem(gw)
        for conc, n in ((1, N1), (16, N16)):
            d = load(up.url + "/v1/messages", body, conc, n)
            p = load(mp.url + "/v1/messages", body, conc, n)
            f = load(pt.url + "/v1/messages", body, conc, n)
            tx0, r0 = store_counts(gw)
            g = load(gw.url + "/v1/messages", body, conc, n, gw.master)
            tx1, r1 = store_counts(gw)
            if conc == 1:
                # turn N+1 (every value known) against a first turn (all new)
                first_p50, first_tx = first_turns(gw, req, tmp)
                new_p50 = new_value_turns(gw, req, tmp)
                rows.append(("first turn / turn N+1, 1 client p50 (maskgate)",
                             "%.2f / %.2f ms" % (first_p50, g["p50_ms"]),
                             "maskgate adds %.2f / %.2f ms over direct"
                             % (first_p50 - d["p50_ms"], g["p50_ms"] - d["p50_ms"])))
                rows.append(("turn N+1 that brings one new identifier (as most tool results do), "
                             "1 client p50 (maskgate)", "%.2f ms" % new_p50,
                             "maskgate adds %.2f ms over direct (turn N+1 with nothing new %.2f ms)"
                             % (new_p50 - d["p50_ms"], g["p50_ms"] - d["p50_ms"])))
                rows.append(("store write transactions per proxied request: first turn / turn N+1",
                             "%.2f / %.2f" % (first_tx, (tx1 - tx0) / max(r1 - r0, 1)),
                             "target 1 (the write after the response)"))
            for q in ("p50_ms", "p99_ms"):
                rows.append(("turn N+1, %.0f KB request, %d client%s, %s: direct / mod_proxy / maskgate"
                             % (size_kb, conc, "s" if conc > 1 else "", q[:3]),
                             "%.2f / %.2f / %.2f ms" % (d[q], p[q], g[q]),
                             "maskgate adds %.2f ms (%.2fx mod_proxy's %.2f ms)"
                             % (g[q] - d[q], (g[q] - d[q]) / max(p[q] - d[q], 0.001), p[q] - d[q])))
            rows.append(("turn N+1, %d clients, requests/s: direct / mod_proxy / maskgate" % conc,
                         "%.0f / %.0f / %.0f" % (d["rps"], p["rps"], g["rps"]),
                         "maskgate %.2fx of mod_proxy" % (g["rps"] / p["rps"])))
            rows.append(("turn N+1, %d client%s, the floor: a pass-through FastCGI worker (libfcgi + "
                         "libcurl, no masking, no store), p50 / requests/s: pass-through / maskgate"
                         % (conc, "s" if conc > 1 else ""),
                         "%.2f / %.2f ms, %.0f / %.0f" % (f["p50_ms"], g["p50_ms"], f["rps"], g["rps"]),
                         "pass-through adds %.2f ms, %.2fx of mod_proxy; maskgate adds %.2f ms more, "
                         "%.2fx of the pass-through" % (f["p50_ms"] - d["p50_ms"], f["rps"] / p["rps"],
                                                        g["p50_ms"] - f["p50_ms"], g["rps"] / f["rps"])))
        d = load(up.url + "/v1/messages", sbody, 1, N1)
        p = load(mp.url + "/v1/messages", sbody, 1, N1)
        f = load(pt.url + "/v1/messages", sbody, 1, N1)
        g = load(gw.url + "/v1/messages", sbody, 1, N1, gw.master)
        rows.append(("streaming time to first byte p50: direct / mod_proxy / pass-through / maskgate",
                     "%.2f / %.2f / %.2f / %.2f ms" % (d["ttfb_p50_ms"], p["ttfb_p50_ms"],
                                                       f["ttfb_p50_ms"], g["ttfb_p50_ms"]),
                     "maskgate adds %.2f ms (the pass-through %.2f ms)"
                     % (g["ttfb_p50_ms"] - d["ttfb_p50_ms"], f["ttfb_p50_ms"] - d["ttfb_p50_ms"])))
        rows.append(("streaming whole response p50: direct / mod_proxy / maskgate",
                     "%.2f / %.2f / %.2f ms" % (d["p50_ms"], p["p50_ms"], g["p50_ms"]),
                     "maskgate adds %.2f ms" % (g["p50_ms"] - d["p50_ms"])))
        # the same stream as Bedrock event-stream frames (SigV4, re-framing)
        bd = load(up.url + bedrock, bbody, 1, N1)
        bg = load(gw.url + bedrock, bbody, 1, N1, gw.master)
        rows.append(("Bedrock streaming time to first byte p50: direct / maskgate (SSE path maskgate)",
                     "%.2f / %.2f ms (%.2f ms)" % (bd["ttfb_p50_ms"], bg["ttfb_p50_ms"],
                                                   g["ttfb_p50_ms"]),
                     "maskgate adds %.2f ms (SSE path adds %.2f ms)"
                     % (bg["ttfb_p50_ms"] - bd["ttfb_p50_ms"], g["ttfb_p50_ms"] - d["ttfb_p50_ms"])))
        rows.append(("Bedrock streaming whole response p50: direct / maskgate (SSE path maskgate)",
                     "%.2f / %.2f ms (%.2f ms)" % (bd["p50_ms"], bg["p50_ms"], g["p50_ms"]),
                     "maskgate adds %.2f ms (SSE path adds %.2f ms)"
                     % (bg["p50_ms"] - bd["p50_ms"], g["p50_ms"] - d["p50_ms"])))
        # saturation: more clients than workers, requests/s against mod_proxy
        d = load(up.url + "/v1/messages", body, SAT_CLIENTS, NSAT)
        p = load(mp.url + "/v1/messages", body, SAT_CLIENTS, NSAT)
        g = load(gw.url + "/v1/messages", body, SAT_CLIENTS, NSAT, gw.master)
        rows.append(("saturation (%d clients, %d workers), requests/s: direct / mod_proxy / maskgate"
                     % (SAT_CLIENTS, len(gw.worker_pids())),
                     "%.0f / %.0f / %.0f" % (d["rps"], p["rps"], g["rps"]),
                     "maskgate %.2fx of mod_proxy" % (g["rps"] / p["rps"])))
        rss = worker_rss(gw)
        if rss and idle:
            rows.append(("worker RSS idle (after warm-up) / after load (%d workers)" % len(rss),
                         "median %d / %d KB, max %d / %d KB" % (idle[len(idle) // 2], rss[len(rss) // 2],
                                                               max(idle), max(rss)),
                         "load %.2fx of idle (median)" % (rss[len(rss) // 2] / idle[len(idle) // 2])))
        # RSS counts every shared library page the worker maps (libcrypto,
        # libc, libsqlite3, libcurl's dependencies...), present once in
        # memory for all workers: what a worker costs is its Pss, and its
        # private pages are what its exit would free
        pss, uss, shared = worker_mem(gw)
        if pss and idle_pss:
            med = lambda v: v[len(v) // 2]  # noqa: E731
            rows.append(("worker Pss (shared pages divided among the processes mapping them) "
                         "/ private (USS): idle / after load",
                         "median %d / %d KB Pss, %d / %d KB private"
                         % (med(idle_pss), med(pss), med(idle_uss), med(uss)),
                         "after load, of the RSS: median %d KB shared (library pages, "
                         "in memory once), %d KB private" % (med(shared), med(uss))))
        prss = worker_rss(pt)
        ppss, puss, _ = worker_mem(pt)
        if prss and ppss and rss:
            rows.append(("pass-through worker RSS / Pss / private after load (%d workers)" % len(prss),
                         "median %d / %d / %d KB" % (prss[len(prss) // 2], ppss[len(ppss) // 2],
                                                     puss[len(puss) // 2]),
                         "the libraries alone (libcurl's and libfcgi's): maskgate's RSS is %.2fx"
                         % (rss[len(rss) // 2] / prss[len(prss) // 2])))
    finally:
        gw.stop()
        pt.stop()
        mp.stop()
        harness.stop_all()
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
