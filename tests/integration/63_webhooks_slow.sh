#!/bin/bash
# 63_webhooks_slow: a webhook endpoint that accepts connections and never
# answers must not slow mail. While it hangs every request until
# webhooks.timeout, 40 messages sent through the HTTP API are all accepted
# quickly and delivered to smtp-sink; the endpoint never sees more than
# webhooks.max_connections_per_endpoint connections at once (and does see
# several: the window slides past requests in flight); /healthz stays
# fast; SIGTERM still exits 0 promptly with requests in flight.
. "$(dirname "$0")/lib.sh"

command -v smtp-sink >/dev/null || { echo "smtp-sink missing"; exit 77; }
[ -n "${KEEP:-}" ] && echo "# dir $T"
SINK_PORT=$(free_port); PH=$(free_port)
chmod 711 "$T"
smtp-sink -u nobody -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/hang_server.py" --listen 127.0.0.9:$PH --stats "$T/hang.json" \
    >"$T/hang.out" 2>&1 &
PIDS+=($!)
DELIVERY=yes write_config "[delivery]
port = $SINK_PORT
retry = 1h
[route *]
relay = 127.0.0.1:$SINK_PORT
tls = off
[webhooks]
allow_private_targets = yes
timeout = 8s
max_connections_per_endpoint = 3"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope admin)
wait_port "$SINK_PORT" 10
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s "$U/healthz" | grep -q ok && break; sleep 0.1; done
for i in $(seq 1 50); do grep -q ready "$T/hang.out" 2>/dev/null && break; sleep 0.1; done

curl -s -X POST "$U/v1/webhooks" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"url\":\"http://127.0.0.9:$PH/hook\",\"events\":[\"queued\",\"delivered\"]}" >"$T/sub.json"
ok $(jq -e '.id' "$T/sub.json" >/dev/null; echo $?) "subscribed the hanging endpoint"

start=$(date +%s%N)
maxms=0
for i in $(seq 1 40); do
	t0=$(date +%s%N)
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/messages" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' \
	    -d "{\"from\":\"a@shop.example\",\"to\":[\"r$i@dest.example\"],\"subject\":\"s$i\",\"text\":\"t\"}")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -gt "$maxms" ] && maxms=$ms
	[ "$code" = 202 ] || echo "# send $i: $code"
done
echo "# slowest of 40 sends: ${maxms} ms"
check "every send answered within 2 s while the endpoint hangs" [ "$maxms" -lt 2000 ]
delivered() { [ "$(grep '"component":"event"' "$T/serve.log" | grep -c '"type":"delivered"')" -ge 40 ]; }
for i in $(seq 1 100); do delivered && break; sleep 0.1; done
secs=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# 40 messages sent and delivered in ${secs} ms"
check "all 40 delivered within 10 s, webhooks hanging" bash -c "[ $secs -lt 10000 ] && $(declare -f delivered); T='$T' delivered"
t0=$(date +%s%N); curl -s -m 2 "$U/healthz" >/dev/null; hms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "/healthz answers in under 500 ms (${hms} ms)" [ "$hms" -lt 500 ]
check "the endpoint got connections" bash -c "jq -e '.total >= 1' '$T/hang.json' >/dev/null"
check "several at once, never more than max_connections_per_endpoint (3)" \
    bash -c "jq -e '.peak >= 2 and .peak <= 3' '$T/hang.json' >/dev/null"
t0=$(date +%s%N)
stop_daemon
rc=$?
sms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $rc "SIGTERM with webhook requests in flight: exit 0"
check "and promptly (${sms} ms)" [ "$sms" -lt 5000 ]
done_testing
