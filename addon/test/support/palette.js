'use strict';
// Shared by the palette-manager tests: the packed tarball, a PATH without a compiler, and a Node-RED user
// dir whose settings allow installing from the palette manager (upload included).
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const PKG = path.join(__dirname, '..', '..');
const MODULE = '@nats-cluster/node-red-cluster';
// The original plugin's node types: the package must provide these (it may provide more).
const TYPES = ['ClusterConfigNode', 'ClusterPublishNode', 'ClusterSubscribeNode'];
/// Node set names the package declares (package.json "node-red".nodes).
const SETS = () => Object.keys(JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'))['node-red'].nodes).sort();

/// `npm pack` of the package into `dir`; returns the tarball's path.
function pack(dir) {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PKG, encoding: 'utf8' }).trim().split('\n').pop();
  return path.join(dir, name);
}

/// A bin dir with node and sh only: no cc, c++, make or python, so npm could not compile the addon.
/// Node-RED runs npm as `<its node> <npm-cli.js> install ...`; npm runs install scripts through sh.
function noCompilerBin(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python']) {
    assert.throws(() => execFileSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: bin } }), `${tool} must not be on PATH`);
  }
  return bin;
}

/// Environment for a Node-RED whose palette installs run without a compiler (npm cache shared with the user).
function paletteEnv(bin) {
  return { PATH: bin, HOME: os.homedir(), npm_config_cache: path.join(os.homedir(), '.npm'), npm_config_update_notifier: 'false' };
}

/// A fresh user dir with settings that allow palette installs and uploads; no catalogue (no network).
function paletteUserDir(dir) {
  const userDir = path.join(dir, 'user');
  fs.mkdirSync(userDir);
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,
  uiHost: '127.0.0.1',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
  telemetry: { enabled: false },
  functionExternalModules: true,
  externalModules: { palette: { allowInstall: true, allowUpload: true } },
};\n`);
  return userDir;
}

module.exports = { PKG, MODULE, TYPES, SETS, pack, noCompilerBin, paletteEnv, paletteUserDir };
