"""A mock Amazon Bedrock runtime for the end-to-end tests.

Every request's SigV4 signature is checked with botocore's own signer
(python3-botocore), an implementation independent of maskgate's; a bad or
missing signature gets the 403 InvalidSignatureException Bedrock sends.
Bearer requests (Bedrock API keys) are checked against `api_key`.
Streams are real event-stream frames, framed here with struct + zlib.
"""
import base64
import json
import socket
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import Recorded

ACCESS_KEY = "AKIAMOCKBEDROCK00001"
SECRET_KEY = "mockSecretKey/For+Bedrock0123456789abcdef"
REGION = "us-east-1"


def frame(headers, payload):
    """One event-stream message: string headers, payload, both CRCs."""
    h = b""
    for k, v in headers.items():
        v = v.encode()
        h += bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v
    total = 16 + len(h) + len(payload)
    prelude = struct.pack(">II", total, len(h))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + h + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def chunk_frame(event):
    data = json.dumps(event, separators=(",", ":")).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode(), "p": "abcdefghij"}).encode()
    return frame({":event-type": "chunk", ":content-type": "application/json",
                  ":message-type": "event"}, payload)


def exception_frame(kind, message):
    return frame({":exception-type": kind, ":content-type": "application/json",
                  ":message-type": "exception"}, json.dumps({"message": message}).encode())


def verify_sigv4(method, path, headers, body, secret, access=ACCESS_KEY):
    """None when the Authorization header is a valid SigV4 signature of
    this request, else the reason."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    try:
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        signed = parts["SignedHeaders"].split(";")
        scope = parts["Credential"].split("/")
    except (KeyError, ValueError):
        return "malformed Authorization"
    if scope[0] != access or scope[2] != REGION or scope[3] != "bedrock":
        return "wrong credential scope %s" % parts["Credential"]
    for need in ("host", "x-amz-date"):
        if need not in signed:
            return "%s not signed" % need
    if "x-amz-security-token" in headers and "x-amz-security-token" not in signed:
        return "session token not signed"
    token = headers.get("x-amz-security-token")
    req = AWSRequest(method=method, url="http://" + headers["host"] + path, data=body,
                     headers={h: headers.get(h, "") for h in signed})
    req.context["timestamp"] = headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(access, secret, token), "bedrock", REGION)
    want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    if want != parts.get("Signature"):
        return "signature mismatch"
    return None


def text_events(pieces, model="claude-sonnet-4-5", usage_out=7):
    ev = [{"type": "message_start", "message": {
        "id": "msg_bdrk01", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"}]
    for p in pieces:
        ev.append({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": p}})
    ev += [{"type": "content_block_stop", "index": 0},
           {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage_out}},
           {"type": "message_stop"}]
    return ev


class BedrockMock:
    """Recording mock; `script` holds callables(rec) -> (status, headers, body
    bytes or list of frames) used in order, then the echo default."""

    def __init__(self, session_token=None, api_key=None):
        self.requests, self.script, self.sig_errors = [], [], []
        self.session_token, self.api_key = session_token, api_key
        self.secret = SECRET_KEY     # a test changes it to see a refusal
        self.default = None          # callable(rec) replacing the echo
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                hd = {k.lower(): v for k, v in self.headers.items()}
                rec = Recorded(self.command, self.path, hd, body)
                with mock.lock:
                    mock.requests.append(rec)
                    step = mock.script.pop(0) if mock.script else None
                why = mock.check_auth(rec)
                if why is not None:
                    with mock.lock:
                        mock.sig_errors.append(why)
                    return mock.send(self, 403, {"x-amzn-errortype": "InvalidSignatureException"},
                                     json.dumps({"message": "The request signature we calculated "
                                                 "does not match the signature you provided (%s)"
                                                 % why}).encode())
                status, headers, out = (step or mock.default or mock.echo)(rec)
                mock.send(self, status, headers, out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check_auth(self, rec):
        if self.api_key is not None:
            if rec.headers.get("authorization") != "Bearer " + self.api_key:
                return "wrong bearer API key"
            return None
        if self.session_token is not None and \
                rec.headers.get("x-amz-security-token") != self.session_token:
            return "missing or wrong session token"
        return verify_sigv4(rec.method, rec.path, rec.headers, rec.body, self.secret)

    def model_of(self, rec):
        parts = rec.path.split("?")[0].split("/")
        return unquote(parts[2]) if len(parts) > 3 and parts[1] == "model" else None

    def echo(self, rec):
        body = json.loads(rec.body or b"{}")
        text = "echo: " + json.dumps(body.get("messages", []))[:2000]
        if rec.path.endswith("/invoke-with-response-stream"):
            return 200, {}, [chunk_frame(e) for e in text_events([text[:10], text[10:]])]
        return 200, {"x-amzn-bedrock-input-token-count": "10",
                     "x-amzn-bedrock-output-token-count": "5"}, json.dumps({
                         "id": "msg_bdrk00", "type": "message", "role": "assistant",
                         "model": self.model_of(rec) or "?",
                         "content": [{"type": "text", "text": text}],
                         "stop_reason": "end_turn", "stop_sequence": None,
                         "usage": {"input_tokens": 10, "output_tokens": 5}}).encode()

    def send(self, h, status, headers, out):
        h.send_response(status)
        h.send_header("x-amzn-requestid", "mock-req-0001")
        if isinstance(out, list):
            h.send_header("content-type", "application/vnd.amazon.eventstream")
            h.send_header("x-amzn-bedrock-content-type", "application/json")
            h.send_header("transfer-encoding", "chunked")
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            try:
                for piece in out:
                    if piece is None:      # cut the connection here
                        h.connection.shutdown(socket.SHUT_RDWR)
                        h.close_connection = True
                        return
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    h.wfile.flush()
                h.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            h.close_connection = True
            return
        h.send_header("content-type", headers.pop("content-type", "application/json"))
        h.send_header("content-length", str(len(out)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(out)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()
            self.sig_errors.clear()
        self.default = None

    def all_bytes(self):
        with self.lock:
            return b"\n".join(r.path.encode() + b"\n" + json.dumps(r.headers).encode() + b"\n"
                              + r.body for r in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
