#!/bin/bash
# 64_webhooks_tls: https endpoints. A receiver serving HTTPS with a
# certificate of a private CA: without webhooks.ca_file the certificate is
# not trusted and nothing is delivered (TLS verification is on); with the CA
# in webhooks.ca_file the events arrive, signed. A certificate for another
# name is refused even with the CA trusted (the host name is verified).
. "$(dirname "$0")/lib.sh"

P=$(free_port); P2=$(free_port)
# a CA, a certificate for 127.0.0.2 signed by it, one for another name
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hermod-test-ca -keyout "$T/ca.key" \
    -out "$T/ca.pem" >/dev/null 2>&1
mkcert() { # NAME SAN
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$T/$1.key" -out "$T/$1.csr" >/dev/null 2>&1
	printf 'subjectAltName=%s\n' "$2" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	    -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
}
mkcert good IP:127.0.0.2
mkcert wrong DNS:elsewhere.example
conf() { # EXTRA
	write_config "[webhooks]
allow_private_targets = yes
retry = 1s
timeout = 3s
$1"
}
conf ""
hermod account create shop >/dev/null || exit 1
hermod domain add shop.example --account shop >/dev/null || exit 1
KEY=$(hermod key create --account shop --scope admin)
receiver() { # NAME ADDR:PORT CERT
	/usr/bin/python3 "$ROOT/tests/integration/webhook_receiver.py" --listen "$2" --tls "$T/$3.pem" "$T/$3.key" \
	    --secret-file "$T/$1.secret" --log "$T/$1.log" --control "$T/$1.ctl" >"$T/$1.out" 2>&1 &
	PIDS+=($!)
	for i in $(seq 1 50); do grep -q ready "$T/$1.out" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
echo 200 >"$T/S.ctl"; echo 200 >"$T/W.ctl"
receiver S 127.0.0.2:$P good || exit 1
receiver W 127.0.0.3:$P2 wrong || exit 1
start_daemon || exit 1
U=http://127.0.0.1:$HTTP_PORT
for i in $(seq 1 100); do curl -s "$U/healthz" | grep -q ok && break; sleep 0.1; done
sub() { # NAME URL
	curl -s -X POST "$U/v1/webhooks" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    -d "{\"url\":\"$2\",\"events\":[\"queued\"]}" >"$T/$1.sub"
	jq -r .secret "$T/$1.sub" >"$T/$1.secret"
	jq -r .id "$T/$1.sub"
}
send() {
	curl -s -o /dev/null -X POST "$U/v1/messages" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d '{"from":"a@shop.example","to":["x@dest.example"],"subject":"s","text":"t"}'
}
wait_for() { local s=$1 i; shift; for i in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done; return 1; }
S_ID=$(sub S "https://127.0.0.2:$P/hook")
W_ID=$(sub W "https://127.0.0.3:$P2/hook")
send
untrusted() { grep '"msg":"event delivery failed"' "$T/serve.log" | grep "$S_ID" | grep -qi 'certificate\|SSL'; }
check "without webhooks.ca_file the private CA is not trusted (TLS verified)" wait_for 10 untrusted
check "nothing was delivered to it" bash -c "[ ! -s '$T/S.log' ]"
stop_daemon
ok $? "SIGTERM: exit 0"
echo "ca_file = $T/ca.pem" >>"$T/hermod.conf"
L=$(wc -l <"$T/serve.log")	# judge the second run by its own lines
start_daemon || exit 1
got() { [ -s "$T/S.log" ] && jq -e -s 'length >= 1 and all(.sig_ok and .status == 200)' "$T/S.log" >/dev/null; }
check "with the CA in webhooks.ca_file the event arrives over https, signed" wait_for 15 got
wrongname() { tail -n +$((L + 1)) "$T/serve.log" | grep '"msg":"event delivery failed"' | grep "$W_ID" |
    grep -qi 'certificate\|SSL\|match'; }
check "a certificate for another name is refused even from the trusted CA" wait_for 10 wrongname
check "so nothing reached that receiver" bash -c "[ ! -s '$T/W.log' ]"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
