'use strict';
// Subscribe nodes with "Delivery: one instance of group" in a real Node-RED runtime against a real
// nats-server: three instances (config nodes) share the messages, each message is output once; the
// default group name; discovery lists the group; a bad group name is a clear error.
const test = require('node:test');
const assert = require('node:assert/strict');
const helper = require('node-red-node-test-helper');
const configNode = require('../nodes/cluster-config.js');
const publishNode = require('../nodes/cluster-publish.js');
const subscribeNode = require('../nodes/cluster-subscribe.js');
const { useNatsAndNodeRed, connected, CONSUMER_SETUP_MS } = require('./support/runtime');
const F = require('./support/flows');
const { collect, until, callsOf, statusOf, waitStatus } = require('./support/util');

const NODES = [configNode, publishNode, subscribeNode];
const nats = useNatsAndNodeRed({ user: 'nodered', password: 'your_password_here' });
const login = { natsUser: 'nodered', natsPass: 'your_password_here' };

test('three instances in one group: each message is output by exactly one of them', async () => {
  const N = 60;
  const flow = [F.tab, F.config('cp', 'producer', nats.server.address), F.publisher('pub', 'cp', 'jobs.new')];
  const creds = { cp: login };
  for (const i of [1, 2, 3]) {
    flow.push(F.config(`c${i}`, `worker-${i}`, nats.server.address));
    // No group name: the default one (root + patterns) makes the three nodes one group.
    flow.push(F.subscriber(`s${i}`, `c${i}`, 'producer.jobs.>', [`out${i}`], { delivery: 'group', group: '' }));
    flow.push(F.sink(`out${i}`));
    creds[`c${i}`] = login;
  }
  await helper.load(NODES, flow, creds);
  const subs = [1, 2, 3].map((i) => helper.getNode(`s${i}`));
  const got = [];
  for (const i of [1, 2, 3]) helper.getNode(`out${i}`).on('input', (m) => got.push(m));
  for (const s of subs) await waitStatus(s, connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  assert.ok(subs.every((s) => s.group === 'nodered-cluster_producer_jobs_all'), subs.map((s) => s.group).join());

  const pub = helper.getNode('pub');
  for (let i = 0; i < N; i++) pub.receive({ payload: { i } });
  await until(() => got.length >= N, 20000, 'all jobs output');
  await new Promise((r) => setTimeout(r, 1000)); // a second output of any job would show up now
  const all = got;
  assert.equal(all.length, N);
  assert.deepEqual(all.map((m) => m.payload.i).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
  assert.ok(all.every((m) => m.cluster.group === 'nodered-cluster_producer_jobs_all' && !m.cluster.redelivered));

  // Discovery (admin endpoint) shows the group and its three members.
  const disc = await until(async () => {
    const r = await helper.request().get('/cluster/discovery/c1');
    const g = (r.body.groups || []).find((x) => x.group === 'nodered-cluster_producer_jobs_all');
    return g && g.members.length === 3 ? g : null;
  }, 10000, 'group in discovery');
  assert.deepEqual(disc.members.sort(), ['worker-1', 'worker-2', 'worker-3']);
  assert.equal(disc.patterns, 'producer.jobs.>');
});

test('flows without the delivery property (the original plugin) deliver to every instance', async () => {
  const flow = [F.tab, F.config('cp', 'producer2', nats.server.address), F.publisher('pub', 'cp', 'all.x'),
    F.config('ca', 'every-a', nats.server.address), F.subscriber('sa', 'ca', 'producer2.all.>', ['oa']), F.sink('oa'),
    F.config('cb', 'every-b', nats.server.address), F.subscriber('sb', 'cb', 'producer2.all.>', ['ob']), F.sink('ob')];
  await helper.load(NODES, flow, { cp: login, ca: login, cb: login });
  const sa = helper.getNode('sa');
  const sb = helper.getNode('sb');
  await waitStatus(sa, connected);
  await waitStatus(sb, connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  assert.equal(sa.group, '');
  const both = Promise.all([collect(helper.getNode('oa'), 1), collect(helper.getNode('ob'), 1)]);
  helper.getNode('pub').receive({ payload: 'both' });
  const [a, b] = await both;
  assert.equal(a[0].payload, 'both');
  assert.equal(b[0].payload, 'both');
});

test('a bad group name is a clear error on the node; Node-RED keeps running', async () => {
  const flow = [F.tab, F.config('cg', 'bad-group', nats.server.address),
    F.subscriber('sg', 'cg', 'x.>', [], { delivery: 'group', group: 'a.b*' })];
  await helper.load(NODES, flow, { cg: login });
  const sg = helper.getNode('sg');
  await until(() => statusOf(sg) && statusOf(sg).fill === 'red', 5000, 'red status');
  assert.ok(callsOf(sg, 'error').some((a) => /error\.group|invalid group/.test(String(a[0]))), 'a group error');
});
