'use strict';
// Prints the static libraries of the C++ project (built by meson) for binding.gyp, one per line.
// NATS_BUILD_DIR: the meson build directory (default: ../build-addon next to this package's repo).
const fs = require('fs');
const path = require('path');

const build = process.env.NATS_BUILD_DIR || path.resolve(__dirname, '..', '..', 'build-addon');
const libs = [];
for (const dir of ['cluster', 'kv', 'jetstream', 'lib']) {
  const d = path.join(build, dir);
  if (!fs.existsSync(d)) continue;
  for (const f of fs.readdirSync(d).sort()) {
    if (/^lib.*\.a$/.test(f)) libs.push(path.join(d, f));
  }
}
if (libs.length === 0) {
  process.stderr.write(`no static libraries in ${build}: run scripts/build.sh (or set NATS_BUILD_DIR)\n`);
  process.exit(1);
}
process.stdout.write(libs.join('\n') + '\n');
