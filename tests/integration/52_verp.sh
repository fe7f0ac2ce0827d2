#!/bin/bash
# VERP return path: a message to three recipients leaves as three
# transactions on one connection, each with its own signed envelope sender
# b-<queue id>-<index>-<mac>@bounce.<sender's domain>; a message with the null
# return path keeps <> and its recipients share one transaction. The
# receivers are the scripted server tests/integration/smtpfault.py (it logs
# every MAIL FROM and RCPT it accepts) and Postfix's smtp-sink (its -d dumps
# carry X-Mail-Args / X-Rcpt-Args). Also: data_dir/verp.key exists, 0600.
. "$(dirname "$0")/lib.sh"

RX_PORT=$(free_port)
SINK_PORT=$(free_port)
mkdir -p "$T/sink"
chmod 711 "$T"		# smtp-sink writes as nobody
chmod 777 "$T/sink"
smtp-sink -u nobody -d "$T/sink/%M." -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.1:"$RX_PORT" --log "$T/rx.log" &
PIDS+=($!)
DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
tls = off
[route sink.test]
relay = 127.0.0.1:$SINK_PORT
tls = off
[route *]
relay = 127.0.0.1:$RX_PORT
tls = off"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
for i in $(seq 1 100); do grep -q ready "$T/rx.log" 2>/dev/null && break; sleep 0.1; done
start_daemon || exit 1

check "verp.key made, mode 0600, 32 bytes" bash -c "[ \"\$(stat -c %a:%s '$T/var/verp.key')\" = 600:32 ]"

out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from App@Shop.Test \
	--to a@x.test,b@x.test,c@y.test --header "Subject: verp" 2>&1)
check "accepted" grep -q '250 2.0.0 Ok: queued as' <<<"$out"
QID=$(sed -n 's/.*queued as \([0-9a-z]*\).*/\1/p' <<<"$out" | tail -1)
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from '<>' \
	--to d@x.test,e@x.test --header "Subject: null sender" --header "From: app@shop.test" 2>&1)
check "null sender accepted" grep -q '250 2.0.0 Ok: queued as' <<<"$out"

for i in $(seq 1 100); do
	[ "$(grep -c '"ev": "msg"' "$T/rx.log" 2>/dev/null)" -ge 4 ] && break
	sleep 0.1
done
check "one transaction per recipient, each with its own VERP return path" /usr/bin/python3 - "$T/rx.log" "$QID" <<'PY'
import json, re, sys
qid = sys.argv[2]
msgs = [e for e in map(json.loads, open(sys.argv[1])) if e.get("ev") == "msg"]
verp = {}
for m in msgs:
    if m["from"] == "":
        continue
    assert len(m["rcpt"]) == 1, m["rcpt"]
    r = re.fullmatch(r"b-([0-9a-z]{20})-(\d+)-([0-9a-z]{16})@bounce\.shop\.test", m["from"])
    assert r, m["from"]
    assert r.group(1) == qid, (r.group(1), qid)
    assert len(m["from"].split("@")[0]) <= 64
    verp[m["rcpt"][0]] = int(r.group(2))
assert verp == {"a@x.test": 0, "b@x.test": 1, "c@y.test": 2}, verp
PY
check "null return path kept: <> with both recipients in one transaction" /usr/bin/python3 - "$T/rx.log" <<'PY'
import json, sys
msgs = [e for e in map(json.loads, open(sys.argv[1])) if e.get("ev") == "msg" and e["from"] == ""]
assert len(msgs) == 1 and sorted(msgs[0]["rcpt"]) == ["d@x.test", "e@x.test"], msgs
PY
check "the three transactions of x.test shared connections (at most 2 connections for 3 recipients)" \
	bash -c "[ \$(grep -c '\"ev\": \"conn\"' '$T/rx.log') -le 3 ]"
check "delivered events for every recipient" bash -c "[ \$(grep '\"component\":\"event\"' '$T/serve.log' | grep -c '\"type\":\"delivered\"') -eq 5 ]"
# Postfix's smtp-sink (-d) records each transaction's MAIL FROM arguments.
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to s1@sink.test,s2@sink.test --header "Subject: to the sink" 2>&1)
QID2=$(sed -n 's/.*queued as \([0-9a-z]*\).*/\1/p' <<<"$out" | tail -1)
for i in $(seq 1 100); do [ "$(cat "$T"/sink/* 2>/dev/null | grep -c '^X-Mail-Args:')" -ge 2 ] && break; sleep 0.1; done
check "smtp-sink: s1 and s2 each in a transaction of their own, MAIL FROM <b-$QID2-N-...@bounce.shop.test>" \
	/usr/bin/python3 - "$T/sink" "$QID2" <<'PY'
import os, re, sys
seen = {}
for f in os.listdir(sys.argv[1]):
    hdr = open(os.path.join(sys.argv[1], f), "rb").read().split(b"\n\n")[0].decode()
    mail = re.search(r"^X-Mail-Args: <([^>]*)>", hdr, re.M).group(1)
    rcpts = re.findall(r"^X-Rcpt-Args: <([^>]*)>", hdr, re.M)
    assert len(rcpts) == 1, rcpts
    m = re.fullmatch(r"b-([0-9a-z]{20})-(\d+)-[0-9a-z]{16}@bounce\.shop\.test", mail)
    assert m and m.group(1) == sys.argv[2], mail
    seen[rcpts[0]] = int(m.group(2))
assert seen == {"s1@sink.test": 0, "s2@sink.test": 1}, seen
PY
check "SIGTERM drains, exit 0" stop_daemon
done_testing
