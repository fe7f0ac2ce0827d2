#!/bin/bash
# delivery.tls = verify: mail goes only to an MX whose certificate verifies
# for its host name against the system CAs plus delivery.ca_file. Four MXes on
# loopback (tests/integration/smtpfault.py with STARTTLS), found through a
# private dnsmasq: one with a certificate from our test CA for its name
# (delivered, over TLS), one from the same CA for another name, one
# self-signed, one without STARTTLS: those three are deferred (4.7.5 /
# 4.7.10) and never see MAIL. An unreadable ca_file stops serve.
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null && command -v openssl >/dev/null || { echo "dnsmasq or openssl missing"; exit 77; }
DNS_PORT=$(free_port)
MX_PORT=$(free_port)
C=$T/certs
mkdir -p "$C"

# A test CA, two leaf certificates from it, one self-signed certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=hermod test CA" -keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
leaf() { # NAME FILE
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$C/$2.key" -out "$C/$2.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s\n' "$1" >"$C/$2.ext"
	openssl x509 -req -in "$C/$2.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
		-days 2 -extfile "$C/$2.ext" -out "$C/$2.pem" 2>/dev/null
}
leaf mx.good.test good
leaf mx.elsewhere.test wrong
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=mx.self.test" -addext "subjectAltName=DNS:mx.self.test" \
	-keyout "$C/self.key" -out "$C/self.pem" 2>/dev/null
check "test certificates made" test -s "$C/good.pem" -a -s "$C/wrong.pem" -a -s "$C/self.pem"

dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--local-ttl=60 --pid-file= --user= --local=/test/ \
	--mx-host=good.test,mx.good.test,10 --host-record=mx.good.test,127.0.0.21 \
	--mx-host=wrong.test,mx.wrong.test,10 --host-record=mx.wrong.test,127.0.0.22 \
	--mx-host=self.test,mx.self.test,10 --host-record=mx.self.test,127.0.0.23 \
	--mx-host=plain.test,mx.plain.test,10 --host-record=mx.plain.test,127.0.0.24 \
	>"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
fault() { # ADDR NAME [TLS-FILE]
	local tls=() rules='{}'
	if [ -n "${3:-}" ]; then
		tls=(--tls "$C/$3.pem" "$C/$3.key")
		rules='{"offer_starttls": true}'
	fi
	/usr/bin/python3 "$ROOT/tests/integration/smtpfault.py" --listen "$1:$MX_PORT" \
		--log "$T/$2.log" --rules "$rules" "${tls[@]}" &
	PIDS+=($!)
}
fault 127.0.0.21 good good
fault 127.0.0.22 wrong wrong
fault 127.0.0.23 self self
fault 127.0.0.24 plain

DELIVERY=yes write_config "[submission]
trusted_networks = 127.0.0.0/8
trusted_account = shop
[delivery]
resolver = 127.0.0.1:$DNS_PORT
port = $MX_PORT
tls = verify
ca_file = $C/ca.pem
retry = 1h
connect_timeout = 3s
greeting_timeout = 3s"
hermod account create shop >/dev/null || exit 1
hermod domain add shop.test --account shop >/dev/null || exit 1
for f in good wrong self plain; do
	for i in $(seq 1 100); do grep -q ready "$T/$f.log" 2>/dev/null && break; sleep 0.1; done
done
start_daemon || exit 1

for d in good wrong self plain; do
	swaks --server 127.0.0.1 --port "$SUB_PORT" --helo client.test --from app@shop.test \
		--to "r@$d.test" --header "Subject: tls $d" --body "to $d" >"$T/swaks-$d.out" 2>&1
done
check "all four accepted" bash -c "grep -l '250 2.0.0 Ok: queued as' '$T'/swaks-*.out | wc -l | grep -qx 4"

events() { grep '"component":"event"' "$T/serve.log"; }
wait_event() { # TYPE RECIPIENT
	for i in $(seq 1 150); do
		events | grep "\"type\":\"$1\"" | grep -q "\"recipient\":\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
check "verified MX: delivered" wait_event delivered r@good.test
check "  over TLS: MAIL came after STARTTLS, inside TLS" \
	grep -q '"line": "MAIL FROM:<b-[^"]*", "tls": true' "$T/good.log"
check "certificate for another name: deferred" wait_event deferred r@wrong.test
check "  with 4.7.5 and the reason" bash -c "grep '\"type\":\"deferred\"' '$T/serve.log' | grep 'r@wrong.test' | grep -q '\"enhanced\":\"4.7.5\".*did not verify'"
check "self-signed certificate: deferred 4.7.5" wait_event deferred r@self.test
check "no STARTTLS: deferred" wait_event deferred r@plain.test
check "  with 4.7.10" bash -c "grep '\"type\":\"deferred\"' '$T/serve.log' | grep 'r@plain.test' | grep -q '\"enhanced\":\"4.7.10\"'"
for f in wrong self plain; do
	check "  the $f MX never saw MAIL FROM" bash -c "! grep -q 'MAIL FROM' '$T/$f.log'"
done
check "nothing delivered but to good.test" test "$(events | grep -c '"type":"delivered"')" = 1
stop_daemon
ok $? "SIGTERM: exit 0"

# An unreadable ca_file is a startup error, not a silent fallback.
sed -i "s|^ca_file = .*|ca_file = $C/missing.pem|" "$T/hermod.conf"
out=$(timeout 20 "$HERMOD" -c "$T/hermod.conf" serve 2>&1)
rc=$?
check "missing ca_file: serve exits non-zero" test "$rc" -ne 0 -a "$rc" -ne 124
check "  naming the key" grep -q 'delivery.ca_file' <<<"$out"
done_testing
