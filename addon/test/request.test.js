'use strict';
// Cluster request / request in / response nodes in a real Node-RED runtime against a real nats-server:
// round trip with headers, a chosen instance, a responder group, and the errors (no responders,
// timeout, response without a request, unserialisable payload) as clear errors with codes.
const test = require('node:test');
const assert = require('node:assert/strict');
const helper = require('node-red-node-test-helper');
const configNode = require('../nodes/cluster-config.js');
const requestNode = require('../nodes/cluster-request.js');
const requestInNode = require('../nodes/cluster-request-in.js');
const responseNode = require('../nodes/cluster-response.js');
const { useNatsAndNodeRed, connected } = require('./support/runtime');
const F = require('./support/flows');
const { collect, until, callsOf, waitStatus, statusOf } = require('./support/util');

const NODES = [configNode, requestNode, requestInNode, responseNode];
const nats = useNatsAndNodeRed({ user: 'nodered', password: 'your_password_here' });
const login = { natsUser: 'nodered', natsPass: 'your_password_here' };

const req = (id, cfg, subject, wires, extra = {}) => Object.assign({ id, type: 'ClusterRequestNode', z: 'tab1', name: '',
  clusterConfig: cfg, subject, target: 'any', timeout: 5, wires: [wires] }, extra);
const reqIn = (id, cfg, subject, wires, extra = {}) => Object.assign({ id, type: 'ClusterRequestInNode', z: 'tab1', name: '',
  clusterConfig: cfg, subject, group: '', wires: [wires] }, extra);
const resp = (id) => ({ id, type: 'ClusterResponseNode', z: 'tab1', name: '', wires: [] });

// A requester instance and two responder instances; each responder echoes the request back.
function flow() {
  return [F.tab,
    F.config('ca', 'asker', nats.server.address), F.config('c1', 'srv-1', nats.server.address),
    F.config('c2', 'srv-2', nats.server.address),
    req('rq', 'ca', 'echo', ['out']), F.sink('out'),
    req('rqi', 'ca', 'echo', ['outi'], { target: 'instance', instance: 'srv-2' }), F.sink('outi'),
    req('rqg', 'ca', 'echo', ['outg'], { target: 'group', group: 'fast' }), F.sink('outg'),
    req('rqn', 'ca', 'nobody.home', []),
    req('rqs', 'ca', 'slow', []),
    reqIn('in1', 'c1', 'echo', ['re1', 'seen']), resp('re1'),
    reqIn('in2', 'c2', 'echo', ['re2', 'seen'], { group: 'fast' }), resp('re2'), F.sink('seen'),
    reqIn('ins', 'c1', 'slow', []), // never answered
    resp('stray'),
  ];
}

async function loaded() {
  await helper.load(NODES, flow(), { ca: login, c1: login, c2: login });
  for (const id of ['in1', 'in2', 'ins']) await waitStatus(helper.getNode(id), connected);
  await until(() => helper.getNode('ca').cluster && helper.getNode('ca').cluster.status().connected, 10000, 'asker connected');
}

const errorCodes = (node) => callsOf(node, 'error').map((a) => a[0] && a[0].code);

test('a request is answered, by a chosen instance or a responder group, headers both ways', async () => {
  await loaded();
  const got = collect(helper.getNode('out'), 1);
  const seen = collect(helper.getNode('seen'), 1);
  helper.getNode('rq').receive({ payload: { q: 1 }, headers: { 'X-Trace': 't1' } });
  const [m] = await got;
  assert.deepEqual(m.payload, { q: 1 });
  assert.ok(['srv-1', 'srv-2'].includes(m.cluster.responder));
  assert.equal(m.cluster.subject, 'echo');
  assert.equal(m.cluster.headers['Nats-Cluster-From'], m.cluster.responder); // the answer's headers
  const [q] = await seen; // what the responding flow got
  assert.equal(q.cluster.headers['X-Trace'], 't1');
  assert.equal(q.cluster.sourceInstance, 'asker');
  assert.match(q.cluster.requestId, /^in[12]\//);

  const inst = collect(helper.getNode('outi'), 3);
  for (let i = 0; i < 3; i++) helper.getNode('rqi').receive({ payload: i });
  assert.deepEqual((await inst).map((x) => x.cluster.responder), ['srv-2', 'srv-2', 'srv-2']);

  const grp = collect(helper.getNode('outg'), 2);
  helper.getNode('rqg').receive({ payload: 'a' });
  helper.getNode('rqg').receive({ payload: 'b', group: 'fast' });
  assert.deepEqual((await grp).map((x) => x.cluster.responder), ['srv-2', 'srv-2']);
});

test('no responders, timeout, response without a request, bad payload: errors with codes', async () => {
  await loaded();
  helper.getNode('rqn').receive({ payload: 1 });
  await until(() => errorCodes(helper.getNode('rqn')).includes('NO_RESPONDERS'), 10000, 'NO_RESPONDERS');
  helper.getNode('rqs').receive({ payload: 1, timeout: 300 });
  await until(() => errorCodes(helper.getNode('rqs')).includes('TIMEOUT'), 10000, 'TIMEOUT');
  const circular = {};
  circular.self = circular;
  helper.getNode('rq').receive({ payload: circular });
  await until(() => errorCodes(helper.getNode('rq')).includes('INVALID_PAYLOAD'), 10000, 'INVALID_PAYLOAD');
  helper.getNode('rqs').receive({ payload: 1, timeout: 'soon' });
  await until(() => errorCodes(helper.getNode('rqs')).includes('INVALID_TIMEOUT'), 10000, 'INVALID_TIMEOUT');
  helper.getNode('stray').receive({ payload: 'answer to nobody' });
  await until(() => errorCodes(helper.getNode('stray')).includes('NO_REQUEST'), 10000, 'NO_REQUEST');
  // Still working after all that.
  const got = collect(helper.getNode('out'), 1);
  helper.getNode('rq').receive({ payload: 'still fine' });
  assert.equal((await got)[0].payload, 'still fine');
});

test('a request in node shows how many requests its flow is answering, until answered or timed out', async () => {
  await loaded();
  const ins = helper.getNode('ins'); // its flow never answers
  helper.getNode('rqs').receive({ payload: 1, timeout: 1500 });
  helper.getNode('rqs').receive({ payload: 2, timeout: 1500 });
  // (The test helper does not translate: the text is the message key; the count is the node's.)
  const busy = await waitStatus(ins, (s) => s.fill === 'blue', 5000);
  assert.match(busy.text, /being answered|status\.open/);
  assert.equal(ins.openRequests, 2);
  // The requesters gave up: nothing is being answered any more.
  await until(() => errorCodes(helper.getNode('rqs')).filter((c) => c === 'TIMEOUT').length >= 2, 10000, 'both timed out');
  const idle = await waitStatus(ins, (s) => s.text === 'connected', 5000);
  assert.equal(idle.fill, 'green');
  assert.equal(ins.openRequests, 0);
  // Answered requests leave the count at once: the echo responder ends at plain "connected".
  const got = collect(helper.getNode('out'), 3);
  for (let i = 0; i < 3; i++) helper.getNode('rq').receive({ payload: i });
  await got;
  await new Promise((r) => setTimeout(r, 400));
  for (const id of ['in1', 'in2']) {
    assert.equal(statusOf(helper.getNode(id)).text, 'connected', `${id} status`);
    assert.equal(helper.getNode(id).openRequests, 0, `${id} count`);
  }
});
