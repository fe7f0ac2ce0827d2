#!/bin/bash
# tests/run.sh: runs every test and ends with "N passed, N failed".
#   unit tests (cmocka), plain and under ASan+UBSan: each test case counts;
#   fuzz harnesses: a short run each over their golden corpus;
#   integration tests (tests/integration/*.sh, *.py) against the sanitized
#   daemon: a script that prints TAP lines ("ok ...", "not ok ...") counts each,
#   otherwise its exit status counts once (77 = skipped).
# Filter with TESTS=pattern (matched against file names).
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
failed_names=()
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
export HERMOD=${HERMOD:-$PWD/build/asan/hermod}
export HERMOD_PLAIN=$PWD/build/hermod
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}

want() { [ -z "${TESTS:-}" ] || [[ "$1" == *$TESTS* ]]; }

count_cmocka() { # name log rc
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$2" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$2" | tail -1)
	p=${p:-0}; f=${f:-0}
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then failed_names+=("$1"); echo "FAIL $1 (see $2)"; else echo "ok   $1 ($p)"; fi
}

for kind in build/tests build/asan/tests; do
	for t in $kind/test_*; do
		[ -x "$t" ] || continue
		want "$t" || continue
		log=$LOGDIR/$(echo "$t" | tr / _).log
		timeout 300 "$t" >"$log" 2>&1
		count_cmocka "$t" "$log" $?
	done
done

for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	want "$f" || continue
	name=$(basename "$f")
	corpus=tests/golden/${name#fuzz_}
	work=build/fuzz-corpus/$name
	mkdir -p "$work"
	log=$LOGDIR/$name.log
	args=("$work")
	[ -d "$corpus" ] && args+=("$corpus")
	if timeout $((FUZZ_SECONDS + 60)) "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
	    -max_len=65536 "${args[@]}" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $f (${FUZZ_SECONDS}s)"
	else
		fail=$((fail + 1)); failed_names+=("$f"); echo "FAIL $f (see $log)"
	fi
done

for t in tests/integration/*.sh tests/integration/*.py; do
	[ -x "$t" ] || continue
	want "$t" || continue
	log=$LOGDIR/$(basename "$t").log
	start=$(date +%s)
	timeout -k 10 "${INTEGRATION_TIMEOUT:-300}" "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	okn=$(grep -c '^ok ' "$log")
	notok=$(grep -c '^not ok ' "$log")
	if [ "$rc" -eq 77 ]; then
		skip=$((skip + 1)); echo "skip $t ($(tail -1 "$log"))"
	elif [ $((okn + notok)) -gt 0 ]; then
		[ "$rc" -ne 0 ] && [ "$notok" -eq 0 ] && notok=1
		pass=$((pass + okn)); fail=$((fail + notok))
		if [ "$notok" -gt 0 ]; then
			failed_names+=("$t"); echo "FAIL $t ($okn ok, $notok not ok, ${secs}s; see $log)"
			grep '^not ok' "$log" | head -20 | sed 's/^/       /'
		else
			echo "ok   $t ($okn, ${secs}s)"
		fi
	elif [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "ok   $t (${secs}s)"
	else
		fail=$((fail + 1)); failed_names+=("$t"); echo "FAIL $t (exit $rc, ${secs}s; see $log)"
		tail -15 "$log" | sed 's/^/       /'
	fi
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
