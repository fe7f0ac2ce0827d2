#!/bin/bash
# 11_cli_live: the admin commands against the store of a running daemon.
# Accounts, keys and domains made (or keys revoked) while `hermod serve`
# runs take effect at once over SMTP AUTH and the HTTP API (no cache to
# flush), and CLI writes succeed while SMTP sessions authenticate at the same
# time (WAL and busy_timeout, not "database is locked").
. "$(dirname "$0")/lib.sh"

# Other test runs share this machine: a port taken between free_port and
# bind is retried with fresh ports (the store in $T/var stays the same).
for attempt in 1 2 3; do
	write_config
	[ "$attempt" = 1 ] && check "init" hermod init
	start_daemon && wait_port "$HTTP_PORT" 30 && started=1 && break
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	grep -q "address already in use" "$T/serve.log" || break
done
if [ -z "${started:-}" ]; then
	ok 1 "daemon starts"
	tail -20 "$T/serve.log"
	done_testing
	exit 1
fi
ok 0 "daemon starts"
U=http://127.0.0.1:$HTTP_PORT

# swaks_send KEY FROM: one authenticated submission; prints swaks' transcript.
swaks_send() {
	swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --tls \
	    --auth PLAIN --auth-user live --auth-password "$1" --from "$2" --to rcpt@dest.example \
	    --h-From "$2" --h-Subject live --timeout 20 2>&1
}

# Made while the daemon runs, used at once.
check "account create with the daemon running" hermod account create live
KEY=$(hermod key create --account live)
check "domain add with the daemon running" hermod domain add live.example --account live
out=$(swaks_send "$KEY" app@live.example)
check "a key made after start authenticates over SMTP" grep -q '250 2.0.0 Ok: queued as' <<<"$out"
out=$(swaks_send "$KEY" app@news.live.example)
check "a subdomain of the new domain may send" grep -q '250 2.0.0 Ok: queued as' <<<"$out"
out=$(swaks_send "$KEY" app@unregistered.example)
check "an unregistered domain may not" grep -q '550 5.7.1' <<<"$out"

AKEY=$(hermod key create --account live --scope admin)
code=$(curl -s -o "$T/doms.json" -w '%{http_code}' -H "Authorization: Bearer $AKEY" "$U/v1/domains")
ok $([ "$code" = 200 ] && grep -q live.example "$T/doms.json"; echo $?) \
    "a key made after start authenticates over HTTP and sees the new domain"

# Revoked while the daemon runs: refused at once.
ID=$(hermod key list --account live --json | python3 -c '
import json, sys
print([k["id"] for k in json.load(sys.stdin) if k["scope"] == "send"][0])')
check "key revoke with the daemon running" hermod key revoke --account live "$ID"
out=$(swaks_send "$KEY" app@live.example)
check "a revoked key is refused over SMTP (535)" grep -q '535 5.7.8' <<<"$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$U/v1/domains")
ok $([ "$code" = 401 ]; echo $?) "a revoked key is refused over HTTP (401)"
ok $(hermod key list --account live --json | python3 -c '
import json, sys
k = [k for k in json.load(sys.stdin) if k["scope"] == "send"][0]
assert k["last_used"] is not None and k["revoked"] is not None, k'; echo $?) \
    "key list shows when the key was last used and revoked"

# CLI writes while SMTP sessions authenticate against the same store.
KEY2=$(hermod key create --account live)
SWPIDS=()
for i in $(seq 1 8); do
	swaks_send "$KEY2" "app$i@live.example" >"$T/sw$i.out" &
	SWPIDS+=($!)
done
fails=0
for i in $(seq 1 15); do
	hermod account create "busy$i" >/dev/null 2>>"$T/busy.err" || fails=$((fails + 1))
	hermod key create --account "busy$i" >/dev/null 2>>"$T/busy.err" || fails=$((fails + 1))
done
wait "${SWPIDS[@]}"	# not a bare wait: the daemon is a child too
ok $([ "$fails" -eq 0 ] && [ ! -s "$T/busy.err" ]; echo $?) "30 CLI writes during SMTP traffic all succeed"
ok $([ "$(grep -l '250 2.0.0 Ok: queued as' "$T"/sw*.out | wc -l)" -eq 8 ]; echo $?) \
    "8 concurrent SMTP submissions all accepted"
check "daemon still running" kill -0 "$DAEMON_PID"
check "daemon stops cleanly" stop_daemon
done_testing
