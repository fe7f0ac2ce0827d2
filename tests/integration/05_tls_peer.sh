#!/bin/bash
# TLS against an independent peer: openssl s_client talks to the daemon's
# submission ports, STARTTLS and implicit TLS. The self-signed pair made on
# first start verifies for the hostname (key 0600); TLS 1.2 and 1.3 are
# accepted, TLS 1.1 and legacy CBC/SHA-1 suites refused.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "openssl missing"; exit 77; }
write_config
echo "# files in $T (kept with KEEP=1)"
start_daemon || exit 1
CERT=$T/var/tls/cert.pem
KEY=$T/var/tls/key.pem

check "self-signed certificate made on first start" test -s "$CERT"
ok "$([ "$(stat -c %a "$KEY" 2>/dev/null)" = 600 ]; echo $?)" "its key is mode 0600"
openssl x509 -in "$CERT" -noout -ext subjectAltName >"$T/san.txt" 2>&1
check "certificate SAN is the hostname" grep -q "DNS:mail.test.example" "$T/san.txt"

# sc NAME ARGS...: one s_client session that sends QUIT after the handshake;
# its output (stdout and stderr) goes to $T/NAME.out.
sc() {
	local name=$1
	shift
	(sleep 0.5; printf 'QUIT\r\n'; sleep 0.5) |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -ign_eof "$@" >"$T/$name.out" 2>&1
}

PORT=$SUB_PORT
sc st12 -starttls smtp -tls1_2 -CAfile "$CERT" -verify_hostname mail.test.example
check "STARTTLS with TLS 1.2" grep -q "Protocol  *: TLSv1.2" "$T/st12.out"
check "  forward-secret AEAD suite" grep -Eq "Cipher is ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20)" "$T/st12.out"
check "  certificate verifies for the hostname" grep -q "Verify return code: 0 (ok)" "$T/st12.out"
check "  the session goes on inside TLS (221 to QUIT)" grep -q "^221" "$T/st12.out"

sc st13 -starttls smtp -tls1_3
check "STARTTLS with TLS 1.3" grep -q "Protocol  *: TLSv1.3" "$T/st13.out"
check "  the session goes on inside TLS (221 to QUIT)" grep -q "^221" "$T/st13.out"

sc st11 -starttls smtp -tls1_1 -cipher DEFAULT@SECLEVEL=0
check "STARTTLS with TLS 1.1 refused" grep -Eq "alert protocol version|unsupported protocol|no protocols available" "$T/st11.out"
ok "$(grep -q "^221" "$T/st11.out"; [ $? -ne 0 ]; echo $?)" "  and no SMTP inside it"

PORT=$SUBTLS_PORT
sc it13 -tls1_3
check "implicit TLS with TLS 1.3, then the greeting" grep -q "^220 mail.test.example" "$T/it13.out"
sc it12 -tls1_2
check "implicit TLS with TLS 1.2" grep -q "Protocol  *: TLSv1.2" "$T/it12.out"
sc itcbc -tls1_2 -cipher "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA@SECLEVEL=0"
check "legacy CBC/SHA-1 suites refused" grep -q "alert handshake failure" "$T/itcbc.out"
sc it11 -tls1_1 -cipher DEFAULT@SECLEVEL=0
check "implicit TLS with TLS 1.1 refused" grep -Eq "alert protocol version|unsupported protocol" "$T/it11.out"

check "daemon stops cleanly" stop_daemon
done_testing
