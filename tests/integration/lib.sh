# tests/integration/lib.sh: shared helpers for shell integration tests.
# Source it; it makes a private directory, picks free loopback ports, writes a
# config, starts the daemon under test ($HERMOD, the sanitized build by
# default) and stops everything on exit.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERMOD=${HERMOD:-$ROOT/build/asan/hermod}
T=$(mktemp -d /tmp/hermod-test.XXXXXX)
PIDS=()
NTEST=0
NFAIL=0

cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# free_port: prints a TCP port on 127.0.0.1 that nobody listens on, below
# the kernel's ephemeral range (32768-60999): a port in that range can be
# taken as the local end of some client's connection (even a self-connect
# of a client that retries a port while our daemon restarts), and the
# daemon then cannot bind it again.
free_port() {
	local p
	while :; do
		p=$((10000 + RANDOM % 22000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# ok COND-EXIT-STATUS NAME: a TAP line.
ok() {
	NTEST=$((NTEST + 1))
	if [ "$1" -eq 0 ]; then echo "ok $NTEST - $2"; else echo "not ok $NTEST - $2"; NFAIL=$((NFAIL + 1)); fi
}
# check NAME COMMAND...: runs the command, a TAP line for its status.
check() {
	local name=$1
	shift
	"$@"
	ok $? "$name"
}
done_testing() {
	echo "1..$NTEST"
	[ "$NFAIL" -eq 0 ]
}

# wait_port PORT [SECONDS]: waits until something listens on 127.0.0.1:PORT.
wait_port() {
	local i
	for i in $(seq 1 $(( ${2:-20} * 10 ))); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# write_config: $T/hermod.conf with fresh ports in SUB_PORT, SUBTLS_PORT,
# IN_PORT, HTTP_PORT; extra INI text from $1 is appended. Delivery is off
# (accepted mail stays queued) unless DELIVERY=yes.
write_config() {
	SUB_PORT=$(free_port); SUBTLS_PORT=$(free_port); IN_PORT=$(free_port); HTTP_PORT=$(free_port)
	cat >"$T/hermod.conf" <<CONF
[server]
hostname = mail.test.example
data_dir = $T/var
require_verified_domains = no
log_level = ${LOG_LEVEL:-info}
[submission]
listen = 127.0.0.1:$SUB_PORT
listen_tls = 127.0.0.1:$SUBTLS_PORT
[inbound]
listen = 127.0.0.1:$IN_PORT
[http]
listen = 127.0.0.1:$HTTP_PORT
public_url = http://127.0.0.1:$HTTP_PORT
[delivery]
enabled = ${DELIVERY:-no}
${1:-}
CONF
}

# hermod ARGS...: runs the CLI against the test config.
hermod() { "$HERMOD" -c "$T/hermod.conf" "$@"; }

# start_daemon: starts `hermod serve` in the background, waits for the
# submission port; the log is $T/serve.log.
start_daemon() {
	"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	wait_port "$SUB_PORT" 30 || { echo "daemon did not start:"; tail -20 "$T/serve.log"; return 1; }
}
stop_daemon() {
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	return $rc
}
