#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs every test: unit, fuzz (bounded), integration
# against real nats-server processes, and interop with the official nats.js client.
# Usage: scripts/test.sh [extra meson test args]   (SKIP_SETUP=1 to skip the package step)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ "${SKIP_SETUP:-0}" != "1" ]; then bash scripts/setup.sh; fi

build="${BUILD_DIR:-$root/build-test}"
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true -Dbuildtype=debugoptimized -Dbench=true -Dexamples=true
else
  meson setup --reconfigure "$build" >/dev/null
fi
ninja -C "$build" -j"${JOBS:-2}"

status=0
meson test -C "$build" --print-errorlogs --num-processes "${JOBS:-2}" "$@" || status=$?

# The Node-RED package: build its native addon (prebuilt binary, from the libraries just built) and
# run its tests in real Node-RED runtimes (nodes, two-instance end-to-end, palette install, editor).
node_log="$build/meson-logs/addon-test.log"
: > "$node_log"
if [ "${SKIP_ADDON:-0}" != "1" ]; then
  if NATS_BUILD_DIR="$build" bash addon/scripts/build.sh; then
    (cd addon && npm test) 2>&1 | tee "$node_log" || status=1
  else
    echo "addon build failed" | tee -a "$node_log"
    echo "# fail 1" >> "$node_log"
    status=1
  fi
fi

# One closing line that CI can read: "N passed, N failed" (meson suites + node --test).
python3 - "$build/meson-logs/testlog.json" "$node_log" <<'PY'
import json, re, sys
passed = failed = skipped = 0
failures = []
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else:
            failed += 1
            failures.append((t.get("name"), r, t.get("duration"), t.get("stdout") or ""))
# CI shows the end of the output: name each failed meson test there, with the end of its log.
for name, result, duration, out in failures:
    print(f"FAILED {name}: {result} after {duration:.1f} s; last lines of its output:")
    for l in out.splitlines()[-25:]:
        print("    " + l)
node_failed = []
for line in open(sys.argv[2], errors="replace"):
    m = re.match(r"^\s*not ok \d+ - (.*)", line)
    if m: node_failed.append(m.group(1))
for n in node_failed:
    print(f"FAILED (addon) {n}")
for line in open(sys.argv[2], errors="replace"):
    m = re.match(r"^# (pass|fail|skipped|cancelled) (\d+)", line)
    if m:
        n = int(m.group(2))
        if m.group(1) == "pass": passed += n
        elif m.group(1) == "skipped": skipped += n
        else: failed += n
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
