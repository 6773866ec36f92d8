"""Runs the end-to-end tests: every tests/e2e/test_*.py module.

A module's `test_*(srv, mock)` functions run once against each web server
in its SERVERS list (default: all three set-ups) with one shared recording
mock upstream; `standalone_*(mock)` functions run once and start what they
need. Output is TAP; the last line is "N passed, N failed".
Set MG_E2E_FILTER=substring[,substring...] to run a subset, MG_E2E_DB=pg to put every
maskgate of the run on a private PostgreSQL cluster (tests/e2e/pg.py)
instead of SQLite files.

After each test (group) everything harness.spawn() started is stopped, and
any process of this run still alive then fails that test, named and killed;
the run ends with one more such check over the whole run (see
harness.run_processes(): descendants, the runner being their subreaper, and
carriers of this run's token, so concurrent runs elsewhere do not count).
"""
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

passed = failed = skipped = 0


def report(ok, name, detail=""):
    global passed, failed
    n = passed + failed + skipped + 1
    if ok:
        passed += 1
        print("ok %d - %s" % (n, name), flush=True)
    else:
        failed += 1
        print("not ok %d - %s" % (n, name), flush=True)
        for line in detail.rstrip().splitlines():
            print("#   " + line, flush=True)


def skip(name, why):
    """A test that could not run here: counted apart, never as passed."""
    global skipped
    skipped += 1
    print("ok %d - %s # SKIP %s" % (passed + failed + skipped, name, why), flush=True)


def matches(name):
    """MG_E2E_FILTER: one substring, or several separated by commas."""
    flt = os.environ.get("MG_E2E_FILTER")
    return not flt or any(f and f in name for f in flt.split(","))


def run_one(name, fn, *args):
    if not matches(name):
        return
    t0 = time.time()
    try:
        fn(*args)
        report(True, "%s (%.1fs)" % (name, time.time() - t0))
    except harness.Skip as why:
        skip(name, str(why))
    except Exception:  # noqa: BLE001 - every failure is reported, run continues
        report(False, name, traceback.format_exc())


def check_left(name):
    """Fails `name` for every process of this run still alive; kills them."""
    left = harness.leftovers()
    if left:
        report(False, "%s: processes left running" % name,
               "\n".join("pid %d: %s" % (pid, cmd[:300]) for pid, cmd in sorted(left.items())))
        harness.kill_all(left)
    return not left


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    mods = sorted(f[:-3] for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))
    if not harness.track_descendants():
        print("# cannot become child subreaper: orphans are found by %s only" % harness.RUN_VAR)
    mock = harness.Mock()
    for modname in mods:
        mod = importlib.import_module(modname)
        if not matches(modname) and not any(matches(a) for a in dir(mod)):
            continue
        for name in sorted(a for a in dir(mod) if a.startswith("standalone_")):
            full = "%s:%s" % (modname, name)
            if not matches(full):
                continue
            mock.reset()
            run_one(full, getattr(mod, name), mock)
            harness.stop_all()
            check_left(full)
        tests = sorted(a for a in dir(mod) if a.startswith("test_"))
        if not tests:
            continue
        for kind in getattr(mod, "SERVERS", list(harness.SERVERS)):
            mock.reset()
            try:
                srv = harness.SERVERS[kind](mock, **getattr(mod, "ENV", {})).start()
            except Exception:  # noqa: BLE001
                report(False, "%s: start %s" % (modname, kind), traceback.format_exc())
                harness.stop_all()
                check_left("%s: start %s" % (modname, kind))
                continue
            try:
                for name in tests:
                    mock.reset()
                    run_one("%s:%s[%s]" % (modname, name, kind), getattr(mod, name), srv, mock)
            finally:
                srv.stop()
                log = srv.read_log()
                for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                    if bad in log:
                        report(False, "%s[%s]: sanitizer report in server log" % (modname, kind),
                               log[log.index(bad) - 200:][:4000])
                        break
                harness.stop_all()
                check_left("%s[%s]" % (modname, kind))
    mock.close()
    harness.stop_all()
    if "pg" in sys.modules:
        sys.modules["pg"].stop_all()
    if check_left("end of run"):
        report(True, "no process of this run survives it")
    print("%d passed, %d failed%s" % (passed, failed,
                                       ", %d skipped" % skipped if skipped else ""), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
