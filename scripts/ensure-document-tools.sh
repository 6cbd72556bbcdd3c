#!/usr/bin/env bash
# Makes sure what the sealed-document tests need is installed: the CJK font the documents embed
# (a subset of WenQuanYi Micro Hei), poppler's `pdfsig` and pyHanko — the two independent
# validators the tests run on every sealed PDF. pyHanko goes into a virtualenv under
# /opt/pyhanko (Debian's Python refuses system-wide pip installs) linked into /usr/local/bin.
#
# `--font-only`: just the font, which the server itself needs (it seals acceptance notices,
# decisions and licences, and refuses to start without it).
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ "${1:-}" = "--font-only" ]; then
    if [ ${#missing[@]} -gt 0 ]; then
        $sudo apt-get update
        $sudo apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    exit 0
fi
command -v pdfsig >/dev/null 2>&1 || missing+=(poppler-utils)
if ! command -v pyhanko >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! command -v pyhanko >/dev/null 2>&1; then
    echo "installing pyhanko-cli into /opt/pyhanko" >&2
    $sudo python3 -m venv /opt/pyhanko
    $sudo /opt/pyhanko/bin/pip install --quiet pyhanko-cli
    $sudo ln -sf /opt/pyhanko/bin/pyhanko /usr/local/bin/pyhanko
fi
