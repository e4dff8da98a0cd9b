'use strict';
// The Node-RED context store on NATS KV (lib/context-store.js) with two real Node-RED processes and a
// real nats-server (with a password: the store uses its own credentials from settings.js). Each
// process's flow answers POST /ctx {op, scope, key, value} by calling its context API on store "cluster".
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, writeSettings } = require('./support/nodered');
const { until } = require('./support/util');
const backend = require('../lib/backend');

const PKG = path.join(__dirname, '..');
const PASS = 'ctx-secret-pw';

function userDirWithStore(instanceId, server) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-ctx-'));
  writeSettings(dir, `  contextStorage: {
    default: { module: 'memory' },
    cluster: {
      module: require('@nats-cluster/node-red-cluster/context'),
      config: { servers: ${JSON.stringify(server.url)}, instanceId: ${JSON.stringify(instanceId)},
                user: 'nodered', password: ${JSON.stringify(PASS)}, openTimeoutMs: 3000 },
    },
  },
`);
  return dir;
}

// The handler node's id decides its node scope; `handlerId` lets a redeploy replace it.
function ctxFlow(handlerId = 'fc') {
  return [
    { id: 'tc', type: 'tab', label: 'ctx' },
    { id: 'hin', type: 'http in', z: 'tc', name: '', url: '/ctx', method: 'post', upload: false, swaggerDoc: '', x: 100, y: 100, wires: [[handlerId]] },
    { id: handlerId, type: 'function', z: 'tc', name: 'context op', outputs: 1, x: 300, y: 100, wires: [['hres']],
      func: `
const b = msg.payload || {};
const ctx = b.scope === 'flow' ? flow : b.scope === 'node' ? context : global;
const reply = (o) => { msg.payload = o; node.send(msg); };
const done = (err, v) => reply(err ? { error: err.message, code: err.code } : { ok: true, value: v });
try {
  if (b.op === 'set') ctx.set(b.key, b.value, 'cluster', (err) => done(err));
  else if (b.op === 'get') ctx.get(b.key, 'cluster', done);
  else if (b.op === 'keys') ctx.keys('cluster', done);
  else if (b.op === 'setCircular') { const o = { a: 1 }; o.self = o; ctx.set(b.key, o, 'cluster', (err) => done(err)); }
  else if (b.op === 'setBigInt') ctx.set(b.key, BigInt(1), 'cluster', (err) => done(err));
  else if (b.op === 'setHuge') ctx.set(b.key, 'x'.repeat(b.size), 'cluster', (err) => done(err));
  else if (b.op === 'setMulti') { const bad = {}; bad.self = bad; ctx.set(b.keys, [1, bad], 'cluster', (err) => done(err)); }
  else if (b.op === 'getSync') reply({ ok: true, value: ctx.get(b.key, 'cluster') });
  else reply({ error: 'unknown op' });
} catch (e) { reply({ error: e.message, code: e.code, thrown: true }); }
return null;` },
    { id: 'hres', type: 'http response', z: 'tc', name: '', statusCode: '200', headers: {}, x: 500, y: 100, wires: [] },
  ];
}

async function op(red, body) {
  const r = await red.request('POST', '/ctx', body);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

let server; let A; let B; let probe;
test.before(async () => {
  server = await startServer({ user: 'nodered', password: PASS });
  [A, B] = await Promise.all([
    startNodeRed({ packageDir: PKG, userDir: userDirWithStore('ctx-a', server) }),
    startNodeRed({ packageDir: PKG, userDir: userDirWithStore('ctx-b', server) }),
  ]);
  await A.deploy(ctxFlow());
  await B.deploy(ctxFlow());
  // A plain cluster client of the test, to look at the bucket directly.
  probe = backend.createCluster({ instanceId: 'ctx-probe', role: 'observer', servers: server.url, auth: { user: 'nodered', password: PASS } });
  await probe.start();
  await until(() => probe.status().connected, 10000, 'probe connected');
});
test.after(async () => {
  if (probe) await probe.stop();
  await Promise.all([A && A.stop(), B && B.stop()]);
  if (server) { await server.stop(); server.cleanup(); }
});

test('a value set on A is read on B: global and flow scope, JSON values', async () => {
  const value = { temp: 21.5, tags: ['a', 'b'], nested: { ok: true }, nothing: null };
  assert.deepEqual(await op(A, { op: 'set', scope: 'global', key: 'plant', value }), { ok: true });
  assert.deepEqual((await op(A, { op: 'get', scope: 'global', key: 'plant' })).value, value); // read-your-writes
  assert.deepEqual((await op(B, { op: 'get', scope: 'global', key: 'plant' })).value, value);
  assert.equal((await op(B, { op: 'get', scope: 'global', key: 'plant.nested.ok' })).value, true);
  await op(A, { op: 'set', scope: 'flow', key: 'my key/with=odd€', value: 'x' });  // escaped for KV
  assert.equal((await op(B, { op: 'get', scope: 'flow', key: 'my key/with=odd€' })).value, 'x');
  await op(A, { op: 'set', scope: 'flow', key: 'line', value: 7 });
  assert.equal((await op(B, { op: 'get', scope: 'flow', key: 'line' })).value, 7);
  const keys = (await op(B, { op: 'keys', scope: 'flow' })).value;
  assert.ok(keys.includes('line') && keys.includes('my key/with=odd€'), keys.join(','));
  // Deleting: setting undefined (Node-RED's way) removes the key everywhere.
  await op(B, { op: 'set', scope: 'flow', key: 'line' });
  assert.equal((await op(A, { op: 'get', scope: 'flow', key: 'line' })).value, undefined);
});

test('concurrent nested updates of one key from A and B do not lose each other (compare-and-set)', async () => {
  await op(A, { op: 'set', scope: 'global', key: 'counters', value: {} });
  const writes = [];
  for (let i = 0; i < 10; i++) {
    writes.push(op(A, { op: 'set', scope: 'global', key: `counters.a${i}`, value: i }));
    writes.push(op(B, { op: 'set', scope: 'global', key: `counters.b${i}`, value: i }));
  }
  for (const r of await Promise.all(writes)) assert.deepEqual(r, { ok: true });
  const all = (await op(B, { op: 'get', scope: 'global', key: 'counters' })).value;
  assert.equal(Object.keys(all).length, 20, JSON.stringify(all));
});

test('node scope is per instance, and clean() removes only this instance\'s data of removed nodes', async () => {
  await op(A, { op: 'set', scope: 'node', key: 'seen', value: 'on A' });
  await op(B, { op: 'set', scope: 'node', key: 'seen', value: 'on B' });
  assert.equal((await op(A, { op: 'get', scope: 'node', key: 'seen' })).value, 'on A');
  assert.equal((await op(B, { op: 'get', scope: 'node', key: 'seen' })).value, 'on B');
  const nodeKeys = async () => (await probe.kvKeys('node.>')).sort();
  assert.equal((await nodeKeys()).length, 2);
  // A redeploys with the handler node replaced: its old node data goes, B's stays, global stays.
  await A.deploy(ctxFlow('fc2'));
  const left = await until(async () => { const k = await nodeKeys(); return k.length === 1 ? k : null; }, 10000, 'A cleaned');
  assert.ok(left[0].startsWith('node.ctx-b.'), left.join(','));
  assert.equal((await op(B, { op: 'get', scope: 'node', key: 'seen' })).value, 'on B');
  assert.ok((await op(A, { op: 'get', scope: 'global', key: 'plant' })).value);
});

test('bad input: a clear error and nothing written', async () => {
  const circ = await op(A, { op: 'setCircular', scope: 'global', key: 'circ' });
  assert.equal(circ.code, 'INVALID_VALUE', JSON.stringify(circ));
  assert.equal((await op(A, { op: 'setBigInt', scope: 'global', key: 'big' })).code, 'INVALID_VALUE');
  const huge = await op(A, { op: 'setHuge', scope: 'global', key: 'huge', size: 2 * 1024 * 1024 });
  assert.equal(huge.code, 'PAYLOAD_TOO_LARGE', JSON.stringify(huge));
  const multi = await op(A, { op: 'setMulti', scope: 'global', keys: ['first', 'second'] });
  assert.equal(multi.code, 'INVALID_VALUE', JSON.stringify(multi));
  const bad = await op(A, { op: 'set', scope: 'global', key: 'a..b', value: 1 });
  assert.ok(bad.error, JSON.stringify(bad));
  for (const k of ['circ', 'big', 'huge', 'first', 'second', 'a']) {
    assert.equal((await op(B, { op: 'get', scope: 'global', key: k })).value, undefined, k);
  }
  const sync = await op(A, { op: 'getSync', scope: 'global', key: 'plant' });
  assert.ok(sync.error && /asynchronous/.test(sync.error), JSON.stringify(sync));
});

test('NATS down: reads and writes fail at once with NOT_CONNECTED, logged; back to normal after', async () => {
  const port = server.port;
  await server.stop();
  await until(async () => (await op(A, { op: 'get', scope: 'global', key: 'plant' })).code === 'NOT_CONNECTED', 10000, 'A notices');
  const w = await op(A, { op: 'set', scope: 'global', key: 'during', value: 1 });
  assert.equal(w.code, 'NOT_CONNECTED', JSON.stringify(w));
  assert.match(A.log(), /\[context:cluster\] NATS connection lost/);
  const again = await startServer({ user: 'nodered', password: PASS, port, storeDir: server.storeDir });
  server.proc = again.proc; server.stop = again.stop;
  await until(async () => (await op(A, { op: 'get', scope: 'global', key: 'plant' })).ok, 20000, 'A back');
  await until(async () => (await op(B, { op: 'get', scope: 'global', key: 'plant' })).ok, 20000, 'B back');
  assert.equal((await op(B, { op: 'get', scope: 'global', key: 'during' })).value, undefined);
  assert.deepEqual(await op(B, { op: 'set', scope: 'global', key: 'after', value: 2 }), { ok: true });
  assert.equal((await op(A, { op: 'get', scope: 'global', key: 'after' })).value, 2);
});
