'use strict';
// Unit tests of the pure helpers (no Node-RED, no NATS).
const test = require('node:test');
const assert = require('node:assert/strict');
const c = require('../lib/common');
const { normalizeConfig, parseServers, nextStatus } = require('../lib/backend');

test('payloads are sent as JSON like the original plugin, Buffers raw', () => {
  assert.equal(c.encodePayload({ celsius: 21.5 }).toString(), '{"celsius":21.5}');
  assert.equal(c.encodePayload('open').toString(), '"open"');
  assert.equal(c.encodePayload(42).toString(), '42');
  assert.equal(c.encodePayload(undefined).toString(), 'null');
  const raw = Buffer.from([0xff, 0x00, 0x10]);
  assert.equal(c.encodePayload(raw), raw);
});

test('unserialisable payloads give a clear error with a code', () => {
  const circular = { a: 1 };
  circular.self = circular;
  assert.throws(() => c.encodePayload(circular), (e) => e.code === 'INVALID_PAYLOAD' && /circular/i.test(e.message));
  assert.throws(() => c.encodePayload({ n: 10n }), (e) => e.code === 'INVALID_PAYLOAD' && /BigInt/i.test(e.message));
});

test('received bodies become JSON values, text, or a Buffer', () => {
  assert.deepEqual(c.decodePayload(Buffer.from('{"celsius":21.5}')), { celsius: 21.5 });
  assert.equal(c.decodePayload(Buffer.from('"open"')), 'open');
  assert.equal(c.decodePayload(Buffer.from('plain text')), 'plain text');
  assert.equal(c.decodePayload(Buffer.from('')), '');
  const bin = Buffer.from([0xff, 0xfe, 0x00]);
  assert.ok(Buffer.isBuffer(c.decodePayload(bin)));
  assert.deepEqual(c.decodePayload(bin), bin);
});

test('publish subjects: tokens, no wildcards, no blanks', () => {
  assert.equal(c.checkPublishSubject('sensors.temperature'), null);
  assert.match(c.checkPublishSubject(''), /empty/);
  assert.match(c.checkPublishSubject('a..b'), /empty token/);
  assert.match(c.checkPublishSubject('.a'), /empty token/);
  assert.match(c.checkPublishSubject('a b'), /whitespace/);
  assert.match(c.checkPublishSubject('a.*'), /wildcard/);
  assert.match(c.checkPublishSubject('a.>'), /wildcard/);
});

test('subscribe patterns: comma lists with whole-token wildcards', () => {
  assert.deepEqual(c.splitPatterns('*.sensors.temperature, field-a.commands.>'), ['*.sensors.temperature', 'field-a.commands.>']);
  assert.deepEqual(c.splitPatterns(' , '), []);
  assert.equal(c.checkPattern('*.sensors.>'), null);
  assert.match(c.checkPattern('a.>.b'), /last token/);
  assert.match(c.checkPattern('a.b*'), /whole tokens/);
  assert.match(c.checkPattern('a..b'), /empty token/);
});

test('status words', () => {
  assert.deepEqual(c.statusFor({ state: 'connected', outboxMessages: 0 }), { fill: 'green', shape: 'dot', text: 'connected' });
  assert.equal(c.statusFor({ state: 'connected', outboxMessages: 3 }).shape, 'ring');
  assert.match(c.statusFor({ state: 'reconnecting', outboxMessages: 1 }).text, /unreachable.*1 message waiting/);
  assert.match(c.statusFor({ state: 'failed', error: { code: 'AUTHORIZATION_VIOLATION' } }).text, /login refused/);
  assert.match(c.statusFor({ state: 'failed', error: { code: 'BAD_CREDENTIALS' } }).text, /\.creds/);
  assert.match(c.statusFor({ state: 'failed', error: { code: 'NONCE_REQUIRED' } }).text, /nkey/);
  assert.equal(c.statusFor({ state: 'connected' }, { observerPublish: true }).fill, 'grey');
});

test('status fold: a connect error retrying cannot fix is "failed", an unreachable server is not', () => {
  const idle = { state: 'connecting', error: null, since: 0 };
  const bad = { code: 'BAD_CREDENTIALS', message: 'connect failed: invalid credentials file or JWT' };
  let st = nextStatus(idle, { kind: 'disconnected', error: bad });
  assert.equal(st.state, 'failed');
  st = nextStatus(st, { kind: 'reconnecting', error: { code: 'BAD_CREDENTIALS', message: 'invalid credentials file or JWT: trying x in 2000 ms' } });
  assert.equal(st.state, 'failed');
  assert.equal(st.error.message, bad.message, 'the attempt\'s own text stays');
  assert.equal(nextStatus(st, { kind: 'connected' }).state, 'connected');
  const refused = nextStatus(idle, { kind: 'disconnected', error: { code: 'ECONNREFUSED', message: 'refused' } });
  assert.equal(refused.state, 'disconnected');
  assert.equal(nextStatus(refused, { kind: 'reconnecting', error: { code: 'ECONNREFUSED', message: 'refused' } }).state, 'reconnecting');
  assert.equal(nextStatus(idle, { kind: 'disconnected', error: { code: 'NONCE_REQUIRED', message: 'm' } }).state, 'failed');
});

test('config normalisation', () => {
  assert.deepEqual(parseServers('localhost:4222, tls://b:4443 nats://c'), ['nats://localhost:4222', 'tls://b:4443', 'nats://c']);
  const cfg = normalizeConfig({ instanceId: 'field-a', servers: 'localhost:4222', role: 'Observer' });
  assert.equal(cfg.role, 'observer');
  assert.equal(cfg.rootPath, '/nodered-cluster');
  assert.equal(cfg.natsAddress, 'localhost:4222');
  assert.throws(() => normalizeConfig({ instanceId: 'a.b', servers: 'x' }), (e) => e.code === 'INVALID_CONFIG');
  assert.throws(() => normalizeConfig({ instanceId: 'a', servers: '' }), (e) => e.code === 'INVALID_CONFIG');
  assert.throws(() => normalizeConfig({ instanceId: 'a', servers: 'x', rootPath: 'bad path' }), (e) => e.code === 'INVALID_CONFIG');
});

test('suggestions from discovery', () => {
  const s = c.suggestionsFrom([{ instanceId: 'a', endpoints: [{ subject: 'sensors.t' }] }]);
  assert.deepEqual(s, ['*.sensors.t', 'a.>', 'a.sensors.t']);
});

test('admin answers: our states map onto the original plugin\'s five status words', () => {
  const map = { idle: 'idle', connecting: 'connecting', connected: 'connected', disconnected: 'disconnected',
    reconnecting: 'disconnected', closed: 'disconnected', failed: 'error', whatever: 'error', constructor: 'error' };
  for (const [ours, original] of Object.entries(map)) assert.equal(c.originalStatusOf(ours), original, ours);
});

test('admin answers: the auth kind in the client\'s order, URL credentials never shown', () => {
  assert.equal(c.authKindOf({ creds: 'x', nkeySeed: 'S', token: 't', user: 'u' }), 'creds');
  assert.equal(c.authKindOf({ nkeySeed: 'S', token: 't', user: 'u' }), 'nkey');
  assert.equal(c.authKindOf({ token: 't', user: 'u', password: 'p' }), 'token');
  assert.equal(c.authKindOf({ user: 'u', password: 'p' }), 'user');
  assert.equal(c.authKindOf({}, 'a:1, nats://u:p@b:2'), 'url');
  assert.equal(c.authKindOf({}, 'nats://b:2'), 'none');
  assert.equal(c.withoutUrlCredentials('nats://u:p@a:1,tls://tok@b:2 c:3'), 'nats://a:1,tls://b:2 c:3');
});

test('admin answers: members and discovery have the original plugin\'s shape with ours beside it', () => {
  const list = [
    { instanceId: 'b', role: 'Observer', natsAddress: 'nats://u:p@h:1', presence: 'stale', online: false, lastSeen: 1700000000000, legacy: false, self: true, endpoints: [] },
    { instanceId: 'a', role: 'Member', natsAddress: 'h:1', presence: 'online', online: true, legacy: true,
      endpoints: [{ subject: 'z.y', mode: 'Ephemeral', ttl: 5 }, { subject: 'sensors.t', mode: 'Durable', ttl: 30 }] },
  ];
  assert.deepEqual(c.membersAnswer(list, 'b'), {
    members: ['a', 'b'],
    instances: {
      a: { natsAddress: 'h:1', role: 'Member', presence: 'online', online: true, lastSeen: null, legacy: true, self: false },
      b: { natsAddress: 'nats://h:1', role: 'Observer', presence: 'stale', online: false, lastSeen: 1700000000000, legacy: false, self: true },
    },
  });
  const d = c.discoveryAnswer(list, 'b');
  assert.deepEqual(Object.keys(d), ['instances', 'endpoints', 'endpointDetails', 'subjects', 'groups', 'leaders']);
  assert.deepEqual(d.instances, c.membersAnswer(list, 'b').instances);
  assert.deepEqual(d.endpoints, { a: ['sensors.t', 'z.y'], b: [] });
  assert.deepEqual(d.endpointDetails.a, [{ subject: 'sensors.t', mode: 'Durable', ttl: 30 }, { subject: 'z.y', mode: 'Ephemeral', ttl: 5 }]);
  assert.deepEqual(d.subjects, ['*.sensors.t', '*.z.y', 'a.>', 'a.sensors.t', 'a.z.y', 'b.>']);
  assert.deepEqual(c.discoveryAnswer([], 'x'), { instances: {}, endpoints: {}, endpointDetails: {}, subjects: [], groups: [], leaders: [] });
  assert.deepEqual(c.leadersFrom([
    { instanceId: 'b', leads: [{ group: 'q', token: 7, revision: 9, seen: 5 }] },
    { instanceId: 'a', leads: [{ group: 'p', token: 3, revision: 3, seen: 4 }] },
    { instanceId: 'legacy' },
  ]), [{ group: 'p', instanceId: 'a', token: 3, seen: 4 }, { group: 'q', instanceId: 'b', token: 7, seen: 5 }]);
});

test('sidebar view rows: instances sorted, own subscriptions only, departed ones kept offline with their last seen', () => {
  const { viewRows } = require('../lib/cluster-view');
  const departed = new Map();
  const a = { instanceId: 'a', role: 'Member', natsAddress: 'h:1', presence: 'online', online: true, lastSeen: 1000, endpoints: [{ subject: 'y', mode: 'Durable', ttl: 0 }, { subject: 'x', mode: 'Ephemeral', ttl: 5 }] };
  const b = { instanceId: 'b', role: 'Observer', natsAddress: 'nats://u:p@h:1', presence: 'online', online: true, lastSeen: 2000, self: true, endpoints: [] };
  let rows = viewRows([b, a], departed, 'b', ['a.>']);
  assert.deepEqual(rows.map((r) => r.instanceId), ['a', 'b']);
  assert.deepEqual(rows[0].endpoints.map((e) => e.subject), ['x', 'y']);
  assert.equal(rows[0].subscriptions, null, 'other instances do not announce their subscriptions');
  assert.deepEqual(rows[1].subscriptions, ['a.>']);
  assert.equal(rows[1].natsAddress, 'nats://h:1');
  // a leaves: its entry says offline without a time (keeps 1000 from before), or is gone (kept as "left").
  rows = viewRows([b, Object.assign({}, a, { presence: 'offline', online: false, lastSeen: undefined })], departed, 'b', [], rows);
  assert.deepEqual([rows[0].presence, rows[0].online, rows[0].lastSeen], ['offline', false, 1000]);
  departed.set('a', { instance: a, leftAt: 5000 });
  rows = viewRows([b], departed, 'b', [], rows);
  assert.deepEqual([rows[0].instanceId, rows[0].presence, rows[0].online, rows[0].lastSeen], ['a', 'left', false, 1000]);
  rows = viewRows([b, a], departed, 'b', [], rows);
  assert.equal(departed.size, 0, 'back: no longer departed');
  assert.equal(rows[0].presence, 'online');
});

test('ack references (msg.cluster.ackId) round-trip; anything else is refused', () => {
  const id = c.formatAckId('a1b2c3d4e5f60718', '0123456789ab', 42);
  assert.deepEqual(c.parseAckId(id), { nodeId: 'a1b2c3d4e5f60718', session: '0123456789ab', deliveryId: 42 });
  for (const bad of [undefined, null, 42, '', 'x', 'a/b/c', 'n/0123/0', 'n/0123/-1', 'n/0123/1.5', 'n/xyz/1', 'n/0123/99999999999999999', '/0123/1']) {
    assert.equal(c.parseAckId(bad), null, String(bad));
  }
});

test('header columns from the addon become msg.cluster.headers (repeated names as arrays)', () => {
  const { headersFrom } = require('../lib/backend');
  assert.deepEqual(headersFrom(undefined), {});
  assert.deepEqual(headersFrom(['Nats-Msg-Id', 'a-1', 'X', '1', 'X', '2', 'X', '3']), { 'Nats-Msg-Id': 'a-1', X: ['1', '2', '3'] });
  const odd = headersFrom(['__proto__', 'v', 'constructor', 'w']);
  assert.equal(Object.getPrototypeOf(odd), Object.prototype, 'a header name never changes the prototype');
  assert.equal(Object.getOwnPropertyDescriptor(odd, '__proto__').value, 'v');
  assert.deepEqual(Object.keys(odd), ['__proto__', 'constructor']);
});

test('group names: checked, derived from root + patterns, listed from discovery', () => {
  assert.equal(c.checkGroup('jobs-workers_1'), null);
  for (const bad of ['', 'a.b', 'a*', 'a>', 'a b', 'a/b', 'a\\b', 'x'.repeat(129)]) assert.ok(c.checkGroup(bad), bad);
  assert.equal(c.defaultGroupName('/nodered-cluster', '*.jobs.todo'), 'nodered-cluster_any_jobs_todo');
  assert.equal(c.defaultGroupName('/plant/line-1', 'a.>, b.c'), 'plant_line-1_a_all_b_c');
  assert.equal(c.checkGroup(c.defaultGroupName('/x y', 'q.*')), null);
  const groups = c.groupsFrom([
    { instanceId: 'b', groups: [{ group: 'g', patterns: 'p' }] },
    { instanceId: 'a', groups: [{ group: 'g', patterns: 'p' }, { group: 'f', patterns: 'q' }] },
    { instanceId: 'legacy' },
  ]);
  assert.deepEqual(groups, [{ group: 'f', patterns: 'q', members: ['a'] }, { group: 'g', patterns: 'p', members: ['b', 'a'] }]);
});

test('a per-message status is shown at most once per interval, errors at once, nothing after cancel', async () => {
  const shown = [];
  const node = { status: (s) => shown.push(s) };
  let n = 0;
  const st = c.throttledStatus(node, () => ({ text: String(n) }), 50);
  for (n = 1; n <= 100; n++) st.schedule();
  assert.equal(shown.length, 0, 'nothing shown synchronously');
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(shown, [{ text: '101' }], 'one status with the latest value');
  st.schedule();
  st.now();
  assert.equal(shown.length, 2, 'now() shows at once');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(shown.length, 2, 'and replaces the scheduled one');
  st.schedule();
  st.cancel();
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(shown.length, 2, 'nothing after cancel');
});
