#!/bin/bash
# A failed spool write answers 451 4.3.0, never 250: data_dir on a small tmpfs
# that we fill up. Once space is back, mail is accepted again, and what was
# refused is not in the queue. Needs root (mount); skipped otherwise.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then echo "needs root to mount a tmpfs"; exit 77; fi
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=8m tmpfs "$T/small" 2>/dev/null; then echo "cannot mount tmpfs"; exit 77; fi
umount_small() { umount -l "$T/small" 2>/dev/null; }
trap 'for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done; sleep 0.2; umount_small; cleanup' EXIT

write_config "[server]
data_dir = $T/small/var
[submission]
trusted_networks = 127.0.0.1/32
trusted_account = shop"
hermod account create shop >/dev/null && hermod domain add shop.example --account shop >/dev/null || exit 1
start_daemon || exit 1

send() { # send FILE: prints the reply to DATA's end
	swaks --server 127.0.0.1 --port "$SUB_PORT" --from app@shop.example --to r@x.example \
		--data "$1" 2>&1 | grep -E '^<[-~*]* +[245][0-9][0-9] ' | tail -2 | head -1
}
# A 600 KiB message with lines of 76 octets.
{ printf 'From: app@shop.example\r\nSubject: big\r\n\r\n'; head -c 460000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } >"$T/big.eml"

out=$(send "$T/big.eml")
check "with space, a 600 KiB message is accepted" grep -q '250 2.0.0' <<<"$out"

# Fill the file system (the spool's preallocated segment tail included).
dd if=/dev/zero of="$T/small/filler" bs=64k 2>/dev/null
out=$(send "$T/big.eml")
check "disk full: 451 4.3.0, not 250" grep -q '451 4.3.0' <<<"$out"
grep -q '"level":"error"' "$T/serve.log"
ok $? "the failed write is logged as an error"

rm -f "$T/small/filler"
sleep 0.2
out=$(send "$T/big.eml")
check "space back: accepted again" grep -q '250 2.0.0' <<<"$out"

n=$(hermod queue list --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ok $(( n == 2 ? 0 : 1 )) "the queue holds the two accepted messages, not the refused one ($n)"
stop_daemon
start_daemon || exit 1
n=$(hermod queue list --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ok $(( n == 2 ? 0 : 1 )) "after restart: still two, recovery skipped nothing it acknowledged ($n)"
done_testing
