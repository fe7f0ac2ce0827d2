#!/bin/bash
# The daemon stops cleanly while a connection it closed still lingers (its
# 421 sent, waiting for the client's EOF that never comes): exit 0, and under
# ASan no report: io_abort_all() frees it before the final uv_walk(), which
# would otherwise close its handles under it.
. "$(dirname "$0")/lib.sh"

write_config "[submission]
command_timeout = 1s"
start_daemon || exit 1

exec 3<>"/dev/tcp/127.0.0.1/$SUB_PORT"
read -r -t 10 greeting <&3
check "greeting" grep -q "^220" <<<"$greeting"
# stay silent: after command_timeout the server answers 421 and closes, and
# lingers because this client neither reads on nor closes
read -r -t 10 bye <&3
check "421 after the command timeout" grep -q "^421" <<<"$bye"
sleep 0.3
t0=$(date +%s%N)
stop_daemon
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$rc" "daemon exits 0 with a lingering connection (rc $rc, ${ms} ms)"
ok "$([ "$ms" -lt 5000 ]; echo $?)" "  promptly"
ok "$(! grep -q "LeakSanitizer\|AddressSanitizer" "$T/serve.log"; echo $?)" "  no sanitizer report"
exec 3<&-
done_testing
