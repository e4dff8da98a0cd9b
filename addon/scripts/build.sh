#!/usr/bin/env bash
# Builds the native addon from source and stores it as a prebuilt binary in addon/prebuilds/<platform>-<arch>/,
# where node-gyp-build finds it (so `npm pack` ships it and users need no compiler).
#
#   addon/scripts/build.sh            # meson build of the C++ libraries + prebuildify
#   NATS_BUILD_DIR=/tmp/b addon/scripts/build.sh
#
# Needs: a C++20 compiler, meson, ninja, Boost 1.81 headers, OpenSSL 3 (static libs from libssl-dev),
# simdjson (libsimdjson-dev), node + npm. OpenSSL, libstdc++ and libgcc are linked statically; the
# simdjson shared library is copied next to the binary (found through RUNPATH=$ORIGIN).
set -euo pipefail
addon="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$addon/.." && pwd)"
build="${NATS_BUILD_DIR:-$root/build-addon}"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbuildtype=release -Db_ndebug=true -Dtests=false -Dexamples=false -Dbench=false
fi
targets=$(ninja -C "$build" -t targets all | sed -n 's/^\(\(lib\|jetstream\|kv\|cluster\)\/[^:/]*\.a\): .*/\1/p' | sort -u)
ninja -C "$build" -j"${JOBS:-2}" $targets

cd "$addon"
if [ ! -d node_modules/node-addon-api ] || [ ! -d node_modules/prebuildify ]; then
  npm install --no-audit --no-fund --ignore-scripts
fi
export NATS_BUILD_DIR="$build" NATS_SRC_DIR="$root"
rm -rf prebuilds build
npx --no-install prebuildify --napi --strip

dir="prebuilds/$(node -p 'process.platform + "-" + process.arch')"
for so in $(ldd "$dir"/*.node | awk '/simdjson/ {print $3}'); do
  cp -L "$so" "$dir/"
done
echo "built: $(ls "$dir")"
ldd "$dir"/*.node | sed 's/^/  /'
