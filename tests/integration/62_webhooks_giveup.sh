#!/bin/bash
# 62_webhooks_giveup: the ends of the retry schedule and the guard on
# redirects. With webhooks.max_lifetime = 4s, events to an endpoint that
# always answers 500 are retried, then given up (a warn line each, the
# pending rows gone, hermod_webhook_events_total{result="gave_up"} counted);
# a 307 redirect is a failure and is not followed (the redirect target sees
# nothing). Delivery is off: the queued events at acceptance are enough.
. "$(dirname "$0")/lib.sh"

write_config "[webhooks]
allow_private_targets = yes
retry = 1s
max_lifetime = 4s
timeout = 2s"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope admin)
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s "$U/healthz" | grep -q ok && break; sleep 0.1; done
PG=$(free_port); PR=$(free_port)

receiver() { # NAME ADDR:PORT
	/usr/bin/python3 "$ROOT/tests/integration/webhook_receiver.py" --listen "$2" \
	    --secret-file "$T/$1.secret" --log "$T/$1.log" --control "$T/$1.ctl" >"$T/$1.out" 2>&1 &
	PIDS+=($!)
	for i in $(seq 1 50); do grep -q ready "$T/$1.out" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
subscribe() { # NAME URL
	curl -s -X POST "$U/v1/webhooks" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    -d "{\"url\":\"$2\",\"events\":[\"queued\"]}" >"$T/$1.sub"
	jq -r .secret "$T/$1.sub" >"$T/$1.secret"
	jq -r .id "$T/$1.sub"
}
wait_for() { # SECONDS COMMAND...
	local s=$1 i
	shift
	for i in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}

echo 500 >"$T/G.ctl"
echo "redirect http://127.0.0.8:$PR/stolen" >"$T/R.ctl"
echo 200 >"$T/F.ctl"
receiver G 127.0.0.6:$PG || exit 1
receiver R 127.0.0.7:$PR || exit 1
receiver F 127.0.0.8:$PR || exit 1
G_ID=$(subscribe G "http://127.0.0.6:$PG/hook")
R_ID=$(subscribe R "http://127.0.0.7:$PR/hook")
curl -s -X POST "$U/v1/messages" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"from":"a@shop.example","to":["x@dest.example","y@dest.example"],"subject":"s","text":"t"}' >/dev/null

gave_up() { [ "$(grep '"msg":"event given up"' "$T/serve.log" | grep -c "$G_ID")" -eq 2 ]; }
check "both events to the failing endpoint are given up after max_lifetime" wait_for 15 gave_up
check "they were retried before that (more than 2 attempts)" \
    bash -c "[ \$(wc -l <'$T/G.log') -gt 2 ]"
check "every attempt was signed" bash -c "jq -e -s 'all(.sig_ok)' '$T/G.log' >/dev/null"
check "nothing of it is left pending in the store" wait_for 5 bash -c \
    "sqlite3 '$T/var/hermod.db' \"select count(*) from webhook_pending where webhook='$G_ID'\" | grep -q '^0\$'"
N=$(wc -l <"$T/G.log")
sleep 2
check "no attempt after giving up" bash -c "[ \$(wc -l <'$T/G.log') -eq $N ]"
curl -s "$U/metrics" >"$T/metrics"
check "hermod_webhook_events_total counts them" \
    grep -Eq '^hermod_webhook_events_total\{result="gave_up"\} ([2-9]|[1-9][0-9])' "$T/metrics"
check "and the failed attempts" grep -Eq '^hermod_webhook_events_total\{result="failed"\} [1-9]' "$T/metrics"

check "the redirecting endpoint was tried" bash -c "[ -s '$T/R.log' ] && jq -e -s 'all(.status == 307)' '$T/R.log' >/dev/null"
check "the redirect was not followed" bash -c "[ ! -s '$T/F.log' ]"
check "a 307 is a failure, not a delivery" bash -c \
    "grep '\"msg\":\"event delivery failed\"' '$T/serve.log' | grep '$R_ID' | grep -q '\"status\":307'"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
