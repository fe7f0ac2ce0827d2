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
U=http://127.0.0.1:$HTTP_PORT

"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
if ! wait_port "$HTTP_PORT" 30; then
	echo "not ok 1 - daemon serves HTTP on $HTTP_PORT"
	tail -20 "$T/serve.log"
	exit 1
fi
