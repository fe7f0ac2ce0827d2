#!/bin/bash
# 66_account_limits: an account's bulk sending limits (docs/accounts.md)
# against a running daemon, with curl, smtplib and `hermod account set`:
# a burst over the per-hour limit gets 429 problem+json with Retry-After for
# exactly the messages over it; GET /v1/account shows the limit and usage;
# `hermod account set` changes the limits of the running daemon at once; a
# batch over the per-second limit gets 429 results for the excess only; SMTP
# RCPT over the limit gets 451 4.7.1 while the others of the transaction
# go; and every accepted message is delivered to smtp-sink (nothing
# accepted is lost).
. "$(dirname "$0")/lib.sh"

command -v smtp-sink >/dev/null || { echo "smtp-sink missing"; exit 77; }
# http_setup.sh makes $T and starts the daemon; the sink starts after it
# (delivery retries every second until it is up).
SINK_PORT=$((10000 + RANDOM % 22000))
export DELIVERY=yes
. "$(dirname "$0")/http_setup.sh" "[delivery]
tls = off
retry = 1s
[limits]
refresh = 1s
[route *]
relay = 127.0.0.1:$SINK_PORT
tls = off"
mkdir -p "$T/sink"
chmod 711 "$T"
chmod 777 "$T/sink"
smtp-sink -u nobody -d "$T/sink/%M." -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT" 10

auth() { echo "Authorization: Bearer $1"; }
msg() { printf '{"from":"a@shop.example","to":["r%s@dest.test"],"subject":"s %s","text":"hello"}' "$1" "$1"; }

# The limit is set with the CLI while the daemon runs: it must apply at once.
ok $(hermod account set shop --per-hour 8 >/dev/null; echo $?) "account set --per-hour 8 (daemon running)"

accepted=0; limited=0; ra_ok=0; pj_ok=0
for i in $(seq 1 12); do
	code=$(curl -s -D "$T/h$i" -o "$T/b$i" -w '%{http_code}' -H "$(auth "$KEY")" \
		-H 'Content-Type: application/json' -X POST "$U/v1/messages" -d "$(msg "$i")")
	if [ "$code" = 202 ]; then
		accepted=$((accepted + 1))
	elif [ "$code" = 429 ]; then
		limited=$((limited + 1))
		ra=$(tr -d '\r' <"$T/h$i" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
		# per hour 8: a token every 450 s
		[ -n "$ra" ] && [ "$ra" -ge 400 ] && [ "$ra" -le 450 ] && ra_ok=$((ra_ok + 1))
		grep -qi '^content-type: application/problem+json' "$T/h$i" &&
		    [ "$(jq -r .status "$T/b$i")" = 429 ] &&
		    jq -r .detail "$T/b$i" | grep -q 'per hour' &&
		    [ "$(jq -r .retry_after "$T/b$i")" = "$ra" ] && pj_ok=$((pj_ok + 1))
	fi
done
ok $([ "$accepted" = 8 ] && [ "$limited" = 4 ]; echo $?) "burst of 12 over per_hour 8: 8 accepted, 4 refused 429 (got $accepted, $limited)"
ok $([ "$ra_ok" = 4 ]; echo $?) "each 429 has Retry-After in seconds (about 450 s)"
ok $([ "$pj_ok" = 4 ]; echo $?) "each 429 is problem+json with status, detail and retry_after"

curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/acct.json"
ok $(jq -e '.name == "shop" and .counts == "recipients" and .limits.per_hour == 8 and
	.usage.hour.used == 8 and .usage.hour.remaining == 0 and .limits.per_second == 0 and
	.reputation.paused == false' "$T/acct.json" >/dev/null; echo $?) "GET /v1/account: limit 8 per hour, 8 used, 0 remaining"
ok $(curl -s "$U/metrics" | grep -q '^hermod_account_limited_total{account="shop",window="hour"} 4$'; echo $?) \
	"GET /metrics: hermod_account_limited_total{account=\"shop\",window=\"hour\"} 4"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$(auth "$KEY")" -X POST "$U/v1/account/limits" -d '{"per_hour":1}')
ok $([ "$code" = 403 ]; echo $?) "POST /v1/account/limits needs an admin key (403 with a send key)"

# Now per second 3 and no hourly limit, with the CLI again: a batch of 6.
ok $(hermod account set shop --per-second 3 --per-hour 0 >/dev/null; echo $?) "account set --per-second 3 --per-hour 0"
batch=$(jq -n --argjson a "$(msg 21)" --argjson b "$(msg 22)" --argjson c "$(msg 23)" \
	--argjson d "$(msg 24)" --argjson e "$(msg 25)" --argjson f "$(msg 26)" '{messages: [$a,$b,$c,$d,$e,$f]}')
code=$(curl -s -D "$T/hb" -o "$T/batch.json" -w '%{http_code}' -H "$(auth "$KEY")" -X POST \
	"$U/v1/messages/batch" -d "$batch")
ok $([ "$code" = 200 ] && [ "$(jq '[.results[] | select(.status == 202)] | length' "$T/batch.json")" = 3 ] &&
	[ "$(jq '[.results[] | select(.status == 429 and .retry_after >= 1)] | length' "$T/batch.json")" = 3 ]
	echo $?) "batch of 6 over per_second 3: 3 accepted, 3 with a 429 result"
ok $(grep -qi '^retry-after: 1' "$T/hb"; echo $?) "the batch answer carries Retry-After"
curl -s -H "$(auth "$KEY")" "$U/v1/account" >"$T/acct2.json"
ok $(jq -e '.limits.per_second == 3 and .limits.per_hour == 0 and .usage.second.limit == 3' \
	"$T/acct2.json" >/dev/null; echo $?) "GET /v1/account shows the limits the CLI set"
code=$(curl -s -o "$T/set.json" -w '%{http_code}' -H "$(auth "$AKEY")" -X POST "$U/v1/account/limits" \
	-d '{"per_day": 1000}')
ok $([ "$code" = 200 ] && jq -e '.limits.per_day == 1000 and .limits.per_second == 3' "$T/set.json" >/dev/null
	echo $?) "POST /v1/account/limits (admin) sets per_day, keeps the others"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$(auth "$AKEY")" -X POST "$U/v1/account/limits" \
	-d '{"per_day": -1}')
ok $([ "$code" = 422 ]; echo $?) "a negative limit is a 422"

# The daemon also re-reads the store on its own (limits.refresh, 1 s here):
# a change made behind its back (another node, the socket unreachable) lands.
if command -v sqlite3 >/dev/null; then
	sqlite3 "$T/var/hermod.db" "UPDATE account_settings SET per_day = 777 WHERE account = 'shop'"
	sleep 2.5
	ok $(curl -s -H "$(auth "$KEY")" "$U/v1/account" | jq -e '.limits.per_day == 777' >/dev/null; echo $?) \
		"a change written to the store directly is picked up by the periodic refresh"
	sqlite3 "$T/var/hermod.db" "UPDATE account_settings SET per_day = 1000 WHERE account = 'shop'"
	sleep 2.5
fi
hermod account show shop >"$T/show.txt"
ok $(grep -q '^per second: *3 recipients' "$T/show.txt" && grep -q '^per day: *1000 recipients' "$T/show.txt" &&
	grep -q '^paused: *no' "$T/show.txt"; echo $?) "hermod account show: limits and pause state"

# SMTP: after the bucket refilled, 5 recipients in one transaction: 3 go,
# 2 get 451 4.7.1 at RCPT.
sleep 1.2
out=$(/usr/bin/python3 - "$SUB_PORT" "$KEY" <<'PY'
import smtplib, ssl, sys
port, key = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.login("shop", key)
msg = "From: a@shop.example\r\nTo: x@dest.test\r\nSubject: smtp\r\n\r\nhello\r\n"
refused = s.sendmail("a@shop.example", ["s%d@dest.test" % i for i in range(5)], msg)
for r, (code, text) in sorted(refused.items()):
    print(r, code, text.decode())
s.quit()
PY
)
echo "$out" | sed 's/^/# /'
ok $([ "$(grep -c ' 451 4.7.1 .*over its limit of 3 recipients per second' <<<"$out")" = 2 ]; echo $?) "SMTP: 2 RCPT over the limit get 451 4.7.1 with the reason, 3 accepted"

# Nothing accepted is lost: 8 + 3 single messages and one with 3
# recipients reach smtp-sink: 14 transactions (VERP gives each recipient
# its own return path, so its own transaction).
want=14
for i in $(seq 1 150); do
	n=$(ls "$T/sink" | wc -l)
	[ "$n" -ge "$want" ] && break
	sleep 0.2
done
ok $([ "$n" = "$want" ]; echo $?) "every accepted message delivered to smtp-sink ($n of $want)"
delivered=$(grep '"component":"event"' "$T/serve.log" | grep -c '"type":"delivered"')
ok $([ "$delivered" = 14 ]; echo $?) "14 recipients delivered events (8 + 3 + 3), none for refused ones (got $delivered)"
done_testing
