#!/usr/bin/python3
"""Python's smtplib as the client: STARTTLS, AUTH LOGIN with an API key,
SMTPUTF8, 8BITMIME and the DSN parameters (RFC 3461: RET, ENVID, NOTIFY,
ORCPT), which must be kept with the queued message; a Message-ID added
when missing."""
import os
import smtplib
import ssl
import sys

sys.path.insert(0, os.path.dirname(__file__))
from hermodtest import Daemon, tap, done  # noqa: E402

d = Daemon(extra="[delivery]\nenabled = no\n")
key = d.setup_account()
d.start()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

s = smtplib.SMTP("127.0.0.1", d.sub, timeout=10)
s.ehlo("client.test")
tap(s.has_extn("starttls") and not s.has_extn("auth"), "before TLS: STARTTLS offered, AUTH not")
s.starttls(context=ctx)
s.ehlo("client.test")
tap(s.has_extn("auth") and "PLAIN" in s.esmtp_features["auth"] and s.has_extn("dsn")
    and s.has_extn("chunking") and s.has_extn("smtputf8") and s.has_extn("size"),
    "after TLS: AUTH PLAIN LOGIN, DSN, CHUNKING, SMTPUTF8, SIZE", s.esmtp_features)
s.login("shop", key)
msg = "From: Shop <app@shop.example>\r\nTo: a@x.example\r\nSubject: dsn\r\n\r\nhello\r\n"
refused = s.sendmail("app@shop.example", ["a@x.example", "b@y.example"], msg,
                     mail_options=["RET=HDRS", "ENVID=order+2B42"],
                     rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+40x.example"])
tap(refused == {}, "message with DSN parameters accepted")
umsg = "From: app@shop.example\r\nTo: =?utf-8?q?J=C3=B6rg?= <j\u00f6rg@b\u00fccher.example>\r\nSubject: utf8\r\n\r\nk\u00e4se\r\n"
refused = s.sendmail("app@shop.example", ["j\u00f6rg@b\u00fccher.example"], umsg.encode("utf-8"),
                     mail_options=["SMTPUTF8", "BODY=8BITMIME"])
tap(refused == {}, "SMTPUTF8 recipient and 8-bit body accepted")
s.quit()

q = {m["message_id"] and m["recipients"][0]["email"]: m for m in d.queue()}
m = q.get("a@x.example")
ok = m is not None and m.get("envid") == "order+2B42" and m.get("ret") == "HDRS"
r = m["recipients"] if m else []
ok = ok and len(r) == 2 and r[0].get("notify") == ["SUCCESS", "FAILURE"] and r[0].get("orcpt") == "rfc822;a+40x.example"
tap(ok, "RET, ENVID, NOTIFY and ORCPT are kept with the message", m)
m = q.get("j\u00f6rg@b\u00fccher.example")
tap(m is not None and m.get("smtputf8") is True and m.get("8bitmime") is True, "SMTPUTF8 and 8BITMIME kept", m)
tap(all(x["message_id"] and x["message_id"].endswith("@mail.test.example") for x in q.values()),
    "a Message-ID was added to messages without one", [x["message_id"] for x in q.values()])
tap(d.stop() == 0, "daemon exits 0")
done()
