#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright never downloads a browser of its own).
# Installs it when it is missing and we may (root on Debian); otherwise says how, in one line.
set -euo pipefail
# CHROMIUM is overridable only so a test can point it at a missing file.
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs Debian's Chromium at $CHROMIUM for the browser tests: run 'sudo apt-get install -y chromium' (or make test as root, which installs it), then make test again." >&2
  exit 1
fi
echo "Installing Debian's Chromium for the browser tests: apt-get install -y chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x "$CHROMIUM" ]; then
  echo "apt-get install -y chromium finished but $CHROMIUM is still missing; install Debian's chromium package by hand." >&2
  exit 1
fi
