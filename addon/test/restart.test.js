'use strict';
// A subscribing Node-RED instance restarted while messages flow (issue: deliveries handed to a process
// that then stopped came back only after the 30 s ack wait, behind newer ones). Two real Node-RED
// processes and a real nats-server; flows in the original plugin's format (no start position, no ack
// property on the subscribe node), a function node at the end of B's flow. For each way of stopping
// (SIGINT: a clean stop; SIGKILL) and each moment of publishing (right after B exited, while B shuts
// down, while B starts), durable and ephemeral (TTL 60 s) messages must all reach B's flow, first
// deliveries in publish order, every repeat flagged msg.cluster.redelivered, each one no later than
// 2 s after B was ready again (or after it was published, if later). Ephemeral messages whose TTL ran
// out while B was down never arrive. The ack wait stays at its default (30 s), so a delivery that
// waited for it fails the bound.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder } = require('./support/nodered');
const { until } = require('./support/util');
const { request } = require('./support/jsapi');

const PKG = path.join(__dirname, '..');
const PASS = 'restart-secret-pw';
const BOUND_MS = 2000;

/// A: POST /emit {tag, durable, eph60, eph1, perTick, tickMs} publishes `durable` durable messages,
/// `eph60` ephemeral ones with TTL 60 s and `eph1` with TTL 1 s, interleaved, `perTick` every `tickMs`
/// (all at once when perTick is 0), and answers when all were handed to the publish nodes. Payload:
/// {tag, kind, i, pt (publish time, ms)}.
function flowA(address) {
  const emit = `
const b = msg.payload; const kinds = [['d', b.durable || 0], ['e60', b.eph60 || 0], ['e1', b.eph1 || 0]];
const next = { d: 0, e60: 0, e1: 0 };
const total = kinds.reduce((s, k) => s + k[1], 0);
let sent = 0;
const one = () => {
  for (const [kind, n] of kinds) {
    if (next[kind] < n) {
      const out = [null, null, null];
      out[kind === 'd' ? 0 : kind === 'e60' ? 1 : 2] = { topic: 's3.' + kind, payload: { tag: b.tag, kind, i: next[kind]++, pt: Date.now() } };
      node.send(out);
      sent++;
    }
  }
};
const tick = () => {
  const per = b.perTick || total;
  for (let k = 0; k < per && sent < total; k++) one();
  if (sent < total) setTimeout(tick, b.tickMs || 10);
  else node.send([null, null, null, msg]);
};
tick();
return null;`;
  return [
    { id: 'ta', type: 'tab', label: 'A' },
    { id: 'ca', type: 'ClusterConfigNode', name: '', instanceId: 'inst-a', zkRootPath: '/nodered-cluster',
      natsAddress: address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
    { id: 'pd', type: 'ClusterPublishNode', z: 'ta', name: '', clusterConfig: 'ca', subject: '', mode: 'Durable', ttl: 30, wires: [] },
    { id: 'p60', type: 'ClusterPublishNode', z: 'ta', name: '', clusterConfig: 'ca', subject: '', mode: 'Ephemeral', ttl: 60, wires: [] },
    { id: 'p1', type: 'ClusterPublishNode', z: 'ta', name: '', clusterConfig: 'ca', subject: '', mode: 'Ephemeral', ttl: 1, wires: [] },
    { id: 'hin', type: 'http in', z: 'ta', name: '', url: '/emit', method: 'post', upload: false, swaggerDoc: '', wires: [['hfn']] },
    { id: 'hfn', type: 'function', z: 'ta', name: 'emit', outputs: 4, func: emit, wires: [['pd'], ['p60'], ['p1'], ['hres']] },
    { id: 'hres', type: 'http response', z: 'ta', name: '', statusCode: '200', headers: {}, wires: [] },
  ];
}

// B in the original plugin's format: the subscribe node has no start/ackMode properties.
function flowB(address) {
  return [
    { id: 'tb', type: 'tab', label: 'B' },
    { id: 'cb', type: 'ClusterConfigNode', name: '', instanceId: 'inst-b', zkRootPath: '/nodered-cluster',
      natsAddress: address, role: 'Member', credentials: { natsUser: 'nodered', natsPass: PASS } },
    { id: 'sb', type: 'ClusterSubscribeNode', z: 'tb', name: '', clusterConfig: 'cb', subjectPattern: '*.s3.>', wires: [['rb']] },
    recorder('rb', 'tb'),
  ];
}

const isConnected = (j) => !!j && (j.connected === true || j.status === 'connected');

let server; let A; let B;
async function readyAt(red, configId) {
  await until(async () => isConnected((await red.request('GET', `/cluster/status/${configId}`)).json), 20000, `${configId} connected`);
  return Date.now();
}

test.before(async () => {
  server = await startServer({ user: 'nodered', password: PASS });
  [A, B] = await Promise.all([startNodeRed({ packageDir: PKG }), startNodeRed({ packageDir: PKG })]);
  await A.deploy(flowA(server.address));
  await B.deploy(flowB(server.address));
  await Promise.all([readyAt(A, 'ca'), readyAt(B, 'cb')]);
  // B's consumer exists once a first message went through.
  await A.request('POST', '/emit', { tag: 'warmup', durable: 1 });
  await until(() => B.received().some((m) => m.payload.tag === 'warmup'), 15000, 'warm-up message at B');
});
test.after(async () => {
  await Promise.all([A && A.stop(), B && B.stop()]);
  if (server) { await server.stop(); server.cleanup(); }
});

async function restartB() {
  B = await startNodeRed({ userDir: B.userDir, packageDir: PKG });
  return readyAt(B, 'cb');
}

/// Checks what B's flow recorded for `tag`: every message of each kind once at least, first
/// deliveries in order, repeats flagged, each delivered within BOUND_MS of max(ready, published).
function check(tag, counts, ready) {
  const got = B.received().filter((m) => m.payload && m.payload.tag === tag);
  for (const [kind, n] of Object.entries(counts)) {
    const mine = got.filter((m) => m.payload.kind === kind);
    const seen = new Set();
    const firsts = [];
    for (const m of mine) {
      if (seen.has(m.payload.i)) {
        assert.ok(m.cluster.redelivered, `${tag} ${kind} #${m.payload.i}: a repeat without msg.cluster.redelivered`);
      } else {
        seen.add(m.payload.i);
        firsts.push(m.payload.i);
      }
    }
    assert.deepEqual(firsts, Array.from({ length: n }, (_, i) => i), `${tag} ${kind}: every message, first deliveries in publish order`);
    const late = mine.filter((m) => m.t > Math.max(ready, m.payload.pt) + BOUND_MS);
    assert.equal(late.length, 0, `${tag} ${kind}: ${late.length} deliveries later than ${BOUND_MS} ms after ready/publish ` +
      `(worst ${Math.max(0, ...late.map((m) => m.t - Math.max(ready, m.payload.pt)))} ms)`);
  }
  return got;
}

const complete = (tag, counts) => () => {
  const got = B.received().filter((m) => m.payload && m.payload.tag === tag);
  return Object.entries(counts).every(([kind, n]) => new Set(got.filter((m) => m.payload.kind === kind).map((m) => m.payload.i)).size >= n);
};

for (const signal of ['SIGINT', 'SIGKILL']) {
  test(`${signal}: published right after B exited`, async () => {
    const tag = `after-${signal}`;
    const exit = await B.stop(signal);
    assert.ok(signal === 'SIGKILL' ? exit.signal === 'SIGKILL' : exit.code === 0, JSON.stringify(exit));
    await A.request('POST', '/emit', { tag, durable: 200, eph60: 50, eph1: 5 });
    await new Promise((r) => setTimeout(r, 1200)); // the TTL-1 s ones expire while B is down
    const ready = await restartB();
    const counts = { d: 200, e60: 50 };
    await until(complete(tag, counts), 15000, `${tag}: all messages at B`).catch(() => {});
    check(tag, counts, ready);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(B.received().filter((m) => m.payload.tag === tag && m.payload.kind === 'e1').length, 0,
      'ephemeral messages whose TTL ran out while B was down are not delivered');
  });

  test(`${signal}: published while B shuts down`, async () => {
    const tag = `during-stop-${signal}`;
    const counts = { d: 1500, e60: 300 };
    const emitting = A.request('POST', '/emit', { tag, durable: counts.d, eph60: counts.e60, perTick: 40, tickMs: 10 });
    await until(() => B.received().some((m) => m.payload.tag === tag), 10000, 'B receiving');
    const exit = await B.stop(signal);
    assert.ok(signal === 'SIGKILL' ? exit.signal === 'SIGKILL' : exit.code === 0, JSON.stringify(exit));
    await emitting;
    const ready = await restartB();
    await until(complete(tag, counts), 15000, `${tag}: all messages at B`).catch(() => {});
    check(tag, counts, ready);
  });

  test(`${signal}: published while B starts`, async () => {
    const tag = `during-start-${signal}`;
    const counts = { d: 1500, e60: 300 };
    await B.stop(signal);
    const emitting = A.request('POST', '/emit', { tag, durable: counts.d, eph60: counts.e60, perTick: 20, tickMs: 10 });
    const ready = await restartB();
    await emitting;
    await until(complete(tag, counts), 15000, `${tag}: all messages at B`).catch(() => {});
    check(tag, counts, ready);
  });
}

test('flows restarted (deploy "reload") while messages flow: nothing late, nothing lost', async () => {
  const tag = 'reload';
  const counts = { d: 1500, e60: 300 };
  const emitting = A.request('POST', '/emit', { tag, durable: counts.d, eph60: counts.e60, perTick: 40, tickMs: 10 });
  await until(() => B.received().some((m) => m.payload.tag === tag), 10000, 'B receiving');
  // What the editor's "Restart flows" does: every node of B is stopped and started again in this process.
  await B.deploy(flowB(server.address), 'reload');
  const ready = await readyAt(B, 'cb');
  await emitting;
  await until(complete(tag, counts), 15000, `${tag}: all messages at B`).catch(() => {});
  check(tag, counts, ready);
});

test('the restarted subscriber left nothing pending on its consumer', async () => {
  const r = await request(server, 'nodered', PASS, '$JS.API.CONSUMER.INFO.NODERED_CLUSTER.inst-b_sb', '');
  await until(async () => {
    const info = await request(server, 'nodered', PASS, '$JS.API.CONSUMER.INFO.NODERED_CLUSTER.inst-b_sb', '');
    return info.num_ack_pending === 0 ? info : null;
  }, 5000, `no ack pending (was ${r.num_ack_pending})`);
});
