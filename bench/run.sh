#!/usr/bin/env bash
# Builds the benchmark programs (release build), installs the nats.js peer, runs every workload on every
# client against a local nats-server, prints the table and writes it to bench/RESULTS.md.
#
#   bash bench/run.sh
#
# Environment:
#   BENCH_BUILD_DIR  build dir (default: <repo>/build-bench; set up with -Dbuildtype=release if new)
#   BENCH_REPEAT     rounds of the whole matrix, each cell reports the median (default 3)
#   BENCH_SCALE      fraction of the standard message counts, for a quick look (default 1)
#   BENCH_CALLGRIND  1: also count instructions per message with valgrind (default: 1 if valgrind exists)
#   BENCH_RESULTS    Markdown file to write (default: bench/RESULTS.md; "-" writes nothing)
#   NATS_JS_DIR      a directory whose node_modules holds nats.js (default: bench/, installed with npm ci)
#   NATS_SERVER_BIN  nats-server binary (default: from PATH, else /usr/sbin/nats-server)
#   BENCH_NICE       run server and clients under `nice -n BENCH_NICE` (e.g. -10 as root on a shared machine)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${BENCH_BUILD_DIR:-$repo/build-bench}"
repeat="${BENCH_REPEAT:-3}"
scale="${BENCH_SCALE:-1}"
results="${BENCH_RESULTS:-$here/RESULTS.md}"
if [ -z "${BENCH_CALLGRIND:-}" ]; then
  if command -v valgrind >/dev/null; then BENCH_CALLGRIND=1; else BENCH_CALLGRIND=0; fi
fi

export PATH="$PATH:/usr/sbin"
command -v nats-server >/dev/null || [ -n "${NATS_SERVER_BIN:-}" ] || { echo "nats-server not found" >&2; exit 1; }

# 1. Build (release). Only the benchmark targets: tests and examples are not needed here.
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$repo" -Dbuildtype=release -Dbench=true -Dtests=false -Dexamples=false
else
  meson configure "$build" -Dbuildtype=release -Dbench=true >/dev/null
fi
targets=(bench/bench_ours)
# (grep reads everything: with pipefail, grep -q could stop early and fail the pipeline by SIGPIPE)
if ninja -C "$build" -t targets all 2>/dev/null | grep '^bench/bench_cnats:' >/dev/null; then
  targets+=(bench/bench_cnats)
else
  echo "note: libnats-dev (the official C client) not found: the C columns will be missing" >&2
fi
ninja -C "$build" -j"$(nproc)" "${targets[@]}"

# 2. The nats.js peer (npm `nats` v2, pinned in bench/package-lock.json; not committed).
if [ -z "${NATS_JS_DIR:-}" ]; then
  if [ ! -f "$here/node_modules/nats/package.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund)
  fi
fi

# 3. Run.
args=(--build "$build" --repeat "$repeat" --scale "$scale")
[ "$results" != "-" ] && args+=(--write "$results")
[ "$BENCH_CALLGRIND" = 1 ] && args+=(--callgrind)
[ -n "${BENCH_NICE:-}" ] && args+=(--nice "$BENCH_NICE")
node "$here/driver.mjs" "${args[@]}"
