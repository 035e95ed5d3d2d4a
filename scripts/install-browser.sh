#!/usr/bin/env bash
# Installs Debian's Chromium (and an emoji font: the demo shop draws items as emoji) for the browser
# tests in tests/browser/. Idempotent: does nothing when everything is already installed.
# Playwright drives /usr/bin/chromium through executable_path, so it never downloads a browser.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-dejavu-core fonts-noto-color-emoji)

installed() {
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 1
    done
    [ -x "$CHROMIUM" ]
}

if installed; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists first only when apt does not know the packages (a fresh image), and
# once more if an install fails on stale lists.
if ! apt-cache show "${PACKAGES[@]}" >/dev/null 2>&1; then
    $SUDO apt-get update
fi
if ! $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null)"
