#!/bin/bash
# http_bench.sh: messages accepted durably through the HTTP API, with wrk at
# fixed concurrency. Starts a private `hermod serve` (the optimised build),
# then runs:
#   1. POST /v1/messages as fast as possible (C connections);
#   2. POST /v1/messages at a held rate (~500 requests/s: 12 connections,
#      20 ms pause each) for the latency target;
#   3. POST /v1/messages/batch (BATCH messages a request, C connections).
# "Accepted" is counted by the daemon (spool size before and after, from
# /healthz), so only messages that got their 202 after the spool's fsync
# count. Prints one line a run: messages/s, p50 and p99 latency.
#
# Messages are DKIM-signed on acceptance (the domain's key, made by
# `domain add`): ALGO=rsa (default, RSA-2048) or ALGO=ed25519; RSA signing
# dominates the CPU cost per message on a small machine. ALGO=none removes
# the key so messages go unsigned: the HTTP path's own cost.
#
#   bench/http_bench.sh [SECONDS]     env: C (default 32), BATCH (100), ALGO, HERMOD_BIN
set -u
cd "$(dirname "$0")/.."
SECS=${1:-10}
C=${C:-32}
BATCH=${BATCH:-100}
BIN=${HERMOD_BIN:-$PWD/build/hermod}
T=$(mktemp -d /tmp/hermod-httpbench.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x "$BIN" ] || { echo "build first: make"; exit 1; }

port() { local p; while :; do p=$((20000 + RANDOM % 40000)); (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }; done; }
HP=$(port)
cat >"$T/hermod.conf" <<CONF
[server]
hostname = bench.example
data_dir = $T/var
require_verified_domains = no
log_level = warn
[submission]
listen = 127.0.0.1:$(port)
listen_tls = 127.0.0.1:$(port)
[inbound]
listen = 127.0.0.1:$(port)
[http]
listen = 127.0.0.1:$HP
[delivery]
enabled = no                    ; acceptance only: messages stay queued
CONF
h() { "$BIN" -c "$T/hermod.conf" "$@"; }
h init >/dev/null 2>&1
h account create bench >/dev/null
h domain add bench.example --account bench --algo "$([ "${ALGO:-rsa}" = none ] && echo rsa || echo "${ALGO:-rsa}")" >/dev/null
# ALGO=none: no key, so messages go unsigned (the HTTP path's own cost)
[ "${ALGO:-rsa}" = none ] && rm -f "$T"/var/dkim/*
export HERMOD_KEY=$(h key create --account bench --scope send)
h serve >"$T/serve.log" 2>&1 &
PID=$!
U=http://127.0.0.1:$HP
for i in $(seq 100); do curl -s -m 2 "$U/healthz" | grep -q '"status":"ok"' && break; sleep 0.1; done
if ! kill -0 "$PID" 2>/dev/null || ! curl -s -m 2 "$U/healthz" | grep -q '"status":"ok"'; then
	echo "the daemon did not start:"; tail -5 "$T/serve.log"; exit 1
fi
queued() { curl -s "$U/healthz" | sed 's/.*"queued":\([0-9]*\).*/\1/'; }

run() { # NAME WRK-ARGS...
	local name=$1 before after res
	shift
	before=$(queued)
	res=$(wrk "$@" "$U" 2>&1 | grep '^RESULT')
	after=$(queued)
	local dur p50 p99
	dur=$(echo "$res" | sed 's/.*duration_s=\([0-9.]*\).*/\1/')
	p50=$(echo "$res" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')
	p99=$(echo "$res" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
	printf '%-34s %8d msgs in %5.1fs = %7.0f msgs/s durable   p50 %6.2f ms  p99 %6.2f ms\n' \
	    "$name" $((after - before)) "$dur" "$(echo "($after - $before) / $dur" | bc -l)" "$p50" "$p99"
	echo "  $res"
}

echo "hermod HTTP benchmark: $(nproc) cores, $SECS s a run, $C connections, DKIM ${ALGO:-rsa}"
run "single, c=$C, max rate" -t2 -c"$C" -d"${SECS}s" --latency -s bench/http_send.lua
BENCH_DELAY_MS=20 run "single, c=12, ~500 req/s held" -t2 -c12 -d"${SECS}s" -s bench/http_send.lua
BENCH_BATCH=$BATCH run "batch of $BATCH, c=$C" -t2 -c"$C" -d"${SECS}s" --timeout 60s -s bench/http_batch.lua
BENCH_BATCH=500 run "batch of 500, c=8" -t2 -c8 -d"${SECS}s" --timeout 60s -s bench/http_batch.lua
grep -c '"level":"error"' "$T/serve.log" | sed 's/^/daemon error lines: /'
