'use strict';
// The three nodes in a real Node-RED runtime (node-red-node-test-helper) against a real nats-server.
const test = require('node:test');
const assert = require('node:assert/strict');
const helper = require('node-red-node-test-helper');
const configNode = require('../nodes/cluster-config.js');
const publishNode = require('../nodes/cluster-publish.js');
const subscribeNode = require('../nodes/cluster-subscribe.js');
const { startServer } = require('./support/nats-server');
const { useNatsAndNodeRed, connected, CONSUMER_SETUP_MS } = require('./support/runtime');
const F = require('./support/flows');
const { collect, until, callsOf, statusOf, waitStatus } = require('./support/util');

const NODES = [configNode, publishNode, subscribeNode];

const nats = useNatsAndNodeRed({ user: 'nodered', password: 'your_password_here' });

test('a flow in the original plugin format loads and exchanges messages', async () => {
  const flow = F.originalFlow(nats.server.address); // its debug node became a helper node we can listen to
  await helper.load(NODES, flow);
  const pubD = helper.getNode('pub0000000000001');
  const pubE = helper.getNode('pub0000000000002');
  const sub = helper.getNode('sub0000000000001');
  const out = helper.getNode('dbg0000000000001');
  await waitStatus(sub, connected);
  await waitStatus(pubD, connected);
  // The durable consumer ("start at new messages") is created right after the connection is up.
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  const got = collect(out, 2);
  pubD.receive({ payload: { celsius: 21.5 } });
  pubE.receive({ payload: 'open' });
  const msgs = await got;
  const byTopic = Object.fromEntries(msgs.map((m) => [m.topic, m]));
  assert.deepEqual(byTopic['nodered-cluster.field-a.sensors.temperature'].payload, { celsius: 21.5 });
  assert.equal(byTopic['nodered-cluster.field-a.commands.opengate'].payload, 'open');
  const t = byTopic['nodered-cluster.field-a.sensors.temperature'].cluster;
  assert.equal(t.sourceInstance, 'field-a');
  assert.equal(t.relativeSubject, 'field-a.sensors.temperature');
  assert.ok(t.streamSequence > 0, 'durable messages carry their stream sequence');
});

test('legacy plain-text natsUser/natsPass move to the credential store', async () => {
  const flow = F.originalFlow(nats.server.address);
  await helper.load(NODES, flow);
  const cfg = helper.getNode('c0nf000000000001');
  const creds = helper._redNodes.getCredentials('c0nf000000000001');
  assert.equal(creds.natsUser, 'nodered');
  assert.equal(creds.natsPass, 'your_password_here');
  assert.ok(callsOf(cfg, 'warn').some((a) => /legacy-credentials|credential store/.test(String(a[0]))));
});

test('credentials from the credential store, subject from msg.topic, done() when stored', async () => {
  const flow = [F.tab, F.config('cfg', 'node-b', nats.server.address),
    F.publisher('pub', 'cfg', ''), F.subscriber('sub', 'cfg', 'node-b.dyn.>', ['out']), F.sink('out')];
  await helper.load(NODES, flow, { cfg: { natsUser: 'nodered', natsPass: 'your_password_here' } });
  const pub = helper.getNode('pub');
  await waitStatus(helper.getNode('sub'), connected);
  const got = collect(helper.getNode('out'), 2);
  pub.receive({ topic: 'dyn.one', payload: 1 });
  pub.receive({ subject: 'dyn.two', payload: [2] });
  const msgs = await got;
  assert.deepEqual(msgs.map((m) => m.topic).sort(), ['nodered-cluster.node-b.dyn.one', 'nodered-cluster.node-b.dyn.two']);
  assert.deepEqual(msgs.find((m) => m.topic.endsWith('two')).payload, [2]);
});

test('bad input gives a clear error on the node, never a crash', async () => {
  const flow = [F.tab, F.config('cfg', 'node-c', nats.server.address), F.publisher('pub', 'cfg', ''),
    F.publisher('pub2', 'cfg', 'ok.subject')];
  await helper.load(NODES, flow, { cfg: { natsUser: 'nodered', natsPass: 'your_password_here' } });
  const pub = helper.getNode('pub');
  const pub2 = helper.getNode('pub2');
  await waitStatus(pub, connected);
  const circular = { a: 1 };
  circular.self = circular;
  pub.receive({ payload: 1 });                     // no subject anywhere
  pub.receive({ topic: 'bad..subject', payload: 1 });
  pub.receive({ topic: 'wild.*', payload: 1 });
  pub2.receive({ payload: circular });
  pub2.receive({ payload: 5n });
  pub2.receive({ payload: 'x'.repeat(2 * 1024 * 1024) });  // above the server's max_payload (1 MB)
  const errors = await until(() => {
    const e = callsOf(pub, 'error').concat(callsOf(pub2, 'error'));
    return e.length >= 6 ? e : null;
  }, 10000, 'six errors');
  const texts = errors.map((a) => String(a[0] && a[0].message ? a[0].message : a[0]));
  assert.ok(texts.some((t) => /subject is empty|cluster-publish.error.subject/.test(t)), texts.join('\n'));
  assert.ok(texts.some((t) => /circular/i.test(t)), texts.join('\n'));
  assert.ok(texts.some((t) => /BigInt/i.test(t)), texts.join('\n'));
  assert.ok(errors.some((a) => a[0] && a[0].code === 'PAYLOAD_TOO_LARGE'), texts.join('\n'));
  // the message travels with the error, so a Catch node gets it
  assert.ok(errors.every((a) => a[1] && typeof a[1] === 'object'));
});

test('wrong password and unreachable server show on the status, Node-RED keeps running', async () => {
  const flow = [F.tab, F.config('bad', 'node-d', nats.server.address), F.publisher('pub', 'bad', 'x'),
    F.config('gone', 'node-e', '127.0.0.1:1'), F.publisher('pub2', 'gone', 'x')];
  await helper.load(NODES, flow, { bad: { natsUser: 'nodered', natsPass: 'wrong' } });
  const s = await waitStatus(helper.getNode('pub'), (st) => st.fill === 'red', 15000);
  assert.deepEqual(s, { fill: 'red', shape: 'dot', text: 'login refused: check user/password/token' });
  const s2 = await waitStatus(helper.getNode('pub2'), (st) => st.fill === 'red', 15000);
  assert.match(s2.text, /^NATS unreachable, retrying/);
});

test('credentials that cannot be sent show their cause (not "unreachable") while the connection keeps trying', async () => {
  // cfgc: .creds content that does not parse; cfgn: a valid nkey seed, but this server has no nkey users
  // and sends no nonce to sign. Every attempt fails before a login; retrying alone never helps.
  const SEED = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4';
  const flow = [F.tab, F.config('cfgc', 'node-c1', nats.server.address), F.publisher('pubc', 'cfgc', 'x'),
    F.config('cfgn', 'node-n1', nats.server.address), F.publisher('pubn', 'cfgn', 'x')];
  await helper.load(NODES, flow, { cfgc: { creds: 'not a creds file' }, cfgn: { nkeySeed: SEED } });
  const cases = [['cfgc', 'pubc', 'BAD_CREDENTIALS', 'credentials (.creds) unusable: check their content'],
    ['cfgn', 'pubn', 'NONCE_REQUIRED', 'nkey login impossible: the server offers no nkey authentication']];
  for (const [cfgId, pubId, code, text] of cases) {
    const cfg = helper.getNode(cfgId);
    const pub = helper.getNode(pubId);
    const st = await waitStatus(pub, (x) => x.fill === 'red', 15000);
    assert.deepEqual(st, { fill: 'red', shape: 'dot', text });
    const route = await helper.request().get(`/cluster/status/${cfgId}`).expect(200);
    assert.equal(route.body.status, 'error');
    assert.equal(route.body.state, 'failed');
    assert.equal(route.body.error.code, code);
    // Two more attempts (each a 'disconnected' and a 'reconnecting' event, one every reconnect wait):
    // the cluster has not given up, and each attempt keeps the cause on show.
    const states = [];
    const onStatus = (s) => states.push(`${s.state}/${s.error && s.error.code}`);
    cfg.cluster.on('status', onStatus);
    await until(() => states.length >= 4, 15000, `${cfgId}: further attempts`);
    cfg.cluster.off('status', onStatus);
    assert.deepEqual(new Set(states), new Set([`failed/${code}`]));
    assert.deepEqual(statusOf(pub), { fill: 'red', shape: 'dot', text });
  }
});

test('a TLS mismatch shows as a TLS problem on the node, not as "unreachable"', async () => {
  // tls:// to this plain server: the handshake gets a NATS INFO line instead of TLS.
  const flow = [F.tab, F.config('cfgt', 'node-t1', `tls://${nats.server.address}`), F.publisher('pubt', 'cfgt', 'x')];
  await helper.load(NODES, flow, { cfgt: { natsUser: 'nodered', natsPass: 'your_password_here' } });
  const st = await waitStatus(helper.getNode('pubt'), (x) => x.fill === 'red', 15000);
  assert.deepEqual(st, { fill: 'red', shape: 'dot', text: 'TLS problem: check the TLS settings' });
  const route = await helper.request().get('/cluster/status/cfgt').expect(200);
  assert.equal(route.body.error.code, 'TLS_ERROR');
  assert.match(route.body.error.message, /TLS/);
});

test('observer: publish nodes are grey and discard with a warning', async () => {
  const flow = [F.tab, F.config('obs', 'watcher', nats.server.address, { role: 'Observer' }),
    F.publisher('pub', 'obs', 'x.y'), F.subscriber('sub', 'obs', '*.x.>', ['out']), F.sink('out')];
  await helper.load(NODES, flow, { obs: { natsUser: 'nodered', natsPass: 'your_password_here' } });
  const pub = helper.getNode('pub');
  await waitStatus(pub, (st) => st.fill === 'grey');
  pub.receive({ payload: 1 });
  await until(() => callsOf(pub, 'warn').length > 0, 3000, 'observer warning');
  assert.equal(callsOf(pub, 'error').length, 0);
});

test('admin endpoints: the original plugin\'s shapes plus ours, test connection; no secrets', async () => {
  // Two instances with endpoints, and a third configuration whose secrets the server does not accept; a
  // root of their own, so no instance of another test shows up.
  const ROOT = '/admin-shapes';
  const SECRETS = { token: 'tok-secret-4711', nkeySeed: 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4', creds: 'creds-secret-0815' };
  const flow = [F.tab,
    F.config('cfg', 'node-f', nats.server.address, { zkRootPath: ROOT }),
    F.publisher('pub', 'cfg', 'metrics.cpu'),
    F.publisher('pube', 'cfg', 'alerts.door', { mode: 'Ephemeral', ttl: 5 }),
    F.subscriber('sub', 'cfg', '*.metrics.>', ['out']), F.sink('out'),
    F.config('cfg2', 'node-g', `nats://nodered:your_password_here@${nats.server.address}`, { zkRootPath: ROOT, role: 'Observer' }),
    F.subscriber('sub2', 'cfg2', 'node-f.>', ['out2']), F.sink('out2'),
    F.config('cfg3', 'node-h', nats.server.address, { zkRootPath: ROOT }),
    F.config('cfg4', 'node-i', nats.server.address, { zkRootPath: ROOT })];
  await helper.load(NODES, flow, {
    cfg: { natsUser: 'nodered', natsPass: 'your_password_here' },
    cfg3: { natsUser: 'nodered', natsPass: 'your_password_here', token: SECRETS.token },
    cfg4: Object.assign({ natsUser: 'nodered', natsPass: 'your_password_here' }, SECRETS),
  });
  await waitStatus(helper.getNode('sub'), connected);
  await waitStatus(helper.getNode('sub2'), connected);
  const got = collect(helper.getNode('out'), 1);
  helper.getNode('pub').receive({ payload: 0.5 });
  await got;

  // status: {status, params} exactly as the original, then ours.
  const st = await helper.request().get('/cluster/status/cfg').expect(200).expect('Content-Type', /json/);
  assert.equal(st.body.status, 'connected');
  assert.deepEqual(st.body.params, { natsAddress: nats.server.address, instanceId: 'node-f', rootPath: ROOT, role: 'Member', tls: false, auth: 'user' });
  assert.equal(st.body.instanceId, 'node-f');
  assert.equal(st.body.state, 'connected');
  assert.equal(st.body.connected, true);
  assert.deepEqual(st.body.nodeStatus, { fill: 'green', shape: 'dot', text: 'connected' });
  assert.equal(typeof st.body.outboxMessages, 'number');
  const st2 = await helper.request().get('/cluster/status/cfg2').expect(200);
  assert.deepEqual(st2.body.params, { natsAddress: `nats://${nats.server.address}`, instanceId: 'node-g', rootPath: ROOT, role: 'Observer', tls: false, auth: 'url' });
  // cfg3 logs in with the token (before user/password in the client's order), which the server refuses:
  // 'error'. cfg4 sends the creds (first in that order, before the nkey seed).
  let last3 = null;
  const st3 = await until(async () => {
    last3 = await helper.request().get('/cluster/status/cfg3');
    return last3.body.status === 'error' ? last3 : null;
  }, 15000, 'cfg3 failed').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last3 && last3.body)}`); });
  assert.equal(st3.body.state, 'failed');
  assert.equal(st3.body.params.auth, 'token');
  assert.ok(st3.body.error && st3.body.error.code, JSON.stringify(st3.body));
  const st4 = await helper.request().get('/cluster/status/cfg4').expect(200);
  assert.equal(st4.body.params.auth, 'creds');
  const nf = await helper.request().get('/cluster/status/nope').expect(404).expect('Content-Type', /json/);
  assert.equal(nf.body.error, 'not_found');
  assert.equal((await helper.request().get('/cluster/members/nope').expect(404)).body.error, 'not_found');
  assert.equal((await helper.request().get('/cluster/discovery/nope').expect(404)).body.error, 'not_found');

  // members: {members: [ids]} + our per-instance details.
  const members = await helper.request().get('/cluster/members/cfg').expect(200);
  assert.deepEqual(Object.keys(members.body).sort(), ['instances', 'members']);
  assert.deepEqual(members.body.members, ['node-f', 'node-g']);
  assert.equal(members.body.instances['node-f'].self, true);
  assert.equal(members.body.instances['node-g'].self, false);
  assert.equal(members.body.instances['node-g'].role, 'Observer');
  assert.equal(members.body.instances['node-g'].online, true);
  assert.ok(members.body.instances['node-g'].lastSeen > 0);

  // discovery: {instances: {id: {natsAddress, role}}, endpoints: {id: [relative subjects]}} + ours.
  const disc = await until(async () => {
    const r = await helper.request().get('/cluster/discovery/cfg2');
    return r.body.endpoints && r.body.endpoints['node-f'] && r.body.endpoints['node-f'].length === 2 ? r : null;
  }, 10000, 'both endpoints in discovery');
  const d = disc.body;
  assert.deepEqual(Object.keys(d.instances).sort(), ['node-f', 'node-g']);
  assert.equal(d.instances['node-f'].natsAddress, nats.server.address);
  assert.equal(d.instances['node-f'].role, 'Member');
  assert.equal(d.instances['node-g'].natsAddress, `nats://${nats.server.address}`, 'URL credentials are not shown');
  assert.equal(d.instances['node-g'].role, 'Observer');
  assert.deepEqual(d.endpoints, { 'node-f': ['alerts.door', 'metrics.cpu'], 'node-g': [] });
  assert.equal(d.instances['node-f'].online, true);
  assert.equal(d.instances['node-f'].legacy, false);
  assert.equal(d.instances['node-g'].self, true);
  assert.deepEqual(d.endpointDetails['node-f'], [
    { subject: 'alerts.door', mode: 'Ephemeral', ttl: 5 }, { subject: 'metrics.cpu', mode: 'Durable', ttl: 0 }]); // a durable endpoint has no TTL
  assert.ok(d.subjects.includes('node-f.metrics.cpu') && d.subjects.includes('*.metrics.cpu'), d.subjects.join(' '));

  const ok = await helper.request().post('/cluster/testconnection')
    .send({ id: 'cfg', natsAddress: nats.server.address, credentials: { natsUser: 'nodered', natsPass: '__PWRD__' } }).expect(200);
  assert.equal(ok.body.code, 'ok', JSON.stringify(ok.body));
  const bad = await helper.request().post('/cluster/testconnection')
    .send({ natsAddress: nats.server.address, credentials: { natsUser: 'nodered', natsPass: 'nope' } }).expect(200);
  assert.equal(bad.body.code, 'auth_failed', JSON.stringify(bad.body));
  const gone = await helper.request().post('/cluster/testconnection')
    .send({ natsAddress: '127.0.0.1:1', timeout: 1500 }).expect(200);
  assert.equal(gone.body.code, 'unreachable', JSON.stringify(gone.body));
  const tls = await helper.request().post('/cluster/testconnection')
    .send({ natsAddress: `tls://${nats.server.address}`, timeout: 3000 }).expect(200);
  assert.equal(tls.body.code, 'tls', JSON.stringify(tls.body));
  // Credentials that cannot be used at all are a login problem, not TLS: an nkey seed against this
  // server (no nkey users: it sends no nonce) and a .creds content that does not parse.
  const nkey = await helper.request().post('/cluster/testconnection')
    .send({ natsAddress: nats.server.address, credentials: { nkeySeed: SECRETS.nkeySeed } }).expect(200);
  assert.equal(nkey.body.code, 'auth_failed', JSON.stringify(nkey.body));
  assert.match(nkey.body.message, /nonce/);
  const creds = await helper.request().post('/cluster/testconnection')
    .send({ natsAddress: nats.server.address, credentials: { creds: 'not a creds file' } }).expect(200);
  assert.equal(creds.body.code, 'auth_failed', JSON.stringify(creds.body));

  const all = [st, st2, st3, st4, members, disc, ok, bad, gone, tls, nkey, creds]
    .concat(await Promise.all(['cfg2', 'cfg3', 'cfg4'].flatMap((c) => ['members', 'discovery'].map((r) => helper.request().get(`/cluster/${r}/${c}`)))));
  for (const r of all) {
    const text = JSON.stringify(r.body);
    for (const secret of ['your_password_here', SECRETS.token, SECRETS.nkeySeed, SECRETS.creds]) {
      assert.ok(!text.includes(secret), `no secret in admin responses: ${text}`);
    }
  }
});

test('durable messages published while a subscriber was away are delivered in order when it returns', async () => {
  const N = 300;
  const flowA = [F.tab, F.config('ca', 'pub-a', nats.server.address), F.publisher('pub', 'ca', 'orders.new')];
  const flowAB = flowA.concat([F.config('cb', 'sub-b', nats.server.address), F.subscriber('sub', 'cb', 'pub-a.orders.>', ['out']), F.sink('out')]);
  const creds = { ca: { natsUser: 'nodered', natsPass: 'your_password_here' }, cb: { natsUser: 'nodered', natsPass: 'your_password_here' } };
  await helper.load(NODES, flowAB, creds);
  await waitStatus(helper.getNode('sub'), connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  // Node-RED stops (the subscriber is not deleted, so its consumer stays) and comes back without it.
  await helper.unload();
  await helper.load(NODES, flowA, creds);
  const pub = helper.getNode('pub');
  await waitStatus(pub, connected);
  for (let i = 0; i < N; i++) pub.receive({ payload: { i } });
  await until(() => pub.inFlight === 0, 20000, 'publishes acknowledged');
  assert.equal(callsOf(pub, 'error').length, 0);
  // The subscriber instance comes back (same node id: same durable consumer).
  await helper.unload();
  await helper.load(NODES, flowAB, creds);
  const sub = helper.getNode('sub');
  const sent = await until(() => { const c = callsOf(sub, 'send'); return c.length >= N ? c : null; }, 20000, 'replayed messages');
  assert.deepEqual(sent.map((a) => a[0].payload.i), Array.from({ length: N }, (_, i) => i));
});

test('deleting a subscribe node removes its consumer; redeploying keeps it', async () => {
  const flow = [F.tab, F.config('cc', 'keeper', nats.server.address), F.subscriber('sk', 'cc', 'x.>', []), F.subscriber('sd', 'cc', 'y.>', [])];
  const creds = { cc: { natsUser: 'nodered', natsPass: 'your_password_here' } };
  await helper.load(NODES, flow, creds);
  await waitStatus(helper.getNode('sk'), connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  const consumers = async () => {
    const r = await require('./support/jsapi').consumerNames(nats.server, 'nodered', 'your_password_here', 'NODERED_CLUSTER');
    return r.filter((n) => n.startsWith('keeper_'));
  };
  assert.deepEqual((await consumers()).sort(), ['keeper_sd', 'keeper_sk']);
  // modified-nodes deploy without sd: sd is deleted (consumer removed), sk is kept
  await helper.setFlows(flow.filter((n) => n.id !== 'sd'), 'nodes', creds);
  await until(async () => (await consumers()).length === 1, 10000, 'consumer removed');
  assert.deepEqual(await consumers(), ['keeper_sk']);
});

test('redeploys (full, flows, nodes) are quick and keep working', async () => {
  const flow = [F.tab, F.config('cr', 'redeploy', nats.server.address), F.publisher('pr', 'cr', 'r.x'),
    F.subscriber('sr', 'cr', 'redeploy.r.>', ['outr']), F.sink('outr')];
  const creds = { cr: { natsUser: 'nodered', natsPass: 'your_password_here' } };
  await helper.load(NODES, flow, creds);
  for (const type of ['full', 'flows', 'nodes']) {
    const changed = flow.map((n) => (n.id === 'pr' ? Object.assign({}, n, { name: `after ${type}` }) : n));
    const t0 = Date.now();
    await helper.setFlows(type === 'full' ? flow : changed, type, creds);
    assert.ok(Date.now() - t0 < 8000, `${type} deploy took ${Date.now() - t0} ms`);
  }
  await waitStatus(helper.getNode('sr'), connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  const got = collect(helper.getNode('outr'), 1);
  helper.getNode('pr').receive({ payload: 'still works' });
  assert.equal((await got)[0].payload, 'still works');
});

test('NATS down while publishing: messages wait in the outbox (shown on the status) and arrive after', async () => {
  const N = 50;
  const flow = [F.tab, F.config('co', 'outbox', nats.server.address), F.publisher('po', 'co', 'o.x'),
    F.subscriber('so', 'co', 'outbox.o.>', ['outo']), F.sink('outo')]; // wired: Node-RED skips send() spies on unwired nodes
  const creds = { co: { natsUser: 'nodered', natsPass: 'your_password_here' } };
  await helper.load(NODES, flow, creds);
  const po = helper.getNode('po');
  await waitStatus(helper.getNode('so'), connected);
  await new Promise((r) => setTimeout(r, CONSUMER_SETUP_MS));
  const { port, storeDir } = nats.server;
  await nats.server.stop('SIGKILL');
  await waitStatus(po, (s) => s.fill === 'red', 15000);
  for (let i = 0; i < N; i++) po.receive({ payload: { i } });
  const waiting = await waitStatus(po, (s) => /waiting/.test(s.text), 5000);
  assert.match(waiting.text, /NATS unreachable.*\d+ messages? waiting/);
  nats.server = await startServer({ port, storeDir, user: 'nodered', password: 'your_password_here' });
  const so = helper.getNode('so');
  const sent = await until(() => { const c = callsOf(so, 'send'); return c.length >= N ? c : null; }, 30000, 'messages after NATS came back');
  assert.deepEqual(sent.map((a) => a[0].payload.i), Array.from({ length: N }, (_, i) => i));
  await waitStatus(po, (s) => s.fill === 'green' && s.shape === 'dot', 15000);
});
