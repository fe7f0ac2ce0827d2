#!/bin/bash
# bench/dkim_bench.sh: hermod's DKIM signer beside `openssl speed` (the raw
# private-key operation, the ceiling) on the same machine; prints the ratio.
# Both single-thread rates are per CPU second (openssl speed divides by CPU
# user time unless -elapsed; dkim_bench by the thread's CPU time), so other
# work on the machine does not skew the ratio.
#   bench/dkim_bench.sh [SECONDS_PER_CASE]
set -eu
cd "$(dirname "$0")/.."
S=${1:-3}
make -s build/bench/dkim_bench
out=$(build/bench/dkim_bench "$S" "$(nproc)")
echo "$out"
speed=$(openssl speed -seconds "$S" rsa2048 ed25519 2>/dev/null)
# "rsa 2048 bits 0.000600s 0.000017s 1666.0 58823.5": sign/s is field 6;
# "253 bits EdDSA (Ed25519) 0.0000s 0.0001s 23000.0 8000.0": sign/s is field 7
rsa_ssl=$(echo "$speed" | awk '/^rsa 2048 bits/ {print $6}')
ed_ssl=$(echo "$speed" | awk '/EdDSA \(Ed25519\)/ && $1 ~ /^[0-9]+$/ {print $7}')
rsa_hm=$(echo "$out" | awk -F'[: ]+' '/^rsa-sha256/ {print $3}')
ed_hm=$(echo "$out" | awk -F'[: ]+' '/^ed25519-sha256/ {print $2}')
echo "openssl speed: rsa2048 ${rsa_ssl} sign/s, ed25519 ${ed_ssl} sign/s (1 thread, per CPU second)"
awk -v h="$rsa_hm" -v o="$rsa_ssl" 'BEGIN { printf "rsa-sha256: hermod %.0f / openssl %.0f = %.2f of the ceiling\n", h, o, h / o }'
awk -v h="$ed_hm" -v o="$ed_ssl" 'BEGIN { printf "ed25519-sha256: hermod %.0f / openssl %.0f = %.2f of the ceiling\n", h, o, h / o }'
