#!/usr/bin/python3
"""smtpfault: a small scripted SMTP server for delivery tests (loopback only).

    smtpfault.py --listen 127.0.0.3:2525 --log FILE [--rules JSON] [--tls CERT KEY]

It speaks enough ESMTP for hermod's client (EHLO, HELO, STARTTLS, MAIL,
RCPT, DATA, RSET, NOOP, QUIT; PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
ENHANCEDSTATUSCODES advertised) and injects faults from RULES, a JSON object:

    {"greeting": ACTION, "ehlo": ACTION, "starttls": ACTION, "mail": ACTION,
     "rcpt": ACTION or {"ADDRESS": ACTION, ...}, "data": ACTION, "dot": ACTION,
     "offer_starttls": true, "no_esmtp": true, "no_pipelining": true,
     "no_smtputf8": true, "offer_auth": "PLAIN LOGIN", "once": true}

ACTION is a reply line ("550 5.1.1 No such user"), "drop" (close the
connection at once), "stall" (say nothing, keep the connection open),
"drop_mid_data" (for "dot": close after half of the message arrived),
"garbage" (send a hostile reply). With "once", faults apply to the first
connection and its first transaction only; later ones get normal replies
(for retry tests).

Every event is appended to LOG as one JSON line: {"ev": "msg", "from",
"rcpt": [...], "data": "..."} for each accepted message, {"ev": "cmd",
"line"} for each command, {"ev": "conn"} per connection. The process exits on
SIGTERM.
"""
import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time


TXN = [0]		# transactions seen, for "once"
TXN_LOCK = threading.Lock()


def log(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


class Session:
    def __init__(self, sock, args, rules, conn_no):
        self.sock = sock
        self.args = args
        self.rules = rules if (conn_no == 1 or not rules.get("once")) else {}
        self.buf = b""
        self.tls = False

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def act(self, stage, default, key=None):
        """Runs the rule for stage; True when the session must end."""
        a = self.rules.get(stage)
        if isinstance(a, dict):
            a = a.get(key)
        if a is None:
            self.send(default)
            return False
        if a == "drop":
            self.sock.close()
            return True
        if a == "stall":
            time.sleep(3600)
            return True
        if a == "garbage":
            self.sock.sendall(b"25O-what\r\nxyz\r\n")
            return False
        self.send(a)
        return a.startswith("421")

    def run(self):
        r = self.rules
        if self.act("greeting", "220 fault.test ESMTP"):
            return
        mail_from, rcpts, ok_rcpts = None, [], []
        while True:
            line = self.readline().decode("utf-8", "replace")
            log(self.args.log, {"ev": "cmd", "line": line, "tls": self.tls})
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                if r.get("no_esmtp"):
                    self.send("502 5.5.2 EHLO not implemented")
                    continue
                a = r.get("ehlo")
                if a is not None:
                    if self.act("ehlo", ""):
                        return
                    continue
                ext = ["250-fault.test", "250-SIZE 10240000", "250-8BITMIME", "250-ENHANCEDSTATUSCODES"]
                if not r.get("no_pipelining"):
                    ext.append("250-PIPELINING")
                if not r.get("no_smtputf8"):
                    ext.append("250-SMTPUTF8")
                if r.get("offer_starttls") and not self.tls:
                    ext.append("250-STARTTLS")
                if r.get("offer_auth"):
                    ext.append("250-AUTH " + r["offer_auth"])
                ext.append("250 HELP")
                self.sock.sendall(("\r\n".join(ext) + "\r\n").encode())
            elif verb == "HELO":
                self.send("250 fault.test")
            elif verb == "STARTTLS":
                a = r.get("starttls")
                if a == "fail_handshake":
                    self.send("220 2.0.0 go ahead")
                    self.sock.sendall(b"this is not a TLS record\r\n" * 4)
                    self.sock.close()
                    return
                if a is not None:
                    if self.act("starttls", ""):
                        return
                    continue
                if not self.args.tls:
                    self.send("454 4.7.0 TLS not available")
                    continue
                self.send("220 2.0.0 Ready to start TLS")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.args.tls[0], self.args.tls[1])
                self.sock = ctx.wrap_socket(self.sock, server_side=True)
                self.buf = b""
                self.tls = True
            elif verb == "MAIL":
                mail_from, rcpts, ok_rcpts = line[10:].split(">")[0].lstrip("<"), [], []
                with TXN_LOCK:
                    TXN[0] += 1
                    if r.get("once") and TXN[0] > 1:
                        self.rules = r = {}
                if self.act("mail", "250 2.1.0 Ok"):
                    return
            elif verb == "RCPT":
                addr = line[8:].split(">")[0].lstrip("<")
                rcpts.append(addr)
                a = r.get("rcpt")
                if isinstance(a, dict) and addr not in a:
                    a = None
                if a is None:
                    ok_rcpts.append(addr)
                    self.send("250 2.1.5 Ok")
                else:
                    if self.act("rcpt", "250 2.1.5 Ok", addr):
                        return
                    rule = a.get(addr) if isinstance(a, dict) else a
                    if rule.startswith("2"):
                        ok_rcpts.append(addr)
            elif verb == "DATA":
                if self.act("data", "354 End data with <CR><LF>.<CR><LF>"):
                    return
                a = r.get("data")
                if a is not None and not a.startswith("354"):
                    continue
                data = b""
                dot = r.get("dot")
                while True:
                    if dot == "drop_mid_data" and len(data) > 20:
                        self.sock.close()
                        return
                    l = self.readline()
                    if l == b".":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    data += l + b"\r\n"
                if dot not in (None, "drop_mid_data"):
                    if self.act("dot", ""):
                        return
                    if not dot.startswith("2"):
                        continue
                else:
                    self.send("250 2.0.0 Ok: queued")
                log(self.args.log, {"ev": "msg", "from": mail_from, "rcpt": ok_rcpts,
                                    "data": data.decode("utf-8", "surrogateescape"), "tls": self.tls})
            elif verb == "RSET":
                mail_from, rcpts, ok_rcpts = None, [], []
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            elif verb == "AUTH":
                parts = line.split(" ")
                if len(parts) >= 2 and parts[1].upper() == "LOGIN":
                    self.send("334 VXNlcm5hbWU6")
                    u = self.readline().decode()
                    self.send("334 UGFzc3dvcmQ6")
                    pw = self.readline().decode()
                    log(self.args.log, {"ev": "auth", "mech": "LOGIN", "user": u, "pass": pw})
                else:
                    log(self.args.log, {"ev": "auth", "mech": parts[1] if len(parts) > 1 else "",
                                        "resp": parts[2] if len(parts) > 2 else ""})
                self.send("235 2.7.0 Authentication successful")
            else:
                self.send("502 5.5.2 Error: command not recognized")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rules", default="{}")
    ap.add_argument("--tls", nargs=2)
    args = ap.parse_args()
    rules = json.loads(args.rules)
    host, port = args.listen.rsplit(":", 1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(64)
    log(args.log, {"ev": "ready"})
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        log(args.log, {"ev": "conn", "n": n})

        def serve(c=c, n=n):
            try:
                Session(c, args, rules, n).run()
            except (EOFError, OSError, ssl.SSLError):
                pass
            finally:
                try:
                    c.close()
                except OSError:
                    pass
        threading.Thread(target=serve, daemon=True).start()


if __name__ == "__main__":
    main()
