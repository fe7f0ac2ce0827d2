#!/usr/bin/python3
"""Crash safety: while clients submit steadily, kill -9 the daemon several
times and restart it. Every message that got its 250 must be queued
afterwards, and none twice (counted by Message-ID)."""
import os
import signal
import smtplib
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from hermodtest import Daemon, tap, done, wait_port  # noqa: E402

d = Daemon(submission_extra="""trusted_networks = 127.0.0.0/8
trusted_account = shop
max_connections_per_ip = 100
""")
d.setup_account()
d.start()

acked = []
lock = threading.Lock()
stop = threading.Event()


def client(n):
    while not stop.is_set():
        try:
            s = smtplib.SMTP("127.0.0.1", d.sub, timeout=5)
            s.ehlo("c%d" % n)
            while not stop.is_set():
                mid = "%s@crash.test" % uuid.uuid4().hex
                msg = ("From: app@shop.example\r\nTo: r@x.example\r\nMessage-ID: <%s>\r\n"
                       "Subject: crash\r\n\r\n%s\r\n" % (mid, ("x" * 76 + "\r\n") * 26))
                s.sendmail("app@shop.example", ["r@x.example"], msg)
                with lock:
                    acked.append(mid)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)


threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
for t in threads:
    t.start()
kills = 0
for round_ in range(4):
    time.sleep(2.5 + round_ * 0.37)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    kills += 1
    d.start()
time.sleep(2)
stop.set()
for t in threads:
    t.join(10)
time.sleep(0.5)
rc = d.stop()

d.start()
q = d.queue()
ids = [m.get("message_id") for m in q]
seen = {}
for i in ids:
    seen[i] = seen.get(i, 0) + 1
missing = [m for m in acked if m not in seen]
dups = [m for m, n in seen.items() if n > 1]
tap(len(acked) > 100, "clients got many 250s across %d kills (%d)" % (kills, len(acked)))
tap(not missing, "every acknowledged message is queued after kill -9 (%d missing)" % len(missing), missing[:5])
tap(not dups, "no message is queued twice (%d duplicates)" % len(dups), dups[:5])
tap(rc == 0, "the last daemon drained and exited 0")
done()
