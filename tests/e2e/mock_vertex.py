"""A mock Google Vertex AI endpoint and OAuth2 token endpoint.

The token endpoint checks the JWT bearer grant like Google does: RS256,
signature verified with the service account's public key by the openssl
command (independent of maskgate's libjwt), iss, aud, scope and lifetime.
The Vertex endpoint accepts only tokens it issued.
"""
import base64
import json
import os
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from harness import Recorded

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
EMAIL = "maskgate@gw-project.iam.gserviceaccount.com"


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def new_service_account(dirpath, token_uri):
    """Writes a service-account key file; returns (key path, public PEM path)."""
    priv = os.path.join(dirpath, "sa-private.pem")
    pub = os.path.join(dirpath, "sa-public.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    with open(priv) as f:
        pem = f.read()
    key = os.path.join(dirpath, "sa-key.json")
    with open(key, "w") as f:
        json.dump({"type": "service_account", "project_id": "gw-project",
                   "private_key_id": "k1", "private_key": pem, "client_email": EMAIL,
                   "token_uri": token_uri}, f)
    os.chmod(key, 0o644)
    os.chmod(dirpath, 0o755)
    return key, pub


def verify_rs256(token, pub_pem):
    head, claims, sig = token.split(".")
    with tempfile.NamedTemporaryFile() as s, tempfile.NamedTemporaryFile() as d:
        s.write(b64url(sig))
        s.flush()
        d.write((head + "." + claims).encode())
        d.flush()
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub_pem, "-signature",
                            s.name, d.name], capture_output=True)
    return p.returncode == 0, json.loads(b64url(head)), json.loads(b64url(claims))


class VertexMock:
    def __init__(self):
        self.requests, self.tokens, self.grant_errors = [], set(), []
        self.token_calls = 0
        self.pub = None            # public PEM path, set by the test module
        self.default = None
        self.fail_tokens = False
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                hd = {k.lower(): v for k, v in self.headers.items()}
                rec = Recorded(self.command, self.path, hd, body)
                if self.path == "/token":
                    return mock.send(self, *mock.token(rec))
                with mock.lock:
                    mock.requests.append(rec)
                if hd.get("authorization", "")[len("Bearer "):] not in mock.tokens:
                    return mock.send(self, 401, "application/json", json.dumps({"error": {
                        "code": 401, "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED"}}).encode())
                mock.send(self, *(mock.default or mock.echo)(rec))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, rec):
        with self.lock:
            self.token_calls += 1
        if self.fail_tokens:
            return 400, "application/json", b'{"error":"invalid_grant","error_description":"mock"}'
        form = parse_qs(rec.body.decode())
        why = None
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            why = "grant_type"
        else:
            ok, head, claims = verify_rs256(form["assertion"][0], self.pub)
            now = time.time()
            if not ok or head.get("alg") != "RS256":
                why = "signature"
            elif claims.get("iss") != EMAIL or claims.get("aud") != self.url + "/token" or \
                    claims.get("scope") != SCOPE:
                why = "claims %s" % claims
            elif not (claims["iat"] - 60 <= now <= claims["exp"]) or \
                    claims["exp"] - claims["iat"] > 3600:
                why = "lifetime"
        if why:
            with self.lock:
                self.grant_errors.append(why)
            return 400, "application/json", json.dumps({"error": "invalid_grant",
                                                        "error_description": why}).encode()
        tok = "ya29.mock-%d-%s" % (self.token_calls, os.urandom(6).hex())
        with self.lock:
            self.tokens.add(tok)
        return 200, "application/json", json.dumps({"access_token": tok, "expires_in": 3599,
                                                    "token_type": "Bearer"}).encode()

    def echo(self, rec):
        body = json.loads(rec.body or b"{}")
        if rec.path.endswith("count-tokens:rawPredict"):
            return 200, "application/json", json.dumps({"input_tokens": 42}).encode()
        text = "echo: " + json.dumps(body.get("messages", []))[:2000]
        if rec.path.endswith(":streamRawPredict"):
            from mock_bedrock import text_events
            out = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode())
                           for e in text_events([text[:10], text[10:]]))
            return 200, "text/event-stream; charset=utf-8", out
        return 200, "application/json", json.dumps({
            "id": "msg_vrtx", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}).encode()

    def send(self, h, status, ctype, out):
        h.send_response(status)
        h.send_header("content-type", ctype)
        h.send_header("content-length", str(len(out)))
        h.end_headers()
        h.wfile.write(out)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.grant_errors.clear()
        self.default = None
        self.fail_tokens = False

    def all_bytes(self):
        with self.lock:
            return b"\n".join(r.path.encode() + b"\n" + json.dumps(r.headers).encode() + b"\n"
                              + r.body for r in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
