#!/usr/bin/python3
"""webhook_receiver: a Standard Webhooks receiver for the integration tests
(not a test itself). It listens on a loopback address, verifies EVERY
request's signature on its own (hmac, hashlib, base64: the algorithm of the
Standard Webhooks specification, not hermod's code), and records each
request as one JSON line: webhook-id, timestamp, whether the signature and
the timestamp verified, the event's id/type/message_id, and the status it
answered. The status to answer is read from a control file at every request
(200 by default; e.g. 500 to play an endpoint that is failing, 410 Gone,
or "redirect URL" for a 307 to URL).

  webhook_receiver.py --listen 127.0.0.2:PORT --secret-file F --log F [--control F]
                      [--tls CERT KEY]
"""
import argparse
import base64
import hashlib
import hmac
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--secret-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--control")
ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
args = ap.parse_args()
lock = threading.Lock()


def verify(secret, msg_id, ts, body, sig_header):
    """The Standard Webhooks check: HMAC-SHA256 keyed with the base64-decoded
    secret after whsec_, over id.timestamp.body, any of the space-separated
    v1 signatures matching in constant time."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in sig_header.split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # one write per answer would do, but http.server writes the head
        # and the body apart: without this, Nagle and delayed ACKs add 40 ms
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        status, location = 200, None
        if args.control:
            try:
                ctl = open(args.control).read().strip() or "200"
                if ctl.startswith("redirect "):   # "redirect URL": 307 to URL
                    status, location = 307, ctl.split(None, 1)[1]
                else:
                    status = int(ctl)
            except (OSError, ValueError):
                status = 200
        try:
            secret = open(args.secret_file).read().strip()
        except OSError:
            secret = ""
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        sig = self.headers.get("webhook-signature", "")
        rec = {"id": msg_id, "ts": ts, "path": self.path, "status": status,
               "sig_ok": bool(secret) and verify(secret, msg_id, ts, body, sig),
               "ts_ok": ts.isdigit() and abs(time.time() - int(ts)) < 300,
               "ctype": self.headers.get("Content-Type", "")}
        try:
            ev = json.loads(body)
            rec.update(ev_id=ev.get("id"), type=ev.get("type"), message_id=ev.get("message_id"),
                       recipient=ev.get("recipient"), account=ev.get("account"))
        except ValueError:
            rec["bad_json"] = True
        with lock:
            with open(args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


host, port = args.listen.rsplit(":", 1)
srv = ThreadingHTTPServer((host, int(port)), Handler)
if args.tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls[0], args.tls[1])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
