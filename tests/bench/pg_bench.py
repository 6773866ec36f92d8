"""`make bench` on PostgreSQL, in the same run as the SQLite figures: the
mapping store from 1, 4 and 8 processes (bench_store against a private
cluster on loopback) and maskgate's added latency with its store on that
cluster, next to the same gateway on SQLite measured just before."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pg  # noqa: E402
import proxy  # noqa: E402
from body import claude_code_body  # noqa: E402

OUT = os.environ.get("MG_OUT", "build/rel")


def gateway_p50(up, body, db=None):
    env = {"MASKGATE_LOG_LEVEL": "warn"}
    if db:
        env["MASKGATE_DB"] = db
    gw = proxy.Gateway(up, **env).start()
    try:
        proxy.load(gw.url + "/v1/messages", body, 2, 20, gw.master)
        one = proxy.load(gw.url + "/v1/messages", body, 1, proxy.N1, gw.master)
        many = proxy.load(gw.url + "/v1/messages", body, 16, proxy.N16 // 2, gw.master)
        return one, many
    finally:
        gw.stop()


def main():
    if not pg.available():
        print("| PostgreSQL figures | not measured | PostgreSQL server not installed (make deps) |")
        return
    cluster = pg.Cluster().init().start()
    rows = []
    try:
        p = subprocess.run([os.path.join(OUT, "bench", "bench_store"),
                            cluster.url(cluster.new_database())],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("bench_store on PostgreSQL failed: " + p.stderr)
        sys.stdout.write(p.stdout)
        tmp = harness.tmpdir("mg-bench-pg-")
        body = os.path.join(tmp, "body.json")
        with open(body, "w") as f:
            json.dump(dict(claude_code_body(), stream=False), f)
        up = proxy.Upstream()
        d1 = proxy.load(up.url + "/v1/messages", body, 1, proxy.N1)
        d16 = proxy.load(up.url + "/v1/messages", body, 16, proxy.N16 // 2)
        s1, s16 = gateway_p50(up, body)
        g1, g16 = gateway_p50(up, body, cluster.url(cluster.new_database()))
        rows.append(("1 client p50, maskgate on SQLite / on PostgreSQL (loopback)",
                     "%.2f / %.2f ms (direct %.2f ms)" % (s1["p50_ms"], g1["p50_ms"], d1["p50_ms"]),
                     "adds %.2f ms on SQLite, %.2f ms on PostgreSQL (%+.2f ms)"
                     % (s1["p50_ms"] - d1["p50_ms"], g1["p50_ms"] - d1["p50_ms"],
                        g1["p50_ms"] - s1["p50_ms"])))
        rows.append(("16 clients, requests/s: maskgate on SQLite / on PostgreSQL",
                     "%.0f / %.0f (direct %.0f)" % (s16["rps"], g16["rps"], d16["rps"]),
                     "PostgreSQL %.2fx of SQLite" % (g16["rps"] / s16["rps"])))
    finally:
        harness.stop_all()
        pg.stop_all()
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
