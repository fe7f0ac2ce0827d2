#!/bin/bash
# 20_queue: `hermod queue ...` against the running daemon, with mail put in
# by swaks over submission (trusted network): list as a table and as the
# JSON of SPEC.md, show, hold, release, delete, flush, bad ids; the control
# socket's mode; the queue (hold included) across a clean restart and a
# kill -9; and without a daemon, one clear line on stderr and exit 1.
# Delivery goes to a relay port where nobody listens, so mail stays queued,
# deferred.
. "$(dirname "$0")/lib.sh"

# start: start_daemon, but give up as soon as the daemon exits.
start() {
	"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	for _ in $(seq 1 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$SUB_PORT") 2>/dev/null && [ -S "$T/var/hermod.sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

RELAY=$(free_port)
DELIVERY=yes
write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[route *]
relay = 127.0.0.1:$RELAY
[delivery]
retry = 1h"
hermod init >/dev/null 2>&1
hermod account create shop >/dev/null
hermod domain add shop.example --account shop >/dev/null

# --- no daemon
hermod queue list >"$T/out" 2>"$T/err"
rc=$?
ok $([ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "daemon not running" "$T/err"; echo $?) \
    "queue list without a daemon: exit 1, one line saying so"

if ! start; then
	if grep -q "not implemented" "$T/serve.log"; then
		echo "hermod serve is not built yet"
		exit 77
	fi
	ok 1 "daemon starts"
	done_testing
	exit 1
fi
ok 0 "daemon starts"
ok $([ "$(stat -c %a "$T/var/hermod.sock")" = 600 ]; echo $?) "control socket is mode 0600"

# send N MSGID: one message through submission; 0 when it got its 250.
send() {
	swaks --server "127.0.0.1:$SUB_PORT" --from orders@shop.example --to "rcpt$1@x.example" \
	    --header "From: Shop <orders@shop.example>" --header "Message-Id: <$2>" \
	    --header "Subject: queue test $1" --body "hello $1" --timeout 20 >"$T/swaks.$1" 2>&1
}
for i in 1 2 3; do
	send $i "q$i@test.example"
	ok $? "swaks message $i accepted"
done

hermod queue list --json >"$T/list.json"
ok $? "queue list --json exits 0"
ok $([ "$(jq length "$T/list.json")" = 3 ]; echo $?) "three messages queued"
ok $(jq -e 'map(has("id") and has("message_id") and has("account") and has("from") and
    has("recipients") and has("size") and has("queued_at")) | all' "$T/list.json" >/dev/null; echo $?) \
    "each entry has the fields of SPEC.md"
ok $(jq -e 'map(.recipients[0] | has("email") and has("state") and has("attempts") and
    has("next_attempt") and has("last_reply")) | all' "$T/list.json" >/dev/null; echo $?) \
    "each recipient has email, state, attempts, next_attempt, last_reply"
ok $(jq -e '[.[].message_id] | sort == ["q1@test.example","q2@test.example","q3@test.example"]' \
    "$T/list.json" >/dev/null; echo $?) "message_id is the Message-ID without angle brackets"
ok $(jq -e 'map(.account == "shop" and .from == "orders@shop.example" and .size > 0) | all' \
    "$T/list.json" >/dev/null; echo $?) "account, from and size are right"
ID1=$(jq -r '.[] | select(.message_id == "q1@test.example") | .id' "$T/list.json")
ID2=$(jq -r '.[] | select(.message_id == "q2@test.example") | .id' "$T/list.json")
ID3=$(jq -r '.[] | select(.message_id == "q3@test.example") | .id' "$T/list.json")

hermod queue list >"$T/table"
ok $(grep -q "^$ID1" "$T/table" && grep -q "rcpt2@x.example" "$T/table" &&
    grep -q "in 3 Requests" "$T/table"; echo $?) "queue list prints a mailq-like table"
hermod queue show "$ID2" --json >"$T/show.json"
ok $([ "$(jq -r .id "$T/show.json")" = "$ID2" ] &&
    [ "$(jq -r '.recipients[0].email' "$T/show.json")" = rcpt2@x.example ]; echo $?) "queue show --json ID"

hermod queue hold "$ID1" >/dev/null
ok $? "queue hold"
ok $([ "$(hermod queue show "$ID1" --json | jq -r .held)" = true ] &&
    hermod queue list | grep -q "^$ID1!"; echo $?) "held: shown with held=true and a ! in the table"
hermod queue release "$ID1" >/dev/null &&
    [ "$(hermod queue show "$ID1" --json | jq -r .held)" = false ]
ok $? "queue release"
hermod queue delete "$ID3" >/dev/null
ok $? "queue delete"
hermod queue show "$ID3" >/dev/null 2>"$T/err"
ok $([ $? -eq 1 ] && grep -q "no such message" "$T/err"; echo $?) "a deleted message is gone"
hermod queue delete "$ID3" >/dev/null 2>&1
ok $([ $? -eq 1 ]; echo $?) "deleting it again fails"
hermod queue show "../../etc/passwd" >/dev/null 2>"$T/err"
ok $([ $? -eq 1 ] && grep -q "not a queue id" "$T/err"; echo $?) "a malformed id is refused"
hermod queue frobnicate >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "an unknown subcommand fails"
hermod queue flush "$ID2" >"$T/flush" 2>&1
ok $([ $? -eq 0 ] && grep -q "1 message scheduled" "$T/flush"; echo $?) "queue flush ID schedules it"
# The relay refuses connections: the attempt is recorded, deferred, with why.
for _ in $(seq 1 100); do
	hermod queue show "$ID2" --json >"$T/show.json"
	[ "$(jq '.recipients[0].attempts' "$T/show.json")" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
ok $([ "$(jq -r '.recipients[0].state' "$T/show.json")" = deferred ] &&
    [ "$(jq -r '.recipients[0].attempts' "$T/show.json")" -ge 1 ] &&
    [ "$(jq -r '.recipients[0].last_reply' "$T/show.json")" != null ] &&
    [ "$(jq -r '.recipients[0].next_attempt' "$T/show.json")" != null ]; echo $?) \
    "after the attempt: deferred, with attempts, last_reply and next_attempt"
hermod queue flush >"$T/flush" 2>&1
ok $([ $? -eq 0 ] && grep -q "scheduled" "$T/flush"; echo $?) "queue flush (all) answers"

# --- restart: clean, then kill -9; the queue and the hold survive
hermod queue hold "$ID2" >/dev/null
stop_daemon
ok $? "SIGTERM: exit 0"
start
ids=$(hermod queue list --json | jq -r '[.[].id] | sort | join(" ")')
ok $([ "$ids" = "$(echo "$ID1 $ID2" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" ]; echo $?) \
    "after a restart: the same two messages"
ok $([ "$(hermod queue show "$ID2" --json | jq -r .held)" = true ]; echo $?) "the hold survived"
send 4 "q4@test.example"
ok $? "swaks message 4 accepted"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
start
n=$(hermod queue list --json | jq '[.[].message_id] | sort | join(",")' -r)
ok $([ "$n" = "q1@test.example,q2@test.example,q4@test.example" ]; echo $?) \
    "after kill -9: every accepted message, once"
stop_daemon
done_testing
