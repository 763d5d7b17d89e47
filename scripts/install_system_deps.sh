#!/usr/bin/env bash
# Install the system packages seekforge needs outside Python: Debian's chromium, used by
# crawl/browser.py to render JavaScript-only pages through Playwright.
#
# Why not `playwright install`? It downloads browsers from a CDN, which is not reachable
# here (and CI should not depend on it); the distro package comes from the apt mirror.
#
# Idempotent and fast when everything is present: nothing is downloaded unless chromium
# is missing. Runs as root, or through sudo when available. Exits non-zero with a clear
# message when chromium cannot be installed.
#
# Usage: scripts/install_system_deps.sh     (CHROMIUM=/path/to/chromium to check another path)
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

log() { printf '[install_system_deps] %s\n' "$*"; }
die() { printf '[install_system_deps] ERROR: %s\n' "$*" >&2; exit 1; }

chromium_version() {
    # The Debian launcher is a shell script; --version prints e.g. "Chromium 1xx.0... built on Debian".
    "$CHROMIUM" --version 2>/dev/null | head -n1 || true
}

if [ -x "$CHROMIUM" ]; then
    log "chromium already installed at $CHROMIUM: $(chromium_version)"
    exit 0
fi
if found="$(command -v chromium 2>/dev/null)" && [ -n "$found" ]; then
    log "chromium found at $found (not at $CHROMIUM); pass executable_path=\"$found\" to BrowserRenderer"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "chromium is missing and apt-get is not available; install chromium with your package manager (expected at $CHROMIUM)"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
    log "not root; using sudo"
else
    die "chromium is missing; run as root (or install sudo): apt-get update && apt-get install -y --no-install-recommends chromium"
fi

export DEBIAN_FRONTEND=noninteractive
log "chromium not found; running apt-get update"
"${SUDO[@]}" apt-get update -qq \
    || die "apt-get update failed (no network / apt mirror unreachable?)"
log "installing chromium (apt-get install -y --no-install-recommends chromium)"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium \
    || die "apt-get install chromium failed; on Ubuntu the 'chromium' apt package is a snap shim -- use a Debian image or set executable_path to a real chromium binary"

[ -x "$CHROMIUM" ] || die "apt-get reported success but $CHROMIUM is not there"
log "installed chromium at $CHROMIUM: $(chromium_version)"
