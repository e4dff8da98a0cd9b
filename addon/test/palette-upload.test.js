'use strict';
// Palette manager install: `npm pack`, a fresh Node-RED with upload allowed and no compiler on PATH, the
// tarball uploaded the way the editor's palette manager does it (multipart POST /nodes, field `tarball`),
// its node sets (the original's three node types among them) listed as enabled by GET /nodes and their editor HTML served, the original plugin's
// flow deployed against a real nats-server and messages through, then DELETE /nodes/<module>: refused while
// the nodes are in use, done once they are not, and Node-RED still alive and deploying afterwards.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder } = require('./support/nodered');
const { originalFlow } = require('./support/flows');
const { until } = require('./support/util');
const { PKG, MODULE, TYPES, SETS, pack, noCompilerBin, paletteEnv, paletteUserDir } = require('./support/palette');

const prebuilt = fs.existsSync(path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`));

/// The request the editor's upload button sends: multipart/form-data with the file in field `tarball`.
function uploadTarball(port, file, timeoutMs = 240000) {
  const boundary = `----nrcUpload${Date.now().toString(16)}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="tarball"; filename="${path.basename(file)}"\r\n` +
      'Content-Type: application/gzip\r\n\r\n'),
    fs.readFileSync(file),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/nodes',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length, accept: 'application/json' } },
    (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch (_) { /* not JSON */ } resolve({ status: res.statusCode, text, json }); });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('upload timed out')));
    req.end(body);
  });
}

/// GET /nodes as the editor asks for it (JSON list of node sets).
async function nodeList(red) {
  const r = await red.request('GET', '/nodes', undefined, { accept: 'application/json' });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
const ours = (list) => list.filter((s) => s.module === MODULE);

test('palette manager: upload the packed tarball, use the nodes, uninstall', { skip: !prebuilt && 'no prebuilt binary: run scripts/build.sh first', timeout: 420000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-upload-'));
  const tgz = pack(work);
  const tgzName = path.basename(tgz);

  // What the tarball carries: the nodes, their runtime, examples, the prebuilt binary and what a source
  // build needs (every file binding.gyp names); no tests, screenshots, benchmark, build output or deps/.
  const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const unexpected = files.filter((f) => /^(test|bench|build|deps|node_modules)\/|\.(png|tgz|log)$/.test(f));
  assert.deepEqual(unexpected, [], 'files that do not belong in the package');
  assert.ok(files.some((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f)), 'prebuilt binary');
  for (const f of ['package.json', 'README.md', 'nodes/cluster-config.js', 'nodes/cluster-publish.html', 'nodes/locales/en-US/cluster-subscribe.json']) {
    assert.ok(files.includes(f), f);
  }
  assert.ok(files.some((f) => f.startsWith('examples/') && f.endsWith('.json')), 'examples for Import > Examples');
  const gyp = fs.readFileSync(path.join(PKG, 'binding.gyp'), 'utf8');
  const named = [...gyp.matchAll(/"(src\/[^"]+\.cpp)"/g), ...gyp.matchAll(/node (scripts\/[^\s"\\)]+)/g)].map((m) => m[1]);
  assert.ok(named.length > 1);
  for (const f of named) assert.ok(files.includes(f), `${f} (named in binding.gyp) is in the package`);
  t.diagnostic(`${tgzName}: ${files.length} files, ${(fs.statSync(tgz).size / 1e6).toFixed(1)} MB packed`);

  const bin = noCompilerBin(work);
  const userDir = paletteUserDir(work);

  const server = await startServer({ user: 'nodered', password: 'your_password_here' });
  let red;
  try {
    red = await startNodeRed({ userDir, env: paletteEnv(bin) });
    assert.deepEqual(ours(await nodeList(red)), [], 'not installed before the upload');
    const settings = (await red.request('GET', '/settings')).json;
    assert.notEqual(settings.externalModules?.palette?.allowUpload, false, 'the editor shows the upload button');
    t.diagnostic(`Node-RED ${settings.version} on Node ${process.version}`);

    const t0 = Date.now();
    const up = await uploadTarball(red.port, tgz);
    assert.equal(up.status, 200, `upload: ${up.status} ${up.text}\n${red.log()}`);
    t.diagnostic(`upload install took ${Date.now() - t0} ms`);
    assert.equal(up.json.name, MODULE);
    assert.equal(up.json.version, require('../package.json').version);
    assert.deepEqual(up.json.nodes.map((s) => s.name).sort(), SETS());
    for (const type of TYPES) assert.ok(up.json.nodes.some((s) => s.types.includes(type)), type);

    // What the palette manager shows: the module's node sets, enabled, without a load error.
    const sets = ours(await nodeList(red));
    assert.deepEqual(sets.map((s) => s.name).sort(), SETS());
    for (const type of TYPES) assert.ok(sets.some((s) => s.types.includes(type)), `${type} listed`);
    for (const s of sets) {
      assert.equal(s.enabled, true, `${s.id} enabled`);
      assert.ok(!s.err, `${s.id}: ${s.err}`);
    }
    const info = await red.request('GET', `/nodes/${MODULE}`, undefined, { accept: 'application/json' });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.json.version, require('../package.json').version);
    assert.equal(info.json.nodes.length, SETS().length);
    // What the editor fetches after the node/added event to put the nodes in the palette.
    for (const s of sets) {
      const html = await red.request('GET', `/nodes/${s.id}`, undefined, { accept: 'text/html' });
      assert.equal(html.status, 200);
      for (const type of s.types) assert.match(html.text, new RegExp(`registerType\\(\\s*['"]${type}['"]`), `${type} editor definition`);
    }

    // Installed the way the palette manager does it: tarball kept in <userDir>/nodes, a file: dependency,
    // the prebuilt binary used (nothing compiled: no build/ directory).
    const nodeRedPkg = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.match(nodeRedPkg.dependencies[MODULE], /^~?file:nodes\/nats-cluster-node-red-cluster-[\d.]+\.tgz$/);
    const installed = path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster');
    assert.ok(fs.existsSync(path.join(installed, 'prebuilds', 'linux-x64')));
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'addon was not compiled');
    assert.ok(!fs.existsSync(path.join(installed, 'node_modules', 'node-red')), 'no dev dependencies installed');

    // The original plugin's flow against the real server; a recorder behind the subscribe node.
    const flow = originalFlow(server.address, { coreAsHelper: false });
    const tab = flow.find((n) => n.type === 'tab').id;
    const cfgId = flow.find((n) => n.type === 'ClusterConfigNode').id;
    flow.find((n) => n.type === 'ClusterSubscribeNode').wires = [[flow.find((n) => n.type === 'debug').id, 'rec']];
    flow.push(recorder('rec', tab));
    await red.deploy(flow);
    await until(async () => (await red.request('GET', `/cluster/status/${cfgId}`)).json?.connected, 20000, 'connected');
    const injects = flow.filter((n) => n.type === 'inject').map((n) => n.id);
    // The durable consumer is created just after connecting: inject until both messages arrive.
    const got = await until(async () => {
      const r = red.received();
      const topics = new Set(r.map((m) => m.topic));
      if (topics.has('nodered-cluster.field-a.sensors.temperature') && topics.has('nodered-cluster.field-a.commands.opengate')) return r;
      for (const id of injects) await red.request('POST', `/inject/${id}`);
      await new Promise((res) => setTimeout(res, 500));
      return null;
    }, 20000, 'messages through the installed nodes');
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.payload]));
    assert.deepEqual(byTopic['nodered-cluster.field-a.sensors.temperature'], { celsius: 21.5 });
    assert.equal(byTopic['nodered-cluster.field-a.commands.opengate'], 'open');
    assert.equal(got.find((m) => m.topic.endsWith('sensors.temperature')).cluster.sourceInstance, 'field-a');

    // Uninstall as the palette manager does. Refused while the flow uses the nodes...
    const inUse = await red.request('DELETE', `/nodes/${MODULE}`);
    assert.equal(inUse.status, 400, inUse.text);
    assert.equal(inUse.json?.code, 'type_in_use');
    assert.equal(ours(await nodeList(red)).length, SETS().length);
    // ...done once they are gone (their cluster nodes stop on that deploy).
    const rest = [flow.find((n) => n.type === 'tab'), recorder('rec', tab),
      { id: 'inj9', type: 'inject', z: tab, props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }], topic: 'after-uninstall', payload: '42', payloadType: 'num', repeat: '', once: false, x: 100, y: 300, wires: [['rec']] }];
    await red.deploy(rest);
    const del = await red.request('DELETE', `/nodes/${MODULE}`);
    assert.equal(del.status, 204, `uninstall: ${del.status} ${del.text}\n${red.log()}`);
    assert.deepEqual(ours(await nodeList(red)), []);
    assert.ok(!fs.existsSync(installed), 'module directory removed');
    assert.ok(!(JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')).dependencies || {})[MODULE], 'dependency removed');

    // Node-RED is still alive and working: admin API answers, a deploy runs, a message flows.
    assert.equal(red.proc.exitCode, null, 'Node-RED still running');
    assert.equal((await red.request('GET', '/settings')).status, 200);
    const before = red.received().length;
    assert.equal((await red.request('POST', '/inject/inj9')).status, 200);
    const after = await until(() => { const r = red.received(); return r.length > before ? r : null; }, 10000, 'message after uninstall');
    const last = after[after.length - 1];
    assert.deepEqual({ topic: last.topic, payload: last.payload, cluster: last.cluster }, { topic: 'after-uninstall', payload: 42, cluster: undefined });
    assert.doesNotMatch(red.log(), /Segmentation|Aborted|uncaught|FATAL/i);

    const stopped = await red.stop();
    assert.ok(!red.killed, `Node-RED did not stop on SIGINT within 20 s after the uninstall\n${red.log()}`);
    assert.equal(stopped.signal === 'SIGINT' || stopped.code === 0, true, `clean exit: ${JSON.stringify(stopped)}`);
  } finally {
    if (red) await red.stop();
    await server.stop();
    server.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
