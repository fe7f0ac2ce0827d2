#!/bin/bash
# Destination shaping end to end. A private dnsmasq gives several recipient
# domains MX hosts at a few "providers"; tests/integration/shapesink.py
# stands for each provider's MX (one loopback address each) and records
# every connection and message with its time. 280 messages are queued with
# delivery off, then the daemon restarts with delivery on. Measured at the
# receivers:
#   prova: message_rate 20/s shared by a1/a2/a3.test -> 20/s +-10%, at most
#          3 connections (max_connections 3) across the three domains;
#   provb: connection_rate 4/s, 2 messages a connection -> 4 connections/s
#          +-10%, never more than 2 messages in one connection;
#   provc: max_connections 4 against a slow receiver -> exactly 4 at peak;
#   provd: answers 421 4.7.28 for its first 2 s -> the backoff rule suspends
#          it 5 s (shown by `hermod queue list` and `queue destinations`), no
#          connection meanwhile, then everything is delivered, and the waiting
#          was no attempt; GET /metrics has hermod_destination_suspended;
#   prove: message_rate 10/s, answers "451 4.7.500 Server busy" for 0.4 s ->
#          a halve_rate rule: 5/s for 3 s, then 10/s again;
#   warm-up: 3 a day from warm.test, 2 from vip@shop.test -> 3 and 2
#          delivered, the rest waits ("warm-up limit"), not attempted, and
#          still after a restart (data_dir/shaping.state).
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null || { echo "dnsmasq missing"; exit 77; }
DNS_PORT=$(free_port)
MX_PORT=$(free_port)

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=a1.test,mx1.prova.test,10 --mx-host=a2.test,mx2.prova.test,10 \
	--mx-host=a3.test,mx1.prova.test,10 \
	--host-record=mx1.prova.test,127.0.0.21 --host-record=mx2.prova.test,127.0.0.21 \
	--mx-host=b1.test,mx.provb.test,10 --mx-host=b2.test,mx.provb.test,10 \
	--host-record=mx.provb.test,127.0.0.22 \
	--mx-host=c1.test,mx.provc.test,10 --mx-host=c2.test,mx.provc.test,10 \
	--host-record=mx.provc.test,127.0.0.23 \
	--mx-host=d.test,mx.provd.test,10 --host-record=mx.provd.test,127.0.0.24 \
	--mx-host=w.test,mx.w.test,10 --host-record=mx.w.test,127.0.0.25 \
	--mx-host=e.test,mx.prove.test,10 --host-record=mx.prove.test,127.0.0.26 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/shapesink.py" --port "$MX_PORT" --log "$T/sink.log" \
	--site 127.0.0.21:prova --site 127.0.0.22:provb --site 127.0.0.23:provc:slow=300 \
	--site 127.0.0.24:provd:throttle=0-2 --site 127.0.0.25:w --site 127.0.0.26:prove:busy=0-0.4 &
PIDS+=($!)

TODAY=$(date -u +%Y-%m-%d)
write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $MX_PORT
tls = off
retry = 2s
connect_timeout = 3s
[provider prova]
mx_suffixes = .prova.test
max_connections = 3
message_rate = 20/s
[provider provb]
mx_suffixes = .provb.test
connection_rate = 4/s
max_messages_per_connection = 2
[provider provc]
mx_suffixes = .provc.test
max_connections = 4
[provider provd]
mx_suffixes = .provd.test
[provider prove]
mx_suffixes = .prove.test
message_rate = 10/s
[backoff test-busy]
providers = prove
match = 4.7.500
action = halve_rate
duration = 3s
[backoff test-throttle]
providers = provd
match = 4.7.28 | TS0
action = suspend
duration = 5s
[warmup new-domain]
domains = warm.test
start = $TODAY
schedule = 3 10
[warmup new-address]
addresses = VIP@shop.test
start = $TODAY
schedule = 2"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
hermod domain add warm.test --account shop >/dev/null || exit 1
for i in $(seq 1 50); do grep -q ready "$T/sink.log" 2>/dev/null && break; sleep 0.1; done
start_daemon || exit 1

# Queue everything while delivery is off, so that the run starts at once.
/usr/bin/python3 - "$SUB_PORT" <<'PY' || exit 1
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
def send(frm, to):
    s.sendmail(frm, [to], "From: %s\r\nTo: %s\r\nSubject: shaping\r\n\r\nbody\r\n" % (frm, to))
for i in range(120):
    send("app@shop.test", "u%d@a%d.test" % (i, i % 3 + 1))
for i in range(40):
    send("app@shop.test", "u%d@b%d.test" % (i, i % 2 + 1))
for i in range(40):
    send("app@shop.test", "u%d@c%d.test" % (i, i % 2 + 1))
for i in range(10):
    send("app@shop.test", "u%d@d.test" % i)
for i in range(6):
    send("news@warm.test", "u%d@w.test" % i)
for i in range(4):
    send("vip@shop.test", "v%d@w.test" % i)
for i in range(60):
    send("app@shop.test", "u%d@e.test" % i)
s.quit()
PY
check "280 messages queued" test "$(hermod queue list --json | grep -c '"queued_at"')" -eq 280
stop_daemon
sed -i 's/^enabled = no$/enabled = yes/' "$T/hermod.conf"
start_daemon || exit 1

# While provd is suspended: the queue says why, the destination table too.
SEEN_LIST=1 SEEN_DEST=1 SEEN_METRIC=1
for i in $(seq 1 100); do
	if grep -q '"ev": "reject"' "$T/sink.log" 2>/dev/null; then
		curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics.txt" 2>&1
		grep -q '^hermod_destination_suspended{destination="provd"} 1$' "$T/metrics.txt" && SEEN_METRIC=0
		hermod queue list >"$T/list.txt" 2>&1
		hermod queue destinations --json >"$T/dest.json" 2>&1
		grep -q 'waiting: suspended: provd until .*421 4.7.28.*rule test-throttle' "$T/list.txt" && SEEN_LIST=0
		/usr/bin/python3 -c '
import json, sys
d = {x["destination"]: x for x in json.load(open(sys.argv[1]))}
p = d["provd"]
sys.exit(0 if p["suspended_until"] and p["rule"] == "test-throttle" and "d.test" in p["domains"] else 1)' \
			"$T/dest.json" && SEEN_DEST=0
		[ $SEEN_LIST -eq 0 ] && [ $SEEN_DEST -eq 0 ] && [ $SEEN_METRIC -eq 0 ] && break
	fi
	sleep 0.1
done
ok $SEEN_LIST "queue list: suspended: provd until ... (421 4.7.28 ..., rule test-throttle)"
ok $SEEN_DEST "queue destinations --json: provd suspended by test-throttle, d.test bound to it"
ok $SEEN_METRIC "GET /metrics: hermod_destination_suspended{destination=\"provd\"} 1"
hermod queue destinations >"$T/dest.txt" 2>&1
check "queue destinations: prova's line with its limits (3 connections, 20/s)" grep -Eq '^prova +provider +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +3 +- +- +20/s ' "$T/dest.txt"

# Wait for the run: 275 messages delivered (5 warm-up leftovers wait).
for i in $(seq 1 300); do
	[ "$(grep -c '"ev": "msg"' "$T/sink.log")" -ge 275 ] && break
	sleep 0.1
done
sleep 0.5
hermod queue list >"$T/list2.txt" 2>&1
check "warm-up: 3 messages of warm.test wait with the reason" test "$(grep -c 'waiting: warm-up limit: new-domain allows 3 messages a day to w.test' "$T/list2.txt")" -eq 3
check "warm-up: 2 messages of vip@shop.test wait with the reason" test "$(grep -c 'waiting: warm-up limit: new-address allows 2 messages a day to w.test' "$T/list2.txt")" -eq 2
hermod queue list --json >"$T/list2.json"
check "warm-up: the waiting messages were not attempted" /usr/bin/python3 -c '
import json, sys
w = [r for m in json.load(open(sys.argv[1])) for r in m["recipients"] if r["email"].endswith("@w.test")]
sys.exit(0 if len(w) == 5 and all(r["attempts"] == 0 and r["state"] == "queued" for r in w) else 1)' "$T/list2.json"

# The figures, measured at the receivers: one "STATUS NAME" line each.
/usr/bin/python3 - "$T/sink.log" "$T/serve.log" >"$T/verdicts.txt" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = 0
def ok(cond, name):
    global n
    n += 1
    print("%d %s" % (0 if cond else 1, name))
def site(s, kind):
    return [e for e in ev if e.get("site") == s and e["ev"] == kind]

m = site("prova", "msg")
ts = sorted(e["t"] for e in m)
rate = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else 0
ok(len(m) == 120, "prova: 120 messages delivered (got %d)" % len(m))
ok(18.0 <= rate <= 22.0, "prova: message rate %.2f/s within 10%% of 20/s" % rate)
mx = max(e["n"] for e in site("prova", "conn"))
ok(mx <= 3, "prova: at most 3 connections across a1/a2/a3.test (peak %d)" % mx)

c = sorted(e["t"] for e in site("provb", "conn"))
crate = (len(c) - 1) / (c[-1] - c[0]) if len(c) > 1 else 0
ok(len(site("provb", "msg")) == 40, "provb: 40 messages delivered")
ok(3.6 <= crate <= 4.4, "provb: connection rate %.2f/s within 10%% of 4/s (%d connections)" % (crate, len(c)))
ok(len(c) >= 20, "provb: at most 2 messages a connection (%d connections for 40)" % len(c))

mx = max(e["n"] for e in site("provc", "conn"))
ok(len(site("provc", "msg")) == 40, "provc: 40 messages delivered")
ok(mx == 4, "provc: peak concurrency %d == max_connections 4" % mx)

rej = site("provd", "reject")
dm = site("provd", "msg")
ok(len(rej) >= 1, "provd: answered 421 4.7.28 (%d times)" % len(rej))
ok(len(dm) == 10, "provd: all 10 messages delivered in the end (%d)" % len(dm))
if rej:
    t0 = rej[0]["t"]
    during = [e for e in site("provd", "conn") if t0 + 0.3 < e["t"] < t0 + 4.7]
    ok(not during, "provd: no connection while suspended (%d seen)" % len(during))
    after = min(e["t"] for e in dm) if dm else 0
    ok(after >= t0 + 4.8, "provd: resumed after the 5 s suspension (first delivery %.2f s after the 421)" % (after - t0))
# prove: "451 4.7.500 Server busy" for 0.4 s -> halve_rate for 3 s: 5/s,
# then 10/s again.
brej = site("prove", "reject")
em = sorted(e["t"] for e in site("prove", "msg"))
ok(len(em) == 60 and len(brej) >= 1, "prove: 60 delivered after %d busy replies" % len(brej))
if brej and em:
    th = brej[0]["t"]
    w1 = [t for t in em if th + 0.5 <= t < th + 2.7]
    r1 = (len(w1) - 1) / (w1[-1] - w1[0]) if len(w1) > 1 else 0
    ok(4.5 <= r1 <= 5.5, "prove: halved to %.2f/s (5/s +-10%%) during the 3 s rule" % r1)
    w2 = [t for t in em if t >= th + 3.3]
    r2 = (len(w2) - 1) / (w2[-1] - w2[0]) if len(w2) > 1 else 0
    ok(9.0 <= r2 <= 11.0, "prove: back to %.2f/s (10/s +-10%%) after it" % r2)
# The wait was no attempt: delivered events carry attempt 1, except the
# recipients that got the 421.
att = {}
for l in open(sys.argv[2]):
    if '"component":"event"' not in l:
        continue
    e = json.loads(l).get("event", {})
    if e.get("type") == "delivered" and e.get("recipient", "").endswith("@d.test"):
        att[e["recipient"]] = e["attempt"]
ok(sum(1 for a in att.values() if a == 1) == 10 - len(rej) and sum(1 for a in att.values() if a == 2) == len(rej),
   "provd: waiting was no attempt (attempts %s)" % sorted(att.values()))
wm = site("w", "msg")
# (by recipient: the envelope sender is VERP-encoded on the wire)
ok(sum(1 for e in wm if e["rcpt"][0].startswith("<u")) == 3, "warm-up: 3 from warm.test delivered to w.test on day 1")
ok(sum(1 for e in wm if e["rcpt"][0].startswith("<v")) == 2, "warm-up: 2 from vip@shop.test delivered on day 1")
PY
while read -r rc name; do ok "$rc" "$name"; done <"$T/verdicts.txt"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics2.txt" 2>&1
check "GET /metrics: provd no longer suspended" grep -q '^hermod_destination_suspended{destination="provd"} 0$' "$T/metrics2.txt"
check "GET /metrics: hermod_destination_connections for prova" grep -q '^hermod_destination_connections{destination="prova"} [0-9]' "$T/metrics2.txt"
check "the log says provd was suspended" grep -q '"msg":"destination suspended","destination":"provd"' "$T/serve.log"
check "the log says prove's rate was halved" grep -q '"msg":"destination rate halved","divisor":2,"destination":"prove"' "$T/serve.log"
stop_daemon
check "SIGTERM drains and exits 0" test $? -eq 0

# A restart keeps the day's warm-up counts (data_dir/shaping.state): the
# caps still hold, the rest still waits.
check "shaping.state holds the warm-up counts of today" /usr/bin/python3 -c '
import json, sys
d = {x["name"]: x for x in json.load(open(sys.argv[1]))["destinations"]}
w = d["w.test"]["warmup"]
sys.exit(0 if w["new-domain"]["count"] == 3 and w["new-address"]["count"] == 2 else 1)' "$T/var/shaping.state"
start_daemon || exit 1
sleep 3
check "after a restart: still 5 delivered to w.test" test "$(grep '"site": "w"' "$T/sink.log" | grep -c '"ev": "msg"')" -eq 5
hermod queue list >"$T/list3.txt" 2>&1
check "after a restart: 5 still wait for the warm-up" test "$(grep -c 'waiting: warm-up limit' "$T/list3.txt")" -eq 5
check "the log says the state was restored" grep -q 'destinations restored from' "$T/serve.log"
stop_daemon
check "SIGTERM exits 0 again" test $? -eq 0
done_testing
