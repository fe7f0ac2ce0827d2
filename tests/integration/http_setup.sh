# http_setup.sh: sourced by the HTTP API tests (not a test itself): a config,
# accounts shop and other with a domain each, keys KEY (send), AKEY (admin),
# OKEY (other's send key), and `hermod serve` listening on $U.
. "$(dirname "$0")/lib.sh"

write_config "${1:-}"
hermod init >/dev/null 2>&1
hermod account create shop >/dev/null
hermod account create other >/dev/null
hermod domain add shop.example --account shop >/dev/null
hermod domain add other.example --account other >/dev/null
KEY=$(hermod key create --account shop --scope send)
AKEY=$(hermod key create --account shop --scope admin)
OKEY=$(hermod key create --account other --scope send)
# Start the daemon; a port taken meanwhile by someone else (free_port only
# probes) gets fresh ports and another try.
for attempt in 1 2 3; do
	U=http://127.0.0.1:$HTTP_PORT
	"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	up=1
	for i in $(seq 1 300); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break	# exited: see the log
		if curl -s -m 2 "$U/healthz" | grep -q '"status":"ok"'; then up=0; break; fi
		sleep 0.1
	done
	[ "$up" = 0 ] && wait_port "$SUB_PORT" 5 && break
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	if [ "$attempt" = 3 ] || ! grep -q "address already in use" "$T/serve.log"; then
		echo "not ok 1 - daemon serves HTTP on $HTTP_PORT"
		tail -20 "$T/serve.log"
		exit 1
	fi
	write_config "${1:-}"
done
