#!/bin/bash
# 32_sendmail: `hermod sendmail` against `hermod serve`: from a trusted
# network without a key (-t, arguments, -f, -i and the lone dot, LF line ends,
# Bcc cut), and with $HERMOD_KEY (AUTH after STARTTLS, the daemon's
# certificate pinned) once the network is no longer trusted; refusals exit
# with sysexits codes and one line on stderr. The queued bytes are read back
# through GET /v1/messages/{id}/raw.
. "$(dirname "$0")/http_setup.sh" "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop"

sm() { "$HERMOD" -c "$T/hermod.conf" sendmail "$@"; }
# newest ID: the queue id of the message queued last
newest() { hermod queue list --json | jq -r 'sort_by(.queued_at, .id) | last | .id'; }
raw() { curl -s -H "Authorization: Bearer $KEY" "$U/v1/messages/$1/raw"; }
rcpts() { hermod queue show --json "$1" | jq -r '[.recipients[].email] | sort | join(",")'; }
count() { hermod queue list --json | jq length; }

n0=$(count)
printf 'From: Shop <orders@shop.example>\nTo: a@x.example, "B, Person" <b@x.example>\nCc: c@x.example\nBcc: hidden@z.example\nSubject: cron report\n\nline one\n.\nafter the dot\n' >"$T/m1"
sm -t -i <"$T/m1" 2>"$T/err"
ok $? "sendmail -t -i: exit 0 ($(cat "$T/err"))"
ID=$(newest)
ok $([ "$(rcpts "$ID")" = "a@x.example,b@x.example,c@x.example,hidden@z.example" ]; echo $?) \
    "-t takes To, Cc and Bcc ($(rcpts "$ID"))"
raw "$ID" >"$T/r1"
ok $(! grep -qi '^Bcc:' "$T/r1" && ! grep -q hidden "$T/r1"; echo $?) "the Bcc field is cut"
ok $(grep -q $'^after the dot\r$' "$T/r1" && grep -q $'^\.\r$' "$T/r1"; echo $?) "-i: a lone dot is text, LF became CRLF"
ok $(grep -q '^Message-ID: <' "$T/r1" && grep -q '^Date: ' "$T/r1" && grep -q '^Received: ' "$T/r1"; echo $?) \
    "the submission server added Received, Date and Message-ID"

# without -i a lone dot ends the message; recipients from the arguments
printf 'From: orders@shop.example\nTo: someone@else.example\nSubject: dot\n\nkept\n.\ndropped\n' | sm d@x.example
ok $? "sendmail RCPT: exit 0"
ID=$(newest)
ok $([ "$(rcpts "$ID")" = "d@x.example" ]; echo $?) "without -t only the arguments are recipients"
raw "$ID" >"$T/r2"
ok $(grep -q kept "$T/r2" && ! grep -q dropped "$T/r2"; echo $?) "without -i a lone dot ends the message"

# -f sets the envelope sender; a message without From: gets one
printf 'Subject: no from\n\nbody\n' | sm -f bounces@shop.example e@x.example
ok $? "sendmail -f: exit 0"
ID=$(newest)
ok $([ "$(hermod queue show --json "$ID" | jq -r .from)" = bounces@shop.example ] &&
    raw "$ID" | grep -q '^From: <bounces@shop.example>'; echo $?) "-f is the envelope sender and the From: when none"

# refusals
printf 'From: x@other.example\nTo: a@x.example\n\nx\n' | sm -t 2>"$T/err"
rc=$?
ok $([ $rc -eq 77 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "refused: 550 5.7.1" "$T/err"; echo $?) "a From: on another account's domain: exit 77 with the server's reply ($rc: $(cat "$T/err"))"
printf 'From: orders@shop.example\nSubject: x\n\nx\n' | sm -t 2>"$T/err"
ok $([ $? -eq 64 ] && grep -q "no recipients" "$T/err"; echo $?) "no recipients: exit 64"
printf 'From: orders@shop.example\nTo: bad@@x\n\nx\n' | sm -t 2>"$T/err"
ok $([ $? -eq 65 ] && grep -q "bad recipient" "$T/err"; echo $?) "a bad To: address: exit 65"
sm -q 2>"$T/err" </dev/null
ok $([ $? -eq 64 ]; echo $?) "unknown option: exit 64"
ok $([ "$(count)" = $((n0 + 3)) ]; echo $?) "three messages queued, nothing from the refusals"

# Not trusted any more: a key is needed, over STARTTLS.
stop_daemon
sed -i 's/^trusted_networks = .*/trusted_networks =/' "$T/hermod.conf"
"$HERMOD" -c "$T/hermod.conf" serve >>"$T/serve.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
wait_port "$SUB_PORT" 30
printf 'From: orders@shop.example\nTo: f@x.example\n\nx\n' | sm -t 2>"$T/err"
rc=$?
ok $([ $rc -ne 0 ]; echo $?) "untrusted without a key: refused ($rc: $(cat "$T/err"))"
printf 'From: orders@shop.example\nTo: f@x.example\n\nauthenticated\n' | HERMOD_KEY=$KEY sm -t 2>"$T/err"
ok $? "with HERMOD_KEY: AUTH after STARTTLS, exit 0 ($(cat "$T/err"))"
ID=$(newest)
ok $([ "$(rcpts "$ID")" = "f@x.example" ] && raw "$ID" | grep -q authenticated; echo $?) "the authenticated message is queued"
printf 'From: orders@shop.example\nTo: f@x.example\n\nx\n' | HERMOD_KEY=hm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA sm -t 2>"$T/err"
rc=$?
ok $([ $rc -eq 77 ]; echo $?) "a wrong key: exit 77 ($rc)"
stop_daemon
ok $? "SIGTERM: exits 0"
done_testing
