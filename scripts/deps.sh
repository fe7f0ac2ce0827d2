#!/bin/sh
# deps.sh run|test: install the Debian packages hermod needs (run) or its
# tests need too (test), with apt-get, when any is missing. Idempotent.
set -e
RUN_PKGS="build-essential pkg-config libuv1-dev libssl-dev libsqlite3-dev libjansson-dev
 libmicrohttpd-dev libunbound-dev libcurl4-openssl-dev libsodium-dev zlib1g-dev libidn2-dev openssl"
TEST_PKGS="clang libclang-rt-14-dev libcmocka-dev swaks curl dnsmasq-base python3 python3-dkim
 opendkim-tools wrk sqlite3 procps iproute2 postfix python3-dnspython jq prometheus"
pkgs="$RUN_PKGS"
[ "${1:-run}" = test ] && pkgs="$pkgs $TEST_PKGS"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js: the machine image may carry its own build (with npm inside), which
# Debian's npm package conflicts with: only install Debian's when none is there.
if [ "${1:-run}" = test ] && ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# Postfix asks which configuration to use: none; the tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq >/dev/null 2>&1 || true
# Packaged services (prometheus: the tests need only its promtool) must not
# start: without a policy-rc.d of the image's own, one that says "no" (101)
# stands for the time of the install.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	policy=/usr/sbin/policy-rc.d
fi
rc=0
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -n "$policy" ] && $SUDO rm -f "$policy"
exit $rc
