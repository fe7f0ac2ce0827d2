#!/bin/bash
# Delivery end to end: swaks submits to hermod, hermod resolves the
# recipients' domains with a private dnsmasq and delivers to real receivers on
# loopback: Postfix's smtp-sink (-d writes what it receives) and the scripted
# server tests/integration/smtpfault.py (records exact bytes, injects faults).
# Checks: the copy received matches what was submitted byte for byte below
# the added Received: header; a rejected recipient bounces, with an RFC 3464
# DSN to the return path; a null MX bounces 556 5.1.10; `hermod queue flush`
# retries a deferred message at once; SIGTERM drains and exits 0.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null && command -v smtp-sink >/dev/null || { echo "dnsmasq or smtp-sink missing"; exit 77; }
DNS_PORT=$(free_port)
SINK_PORT=$(free_port)
mkdir -p "$T/sink"
chmod 711 "$T"		# smtp-sink writes as nobody
chmod 777 "$T/sink"

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=sink.test,mx.sink.test,10 --host-record=mx.sink.test,127.0.0.1 \
	--mx-host=exact.test,mx.exact.test,10 --host-record=mx.exact.test,127.0.0.9 \
	--mx-host=shop.test,mx.shop.test,10 --host-record=mx.shop.test,127.0.0.9 \
	--mx-host=flush.test,mx.flush.test,10 --host-record=mx.flush.test,127.0.0.10 \
	--dns-rr=nullmx.test,15,000000 >"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
smtp-sink -u nobody -d "$T/sink/%M." -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.9:"$SINK_PORT" --log "$T/exact.log" \
	--rules '{"rcpt": {"bad@exact.test": "550 5.1.1 <bad@exact.test>: Recipient address rejected: User unknown"}}' &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.10:"$SINK_PORT" --log "$T/flush.log" \
	--rules '{"greeting": "421 4.3.2 Not now", "once": true}' &
PIDS+=($!)

DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $SINK_PORT
retry = 1h
connect_timeout = 3s
greeting_timeout = 3s"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
wait_port "$SINK_PORT" 10
for f in exact flush; do
	for i in $(seq 1 100); do grep -q ready "$T/$f.log" 2>/dev/null && break; sleep 0.1; done
done
start_daemon || exit 1

# A message with dot lines, a long line, 8-bit text: what the receiver gets
# must be these bytes, after hermod's Received: header.
/usr/bin/python3 - "$T/msg.eml" <<'PY'
import sys
lines = ["From: App <app@shop.test>", "To: a@sink.test, x@exact.test", "Subject: delivery test",
         "Date: Thu, 26 Nov 2026 18:00:00 +0000", "Message-ID: <e2e-1@shop.test>",
         "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: 8bit", "",
         "first line", ".a line starting with a dot", "..two dots", ".", " . ",
         "caf\u00e9 na\u00efve", "x" * 900, "last line"]
open(sys.argv[1], "wb").write(("\r\n".join(lines) + "\r\n").encode())
PY
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to a@sink.test,x@exact.test,bad@exact.test,n@nullmx.test --data "@$T/msg.eml" 2>&1)
check "swaks: accepted" grep -q '250 2.0.0 Ok: queued as' <<<"$out"

events() { grep '"component":"event"' "$T/serve.log"; }
wait_event() { # TYPE RECIPIENT
	for i in $(seq 1 100); do
		events | grep "\"type\":\"$1\"" | grep -q "\"recipient\":\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
check "delivered to the smtp-sink MX" wait_event delivered a@sink.test
check "delivered to the scripted MX" wait_event delivered x@exact.test
check "rejected recipient bounced" wait_event bounced bad@exact.test
check "null MX bounced" wait_event bounced n@nullmx.test
check "event: smtp reply and classification" bash -c "grep '\"type\":\"bounced\"' '$T/serve.log' | grep '\"recipient\":\"bad@exact.test\"' | grep -q '\"smtp\":{\"code\":550,\"enhanced\":\"5.1.1\".*\"bounce\":{\"class\":\"hard\",\"category\":\"bad-mailbox\"}'"
check "event: null MX is 556 5.1.10" bash -c "grep '\"recipient\":\"n@nullmx.test\"' '$T/serve.log' | grep -q '\"code\":556,\"enhanced\":\"5.1.10\"'"

# Byte for byte: strip hermod's trace header(s) at the top, compare the rest.
check "scripted MX got the exact bytes below Received:" /usr/bin/python3 - "$T/exact.log" "$T/msg.eml" <<'PY'
import json, sys
orig = open(sys.argv[2], "rb").read() + b"\r\n"	# swaks ends the data with one more CRLF
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("ev") == "msg" and "x@exact.test" in e["rcpt"]:
        got = e["data"].encode("utf-8", "surrogateescape")
        # drop the leading trace fields hermod added (Received:, DKIM-Signature:), folded lines included
        lines = got.split(b"\r\n")
        i = 0
        while i < len(lines) and lines[i].split(b":")[0].lower() in (b"received", b"dkim-signature"):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
        assert got.lower().startswith(b"received:") or b"\r\nreceived:" in got[:2000].lower(), got[:300]
        rest = b"\r\n".join(lines[i:])
        sys.exit(0 if rest == orig else 1)
sys.exit(1)
PY
check "smtp-sink copy matches (its dump has LF line ends)" /usr/bin/python3 - "$T/sink" "$T/msg.eml" <<'PY'
import os, sys
orig = (open(sys.argv[2], "rb").read() + b"\r\n").replace(b"\r\n", b"\n")
for f in os.listdir(sys.argv[1]):
    d = open(os.path.join(sys.argv[1], f), "rb").read()
    if b"X-Rcpt-Args: <a@sink.test>" not in d and b"a@sink.test" not in d.split(b"\n\n")[0]:
        continue
    i = d.find(b"\nReceived:")
    body = d[i + 1:]
    lines = body.split(b"\n")
    j = 0
    while j < len(lines) and lines[j].split(b":")[0].lower() in (b"received", b"dkim-signature"):
        j += 1
        while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
            j += 1
    rest = b"\n".join(lines[j:])
    sys.exit(0 if rest.rstrip(b"\n") == orig.rstrip(b"\n") else 1)
sys.exit(1)
PY

# The DSN for bad@exact.test went to app@shop.test (MX 127.0.0.9) from <>.
check "DSN delivered to the return path" wait_event delivered app@shop.test
check "DSN: null sender, multipart/report, the failed recipient" /usr/bin/python3 - "$T/exact.log" <<'PY'
import json, sys, email
for l in open(sys.argv[1]):
    e = json.loads(l)
    # one DSN per destination that failed: find the one for bad@exact.test
    if e.get("ev") == "msg" and e["rcpt"] == ["app@shop.test"] and "bad@exact.test" in e["data"]:
        assert e["from"] == "", e["from"]
        m = email.message_from_string(e["data"])
        assert m.get_content_type() == "multipart/report", m.get_content_type()
        assert m.get_param("report-type") == "delivery-status"
        parts = m.get_payload()
        ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
        assert ds, [p.get_content_type() for p in parts]
        txt = e["data"]
        assert "Final-Recipient: rfc822; bad@exact.test" in txt and "Status: 5.1.1" in txt, txt[:2000]
        assert "Action: failed" in txt and "Diagnostic-Code: smtp; 550 5.1.1" in txt
        sys.exit(0)
sys.exit(1)
PY

# flush: the first attempt meets a 421 greeting and waits an hour; queue
# flush retries it now.
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to f@flush.test --h-Subject flush 2>&1)
check "flush test message accepted" grep -q '250 2.0.0 Ok: queued as' <<<"$out"
check "first attempt deferred (421 greeting)" wait_event deferred f@flush.test
# a restart keeps the deferred recipient and its next attempt (an hour away)
stop_daemon
ok $? "SIGTERM with a deferred message: exit 0"
start_daemon || exit 1
hermod queue list --json >"$T/qlist.json" 2>&1
check "after the restart the message is still queued, deferred" grep -q '"state": *"deferred"' "$T/qlist.json"
sleep 0.5
check "still deferred, not retried yet" bash -c "! grep '\"recipient\":\"f@flush.test\"' '$T/serve.log' | grep -q '\"type\":\"delivered\"'"
hermod queue flush >"$T/flush.out" 2>&1
ok $? "hermod queue flush"
check "delivered after the flush" wait_event delivered f@flush.test

stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
