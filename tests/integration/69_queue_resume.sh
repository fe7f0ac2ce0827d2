#!/bin/bash
# `hermod queue resume DESTINATION` lifts a backoff suspension by hand: a
# provider's MX answers 421 4.7.28 once, the rule suspends it for an hour,
# the queue shows it; after `queue resume` the message is delivered at once
# (not in an hour), and the destination table no longer shows a suspension.
# An unknown destination is one clear error line and exit 1.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null || { echo "dnsmasq missing"; exit 77; }
DNS_PORT=$(free_port)
MX_PORT=$(free_port)
dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=r.test,mx.provr.test,10 --host-record=mx.provr.test,127.0.0.31 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.31:"$MX_PORT" --log "$T/mx.log" \
	--rules '{"greeting": "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate", "once": true}' &
PIDS+=($!)

DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $MX_PORT
retry = 1s
[provider provr]
mx_suffixes = .provr.test
[backoff hour-long]
providers = provr
match = 4.7.28
action = suspend
duration = 1h"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
for i in $(seq 1 100); do grep -q ready "$T/mx.log" 2>/dev/null && break; sleep 0.1; done
start_daemon || exit 1

swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to a@r.test --body "resume me" >"$T/swaks.out" 2>&1
check "accepted" grep -q '250 2.0.0 Ok: queued as' "$T/swaks.out"

suspended=1
for i in $(seq 1 100); do
	hermod queue destinations --json >"$T/dest.json" 2>/dev/null &&
	    jq -e '.[] | select(.destination == "provr") | .suspended_until != null' "$T/dest.json" >/dev/null &&
	    { suspended=0; break; }
	sleep 0.1
done
ok $suspended "the 421 4.7.28 suspended provr (queue destinations)"
sleep 1.5	# past the 1 s retry: still not delivered while suspended
check "nothing delivered while suspended" bash -c "! grep -q '\"ev\": \"msg\"' '$T/mx.log'"

out=$(hermod queue resume nosuch.example 2>&1)
rc=$?
check "unknown destination: exit 1, one line naming it" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <<<'$out') -eq 1 ] && grep -q 'no destination nosuch.example' <<<'$out'"
check "queue resume provr" hermod queue resume provr
delivered=1
for i in $(seq 1 50); do
	grep -q '"ev": "msg"' "$T/mx.log" && { delivered=0; break; }
	sleep 0.1
done
ok $delivered "delivered within 5 s of the resume (the rule said an hour)"
hermod queue destinations --json >"$T/dest2.json"
check "no suspension left" jq -e '.[] | select(.destination == "provr") | .suspended_until == null' "$T/dest2.json"
check "the log says who lifted it" grep -q '"msg":"destination provr resumed by hand"' "$T/serve.log"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
