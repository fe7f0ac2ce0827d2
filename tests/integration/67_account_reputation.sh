#!/bin/bash
# 67_account_reputation: the reputation breaker (docs/accounts.md) in a
# simulated campaign. 100 messages go to a scripted receiver
# (tests/integration/smtpfault.py) that answers 550 5.1.1 to 12 of the
# recipients. Checks: the account is paused once the hard-bounce rate is
# over 10% with at least min_sample recipients sent (account_paused event,
# GET /v1/account shows paused with the reason); mail submitted meanwhile is
# accepted and held, not delivered (`hermod queue list/show` say "held:
# account paused (bounce rate ...)"); the pause survives a restart; `hermod
# account resume` emits account_resumed and delivers every held message;
# after the resume the rates start afresh and a 6% bounce rate only warns
# (reputation_warning), it does not pause.
. "$(dirname "$0")/lib.sh"

FAULT_PORT=$((10000 + RANDOM % 22000))
export DELIVERY=yes
. "$(dirname "$0")/http_setup.sh" "[delivery]
tls = off
retry = 1s
[route *]
relay = 127.0.0.1:$FAULT_PORT
tls = off
[reputation]
window = 1h
min_sample = 50"

auth() { echo "Authorization: Bearer $1"; }
bad() { [ $(($1 % 25)) -lt 3 ]; }	# 12 of every 100
rules=$(for i in $(seq 0 99); do bad "$i" && printf '"r%d@dest.test": "550 5.1.1 <r%d@dest.test>: User unknown",' "$i" "$i"; done)
rules="$rules\"bad0@dest.test\": \"550 5.1.1 User unknown\",\"bad1@dest.test\": \"550 5.1.1 User unknown\","
rules="$rules\"bad2@dest.test\": \"550 5.1.1 User unknown\",\"bad3@dest.test\": \"550 5.1.1 User unknown\""
rules="{\"rcpt\": {$rules}}"
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.1:"$FAULT_PORT" \
	--log "$T/fault.log" --rules "$rules" &
PIDS+=($!)
for i in $(seq 1 100); do grep -q ready "$T/fault.log" 2>/dev/null && break; sleep 0.1; done

# batch FIRST LAST PREFIX: one batch of single-recipient messages PREFIX$i@dest.test
batch() {
	local i msgs=""
	for i in $(seq "$1" "$2"); do
		msgs="$msgs{\"from\":\"a@shop.example\",\"to\":[\"$3$i@dest.test\"],\"subject\":\"c $i\",\"text\":\"hi\"},"
	done
	curl -s -o "$T/batch.json" -w '%{http_code}' -H "$(auth "$KEY")" -X POST "$U/v1/messages/batch" \
		-d "{\"messages\": [${msgs%,}]}"
}
events() { grep '"component":"event"' "$T/serve.log"; }
count() { events | grep -c "\"type\":\"$1\"" || true; }
wait_for() { # SECONDS COMMAND...
	local n=$(( $1 * 10 )); shift
	for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
	return 1
}

code=$(batch 0 99 r)
ok $([ "$code" = 200 ] && [ "$(jq '[.results[] | select(.status == 202)] | length' "$T/batch.json")" = 100 ]
	echo $?) "campaign of 100 messages accepted"
ok $(wait_for 30 sh -c "grep '\"component\":\"event\"' '$T/serve.log' | grep -q '\"type\":\"account_paused\"'"; echo $?) \
	"account_paused emitted"
pause_ev=$(events | grep '"type":"account_paused"' | head -1)
echo "# $pause_ev" | cut -c1-400
ok $(grep -q '"reason":"bounce rate [0-9.]*% > 10%"' <<<"$pause_ev"; echo $?) "the event says why: bounce rate over 10%"
ok $(jq -e '.reputation.sent >= 50 and .reputation.bounce_rate > 0.10' <<<"$(grep -o '"reputation":{[^}]*}' <<<"$pause_ev" | sed 's/^/{/; s/$/}/')" >/dev/null
	echo $?) "paused at the threshold: at least min_sample (50) sent, rate over 10%"
ok $([ "$(count account_paused)" = 1 ]; echo $?) "paused once"

curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/acct.json"
ok $(jq -e '.reputation.paused == true and .reputation.state == "paused" and
	(.reputation.pause_reason | test("^bounce rate [0-9.]+% > 10%$"))' "$T/acct.json" >/dev/null; echo $?) \
	"GET /v1/account: paused, with the reason"

curl -s "$U/metrics" >"$T/metrics.txt"
ok $(grep -q '^hermod_account_paused{account="shop"} 1$' "$T/metrics.txt" &&
	grep -q '^hermod_account_bounce_rate{account="shop"} 0\.[1-9]' "$T/metrics.txt"; echo $?) \
	"GET /metrics: hermod_account_paused{account=\"shop\"} 1 and the bounce rate"

# Mail submitted while paused is accepted and held.
sleep 1
delivered_before=$(count delivered)
code=$(batch 0 4 late)
ok $([ "$code" = 200 ] && [ "$(jq '[.results[] | select(.status == 202)] | length' "$T/batch.json")" = 5 ]
	echo $?) "submissions while paused are accepted (202)"
sleep 3
ok $([ "$(count delivered)" = "$delivered_before" ] && ! grep -q 'late[0-9]@dest.test' "$T/fault.log"
	echo $?) "nothing is delivered while paused ($delivered_before delivered before)"
hermod queue list >"$T/qlist.txt"
held=$(grep -c 'held: account paused (bounce rate [0-9.]*% > 10%)' "$T/qlist.txt")
ok $([ "$held" -ge 5 ]; echo $?) "hermod queue list: $held messages 'held: account paused (bounce rate ...)'"
LID=$(hermod queue list --json | jq -r '[.[] | select(.recipients[0].email == "late0@dest.test")][0].id')
ok $(hermod queue show "$LID" | grep -q '^held: *account paused (bounce rate'; echo $?) "hermod queue show says held: account paused"
queued=$(hermod queue list --json | jq length)
curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/before.json"

# The pause survives a restart.
stop_daemon
ok $? "SIGTERM: daemon exits 0"
start_daemon
wait_for 10 curl -sf "$U/healthz" >/dev/null
curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/acct2.json"
ok $(jq -e '.reputation.paused == true' "$T/acct2.json" >/dev/null; echo $?) "still paused after a restart"
wait_for 10 grep -q 'reputation window of' "$T/serve.log"
curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/after.json"
ok $([ "$(jq -c '.reputation | [.sent, .delivered, .bounced, .complained]' "$T/before.json")" = \
	"$(jq -c '.reputation | [.sent, .delivered, .bounced, .complained]' "$T/after.json")" ] &&
	[ "$(jq .reputation.sent "$T/after.json")" -ge 50 ]; echo $?) \
	"the rolling window is read back from the stored events after the restart ($(jq -c '.reputation | [.sent, .bounced]' "$T/after.json"))"
sleep 2
ok $([ "$(count delivered)" = "$delivered_before" ] && [ "$(hermod queue list --json | jq length)" = "$queued" ]
	echo $?) "held mail is still held after the restart ($queued queued)"

# Resume: the held mail is delivered, nothing lost.
out=$(hermod account resume shop 2>&1)
ok $?  "hermod account resume shop: $out"
ok $(wait_for 5 sh -c "grep '\"component\":\"event\"' '$T/serve.log' | grep -q '\"type\":\"account_resumed\"'"; echo $?) \
	"account_resumed emitted"
ok $(wait_for 30 sh -c "[ \$($HERMOD -c '$T/hermod.conf' queue list --json | jq length) = 0 ]"; echo $?) "the queue drains"
ok $([ "$(count delivered)" = 93 ] && [ "$(events | grep '"type":"bounced"' | grep -c '"class":"hard"')" = 12 ]
	echo $?) "every message delivered or hard-bounced: 93 delivered (88 + 5 held), 12 bounced (got $(count delivered))"
ok $(hermod account resume shop >/dev/null 2>&1; [ $? != 0 ]; echo $?) "resume of an account that is not paused fails"
curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/acct3.json"
ok $(jq -e --argjson q "$queued" '.reputation.paused == false and .reputation.sent == $q' "$T/acct3.json" >/dev/null
	echo $?) "after the resume: not paused; the window started afresh (it counts only the $queued released messages)"

# Over the review threshold, under the pause one: only a warning. The
# window now holds the S released messages (B of them bounced); add
# messages so that 4 of 60 bounce (6.7%). The rates are judged from 50
# sent on, where at most 4 of 50 (8%) can have bounced: never a pause.
S=$(jq .reputation.sent "$T/acct3.json"); B=$(jq .reputation.bounced "$T/acct3.json")
nb=$((4 - B)); ng=$((60 - S - nb))
code=$(batch 1 "$ng" ok)
[ "$nb" -gt 0 ] && batch 0 $((nb - 1)) bad >/dev/null
ok $([ "$code" = 200 ]; echo $?) "$((ng + nb)) more: $ng good, $nb hard bounces (window: $S sent, $B bounced)"
ok $(wait_for 30 sh -c "grep '\"component\":\"event\"' '$T/serve.log' | grep -q '\"type\":\"reputation_warning\"'"; echo $?) \
	"reputation_warning emitted (over 5% review, under 10% pause)"
ok $(events | grep '"type":"reputation_warning"' | head -1 | grep -q '"reason":"bounce rate [0-9.]*% > 5%"'; echo $?) \
	"the warning says bounce rate ... > 5%"
wait_for 20 sh -c "[ \$($HERMOD -c '$T/hermod.conf' queue list --json | jq length) = 0 ]"
ok $([ "$(count account_paused)" = 1 ]; echo $?) "no second pause"
curl -s -H "$(auth "$AKEY")" -X POST "$U/v1/account/pause" >"$T/p.json"
ok $(jq -e '.reputation.paused == true and .reputation.pause_reason == "paused by an administrator"' "$T/p.json" >/dev/null
	echo $?) "POST /v1/account/pause (admin) pauses"
code=$(curl -s -o "$T/r.json" -w '%{http_code}' -H "$(auth "$AKEY")" -X POST "$U/v1/account/resume")
ok $([ "$code" = 200 ] && jq -e '.reputation.paused == false' "$T/r.json" >/dev/null; echo $?) \
	"POST /v1/account/resume (admin) resumes"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$(auth "$AKEY")" -X POST "$U/v1/account/resume")
ok $([ "$code" = 409 ]; echo $?) "resuming again is a 409"
done_testing
