'use strict';
// The native addon on its own (no Node-RED): it loads in this Node through node-gyp-build as a Node-API 8
// binary, and two cluster nodes in one process exchange durable and ephemeral messages through a real
// nats-server. node-versions.test.js runs this file on Node 18 and 22 as well.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { until } = require('./support/util');

const PKG = path.join(__dirname, '..');
const prebuilt = fs.existsSync(path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`));
const skip = !prebuilt && 'no prebuilt binary: run scripts/build.sh first';

test('the addon loads as a Node-API 8 binary', { skip }, (t) => {
  const file = require('node-gyp-build').resolve(PKG);
  t.diagnostic(`Node ${process.version} (Node-API ${process.versions.napi}) loads ${path.relative(PKG, file)}`);
  const backend = require('../lib/backend');
  const native = backend.loadNative();
  assert.ok(native, 'loadNative() returned the addon');
  assert.equal(native.napiVersion, 8);
  assert.ok(Number(process.versions.napi) >= native.napiVersion, `this Node offers Node-API ${process.versions.napi}`);
  assert.equal(typeof native.Cluster, 'function');
});

/// Cluster nodes 'node-a' and 'node-b' on `server`, started and connected; pushed to `clusters` (stopped by
/// the caller) as soon as they exist.
async function startedPair(clusters, server, rootPath, extra = {}) {
  const { createCluster } = require('../lib/backend');
  const pair = ['node-a', 'node-b'].map((instanceId) => {
    const c = createCluster(Object.assign({ instanceId, rootPath, servers: server.address, role: 'member' }, extra));
    clusters.push(c);
    return c;
  });
  await Promise.all(pair.map((c) => c.start()));
  await until(() => pair.every((c) => c.status().connected), 15000, 'both connected');
  return pair;
}

test('two cluster nodes exchange durable and ephemeral messages through nats-server', { skip, timeout: 60000 }, async () => {
  const server = await startServer({ user: 'u', password: 'native-test-pw' });
  const clusters = [];
  let stop = null;
  try {
    const [a, b] = await startedPair(clusters, server, '/native-test', { auth: { user: 'u', password: 'native-test-pw' } });
    const got = [];
    // start 'all': `ready` says the cluster layer took the subscription, not that its consumer is live at
    // the server yet, so a message published right after it could come before a 'new' start position.
    const sub = b.subscribe({ key: 'native-sub', patterns: ['node-a.readings.>'], start: 'all', ack: 'auto' }, (d) => got.push(d));
    await sub.ready;
    await a.publish('readings.durable', JSON.stringify({ n: 1 }), { mode: 'durable' });
    await a.publish('other.topic', 'not for b', { mode: 'durable' });
    // Ephemeral messages reach subscribers online now: send until one arrives.
    await until(async () => {
      if (got.some((d) => d.relativeSubject === 'node-a.readings.ephemeral')) return true;
      await a.publish('readings.ephemeral', Buffer.from([0, 1, 2, 255]), { mode: 'ephemeral', ttl: 30 });
      await new Promise((r) => setTimeout(r, 200));
      return false;
    }, 15000, 'an ephemeral delivery').catch((err) => {
      err.message += ` (got: ${JSON.stringify(got.map((d) => d.relativeSubject))}; b: ${JSON.stringify(b.status())})`;
      throw err;
    });
    await until(() => got.some((d) => d.relativeSubject === 'node-a.readings.durable'), 15000, 'the durable delivery').catch((err) => {
      err.message += ` (got: ${JSON.stringify(got.map((d) => d.relativeSubject))}; b: ${JSON.stringify(b.status())})`;
      throw err;
    });
    await new Promise((r) => setTimeout(r, 300));
    const bySubject = Object.fromEntries(got.map((d) => [d.relativeSubject, d]));
    assert.deepEqual(Object.keys(bySubject).sort(), ['node-a.readings.durable', 'node-a.readings.ephemeral']);
    assert.equal(got.filter((d) => d.relativeSubject === 'node-a.readings.durable').length, 1, 'durable delivered once');
    assert.deepEqual(JSON.parse(bySubject['node-a.readings.durable'].payload.toString()), { n: 1 });
    assert.ok(bySubject['node-a.readings.durable'].streamSequence > 0, 'durable message came from the stream');
    assert.deepEqual([...bySubject['node-a.readings.ephemeral'].payload], [0, 1, 2, 255]);
    for (const d of got) assert.equal(d.sourceInstance, 'node-a');
  } finally {
    // Bounded: a stop that never settles fails the test instead of keeping the process (and nats-server) alive.
    stop = await Promise.race([Promise.all(clusters.map((c) => c.stop())).then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('timed out'), 10000).unref())]);
    await server.stop();
    server.cleanup();
  }
  assert.equal(stop, 'stopped', 'both cluster nodes stopped within 10 s');
});

test('texts and Buffers published in one turn arrive byte for byte and in order; acked ones are not delivered again', { skip, timeout: 60000 }, async () => {
  const server = await startServer();
  const clusters = [];
  try {
    const [a, b] = await startedPair(clusters, server, '/native-batch');
    const got = [];
    const sub = b.subscribe({ key: 'batch-sub', patterns: ['node-a.batch'], start: 'all', ack: 'auto' }, (d) => {
      got.push(d);
      sub.ack(d.id);
    });
    await sub.ready;
    // One burst, one batch: multi-byte UTF-8 texts (more bytes than UTF-16 units), an empty text and raw
    // bytes side by side, so every payload's offset depends on the encoded size of the ones before it.
    const payloads = ['"température 21,5 °C"', '', '{"emoji":"😀","eur":"€"}', Buffer.from([0, 255, 10, 13]), 'plain'];
    const sent = payloads.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8')));
    const results = [];
    for (const [i, p] of payloads.entries()) {
      a.publish('batch', p, { mode: i % 2 ? 'ephemeral' : 'durable', ttl: 30 }, (err) => results.push(err));
    }
    await until(() => got.length >= payloads.length, 15000, 'all deliveries');
    assert.equal(results.length, payloads.length);
    assert.ok(results.every((e) => e === null || e === undefined), `publish errors: ${results}`);
    assert.deepEqual(got.map((d) => Buffer.from(d.payload).toString('hex')), sent.map((x) => x.toString('hex')));
    // The acks (one typed-array batch) reached the server: the same consumer has nothing left to deliver.
    await new Promise((r) => setTimeout(r, 500));
    await sub.close();
    const again = [];
    const sub2 = b.subscribe({ key: 'batch-sub', patterns: ['node-a.batch'], start: 'all', ack: 'auto' }, (d) => again.push(d));
    await sub2.ready;
    await a.publish('batch', 'marker', { mode: 'durable' });
    await until(() => again.length > 0, 15000, 'the marker');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(again.map((d) => d.payload.toString()), ['marker']);
  } finally {
    await Promise.race([Promise.all(clusters.map((c) => c.stop())), new Promise((r) => setTimeout(r, 10000).unref())]);
    await server.stop();
    server.cleanup();
  }
});

test('a burst of 1 000 publishes in one turn (several hand-overs to the io thread) arrives complete and in order', { skip, timeout: 60000 }, async () => {
  const server = await startServer();
  const clusters = [];
  try {
    const [a, b] = await startedPair(clusters, server, '/native-burst');
    const got = [];
    const sub = b.subscribe({ key: 'burst-sub', patterns: ['node-a.burst.*'], start: 'all', ack: 'auto' }, (d) => {
      got.push(d);
      sub.ack(d.id);
    });
    await sub.ready;
    const N = 1000;
    const results = [];
    // Two subjects, both modes, texts and Buffers interleaved: order is per publisher and subject.
    for (let i = 0; i < N; i++) {
      const body = i % 3 ? String(i) : Buffer.from(String(i));
      a.publish(`burst.${i % 2}`, body, { mode: i % 4 < 2 ? 'ephemeral' : 'durable', ttl: 30 }, (err) => results.push(err));
    }
    await until(() => got.length >= N, 20000, 'all deliveries');
    await until(() => results.length >= N, 20000, 'all publish callbacks');
    assert.ok(results.every((e) => e === null || e === undefined), 'no publish error');
    for (const k of [0, 1]) {
      const seen = got.filter((d) => d.subject.endsWith(`.burst.${k}`)).map((d) => Number(d.payload.toString()));
      assert.deepEqual(seen, Array.from({ length: N / 2 }, (_, j) => 2 * j + k), `subject burst.${k} in order`);
    }
  } finally {
    await Promise.race([Promise.all(clusters.map((c) => c.stop())), new Promise((r) => setTimeout(r, 10000).unref())]);
    await server.stop();
    server.cleanup();
  }
});

test('a script that awaits stop() ends only after the stop completed', { skip, timeout: 60000 }, async () => {
  // The addon does not keep a process alive while it merely runs (Node-RED's HTTP server does that), but a
  // script whose last step is `await cluster.stop()` must get there: the stop removes its presence first.
  const { spawn } = require('child_process');
  const { createCluster } = require('../lib/backend');
  const server = await startServer();
  const watcher = createCluster({ instanceId: 'stop-watcher', rootPath: '/native-stop', servers: server.address });
  try {
    await watcher.start();
    const script = `
      const { createCluster } = require(${JSON.stringify(path.join(PKG, 'lib', 'backend'))});
      const c = createCluster({ instanceId: 'script-stop', rootPath: '/native-stop', servers: process.env.ADDR });
      (async () => {
        await c.start();
        // Stop when the test says so (it first sees this instance online); then nothing but the stop
        // is left in the event loop.
        await new Promise((r) => process.stdin.once('data', r));
        process.stdin.destroy();
        await c.stop();
        console.log('STOPPED');
      })();`;
    const child = spawn(process.execPath, ['-e', script], { env: Object.assign({}, process.env, { ADDR: server.address }) });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    await until(async () => (await watcher.discover()).some((i) => i.instanceId === 'script-stop' && i.online), 15000, 'script instance online');
    child.stdin.end('stop\n');
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0, out);
    assert.match(out, /STOPPED/, 'the script got past `await stop()`');
    assert.doesNotMatch(out, /callback failed/, out);
    // A completed stop removed the presence: the watcher does not see the instance online any more.
    await until(async () => !(await watcher.discover()).some((i) => i.instanceId === 'script-stop' && i.online), 5000, 'script instance gone');
  } finally {
    await watcher.stop();
    await server.stop();
    server.cleanup();
  }
});
