'use strict';
// End to end: two real Node-RED processes (A publishes, B subscribes) and a real nats-server.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder, httpPublisher } = require('./support/nodered');
const { until } = require('./support/util');

const PKG = path.join(__dirname, '..');
const PASS = 'e2e-secret-pw';

function flowA(address) {
  return [
    { id: 'ta', type: 'tab', label: 'A' },
    { id: 'ca', type: 'ClusterConfigNode', name: '', instanceId: 'node-a', zkRootPath: '/nodered-cluster',
      natsAddress: address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
    { id: 'pd', type: 'ClusterPublishNode', z: 'ta', name: '', clusterConfig: 'ca', subject: '', mode: 'Durable', ttl: 30, wires: [] },
    { id: 'pe', type: 'ClusterPublishNode', z: 'ta', name: '', clusterConfig: 'ca', subject: '', mode: 'Ephemeral', ttl: 1, wires: [] },
    ...httpPublisher('hd', 'ta', 'pd', 'durable'),
    ...httpPublisher('he', 'ta', 'pe', 'ephemeral'),
  ];
}
function flowB(address) {
  return [
    { id: 'tb', type: 'tab', label: 'B' },
    { id: 'cb', type: 'ClusterConfigNode', name: '', instanceId: 'node-b', zkRootPath: '/nodered-cluster',
      natsAddress: address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
    { id: 'sb', type: 'ClusterSubscribeNode', z: 'tb', name: '', clusterConfig: 'cb',
      subjectPattern: 'node-a.orders.>, *.alerts.*', start: 'new', ackMode: 'auto', wires: [['rb']] },
    recorder('rb', 'tb'),
  ];
}

let server; let A; let B;
test.before(async () => {
  server = await startServer({ user: 'nodered', password: PASS });
  [A, B] = await Promise.all([startNodeRed({ packageDir: PKG }), startNodeRed({ packageDir: PKG })]);
  await A.deploy(flowA(server.address));
  await B.deploy(flowB(server.address));
  await until(async () => (await B.request('GET', '/cluster/status/cb')).json?.connected, 15000, 'B connected');
  await until(async () => (await A.request('GET', '/cluster/status/ca')).json?.connected, 15000, 'A connected');
});
test.after(async () => {
  await Promise.all([A && A.stop(), B && B.stop()]);
  if (server) { await server.stop(); server.cleanup(); }
});

test('publish/subscribe between two Node-RED processes, wildcard and comma patterns', async () => {
  await A.request('POST', '/durable', { subject: 'orders.new', payload: { kind: 'order' }, count: 3 });
  await A.request('POST', '/durable', { subject: 'alerts.fire', payload: { kind: 'alert' }, count: 1 });
  await A.request('POST', '/durable', { subject: 'ignored.topic', payload: { kind: 'no' }, count: 1 });
  const got = await until(() => { const r = B.received(); return r.length >= 4 ? r : null; }, 15000, '4 messages at B');
  assert.deepEqual(got.filter((m) => m.payload.kind === 'order').map((m) => m.payload.i), [0, 1, 2]);
  const alert = got.find((m) => m.payload.kind === 'alert');
  assert.equal(alert.topic, 'nodered-cluster.node-a.alerts.fire');
  assert.equal(alert.cluster.sourceInstance, 'node-a');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(B.received().filter((m) => m.payload.kind === 'no').length, 0);
});

test('discovery lists both instances and the subjects they publish', async () => {
  const d = await until(async () => {
    const r = await B.request('GET', '/cluster/discovery/cb');
    return r.json && r.json.subjects && r.json.subjects.includes('node-a.orders.new') ? r.json : null;
  }, 10000, 'discovery');
  // The original plugin's shape: instances and endpoints keyed by instance id, subjects relative to it.
  const ids = Object.keys(d.instances).sort();
  assert.ok(ids.includes('node-a') && ids.includes('node-b'), ids.join(','));
  assert.deepEqual(d.instances['node-a'], Object.assign({}, d.instances['node-a'], { natsAddress: server.address, role: 'Member' }));
  assert.ok(d.endpoints['node-a'].includes('orders.new'), JSON.stringify(d.endpoints));
  assert.ok(d.endpoints['node-b'].every((s) => typeof s === 'string'));
  assert.equal(d.instances['node-a'].online, true);
  const members = await A.request('GET', '/cluster/members/ca');
  assert.ok(members.json.members.includes('node-b') && members.json.members.includes('node-a'), JSON.stringify(members.json));
  assert.equal(members.json.instances['node-a'].self, true);
  const status = await A.request('GET', '/cluster/status/ca');
  assert.equal(status.json.status, 'connected');
  assert.equal(status.json.params.auth, 'user');
  assert.ok(!JSON.stringify([d, members.json, status.json]).includes(PASS));
});

test('durable messages wait for a stopped subscriber instance and arrive in order', async () => {
  const before = B.received().length;
  const userDir = B.userDir;
  const t0 = Date.now();
  const exit = await B.stop();
  assert.ok(!B.killed && exit.code === 0, `Node-RED B stopped cleanly (${JSON.stringify(exit)}) in ${Date.now() - t0} ms`);
  assert.ok(Date.now() - t0 < 10000, 'shutdown does not hang');
  const N = 500;
  await A.request('POST', '/durable', { subject: 'orders.offline', payload: { kind: 'offline' }, count: N });
  await A.request('POST', '/ephemeral', { subject: 'alerts.short', payload: { kind: 'expired' }, count: 1 }); // TTL 1 s
  await new Promise((r) => setTimeout(r, 2500));
  B = await startNodeRed({ userDir, packageDir: PKG });
  const got = await until(() => {
    const r = B.received().slice(before).filter((m) => m.payload.kind === 'offline');
    return r.length >= N ? r : null;
  }, 30000, 'replayed messages');
  assert.deepEqual(got.map((m) => m.payload.i), Array.from({ length: N }, (_, i) => i));
  assert.equal(B.received().filter((m) => m.payload.kind === 'expired').length, 0, 'an expired ephemeral message is not replayed');
});

test('ephemeral messages reach an online instance', async () => {
  await A.request('POST', '/ephemeral', { subject: 'alerts.now', payload: { kind: 'live' }, count: 5 });
  const got = await until(() => { const r = B.received().filter((m) => m.payload.kind === 'live'); return r.length >= 5 ? r : null; }, 10000, 'ephemeral');
  assert.deepEqual(got.map((m) => m.payload.i), [0, 1, 2, 3, 4]);
  assert.ok(got.every((m) => m.cluster.mode === 'ephemeral'));
});

test('nats-server killed and restarted mid-stream: no durable message lost', async () => {
  const N = 2000;
  const sent = A.request('POST', '/durable', { subject: 'orders.storm', payload: { kind: 'storm' }, count: N });
  await new Promise((r) => setTimeout(r, 150));
  await server.restart();
  await sent;
  const got = await until(() => {
    const r = B.received().filter((m) => m.payload.kind === 'storm');
    return new Set(r.map((m) => m.payload.i)).size >= N ? r : null;
  }, 60000, 'all storm messages');
  const firsts = [];
  const seen = new Set();
  for (const m of got) if (!seen.has(m.payload.i)) { seen.add(m.payload.i); firsts.push(m.payload.i); }
  assert.deepEqual(firsts, Array.from({ length: N }, (_, i) => i), 'in order (first deliveries)');
  assert.ok((await A.request('GET', '/settings')).status === 200, 'A still running');
});

test('redeploys leak no threads and no consumers; shutdown is clean', async () => {
  const fs = require('fs');
  const { consumerNames } = require('./support/jsapi');
  const red = await startNodeRed({ packageDir: PKG });
  try {
    const flow = (k) => [{ id: 'tl', type: 'tab', label: 'leak' },
      { id: `lc${k % 2}`, type: 'ClusterConfigNode', instanceId: `leak${k % 2}`, zkRootPath: '/nodered-cluster',
        natsAddress: server.address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
      { id: `lp${k}`, type: 'ClusterPublishNode', z: 'tl', clusterConfig: `lc${k % 2}`, subject: 'leak.x', mode: 'Durable', ttl: 1, wires: [] },
      { id: `ls${k}`, type: 'ClusterSubscribeNode', z: 'tl', clusterConfig: `lc${k % 2}`, subjectPattern: '*.leak.>', wires: [[]] }];
    const threads = () => fs.readdirSync(`/proc/${red.proc.pid}/task`).length;
    await red.deploy(flow(0));
    await new Promise((r) => setTimeout(r, 1000));
    const base = threads();
    for (let k = 1; k <= 6; k++) {
      const t0 = Date.now();
      await red.deploy(flow(k));
      assert.ok(Date.now() - t0 < 8000, `deploy ${k} took ${Date.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(threads(), base, 'same number of threads after six redeploys');
    const left = (await consumerNames(server, 'nodered', PASS, 'NODERED_CLUSTER')).filter((n) => n.startsWith('leak'));
    assert.deepEqual(left, ['leak0_ls6'], 'only the deployed subscribe node has a consumer');
  } finally {
    const exit = await red.stop();
    assert.ok(!red.killed && exit.code === 0, `clean shutdown ${JSON.stringify(exit)}`);
  }
});
