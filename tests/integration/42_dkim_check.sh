#!/bin/bash
# 42_dkim_check.sh: `hermod domain check` looks the records up through
# delivery.resolver (a dnsmasq on loopback serving them) and says ok /
# missing / wrong with the record to publish; the domain becomes verified
# when its DKIM records are right, and unverified again when they are not.
source "$(dirname "$0")/lib.sh"
DNS_PORT=$(free_port)
write_config "[delivery]
resolver = 127.0.0.1:$DNS_PORT"

hermod init >/dev/null 2>&1
hermod account create shop >/dev/null
hermod domain add shop.example --account shop --algo rsa+ed25519 --selector k1 --json >"$T/add.json"
ok $? "domain add (dual)"

# dnsmasq_start [ARGS...]: serves the records of add.json (as a zone owner
# would publish them) plus ARGS, and waits until it answers.
DNSMASQ_PID=
dnsmasq_start() {
	[ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
	mapfile -t recs < <(/usr/bin/python3 -c '
import json, sys
skip = sys.argv[2].split(",") if len(sys.argv) > 2 else []
for x in json.load(open(sys.argv[1]))["records"]:
    if any(s and x["name"].startswith(s) for s in skip):
        continue
    if x["type"] == "MX":
        pref, host = x["value"].split()
        print("--mx-host=%s,%s,%s" % (x["name"], host, pref))
    else:
        v = x["value"]
        print("--txt-record=%s,%s" % (x["name"], ",".join(v[i:i + 255] for i in range(0, len(v), 255))))
' "$T/add.json" "${SKIP:-}")
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --conf-file=/dev/null \
	    --listen-address=127.0.0.1 --bind-interfaces --port="$DNS_PORT" \
	    --local=/example/ --pid-file="$T/dnsmasq.pid" "${recs[@]}" "$@" 2>>"$T/dnsmasq.log" &
	DNSMASQ_PID=$!
	PIDS+=("$DNSMASQ_PID")
	for _ in $(seq 1 50); do
		/usr/bin/python3 -c 'import dns.resolver as r, sys; x = r.Resolver(configure=False); x.nameservers = ["127.0.0.1"]; x.port = int(sys.argv[1]); x.lifetime = 0.3; x.resolve("_dmarc.shop.example", "TXT")' "$DNS_PORT" 2>/dev/null && return 0
		/usr/bin/python3 -c 'import dns.resolver as r, sys; x = r.Resolver(configure=False); x.nameservers = ["127.0.0.1"]; x.port = int(sys.argv[1]); x.lifetime = 0.3; x.resolve("k1._domainkey.shop.example", "TXT")' "$DNS_PORT" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

check "dnsmasq serves the published records" dnsmasq_start
hermod domain check shop.example >"$T/c1.txt" 2>&1
ok $? "domain check: everything published, exit 0"
check "every record ok" test "$(grep -c '^ok ' "$T/c1.txt")" -eq 5
check "domain now verified" /usr/bin/python3 -c '
import json, subprocess, sys
d = [x for x in json.loads(sys.stdin.read()) if x["domain"] == "shop.example"][0]
assert d["verified"] is True, d' < <(hermod domain list --json)

check "the checked selector becomes the signing one" test "$(cat "$T/var/dkim/shop.example.active")" = k1

# the DMARC record is missing and the Ed25519 key is another one
SKIP=_dmarc.,k1-ed. dnsmasq_start --txt-record=k1-ed._domainkey.shop.example,"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
hermod domain check shop.example --json >"$T/c2.json" 2>"$T/c2.err"
rc=$?
check "domain check: wrong DKIM key, exit 1" test "$rc" -eq 1
check "json: DKIM wrong with the record to publish, DMARC missing, RSA ok" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
st = {x["name"]: x for x in d["records"]}
ed = st["k1-ed._domainkey.shop.example"]
assert ed["status"] == "wrong" and ed["required"] and ed["value"].startswith("v=DKIM1; k=ed25519; p="), ed
assert "11qYAYKx" in ed["found"][0] and ed["problem"], ed
assert st["_dmarc.shop.example"]["status"] == "missing", st["_dmarc.shop.example"]
assert st["k1._domainkey.shop.example"]["status"] == "ok"
assert st["bounce.shop.example"]["status"] == "ok"
assert d["verified"] is False
' "$T/c2.json"
check "domain unverified again" /usr/bin/python3 -c '
import json, sys
d = [x for x in json.loads(sys.stdin.read()) if x["domain"] == "shop.example"][0]
assert d["verified"] is False, d' < <(hermod domain list --json)
hermod domain check shop.example >"$T/c3.txt" 2>&1
check "text output names the fix" grep -q "publish: k1-ed._domainkey.shop.example TXT v=DKIM1; k=ed25519; p=" "$T/c3.txt"
# rotation: a new selector's key does not sign before its record is seen
dnsmasq_start
hermod domain add shop.example --account shop --selector k2 >/dev/null
ok $? "domain add --selector k2 (rotation)"
hermod domain check shop.example >"$T/c4.txt" 2>&1
check "k2 not published yet: k1 still signs and the domain stays verified" test $? -eq 0 -a \
    "$(cat "$T/var/dkim/shop.example.active")" = k1
check "the report says the rotation is pending" grep -q "rotation pending: selector k1 still signs" "$T/c4.txt"
check "the new record is named with its fix" grep -q "publish: k2._domainkey.shop.example TXT" "$T/c4.txt"
# publish k2's record(s): the next check switches signing to k2
hermod domain check shop.example --json >"$T/c5.json"
mapfile -t k2recs < <(/usr/bin/python3 -c '
import json, sys
for x in json.load(open(sys.argv[1]))["records"]:
    if x["name"].startswith("k2") and x["type"] == "TXT":
        v = x["value"]
        print("--txt-record=%s,%s" % (x["name"], ",".join(v[i:i + 255] for i in range(0, len(v), 255))))
' "$T/c5.json")
dnsmasq_start "${k2recs[@]}"
hermod domain check shop.example >"$T/c6.txt" 2>&1
check "k2 published: verified, and k2 signs from now on" test $? -eq 0 -a \
    "$(cat "$T/var/dkim/shop.example.active")" = k2
# hermod domain rotate: a fresh selector, same algorithms, old key still signs
hermod domain rotate shop.example --json >"$T/rot.json"
ok $? "domain rotate makes a new selector"
check "rotate: new DKIM records to publish under an hm... selector" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = [x["name"] for x in d["records"] if x["type"] == "TXT" and "_domainkey" in x["name"]]
assert names and all(n.startswith("hm") for n in names), names
' "$T/rot.json"
check "rotate: the old key signs until the new record is seen" test "$(cat "$T/var/dkim/shop.example.active")" = k2

# GET /v1/domains/{domain} runs the same check through the daemon's resolver.
KEY=$(hermod key create --account shop --scope admin)
start_daemon || exit 1
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$HTTP_PORT/v1/domains/shop.example" >"$T/get.json"
check "GET /v1/domains/{domain}: each record ok / missing / wrong from DNS, rotation pending" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
st = {x["name"]: x["status"] for x in d["records"]}
assert st["_dmarc.shop.example"] == "ok", st
assert any(n.startswith("hm") and s == "missing" for n, s in st.items()), st
assert d["verified"] is True and d["rotation"] == "pending" and d["signing_selector"] == "k2", d
' "$T/get.json"
stop_daemon
check "unknown domain refused" bash -c "! \"$HERMOD\" -c \"$T/hermod.conf\" domain check nope.example 2>/dev/null"
done_testing
