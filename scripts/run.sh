#!/bin/sh
# run.sh: `make run`. Starts `hermod serve` in the foreground on the embedded
# defaults (no config file: data in ./var, submission on 127.0.0.1:587 and
# :465, HTTP API on 127.0.0.1:8025), after printing how to send a first message.
set -e
cd "$(dirname "$0")/.."
H=./build/hermod
$H init >/dev/null
cat <<'MSG'
hermod is starting on its embedded defaults (data in ./var).

Send a first message, from another terminal:

  ./build/hermod account create demo
  KEY=$(./build/hermod key create --account demo)
  ./build/hermod domain add example.com --account demo   # prints the DNS records to publish
  swaks --server 127.0.0.1:587 --tls --auth PLAIN --auth-user demo --auth-password "$KEY" \
        --from you@example.com --to someone@example.net
  curl -s http://127.0.0.1:8025/v1/messages -H "Authorization: Bearer $KEY" \
       -H 'Content-Type: application/json' \
       -d '{"from":"you@example.com","to":["someone@example.net"],"subject":"hi","text":"hello"}'
  ./build/hermod queue list

A domain sends once its DKIM record is in DNS (./build/hermod domain check
example.com). For a first try without DNS, stop hermod, write ./hermod.conf:

  [server]
  require_verified_domains = no

and run `make run` again. Ctrl-C stops hermod.

MSG
exec $H serve
