#!/usr/bin/python3
"""SIGTERM while a client is in the middle of DATA: the drain lets that message
finish (250 only once it is durable), tells an idle session 421 4.3.2, takes
no new connection, exits 0, and the acknowledged message is in the queue after
a restart. A message whose DATA was never finished is not queued."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hermodtest import Daemon, Raw, tap, done  # noqa: E402

d = Daemon(submission_extra="""trusted_networks = 127.0.0.1/32
trusted_account = shop
""")
d.cli("account", "create", "shop")
d.cli("domain", "add", "shop.example", "--account", "shop")
d.start()


def open_data(mid):
    c = Raw(d.sub)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<app@shop.example>")
    c.cmd("RCPT TO:<r@dest.example>")
    code, _ = c.cmd("DATA")
    c.send(("From: app@shop.example\r\nTo: r@dest.example\r\nMessage-ID: <%s@shop.example>\r\n"
            "Subject: mid-data\r\n\r\nfirst half\r\n" % mid).encode())
    return c, code


busy, code = open_data("finished")
tap(code == 354, "DATA accepted: 354")
unfinished, _ = open_data("unfinished")
idle = Raw(d.sub)
idle.cmd("EHLO idle.test")

d.proc.send_signal(signal.SIGTERM)
code, text = idle.reply()
tap(code == 421 and "4.3.2" in text, "idle session told 421 4.3.2 on SIGTERM", text)
tap(idle.closed(), "idle session closed")

refused = False
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", d.sub), timeout=0.5).close()
        time.sleep(0.05)
    except OSError:
        refused = True
        break
tap(refused, "no new connection once draining")

busy.send(b"second half\r\n.\r\n")
code, text = busy.reply()
tap(code == 250, "the message in DATA finishes with 250 during the drain", text)
tap(busy.closed(), "then the session is closed")

# The unfinished one never completes: its client goes away.
unfinished.s.close()
try:
    rc = d.proc.wait(timeout=40)
except Exception:
    rc = None
d.proc = None
tap(rc == 0, "serve exits 0 after draining", "rc=%r" % rc)

d.start()
q = d.queue()
mids = sorted(m.get("message_id") for m in q)
tap(mids == ["finished@shop.example"], "after restart exactly the acknowledged message is queued",
    repr(mids))
d.stop()
done()
