#!/usr/bin/env bash
# The served OpenAPI document tells the truth about every answer: schemathesis (from PyPI) fuzzes
# every operation of a demo server and checks that each status it gets back is documented on the
# operation, that the body matches the documented schema, and that the content type does.
#
# Three passes: as the platform administrator (every admin operation reaches its handler), as a
# window clerk (the staff and window operations), and with no credentials at all (every
# operation's 401, and the logouts, which the first two passes leave out: they would end the
# session the pass runs on). Generation is seeded and single-worker so a run is repeatable; the
# server's clock is pinned like the tests' (no dependence on the real date).
#
# Needs the PostgreSQL server binaries and the font (scripts/ensure-postgres.sh,
# scripts/ensure-document-tools.sh --font-only) and python3 with venv; installs schemathesis into
# a virtualenv under /opt/schemathesis (SCHEMATHESIS_VENV to change).
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
venv=${SCHEMATHESIS_VENV:-/opt/schemathesis}
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $version"; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        $sudo apt-get update
        $sudo apt-get install -y --no-install-recommends python3-venv
    fi
    echo "installing schemathesis $version into $venv" >&2
    $sudo python3 -m venv "$venv"
    $sudo "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

cargo build --quiet
work=$(mktemp -d)
# As root the server runs its embedded cluster as the postgres user, who must reach the data dir.
chmod 755 "$work"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
FINGERTIP_DATA_DIR="$work/var" FINGERTIP_LISTEN="127.0.0.1:$port" FINGERTIP_DEMO_DATA=1 \
    FINGERTIP_CLOCK_START="2026-11-16T10:00:00+08:00" \
    target/debug/fingertip serve >"$work/server.log" 2>&1 &
server=$!
stop_server() {
    kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap stop_server EXIT

# python3 rather than curl: a fresh Debian machine has the one, not always the other.
ready() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
        "$base/readyz" >/dev/null 2>&1
}
for _ in $(seq 1 180); do
    ready && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 1
done
ready || { echo "the server did not become ready" >&2; tail -50 "$work/server.log" >&2; exit 1; }

# A staff session's access token (demo accounts exist in development mode only).
token_of() {
    python3 - "$base/api/v1/auth/staff/login" "$1" <<'PY'
import json, sys, urllib.request
body = json.dumps({"username": sys.argv[2], "password": "Demo-password-2026"}).encode()
request = urllib.request.Request(sys.argv[1], body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request, timeout=10))["access_token"])
PY
}

fuzz() {
    # The hooks teach schemathesis to send PDF and OFD bodies (scripts/schemathesis_hooks.py).
    PYTHONPATH="$PWD/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
        "$venv/bin/schemathesis" run "$base/openapi.json" \
        --checks status_code_conformance,response_schema_conformance,content_type_conformance \
        --max-examples 25 --seed 20261207 --workers 1 --generation-database none \
        --no-color "$@"
}

status=0
echo "== schemathesis as the platform administrator =="
fuzz -H "Authorization: Bearer $(token_of admin)" --exclude-path-regex '/auth/logout' || status=1
echo "== schemathesis as a window clerk =="
fuzz -H "Authorization: Bearer $(token_of scjg.clerk)" --exclude-path-regex '/auth/logout' \
    --include-path-regex '^/api/v1/(staff|window|me)(/|$)' || status=1
echo "== schemathesis without credentials =="
fuzz || status=1
if grep -q '"level":"ERROR"' "$work/server.log"; then
    echo "the server logged errors during the run:" >&2
    grep '"level":"ERROR"' "$work/server.log" | tail -20 >&2
    status=1
fi
exit $status
