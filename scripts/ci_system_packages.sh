#!/usr/bin/env bash
# System packages the test suite needs beyond Python's: Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser of its own).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium
fi
