#!/usr/bin/python3
"""Hostile SMTP input, as raw bytes over a socket: smuggling (every would-be
end-of-data that is not CRLF.CRLF), STARTTLS command injection, protocol
synchronisation, oversized lines, bad parameters and addresses, floods, limits.
Nothing hostile may ever be queued; the session answers or closes."""
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from hermodtest import Daemon, Raw, tap, done  # noqa: E402

d = Daemon(submission_extra="""trusted_networks = 127.0.0.1/32
trusted_account = shop
greet_pause = 300ms
max_errors = 6
max_junk_commands = 20
max_connections_per_ip = 30
max_recipients = 5
auth_failures_per_minute = 3
""")
d.setup_account()
d.start()


def queued():
    return d.read_log().count('"component":"smtp.accept"')


def session(src="127.0.0.1", ehlo=True):
    r = Raw.__new__(Raw)
    r.s = socket.create_connection(("127.0.0.1", d.sub), timeout=10, source_address=(src, 0))
    r.buf = b""
    r.greeting = r.reply()
    if ehlo:
        r.cmd("EHLO client.test")
    return r


HDR = b"From: app@shop.example\r\nTo: v@x.example\r\nSubject: t\r\n\r\nfirst message\r\n"
SMUGGLED = (b"MAIL FROM:<app@shop.example>\r\nRCPT TO:<victim@x.example>\r\nDATA\r\n"
            b"From: app@shop.example\r\n\r\nsmuggled\r\n")

# --- SMTP smuggling --------------------------------------------------------
variants = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n",
            b"\r\n\x00.\r\n", b"\r\n.\r\r\n", b"\r\n.\n", b"\n.\n\r\n"]
for v in variants:
    before = queued()
    r = session()
    r.cmd("MAIL FROM:<app@shop.example>")
    r.cmd("RCPT TO:<v@x.example>")
    code, _ = r.cmd("DATA")
    r.send(HDR[:-2] + v + SMUGGLED + b".\r\n")
    replies = []
    for _ in range(6):
        c, t = r.reply()
        if c is None:
            break
        replies.append((c, t))
    time.sleep(0.2)
    accepted = [x for x in replies if x[0] == 250]
    rejected = [x for x in replies if x[0] and x[0] >= 500]
    tap(code == 354 and not accepted and rejected and queued() == before,
        "smuggling %r: rejected, nothing queued" % v, "replies: %r" % replies)
    r.close()

# A bare LF inside a body line.
r = session()
r.cmd("MAIL FROM:<app@shop.example>"); r.cmd("RCPT TO:<v@x.example>"); r.cmd("DATA")
before = queued()
r.send(HDR + b"line with bare\nLF\r\n.\r\n")
c, t = r.reply()
tap(c is not None and c >= 500 and queued() == before, "bare LF in DATA is refused", t)
r.close()

# "\r\r\n" is not a CRLF in a command either.
r = session()
c, t = r.cmd(b"NOOP\r")
tap(c == 500, "CR CR LF after a command is a bare CR: 500", t)
r.close()

# --- STARTTLS injection (CVE-2011-0411) -----------------------------------
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", d.sub), timeout=10)
r = Raw.__new__(Raw); r.s = raw; r.buf = b""; r.reply()
r.cmd("EHLO client.test")
r.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<app@shop.example>\r\n")
c, t = r.reply()
tls = ctx.wrap_socket(raw, server_hostname="mail.test.example")
r2 = Raw.__new__(Raw); r2.s = tls; r2.buf = b""
c2, t2 = r2.cmd("EHLO client.test")
tap(c == 220 and c2 == 250 and "mail.test.example" in t2.splitlines()[0],
    "commands pipelined after STARTTLS are discarded, not run inside TLS", "%r / %r" % (t, t2))
c3, t3 = r2.cmd("STARTTLS")
tap(c3 == 554 and "5.5.1" in t3, "a second STARTTLS is 554 5.5.1", t3)
c4, t4 = r2.cmd("AUTH PLAIN " + __import__("base64").b64encode(b"\0shop\0wrong").decode())
tap(c4 == 535, "AUTH is offered after TLS and a bad key is 535", t4)
tls.close()

# --- protocol synchronisation ---------------------------------------------
s = socket.create_connection(("127.0.0.1", d.sub), timeout=10)
s.sendall(b"EHLO early.test\r\n")
r = Raw.__new__(Raw); r.s = s; r.buf = b""
c, t = r.reply()
tap(c == 554 and "5.5.0" in t and r.closed(), "talking before the greeting: 554 5.5.0 and close", t)

r = session(ehlo=False)
r.cmd("HELO client.test")
r.send(b"MAIL FROM:<app@shop.example>\r\nRCPT TO:<v@x.example>\r\n")
replies = [r.reply(), r.reply()]
tap(any(c == 554 for c, _ in replies) and r.closed(), "pipelining without EHLO: 554 5.5.0", replies)

r = session()
r.send(b"NOOP\r\nNOOP\r\n")
replies = [r.reply(), r.reply()]
tap(replies[1][0] == 554 and "5.5.0" in replies[1][1], "commands after NOOP in one group: 554 5.5.0", replies)
r.close()

r = session()
r.send(b"MAIL FROM:<app@shop.example>\r\nRCPT TO:<v@x.example>\r\nDATA\r\n")
replies = [r.reply() for _ in range(3)]
r.send(HDR + b".\r\n")
c, t = r.reply()
tap([x[0] for x in replies] == [250, 250, 354] and c == 250, "proper PIPELINING is accepted", replies + [(c, t)])
r.close()

# --- parameters and addresses ----------------------------------------------
bad_mail = [
    (b"MAIL FROM:<;sleep 66;>", "CVE-2020-7247 shell-like local part"),
    (b"MAIL FROM:<app@shop.example> ENVID=a\x00b", "NUL in an ESMTP parameter"),
    (b"MAIL FROM:<a..b@shop.example>", "double dot local part"),
    (b"MAIL FROM:<app@shop.example> BODY=8BITMIME\x01", "control byte in a parameter"),
    (b"MAIL FROM:<\"a\x00\"@shop.example>", "NUL in a quoted local part"),
    (b"MAIL FROM:<app@shop.example", "unterminated path"),
    (b"MAIL FROM:<" + b"a" * 65 + b"@shop.example>", "local part over 64 octets"),
    (b"MAIL FROM:<app@shop.example> FOO=bar", "unknown parameter"),
    (b"MAIL FROM:<app@shop.example> RET=SOME", "bad RET"),
    (b"MAIL FROM:<app@shop.example> SIZE=99999999999", "SIZE over the limit"),
]
for line, name in bad_mail:
    r = session()
    c, t = r.cmd(line)
    tap(c is not None and 500 <= c < 600, "refused: " + name, t)
    r.close()

r = session()
c, t = r.cmd("MAIL FROM:<app@shop.example> SIZE=99999999999")
tap(c == 552 and "5.3.4" in t, "SIZE over max_message_size is 552 5.3.4", t)
r.cmd("MAIL FROM:<app@shop.example>")
for i in range(5):
    r.cmd("RCPT TO:<r%d@x.example>" % i)
c, t = r.cmd("RCPT TO:<r9@x.example>")
tap(c == 452 and "4.5.3" in t, "too many recipients: 452 4.5.3", t)
c, t = r.cmd("RCPT TO:<bad@@x.example>")
tap(c == 501, "bad recipient address: 501", t)
c, t = r.cmd("RCPT TO:<a@x.example> NOTIFY=NEVER,SUCCESS")
tap(c == 501, "NOTIFY=NEVER with others: 501", t)
r.close()

r = session(src="127.0.0.2")
c, t = r.cmd("MAIL FROM:<app@shop.example>")
tap(c == 530 and "5.7.0" in t, "untrusted client, MAIL before AUTH: 530 5.7.0", t)
c, t = r.cmd("AUTH PLAIN AGFiYwBkZWY=")
tap(c == 538 and "5.7.11" in t, "AUTH before TLS: 538 5.7.11", t)
r.close()

# --- oversized lines ---------------------------------------------------------
def rss():
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

rss0 = rss()
for size in (1024, 65536, 10 * 1024 * 1024):
    r = session()
    r.send(b"NOOP " + b"x" * size + b"\r\n")
    c, t = r.reply()
    c2, t2 = r.cmd("NOOP")
    tap(c == 500 and "5.5.2" in t and c2 == 250, "command line of %d bytes: 500 5.5.2, session goes on" % size,
        "%r %r" % (t, t2))
    r.close()
grown = rss() - rss0
tap(grown < 64 * 1024, "memory stays bounded after a 10 MB line (RSS grew %d KiB)" % grown)

# --- header and body limits ------------------------------------------------
def one_message(body):
    r = session()
    r.cmd("MAIL FROM:<app@shop.example>"); r.cmd("RCPT TO:<v@x.example>"); r.cmd("DATA")
    r.send(body + b".\r\n")
    out = r.reply()
    r.close()
    return out

before = queued()
c, t = one_message(b"From: app@shop.example\r\nX-Long: " + b"a" * 1200 + b"\r\n\r\nbody\r\n")
tap(c == 500 and "5.5.6" in t, "a header line over 998 octets: 500 5.5.6", t)
c, t = one_message(b"From: app@shop.example\r\nX-Fold: a\r\n" + b" folded\r\n" * 5000 + b"\r\nbody\r\n")
tap(c is not None and c >= 500, "5,000 folded header lines are refused", t)
c, t = one_message(b"From: app@shop.example\r\n\r\nnul \x00 byte\r\n")
tap(c == 554, "a NUL byte in the message: 554", t)
c, t = one_message(b"Subject: no from\r\n\r\nbody\r\n")
tap(c == 550 and "5.6.0" in t, "no From: header: 550 5.6.0", t)
tap(queued() == before, "none of those was queued")

# BDAT (CHUNKING, RFC 3030)
r = session()
r.cmd("MAIL FROM:<app@shop.example>"); r.cmd("RCPT TO:<v@x.example>")
chunk1 = b"From: app@shop.example\r\nSubject: bdat\r\n\r\n"
chunk2 = b"line one\r\n.leading dot stays\r\n"
c1, t1 = r.cmd(b"BDAT %d" % len(chunk1) + b"\r\n" + chunk1[:-2])
c2, t2 = r.cmd(b"BDAT %d LAST" % len(chunk2) + b"\r\n" + chunk2[:-2])
tap(c1 == 250 and c2 == 250 and "queued as" in t2, "BDAT in two chunks is accepted", "%r %r" % (t1, t2))
c, t = r.cmd("MAIL FROM:<app@shop.example>")
r.cmd("RCPT TO:<v@x.example>")
bad = b"From: app@shop.example\r\n\r\nbare\nlf\r\n"
c, t = r.cmd(b"BDAT %d LAST" % len(bad) + b"\r\n" + bad[:-2])
tap(c is not None and c >= 500, "BDAT with a bare LF is refused", t)
r.close()

# --- floods and limits --------------------------------------------------------
r = session()
codes = [r.cmd("NOOP")[0] for _ in range(21)]
tap(codes[:20] == [250] * 20 and codes[20] == 421 and r.closed(),
    "NOOP flood: 421 after max_junk_commands (20)", codes[-3:])

r = session()
codes = [r.cmd("BOGUS %d" % i)[0] for i in range(6)]
c, t = r.reply()
tap(codes == [500] * 6 and c == 421 and r.closed(), "six bad commands (max_errors): 421 and close", codes + [c])

conns = []
for i in range(30):
    conns.append(session(ehlo=False))
extra = Raw.__new__(Raw)
extra.s = socket.create_connection(("127.0.0.1", d.sub), timeout=10)
extra.buf = b""
c, t = extra.reply()
tap(c == 421, "connection 31 from one address (max_connections_per_ip = 30): 421", t)
for x in conns + [extra]:
    x.close()
time.sleep(0.5)

# AUTH failures limited per client address.
codes = []
for i in range(5):
    raw = socket.create_connection(("127.0.0.1", d.subtls), timeout=10, source_address=("127.0.0.3", 0))
    tls = ctx.wrap_socket(raw, server_hostname="x")
    r = Raw.__new__(Raw); r.s = tls; r.buf = b""; r.reply()
    r.cmd("EHLO c")
    codes.append(r.cmd("AUTH PLAIN " + __import__("base64").b64encode(b"\0shop\0nope").decode())[0])
    r.close()
tap(codes[:3] == [535, 535, 535] and codes[3:] == [421, 421], "AUTH failures: 421 after 3 a minute", codes)

log = d.read_log()
tap("ERROR: AddressSanitizer" not in log and "runtime error" not in log, "no sanitizer report in the daemon log")
tap(d.stop() == 0, "daemon drains and exits 0")
done()
