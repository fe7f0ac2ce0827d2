#!/bin/bash
# Real bounces and complaints come back. A private Postfix instance is the MX
# for pf.test: it accepts gone@pf.test at RCPT time, then its delivery fails
# (a pipe transport that exits 67, EX_NOUSER), so Postfix itself writes an
# RFC 3464 DSN to the envelope sender, which is hermod's VERP return path;
# Postfix routes bounce.shop.test to hermod's inbound listener
# (transport_maps), and the report becomes a `bounced` event for the original
# message and recipient, classified hard. Then an RFC 5965 (ARF) report,
# shaped like the RFC's example and quoting the copy Postfix delivered to
# good@pf.test (its Return-Path is the VERP address), sent to
# fbl@bounce.shop.test, becomes a `complained` event; a second one that
# names only the Message-ID maps through it. A report that maps to nothing
# is answered 250 and kept in data_dir/inbound/unmatched.
. "$(dirname "$0")/lib.sh"

command -v postfix >/dev/null && command -v dnsmasq >/dev/null || { echo "postfix or dnsmasq missing"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "a private Postfix needs root"; exit 77; }
PF=$(mktemp -d /var/tmp/hermod-pf.XXXXXX)
chmod 755 "$PF"
PF_PORT=$(free_port)
DNS_PORT=$(free_port)
chmod 711 "$T"
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/mail/box"
chown postfix:postfix "$PF/data"
chown -R nobody:nogroup "$PF/mail"
printf '#!/bin/sh\necho "no such user here" >&2\nexit 67\n' >"$PF/nouser.sh"
chmod 755 "$PF/nouser.sh"

# hermod's config first: Postfix needs the inbound port.
DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $PF_PORT
retry = 1h"

src=/usr/share/postfix/master.cf.dist
[ -r "$src" ] || src=/etc/postfix/master.cf
cp "$src" "$PF/etc/master.cf"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
myhostname = mx.pf.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = pf.test
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = inline:{ good@pf.test=box/, gone@pf.test=box/, gone2@pf.test=box/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
transport_maps = inline:{ gone@pf.test=nouser:, gone2@pf.test=nouser:, bounce.shop.test=smtp:[127.0.0.1]:$IN_PORT }
local_transport = error:local delivery disabled
alias_maps =
alias_database =
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file = $PF/postfix.log
biff = no
EOF
postconf -c "$PF/etc" -MX smtp/inet 2>/dev/null
postconf -c "$PF/etc" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
postconf -c "$PF/etc" -M "nouser/unix=nouser unix - n n - - pipe flags=q user=nobody argv=$PF/nouser.sh"
pf_stop() {
	postfix -c "$PF/etc" stop >/dev/null 2>&1
	cleanup
	[ -n "${KEEP:-}" ] || rm -rf "$PF"
}
trap pf_stop EXIT
postfix -c "$PF/etc" check >"$T/pf-check.log" 2>&1 || { echo "postfix check failed"; cat "$T/pf-check.log"; exit 77; }
postfix -c "$PF/etc" start >"$T/pf-start.log" 2>&1 || { echo "postfix start failed"; cat "$T/pf-start.log"; exit 1; }

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=pf.test,mx.pf.test,10 --host-record=mx.pf.test,127.0.0.1 >"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)

hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
wait_port "$PF_PORT" 20 || { echo "postfix does not listen"; tail "$PF/postfix.log"; exit 1; }
start_daemon || exit 1
wait_port "$IN_PORT" 10

printf 'From: app@shop.test\r\nTo: good@pf.test, gone@pf.test\r\nSubject: to postfix\r\nDate: Thu, 26 Nov 2026 18:00:00 +0000\r\nMessage-ID: <pf-54@shop.test>\r\n\r\nhello postfix\r\n' >"$T/msg.eml"
swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to good@pf.test,gone@pf.test --data "@$T/msg.eml" >"$T/swaks.out" 2>&1
check "swaks: accepted" grep -q '250 2.0.0 Ok: queued as' "$T/swaks.out"
QID=$(sed -n 's/.*queued as \([0-9a-z]*\).*/\1/p' "$T/swaks.out" | tail -1)

events() { grep '"component":"event"' "$T/serve.log"; }
wait_event() { # TYPE RECIPIENT
	for i in $(seq 1 200); do
		events | grep "\"type\":\"$1\"" | grep -q "\"recipient\":\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
check "Postfix accepted good@pf.test (delivered event)" wait_event delivered good@pf.test
check "Postfix accepted gone@pf.test at RCPT time (delivered event)" wait_event delivered gone@pf.test
check "Postfix's own DSN came back: bounced event for gone@pf.test" wait_event bounced gone@pf.test
line=$(events | grep '"type":"bounced"' | grep '"recipient":"gone@pf.test"' | tail -1)
check "the bounce names the original message ($QID)" grep -q "\"message_id\":\"$QID\"" <<<"$line"
check "classified from Postfix's 5.1.1: hard, bad-mailbox" grep -q '"enhanced":"5.1.1".*"class":"hard","category":"bad-mailbox"' <<<"$line"
check "mapped by the VERP address it came to" grep -q '"mapped_by":"verp"' <<<"$line"
check "inbound log: the DSN was processed" grep -q '"component":"inbound".*"report processed".*"kind":"dsn"' "$T/serve.log"
check "no bounced event for good@pf.test" bash -c "! grep '\"component\":\"event\"' '$T/serve.log' | grep '\"type\":\"bounced\"' | grep -q 'good@pf.test'"

# The copy Postfix delivered to good@pf.test carries the VERP Return-Path.
copy=""
for i in $(seq 1 100); do
	copy=$(grep -l "pf-54@shop.test" "$PF"/mail/box/new/* 2>/dev/null | head -1)
	[ -n "$copy" ] && break
	sleep 0.1
done
check "Postfix delivered good@pf.test with a VERP Return-Path" grep -q '^Return-Path: <b-[0-9a-z]*-0-[0-9a-z]*@bounce.shop.test>' "$copy"

# RFC 5965 section 3's example report, pointed at that delivered message.
arf() { # ORIGINAL-MAIL-FROM QUOTED-MESSAGE-FILE
	printf 'From: <abusedesk@isp.example>\r\nDate: Thu, 26 Nov 2026 19:40:36 +0000\r\nSubject: FW: to postfix\r\nTo: <fbl@bounce.shop.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;\r\n\tboundary="part1_13d.2e68ed54_boundary"\r\n\r\n'
	printf -- '--part1_13d.2e68ed54_boundary\r\nContent-Type: text/plain; charset="US-ASCII"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThis is an email abuse report for an email message received from IP\r\n127.0.0.1 on Thu, 26 Nov 2026 18:00:00 +0000.\r\n\r\n'
	printf -- '--part1_13d.2e68ed54_boundary\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <%s>\r\nOriginal-Rcpt-To: <good@pf.test>\r\nArrival-Date: Thu, 26 Nov 2026 18:00:00 +0000\r\nReporting-MTA: dns; mail.isp.example\r\nSource-IP: 127.0.0.1\r\nRemoval-Recipient: good@pf.test\r\n\r\n' "$1"
	printf -- '--part1_13d.2e68ed54_boundary\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n'
	sed 's/\r*$/\r/' "$2"
	printf -- '--part1_13d.2e68ed54_boundary--\r\n'
}
VERP=$(sed -n 's/^Return-Path: <\(.*\)>$/\1/p' "$copy" | head -1)
arf "$VERP" "$copy" >"$T/arf1.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from '<>' \
	--to fbl@bounce.shop.test --data "@$T/arf1.eml" 2>&1)
check "ARF report to fbl@bounce.shop.test: 250" grep -q '^<-  250 2.0.0' <<<"$out"
check "complained event for good@pf.test" wait_event complained good@pf.test
line=$(events | grep '"type":"complained"' | grep '"recipient":"good@pf.test"' | tail -1)
check "the complaint names the original message" grep -q "\"message_id\":\"$QID\"" <<<"$line"
check "with feedback_type and user_agent" grep -q '"feedback_type":"abuse".*"user_agent":"SomeGenerator/1.0"' <<<"$line"

# The suppression list subscribes to these events (src/suppress): both
# addresses are suppressed now, the bounce as hard_bounce, the complaint as complaint.
for i in $(seq 1 50); do [ "$(events | grep -c '"type":"suppression_added"')" -ge 2 ] && break; sleep 0.1; done
check "the hard bounce suppressed gone@pf.test" bash -c "grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep '\"recipient\":\"gone@pf.test\"' | grep -q hard_bounce"
check "the complaint suppressed good@pf.test" bash -c "grep '\"type\":\"suppression_added\"' '$T/serve.log' | grep '\"recipient\":\"good@pf.test\"' | grep -q complaint"

# A report with no VERP address anywhere: mapped through the Message-ID.
printf 'From: app@shop.test\nTo: good@pf.test\nSubject: to postfix\nMessage-ID: <pf-54@shop.test>\n\nhello postfix\n' >"$T/orig.txt"
arf "app@shop.test" "$T/orig.txt" | sed 's/Feedback-Type: abuse/Feedback-Type: fraud/' >"$T/arf2.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from '<>' \
	--to abuse@bounce.shop.test --data "@$T/arf2.eml" 2>&1)
check "ARF without VERP: 250" grep -q '^<-  250 2.0.0' <<<"$out"
for i in $(seq 1 100); do events | grep -q '"feedback_type":"fraud"' && break; sleep 0.1; done
line=$(events | grep '"feedback_type":"fraud"' | tail -1)
check "mapped through its Message-ID to the original" bash -c "grep -q '\"mapped_by\":\"message-id\"' <<<'$line' && grep -q '\"message_id\":\"$QID\"' <<<'$line'"

# Forged: the same Message-ID, but a recipient the message never went to.
# Anyone who received the message knows its Message-ID; the report must not
# bounce (and suppress) an address of its choosing under the sender's account.
arf "app@shop.test" "$T/orig.txt" | sed -e 's/Feedback-Type: abuse/Feedback-Type: forged/' \
	-e 's/Original-Rcpt-To: <good@pf.test>/Original-Rcpt-To: <victim@other.test>/' >"$T/arf3.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from '<>' \
	--to abuse@bounce.shop.test --data "@$T/arf3.eml" 2>&1)
check "forged ARF: 250 (kept for an operator)" grep -q '^<-  250 2.0.0' <<<"$out"
for i in $(seq 1 100); do grep -lqs 'Feedback-Type: forged' "$T"/var/inbound/unmatched/* && break; sleep 0.1; done
check "a recipient the message was not sent to: no complaint, kept in unmatched" \
	bash -c "! grep '\"component\":\"event\"' '$T/serve.log' | grep -q 'victim@other.test' && grep -lqs 'Feedback-Type: forged' '$T'/var/inbound/unmatched/*"

# Unmappable: answered 250 all the same, kept for an operator.
printf 'From: someone@isp.example\r\nTo: postmaster@bounce.shop.test\r\nSubject: hello\r\n\r\nnot a report\r\n' >"$T/junk.eml"
out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --helo mail.isp.example --from someone@isp.example \
	--to postmaster@bounce.shop.test --data "@$T/junk.eml" 2>&1)
check "unmappable report: 250 anyway" grep -q '^<-  250 2.0.0' <<<"$out"
for i in $(seq 1 100); do [ -n "$(ls "$T/var/inbound/unmatched" 2>/dev/null)" ] && break; sleep 0.1; done
check "kept in data_dir/inbound/unmatched" bash -c "grep -lq 'not a report' '$T'/var/inbound/unmatched/*"
check "nothing left in inbound/new" bash -c "[ -z \"\$(ls '$T/var/inbound/new')\" ]"

# Sent over the API with tags and metadata: the late bounce carries them, as
# the delivery events do (read back from the message's first event).
KEY=$(hermod key create --account shop --scope send)
curl -s -o "$T/api.json" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	"http://127.0.0.1:$HTTP_PORT/v1/messages" -d '{"from":"app@shop.test","to":["gone2@pf.test"],
	"subject":"tagged","text":"hi","tags":["t54"],"metadata":{"order":"54"}}'
AID=$(jq -r .id "$T/api.json")
check "API send accepted" test -n "$AID" -a "$AID" != null
check "bounced event for gone2@pf.test" wait_event bounced gone2@pf.test
line=$(events | grep '"type":"bounced"' | grep '"recipient":"gone2@pf.test"' | tail -1)
check "the late bounce names the API message and carries its tags and metadata" \
	bash -c "grep -q '\"message_id\":\"$AID\"' <<<'$line' && grep -q '\"tags\":\\[\"t54\"\\],\"metadata\":{\"order\":\"54\"}' <<<'$line'"

stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
