#!/bin/bash
# Postfix itself as the MX: a private Postfix instance (its own config, queue
# and maildir under $T) receives for pf.test on 127.0.0.1:PORT, with one
# known mailbox. hermod, submitted to with swaks and resolving pf.test with a
# private dnsmasq, must deliver to the known address (the maildir holds the
# message) and bounce the unknown one with Postfix's 550 5.1.1, classified
# hard/bad-mailbox.
. "$(dirname "$0")/lib.sh"

command -v postfix >/dev/null && command -v dnsmasq >/dev/null || { echo "postfix or dnsmasq missing"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "a private Postfix needs root"; exit 77; }
# Postfix refuses its files under our /tmp directory (it works under /var/tmp)
PF=$(mktemp -d /var/tmp/hermod-pf.XXXXXX)
chmod 755 "$PF"
PF_PORT=$(free_port)
DNS_PORT=$(free_port)
chmod 711 "$T"
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/mail/box"
chown postfix:postfix "$PF/data"
chown -R nobody:nogroup "$PF/mail"
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
virtual_mailbox_maps = inline:{ good@pf.test=box/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
local_transport = error:local delivery disabled
alias_maps =
alias_database =
smtpd_tls_security_level = none
maillog_file = $PF/postfix.log
biff = no
EOF
postconf -c "$PF/etc" -MX smtp/inet 2>/dev/null
postconf -c "$PF/etc" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
pf_stop() {
	postfix -c "$PF/etc" stop >/dev/null 2>&1
	cleanup
	[ -n "${KEEP:-}" ] || rm -rf "$PF"
}
trap pf_stop EXIT
postfix -c "$PF/etc" check >"$T/pf-check.log" 2>&1 || { echo "postfix check failed"; exit 77; }
postfix -c "$PF/etc" start >"$T/pf-start.log" 2>&1 || { echo "postfix start failed"; cat "$T/pf-start.log"; exit 1; }

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=pf.test,mx.pf.test,10 --host-record=mx.pf.test,127.0.0.1 >"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)

DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $PF_PORT
retry = 1h"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
wait_port "$PF_PORT" 20 || { echo "postfix does not listen"; tail "$PF/postfix.log"; exit 1; }
start_daemon || exit 1

printf 'From: app@shop.test\r\nTo: good@pf.test\r\nSubject: to postfix\r\nDate: Thu, 26 Nov 2026 18:00:00 +0000\r\nMessage-ID: <pf-1@shop.test>\r\n\r\nhello postfix\r\n' >"$T/msg.eml"
swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
	--to good@pf.test,bad@pf.test --data "@$T/msg.eml" >"$T/swaks.out" 2>&1
check "swaks: accepted" grep -q '250 2.0.0 Ok: queued as' "$T/swaks.out"

wait_event() { # TYPE RECIPIENT
	for i in $(seq 1 150); do
		grep '"component":"event"' "$T/serve.log" | grep "\"type\":\"$1\"" |
		    grep -q "\"recipient\":\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
check "delivered to Postfix" wait_event delivered good@pf.test
check "unknown mailbox bounced by Postfix" wait_event bounced bad@pf.test
check "the bounce is Postfix's 550 5.1.1, hard bad-mailbox" bash -c "grep '\"recipient\":\"bad@pf.test\"' '$T/serve.log' | grep -q '\"code\":550,\"enhanced\":\"5.1.1\".*\"class\":\"hard\",\"category\":\"bad-mailbox\"'"
found=""
for i in $(seq 1 100); do
	found=$(grep -l "pf-1@shop.test" "$PF"/mail/box/new/* 2>/dev/null | head -1)
	[ -n "$found" ] && break
	sleep 0.1
done
check "the message is in Postfix's maildir" test -n "$found"
check "with hermod's Received: and the body" bash -c "grep -q 'by mail.test.example (hermod)' '$found' && grep -q 'hello postfix' '$found'"

stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
