#!/usr/bin/env bash
# Stops the PostgreSQL cluster the test suite leaves running for reuse between test processes
# (see tests/support/db.rs for where it lives).
set -euo pipefail
cd "$(dirname "$0")/.."
path_file=target/tmp/fingertip-test-pg.path
[ -f "$path_file" ] || exit 0
data_dir=$(cat "$path_file")
[ -f "$data_dir/postmaster.pid" ] || exit 0
pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_ctl" ] || pg_ctl=$(command -v pg_ctl)
if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "'$pg_ctl' stop -m fast -D '$data_dir'"
else
    "$pg_ctl" stop -m fast -D "$data_dir"
fi
