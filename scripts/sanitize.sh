#!/usr/bin/env bash
# Builds the C++ code and tests with AddressSanitizer + UndefinedBehaviorSanitizer (debug, no bench/examples)
# and runs the meson suites under them (reliability scenario Q1). Prints one line per test and a summary;
# exits non-zero if a test failed or any sanitizer report (ASan, LSan, UBSan) appears in a test's output.
#
#   scripts/sanitize.sh                       # every meson test (about 30 min on 2 cores, see docs/testing.md)
#   SANITIZE_SUBSET=core scripts/sanitize.sh  # only the sans-io protocol/auth unit tests, the parser
#                                             # mutation test and the core integration tests
#   scripts/sanitize.sh integration_kv        # extra args go to `meson test` (test names, --suite, ...)
#
# Environment: BUILD_DIR (default build-asan), JOBS (2), SANITIZE_TIMEOUT_MULTIPLIER (3),
# ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS to override the defaults below.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build="${BUILD_DIR:-$root/build-asan}"
jobs="${JOBS:-2}"
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"

if [ ! -f "$build/build.ninja" ]; then
  # b_lundef=false: -Wl,--no-undefined does not mix with the sanitizer runtimes (they are linked by the
  # driver). No -Dwerror: GCC's warnings change under -fsanitize and the normal build already enforces them.
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
    -Dbench=false -Dexamples=false -Dtests=true
else
  meson setup --reconfigure "$build" >/dev/null
fi

core_tests=(protocol_unit unit_auth parser_mutation integration_core_test integration_reconnect_test)
test_args=("$@")
if [ "${SANITIZE_SUBSET:-all}" = "core" ]; then
  test_args+=("${core_tests[@]}")
  # Build only the executables of these tests (and what they link).
  mapfile -t targets < <(meson introspect --tests "$build" | python3 -c '
import json, os, sys
want = set(sys.argv[2:])
for t in json.load(sys.stdin):
    if t["name"] in want:
        print(os.path.relpath(t["cmd"][0], sys.argv[1]))
' "$build" "${core_tests[@]}")
  ninja -C "$build" -j"$jobs" "${targets[@]}"
else
  ninja -C "$build" -j"$jobs"
fi

supp="$root/test/sanitizer"
# detect_leaks: LSan runs at exit of every test process. abort_on_error/halt_on_error: the first report
# fails the test. UBSan's print_stacktrace needs the symbolizer (llvm-symbolizer or addr2line via gcc's runtime).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}"

start=$(date +%s)
status=0
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$jobs" \
  --timeout-multiplier "${SANITIZE_TIMEOUT_MULTIPLIER:-3}" "${test_args[@]}" || status=$?
elapsed=$(( $(date +%s) - start ))

# Summary from meson's JSON log: result and time per test, and every sanitizer report found in the output
# (a report makes the process abort, but a test that runs a child process could swallow the exit code).
python3 - "$build/meson-logs/testlog.json" "$elapsed" <<'PY' || status=1
import json, re, sys
pattern = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)|runtime error: ")
failed = reports = 0
rows = []
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        hits = [l.strip() for l in out.splitlines() if pattern.search(l)]
        ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        failed += not ok
        reports += len(hits)
        rows.append((t["name"].split(" / ")[-1], t["result"], t["duration"], hits))
print("\nsanitizer run summary")
for name, result, dur, hits in rows:
    print(f"  {name:42} {result:8} {dur:7.1f} s")
    for h in hits[:5]:
        print(f"      {h[:160]}")
print(f"{len(rows)} tests, {failed} failed, {reports} sanitizer report lines, {sys.argv[2]} s wall")
sys.exit(1 if failed or reports else 0)
PY
exit $status
