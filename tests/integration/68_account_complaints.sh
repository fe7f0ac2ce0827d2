#!/bin/bash
# 68_account_complaints: the reputation breaker fed by complaints. 40
# messages are delivered to a scripted receiver (tests/integration/
# smtpfault.py, which records each VERP return path); one recipient's
# mailbox provider then sends an RFC 5965 (ARF) report to hermod's inbound
# listener. Checks: the report becomes a complained event, 1 complaint in
# 40 sent (2.5%) is over complaint_pause (0.5%) with min_sample 20 reached,
# so the account is paused with the reason "complaint rate 2.5% > 0.5%".
. "$(dirname "$0")/lib.sh"

command -v swaks >/dev/null || { echo "swaks missing"; exit 77; }
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
min_sample = 20"

/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.1:"$FAULT_PORT" --log "$T/fault.log" &
PIDS+=($!)
for i in $(seq 1 100); do grep -q ready "$T/fault.log" 2>/dev/null && break; sleep 0.1; done

events() { grep '"component":"event"' "$T/serve.log"; }
count() { events | grep -c "\"type\":\"$1\"" || true; }
wait_for() { # SECONDS COMMAND...
	local n=$(( $1 * 10 )); shift
	for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
	return 1
}

msgs=""
for i in $(seq 1 40); do
	msgs="$msgs{\"from\":\"a@shop.example\",\"to\":[\"u$i@dest.test\"],\"subject\":\"news $i\",\"text\":\"hi\"},"
done
code=$(curl -s -o "$T/batch.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X POST \
	"$U/v1/messages/batch" -d "{\"messages\": [${msgs%,}]}")
ok $([ "$code" = 200 ]; echo $?) "40 messages accepted"
ok $(wait_for 30 sh -c "[ \$(grep '\"component\":\"event\"' '$T/serve.log' | grep -c '\"type\":\"delivered\"') = 40 ]"; echo $?) \
	"40 delivered"
ok $([ "$(count account_paused)" = 0 ]; echo $?) "no complaint yet: not paused"

# The VERP return path of u7's message, as the receiver saw it.
VERP=$(jq -r 'select(.ev == "msg" and (.rcpt | index("u7@dest.test"))) | .from' "$T/fault.log" | head -1)
ok $([ -n "$VERP" ] && [ "$VERP" != null ]; echo $?) "the receiver saw a VERP return path ($VERP)"
B=part1_68_boundary
{
	printf 'From: <abusedesk@isp.example>\r\nDate: Thu, 26 Nov 2026 19:40:36 +0000\r\nSubject: FW: news 7\r\nTo: <fbl@bounce.shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;\r\n\tboundary="%s"\r\n\r\n' "$B"
	printf -- '--%s\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n' "$B"
	printf -- '--%s\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <%s>\r\nOriginal-Rcpt-To: <u7@dest.test>\r\nReporting-MTA: dns; mail.isp.example\r\nSource-IP: 127.0.0.1\r\n\r\n' "$B" "$VERP"
	printf -- '--%s\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: a@shop.example\r\nTo: u7@dest.test\r\nSubject: news 7\r\n\r\n' "$B"
	printf -- '--%s--\r\n' "$B"
} >"$T/arf.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from '<>' \
	--to fbl@bounce.shop.example --data "@$T/arf.eml" 2>&1)
ok $(grep -q '^<-  250 2.0.0' <<<"$out"; echo $?) "ARF report to the inbound listener: 250"
ok $(wait_for 10 sh -c "grep '\"component\":\"event\"' '$T/serve.log' | grep '\"type\":\"complained\"' | grep -q 'u7@dest.test'"; echo $?) \
	"complained event for u7@dest.test"
ok $(wait_for 10 sh -c "grep '\"component\":\"event\"' '$T/serve.log' | grep -q '\"type\":\"account_paused\"'"; echo $?) \
	"account_paused"
ok $(events | grep '"type":"account_paused"' | grep -q '"reason":"complaint rate 2.5% > 0.5%"'; echo $?) \
	"paused for the complaint rate: 2.5% > 0.5%"
curl -s -H "Authorization: Bearer $KEY" "$U/v1/account" >"$T/acct.json"
ok $(jq -e '.reputation.paused == true and .reputation.complained == 1 and .reputation.sent == 40' \
	"$T/acct.json" >/dev/null; echo $?) "GET /v1/account: paused, 1 complaint of 40 sent"
done_testing
