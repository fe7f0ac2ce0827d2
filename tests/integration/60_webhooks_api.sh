#!/bin/bash
# 60_webhooks_api: /v1/webhooks with curl against `hermod serve`: create
# (201, the secret shown once in the whsec_ form, 32 random bytes), list (no
# secrets), scopes (send key 403 on POST and DELETE), validation (422 for a
# bad URL, a scheme other than http(s), a literal loopback/private/link-local
# address with webhooks.allow_private_targets = no, credentials in the URL,
# unknown event types and fields; 400 malformed JSON), the per-account limit,
# accounts kept apart, delete (204, then 404), and no secret in the log.
. "$(dirname "$0")/http_setup.sh" "[webhooks]
max_per_account = 3"

api() {
	local m=$1 p=$2 b=${3-} out
	shift 3 2>/dev/null || shift $#
	if [ -n "$b" ]; then
		out=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$m" "$U$p" \
		    -H 'Content-Type: application/json' --data-binary "$b" "$@")
	else
		out=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$m" "$U$p" "$@")
	fi
	CODE=${out%% *}
	CTYPE=${out#* }
}
auth() { echo "Authorization: Bearer $1"; }
jb() { jq -r "$1" "$T/body"; }
is() { [ "$1" = "$2" ] || { echo "# got [$1] want [$2]; body: $(head -c 400 "$T/body")" >&2; return 1; }; }
problem() {
	is "$CODE" "$1" && is "$CTYPE" "application/problem+json" &&
	    { [ -z "${2-}" ] || jq -e --arg f "$2" '.errors | map(.field) | index($f) != null' \
	    "$T/body" >/dev/null || { echo "# no error for $2: $(cat "$T/body")" >&2; return 1; }; }
}

api POST /v1/webhooks '{"url":"https://hooks.example.com/a","events":["delivered","bounced"]}' \
    -H "$(auth "$AKEY")"
ok $(is "$CODE" 201 && is "$CTYPE" application/json && is "$(jb .status)" active &&
    is "$(jb '.events | join(",")')" delivered,bounced &&
    is "$(jb .url)" https://hooks.example.com/a; echo $?) "POST /v1/webhooks: 201"
ID=$(jb .id)
SECRET=$(jb .secret)
ok $([[ "$ID" =~ ^wh_[0-9a-z]{20}$ ]]; echo $?) "id is wh_ + an id"
ok $(/usr/bin/python3 -c '
import base64, sys
s = sys.argv[1]
assert s.startswith("whsec_") and len(base64.b64decode(s[6:], validate=True)) == 32' "$SECRET"; echo $?) \
    "secret is whsec_ + base64 of 32 bytes"

api GET /v1/webhooks "" -H "$(auth "$KEY")"
ok $(is "$CODE" 200 && is "$(jb '.webhooks | length')" 1 && is "$(jb '.webhooks[0].id')" "$ID" &&
    is "$(jb '.webhooks[0] | has("secret")')" false; echo $?) "GET lists it without the secret"
ok $(! grep -q "$SECRET" "$T/body"; echo $?) "the secret is not in the list"

api POST /v1/webhooks '{"url":"https://hooks.example.com/b","events":["delivered"]}' -H "$(auth "$KEY")"
ok $(problem 403; echo $?) "a send key cannot subscribe (403)"
api DELETE "/v1/webhooks/$ID" "" -H "$(auth "$KEY")"
ok $(problem 403; echo $?) "a send key cannot delete (403)"

bad() { # BODY FIELD NAME
	api POST /v1/webhooks "$1" -H "$(auth "$AKEY")"
	ok $(problem 422 "$2"; echo $?) "$3"
}
bad '{"url":"ftp://hooks.example.com/","events":["delivered"]}' url "ftp URL: 422"
bad '{"url":"not a url","events":["delivered"]}' url "not a URL: 422"
bad '{"url":"http://127.0.0.1:9/x","events":["delivered"]}' url "literal loopback: 422"
bad '{"url":"http://[::1]/x","events":["delivered"]}' url "IPv6 loopback: 422"
bad '{"url":"http://[::ffff:10.0.0.1]/x","events":["delivered"]}' url "IPv4-mapped private: 422"
bad '{"url":"http://169.254.169.254/latest/","events":["delivered"]}' url "metadata address: 422"
bad '{"url":"http://2130706433/","events":["delivered"]}' url "127.0.0.1 as a number: 422"
bad '{"url":"https://u:p@hooks.example.com/","events":["delivered"]}' url "credentials in the URL: 422"
bad '{"url":"https://hooks.example.com/","events":["delivered","nope"]}' events "unknown event type: 422"
bad '{"url":"https://hooks.example.com/","events":[]}' events "no event types: 422"
bad '{"url":"https://hooks.example.com/","events":["delivered"],"x":1}' x "unknown field: 422"
bad '{"events":["delivered"]}' url "no url: 422"
api POST /v1/webhooks '{"url":"http://127.0.0.1:9/x","events":["delivered"]}' -H "$(auth "$AKEY")"
ok $(jq -e '.errors[0].message | test("loopback")' "$T/body" >/dev/null; echo $?) "the 422 says why (loopback)"
api POST /v1/webhooks '{"url":' -H "$(auth "$AKEY")"
ok $(problem 400; echo $?) "malformed JSON: 400"

# a name is accepted (it is checked on its resolved address when sending)
api POST /v1/webhooks '{"url":"http://localhost:9/x","events":["queued"]}' -H "$(auth "$AKEY")"
ok $(is "$CODE" 201; echo $?) "a name is accepted at POST time"
api POST /v1/webhooks '{"url":"https://hooks.example.com/c","events":["queued"]}' -H "$(auth "$AKEY")"
ok $(is "$CODE" 201; echo $?) "third subscription"
api POST /v1/webhooks '{"url":"https://hooks.example.com/d","events":["queued"]}' -H "$(auth "$AKEY")"
ok $(problem 422; echo $?) "a fourth is over webhooks.max_per_account (422)"

# accounts apart
OAKEY=$(hermod key create --account other --scope admin)
api GET /v1/webhooks "" -H "$(auth "$OKEY")"
ok $(is "$(jb '.webhooks | length')" 0; echo $?) "another account sees none of them"
api DELETE "/v1/webhooks/$ID" "" -H "$(auth "$OAKEY")"
ok $(problem 404; echo $?) "another account cannot delete it (404)"

api DELETE "/v1/webhooks/$ID" "" -H "$(auth "$AKEY")"
ok $(is "$CODE" 204; echo $?) "DELETE: 204"
api DELETE "/v1/webhooks/$ID" "" -H "$(auth "$AKEY")"
ok $(problem 404; echo $?) "DELETE again: 404"
api GET /v1/webhooks "" -H "$(auth "$KEY")"
ok $(is "$(jb '.webhooks | length')" 2; echo $?) "two left"
api POST /v1/webhooks '{"url":"https://hooks.example.com/e","events":["queued"]}' -H "$(auth "$AKEY")"
ok $(is "$CODE" 201; echo $?) "room for one more after the delete"

api POST /v1/webhooks '{"url":"https://hooks.example.com/t?token=tok-s3cr3t#frag","events":["queued"]}' \
    -H "$(auth "$OAKEY")"
ok $(is "$CODE" 201 && grep -q '"url":"https://hooks.example.com/t"' "$T/serve.log"; echo $?) \
    "a URL is logged without its query (receivers put tokens there)"
ok $(! grep -q 'tok-s3cr3t' "$T/serve.log"; echo $?) "the query's token is not in the log"
ok $(! grep -q "$SECRET" "$T/serve.log"; echo $?) "no secret in the log"
ok $(! grep -q 'whsec_' "$T/serve.log"; echo $?) "no whsec_ at all in the log"
stop_daemon
ok $? "SIGTERM: exit 0"
done_testing
