#!/usr/bin/env bash
# Sets up the machine and runs the C++ examples against a local nats-server started from nats/
# (publish/subscribe and request/reply). Ctrl-C stops everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "${SKIP_SETUP:-0}" != "1" ]; then bash scripts/setup.sh; fi

build="${BUILD_DIR:-$root/build-demo}"
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=release -Dtests=false -Dbench=false
ninja -C "$build" -j"${JOBS:-2}" examples/example_publisher examples/example_subscriber \
  examples/example_requester examples/example_responder

store="$(mktemp -d /tmp/nats-demo-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$store"
}
trap cleanup EXIT INT TERM

nats_bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
"$nats_bin" -c nats/nats-server.conf -sd "$store" >"$store/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done
if ! kill -0 "${pids[0]}" 2>/dev/null; then
  echo "nats-server did not start (ports 4222 and 8222 must be free):" >&2
  cat "$store/server.log" >&2
  exit 1
fi
url="nats://127.0.0.1:4222"
echo "== nats-server running on $url (monitoring http://127.0.0.1:8222)"

echo "== publish/subscribe"
"$build/examples/example_subscriber" "$url" "demo.>" 5 &
sub=$!
sleep 0.5
"$build/examples/example_publisher" "$url" "demo.greetings" 5
wait "$sub"

echo "== request/reply"
"$build/examples/example_responder" "$url" "demo.upper" 3 &
resp=$!
sleep 0.5
"$build/examples/example_requester" "$url" "demo.upper" 3
wait "$resp"
echo "== no responders"
"$build/examples/example_requester" "$url" "demo.nobody" 1
echo "== demo finished"
