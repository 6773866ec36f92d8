"""A small OpenID Connect provider on loopback for the SSO tests.

Why not a Debian-packaged provider: glewlwyd (2.7) and lemonldap-ng (2.16)
are both in Debian 12, and both were checked for this harness. glewlwyd's
package configures itself through debconf/dbconfig as root, keeps its
configuration and signing keys under /etc/glewlwyd and registers users and
clients through its admin REST API behind an admin login; lemonldap-ng is a
Perl portal that needs its own web-server virtual host (or FastCGI server)
plus writable configuration and session stores under /var/lib. Either can
run unprivileged only after copying and rewriting its configuration, and
rotating a signing key means editing that configuration and restarting. A
provider written for the tests starts in milliseconds as the test user,
rotates its key on request, and lets a test ask for an expired token.

What it implements (Python stdlib, and python3-cryptography for RS256):
- discovery: /.well-known/openid-configuration
- JWKS: /jwks, RSA keys with kid; POST /test/rotate makes a new signing key
  (the old one stays published unless {"drop_old": true})
- authorization code with PKCE: /authorize shows a sign-in form (a user
  name from USERS), redirects back with code and state; /token verifies the
  client, the redirect_uri and the code_verifier against the S256
  code_challenge, once per code
- refresh: /token with grant_type=refresh_token (rotating refresh tokens)
- /userinfo with the access token
- POST /test/config {"access_token_lifetime": seconds} (negative: tokens
  already expired) for the tests

Tokens: the ID token (aud = the client id) and the access token (aud =
API_AUDIENCE, a JWT, what Claude Code sends as ANTHROPIC_AUTH_TOKEN) carry
sub, email, groups and team.
"""
import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

API_AUDIENCE = "maskgate"
USERS = {
    "alice": {"email": "alice@example.com", "groups": ["maskgate-admins", "devs"], "team": "infra"},
    "bob": {"email": "bob@example.com", "groups": ["devs"], "team": "web"},
}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class SigningKey:
    def __init__(self):
        self.kid = "k-" + secrets.token_hex(6)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        pub = self.key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": b64u_int(pub.n), "e": b64u_int(pub.e)}

    def sign(self, claims):
        head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        body = b64u(json.dumps(claims).encode())
        sig = self.key.sign(("%s.%s" % (head, body)).encode(), padding.PKCS1v15(),
                            hashes.SHA256())
        return "%s.%s.%s" % (head, body, b64u(sig))


class Provider:
    """One provider; start() serves it on a free loopback port."""

    def __init__(self, clients, issuer_suffix=""):
        # clients: {client_id: {"secret": ..., "redirect_uris": [...]}}
        self.clients = clients
        self.keys = [SigningKey()]
        self.codes = {}
        self.refresh = {}
        self.access_lifetime = 300
        self.suffix = issuer_suffix
        self.lock = threading.Lock()
        self.jwks_fetches = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.issuer = self.url + self.suffix
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------ tokens

    def rotate(self, drop_old=False):
        with self.lock:
            new = SigningKey()
            self.keys = [new] if drop_old else [new] + self.keys
            return new.kid

    def mint(self, user, client_id, nonce=None, lifetime=None):
        u = USERS[user]
        now = int(time.time())
        life = self.access_lifetime if lifetime is None else lifetime
        base = {"iss": self.issuer, "sub": user, "email": u["email"], "groups": u["groups"],
                "team": u["team"], "iat": now if life > 0 else now + life - 60}
        idt = dict(base, aud=client_id, exp=now + 300)
        if nonce:
            idt["nonce"] = nonce
        at = dict(base, aud=API_AUDIENCE, exp=now + life, scope="openid email groups")
        with self.lock:
            signer = self.keys[0]
        rt = secrets.token_urlsafe(24)
        self.refresh[rt] = (user, client_id)
        return {"access_token": signer.sign(at), "id_token": signer.sign(idt),
                "refresh_token": rt, "token_type": "Bearer", "expires_in": life}

    def access_token(self, user, lifetime=None):
        """An access token as the token endpoint would issue (tests)."""
        return self.mint(user, next(iter(self.clients)), lifetime=lifetime)["access_token"]

    def discovery(self):
        return {"issuer": self.issuer,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "userinfo_endpoint": self.url + "/userinfo",
                "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "scopes_supported": ["openid", "email", "groups"],
                "claims_supported": ["sub", "email", "groups", "team"]}

    # ------------------------------------------------------------ HTTP

    def _handler(self):
        prov = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, obj=None, ctype="application/json", body=None, headers=None):
                data = body if body is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _form(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    return json.loads(raw or "{}")
                return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
                if u.path == prov.suffix + "/.well-known/openid-configuration" or \
                        u.path == "/.well-known/openid-configuration":
                    return self._send(200, prov.discovery())
                if u.path == "/jwks":
                    with prov.lock:
                        prov.jwks_fetches += 1
                        keys = [k.jwk() for k in prov.keys]
                    return self._send(200, {"keys": keys})
                if u.path == "/authorize":
                    return self._authorize_form(q)
                if u.path == "/userinfo":
                    return self._userinfo()
                return self._send(404, {"error": "not_found"})

            def _authorize_form(self, q):
                c = prov.clients.get(q.get("client_id"))
                if c is None or q.get("redirect_uri") not in c["redirect_uris"]:
                    return self._send(400, {"error": "invalid_client"})
                if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                        or not q.get("code_challenge"):
                    return self._send(400, {"error": "invalid_request",
                                            "error_description": "PKCE S256 required"})
                hidden = "".join('<input type="hidden" name="%s" value="%s">' % (
                    k, urllib.parse.quote(v, safe="")) for k, v in q.items())
                page = ("<!doctype html><html><head><title>Test IdP</title></head><body>"
                        "<form method=post action=/authorize>%s<label for=user>User</label>"
                        "<input id=user name=user><button type=submit>Sign in</button>"
                        "</form></body></html>") % hidden
                return self._send(200, ctype="text/html; charset=utf-8", body=page.encode())

            def _userinfo(self):
                auth = self.headers.get("Authorization", "")
                try:
                    claims = json.loads(base64.urlsafe_b64decode(
                        auth.split(" ", 1)[1].split(".")[1] + "=="))
                except (IndexError, ValueError):
                    return self._send(401, {"error": "invalid_token"})
                u = USERS.get(claims.get("sub"), {})
                return self._send(200, {"sub": claims.get("sub"), "email": u.get("email"),
                                        "groups": u.get("groups"), "team": u.get("team")})

            def do_POST(self):
                u = urllib.parse.urlsplit(self.path)
                f = self._form()
                if u.path == "/authorize":
                    q = {k: urllib.parse.unquote(v) for k, v in f.items()}
                    user = q.get("user")
                    if user not in USERS:
                        return self._send(403, {"error": "access_denied"})
                    code = secrets.token_urlsafe(24)
                    prov.codes[code] = {"user": user, "client_id": q["client_id"],
                                        "redirect_uri": q["redirect_uri"],
                                        "challenge": q["code_challenge"],
                                        "nonce": q.get("nonce"), "at": time.time()}
                    sep = "&" if "?" in q["redirect_uri"] else "?"
                    loc = q["redirect_uri"] + sep + urllib.parse.urlencode(
                        {"code": code, "state": q.get("state", "")})
                    return self._send(302, {}, headers={"Location": loc})
                if u.path == "/token":
                    return self._token(f)
                if u.path == "/test/rotate":
                    return self._send(200, {"kid": prov.rotate(bool(f.get("drop_old")))})
                if u.path == "/test/config":
                    prov.access_lifetime = int(f.get("access_token_lifetime", 300))
                    return self._send(200, {"ok": True})
                return self._send(404, {"error": "not_found"})

            def _client(self, f):
                cid, sec = f.get("client_id"), f.get("client_secret")
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
                    cid, sec = urllib.parse.unquote(cid), urllib.parse.unquote(sec)
                c = prov.clients.get(cid)
                if c is None or not secrets.compare_digest(c["secret"], sec or ""):
                    return None
                return cid

            def _token(self, f):
                cid = self._client(f)
                if cid is None:
                    return self._send(401, {"error": "invalid_client"})
                gt = f.get("grant_type")
                if gt == "authorization_code":
                    c = prov.codes.pop(f.get("code", ""), None)   # a code works once
                    if c is None or c["client_id"] != cid or time.time() - c["at"] > 120 \
                            or c["redirect_uri"] != f.get("redirect_uri"):
                        return self._send(400, {"error": "invalid_grant"})
                    verifier = f.get("code_verifier", "")
                    want = b64u(hashlib.sha256(verifier.encode()).digest())
                    if not verifier or not secrets.compare_digest(want, c["challenge"]):
                        return self._send(400, {"error": "invalid_grant",
                                                "error_description": "code_verifier"})
                    return self._send(200, prov.mint(c["user"], cid, c["nonce"]))
                if gt == "refresh_token":
                    r = prov.refresh.pop(f.get("refresh_token", ""), None)
                    if r is None or r[1] != cid:
                        return self._send(400, {"error": "invalid_grant"})
                    return self._send(200, prov.mint(r[0], cid))
                return self._send(400, {"error": "unsupported_grant_type"})

        return H


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    return verifier, b64u(hashlib.sha256(verifier.encode()).digest())
