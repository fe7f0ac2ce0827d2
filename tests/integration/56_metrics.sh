#!/bin/bash
# GET /metrics end to end: mail goes in over SMTP (swaks: STARTTLS + AUTH
# PLAIN, implicit TLS + AUTH LOGIN) and HTTP (curl), out to smtp-sink through
# a private dnsmasq; one destination is down so its recipient defers. A
# scrape before and after must show each counter moved by exactly what was
# done (events, delivery attempts, the delivery histogram, SMTP sessions by
# listener and result, HTTP requests by route pattern and code, the queue
# gauges, the spool's group commits). The whole text must pass
# `promtool check metrics` (Debian's prometheus package) and our stricter
# checker (promcheck.py). The per-session log line carries listener, client,
# helo, auth user, TLS version, messages, recipients, result, duration; the
# API key used for AUTH and HTTP appears nowhere in the log. Last,
# http.metrics_public = no: 401 without a key, 200 with one.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null && command -v smtp-sink >/dev/null && command -v swaks >/dev/null ||
	{ echo "dnsmasq, smtp-sink or swaks missing"; exit 77; }
DNS_PORT=$(free_port)
SINK_PORT=$(free_port)
chmod 711 "$T"		# smtp-sink runs as nobody

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=sink.test,mx.sink.test,10 --host-record=mx.sink.test,127.0.0.1 \
	--mx-host=down.test,mx.down.test,10 --host-record=mx.down.test,127.0.0.7 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
smtp-sink -u nobody -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)

DELIVERY=yes write_config "[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $SINK_PORT
retry = 1h
connect_timeout = 2s
greeting_timeout = 3s"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
KEY=$(hermod key create --account shop)
[ -n "$KEY" ] || { echo "not ok 1 - key created"; exit 1; }
wait_port "$SINK_PORT" 10
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q ok && break; sleep 0.1; done

scrape() { curl -s -m 5 -o "$1" -w '%{http_code} %{content_type}' "$U/metrics"; }
# val FILE SAMPLE: the value of one series ("name{a=\"b\"}"), 0 when absent.
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }
# delta SAMPLE EXPECTED: the change between the two scrapes.
delta() {
	local a b
	a=$(val "$T/m0.txt" "$1"); b=$(val "$T/m1.txt" "$1")
	python3 -c "import sys; sys.exit(0 if float('$b') - float('$a') == float('$2') else 1)" ||
		{ echo "# $1: $a -> $b, want +$2"; return 1; }
}

head0=$(scrape "$T/m0.txt")
check "GET /metrics: 200, text format 0.0.4" test "$head0" = "200 text/plain; version=0.0.4; charset=utf-8"

# SMTP: two sessions with mail (one per submission listener), one without.
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --tls \
	--auth PLAIN --auth-user shop --auth-password "$KEY" \
	--from app@shop.example --to a@sink.test,b@sink.test --h-Subject m1 2>&1)
check "swaks STARTTLS+PLAIN: queued" grep -q '250 2.0.0 Ok: queued' <<<"$out"
out=$(swaks --server 127.0.0.1 --port "$SUBTLS_PORT" --tls-on-connect --helo tls.client.test \
	--auth LOGIN --auth-user apikey --auth-password "$KEY" \
	--from app@shop.example --to c@sink.test --h-Subject m2 2>&1)
check "swaks implicit TLS+LOGIN: queued" grep -q '250 2.0.0 Ok: queued' <<<"$out"
swaks --server 127.0.0.1 --port "$SUB_PORT" --helo idle.test --quit-after EHLO >/dev/null 2>&1
swaks --server 127.0.0.1 --port "$IN_PORT" --helo mx.remote.test --quit-after EHLO >/dev/null 2>&1
# A client that goes away after the greeting (dropped), one that makes 12
# mistakes (rejected: submission.max_errors is 10).
( exec 3<>/dev/tcp/127.0.0.1/"$SUB_PORT"; timeout 2 head -c 4 <&3 >/dev/null )
( exec 3<>/dev/tcp/127.0.0.1/"$SUB_PORT"; read -r -t 5 greeting <&3; { printf 'EHLO mistakes.test\r\n'
	for i in $(seq 1 12); do printf 'MAIL FROM:<bad\r\n'; sleep 0.02; done; } >&3
	timeout 5 cat <&3 >/dev/null )

# HTTP: two sends (one to a destination that is down), one invalid, an
# unknown message id, an unknown path.
send() {
	curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "$U/v1/messages" \
		-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$1"
}
check "HTTP send: 202" test "$(send '{"from":"app@shop.example","to":["d@sink.test"],"subject":"h1","text":"x"}')" = 202
check "HTTP send to a dead MX: 202" test "$(send '{"from":"app@shop.example","to":["x@down.test"],"subject":"h2","text":"x"}')" = 202
check "HTTP invalid send: 422" test "$(send '{"from":"app@other.example","to":["d@sink.test"],"subject":"h3","text":"x"}')" = 422
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$U/v1/messages/01aaaaaaaaaaaaaaaaaa")
check "GET unknown message: 404" test "$code" = 404
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$U/no/such/path")
check "unknown path: 404" test "$code" = 404

# Wait (on the log, so no extra scrapes are counted) for 4 deliveries and
# one deferral.
n_ev() { grep '"component":"event"' "$T/serve.log" | grep -c "\"type\":\"$1\""; }
for i in $(seq 1 150); do
	[ "$(n_ev delivered)" -ge 4 ] && [ "$(n_ev deferred)" -ge 1 ] && break
	sleep 0.1
done
check "log: 4 delivered, 1 deferred" test "$(n_ev delivered)" = 4 -a "$(n_ev deferred)" = 1

scrape "$T/m1.txt" >/dev/null
check "messages_accepted smtp +2" delta 'hermod_messages_accepted_total{source="smtp"}' 2
check "messages_accepted http +2" delta 'hermod_messages_accepted_total{source="http"}' 2
check "recipients_accepted smtp +3" delta 'hermod_recipients_accepted_total{source="smtp"}' 3
check "recipients_accepted http +2" delta 'hermod_recipients_accepted_total{source="http"}' 2
check "events_total delivered +4" delta 'hermod_events_total{type="delivered"}' 4
check "events_total deferred +1" delta 'hermod_events_total{type="deferred"}' 1
check "events_total bounced +0" delta 'hermod_events_total{type="bounced"}' 0
check "the events store's figures: stored_total >= 5, a backlog gauge" bash -c "
	awk '\$1 == \"hermod_events_stored_total\" && \$2 >= 5 { ok = 1 } END { exit !ok }' '$T/m1.txt' &&
	grep -q '^hermod_events_backlog [0-9]' '$T/m1.txt'"
check "delivery_attempts_total delivered +4" delta 'hermod_delivery_attempts_total{result="delivered"}' 4
check "delivery_attempts_total deferred +1" delta 'hermod_delivery_attempts_total{result="deferred"}' 1
check "delivery_seconds_count +4" delta 'hermod_delivery_seconds_count' 4
check "delivery_seconds +Inf bucket +4" delta 'hermod_delivery_seconds_bucket{le="+Inf"}' 4
check "delivery_seconds: all 4 under 60 s" delta 'hermod_delivery_seconds_bucket{le="60"}' 4
check "smtp_sessions submission/ok +2" delta 'hermod_smtp_sessions_total{listener="submission",result="ok"}' 2
check "smtp_sessions submission_tls/ok +1" delta 'hermod_smtp_sessions_total{listener="submission_tls",result="ok"}' 1
check "smtp_sessions inbound/ok +1" delta 'hermod_smtp_sessions_total{listener="inbound",result="ok"}' 1
check "smtp_sessions submission/dropped +1" delta 'hermod_smtp_sessions_total{listener="submission",result="dropped"}' 1
check "smtp_sessions submission/rejected +1" delta 'hermod_smtp_sessions_total{listener="submission",result="rejected"}' 1
check "smtp_sessions submission/error +0" delta 'hermod_smtp_sessions_total{listener="submission",result="error"}' 0
check "http /v1/messages 202 +2" delta 'hermod_http_requests_total{route="/v1/messages",code="202"}' 2
check "http /v1/messages 422 +1" delta 'hermod_http_requests_total{route="/v1/messages",code="422"}' 1
check "http route pattern, not the path: /v1/messages/{id} 404 +1" \
	delta 'hermod_http_requests_total{route="/v1/messages/{id}",code="404"}' 1
check "http unmatched 404 +1" delta 'hermod_http_requests_total{route="unmatched",code="404"}' 1
check "http /metrics 200 +1 (the first scrape)" delta 'hermod_http_requests_total{route="/metrics",code="200"}' 1
check "no raw path as a label value" bash -c "! grep -q 'no/such/path\|01aaaaaaaaaaaaaaaaaa' '$T/m1.txt'"
check "queue: the dead-MX message is deferred" test "$(val "$T/m1.txt" 'hermod_queue_messages{state="deferred"}')" = 1
check "queue: nothing else waits" test "$(val "$T/m1.txt" 'hermod_queue_messages{state="queued"}')" = 0 -a \
	"$(val "$T/m1.txt" 'hermod_queue_messages{state="active"}')" = 0
check "spool_messages 1" test "$(val "$T/m1.txt" 'hermod_spool_messages')" = 1
s0=$(val "$T/m0.txt" hermod_spool_sync_seconds_count); s1=$(val "$T/m1.txt" hermod_spool_sync_seconds_count)
check "spool_sync_seconds counted group commits ($s0 -> $s1)" test "$s1" -gt "$s0"
check "build_info" grep -qE '^hermod_build_info\{version="[^"]+"\} 1$' "$T/m1.txt"
st=$(val "$T/m1.txt" process_start_time_seconds)
check "process_start_time_seconds is recent" python3 -c "import time,sys; sys.exit(0 if 0 <= time.time() - $st < 300 else 1)"

if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m1.txt" >"$T/promtool.out" 2>&1
	check "promtool check metrics: valid and lint-clean" test $? = 0 || cat "$T/promtool.out"
	printf '# HELP x_total x\n# TYPE x_total counter\nx_total{a="b} 1\n' | promtool check metrics >/dev/null 2>&1
	check "promtool rejects a broken text (the check can fail)" test $? -ne 0
else
	echo "ok $((NTEST + 1)) - # SKIP promtool not installed (scripts/deps.sh test installs prometheus)"
	NTEST=$((NTEST + 1))
fi
check "promcheck.py: strict format check" python3 "$ROOT/tests/integration/promcheck.py" "$T/m1.txt"
printf '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n' >"$T/bad.txt"
check "promcheck.py rejects non-cumulative buckets" bash -c "! python3 '$ROOT/tests/integration/promcheck.py' '$T/bad.txt' 2>/dev/null"

# The session log line.
sess() { grep '"component":"smtp.session"' "$T/serve.log" | grep "\"helo\":\"$1\""; }
check "session log: listener, auth user, TLS version, counts, result" bash -c "$(declare -f sess); T='$T'; sess client.test |
	grep '\"listener\":\"submission\"' | grep '\"client\":\"127.0.0.1\"' | grep '\"auth_user\":\"shop\"' |
	grep '\"tls_version\":\"TLSv1.[23]\"' | grep '\"messages\":1' | grep '\"recipients\":2' |
	grep '\"result\":\"ok\"' | grep -q '\"duration_ms\":[0-9]'"
check "session log: implicit TLS listener" bash -c "$(declare -f sess); T='$T'; sess tls.client.test |
	grep '\"listener\":\"submission_tls\"' | grep '\"recipients\":1' | grep -q '\"auth_user\":\"shop\"'"
check "session log: too many errors is rejected" bash -c "$(declare -f sess); T='$T'; sess mistakes.test |
	grep '\"errors\":10' | grep '\"reason\":\"too-many-errors\"' | grep -q '\"result\":\"rejected\"'"
check "session log: no mail, no auth" bash -c "$(declare -f sess); T='$T'; sess idle.test |
	grep '\"authenticated\":0' | grep '\"messages\":0' | grep -q '\"result\":\"ok\"'"
# The secret: never in the log, nor the AUTH PLAIN blob that carries it.
plain=$(printf '\0shop\0%s' "$KEY" | base64 -w0)
login=$(printf '%s' "$KEY" | base64 -w0)
check "the API key is nowhere in the log" bash -c "! grep -qF -- '$KEY' '$T/serve.log'"
check "nor its AUTH PLAIN / LOGIN encodings" bash -c "! grep -qF -- '$plain' '$T/serve.log' && ! grep -qF -- '$login' '$T/serve.log'"
check "nor its secret part (after the prefix)" bash -c "! grep -qF -- '${KEY:12}' '$T/serve.log'"
# The checks can fail: a log with the key planted in it is caught, and a
# wrong expectation of a counter is too.
{ cat "$T/serve.log"; echo "{\"oops\":\"$KEY\"}"; } >"$T/planted.log"
check "a planted key would be caught" grep -qF -- "$KEY" "$T/planted.log"
check "a wrong counter expectation would be caught" bash -c "$(declare -f val delta); T='$T'; ! delta 'hermod_events_total{type=\"delivered\"}' 5 >/dev/null"

# http.metrics_public = no: a key is needed.
check "daemon stops" stop_daemon
sed -i "s/^\[http\]$/[http]\nmetrics_public = no/" "$T/hermod.conf"
start_daemon || exit 1
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q ok && break; sleep 0.1; done
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$U/metrics")
check "metrics_public = no: 401 without a key" test "$code" = 401
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$U/metrics")
check "metrics_public = no: 401 with a wrong key" test "$code" = 401
code=$(curl -s -m 5 -o "$T/m2.txt" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$U/metrics")
check "metrics_public = no: 200 with a key" test "$code" = 200
check "after a restart: the deferred message is counted again" \
	test "$(val "$T/m2.txt" 'hermod_queue_messages{state="deferred"}')" = 1
check "the key is still nowhere in the log" bash -c "! grep -qF -- '$KEY' '$T/serve.log'"
check "daemon stops cleanly" stop_daemon
done_testing
