#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian bookworm machine (run as root or with sudo).
# Idempotent: packages already present are left alone.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential pkg-config meson ninja-build ccache git
  libboost1.81-all-dev   # Asio, Beast, Test (1.81, not bookworm's default 1.74)
  libssl-dev openssl     # TLS, Ed25519 for nkeys; the CLI makes test certificates
  libsimdjson-dev        # server JSON (INFO, JetStream API)
  nats-server            # 2.9.10: every integration test runs against it
  libnats-dev            # the official C client, for the benchmark only
  clang libclang-rt-14-dev  # libFuzzer target (optional build)
  valgrind
  chromium               # headless editor test of the Node-RED package
  rsync
)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages already installed"
fi

# npm packages: the official nats.js client (interop tests, benchmark), Node-RED and its test helper (addon).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# --ignore-scripts: the addon's install script would look for its binary, which scripts/test.sh builds.
for dir in test/interop bench addon; do
  if [ -f "$root/$dir/package.json" ]; then
    (cd "$root/$dir" && if [ -f package-lock.json ]; then npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; else npm install --ignore-scripts --no-audit --no-fund --loglevel=error; fi)
  fi
done
echo "setup: done"
