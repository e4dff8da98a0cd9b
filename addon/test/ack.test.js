'use strict';
// Manual acknowledgement from a flow: a cluster in node with Acknowledge "by a cluster ack node" and the
// cluster ack node, in a real Node-RED runtime (node-red-node-test-helper) against a real nats-server.
const test = require('node:test');
const assert = require('node:assert/strict');
const helper = require('node-red-node-test-helper');
const configNode = require('../nodes/cluster-config.js');
const publishNode = require('../nodes/cluster-publish.js');
const subscribeNode = require('../nodes/cluster-subscribe.js');
const ackNode = require('../nodes/cluster-ack.js');
const { useNatsAndNodeRed, connected, CONSUMER_SETUP_MS } = require('./support/runtime');
const F = require('./support/flows');
const { until, callsOf, waitStatus } = require('./support/util');

const NODES = [configNode, publishNode, subscribeNode, ackNode];

const nats = useNatsAndNodeRed();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Every message a helper node receives, in arrival order.
function record(node) {
  const got = [];
  node.on('input', (msg) => got.push(msg));
  return got;
}
const errorsOf = (node) => callsOf(node, 'error').map((a) => a[0]);

function manualFlow(instanceId, ackWait, extraSub = {}) {
  return [F.tab, F.config('cfg', instanceId, nats.server.address, { ackWait }),
    F.publisher('pub', 'cfg', 'jobs'),
    F.subscriber('sub', 'cfg', `${instanceId}.jobs`, ['work'], Object.assign({ ackMode: 'manual' }, extraSub)),
    F.sink('work'),
    { id: 'acknode', type: 'ClusterAckNode', z: 'tab1', name: '', action: 'ack', nakDelay: 0, wires: [['acked']] },
    F.sink('acked')];
}

async function loadManual(instanceId, ackWait = 1) {
  await helper.load(NODES, manualFlow(instanceId, ackWait));
  const n = { pub: helper.getNode('pub'), sub: helper.getNode('sub'), ack: helper.getNode('acknode'),
    work: record(helper.getNode('work')), acked: record(helper.getNode('acked')) };
  await waitStatus(n.sub, connected);
  await waitStatus(n.pub, connected);
  await sleep(CONSUMER_SETUP_MS);
  return n;
}

test('manual ack: acked messages stay done, unacked ones come again after the ack wait, nak redelivers', async () => {
  const ackWaitMs = 2000;
  const n = await loadManual('ack-a', ackWaitMs / 1000);
  const arrived = new Map(); // message → arrival time
  helper.getNode('work').on('input', (msg) => arrived.set(msg, Date.now()));
  const failures = () => `; ack node errors: ${JSON.stringify(errorsOf(n.ack).map((e) => e.code))}`;
  for (const name of ['a', 'b', 'c']) n.pub.receive({ payload: { name } });
  await until(() => n.work.length >= 3, 10000, 'three deliveries');
  const first = Object.fromEntries(n.work.slice(0, 3).map((m) => [m.payload.name, m]));
  for (const m of Object.values(first)) {
    assert.equal(typeof m.cluster.ackId, 'string', 'manual mode puts the ack reference on the message');
    assert.equal(m.cluster.redelivered, false);
  }
  n.ack.receive(first.a);                                     // processed
  n.ack.receive(Object.assign({}, first.b, { ack: 'nak' }));  // refused: again at once
  // c: never acknowledged
  await until(() => n.acked.length === 2, 5000, `ack node passes both on${failures()}`);
  assert.deepEqual(n.acked.map((m) => m.payload.name).sort(), ['a', 'b']);

  // b's redelivery has an ack wait of its own, which ends just after c's (it began a few ms later):
  // settle it as soon as it comes, or the server sends it a third time meanwhile and the ack of this
  // delivery is rightly refused as no longer pending.
  const redelivery = (name) => () => n.work.slice(3).find((m) => m.payload.name === name);
  const b2 = await until(redelivery('b'), 5000, 'b redelivered after the nak');
  assert.ok(b2.cluster.redelivered, 'nak: delivered again, flagged');
  n.ack.receive(b2);
  const c2 = await until(redelivery('c'), 10000, 'c redelivered after the ack wait');
  assert.ok(c2.cluster.redelivered, 'not acked in time: delivered again, flagged');
  // Measured between the arrivals (the first one's hand-over may lag a busy event loop), so the
  // margin is for scheduling only: a nak'd message comes within milliseconds.
  const waited = arrived.get(c2) - arrived.get(first.c);
  assert.ok(waited >= ackWaitMs - 500, `c waited for the ack wait: ${waited} ms`);
  n.ack.receive(c2);
  await until(() => n.acked.length === 4, 5000, `redeliveries acked${failures()}`);
  const before = n.work.length;
  await sleep(ackWaitMs + 1000); // every delivery settled more than an ack wait ago by then
  assert.equal(n.work.length, before, `nothing redelivered after acks: ${JSON.stringify(n.work.slice(before).map((m) => m.payload))}`);
  assert.equal(n.work.filter((m) => m.payload.name === 'a').length, 1, 'a acked at once: delivered once');
  assert.deepEqual(errorsOf(n.ack), []);
});

test('nak with a delay: the message comes back after the delay, not before', async () => {
  const n = await loadManual('ack-b', 30);
  n.pub.receive({ payload: { name: 'x' } });
  await until(() => n.work.length === 1, 10000, 'delivery');
  const t0 = Date.now();
  n.ack.receive(Object.assign({}, n.work[0], { ack: 'nak', nakDelay: 1500 }));
  await until(() => n.work.length === 2, 10000, 'redelivery after the nak delay');
  const waited = Date.now() - t0;
  assert.ok(waited >= 1300, `redelivered after ${waited} ms`);
  assert.equal(n.work[1].cluster.redelivered, true);
  n.ack.receive(n.work[1]);
  await until(() => n.acked.length === 2, 5000, 'acked');
});

test('cluster ack: bad input gives a clear error on the node and the message is not passed on', async () => {
  const n = await loadManual('ack-c', 30);
  n.pub.receive({ payload: { name: 'y' } });
  await until(() => n.work.length === 1, 10000, 'delivery');
  const m = n.work[0];
  n.ack.receive({ payload: 'no cluster metadata' });
  n.ack.receive({ payload: 1, cluster: { ackId: 'garbage' } });
  n.ack.receive(Object.assign({}, m, { ack: 'term' }));
  n.ack.receive(Object.assign({}, m, { ack: 'maybe' }));
  n.ack.receive(Object.assign({}, m, { ack: 'nak', nakDelay: 'soon' }));
  n.ack.receive({ payload: 2, cluster: { ackId: 'nosuchnode/abcdef/1' } });
  const parts = m.cluster.ackId.split('/');
  n.ack.receive({ payload: 3, cluster: { ackId: `${parts[0]}/000000000000/${parts[2]}` } }); // earlier run
  const codes = await until(() => {
    const e = errorsOf(n.ack);
    return e.length >= 7 ? e.map((x) => x.code) : null;
  }, 5000, 'seven errors');
  assert.deepEqual(codes, ['NO_ACK_ID', 'INVALID_ACK_ID', 'UNSUPPORTED', 'INVALID_ACTION', 'INVALID_DELAY', 'SUBSCRIBER_GONE', 'STALE_DELIVERY']);
  for (const args of callsOf(n.ack, 'error')) {
    assert.ok(args[0] instanceof Error && args[0].message.length > 0);
    assert.ok(args[1] && typeof args[1] === 'object', 'the message travels with the error (Catch node)');
  }
  assert.equal(n.acked.length, 0);
  // A valid ack still works after all that, and a second ack of the same delivery is refused.
  n.ack.receive(m);
  await until(() => n.acked.length === 1, 5000, 'ack');
  n.ack.receive(m);
  await until(() => errorsOf(n.ack).length === 8, 5000, 'double ack refused');
  assert.equal(errorsOf(n.ack)[7].code, 'NOT_PENDING');
});

test('messages of an auto-ack subscribe node cannot be acked again; ack ids only in manual mode', async () => {
  const flow = manualFlow('ack-d', 30, { ackMode: undefined }); // an original-plugin subscribe node
  await helper.load(NODES, flow);
  const sub = helper.getNode('sub');
  const pub = helper.getNode('pub');
  const ack = helper.getNode('acknode');
  const work = record(helper.getNode('work'));
  await waitStatus(sub, connected);
  await sleep(CONSUMER_SETUP_MS);
  assert.equal(sub.ackMode, 'auto');
  pub.receive({ payload: 1 });
  await until(() => work.length === 1, 10000, 'delivery');
  assert.equal(work[0].cluster.ackId, undefined);
  // A forged reference to an auto node is refused with a clear error.
  ack.receive({ payload: 1, cluster: { ackId: `sub/${sub.ackSession}/1` } });
  await until(() => errorsOf(ack).length === 1, 5000, 'error');
  assert.equal(errorsOf(ack)[0].code, 'NOT_MANUAL');
});

test('unacked messages survive a redeploy: the new run delivers them again and an old ack id is refused', async () => {
  const n = await loadManual('ack-e', 2);
  n.pub.receive({ payload: { name: 'z' } });
  await until(() => n.work.length === 1, 10000, 'delivery');
  const old = n.work[0];
  await helper.unload();
  // Same flow again (a restart): the consumer is kept, and the unacked message comes again at once
  // (the cluster layer re-creates the consumer at its ack floor), flagged.
  await helper.load(NODES, manualFlow('ack-e', 2));
  const work = record(helper.getNode('work'));
  const ack = helper.getNode('acknode');
  const acked = record(helper.getNode('acked'));
  await until(() => work.length === 1, 10000, 'redelivery after restart');
  assert.deepEqual(work[0].payload, { name: 'z' });
  assert.equal(work[0].cluster.redelivered, true);
  ack.receive(old);
  await until(() => errorsOf(ack).length === 1, 5000, 'stale ack refused');
  assert.equal(errorsOf(ack)[0].code, 'STALE_DELIVERY');
  ack.receive(work[0]);
  await until(() => acked.length === 1, 5000, 'ack of the new delivery');
});
