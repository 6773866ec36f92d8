"""Single sign-on end to end, against a real OpenID Connect provider on
loopback (tests/e2e/mock_oidc.py; its docstring says why not glewlwyd or
lemonldap-ng):

- browser SSO: Apache + mod_auth_openidc (deploy/apache/maskgate-sso.conf as
  shipped) + maskgate, driven by Debian's chromium through playwright-core:
  a member of the admin group reaches the console (and creates an admin key
  there, audited as sso:<email>), a non-member gets 403, and without the
  trust settings maskgate ignores what Apache passes;
- API tokens: access tokens from the provider's authorization-code + PKCE
  flow work for /v1/messages (groups mapped to models), refreshed ones too;
  an expired token and one from another issuer are refused; a rotated
  signing key (new kid) is fetched from the JWKS, at a bounded rate.
"""
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import harness
import mock_oidc
from harness import assert_envelope, auth, curl, www_copy, www_env

CLIENTS = os.path.join(harness.ROOT, "tests", "clients")
SNIPPET = os.path.join(harness.ROOT, "deploy", "apache", "maskgate-sso.conf")
MODEL = "claude-sonnet-4-5"
TRUST = {"MASKGATE_CONSOLE_TRUST_USER": "OIDC_CLAIM_email",
         "MASKGATE_CONSOLE_TRUST_GROUPS": "OIDC_CLAIM_groups",
         "MASKGATE_CONSOLE_ADMIN_GROUP": "maskgate-admins"}


class ApacheSSO(harness.Apache):
    """harness.Apache plus mod_auth_openidc with the shipped snippet."""

    def __init__(self, mock, provider, client_secret, **extra_env):
        super().__init__(mock, **extra_env)
        self.provider = provider
        self.secret = client_secret

    def start(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "fcgid"), exist_ok=True)
        os.chmod(os.path.join(self.dir, "fcgid"), 0o777)
        env_lines = "\n".join('FcgidInitialEnv %s "%s"' % (k, v)
                              for k, v in www_env(self.env).items())
        fcgi = www_copy(harness.FCGI)
        defines = {
            "MG_OIDC_METADATA_URL": self.provider.url + "/.well-known/openid-configuration",
            "MG_OIDC_CLIENT_ID": "maskgate-console",
            "MG_OIDC_CLIENT_SECRET": self.secret,
            "MG_OIDC_REDIRECT_URI": self.url + "/ui/oidc/callback",
            "MG_OIDC_PASSPHRASE": harness.new_key(),
        }
        conf = harness.apache_conf(
            self.dir, self.port, ["mpm_event", "authz_core", "authz_host", "authz_user", "authn_core", "alias",
                                  "fcgid", "auth_openidc"],
            "\n".join("Define %s %s" % kv for kv in defines.items()) + """
DocumentRoot %(www)s
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
FcgidIPCDir %(dir)s/fcgid
FcgidProcessTableFile %(dir)s/fcgid/shm
FcgidOutputBufferSize 0
FcgidMaxProcessesPerClass 4
FcgidMinProcessesPerClass 0
%(env)s
AliasMatch "^/(.*)$" "%(fcgi)s/$1"
<Directory "%(bindir)s">
    Options +ExecCGI
    SetHandler fcgid-script
    CGIPassAuth On
    Require all granted
</Directory>
Include %(snippet)s
""" % {"dir": self.dir, "www": www, "env": env_lines, "fcgi": fcgi,
       "bindir": os.path.dirname(fcgi), "snippet": SNIPPET})
        self.procs.append(harness.spawn(["apache2", "-f", conf, "-DFOREGROUND"],
                                        log=os.path.join(self.dir, "stdout.log")))
        self.wait_ready()
        return self


def browser(srv, user, expect):
    parent = os.environ.get("MG_ARTIFACTS") or None
    if parent:
        os.makedirs(parent, exist_ok=True)
    art = tempfile.mkdtemp(prefix="mg-sso-", dir=parent)
    p = subprocess.run(["node", os.path.join(CLIENTS, "sso_check.mjs"), srv.url, user, expect,
                        art], capture_output=True, text=True, timeout=120, cwd=CLIENTS)
    print("# sso screenshots: %s" % art)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:], srv.read_log()[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def sso_server(mock, trust):
    secret = "cs-" + harness.new_key()
    prov = mock_oidc.Provider({"maskgate-console": {"secret": secret, "redirect_uris": []}})
    prov.start()
    try:
        srv = ApacheSSO(mock, prov, secret, **(TRUST if trust else {}))
        prov.clients["maskgate-console"]["redirect_uris"].append(srv.url + "/ui/oidc/callback")
        srv.start()
    except BaseException:
        prov.close()
        raise
    return prov, srv


def standalone_sso_console(mock):
    prov, srv = sso_server(mock, trust=True)
    try:
        seen = browser(srv, "alice", "admin")
        assert seen["actor"] == "sso:alice@example.com", seen
        # the key made in the console is an admin key, and its creation is
        # audited with the SSO identity
        s, _, b = curl(srv.url + "/key/list", headers=auth(seen["newKey"]))
        assert s == 200, (s, b)
        s, _, b = curl(srv.url + "/audit", headers=auth(srv.master))
        rows = json.loads(b)
        rows = rows.get("data", rows) if isinstance(rows, dict) else rows
        assert any(r.get("actor") == "sso:alice@example.com" and r.get("action") == "generate"
                   for r in rows), rows
        seen = browser(srv, "bob", "denied")
        s, _, b = curl(srv.url + "/audit", headers=auth(srv.master))
        assert b"sso:bob@example.com" in b and b"console_sso" in b, b[-1500:]
    finally:
        srv.stop()
        prov.close()


def standalone_sso_console_untrusted(mock):
    # the same Apache, but maskgate is not told to trust it: no console
    prov, srv = sso_server(mock, trust=False)
    try:
        browser(srv, "alice", "untrusted")
    finally:
        srv.stop()
        prov.close()


def standalone_sso_header_spoof(mock):
    # lighttpd, trust configured: an identity sent as a request header is
    # HTTP_OIDC_CLAIM_EMAIL to maskgate, never OIDC_CLAIM_email
    srv = harness.Lighttpd(mock, **TRUST).start()
    try:
        s, h, _ = curl(srv.url + "/ui/keys", headers={"OIDC_CLAIM_email": "eve@example.com",
                                                      "OIDC_CLAIM_groups": "maskgate-admins"})
        assert s == 303 and h["location"] == "/ui/login", (s, h)
    finally:
        srv.stop()
    # and a setting naming a header is refused at start
    env = dict(os.environ)
    env.update(harness.maskgate_env(harness.tmpdir(), mock.url, **dict(
        TRUST, MASKGATE_CONSOLE_TRUST_USER="HTTP_X_USER")))
    p = subprocess.run([harness.FCGI, "--check"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "HTTP_" in p.stderr + p.stdout, (p.returncode, p.stderr)
    # half the trust settings, or a JWKS without issuer and audience, stop the start too
    for extra, word in (({"MASKGATE_CONSOLE_TRUST_USER": "OIDC_CLAIM_email"},
                         "MASKGATE_CONSOLE_TRUST_GROUPS"),
                        ({"MASKGATE_JWT_JWKS_URL": "http://127.0.0.1:9/jwks"},
                         "MASKGATE_JWT_AUDIENCE"),
                        ({"MASKGATE_JWT_JWKS_URL": "http://127.0.0.1:9/jwks",
                          "MASKGATE_JWT_ISSUER": "x", "MASKGATE_JWT_AUDIENCE": "y",
                          "MASKGATE_JWT_ALG": "HS256"}, "RS256")):
        env = dict(os.environ)
        env.update(harness.maskgate_env(harness.tmpdir(), mock.url, **extra))
        p = subprocess.run([harness.FCGI, "--check"], env=env, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode != 0 and word in p.stderr + p.stdout, (extra, p.stderr)


# ---------------------------------------------------------------- API tokens

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def code_flow(prov, client_id, secret, redirect, user, verifier=None):
    """The authorization-code + PKCE flow as a CLI helper would run it;
    returns the token endpoint's (status, JSON)."""
    good, challenge = mock_oidc.pkce_pair()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id,
                                "redirect_uri": redirect, "scope": "openid email groups",
                                "state": "st", "code_challenge": challenge,
                                "code_challenge_method": "S256"})
    with urllib.request.urlopen(prov.url + "/authorize?" + q, timeout=10) as r:
        assert r.status == 200
    form = {k: urllib.parse.quote(v, safe="") for k, v in urllib.parse.parse_qsl(q)}
    form["user"] = user
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(prov.url + "/authorize", urllib.parse.urlencode(form).encode(), timeout=10)
        raise AssertionError("no redirect from /authorize")
    except urllib.error.HTTPError as e:
        assert e.code == 302, e.code
        loc = e.headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]
    return token_call(prov, client_id, secret, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "code_verifier": verifier if verifier is not None else good})


def token_call(prov, client_id, secret, form):
    form = dict(form, client_id=client_id, client_secret=secret)
    try:
        with urllib.request.urlopen(prov.url + "/token", urllib.parse.urlencode(form).encode(),
                                    timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ask(srv, token, model=MODEL):
    body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    return curl(srv.url + "/v1/messages", method="POST",
                headers={"authorization": "Bearer " + token, "content-type": "application/json",
                         "anthropic-version": "2023-06-01"}, data=body)


def standalone_sso_api_tokens(mock):
    redirect = "http://127.0.0.1:1/cb"
    prov = mock_oidc.Provider({"claude-cli": {"secret": "s3cret", "redirect_uris": [redirect]}})
    other = mock_oidc.Provider({"claude-cli": {"secret": "s3cret", "redirect_uris": [redirect]}},
                               issuer_suffix="/other")
    prov.start()
    other.start()
    try:
        srv = harness.Lighttpd(mock, MASKGATE_JWT_JWKS_URL=prov.url + "/jwks",
                               MASKGATE_JWT_ISSUER=prov.issuer, MASKGATE_JWT_AUDIENCE="maskgate",
                               MASKGATE_JWT_USER_CLAIM="email", MASKGATE_JWT_TEAM_CLAIM="team",
                               MASKGATE_JWT_GROUPS_CLAIM="groups",
                               MASKGATE_JWT_GROUP_MODELS="devs=claude-sonnet-*;"
                               "maskgate-admins=*",
                               MASKGATE_JWT_JWKS_REFRESH="10s").start()
        # PKCE is checked: the wrong verifier gets no token
        s, o = code_flow(prov, "claude-cli", "s3cret", redirect, "bob", verifier="x" * 43)
        assert s == 400 and o["error"] == "invalid_grant", (s, o)
        s, o = code_flow(prov, "claude-cli", "s3cret", redirect, "bob")
        assert s == 200 and o["access_token"].count(".") == 2, (s, o)
        s, h, b = ask(srv, o["access_token"])
        assert s == 200, (s, b)
        # groups map to models: bob (devs) may not use opus
        s, _, b = ask(srv, o["access_token"], model="claude-opus-4-1")
        assert s == 403, (s, b)
        # the refreshed token works too
        s, o2 = token_call(prov, "claude-cli", "s3cret", {"grant_type": "refresh_token",
                                                         "refresh_token": o["refresh_token"]})
        assert s == 200 and ask(srv, o2["access_token"])[0] == 200, (s, o2)
        # spend is recorded under the token's user
        s, _, b = curl(srv.url + "/spend/logs", headers=auth(srv.master))
        assert b"bob@example.com" in b, b[-800:]
        # expired: the provider issues a token that has already run out
        prov.access_lifetime = -120
        s, oe = code_flow(prov, "claude-cli", "s3cret", redirect, "bob")
        prov.access_lifetime = 300
        s, _, b = ask(srv, oe["access_token"])
        assert s == 401 and "expired" in assert_envelope(b, "authentication_error")["error"][
            "message"], (s, b)
        # another issuer (its own keys): refused, and a burst of such tokens
        # costs the provider at most one JWKS fetch per refresh interval
        foreign = other.access_token("bob")
        before = prov.jwks_fetches
        for _ in range(5):
            s, _, b = ask(srv, foreign)
            assert s == 401, (s, b)
        assert prov.jwks_fetches - before <= 2, (before, prov.jwks_fetches)
        # a token signed by the right key but naming another issuer
        fake = other.keys[0]
        prov.keys.append(fake)
        time.sleep(10.5)
        claims = {"iss": other.issuer, "sub": "bob", "email": "bob@example.com",
                  "groups": ["devs"], "aud": "maskgate", "iat": int(time.time()),
                  "exp": int(time.time()) + 300}
        s, _, b = ask(srv, fake.sign(claims))
        assert s == 401 and "issuer" in b.decode(), (s, b)
        prov.keys.remove(fake)
        # rotation: the provider's new key (new kid) is fetched and used
        kid = prov.rotate(drop_old=True)
        fresh = prov.access_token("alice")
        assert kid in json.dumps(prov.keys[0].jwk())
        time.sleep(10.5)    # past MASKGATE_JWT_JWKS_REFRESH since the last fetch
        before = prov.jwks_fetches
        s, _, b = ask(srv, fresh, model="claude-opus-4-1")   # alice: admins, all models
        assert s == 200, (s, b)
        assert prov.jwks_fetches > before, "the new kid did not trigger a JWKS fetch"
        srv.stop()
    finally:
        prov.close()
        other.close()


def standalone_sso_claude_code(mock):
    """The real Claude Code CLI with an apiKeyHelper printing the provider's
    token (the documented SSO setup): its request goes through; once the
    developer is over a spend cap, Claude Code prints the gateway's message
    with the cap's period, reset time and the operator's words."""
    import test_clients
    prov = mock_oidc.Provider({"claude-cli": {"secret": "s3cret", "redirect_uris": []}})
    prov.start()
    try:
        srv = harness.Lighttpd(mock, MASKGATE_JWT_JWKS_URL=prov.url + "/jwks",
                               MASKGATE_JWT_ISSUER=prov.issuer, MASKGATE_JWT_AUDIENCE="maskgate",
                               MASKGATE_JWT_USER_CLAIM="email",
                               MASKGATE_SPEND_LIMIT_MESSAGE="ask #platform for more").start()
        home = harness.tmpdir("mg-cc-home-")
        work = harness.tmpdir("mg-cc-")
        token_file = os.path.join(home, "token")
        with open(token_file, "w") as f:
            f.write(prov.access_token("bob"))
        helper = os.path.join(home, "sso-token")
        with open(helper, "w") as f:
            f.write("#!/bin/sh\ncat %s\n" % token_file)
        os.chmod(helper, 0o755)
        os.makedirs(os.path.join(home, ".claude"))
        with open(os.path.join(home, ".claude", "settings.json"), "w") as f:
            json.dump({"apiKeyHelper": helper}, f)
        env = test_clients.claude_env(srv.url, "", home)
        del env["ANTHROPIC_API_KEY"]
        claude = os.path.join(CLIENTS, "node_modules", ".bin", "claude")
        argv = [claude, "-p", "Say hi.", "--model", MODEL]
        p = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "echo:" in p.stdout, (p.returncode, p.stdout[-1500:],
                                                           p.stderr[-1500:])
        s, _, b = curl(srv.url + "/spend/logs", headers=auth(srv.master))
        assert b"bob@example.com" in b, b[-600:]
        s, _, b = curl(srv.url + "/v1/organizations/spend_limits", method="POST",
                       headers=auth(srv.master), data={
                           "scope": {"type": "user", "user_id": "bob@example.com"},
                           "amount": "0", "period": "daily"})
        assert s == 200, b
        n = len(mock.requests)
        t0 = time.time()
        p = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        reset = time.strftime("%Y-%m-%d", time.gmtime((int(t0) // 86400 + 1) * 86400))
        assert p.returncode != 0, out[-1500:]
        assert "spend limit reached (daily; resets %s 00:00 UTC) ask #platform for more" % reset \
            in out, out[-1500:]
        # shown without retrying: no request reached the upstream
        assert len([r for r in mock.requests[n:] if r.path.startswith("/v1/messages")]) == 0
        assert time.time() - t0 < 60, "Claude Code retried the spend-limit 429"
        srv.stop()
    finally:
        prov.close()
