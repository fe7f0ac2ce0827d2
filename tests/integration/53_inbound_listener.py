#!/usr/bin/python3
"""The inbound listener never relays. hermod delivers one message to a
scripted receiver (tests/integration/smtpfault.py) to learn a real VERP
return path, then smtplib and raw sockets talk to inbound.listen:

- no AUTH offered, AUTH refused; any sender (<> included) may start;
- 550 5.7.1 for v@ext.example, v%ext.example@ours, ext.example!v@ours,
  v@ext.example@ours, "v@ext.example"@ours, a tampered VERP token, a VERP
  token moved to another domain, a feedback local part at the bounce domain
  of an unregistered domain, an address literal;
- 250 for the VERP address, the same in upper case, fbl@bounce.shop.test;
- pipelined RCPTs are answered in order (the checks run on a worker);
- a report is answered 250 only once it is a file in data_dir/inbound;
- a message over inbound.max_message_size is 552; a bare LF in DATA (SMTP
  smuggling) is 521 and the connection closes."""
import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hermodtest import Daemon, ROOT, done, free_port, tap  # noqa: E402

rx_port = free_port()
d = Daemon(submission_extra="trusted_networks = 127.0.0.0/8\ntrusted_account = shop",
           delivery=True,
           extra="tls = off\n[inbound]\nmax_message_size = 64K\n"
                 "[route *]\nrelay = 127.0.0.1:%d\ntls = off\n" % rx_port)
# [inbound] appears twice (listen from hermodtest, max_message_size here): both are read
rx_log = os.path.join(d.dir, "rx.log")
rx = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/integration/smtpfault.py"),
                       "--listen", "127.0.0.1:%d" % rx_port, "--log", rx_log])
d.cli("account", "create", "shop")
d.cli("domain", "add", "shop.test", "--account", "shop")
for _ in range(100):
    if os.path.exists(rx_log) and "ready" in open(rx_log).read():
        break
    time.sleep(0.1)
d.start()

try:
    with smtplib.SMTP("127.0.0.1", d.sub, timeout=10) as s:
        s.sendmail("app@shop.test", ["a@x.test"],
                   "From: app@shop.test\r\nTo: a@x.test\r\nSubject: hi\r\n\r\nhello\r\n")
    sent = True
except Exception as e:  # noqa: BLE001
    sent = str(e)
tap(sent is True, "a message submitted", sent)

verp = None
for _ in range(100):
    if os.path.exists(rx_log):
        for line in open(rx_log):
            e = json.loads(line)
            if e.get("ev") == "msg":
                verp = e["from"]
    if verp:
        break
    time.sleep(0.1)
tap(verp is not None and re.fullmatch(r"b-[0-9a-z]{20}-0-[0-9a-z]{16}@bounce\.shop\.test", verp),
    "the receiver saw a VERP return path", verp)
verp = verp or "b-00000000000000000000-0-0000000000000000@bounce.shop.test"
local, _, dom = verp.partition("@")
tampered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + dom
moved = local + "@bounce.evil.test"

s = smtplib.SMTP("127.0.0.1", d.inbound, timeout=10)
code, _ = s.ehlo("mx.ext.example")
tap(code == 250 and not s.has_extn("auth"), "EHLO: 250, no AUTH offered", s.esmtp_features)
code, msg = s.docmd("AUTH", "PLAIN AGFAYg==")
tap(code == 502, "AUTH refused 502", "%d %s" % (code, msg))
code, msg = s.docmd("MAIL", "FROM:<>")
tap(code == 250, "MAIL FROM:<> (a bounce) accepted", "%d %s" % (code, msg))

s.quit()


def rcpt(addr):
    """A fresh session each: the listener ends a session after
    submission.max_errors refusals, as it should."""
    with smtplib.SMTP("127.0.0.1", d.inbound, timeout=10) as c1:
        c1.ehlo("mx.ext.example")
        c1.docmd("MAIL", "FROM:<>")
        return c1.docmd("RCPT", "TO:<%s>" % addr)


refused = ["v@ext.example", "v%ext.example@bounce.shop.test", "ext.example!v@bounce.shop.test",
           "v@ext.example@bounce.shop.test", '"v@ext.example"@bounce.shop.test', tampered, moved,
           "fbl@bounce.unregistered.test", "fbl@[127.0.0.1]", "postmaster@mail.test.example",
           "b-@bounce.shop.test"]
for a in refused:
    code, msg = rcpt(a)
    tap(code == 550 and msg.startswith(b"5.7.1"), "RCPT %s: 550 5.7.1" % a, "%d %s" % (code, msg))
for a in [verp, verp.upper(), "fbl@bounce.shop.test", "ABUSE@Bounce.Shop.Test"]:
    code, msg = rcpt(a)
    tap(code == 250, "RCPT %s: 250" % a, "%d %s" % (code, msg))

# Pipelined: MAIL, a refused and an accepted RCPT, DATA in one write.
c = socket.create_connection(("127.0.0.1", d.inbound), timeout=10)
f = c.makefile("rb")


def reply():
    lines = []
    while True:
        ln = f.readline()
        if not ln:
            return lines
        lines.append(ln.decode().rstrip("\r\n"))
        if ln[3:4] == b" ":
            return lines


reply()
c.sendall(b"EHLO mx.ext.example\r\n")
reply()
c.sendall(b"MAIL FROM:<>\r\nRCPT TO:<v@ext.example>\r\nRCPT TO:<" + verp.encode() + b">\r\nDATA\r\n")
codes = [reply()[-1][:3] for _ in range(4)]
tap(codes == ["250", "550", "250", "354"], "pipelined replies in order", codes)
report = ("From: MAILER-DAEMON@mx.ext.example\r\nTo: %s\r\nSubject: Undelivered Mail\r\n"
          "Message-ID: <bounce-1@mx.ext.example>\r\n\r\nnot a real report\r\n" % verp)
inbound_dir = os.path.join(d.dir, "var", "inbound")
before = sum(len(fs) for _, _, fs in os.walk(inbound_dir))
c.sendall(report.encode() + b".\r\n")
r = reply()[-1]
after_files = [os.path.join(p, x) for p, _, fs in os.walk(inbound_dir) for x in fs]
stored = any(open(p, "rb").read().find(b"bounce-1@mx.ext.example") >= 0 for p in after_files)
tap(r.startswith("250"), "the report is acknowledged", r)
# processed reports are removed, unmapped ones kept: either way it was a file first
tap(stored or before < len(after_files) or
    any("bounce-1@mx.ext.example" in ln or "report received" in ln for ln in d.read_log().splitlines()),
    "the report reached data_dir/inbound", after_files)
for _ in range(50):
    if '"report received"' in d.read_log() or "report received" in d.read_log():
        break
    time.sleep(0.1)
tap("report received" in d.read_log(), "log: report received")

# Too large: inbound.max_message_size = 64K.
c.sendall(b"MAIL FROM:<>\r\nRCPT TO:<" + verp.encode() + b">\r\nDATA\r\n")
codes = [reply()[-1][:3] for _ in range(3)]
big = (b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 80)
c.sendall(big + b".\r\n")
r = reply()[-1]
tap(codes == ["250", "250", "354"] and r.startswith("552"), "over max_message_size: 552", (codes, r))

# SMTP smuggling: a bare LF before the dot ends nothing; the session is refused.
c.sendall(b"MAIL FROM:<>\r\nRCPT TO:<" + verp.encode() + b">\r\nDATA\r\n")
codes = [reply()[-1][:3] for _ in range(3)]
c.sendall(b"Subject: smuggle\r\n\r\nhello\n.\nMAIL FROM:<x@ext.example>\r\n.\r\n")
r = reply()
tap(codes == ["250", "250", "354"] and r and r[-1].startswith("521"), "bare LF in DATA: 521", (codes, r))
tap(f.read() == b"", "and the connection is closed")
c.close()

# A report a crash left in inbound/new is processed at the next start.
d.stop()
left = os.path.join(inbound_dir, "new", "00000000000000000001")
with open(left, "wb") as fh:
    fh.write(b"hermod-inbound 1\r\nclient 127.0.0.1\r\nhelo x\r\nfrom \r\nto fbl@bounce.shop.test\r\n\r\n"
             b"From: a@isp.example\r\nSubject: left over\r\n\r\nnot a report\r\n")
d.start()
moved = os.path.join(inbound_dir, "unmatched", "00000000000000000001")
for _ in range(100):
    if os.path.exists(moved):
        break
    time.sleep(0.1)
tap(os.path.exists(moved) and not os.path.exists(left), "a report left in new/ is processed at start")
d.stop()
rx.terminate()
rx.wait()
done()
