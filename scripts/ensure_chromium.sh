#!/usr/bin/env bash
# Make sure Debian's headless-capable `chromium` is present for the chat-page browser test (tests/serve/test_browser.py).
# Installs it with apt-get only when it is missing and we are root; otherwise does nothing (the test then skips).
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is missing and we cannot install it (not root or no apt-get); the browser test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  echo "ensure_chromium: apt-get install chromium failed; the browser test will skip" >&2
fi
exit 0
