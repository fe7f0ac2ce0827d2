#!/bin/bash
# 10_cli_admin: `hermod init`, `account`, `key` and `domain` with the built
# binary against a private data_dir: exit codes, one-line errors, file modes,
# idempotence, concurrent CLI processes, and (with the sqlite3 CLI) that only
# SHA-256 hashes of API keys reach the disk.
. "$(dirname "$0")/lib.sh"

write_config
DB=$T/var/hermod.db

# fails_with PATTERN CMD...: CMD exits non-zero with exactly one stderr line
# matching PATTERN and nothing on stdout.
fails_with() {
	local pat=$1 out err rc
	shift
	out=$("$@" 2>"$T/err")
	rc=$?
	err=$(cat "$T/err")
	if [ "$rc" -ne 0 ] && [ -z "$out" ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	    grep -q -- "$pat" "$T/err"; then
		return 0
	fi
	echo "# rc=$rc stdout=[$out] stderr=[$err]"
	return 1
}
mode() { stat -c %a "$1"; }

check "init creates data_dir" hermod init
ok $([ "$(mode "$T/var")" = 700 ]; echo $?) "data_dir is mode 0700"
ok $([ "$(mode "$DB")" = 600 ]; echo $?) "store file is mode 0600"
ok $([ "$(mode "$T/var/tls/key.pem")" = 600 ]; echo $?) "self-signed TLS key made, mode 0600"
check "TLS certificate parses" openssl x509 -in "$T/var/tls/cert.pem" -noout
check "TLS certificate matches its key" bash -c "[ \"\$(openssl x509 -in $T/var/tls/cert.pem -noout -pubkey)\" = \"\$(openssl pkey -in $T/var/tls/key.pem -pubout)\" ]"
CERTSUM=$(sha256sum <"$T/var/tls/cert.pem")
ok $([ "$(sqlite3 "$DB" 'PRAGMA journal_mode')" = wal ]; echo $?) "store uses WAL"
ok $([ "$(sqlite3 "$DB" 'SELECT max(version) = count(*) AND min(version) = 1 AND count(*) >= 2 FROM schema_version')" = 1 ]; echo $?) \
    "schema versions recorded, each once"

check "account create" hermod account create shop
check "init again (idempotent)" hermod init
ok $(hermod account list | grep -q '^shop '; echo $?) "init kept the account"
ok $([ "$(sha256sum <"$T/var/tls/cert.pem")" = "$CERTSUM" ]; echo $?) "init kept the TLS pair"
check "account create other" hermod account create other
check "duplicate account refused" fails_with "already exists" hermod account create shop
check "bad account name refused" fails_with "invalid name" hermod account create 'Bad Name'
check "missing account name" fails_with "expected one NAME" hermod account create
check "unknown subcommand" fails_with "unknown subcommand" hermod account frob
ok $(hermod account list --json | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert [x["name"] for x in a] == ["other", "shop"], a
assert all(x["created"].endswith("Z") for x in a)'; echo $?) "account list --json"

# Keys: the secret alone on stdout, nothing on stderr.
KEY=$(hermod key create --account shop 2>"$T/kerr")
ok $([ $? -eq 0 ] && [ ! -s "$T/kerr" ] && [[ "$KEY" =~ ^hm_[A-Za-z0-9_-]{43}$ ]]; echo $?) \
    "key create prints the secret alone"
ADMIN=$(hermod key create --account shop --scope admin)
ok $([[ "$ADMIN" =~ ^hm_[A-Za-z0-9_-]{43}$ ]] && [ "$ADMIN" != "$KEY" ]; echo $?) \
    "admin key created"
check "unknown account refused" fails_with "no such account nope" hermod key create --account nope
check "bad scope refused" fails_with "invalid scope" hermod key create --account shop --scope root
check "missing --account" fails_with "account NAME is required" hermod key create
hermod key list --account shop --json >"$T/keys.json"
ok $(python3 - "$T/keys.json" "$KEY" "$ADMIN" <<'PY'; echo $?
import json, sys
keys = json.load(open(sys.argv[1]))
text = open(sys.argv[1]).read()
assert [k["scope"] for k in keys] == ["send", "admin"], keys
assert sys.argv[2].startswith(keys[0]["prefix"]) and sys.argv[3].startswith(keys[1]["prefix"])
assert sys.argv[2] not in text and sys.argv[2][3:] not in text and sys.argv[3][3:] not in text
assert keys[0]["last_used"] is None and keys[0]["revoked"] is None
PY
) "key list --json shows prefixes, never secrets"
ok $(hermod key list --account other --json | python3 -c 'import json,sys; assert json.load(sys.stdin) == []'; echo $?) \
    "keys are per account"

# Only hashes on disk: the SHA-256 of each secret is there, the secret is not,
# neither through SQL nor in the raw bytes of the database and its WAL.
HASH=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
STORED=$(sqlite3 "$DB" "SELECT lower(hex(hash)) FROM api_keys WHERE scope = 'send'")
ok $([ "$HASH" = "$STORED" ]; echo $?) "store holds SHA-256 of the key"
ok $(sqlite3 "$DB" .dump | grep -qF -e "${KEY:3}" -e "${ADMIN:3}"; [ $? -eq 1 ]; echo $?) \
    "no secret in the SQL dump"
ok $(cat "$DB" "$DB-wal" 2>/dev/null | grep -qaF -e "${KEY:3}" -e "${ADMIN:3}"; [ $? -eq 1 ]; echo $?) \
    "no secret in the database files"

check "key revoke" hermod key revoke --account shop 2
check "revoke twice refused" fails_with "no active key 2" hermod key revoke --account shop 2
ok $([ "$(sqlite3 "$DB" 'SELECT count(*) FROM api_keys WHERE revoked IS NOT NULL')" = 1 ]; echo $?) \
    "revocation stored"

# Domains.
hermod domain add Shop.Example --account shop --json >"$T/dom.json"
ok $(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["domain"] == "shop.example" and d["account"] == "shop", d
assert d["verified"] is False and isinstance(d["records"], list)' "$T/dom.json"; echo $?) \
    "domain add --json, lower-cased"
check "domain add again by its owner" hermod domain add shop.example --account shop
check "domain of another account refused" \
    fails_with "already registered to account shop" hermod domain add shop.example --account other
check "subdomain of another account's domain refused" \
    fails_with "overlaps shop.example" hermod domain add mail.shop.example --account other
check "three-label domain" hermod domain add mail.corp.example --account shop
check "parent of another account's domain refused" \
    fails_with "overlaps mail.corp.example" hermod domain add corp.example --account other
check "own subdomain allowed" hermod domain add news.shop.example --account shop
check "bad domain refused" fails_with "may hold only" hermod domain add 'a_b.example' --account shop
check "domain for unknown account refused" fails_with "no such account" hermod domain add x.example --account nope
check "bad --algo refused" fails_with "invalid --algo" hermod domain add y.example --account shop --algo dsa
check "bad --selector refused" fails_with "invalid --selector" hermod domain add y.example --account shop --selector 'a b'
check "IDN domain added" hermod domain add bücher.example --account other --algo ed25519 --selector s1
ok $(hermod domain list --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [(x["domain"], x["account"]) for x in d] == [("mail.corp.example", "shop"),
    ("news.shop.example", "shop"),
    ("shop.example", "shop"), ("xn--bcher-kva.example", "other")], d'; echo $?) \
    "domain list --json (A-labels)"
ok $([ "$(hermod domain list --account other | tail -n +2 | awk '{print $1}')" = xn--bcher-kva.example ]; echo $?) \
    "domain list --account filters"
check "domain list unknown account" fails_with "no such account" hermod domain list --account nope

# Several CLI processes at once on the same store: busy_timeout, not errors.
for i in $(seq 1 12); do
	hermod account create "par$i" >/dev/null 2>"$T/par$i.err" &
done
wait
ok $([ "$(sqlite3 "$DB" "SELECT count(*) FROM accounts WHERE name LIKE 'par%'")" = 12 ] &&
    ! grep -q . "$T"/par*.err; echo $?) "12 concurrent account creates all succeed"

# Store URLs that are not there yet.
# A configured certificate: init makes no self-signed pair.
rm -rf "$T/var2"
write_config "[server]
data_dir = $T/var2
[submission]
tls_cert = $T/var/tls/cert.pem
tls_key = $T/var/tls/key.pem"
check "init with a configured certificate" hermod init
ok $([ -d "$T/var2" ] && [ ! -e "$T/var2/tls/cert.pem" ]; echo $?) "no self-signed pair when one is configured"

# As root with server.user: data_dir goes to that user, links not followed.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	write_config "[server]
data_dir = $T/var3"
	hermod init >/dev/null && hermod account create x >/dev/null &&
	    mkdir -p "$T/var3/spool" && touch "$T/outside" && ln -s "$T/outside" "$T/var3/link"
	write_config "[server]
data_dir = $T/var3
user = nobody"
	check "init as root with server.user" hermod init
	ok $([ -z "$(find "$T/var3" ! -user nobody)" ]; echo $?) "everything in data_dir belongs to server.user"
	ok $([ "$(stat -c %U "$T/outside")" = root ]; echo $?) "a link's target is left alone"
	check "unknown server.user refused" fails_with "no such user" \
	    bash -c "sed -i 's/^user = nobody/user = no-such-user-x/' $T/hermod.conf && $HERMOD -c $T/hermod.conf init"
fi

write_config "[store]
url = postgres://hermod@127.0.0.1/hermod"
check "postgres:// refused clearly" fails_with "PostgreSQL is not supported yet" hermod account list
# `hermod version`: hermod's and every linked library's version, one a line.
out=$(hermod version)
missing=0
for lib in hermod libuv openssl sqlite jansson libmicrohttpd libcurl libunbound libsodium libidn2; do
	grep -q "^$lib [0-9]" <<<"$out" || { echo "# missing: $lib"; missing=1; }
done
ok $missing "version names hermod and each linked library"

done_testing
