#!/bin/bash
# 33_http_drain: SIGTERM while wrk posts messages as fast as it can. The
# daemon exits 0; every request got an answer (202, or 503 once draining);
# and after a restart the spool holds exactly the messages answered 202
# (counted from the daemon's "accepted" log lines), none lost, none extra.
. "$(dirname "$0")/http_setup.sh"
command -v wrk >/dev/null || { echo "wrk missing"; exit 77; }

hermod domain add bench.example --account shop >/dev/null   # bench/http_send.lua sends from it
export HERMOD_KEY=$KEY
before=$(curl -s "$U/healthz" | jq .queued)
wrk -t2 -c32 -d4s -s "$ROOT/bench/http_send.lua" "$U" >"$T/wrk.out" 2>&1 &
WRK=$!
sleep 1.5
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
ok $? "SIGTERM under load: exit 0"
wait "$WRK"
total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T/wrk.out")
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/wrk.out")
accepted=$(grep -c '"msg":"accepted"' "$T/serve.log")
ok $([ "$accepted" -gt 100 ] && [ $((accepted + ${non2xx:-0})) -eq "$total" ]; echo $?) \
    "every answer was a 202 or a 503 ($accepted + ${non2xx:-0} = $total)"
"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
after=
for i in $(seq 1 600); do
	kill -0 "$DAEMON_PID" 2>/dev/null || break	# exited: the log says why
	after=$(curl -sf -m 2 "$U/healthz" | jq .queued 2>/dev/null)
	[[ "$after" =~ ^[0-9]+$ ]] && break
	after=
	sleep 0.1
done
if [ -z "$after" ]; then
	echo "# the daemon did not come back"
	echo "# its log ends with:"
	tail -15 "$T/serve.log" | sed 's/^/#   /'
fi
ok $([ -n "$after" ] && [ "$after" -eq $((before + accepted)) ]; echo $?) "after a restart the spool holds every 202'd message ($after = $before + $accepted)"
ok $(! grep -q "Sanitizer" "$T/serve.log"; echo $?) "no sanitizer report"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
