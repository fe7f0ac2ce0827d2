#!/bin/bash
# bench/run.sh: `make bench`. Relay throughput against Postfix on this machine
# with ../shared/bench/relay-bench.sh: first injection only (messages/s
# accepted durably, issue 2), then end to end (smtp-source -> MTA -> smtp-sink,
# issue 3). Both print RESULT lines and "ratio a/b". Options: BENCH_N (messages,
# default 20000), BENCH_RUNS (default 3), BENCH_MODE=inject|e2e|all.
set -u
cd "$(dirname "$0")/.."
# ../shared is beside the checkout (CI and the main tree); look one level up too.
B=${RELAY_BENCH:-}
for c in ../shared/bench/relay-bench.sh ../../shared/bench/relay-bench.sh; do
	[ -z "$B" ] && [ -f "$c" ] && B=$c
done
N=${BENCH_N:-20000}
R=${BENCH_RUNS:-3}
MODE=${BENCH_MODE:-all}
export MTA_PORT=${MTA_PORT:-2525} SINK_PORT=${SINK_PORT:-2526}
export MTA_START_CMD="exec $PWD/bench/start-hermod.sh"
if [ "$MODE" = inject ] || [ "$MODE" = all ]; then
	echo "== injection: 20 sessions, 4 KiB messages, durable acknowledgements"
	bash "$B" --a external --b postfix --inject-only -n "$N" -l 4096 -s 20 -r "$R"
fi
if [ "$MODE" = e2e ] || [ "$MODE" = all ]; then
	echo "== end to end relay: smtp-source -> MTA -> smtp-sink"
	bash "$B" --a external --b postfix -n "$N" -l 4096 -s 20 -r "$R"
fi
