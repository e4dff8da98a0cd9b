#!/usr/bin/env bash
# Builds the native addon from source and stores it as a prebuilt binary in addon/prebuilds/<platform>-<arch>/,
# where node-gyp-build finds it (so `npm pack` ships it and users need no compiler).
#
#   addon/scripts/build.sh            # meson build of the C++ libraries + prebuildify
#   NATS_BUILD_DIR=/tmp/b addon/scripts/build.sh
#
# Needs: a C++20 compiler, meson, ninja, Boost 1.81 headers, OpenSSL 3 (static libs from libssl-dev),
# simdjson (libsimdjson-dev), node + npm. OpenSSL, libstdc++, libgcc and simdjson are linked statically
# with hidden symbols: Node binaries export their own OpenSSL and (Node 22+) simdjson, and the addon
# must not bind to those. Debian has no static simdjson, so simdjson.cpp of the installed version is
# taken from its Debian source package (`apt-get source`, no system change) or from SIMDJSON_CPP.
set -euo pipefail
addon="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$addon/.." && pwd)"
build="${NATS_BUILD_DIR:-$root/build-addon}"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbuildtype=release -Db_ndebug=true -Dtests=false -Dexamples=false -Dbench=false
fi
targets=$(ninja -C "$build" -t targets all | sed -n 's/^\(\(lib\|jetstream\|kv\|cluster\)\/[^:/]*\.a\): .*/\1/p' | sort -u)
ninja -C "$build" -j"${JOBS:-2}" $targets

# simdjson.cpp matching the installed header.
if [ -z "${SIMDJSON_CPP:-}" ]; then
  ver="$(dpkg-query -W -f='${Version}' libsimdjson-dev)"
  src="$build/simdjson-src"
  SIMDJSON_CPP="$(ls "$src"/simdjson-*/singleheader/simdjson.cpp 2>/dev/null | head -n1 || true)"
  if [ -z "$SIMDJSON_CPP" ]; then
    # Source entries mirror the machine's own binary entries, so the same mirror serves them.
    mkdir -p "$src/lists/partial" "$src/parts"
    : > "$src/sources.list"
    [ -f /etc/apt/sources.list ] && sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$src/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$src/parts/$(basename "$f")"
    done
    for f in /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && sed -n 's/^deb /deb-src /p' "$f" >> "$src/sources.list"
    done
    apt_opts=(-o "Dir::Etc::SourceList=$src/sources.list" -o "Dir::Etc::SourceParts=$src/parts" -o "Dir::State::Lists=$src/lists")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$src" && apt-get "${apt_opts[@]}" source --download-only "simdjson=$ver" && tar xzf simdjson_*.orig.tar.gz)
    SIMDJSON_CPP="$(ls "$src"/simdjson-*/singleheader/simdjson.cpp | head -n1)"
  fi
fi
cmp -s "$(dirname "$SIMDJSON_CPP")/simdjson.h" /usr/include/simdjson.h || { echo "simdjson.cpp does not match /usr/include/simdjson.h" >&2; exit 1; }
mkdir -p "$addon/deps" && cp "$SIMDJSON_CPP" "$addon/deps/simdjson.cpp"  # binding.gyp compiles it when present

cd "$addon"
if [ ! -d node_modules/node-addon-api ] || [ ! -d node_modules/prebuildify ]; then
  npm install --no-audit --no-fund --ignore-scripts
fi
export NATS_BUILD_DIR="$build" NATS_SRC_DIR="$root"
rm -rf prebuilds build
npx --no-install prebuildify --napi --strip

dir="prebuilds/$(node -p 'process.platform + "-" + process.arch')"
echo "built: $(ls "$dir")"
readelf -d "$dir"/*.node | grep NEEDED | sed 's/^/  /'
