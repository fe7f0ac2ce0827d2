#!/bin/bash
# 61_events: events end to end. Mail is sent over HTTP (curl) and SMTP
# (swaks), delivered to smtp-sink and to a scripted server that refuses one
# recipient (dnsmasq on loopback answers the MX). Then: GET /v1/events and
# each filter; paging with `next` until exhausted (no duplicate, no gap,
# same order as one big page); GET /v1/messages/{id} after the message left
# the spool (each recipient's final state, its events); another account's
# key sees none of it; GET /v1/stats counts match (totals, by domain, tag,
# day); validation errors name the field; a Node client (fetch) reads the
# same; the events survive a restart; a tiny events.retention prunes them.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null && command -v smtp-sink >/dev/null && command -v swaks >/dev/null &&
    command -v jq >/dev/null || { echo "dnsmasq, smtp-sink, swaks or jq missing"; exit 77; }
DNS_PORT=$(free_port)
SINK_PORT=$(free_port)
chmod 711 "$T"
dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=sink.test,mx.sink.test,10 --host-record=mx.sink.test,127.0.0.1 \
	--mx-host=exact.test,mx.exact.test,10 --host-record=mx.exact.test,127.0.0.9 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
smtp-sink -u nobody -c 127.0.0.1:"$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen 127.0.0.9:"$SINK_PORT" \
	--log "$T/exact.log" \
	--rules '{"rcpt": {"bad@exact.test": "550 5.1.1 <bad@exact.test>: User unknown"}}' &
PIDS+=($!)

CONF_EXTRA="[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $SINK_PORT
retry = 1h
connect_timeout = 3s
greeting_timeout = 3s"
DELIVERY=yes write_config "$CONF_EXTRA"
hermod init >/dev/null 2>&1
hermod account create shop >/dev/null || exit 1
hermod account create other >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
hermod domain add other.example --account other >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope send)
OKEY=$(hermod key create --account other --scope send)
wait_port "$SINK_PORT" 10
for i in $(seq 1 100); do grep -q ready "$T/exact.log" 2>/dev/null && break; sleep 0.1; done
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q '"status":"ok"' && break; sleep 0.1; done

# api METHOD PATH [KEY]: sets CODE, CTYPE; body in $T/body.
api() {
	local out
	out=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$1" "$U$2" \
	    -H "Authorization: Bearer ${3:-$KEY}" "${@:4}")
	CODE=${out%% *}
	CTYPE=${out#* }
}
jb() { jq -r "$1" "$T/body"; }
is() { [ "$1" = "$2" ] || { echo "# got [$1] want [$2]; body: $(head -c 600 "$T/body")" >&2; return 1; }; }
problem() {
	is "$CODE" "$1" && is "$CTYPE" "application/problem+json" &&
	    jq -e --arg f "$2" '.errors | map(.field) | index($f) != null' "$T/body" >/dev/null ||
	    { echo "# no error for $2: $(cat "$T/body")" >&2; return 1; }
}
# count QUERY: how many events GET /v1/events?QUERY returns (limit 1000).
count() { api GET "/v1/events?limit=1000&since=0&$1" "${2:-$KEY}"; jb '.events | length'; }

# --- send: HTTP (3 recipients, one refused by its server) and SMTP (1)
curl -s -o "$T/body" -X POST "$U/v1/messages" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary '{"from":"Shop <orders@shop.example>",
    "to":["a@sink.test","b@sink.test","bad@exact.test"],"subject":"Order","text":"hello",
    "tags":["receipt"],"metadata":{"order":"42"}}'
ID=$(jb .id)
HDR=$(jb .message_id)
ok $(id_ok=0; [ -n "$ID" ] && [ "$ID" != null ] || id_ok=1; echo $id_ok) "HTTP send accepted ($ID)"
swaks --server "127.0.0.1:$SUB_PORT" --helo client.test --from app@shop.example \
    --to c@sink.test --header "From: App <app@shop.example>" --header "Subject: smtp events" \
    --header "Message-Id: <smtp-ev-1@shop.example>" --body "hi" --timeout 20 >"$T/swaks.out" 2>&1
SID=$(sed -n 's/.*250 2.0.0 Ok: queued as \([A-Za-z0-9]*\).*/\1/p' "$T/swaks.out" | head -1)
ok $([ -n "$SID" ] || { tail -5 "$T/swaks.out" | sed 's/^/# /'; false; }; echo $?) "SMTP send accepted ($SID)"

# --- wait for the outcomes: 3 delivered, 1 bounced
for i in $(seq 1 300); do
	[ "$(count type=delivered)" = 3 ] && [ "$(count type=bounced)" = 1 ] && break
	sleep 0.1
done
ok $(is "$(count type=delivered)" 3; echo $?) "three delivered events"
ok $(is "$(count type=bounced)" 1 && is "$(jb '.events[0].recipient')" bad@exact.test &&
    is "$(jb '.events[0].smtp.code')" 550 && is "$(jb '.events[0].bounce.class')" hard; echo $?) \
    "one bounced event, with its SMTP reply and class"
ok $(is "$(count type=queued)" 4 && is "$(jb '[.events[] | .recipient] | sort | join(",")')" \
    "a@sink.test,b@sink.test,bad@exact.test,c@sink.test"; echo $?) \
    "one queued event per recipient, HTTP and SMTP"
ok $(is "$(jb "[.events[] | select(.message_id == \"$ID\") | .tags[0]] | unique | join(\",\")")" \
    receipt && is "$(jb "[.events[] | select(.message_id == \"$ID\") | .metadata.order][0]")" 42 &&
    is "$(jb "[.events[] | select(.message_id == \"$SID\") | .header_message_id][0]")" \
    smtp-ev-1@shop.example; echo $?) "queued events carry tags, metadata, the Message-ID header"
ok $(is "$(count "recipient=c@sink.test")" 2 && is "$(jb '[.events[].type] | join(",")')" \
    queued,delivered; echo $?) "filter by recipient, newest last"
ok $(is "$(count "message=$SID")" 2 && is "$(count "message=%3Csmtp-ev-1@shop.example%3E")" 2 &&
    is "$(count "message=$ID&type=delivered")" 2; echo $?) \
    "filter by message (id or Message-ID header), combined with type"
TOTAL=$(count "")
# 4 queued, 3 delivered, 1 bounced, and the hard bounce's suppression_added
ok $(is "$TOTAL" 9 && is "$(count type=suppression_added)" 1; echo $?) \
    "nine events in all for the account (with the bounce's suppression)"

# --- paging with next until exhausted: the same sequence as one big page
api GET "/v1/events?limit=1000&since=0"
jb '.events[].id' >"$T/all.ids"
: >"$T/paged.ids"
cur=0
for i in $(seq 1 50); do
	api GET "/v1/events?limit=3&since=$cur"
	n=$(jb '.events | length')
	[ "$n" = 0 ] && break
	jb '.events[].id' >>"$T/paged.ids"
	cur=$(jb .next)
done
ok $(cmp -s "$T/all.ids" "$T/paged.ids" && is "$(sort -u "$T/paged.ids" | wc -l)" 9 &&
    is "$(jb .next)" "$cur"; echo $?) "paging by 3 with next: every event once, in order, then empty"
api GET "/v1/events?limit=2"
ok $(is "$(jb '[.events[].id] | join(",")')" "$(tail -2 "$T/all.ids" | paste -sd,)"; echo $?) \
    "without since: the latest events, newest last"

# --- the message after it left the spool
hermod queue list --json >"$T/q.json" 2>/dev/null
ok $(! grep -q "$ID" "$T/q.json"; echo $?) "the HTTP message left the spool"
api GET "/v1/messages/$ID"
ok $(is "$CODE" 200 && is "$(jb .in_queue)" false && is "$(jb .message_id)" "$HDR" &&
    is "$(jb '[.recipients[] | .email + "=" + .state] | join(",")')" \
    "a@sink.test=delivered,b@sink.test=delivered,bad@exact.test=bounced" &&
    is "$(jb '.recipients[2].last_reply' | cut -c1-9)" "550 5.1.1" &&
    is "$(jb '[.events[].type] | sort | join(",")')" \
    "bounced,delivered,delivered,queued,queued,queued"; echo $?) \
    "GET /v1/messages/{id} after delivery: each recipient's final state and its events"
api GET "/v1/messages/$SID"
ok $(is "$CODE" 200 && is "$(jb '.recipients[0].state')" delivered; echo $?) \
    "GET /v1/messages/{id} of the SMTP message"

# --- tenant isolation
ok $(is "$(count "" "$OKEY")" 0 && is "$(count "message=$ID" "$OKEY")" 0; echo $?) \
    "another account's key sees no event"
api GET "/v1/messages/$ID" "$OKEY"
ok $(is "$CODE" 404; echo $?) "another account's key: GET /v1/messages/{id} is 404"
api GET "/v1/stats" "$OKEY"
ok $(is "$(jb '[.totals[]] | add')" 0; echo $?) "another account's stats are all zero"

# --- stats
api GET "/v1/stats"
ok $(is "$CODE" 200 && is "$(jb .totals.queued)" 4 && is "$(jb .totals.delivered)" 3 &&
    is "$(jb .totals.bounced)" 1 && is "$(jb .totals.complained)" 0; echo $?) "stats totals"
api GET "/v1/stats?group_by=domain"
ok $(is "$(jb '.groups[] | select(.key == "sink.test") | .counts.delivered')" 3 &&
    is "$(jb '.groups[] | select(.key == "exact.test") | .counts.bounced')" 1; echo $?) \
    "stats by recipient domain"
api GET "/v1/stats?group_by=tag"
ok $(is "$(jb '.groups | length')" 1 && is "$(jb '.groups[0].key')" receipt &&
    is "$(jb '.groups[0].counts.queued')" 3 && is "$(jb '.groups[0].counts.delivered')" 2; echo $?) \
    "stats by tag"
TODAY=$(date -u +%F)
api GET "/v1/stats?group_by=day&from=$TODAY"
ok $(is "$(jb '.groups | length')" 1 && is "$(jb '.groups[0].key')" "$TODAY" &&
    is "$(jb '.groups[0].counts.queued')" 4; echo $?) "stats by day, from a date"
api GET "/v1/stats?to=2020-01-01T00:00:00Z"
ok $(is "$(jb .totals.queued)" 0; echo $?) "stats before the events: zero"

# --- validation: problem+json naming the field
api GET "/v1/events?limit=0"
ok $(problem 422 limit; echo $?) "limit=0: 422 naming limit"
api GET "/v1/events?limit=1001"
ok $(problem 422 limit; echo $?) "limit=1001: 422"
api GET "/v1/events?since=yesterday"
ok $(problem 422 since; echo $?) "since=yesterday: 422 naming since"
api GET "/v1/events?type=nope"
ok $(problem 422 type; echo $?) "unknown type: 422 naming type"
api GET "/v1/stats?group_by=week"
ok $(problem 422 group_by; echo $?) "group_by=week: 422 naming group_by"
api GET "/v1/stats?from=2026-11-27&to=2026-11-26"
ok $(problem 422 from; echo $?) "from after to: 422"
api GET "/v1/events" "hm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
ok $(is "$CODE" 401; echo $?) "unknown key: 401"

# --- a Node client (fetch)
if command -v node >/dev/null; then
	node - "$U" "$KEY" "$ID" >"$T/node.out" 2>&1 <<'JS'
const [U, KEY, ID] = process.argv.slice(2);
const h = { Authorization: `Bearer ${KEY}` };
(async () => {
	let r = await fetch(`${U}/v1/events?type=delivered&since=0&limit=1000`, { headers: h });
	const ev = await r.json();
	if (r.status !== 200 || ev.events.length !== 3 || !ev.events.every(e => e.type === 'delivered' && e.account === 'shop'))
		throw new Error('events: ' + JSON.stringify(ev));
	r = await fetch(`${U}/v1/messages/${ID}`, { headers: h });
	const m = await r.json();
	if (r.status !== 200 || m.recipients.length !== 3 || m.recipients[0].state !== 'delivered')
		throw new Error('message: ' + JSON.stringify(m));
	r = await fetch(`${U}/v1/events?limit=abc`, { headers: h });
	const p = await r.json();
	if (r.status !== 422 || r.headers.get('content-type') !== 'application/problem+json' || p.errors[0].field !== 'limit')
		throw new Error('problem: ' + JSON.stringify(p));
	console.log('node ok');
})().catch(e => { console.log(String(e)); process.exit(1); });
JS
	ok $(grep -q "node ok" "$T/node.out" || { cat "$T/node.out" >&2; false; }; echo $?) \
	    "Node fetch client: events, message, problem"
fi

# --- the events survive a restart
stop_daemon
ok $? "SIGTERM: exit 0"
ok $([ -s "$T/var/hermod-events.db" ]; echo $?) "events in their own file (data_dir/hermod-events.db)"
start_daemon || exit 1
for i in $(seq 1 100); do curl -s -m 2 "$U/healthz" | grep -q '"status":"ok"' && break; sleep 0.1; done
api GET "/v1/events?limit=1000&since=0"
jb '.events[].id' >"$T/after.ids"
ok $(cmp -s "$T/all.ids" "$T/after.ids"; echo $?) "after a restart: the same events"
api GET "/v1/messages/$ID"
ok $(is "$CODE" 200 && is "$(jb '.recipients[0].state')" delivered; echo $?) \
    "after a restart: GET /v1/messages/{id} still answers"

# --- retention: a tiny one deletes them
stop_daemon
printf '[events]\nretention = 1s\n' >>"$T/hermod.conf"
sleep 1.1
start_daemon || exit 1
for i in $(seq 1 100); do
	[ "$(count "")" = 0 ] && break
	sleep 0.1
done
ok $(is "$(count "")" 0; echo $?) "events.retention = 1s: every old event deleted"
api GET "/v1/messages/$ID"
ok $(is "$CODE" 404; echo $?) "a pruned message is 404"
api GET "/v1/stats"
ok $(is "$(jb .totals.delivered)" 0; echo $?) "stats after retention: zero"
grep -q '"level":"error"' "$T/serve.log" && { echo "# errors in the log:"; grep '"level":"error"' "$T/serve.log" | head -5; }

done_testing
