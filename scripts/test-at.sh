#!/usr/bin/env bash
# Runs the test suite with the clock of the test processes, and of everything they start (the
# server binary, the test PostgreSQL cluster), moved to WHEN (UTC) by libfaketime: no test may
# depend on the real date. Usage: scripts/test-at.sh "2028-12-30 23:30:00" [cargo test args…]
set -euo pipefail
cd "$(dirname "$0")/.."
when=${1:?usage: scripts/test-at.sh "YYYY-MM-DD HH:MM:SS" [cargo test arguments]}
shift
if [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] && ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends faketime
fi
# An offset rather than a start time: processes started later (the cluster) agree on the clock.
offset=$(( $(date -ud "$when" +%s) - $(date +%s) ))
# The shared test cluster must start under the moved clock too.
scripts/stop-test-cluster.sh >/dev/null 2>&1 || true
# Only the test binaries run faked, as cargo's runner: rustc hangs at start under libfaketime
# (`faketime … rustc -vV` never returns). The library is preloaded directly because the
# `faketime` wrapper waits for every descendant, and the test cluster outlives the tests.
status=0
cargo test --tests \
    --config "target.'cfg(all())'.runner = ['env', 'LD_PRELOAD=/usr/\$LIB/faketime/libfaketime.so.1', 'FAKETIME=+${offset}']" \
    "$@" || status=$?
scripts/stop-test-cluster.sh >/dev/null 2>&1 || true
exit $status
