#!/bin/bash
# `hermod serve` refuses a bad configuration with FILE:LINE: key: what, and a
# listener it cannot bind with one clear line; both exit non-zero and leave
# nothing running (the sanitized build reports any leak on that path).
. "$(dirname "$0")/lib.sh"

write_config "[submission]
max_message_size = huge"
out=$("$HERMOD" -c "$T/hermod.conf" serve 2>&1); rc=$?
line=$(grep -n 'max_message_size = huge' "$T/hermod.conf" | cut -d: -f1)
ok $(( rc != 0 ? 0 : 1 )) "a bad value stops serve (exit $rc)"
check "the error names FILE:LINE: key" grep -q "$T/hermod.conf:$line: submission.max_message_size: expected a size" <<<"$out"

write_config "[delivery]
colour = blue"
out=$("$HERMOD" -c "$T/hermod.conf" serve 2>&1); rc=$?
check "an unknown key stops serve with its name" grep -q "hermod.conf:[0-9]*: delivery.colour: unknown key" <<<"$out"

out=$("$HERMOD" -c "$T/nonexistent.conf" serve 2>&1); rc=$?
ok $(( rc != 0 ? 0 : 1 )) "a missing config file named with -c is an error: $out"

write_config
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $HTTP_PORT)); s.listen(); time.sleep(8)" &
PIDS+=($!)
sleep 0.5
out=$("$HERMOD" -c "$T/hermod.conf" serve 2>&1); rc=$?
ok $(( rc == 1 ? 0 : 1 )) "a port in use stops serve with exit 1 ($rc)"
check "one clear line names the listener" grep -q "hermod: http: .*127.0.0.1:$HTTP_PORT: address already in use" <<<"$(tr 'A-Z' 'a-z' <<<"$out")"
if grep -q "LeakSanitizer\|AddressSanitizer" <<<"$out"; then ok 1 "no sanitizer report on the failed start"; else ok 0 "no sanitizer report on the failed start"; fi

# Least privilege: started as root with server.user, serve binds its ports,
# then runs as that user; submission still works (data_dir was handed over).
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	write_config "[server]
user = nobody
[submission]
trusted_networks = 127.0.0.1/32
trusted_account = shop
[delivery]
enabled = no"
	chmod 755 "$T"	# mktemp made it 0700: nobody must reach data_dir inside
	hermod account create shop >/dev/null && hermod domain add shop.example --account shop >/dev/null
	start_daemon || exit 1
	uid=$(awk '/^Uid:/ {print $2}' /proc/$DAEMON_PID/status)
	ok $(( uid == $(id -u nobody) ? 0 : 1 )) "serve runs as server.user after binding (uid $uid)"
	out=$(swaks --server 127.0.0.1 --port "$SUB_PORT" --from a@shop.example --to r@x.example 2>&1)
	check "as that user it still accepts mail (spool and store writable)" grep -q "250 2.0.0 Ok: queued" <<<"$out"
	out=$(swaks --server 127.0.0.1 --port "$IN_PORT" --from '<>' --to fbl@bounce.shop.example 2>&1)
	check "and the inbound listener stores reports (data_dir/inbound writable)" grep -q "250 2.0.0 Ok: report received" <<<"$out"
	stop_daemon
	ok $? "and exits 0 on SIGTERM"
fi

# submission.max_connections: the session beyond the limit gets 421 and
# the connection is closed; once one closes, the next client is served.
write_config "[submission]
max_connections = 3
[delivery]
enabled = no"
start_daemon || exit 1
out=$(/usr/bin/python3 - "$SUB_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def greet(s):
    s.settimeout(10)
    return s.recv(512).decode()
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
print("held:" + ",".join(greet(s)[:3] for s in held))
extra = socket.create_connection(("127.0.0.1", port))
print("extra:" + greet(extra)[:9])
extra.settimeout(5)
print("closed:" + str(extra.recv(512) == b""))
held[0].close()
time.sleep(0.5)
again = socket.create_connection(("127.0.0.1", port))
print("again:" + greet(again)[:3])
PY
)
check "three sessions under max_connections = 3 get their greeting" grep -q "held:220,220,220" <<<"$out"
check "the fourth gets 421 4.7.0 and is closed" grep -qx "extra:421 4.7.0" <<<"$(grep extra <<<"$out")"
check "closed after the 421" grep -q "closed:True" <<<"$out"
check "a slot that frees up is used again" grep -q "again:220" <<<"$out"
stop_daemon

# An empty file gives a working local server (every key has a default).
: >"$T/empty.conf"
"$HERMOD" -c "$T/empty.conf" init >/dev/null && [ -f "$T/var/hermod.db" ] && [ -f "$T/var/tls/cert.pem" ]
ok $? "an empty config file is valid: init makes data_dir (var/, beside it) with store and TLS pair"
done_testing
