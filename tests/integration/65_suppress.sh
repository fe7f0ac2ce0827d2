#!/bin/bash
# Suppressions end to end, with real peers on loopback: a private dnsmasq,
# Postfix's smtp-sink (-u nobody, -d: writes what it receives, envelope
# included) and the scripted server smtpfault.py (a 550 5.1.1 recipient, a
# 451 one). Checks: addresses suppressed over the API and with the CLI
# (daemon running) are dropped from an HTTP send (answer "dropped",
# reason "suppressed", `dropped` event) while the other recipient is
# delivered; SMTP RCPT to one is 550 5.7.1 and the rest is accepted; the sink
# never gets mail for a suppressed address; a hard bounce suppresses by
# itself, and so does a complaint (an ARF report to the inbound listener);
# soft bounces below the span do not, above it they do, and the
# queued message is then dropped before its next attempt; removal (API,
# CLI) makes an address deliverable again; audit events with who; another
# account is not affected; the CLI works with the daemon stopped.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null && command -v smtp-sink >/dev/null && command -v swaks >/dev/null ||
	{ echo "dnsmasq, smtp-sink or swaks missing"; exit 77; }
DNS_PORT=$(free_port)
SINK_PORT=$(free_port)
mkdir -p "$T/sink"
chmod 711 "$T"		# smtp-sink writes as nobody
chmod 777 "$T/sink"

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=sink.test,mx.sink.test,10 --host-record=mx.sink.test,127.0.0.1 \
	--mx-host=hard.test,mx.hard.test,10 --host-record=mx.hard.test,127.0.0.11 \
	--mx-host=softb.test,mx.softb.test,10 --host-record=mx.softb.test,127.0.0.11 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
smtp-sink -u nobody -d "$T/sink/%M." -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.11:"$SINK_PORT" --log "$T/fault.log" \
	--rules '{"rcpt": {"bad@hard.test": "550 5.1.1 <bad@hard.test>: Recipient address rejected: User unknown",
	                   "soft@softb.test": "451 4.2.1 <soft@softb.test>: mailbox busy, try later"}}' &
PIDS+=($!)

# Soft bounces suppress after 3 of them spread over at least 3 s; retries
# every second, so the 3rd comes at about 2 s (below) and the 4th at 3 s.
DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $SINK_PORT
retry = 1s
connect_timeout = 3s
greeting_timeout = 3s
[suppressions]
soft_bounce_count = 3
soft_bounce_span = 3s"
hermod account create shop >/dev/null || exit 1
hermod account create other >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
hermod domain add other.test --account other >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope send)
AKEY=$(hermod key create --account shop --scope admin)
OKEY=$(hermod key create --account other --scope send)
wait_port "$SINK_PORT" 10
for i in $(seq 1 100); do grep -q ready "$T/fault.log" 2>/dev/null && break; sleep 0.1; done

# The CLI with the daemon stopped: the daemon loads it and announces it.
check "cli add (daemon stopped)" bash -c "'$HERMOD' -c '$T/hermod.conf' suppress add --account shop early@sink.test | grep -q 'suppressed early@sink.test'"
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q ok && break; sleep 0.1; done

api() { # METHOD PATH KEY [BODY]: prints the body, then the status on its own line
	curl -s -m 10 -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
		${4:+--data-binary "$4"} -w '\n%{http_code}' "$U$2"
}
send() { # KEY FROM TO-JSON-ARRAY
	api POST /v1/messages "$1" "{\"from\":\"$2\",\"to\":$3,\"subject\":\"sup test\",\"text\":\"hello\"}"
}
events() { grep '"component":"event"' "$T/serve.log"; }
wait_event() { # TYPE RECIPIENT [SECONDS]
	for i in $(seq 1 $(( ${3:-10} * 10 ))); do
		events | grep "\"type\":\"$1\"" | grep -qi "\"recipient\":\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
# the envelope recipients smtp-sink received (its X-Rcpt-Args lines): the
# To: header of a message may name a suppressed address that was not sent to
sink_has() { grep -rqi -- "^X-Rcpt-Args:.*<$1>" "$T/sink" 2>/dev/null; }
wait_sink() { for i in $(seq 1 100); do sink_has "$1" && return 0; sleep 0.1; done; return 1; }

check "the CLI's change made while stopped is announced (who cli)" bash -c \
	"for i in \$(seq 1 50); do grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep 'early@sink.test' | grep -q '\"who\":\"cli\"' && exit 0; sleep 0.1; done; exit 1"

# --- adding: API and CLI ---
out=$(api POST /v1/suppressions "$KEY" '{"email":"Api-Sup@SINK.test"}')
check "API add: 201" test "$(tail -1 <<<"$out")" = 201
check "API add: stored with the domain lower-cased, reason manual" bash -c "grep -q '\"email\":\"Api-Sup@sink.test\"' <<<'$out' && grep -q '\"reason\":\"manual\"' <<<'$out'"
out=$(api POST /v1/suppressions "$KEY" '{"email":"api-sup@sink.test","reason":"complaint"}')
check "API add again: 200 exists, first reason kept" bash -c "test '$(tail -1 <<<"$out")' = 200 && grep -q '\"status\":\"exists\"' <<<'$out' && grep -q '\"reason\":\"manual\"' <<<'$out'"
out=$(api POST /v1/suppressions "$KEY" '[{"email":"l1@sink.test"},{"email":"nope"},{"email":"l3@sink.test","reason":"spam"}]')
check "API add list: 422 naming each bad field, nothing added" bash -c "test '$(tail -1 <<<"$out")' = 422 && grep -q '\"field\":\"\[1\].email\"' <<<'$out' && grep -q '\"field\":\"\[2\].reason\"' <<<'$out'"
out=$(api GET /v1/suppressions "$KEY")
check "GET lists, the refused list added nothing" bash -c "grep -q 'Api-Sup@sink.test' <<<'$out' && ! grep -q 'l1@sink.test' <<<'$out'"
check "CLI add while the daemon runs" bash -c "'$HERMOD' -c '$T/hermod.conf' suppress add --account shop cli-sup@sink.test --reason unsubscribe >/dev/null"
check "CLI list --json shows both" bash -c "'$HERMOD' -c '$T/hermod.conf' suppress list --account shop --json | /usr/bin/python3 -c 'import json,sys; a=[x[\"email\"] for x in json.load(sys.stdin)]; sys.exit(0 if \"cli-sup@sink.test\" in a and \"Api-Sup@sink.test\" in a else 1)'"
out=$(api GET '/v1/suppressions?limit=1' "$KEY")
next=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1].rsplit("\n",1)[0])["next"] or "")' "$out")
out2=$(api GET "/v1/suppressions?limit=1&cursor=$next" "$KEY")
check "paging: limit 1 gives a cursor, the next page another address" bash -c "test -n '$next' && test \"\$(grep -o '\"email\":\"[^\"]*\"' <<<'$out')\" != \"\$(grep -o '\"email\":\"[^\"]*\"' <<<'$out2')\""
out=$(api GET '/v1/suppressions?reason=unsubscribe' "$KEY")
check "filter by reason" bash -c "grep -q cli-sup@sink.test <<<'$out' && ! grep -q Api-Sup <<<'$out'"
out=$(api GET '/v1/suppressions?reason=bogus' "$KEY")
check "bad reason filter: 422 naming reason" bash -c "test '$(tail -1 <<<"$out")' = 422 && grep -q '\"field\":\"reason\"' <<<'$out'"

check "metrics: hermod_suppressions counts the lists" bash -c "curl -s -m 5 '$U/metrics' | grep -q '^hermod_suppressions 3$'"

# --- HTTP send ---
out=$(send "$KEY" app@shop.test '["api-sup@sink.test","CLI-SUP@sink.test","ok1@sink.test"]')
check "HTTP send: 202" test "$(tail -1 <<<"$out")" = 202
check "HTTP send: both suppressed dropped with reason, the other queued" /usr/bin/python3 - "$out" <<'PY'
import json, sys
b = json.loads(sys.argv[1].rsplit("\n", 1)[0])
st = {r["email"].lower(): (r["status"], r.get("reason")) for r in b["recipients"]}
ok = st == {"api-sup@sink.test": ("dropped", "suppressed"), "cli-sup@sink.test": ("dropped", "suppressed"),
            "ok1@sink.test": ("queued", None)} and b["id"]
sys.exit(0 if ok else 1)
PY
check "the other recipient is delivered to smtp-sink" wait_sink ok1@sink.test
check "dropped events, reason suppressed" bash -c "grep '\"component\":\"event\"' '$T/serve.log' | grep '\"type\":\"dropped\"' | grep -i 'api-sup@sink.test' | grep -q '\"reason\":\"suppressed\"'"
out=$(send "$KEY" app@shop.test '["api-sup@sink.test"]')
check "every recipient suppressed: 200, id null, nothing queued" bash -c "test '$(tail -1 <<<"$out")' = 200 && grep -q '\"id\":null' <<<'$out' && grep -q '\"status\":\"dropped\"' <<<'$out'"
out=$(api POST /v1/messages/batch "$KEY" '{"messages":[{"from":"app@shop.test","to":["cli-sup@sink.test","ok2@sink.test"],"subject":"b","text":"b"}]}')
check "batch: the suppressed one dropped, the other queued" bash -c "grep -q '\"status\":\"dropped\"' <<<'$out' && grep -q '\"status\":\"queued\"' <<<'$out'"
check "batch: the other delivered" wait_sink ok2@sink.test

# --- tenant isolation ---
out=$(send "$OKEY" app@other.test '["api-sup@sink.test"]')
check "another account's send to the same address is queued" bash -c "test '$(tail -1 <<<"$out")' = 202 && grep -q '\"status\":\"queued\"' <<<'$out'"
check "... and delivered" wait_sink api-sup@sink.test
rm -f "$T"/sink/*		# from here on the sink must never see a suppressed address

# --- SMTP ---
out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to ok3@sink.test,Api-Sup@sink.test --body "smtp test" 2>&1)
check "SMTP: RCPT to the suppressed address is 550 5.7.1" grep -q '550 5.7.1 <Api-Sup@sink.test>' <<<"$out"
check "SMTP: the message is accepted for the rest" grep -q '250 2.0.0 Ok: queued as' <<<"$out"
check "SMTP: the other recipient delivered" wait_sink ok3@sink.test
check "SMTP: dropped event" bash -c "grep '\"component\":\"event\"' '$T/serve.log' | grep '\"type\":\"dropped\"' | grep -c 'Api-Sup@sink.test' | grep -qv '^0$'"
check "the sink never received mail for a suppressed address" bash -c "! grep -rqi -e '^X-Rcpt-Args:.*api-sup@sink.test' -e '^X-Rcpt-Args:.*cli-sup@sink.test' '$T/sink'"

# --- automatic: a hard bounce ---
send "$KEY" app@shop.test '["bad@hard.test"]' >/dev/null
check "hard bounce: bounced" wait_event bounced bad@hard.test
check "hard bounce: suppressed automatically (who auto)" bash -c \
	"for i in \$(seq 1 50); do grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep 'bad@hard.test' | grep '\"reason\":\"hard_bounce\"' | grep -q '\"who\":\"auto\"' && exit 0; sleep 0.1; done; exit 1"
out=$(api GET '/v1/suppressions?reason=hard_bounce' "$KEY")
check "hard bounce: listed with its source message" bash -c "grep -q 'bad@hard.test' <<<'$out' && grep -q '\"source\":\"[0-9a-z]\\{20\\}\"' <<<'$out'"
out=$(send "$KEY" app@shop.test '["bad@hard.test","ok4@sink.test"]')
check "hard bounce: the next send drops it" bash -c "grep -q '\"email\":\"bad@hard.test\",\"status\":\"dropped\"' <<<'$out' || /usr/bin/python3 -c 'import json,sys; b=json.loads(sys.argv[1].rsplit(\"\\n\",1)[0]); sys.exit(0 if any(r[\"email\"]==\"bad@hard.test\" and r[\"status\"]==\"dropped\" for r in b[\"recipients\"]) else 1)' '$out'"

# --- automatic: a complaint (an RFC 5965 report to the inbound listener) ---
check "ok4 delivered" wait_sink ok4@sink.test
copy=$(grep -li '^X-Rcpt-Args:.*<ok4@sink.test>' "$T"/sink/* | head -1)
VERP=$(sed -n 's/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$copy" | head -1)
{
	printf 'From: <abusedesk@isp.example>\r\nDate: Thu, 26 Nov 2026 19:40:36 +0000\r\nSubject: FW: sup test\r\nTo: <fbl@bounce.shop.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;\r\n\tboundary="b65"\r\n\r\n'
	printf -- '--b65\r\nContent-Type: text/plain; charset="US-ASCII"\r\n\r\nThis is an email abuse report.\r\n\r\n'
	printf -- '--b65\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <%s>\r\nOriginal-Rcpt-To: <ok4@sink.test>\r\nArrival-Date: Thu, 26 Nov 2026 18:00:00 +0000\r\nReporting-MTA: dns; mail.isp.example\r\nSource-IP: 127.0.0.1\r\n\r\n' "$VERP"
	printf -- '--b65\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n'
	sed 's/\r*$/\r/' "$copy"
	printf -- '--b65--\r\n'
} >"$T/arf.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from '<>' \
	--to fbl@bounce.shop.test --data "@$T/arf.eml" 2>&1)
check "complaint: the ARF report is accepted by the inbound listener" grep -q '^<-  250 2.0.0' <<<"$out"
if ! wait_event complained ok4@sink.test 5 && grep -q 'not in the store' "$T/serve.log"; then
	# the inbound path maps a report to its message through the events
	# store; without it (not merged yet) the report cannot map
	skip=1
	for name in "complaint: complained event" "complaint: suppressed automatically" \
		"complaint: the next send drops the complainer"; do
		NTEST=$((NTEST + 1)); echo "ok $NTEST - $name # SKIP no events store to map the report"
	done
else
skip=0
check "complaint: complained event" wait_event complained ok4@sink.test
check "complaint: suppressed automatically (reason complaint, who auto)" bash -c \
	"for i in \$(seq 1 50); do grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep 'ok4@sink.test' | grep '\"reason\":\"complaint\"' | grep -q '\"who\":\"auto\"' && exit 0; sleep 0.1; done; exit 1"
out=$(send "$KEY" app@shop.test '["ok4@sink.test"]')
check "complaint: the next send drops the complainer" bash -c "test '$(tail -1 <<<"$out")' = 200 && grep -q '\"status\":\"dropped\"' <<<'$out'"
fi

# --- automatic: soft bounces, span ---
send "$KEY" app@shop.test '["soft@softb.test"]' >/dev/null
count_deferred() { events | grep '"type":"deferred"' | grep -c 'soft@softb.test'; }
for i in $(seq 1 60); do [ "$(count_deferred)" -ge 3 ] && break; sleep 0.1; done
sleep 0.3
out=$(api GET '/v1/suppressions?reason=soft_bounce' "$KEY")
check "soft bounces: 3 within less than the span do not suppress" bash -c "test $(count_deferred) -ge 3 && ! grep -q soft@softb.test <<<'$out'"
check "soft bounces: kept coming for the span: suppressed" bash -c \
	"for i in \$(seq 1 60); do grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep 'soft@softb.test' | grep -q '\"reason\":\"soft_bounce\"' && exit 0; sleep 0.1; done; exit 1"
check "the queued message is dropped before its next attempt (never delivered)" wait_event dropped soft@softb.test 5
check "dropped by delivery: reason suppressed" bash -c "grep '\"component\":\"event\"' '$T/serve.log' | grep '\"type\":\"dropped\"' | grep 'soft@softb.test' | grep -q '\"message_id\":\"[0-9a-z]\\{20\\}\".*\"reason\":\"suppressed\"'"

# --- removing: API and CLI ---
out=$(api DELETE /v1/suppressions/api-sup@sink.test "$KEY")
check "DELETE with a send key: 403" test "$(tail -1 <<<"$out")" = 403
out=$(api DELETE /v1/suppressions/API-SUP@sink.test "$AKEY")
check "DELETE (any case): 200" test "$(tail -1 <<<"$out")" = 200
out=$(api DELETE /v1/suppressions/api-sup@sink.test "$AKEY")
check "DELETE again: 404" test "$(tail -1 <<<"$out")" = 404
check "CLI remove while the daemon runs" bash -c "'$HERMOD' -c '$T/hermod.conf' suppress remove --account shop cli-sup@sink.test >/dev/null"
check "CLI remove of an absent address fails with one line" bash -c "! '$HERMOD' -c '$T/hermod.conf' suppress remove --account shop cli-sup@sink.test 2>'$T/err' && test \$(wc -l <'$T/err') = 1"
out=$(send "$KEY" app@shop.test '["api-sup@sink.test","cli-sup@sink.test"]')
check "after removal both are queued" bash -c "test '$(tail -1 <<<"$out")' = 202 && ! grep -q dropped <<<'$out'"
check "after removal: delivered (API-removed)" wait_sink api-sup@sink.test
check "after removal: delivered (CLI-removed)" wait_sink cli-sup@sink.test
check "audit: suppression_removed by api and by cli" bash -c "grep '\"type\":\"suppression_removed\"' '$T/serve.log' | grep -q '\"who\":\"api\"' && for i in \$(seq 1 30); do grep '\"type\":\"suppression_removed\"' '$T/serve.log' | grep -q '\"who\":\"cli\"' && exit 0; sleep 0.1; done; exit 1"
check "audit: suppression_added by api" bash -c "grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep -i 'api-sup' | grep -q '\"who\":\"api\"'"
out=$(api GET '/v1/events?type=suppression_added&limit=1000' "$KEY")
check "audit: stored, GET /v1/events?type=suppression_added has api, cli and auto" bash -c "grep -q '\"who\":\"api\"' <<<'$out' && grep -q '\"who\":\"cli\"' <<<'$out' && grep -q '\"who\":\"auto\"' <<<'$out'"
out=$(api GET '/v1/events?type=suppression_removed&limit=1000' "$OKEY")
check "audit: another account sees none of them" bash -c "! grep -q 'sink.test' <<<'$out'"

# --- the CLI with the daemon stopped, then started ---
check "SIGTERM: exits 0" stop_daemon
check "cli add with the daemon stopped" bash -c "'$HERMOD' -c '$T/hermod.conf' suppress add --account shop late@sink.test >/dev/null"
start_daemon || exit 1
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q ok && break; sleep 0.1; done
out=$(send "$KEY" app@shop.test '["late@sink.test","early@sink.test"]')
check "after restart: both CLI suppressions are in force" bash -c "test '$(tail -1 <<<"$out")' = 200 && test \$(grep -o '\"status\":\"dropped\"' <<<'$out' | wc -l) = 2"
check "the sink never received mail for late@ or early@" bash -c "! grep -rqi -e '^X-Rcpt-Args:.*late@sink.test' -e '^X-Rcpt-Args:.*early@sink.test' '$T/sink'"
stop_daemon
check "no sanitizer report" bash -c "! grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' '$T/serve.log'"
done_testing
