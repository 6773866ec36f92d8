"""depcheck.py - every Debian package the suite and the shipped configs need
is one that scripts/deps.sh installs, so `make test` on a fresh machine
fails here, naming the package, rather than deep inside an e2e test.

Checked, each against the packages deps.sh lists plus what they depend on
(and Debian's Essential/required base):
  - every lighttpd module (`server.modules`) and Apache module
    (`LoadModule`, the harness's apache_conf() lists) loaded by a shipped
    config (deploy/, scripts/) or a test (tests/e2e/): its .so exists and
    belongs (dpkg -S) to such a package;
  - every shared object the e2e tests load by absolute path;
  - every program the e2e tests and shell scripts run;
  - every non-standard Python module the e2e tests import (as Debian's
    /usr/bin/python3 finds it, which a fresh machine runs);
  - every library the Makefile links (-lX).
Prints TAP; the last line is "N passed, N failed".
Usage: python3 tests/depcheck.py [path/to/deps.sh]
"""
import ast
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LIGHTTPD_MODULES = "/usr/lib/lighttpd"
APACHE_MODULES = "/usr/lib/apache2/modules"
DEBIAN_PYTHON = "/usr/bin/python3"
# programs the suite runs that are not the literal argv[0] of a call in
# tests/e2e (Makefile, tests/*.sh, scripts/*.sh, harness.Server.cli_argv)
SHELL_PROGRAMS = ["runuser", "cc", "make", "ar", "pkg-config", "python3", "curl", "lighttpd", "apache2",
                  "openssl", "sqlite3", "valgrind", "cppcheck", "clang-tidy", "clang",
                  "node", "npm", "spawn-fcgi", "readelf"]
# deps.sh lets node come from outside Debian (nodesource, nvm); a python3
# earlier on PATH (pyenv) is the user's choice, Debian's is installed anyway
MAY_BE_FOREIGN = {"node", "npm", "python3"}

n = failed = 0


def report(ok, what, detail=""):
    global n, failed
    n += 1
    if ok:
        print("ok %d - %s" % (n, what))
    else:
        failed += 1
        print("not ok %d - %s" % (n, what))
        for line in detail.splitlines():
            print("#   " + line)


# ------------------------------------------------------------ what deps.sh installs

def deps_packages(path):
    with open(path) as f:
        m = re.search(r'^PKGS="([^"]*)"', f.read(), re.M)
    if not m:
        raise SystemExit("depcheck: no PKGS=\"...\" in %s" % path)
    return set(m.group(1).split())


def installed_db():
    """name -> (essential_or_required, [dependency alternatives]), plus virtual providers."""
    fmt = "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Provides}\t${Pre-Depends}, ${Depends}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True).stdout
    db, providers = {}, {}
    for line in out.splitlines():
        name, status, essential, prio, provides, depends = (line.split("\t") + [""] * 6)[:6]
        if not status.startswith("ii"):
            continue
        groups = []
        for group in depends.split(","):
            alts = [a.split()[0].split(":")[0] for a in group.split("|") if a.strip()]
            if alts:
                groups.append(alts)
        db[name] = (essential == "yes" or prio == "required", groups)
        for p in provides.split(","):
            if p.strip():
                providers.setdefault(p.split()[0].split(":")[0], []).append(name)
    return db, providers


def closure(roots, db, providers):
    """Every installed package reachable from roots by Depends/Pre-Depends."""
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for name in [p] + providers.get(p, []):
            if name in db:
                seen.add(name)
                for alts in db[name][1]:
                    for a in alts:
                        todo.extend(x for x in [a] + providers.get(a, []) if x not in seen)
    return seen


def owner(path):
    """The package that owns path (dpkg -S), trying the /usr-merged spellings."""
    cands = [os.path.normpath(path), os.path.realpath(path)]
    for c in list(cands):
        if c.startswith("/usr/"):
            cands.append(c[4:])
        else:
            cands.append("/usr" + c)
    for c in cands:
        p = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            pkg, _, owned = line.partition(": ")
            if owned.strip() == c and "diversion" not in pkg:
                return pkg.split(":")[0].split(",")[0].strip()
    return None


def apt_knows(pkg):
    p = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], capture_output=True)
    return p.returncode == 0


# ------------------------------------------------------------ what the suite loads

def text_files():
    for top in ("deploy", "scripts", "tests/e2e"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".conf", ".py", ".sh", ".htaccess")) or f == "Dockerfile":
                    yield os.path.join(d, f)


def lighttpd_modules():
    """{module: [files loading it]} from every server.modules assignment."""
    out = {}
    for path in text_files():
        with open(path, errors="replace") as f:
            text = f.read()
        for m in re.finditer(r'server\.modules\s*\+?=\s*\(([^)]*)\)', text):
            for mod in re.findall(r'\\?"(mod_\w+)\\?"', m.group(1)):
                out.setdefault(mod, []).append(os.path.relpath(path, ROOT))
    return out


def _str_list(node, scope):
    """A list of string literals, directly or through a name assigned one in scope."""
    if isinstance(node, ast.Name):
        name = node.id
        for n2 in ast.walk(scope):
            if (isinstance(n2, ast.Assign) and isinstance(n2.value, ast.List)
                    and any(isinstance(t, ast.Name) and t.id == name for t in n2.targets)):
                node = n2.value
    if isinstance(node, ast.List) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                          for e in node.elts):
        return [e.value for e in node.elts]
    return None


def _callee(call):
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def python_trees():
    for path in text_files():
        if path.endswith(".py"):
            with open(path) as f:
                yield path, ast.parse(f.read(), path)


def apache_modules():
    """{module: [files]} from LoadModule lines and apache_conf(dir, port, [mods], ...) calls."""
    out = {}
    for path in text_files():
        with open(path, errors="replace") as f:
            for m in re.finditer(r'^\s*LoadModule\s+\w+\s+\S*?mod_(\w+)\.so', f.read(), re.M):
                out.setdefault(m.group(1), []).append(os.path.relpath(path, ROOT))
    for path, tree in python_trees():
        for fn in [tree] + [x for x in ast.walk(tree) if isinstance(x, ast.FunctionDef)]:
            for call in ast.walk(fn):
                if isinstance(call, ast.Call) and _callee(call) == "apache_conf" and len(call.args) >= 3:
                    mods = _str_list(call.args[2], fn)
                    if mods is None:
                        if fn is not tree:
                            continue    # resolved in its function's own pass
                        report(False, "%s: an apache_conf() module list that is not a literal"
                               % os.path.relpath(path, ROOT))
                        continue
                    for mod in mods:
                        out.setdefault(mod, [])
                        if os.path.relpath(path, ROOT) not in out[mod]:
                            out[mod].append(os.path.relpath(path, ROOT))
    return out


def shared_objects():
    """Absolute .so paths named as string literals in the e2e tests (LoadFile)."""
    out = {}
    for path, tree in python_trees():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.fullmatch(r"/usr/lib/\S+\.so(\.\d+)*", node.value)):
                out.setdefault(node.value, []).append(os.path.relpath(path, ROOT))
    return out


def programs():
    """{program: [files]}: argv[0] of every subprocess/spawn call in the e2e tests
    (and the command words of `sh -c` strings), plus SHELL_PROGRAMS."""
    out = {p: ["Makefile/tests/*.sh"] for p in SHELL_PROGRAMS}
    for path, tree in python_trees():
        rel = os.path.relpath(path, ROOT)
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and call.args
                    and _callee(call) in ("run", "Popen", "spawn", "check_output", "call")):
                continue
            argv = call.args[0]
            if not (isinstance(argv, ast.List) and argv.elts):
                continue
            first = argv.elts[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            words = [first.value]
            if first.value == "sh" and len(argv.elts) > 2 and isinstance(argv.elts[2], ast.Constant):
                script = argv.elts[2].value
                words = re.findall(r"(?:^|[|;&(])\s*([a-z][\w.+-]*)", script)
                words += re.findall(r"command -v\s+([a-z][\w.+-]*)", script)
                words = [w for w in words if w not in ("command", "if", "then", "fi", "exit")]
            for w in words:
                if "/" not in w:
                    out.setdefault(w, [])
                    if rel not in out[w]:
                        out[w].append(rel)
    return out


def python_imports():
    """{module: [files]}: top-level imports of the e2e tests outside the stdlib."""
    local = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, "tests", "e2e"))}
    std = set(getattr(sys, "stdlib_module_names", ()))
    out = {}
    for path, tree in python_trees():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in std and top not in local and top != "__future__":
                    out.setdefault(top, []).append(os.path.relpath(path, ROOT))
    return out


def makefile_libs():
    """The -lX of the Makefile's link line (MG_LDLIBS or LDLIBS)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    libs = []
    for m in re.finditer(r"^(?:MG_)?LDLIBS\s*[:+?]?=(.*)$", text, re.M):
        libs += re.findall(r"-l([\w.+-]+)", m.group(1))
    return libs


# ------------------------------------------------------------ checks

def lighttpd_builtin(mod):
    """Debian builds some modules into the lighttpd binary (no .so): its
    <mod>_plugin_init symbol is in the executable itself."""
    exe = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    try:
        with open(exe, "rb") as f:
            return exe if (mod + "_plugin_init").encode() in f.read() else None
    except OSError:
        return None


def check_file(what, path, files, ok_pkgs, guess=None):
    where = " (loaded by %s)" % ", ".join(files) if files else ""
    if not os.path.exists(path):
        hint = ""
        for g in guess or []:
            if apt_knows(g):
                hint = "; it comes from package %s: add it to scripts/deps.sh" % g
                break
        report(False, "%s: %s is missing%s%s" % (what, path, hint, where))
        return
    pkg = owner(path)
    if pkg is None:
        report(False, "%s: %s belongs to no Debian package%s" % (what, path, where))
    elif pkg not in ok_pkgs:
        report(False, "%s: %s belongs to package %s, which scripts/deps.sh does not install%s"
               % (what, path, pkg, where))
    else:
        report(True, "%s: %s (package %s)" % (what, path, pkg))


def main():
    deps_sh = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "scripts", "deps.sh")
    listed = deps_packages(deps_sh)
    if not shutil.which("dpkg-query"):
        report(False, "dpkg-query is not installed: this check (and scripts/deps.sh) needs Debian")
        print("%d passed, %d failed" % (n - failed, failed))
        return 1
    db, providers = installed_db()
    base = {p for p, (req, _) in db.items() if req}
    ok_pkgs = closure(listed | base, db, providers)

    # the check can fail: without lighttpd-mod-openssl in deps.sh, nothing
    # else deps.sh installs brings mod_openssl along
    without = closure((listed - {"lighttpd-mod-openssl"}) | base, db, providers)
    report("lighttpd-mod-openssl" in listed and "lighttpd-mod-openssl" not in without,
           "self-test: a deps.sh without lighttpd-mod-openssl would be caught")
    for mod, files in sorted(lighttpd_modules().items()):
        name = mod[len("mod_"):]
        builtin = lighttpd_builtin(mod)
        if builtin and not os.path.exists(os.path.join(LIGHTTPD_MODULES, mod + ".so")):
            check_file("lighttpd %s (built in)" % mod, builtin, files, ok_pkgs)
            continue
        check_file("lighttpd %s" % mod, os.path.join(LIGHTTPD_MODULES, mod + ".so"), files, ok_pkgs,
                   ["lighttpd-mod-" + name.replace("_", "-"), "lighttpd-mod-" + name.split("_")[0]])
    for mod, files in sorted(apache_modules().items()):
        check_file("apache mod_%s" % mod, os.path.join(APACHE_MODULES, "mod_%s.so" % mod), files,
                   ok_pkgs, ["libapache2-mod-" + mod.replace("_", "-"), "apache2-bin"])
    for so, files in sorted(shared_objects().items()):
        check_file("shared object", so, files, ok_pkgs)
    for prog, files in sorted(programs().items()):
        path = shutil.which(prog)
        if path is None:
            report(False, "program %s is not installed (run by %s): add its package to "
                   "scripts/deps.sh" % (prog, ", ".join(files)))
        elif prog in MAY_BE_FOREIGN and owner(path) is None:
            report(True, "program %s: %s (installed outside Debian; deps.sh allows it)" % (prog, path))
        else:
            check_file("program %s" % prog, path, files, ok_pkgs)
    py = DEBIAN_PYTHON if os.path.exists(DEBIAN_PYTHON) else sys.executable
    for mod, files in sorted(python_imports().items()):
        p = subprocess.run([py, "-c", "import importlib.util as u, sys; s = u.find_spec(sys.argv[1]); "
                            "print(s.origin if s else '')", mod], capture_output=True, text=True)
        origin = p.stdout.strip()
        pkg_guess = "python3-" + mod.lower().replace("_", "-")
        if not origin:
            hint = " (package %s)" % pkg_guess if apt_knows(pkg_guess) else ""
            report(False, "python module %s is not importable by %s%s: add it to scripts/deps.sh "
                   "(imported by %s)" % (mod, py, hint, ", ".join(files)))
        else:
            check_file("python module %s" % mod, origin, files, ok_pkgs)
    libs = makefile_libs()
    if not libs:
        report(False, "no -l libraries found on the Makefile's LDLIBS line: update depcheck.py")
    for lib in libs:
        p = subprocess.run(["cc", "-print-file-name=lib%s.so" % lib], capture_output=True, text=True)
        path = p.stdout.strip()
        check_file("library -l%s" % lib, path if os.path.isabs(path) else "lib%s.so" % lib,
                   ["Makefile"], ok_pkgs)
    print("%d passed, %d failed" % (n - failed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
