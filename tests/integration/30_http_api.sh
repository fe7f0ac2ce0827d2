#!/bin/bash
# 30_http_api: the HTTP API with curl against `hermod serve`: every endpoint
# and error (401, 403, 404, 405, 409, 413, 400 malformed/deep/duplicate JSON,
# 422 for each invalid field, CR/LF injection), Idempotency-Key (sequential
# and concurrent repeats queue one message), batches, keep-alive, `hermod
# send`, and the queued MIME checked by Python's email package, byte by byte.
. "$(dirname "$0")/http_setup.sh" "[submission]
max_recipients = 5
max_message_size = 200K
[http]
max_body_size = 1M
timeout = 2s"

# api METHOD PATH [BODY] [CURL ARGS...]: sets CODE, CTYPE; body in $T/body.
api() {
	local m=$1 p=$2 b=${3-} out
	shift 3 2>/dev/null || shift $#
	if [ -n "$b" ]; then
		out=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$m" "$U$p" \
		    -H 'Content-Type: application/json' --data-binary "$b" "$@")
	else
		out=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$m" "$U$p" "$@")
	fi
	CODE=${out%% *}
	CTYPE=${out#* }
}
auth() { echo "Authorization: Bearer $1"; }
jb() { jq -r "$1" "$T/body"; }
is() { [ "$1" = "$2" ] || { echo "# got [$1] want [$2]; body: $(head -c 400 "$T/body")" >&2; return 1; }; }
# problem STATUS FIELD: the last answer is a problem+json with that status
# naming FIELD among its errors.
problem() {
	is "$CODE" "$1" && is "$CTYPE" "application/problem+json" && is "$(jb .status)" "$1" &&
	    { [ -z "${2-}" ] || jq -e --arg f "$2" '.errors | map(.field) | index($f) != null' \
	    "$T/body" >/dev/null || { echo "# no error for $2: $(cat "$T/body")" >&2; return 1; }; }
}
queued() { curl -s "$U/healthz" | jq -r .queued; }

api GET /healthz
ok $(is "$CODE" 200 && is "$(jb .status)" ok; echo $?) "GET /healthz is 200"

# --- authentication
M='{"from":"Shop <orders@shop.example>","to":["a@x.example"],"subject":"Hi","text":"hello"}'
api POST /v1/messages "$M"
ok $(problem 401; echo $?) "no key: 401 problem+json"
curl -s -D "$T/h" -o /dev/null -X POST "$U/v1/messages" -d "$M"
ok $(grep -qi '^WWW-Authenticate: Bearer' "$T/h"; echo $?) "401 carries WWW-Authenticate: Bearer"
api POST /v1/messages "$M" -H "$(auth hm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
ok $(problem 401; echo $?) "unknown key: 401"
api POST /v1/messages "$M" -H "Authorization: Basic Zm9vOmJhcg=="
ok $(problem 401; echo $?) "Basic auth: 401"
api POST /v1/domains '{"domain":"new.example"}' -H "$(auth "$KEY")"
ok $(problem 403; echo $?) "send key on POST /v1/domains: 403"

# --- sending
api POST /v1/messages "$M" -H "$(auth "$KEY")"
ok $(is "$CODE" 202 && is "$(jb '.recipients[0].status')" queued; echo $?) "POST /v1/messages: 202 queued"
ID=$(jb .id)
api GET "/v1/messages/$ID" "" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb .id)" "$ID" && is "$(jb '.recipients[0].state')" queued &&
    is "$(jb .from)" orders@shop.example; echo $?) "GET /v1/messages/{id} shows it queued"
api GET "/v1/messages/$ID" "" -H "$(auth "$OKEY")"
ok $(problem 404; echo $?) "another account cannot see it (404)"
api GET "/v1/messages/01zzzzzzzzzzzzzzzzzz" "" -H "$(auth "$KEY")"
ok $(problem 404; echo $?) "unknown id: 404"
api POST /v1/messages "$M" -H "$(auth "$AKEY")"
ok $(is "$CODE" 202; echo $?) "admin keys may send too"
check "hermod send prints an id" bash -c \
    "\"$HERMOD\" -c \"$T/hermod.conf\" send --key \"$KEY\" --from orders@shop.example --to a@x.example b@x.example --subject s --text t | grep -Eq '^[0-9a-z]{20}\$'"
printf 'attached bytes \x01\x02' >"$T/att.bin"
SID=$("$HERMOD" -c "$T/hermod.conf" send --key "$KEY" --from orders@shop.example --to a@x.example \
    --subject "with file" --html "<b>hi</b>" --attach "$T/att.bin")
curl -s -H "$(auth "$KEY")" "$U/v1/messages/$SID/raw" >"$T/sent.eml"
/usr/bin/python3 -c '
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
a = [p for p in m.iter_attachments()]
assert m["Subject"] == "with file" and len(a) == 1 and a[0].get_filename() == "att.bin"
assert a[0].get_content() == open(sys.argv[2], "rb").read()
' "$T/sent.eml" "$T/att.bin"
ok $? "hermod send --attach: the file arrives byte for byte"
"$HERMOD" -c "$T/hermod.conf" send --key "$KEY" --from orders@other.example --to a@x.example \
    --subject s --text t >"$T/out" 2>"$T/err"
ok $([ $? -ne 0 ] && grep -q "not a sending domain" "$T/err" && [ ! -s "$T/out" ]; echo $?) \
    "hermod send: refusal on stderr, exit 1"

# --- the built MIME, parsed by an independent parser
PNG=$(printf '\x89PNG\r\n\x1a\n\x00\x01\x02\xff' | base64 -w0)
BIN=$(head -c 3000 /dev/urandom | base64 -w0)
RICH=$(jq -nc --arg png "$PNG" --arg bin "$BIN" '{
  from: {email: "orders@shop.example", name: "Jürgen Groß, Shop"},
  to: ["a@x.example", {email: "b@bücher.example", name: "Bé \"Quoted\""}],
  cc: ["c@y.example"], bcc: ["secret@z.example"], reply_to: "help@shop.example",
  subject: "Grüße – your order #42 with a subject long enough to need folding across lines ✓",
  text: "Hello\nline two = equals\n.leading dot\ntrailing space \n", html: "<p>Hello <img src=\"cid:logo@shop\"></p>",
  attachments: [
    {filename: "logo.png", content_type: "image/png", content: $png, content_id: "logo@shop"},
    {filename: "Übersicht 2026.bin", content_type: "application/octet-stream", content: $bin}],
  headers: {"X-Order": "42", "X-Unicode": "café"}, tags: ["receipt"], metadata: {order: "42"}}')
api POST /v1/messages "$RICH" -H "$(auth "$KEY")"
ok $(is "$CODE" 202 && is "$(jb '.recipients | length')" 4; echo $?) "rich message accepted, 4 envelope recipients"
RID=$(jb .id)
curl -s -o "$T/rich.eml" -w '%{content_type}' -H "$(auth "$KEY")" "$U/v1/messages/$RID/raw" >"$T/ct"
ok $(is "$(cat "$T/ct")" message/rfc822; echo $?) "GET /v1/messages/{id}/raw is message/rfc822"
/usr/bin/python3 - "$T/rich.eml" "$PNG" "$BIN" >"$T/py" 2>&1 <<'PY'
import base64, email, sys
from email import policy
raw = open(sys.argv[1], "rb").read()
png, binv = base64.b64decode(sys.argv[2]), base64.b64decode(sys.argv[3])
m = email.message_from_bytes(raw, policy=policy.default)
def check(c, what):
    if not c:
        print("FAIL", what); sys.exit(1)
lines = raw.split(b"\r\n")
check(b"\n" not in raw.replace(b"\r\n", b""), "only CRLF line ends")
check(all(len(l) <= 998 for l in lines), "no line over 998")
hdr = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
check(all(len(l) <= 78 for l in hdr if not l.startswith(b"Received")), "header lines <= 78")
check(all(len(l) <= 78 for l in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")), "body lines <= 78")
for p in m.walk():
    if not p.is_multipart():
        enc = p.get_payload(decode=False)
        check(all(len(l) <= 76 for l in enc.splitlines()), "encoded lines <= 76 in " + p.get_content_type())
check(m["Subject"] == "Grüße – your order #42 with a subject long enough to need folding across lines ✓", "subject")
f = m["From"].addresses[0]
check(f.display_name == "Jürgen Groß, Shop" and f.addr_spec == "orders@shop.example", "from")
to = m["To"].addresses
check([a.addr_spec for a in to] == ["a@x.example", "b@xn--bcher-kva.example"], "to: %r" % [a.addr_spec for a in to])
check(to[1].display_name == 'Bé "Quoted"', "to name %r" % to[1].display_name)
check(m["Cc"].addresses[0].addr_spec == "c@y.example", "cc")
check(m["Bcc"] is None and b"secret@z.example" not in raw, "bcc not in the message")
check(m["Reply-To"].addresses[0].addr_spec == "help@shop.example", "reply-to")
check(m["X-Order"] == "42" and m["X-Unicode"] == "café", "custom headers")
check(m["MIME-Version"] == "1.0" and m["Date"] is not None, "mime-version, date")
check(m["Message-ID"].endswith("@mail.test.example>"), "message-id domain")
check(m.get_content_type() == "multipart/mixed", "top is mixed")
rel = m.get_payload()[0]
check(rel.get_content_type() == "multipart/related", "related inside")
alt = rel.get_payload()[0]
check(alt.get_content_type() == "multipart/alternative", "alternative inside")
t, h = alt.get_payload()
check(t.get_content().replace("\r\n", "\n") == "Hello\nline two = equals\n.leading dot\ntrailing space \n", "text %r" % t.get_content())
check(h.get_content().replace("\r\n", "\n") == '<p>Hello <img src="cid:logo@shop"></p>', "html %r" % h.get_content())
logo = rel.get_payload()[1]
check(logo["Content-ID"] == "<logo@shop>" and logo.get_content_disposition() == "inline", "inline part")
check(logo.get_content() == png and logo.get_filename() == "logo.png", "png bytes")
att = m.get_payload()[1]
check(att.get_filename() == "Übersicht 2026.bin", "filename %r" % att.get_filename())
check(att.get_content() == binv and att.get_content_disposition() == "attachment", "attachment bytes")
check(len(m.defects) == 0 and all(len(p.defects) == 0 for p in m.walk()), "no parser defects")
print("ok")
PY
ok $(grep -qx ok "$T/py"; echo $?) "python email parses every part, header, name and byte ($(tail -1 "$T/py"))"

# --- an internationalised address (RFC 6531): UTF-8 local part, IDN domain
api POST /v1/messages '{"from":"orders@shop.example","to":["Ünï <jürgen@bücher.example>"],"text":"x"}' -H "$(auth "$KEY")"
UID8=$(jb .id)
ok $(is "$CODE" 202 && is "$(jb '.recipients[0].email')" "jürgen@xn--bcher-kva.example"; echo $?) \
    "a UTF-8 local part is accepted, the domain becomes an A-label"
curl -s -H "$(auth "$KEY")" "$U/v1/messages/$UID8/raw" | grep -q '^To: =?UTF-8?B?w5xuw68=?= <jürgen@xn--bcher-kva.example>'
ok $? "its To: header carries the UTF-8 address (RFC 6532) and an encoded name"

# --- validation: each failure names its field; nothing invalid is queued
before=$(queued)
v() { # NAME FIELD JSON
	api POST /v1/messages "$3" -H "$(auth "$KEY")"
	ok $(problem 422 "$2"; echo $?) "422 $1 names $2"
}
v "missing from" from '{"to":["a@x.example"],"text":"x"}'
v "bad from" from '{"from":"not an address","to":["a@x.example"],"text":"x"}'
v "from on another account's domain" from '{"from":"x@other.example","to":["a@x.example"],"text":"x"}'
v "from on an unknown domain" from '{"from":"x@unknown.example","to":["a@x.example"],"text":"x"}'
v "bad recipient" 'to[1]' '{"from":"o@shop.example","to":["a@x.example","b@@x"],"text":"x"}'
v "bad recipient object" 'cc[0].email' '{"from":"o@shop.example","to":["a@x.example"],"cc":[{"email":"a b@x"}],"text":"x"}'
v "no recipient" to '{"from":"o@shop.example","to":[],"text":"x"}'
v "too many recipients" to '{"from":"o@shop.example","to":["a@x.example","b@x.example","c@x.example","d@x.example","e@x.example","f@x.example"],"text":"x"}'
v "no body" text '{"from":"o@shop.example","to":["a@x.example"],"subject":"s"}'
v "CRLF in subject" subject '{"from":"o@shop.example","to":["a@x.example"],"subject":"hi\r\nBcc: evil@x.example","text":"x"}'
v "LF in display name" from '{"from":"Evil\nBcc: e@x.example <o@shop.example>","to":["a@x.example"],"text":"x"}'
v "CR in recipient name" 'to[0].name' '{"from":"o@shop.example","to":[{"email":"a@x.example","name":"A\rB"}],"text":"x"}'
v "CRLF in a custom header" 'headers.X-Note' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","headers":{"X-Note":"a\r\nBcc: e@x.example"}}'
v "owned header" 'headers.Bcc' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","headers":{"Bcc":"e@x.example"}}'
v "owned Content- header" 'headers.content-type' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","headers":{"content-type":"text/evil"}}'
v "bad header name" 'headers.X Y' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","headers":{"X Y":"v"}}'
v "attachment not base64" 'attachments[0].content' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","attachments":[{"filename":"a","content":"@@@"}]}'
v "attachment bad type" 'attachments[0].content_type' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","attachments":[{"filename":"a","content_type":"text","content":"AAAA"}]}'
v "attachment CRLF filename" 'attachments[0].filename' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","attachments":[{"filename":"a\r\nX: y","content":"AAAA"}]}'
v "unknown field" 'colour' '{"from":"o@shop.example","to":["a@x.example"],"text":"x","colour":"red"}'
v "bad stream" stream '{"from":"o@shop.example","to":["a@x.example"],"text":"x","stream":"bulk"}'
head -c 250000 /dev/zero | base64 -w0 | jq -Rc '{from:"o@shop.example",to:["a@x.example"],text:"x",attachments:[{filename:"a",content:.}]}' >"$T/bigmsg"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$U/v1/messages" -H "$(auth "$KEY")" --data-binary @"$T/bigmsg")
CTYPE=application/problem+json
ok $(problem 422 attachments; echo $?) "422 over max_message_size names attachments"
api POST /v1/messages '{"from":"o@shop.example","to":["a@x.example"],"text":"x"' -H "$(auth "$KEY")"
ok $(problem 400 body; echo $?) "malformed JSON: 400 naming body"
api POST /v1/messages '{"from":"o@shop.example","from":"o@shop.example","to":["a@x.example"],"text":"x"}' -H "$(auth "$KEY")"
ok $(problem 400 body && grep -q duplicate "$T/body"; echo $?) "duplicate keys: 400"
api POST /v1/messages "$(printf '%0.s[' $(seq 33))$(printf '%0.s]' $(seq 33))" -H "$(auth "$KEY")"
ok $(problem 400 body && grep -q deeper "$T/body"; echo $?) "JSON deeper than 32: 400"
api POST /v1/messages "{\"from\":\"o@shop.example\",\"to\":[\"a@x.example\"],\"text\":\"x\",\"metadata\":{\"a\":$(printf '%0.s[' $(seq 30))1$(printf '%0.s]' $(seq 30))}}" -H "$(auth "$KEY")"
ok $(problem 422 metadata.a; echo $?) "depth 32 parses (then fails validation)"
api POST /v1/messages "$(printf '{"from":"o@shop.example","to":["a@x.example"],"text":"\xff\xfe"}')" -H "$(auth "$KEY")"
ok $(problem 400 body; echo $?) "invalid UTF-8: 400"
api POST /v1/messages '{"from":"o@shop.example","to":["a@x.example"],"text":"a\u0000b"}' -H "$(auth "$KEY")"
ok $(problem 400 body; echo $?) "\\u0000: 400"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$U/v1/messages" -H "$(auth "$KEY")" --data-binary @"$T/big")
ok $(is "$CODE" 413 && is "$(jb .status)" 413; echo $?) "body over http.max_body_size: 413"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$U/v1/messages" -H "$(auth "$KEY")" \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")
ok $(is "$CODE" 413; echo $?) "chunked body over the cap: 413"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz" -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)")
ok $([ "$CODE" -ge 400 ] && [ "$CODE" -lt 500 ]; echo $?) "a 100 KB header is refused ($CODE)"
ok $(is "$(queued)" "$before"; echo $?) "nothing invalid was queued"

# --- idempotency
IK="order-$RANDOM"
api POST /v1/messages "$M" -H "$(auth "$KEY")" -H "Idempotency-Key: $IK"
first=$(jb .id)
api POST /v1/messages "$M" -H "$(auth "$KEY")" -H "Idempotency-Key: $IK"
ok $(is "$CODE" 202 && is "$(jb .id)" "$first"; echo $?) "a repeat returns the first answer"
api POST /v1/messages '{"from":"o@shop.example","to":["z@x.example"],"text":"other"}' \
    -H "$(auth "$KEY")" -H "Idempotency-Key: $IK"
ok $(problem 422 Idempotency-Key; echo $?) "the same key with another body: 422"
api POST /v1/messages "$M" -H "$(auth "$OKEY")" -H "Idempotency-Key: $IK"
ok $(problem 422 from; echo $?) "keys are per account (other account's request is its own)"
before=$(queued)
IK2="conc-$RANDOM"
for i in $(seq 1 30); do
	curl -s -X POST "$U/v1/messages" -H "$(auth "$KEY")" -H "Idempotency-Key: $IK2" \
	    --data-binary "$M" >"$T/c.$i" &
done
wait_all() { local p; for p in $(jobs -p); do [ "$p" = "$DAEMON_PID" ] || wait "$p"; done; }
wait_all
ids=$(cat "$T"/c.* | jq -r .id | sort -u)
ok $([ "$(echo "$ids" | wc -l)" = 1 ] && [ "$ids" != null ]; echo $?) "30 concurrent repeats: one id"
ok $(is "$(queued)" $((before + 1)); echo $?) "30 concurrent repeats queue one message"
api POST /v1/messages "$M" -H "$(auth "$KEY")" -H "Idempotency-Key: bad key with spaces"
ok $(problem 422 Idempotency-Key; echo $?) "malformed Idempotency-Key: 422"

# --- batch
api POST /v1/messages/batch '{"messages":[{"from":"o@shop.example","to":["a@x.example"],"text":"1"},{"from":"o@shop.example","to":["bad"],"text":"2"},{"from":"o@shop.example","to":["c@x.example"],"text":"3"}]}' -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb '[.results[].status] | join(",")')" "202,422,202" &&
    is "$(jb '.results[1].errors[0].field')" "to[0]"; echo $?) "batch: one result per message"
MSGS=$(jq -nc '[range(501)] | map({from:"o@shop.example",to:["a@x.example"],text:"x"}) | {messages:.}')
api POST /v1/messages/batch "$MSGS" -H "$(auth "$KEY")"
ok $(problem 422 messages; echo $?) "batch of 501: 422"
before=$(queued)
MSGS=$(jq -nc '[range(500)] | map({from:"o@shop.example",to:["a@x.example"],text:"x"}) | {messages:.}')
api POST /v1/messages/batch "$MSGS" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb '[.results[] | select(.status == 202)] | length')" 500 &&
    is "$(queued)" $((before + 500)); echo $?) "batch of 500: all queued"
MSGS=$(jq -nc '[range(200)] | map(if . % 7 == 3 then {from:"o@shop.example",to:["bad"],text:"x"} else {from:"o@shop.example",to:["a\(.)@x.example"],text:"m\(.)"} end) | {messages:.}')
api POST /v1/messages/batch "$MSGS" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb '[.results | to_entries[] | select(.value.index != .key)] | length')" 0 &&
    is "$(jb '[.results[] | select(.status == 422) | .index % 7] | unique | join(",")')" 3 &&
    is "$(jb '[.results[] | select(.status == 202)] | length')" 171 &&
    is "$(jb '[.results[] | select(.status == 202) | select(.recipients[0].email != "a\(.index)@x.example")] | length')" 0; echo $?) \
    "a batch of 200 prepared in parallel chunks: results in order, each its own"
api POST /v1/messages/batch '{"messages":[]}' -H "$(auth "$KEY")"
ok $(problem 422 messages; echo $?) "empty batch: 422"

# --- events, domains, routing errors
api GET "/v1/events?limit=10" "" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && [ "$(jb '.events | length')" -ge 1 ] && [ "$(jb '.events | length')" -le 10 ] && [[ "$(jb .next)" == c* ]]; echo $?) "GET /v1/events: the queued events so far and a cursor"
api GET "/v1/events?type=nope" "" -H "$(auth "$KEY")"
ok $(problem 422 type; echo $?) "GET /v1/events bad type: 422"
api POST /v1/domains '{"domain":"New.Example"}' -H "$(auth "$AKEY")"
ok $(is "$CODE" 201 && is "$(jb .domain)" new.example && is "$(jb .verified)" false; echo $?) "POST /v1/domains: 201"
DKIM_TXT=$(jb '.records[] | select(.type == "TXT" and (.name | endswith("._domainkey.new.example"))) | .value')
ok $(echo "$DKIM_TXT" | grep -q "v=DKIM1; k=rsa; p=" && ls "$T/var/dkim/" | grep -q "^new.example\."; echo $?) "POST /v1/domains made a DKIM key and shows its TXT record"
api POST /v1/domains '{"domain":"new.example"}' -H "$(auth "$AKEY")"
ok $(problem 409 domain; echo $?) "POST /v1/domains again: 409"
api POST /v1/domains '{"domain":"bad_domain!"}' -H "$(auth "$AKEY")"
ok $(problem 422 domain; echo $?) "POST /v1/domains invalid: 422"
api GET /v1/domains "" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb '[.domains[].domain] | join(",")')" "new.example,shop.example"; echo $?) "GET /v1/domains lists the account's"
api GET /v1/domains/shop.example "" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb .domain)" shop.example && [ "$(jb '.records | length')" -gt 0 ]; echo $?) "GET /v1/domains/{domain} with its records"
api GET /v1/domains/new.example "" -H "$(auth "$KEY")"
ok $(is "$(jb '.records[] | select(.type == "TXT" and (.name | endswith("._domainkey.new.example"))) | .value')" "$DKIM_TXT"; echo $?) "the same DKIM record later (key reused)"
api GET /v1/domains/other.example "" -H "$(auth "$KEY")"
ok $(problem 404; echo $?) "another account's domain: 404"
api GET /v1/nothing "" -H "$(auth "$KEY")"
ok $(problem 404; echo $?) "unknown route: 404"
api DELETE /v1/messages "" -H "$(auth "$KEY")"
ok $(problem 405; echo $?) "wrong method: 405"

# --- http.timeout: a client that stops half-way through its head is cut off
start=$(date +%s%N)
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3; cat <&3 >/dev/null"
el=$(( ($(date +%s%N) - start) / 1000000 ))
ok $([ "$el" -ge 1500 ] && [ "$el" -lt 8000 ]; echo $?) "an idle half-sent request is closed after http.timeout (${el} ms)"

# --- keep-alive: two requests, one connection
curl -sv "$U/healthz" "$U/healthz" -o /dev/null -o /dev/null 2>"$T/kv"
ok $(grep -qi "re-using existing connection" "$T/kv"; echo $?) "keep-alive reuses the connection"

stop_daemon
ok $? "SIGTERM: exits 0"

# --- an Idempotency-Key outlives a restart (the store keeps the answer)
"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
wait_port "$HTTP_PORT" 30
before=$(queued)
api POST /v1/messages "$M" -H "$(auth "$KEY")" -H "Idempotency-Key: $IK"
ok $(is "$CODE" 202 && is "$(jb .id)" "$first" && is "$(queued)" "$before"; echo $?) \
    "after a restart a repeat gets the first answer and queues nothing"
api POST /v1/messages '{"from":"o@shop.example","to":["z@x.example"],"text":"other"}' \
    -H "$(auth "$KEY")" -H "Idempotency-Key: $IK"
ok $(problem 422 Idempotency-Key; echo $?) "after a restart the key still refuses another body"
stop_daemon
ok $? "SIGTERM again: exits 0"
done_testing
