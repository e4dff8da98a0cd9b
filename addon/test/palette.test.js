'use strict';
// Palette install: `npm pack`, a fresh user dir, `npm install <tarball>` with no compiler on PATH, a real
// Node-RED started on flows written by the original plugin (its types, properties and plain-text
// natsPass), messages exchanged, and the secrets moved out of flows.json by the next deploy.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder } = require('./support/nodered');
const { until } = require('./support/util');

const PKG = path.join(__dirname, '..');
const prebuilt = fs.existsSync(path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`));

test('npm pack → npm install without a compiler → original flow runs', { skip: !prebuilt && 'no prebuilt binary: run scripts/build.sh first', timeout: 300000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-palette-'));
  const tgzName = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: PKG, encoding: 'utf8' }).trim().split('\n').pop();
  const tgz = path.join(work, tgzName);
  const listing = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' });
  assert.match(listing, /package\/prebuilds\/linux-x64\/.*\.node/);
  assert.doesNotMatch(listing, /node_modules\//);

  // PATH with node, npm and sh only: no cc, c++, make or python, so a source build could not happen.
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh')); // npm runs install scripts through sh
  fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3']) {
    assert.throws(() => execFileSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: bin } }));
  }
  const userDir = path.join(work, 'user');
  fs.mkdirSync(userDir);
  fs.writeFileSync(path.join(userDir, 'package.json'), '{"name":"node-red-project","version":"0.0.1","private":true}');
  execFileSync(path.join(bin, 'npm'), ['install', '--no-audit', '--no-fund', tgz], {
    cwd: userDir, env: { PATH: bin, HOME: os.homedir(), npm_config_cache: path.join(os.homedir(), '.npm') }, stdio: 'pipe' });
  assert.ok(fs.existsSync(path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster', 'package.json')));

  const server = await startServer({ user: 'nodered', password: 'your_password_here' });
  let red;
  try {
    // The original plugin's flow as it sits in an existing user dir, pointed at the test server.
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, 'support', 'original-plugin-flow.json'), 'utf8'));
    flow.find((n) => n.type === 'ClusterConfigNode').natsAddress = server.address;
    flow.find((n) => n.type === 'ClusterSubscribeNode').wires = [['dbg0000000000001', 'rec']];
    flow.push(recorder('rec', 'f1a0c0de00000001'));
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
    red = await startNodeRed({ userDir });
    await until(async () => (await red.request('GET', '/cluster/status/c0nf000000000001')).json?.connected, 20000, 'connected');
    await new Promise((r) => setTimeout(r, 1500)); // the durable consumer is created just after connecting
    await red.request('POST', '/inject/1nj0000000000001');
    await red.request('POST', '/inject/1nj0000000000002');
    const got = await until(() => { const r = red.received(); return r.length >= 2 ? r : null; }, 15000, 'two messages');
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.payload]));
    assert.deepEqual(byTopic['nodered-cluster.field-a.sensors.temperature'], { celsius: 21.5 });
    assert.equal(byTopic['nodered-cluster.field-a.commands.opengate'], 'open');

    // The next deploy from the editor: the editor keeps only the properties the node type declares, so
    // natsUser/natsPass are no longer in the flow; the runtime already holds them as credentials.
    const flows = (await red.request('GET', '/flows')).json;
    const cfg = flows.find((n) => n.type === 'ClusterConfigNode');
    delete cfg.natsUser; delete cfg.natsPass;
    await red.deploy(flows);
    const saved = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok(!saved.includes('your_password_here'), 'no secret in flows.json');
    const creds = JSON.parse(fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8'));
    assert.equal(creds.c0nf000000000001.natsPass, 'your_password_here');
    // still connected with the migrated credentials
    await until(async () => (await red.request('GET', '/cluster/status/c0nf000000000001')).json?.connected, 20000, 'reconnected');
    await red.request('POST', '/inject/1nj0000000000001');
    await until(() => red.received().length >= 3, 15000, 'third message');
  } finally {
    if (red) await red.stop();
    await server.stop();
    server.cleanup();
  }
});
