#!/usr/bin/python3
"""Timeouts (RFC 5321 4.5.3.2 server side, all configurable): an idle client,
a client that sends one byte a second (the whole-session cap), a stalled DATA,
and many idle connections that do not block a good client."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from hermodtest import Daemon, Raw, tap, done  # noqa: E402

d = Daemon(submission_extra="""trusted_networks = 127.0.0.1/32
trusted_account = shop
command_timeout = 2s
data_timeout = 2s
session_timeout = 6s
max_connections_per_ip = 200
""")
d.setup_account()
d.start()

r = Raw(d.sub)
t0 = time.time()
c, t = r.reply()
el = time.time() - t0
tap(c == 421 and "4.4.2" in t and 1.5 < el < 5 and r.closed(), "idle client: 421 4.4.2 after command_timeout (%.1fs)" % el, t)

r = Raw(d.sub)
t0 = time.time()
c = None
for ch in b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP\r\n":
    try:
        r.send(bytes([ch]))
    except OSError:
        break
    time.sleep(1.0)
    if time.time() - t0 > 10:
        break
c, t = r.reply()
el = time.time() - t0
tap(c == 421 and el < 9, "one byte a second: cut by session_timeout (%.1fs)" % el, t)

r = Raw(d.sub)
r.cmd("EHLO c"); r.cmd("MAIL FROM:<app@shop.example>"); r.cmd("RCPT TO:<v@x.example>"); r.cmd("DATA")
r.send(b"From: app@shop.example\r\n\r\npartial")
t0 = time.time()
c, t = r.reply()
el = time.time() - t0
tap(c == 421 and 1.5 < el < 5, "stalled DATA: 421 after data_timeout (%.1fs)" % el, t)
time.sleep(0.3)
tap(d.read_log().count('"component":"smtp.accept"') == 0, "the partial message was not queued")

idle = [socket.create_connection(("127.0.0.1", d.sub), timeout=10) for _ in range(150)]
r = Raw(d.sub)
c, t = r.cmd("EHLO c")
tap(c == 250, "150 idle connections do not block a good client", t)
for s in idle:
    s.close()
r.close()
tap(d.stop() == 0, "daemon exits 0")
done()
