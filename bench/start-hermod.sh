#!/bin/bash
# bench/start-hermod.sh: MTA_START_CMD for ../shared/bench/relay-bench.sh.
# Writes the config from bench/relay.conf.in into $BENCH_RUN_DIR, creates the
# bench account and its domain bench.example (smtp-source's sender domain),
# then becomes `hermod serve` (exec: the measured process is hermod itself).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERMOD=${HERMOD_BENCH_BIN:-$ROOT/build/hermod}
DIR=${BENCH_RUN_DIR:?}
CONF=$DIR/hermod.conf
sed -e "s/@MTA_PORT@/${BENCH_MTA_PORT:?}/; s/@SINK_PORT@/${BENCH_SINK_PORT:?}/; s|@DIR@|$DIR|" \
    "$ROOT/bench/relay.conf.in" >"$CONF"
"$HERMOD" -c "$CONF" init >/dev/null
"$HERMOD" -c "$CONF" account create bench >/dev/null 2>&1 || true
"$HERMOD" -c "$CONF" domain add bench.example --account bench >/dev/null 2>&1 || true
exec "$HERMOD" -c "$CONF" serve
