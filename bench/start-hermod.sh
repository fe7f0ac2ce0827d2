#!/bin/sh
# start-hermod.sh: MTA_START_CMD for ../shared/bench/relay-bench.sh. Writes the
# config from bench/relay.conf.in into the run directory, creates the bench
# account and the sender's domain (bench.example), then execs `hermod serve`
# so the harness measures the daemon itself.
set -e
here=$(cd "$(dirname "$0")" && pwd)
H=${HERMOD_BIN:-$here/../build/hermod}
conf=$BENCH_RUN_DIR/hermod.conf
sed -e "s/@MTA_PORT@/$BENCH_MTA_PORT/; s/@SINK_PORT@/$BENCH_SINK_PORT/; s|@DIR@|$BENCH_RUN_DIR|" \
	"$here/relay.conf.in" >"$conf"
"$H" -c "$conf" account create bench >/dev/null 2>&1 || true
"$H" -c "$conf" domain add bench.example --account bench --algo ed25519 >/dev/null 2>&1 || true
exec "$H" -c "$conf" serve
