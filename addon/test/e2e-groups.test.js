'use strict';
// End to end, groups: three real Node-RED processes whose cluster in nodes form one group
// ("Delivery: one instance of group") and a real nats-server. Each job is recorded by exactly one
// process; one of them is SIGKILLed while jobs flow: nothing is lost, jobs it held go to the others
// after the node's ack wait, and a job recorded twice is flagged redelivered the second time.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder, httpPublisher } = require('./support/nodered');
const { until } = require('./support/util');

const PKG = path.join(__dirname, '..');
const PASS = 'e2e-groups-pw';

function worker(i, address, { publisher = false, slow = false } = {}) {
  const z = `t${i}`;
  const flow = [
    { id: z, type: 'tab', label: `W${i}` },
    { id: `c${i}`, type: 'ClusterConfigNode', name: '', instanceId: `worker-${i}`, zkRootPath: '/nodered-cluster',
      natsAddress: address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
    { id: `s${i}`, type: 'ClusterSubscribeNode', z, name: '', clusterConfig: `c${i}`, subjectPattern: 'worker-1.jobs.>',
      start: 'new', ackMode: 'auto', delivery: 'group', group: 'jobs', ackWait: 2, wires: [[slow ? `slow${i}` : `r${i}`]] },
    recorder(`r${i}`, z),
  ];
  // A slow job (5 ms of work per message): jobs it pulled wait unacknowledged behind it.
  if (slow) {
    flow.push({ id: `slow${i}`, type: 'function', z, name: 'work', outputs: 1,
      func: 'const end = Date.now() + 5; while (Date.now() < end) {} return msg;', wires: [[`r${i}`]] });
  }
  if (publisher) {
    flow.push({ id: 'pub', type: 'ClusterPublishNode', z, name: '', clusterConfig: `c${i}`, subject: '', mode: 'Durable', ttl: 30, wires: [] });
    flow.push(...httpPublisher('h', z, 'pub', 'durable'));
  }
  return flow;
}

let server; let W = [];
test.before(async () => {
  server = await startServer({ user: 'nodered', password: PASS });
  // One after the other, each kept as soon as it runs: if one fails to start, the hook below still
  // stops the others.
  for (let k = 0; k < 3; k++) W.push(await startNodeRed({ packageDir: PKG }));
  await W[0].deploy(worker(1, server.address, { publisher: true }));
  await W[1].deploy(worker(2, server.address, { slow: true }));
  await W[2].deploy(worker(3, server.address, { slow: true }));
  for (const [k, w] of W.entries()) {
    await until(async () => (await w.request('GET', `/cluster/status/c${k + 1}`)).json?.connected, 15000, `W${k + 1} connected`);
  }
  // All three listed as members of the group (their consumers are attached by then too).
  await until(async () => {
    const r = await W[0].request('GET', '/cluster/discovery/c1');
    const g = (r.json?.groups || []).find((x) => x.group === 'jobs');
    return g && g.members.length === 3;
  }, 15000, 'three members in discovery');
  await new Promise((r) => setTimeout(r, 1000));
});
test.after(async () => {
  await Promise.all(W.map((w) => w && w.stop()));
  if (server) { await server.stop(); server.cleanup(); }
});

const all = () => W.flatMap((w, k) => w.received().map((m) => Object.assign(m, { by: k + 1 })));

test('three Node-RED processes in one group: each job recorded by exactly one', async () => {
  await W[0].request('POST', '/durable', { subject: 'jobs.a', payload: { batch: 'a' }, count: 150 });
  const got = await until(() => { const r = all().filter((m) => m.payload.batch === 'a'); return r.length >= 150 ? r : null; }, 20000, '150 jobs');
  await new Promise((r) => setTimeout(r, 1000));
  const a = all().filter((m) => m.payload.batch === 'a');
  assert.equal(a.length, 150, 'no job twice');
  assert.deepEqual(a.map((m) => m.payload.i).sort((x, y) => x - y), Array.from({ length: 150 }, (_, i) => i));
  assert.ok(got.every((m) => m.cluster.group === 'jobs' && !m.cluster.redelivered));
  assert.ok(new Set(a.map((m) => m.by)).size >= 2, 'shared among the processes');
});

test('a member process SIGKILLed while jobs flow: none lost, repeats flagged', async () => {
  await W[0].request('POST', '/durable', { subject: 'jobs.b', payload: { batch: 'b' }, count: 400 });
  await until(() => W[2].received().some((m) => m.payload.batch === 'b'), 20000, 'W3 working');
  await W[2].stop('SIGKILL');
  await until(() => new Set(all().filter((m) => m.payload.batch === 'b').map((m) => m.payload.i)).size >= 400, 30000, 'all 400 jobs');
  await new Promise((r) => setTimeout(r, 3000)); // past another ack wait
  const seen = new Map();
  // In the order they were recorded (t), across the processes.
  for (const m of all().filter((x) => x.payload.batch === 'b').sort((x, y) => x.t - y.t)) {
    const n = (seen.get(m.payload.i) || 0) + 1;
    seen.set(m.payload.i, n);
    if (n > 1) assert.ok(m.cluster.redelivered, `job ${m.payload.i} recorded again without the redelivered flag`);
  }
  assert.equal(seen.size, 400);
  // It died holding jobs it had pulled: the others took them over after the ack wait, flagged.
  const takenOver = all().filter((m) => m.payload.batch === 'b' && m.by !== 3 && m.cluster.redelivered).length;
  assert.ok(takenOver > 0, 'jobs taken over from the killed process');
});
