#!/bin/bash
# 41_dkim_domain.sh: `hermod domain add` makes the DKIM key(s) and prints the
# DNS records to publish; the key file is 0600 and kept on a second add; the
# published key really is the public half of the key the signer uses
# (a message signed through the key ring with it verifies in python3-dkim,
# the TXT value taken from the CLI's JSON).
source "$(dirname "$0")/lib.sh"
write_config

hermod init >/dev/null 2>&1
hermod account create shop >/dev/null
hermod domain add shop.example --account shop --json >"$T/rsa.json"
ok $? "domain add (default rsa)"
check "records JSON: DKIM rsa, SPF, MX, DMARC" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["records"]
assert d["domain"] == "shop.example", d
sel = d["dkim"]["selector"]
assert d["dkim"]["algo"] == "rsa", d["dkim"]
types = {(x["type"], x["name"]): x["value"] for x in r}
assert types[("TXT", sel + "._domainkey.shop.example")].startswith("v=DKIM1; k=rsa; p=MII"), types
assert types[("TXT", "bounce.shop.example")] == "v=spf1 a:mail.test.example -all", types
assert types[("MX", "bounce.shop.example")] == "10 mail.test.example", types
assert types[("TXT", "_dmarc.shop.example")].startswith("v=DMARC1; p=none; rua=mailto:"), types
assert all(x["purpose"] for x in r)
' "$T/rsa.json"
sel=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dkim"]["selector"])' "$T/rsa.json")
key="$T/var/dkim/shop.example.$sel.rsa.pem"
check "private key written mode 0600" test "$(stat -c %a "$key")" = 600
sum1=$(sha256sum <"$key")
hermod domain add shop.example --account shop --json >"$T/rsa2.json"
check "second add keeps the key" test "$(sha256sum <"$key")" = "$sum1"
check "second add prints the same DKIM record" cmp -s <(grep -o 'k=rsa; p=[^"]*' "$T/rsa.json") \
    <(grep -o 'k=rsa; p=[^"]*' "$T/rsa2.json")

hermod domain add news.example --account shop --algo ed25519 --selector s2 >"$T/ed.txt"
ok $? "domain add --algo ed25519 --selector s2"
check "text output names the Ed25519 record" grep -q "s2._domainkey.news.example" "$T/ed.txt"
check "ed25519 key file 0600" test "$(stat -c %a "$T/var/dkim/news.example.s2.ed25519.pem")" = 600
hermod domain add dual.example --account shop --algo rsa+ed25519 --selector d1 --json >"$T/dual.json"
ok $? "domain add --algo rsa+ed25519"
check "dual: two DKIM records (d1, d1-ed)" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(x["name"] for x in d["records"] if x["value"].startswith("v=DKIM1"))
assert names == ["d1-ed._domainkey.dual.example", "d1._domainkey.dual.example"], names
assert d["dkim"] == {"selector": "d1", "algo": "rsa+ed25519"}, d["dkim"]
' "$T/dual.json"

# the published records match the keys the signer loads
if [ -x "$ROOT/build/tools/dkim_signfile" ]; then
	printf 'From: a@dual.example\r\nTo: b@x.example\r\nSubject: hi\r\n\r\nhello\r\n' >"$T/m.eml"
	"$ROOT/build/tools/dkim_signfile" sign "$T/var" dual.example d1 <"$T/m.eml" >"$T/signed.eml"
	ok $? "sign with the CLI-made keys"
	check "both signatures verify against the CLI's records (python3-dkim)" /usr/bin/python3 -c '
import dkim, json, sys
recs = {x["name"] + ".": x["value"].encode() for x in json.load(open(sys.argv[1]))["records"]}
data = open(sys.argv[2], "rb").read()
dns = lambda name, timeout=5: recs.get(name.decode())
assert dkim.DKIM(data).verify(idx=0, dnsfunc=dns)
assert dkim.DKIM(data).verify(idx=1, dnsfunc=dns)
' "$T/dual.json" "$T/signed.eml"
fi
done_testing
