#!/bin/bash
# 61_webhooks_delivery: webhooks end to end with real peers on loopback.
# Mail goes through the HTTP API and is delivered to Postfix's smtp-sink;
# Python receivers (webhook_receiver.py) verify every Standard Webhooks
# signature on their own. Checks:
#  - a receiver gets exactly the events of the types it subscribed to, each
#    signed correctly, with webhook-id = the event id, for its account only;
#  - a receiver that answers 500, then is down, across a daemon restart
#    (events pending in the store), then comes back, gets every event, none
#    lost, in order per message;
#  - 410 Gone disables the subscription;
#  - with allow_private_targets = no, a subscription to a name that resolves
#    to 127.0.0.1 (localhost) is refused at send time: nothing reaches it.
. "$(dirname "$0")/lib.sh"

command -v smtp-sink >/dev/null || { echo "smtp-sink missing"; exit 77; }
SINK_PORT=$(free_port)
PA=$(free_port); PB=$(free_port); PC=$(free_port); PD=$(free_port)
mkdir -p "$T/sink"
chmod 711 "$T"
chmod 777 "$T/sink"
smtp-sink -u nobody -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)

conf() { # ALLOW
	DELIVERY=yes write_config "[delivery]
port = $SINK_PORT
retry = 1h
[route *]
relay = 127.0.0.1:$SINK_PORT
tls = off
[webhooks]
allow_private_targets = $1
retry = 1s 1s 2s
max_lifetime = 1h
connect_timeout = 2s
timeout = 3s"
}
conf yes
hermod account create shop >/dev/null || exit 1
hermod account create other >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
hermod domain add other.example --account other >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope admin)
OKEY=$(hermod key create --account other --scope admin)
wait_port "$SINK_PORT" 10
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s "$U/healthz" | grep -q ok && break; sleep 0.1; done

receiver() { # NAME ADDR:PORT
	/usr/bin/python3 "$ROOT/tests/integration/webhook_receiver.py" --listen "$2" \
	    --secret-file "$T/$1.secret" --log "$T/$1.log" --control "$T/$1.ctl" >"$T/$1.out" 2>&1 &
	eval "RPID_$1=$!"
	PIDS+=($!)
	for i in $(seq 1 50); do grep -q ready "$T/$1.out" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
subscribe() { # NAME KEY URL EVENTS-JSON
	curl -s -X POST "$U/v1/webhooks" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
	    -d "{\"url\":\"$3\",\"events\":$4}" >"$T/$1.sub"
	jq -r .secret "$T/$1.sub" >"$T/$1.secret"
	jq -r .id "$T/$1.sub"
}
send() { # KEY FROM-DOMAIN TAG: two recipients
	curl -s -X POST "$U/v1/messages" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
	    -d "{\"from\":\"a@$2\",\"to\":[\"r1-$3@dest.example\",\"r2-$3@dest.example\"],\"subject\":\"$3\",\"text\":\"hi\"}" |
	    jq -r .id
}
# events of the log: TSV seq-in-log, id, type, account, message_id
logged() {
	/usr/bin/python3 - "$T/serve.log" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], errors="replace"):
    try:
        l = json.loads(line)
    except ValueError:
        continue
    if l.get("component") == "event" and isinstance(l.get("event"), dict):
        e = l["event"]
        n += 1
        print("%d\t%s\t%s\t%s\t%s" % (n, e["id"], e["type"], e.get("account"), e.get("message_id")))
PY
}
jqs() { jq -e -s "$1" "$2" >/dev/null; }	# FILTER FILE: true on the slurped lines
wait_for() { # SECONDS COMMAND...
	local s=$1 i
	shift
	for i in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}

# ---- A: queued + delivered, always 200; O: the other account, everything
echo 200 >"$T/A.ctl"; echo 200 >"$T/O.ctl"
receiver A 127.0.0.2:$PA || exit 1
receiver O 127.0.0.3:$PA || exit 1
A_ID=$(subscribe A "$KEY" "http://127.0.0.2:$PA/hook" '["queued","delivered"]')
subscribe O "$OKEY" "http://127.0.0.3:$PA/hook" '["queued","delivered","bounced","deferred"]' >/dev/null
ok $([ -s "$T/A.secret" ] && [ "$(cat "$T/A.secret")" != null ]; echo $?) "subscribed A"
M1=$(send "$KEY" shop.example m1); M2=$(send "$KEY" shop.example m2)
M3=$(send "$OKEY" other.example m3)
ok $([ -n "$M1" ] && [ -n "$M3" ]; echo $?) "three messages accepted"

# A must end with exactly shop's queued and delivered events (4 + 4)
expect_a() { logged | awk -F'\t' '$4=="shop" && ($3=="queued" || $3=="delivered") {print $2}' | sort; }
got() { jq -r 'select(.status>=200 and .status<300) | .id' "$T/$1.log" 2>/dev/null | sort -u; }
a_done() { [ "$(expect_a | wc -l)" -eq 8 ] && [ "$(got A)" = "$(expect_a)" ]; }
check "A got every queued and delivered event of its account" wait_for 20 a_done
check "every request to A carried a valid signature and a fresh timestamp" \
    jqs 'length > 0 and all(.sig_ok and .ts_ok)' "$T/A.log"
check "webhook-id is the event id; JSON body" jqs 'all(.id == .ev_id and .ctype == "application/json")' "$T/A.log"
check "A got no other type and no other account" \
    jqs 'all((.type == "queued" or .type == "delivered") and .account == "shop")' "$T/A.log"
sleep 1
check "A got each event once (nothing failed, nothing repeated)" \
    bash -c "[ \$(jq -r .id '$T/A.log' | sort | uniq -d | wc -l) -eq 0 ]"
o_done() { [ "$(got O)" = "$(logged | awk -F'\t' '$4=="other" {print $2}' | sort)" ] && [ -n "$(got O)" ]; }
check "the other account's receiver got its own events only" wait_for 10 o_done

# ---- D: 410 Gone disables the subscription
echo 410 >"$T/D.ctl"
receiver D 127.0.0.4:$PD || exit 1
D_ID=$(subscribe D "$KEY" "http://127.0.0.4:$PD/hook" '["queued"]')
M4=$(send "$KEY" shop.example m4)
d_off() { curl -s "$U/v1/webhooks" -H "Authorization: Bearer $KEY" |
    jq -e --arg id "$D_ID" '.webhooks[] | select(.id == $id) | .status == "disabled"' >/dev/null; }
check "410 Gone disables the subscription" wait_for 10 d_off
sleep 0.5
ND=$(wc -l <"$T/D.log")
send "$KEY" shop.example m5 >/dev/null
sleep 1.5
check "a disabled subscription gets nothing more" bash -c "[ \$(wc -l <'$T/D.log') -eq $ND ]"

# ---- B: failing (500), then down, across a restart, then back
echo 500 >"$T/B.ctl"
receiver B 127.0.0.5:$PB || exit 1
B_ID=$(subscribe B "$KEY" "http://127.0.0.5:$PB/hook" '["queued","delivered"]')
B_FROM=$(logged | tail -1 | cut -f1)	# events after this line are B's
for m in b1 b2 b3; do send "$KEY" shop.example $m >/dev/null; done
b_failing() { [ "$(jq -s 'map(select(.status == 500)) | length' "$T/B.log" 2>/dev/null)" -ge 4 ]; }
check "B answers 500 and is retried" wait_for 15 b_failing
kill "$RPID_B"; wait "$RPID_B" 2>/dev/null
for m in b4 b5; do send "$KEY" shop.example $m >/dev/null; done
expect_b() { logged | awk -F'\t' -v f="$B_FROM" '$1>f && $4=="shop" && ($3=="queued" || $3=="delivered") {print $2}' | sort; }
wait_for 15 bash -c "[ \$(grep -c '\"type\":\"delivered\"' '$T/serve.log') -ge 18 ]"
sleep 2
stop_daemon
ok $? "daemon stopped (SIGTERM) while B is down"
check "the store holds B's pending events" bash -c \
    "sqlite3 '$T/var/hermod.db' \"select count(*) from webhook_pending where webhook='$B_ID'\" | grep -qv '^0\$'"
start_daemon || exit 1
sleep 1
echo 200 >"$T/B.ctl"
receiver B 127.0.0.5:$PB || exit 1
b_done() { [ "$(expect_b | wc -l)" -eq 20 ] && [ "$(got B)" = "$(expect_b)" ]; }
check "B got every event after coming back: none lost" wait_for 30 b_done
check "every request to B was signed correctly" jqs 'all(.sig_ok and .ts_ok)' "$T/B.log"
logged >"$T/logged.tsv"
check "B: in order per message (first 2xx of each event in log order)" /usr/bin/python3 - "$T/B.log" "$T/logged.tsv" <<'PY'
import json, sys
order = {}
for line in open(sys.argv[2]):
    n, eid, typ, acct, msg = line.rstrip("\n").split("\t")
    order[eid] = (msg, int(n))
seen, per_msg = set(), {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["status"] != 200 or r["id"] in seen or r["id"] not in order:
        continue
    seen.add(r["id"])
    msg, n = order[r["id"]]
    per_msg.setdefault(msg, []).append(n)
bad = {m: v for m, v in per_msg.items() if v != sorted(v)}
print("# messages:", len(per_msg), "out of order:", bad)
sys.exit(1 if bad or len(per_msg) < 5 else 0)
PY
check "the store holds nothing pending for B at the end" wait_for 10 bash -c \
    "sqlite3 '$T/var/hermod.db' \"select count(*) from webhook_pending where webhook='$B_ID'\" | grep -q '^0\$'"

# ---- C: allow_private_targets = no; localhost resolves to 127.0.0.1
stop_daemon
ok $? "SIGTERM: exit 0"
sed -i 's/^allow_private_targets = yes/allow_private_targets = no/' "$T/hermod.conf"
start_daemon || exit 1
echo 200 >"$T/C.ctl"
receiver C 127.0.0.1:$PC || exit 1
C_ID=$(subscribe C "$KEY" "http://localhost:$PC/hook" '["queued"]')
ok $([[ "$C_ID" == wh_* ]]; echo $?) "a subscription to http://localhost is accepted at POST (a name)"
send "$KEY" shop.example c1 >/dev/null
refused() { grep '"component":"webhook"' "$T/serve.log" | grep "$C_ID" | grep -q '"refused":"loopback"'; }
check "sending to it is refused by the SSRF guard on the resolved address" wait_for 10 refused
sleep 1
check "nothing reached the loopback receiver" bash -c "[ ! -s '$T/C.log' ]"
check "no webhook secret in the log" bash -c "! grep -q 'whsec_' '$T/serve.log'"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
