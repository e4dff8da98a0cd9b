'use strict';
// The cluster leader node with three real Node-RED processes and a real nats-server. Each process ticks
// every 100 ms into a leader node (group "poller", lease 3 s); the leader's output is recorded with
// the time and the fencing token, and so are its leadership changes. Checked from those records:
// one leader; SIGKILL of the leader → one new leader with a larger token; a SIGSTOP'd leader → no
// message passed by two instances in the same period (each token's messages end before the next
// token's begin).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed } = require('./support/nodered');
const { until } = require('./support/util');

const PKG = path.join(__dirname, '..');
const LEASE_S = 3;

function append(file, expr) {
  return `fs.appendFileSync(path.join(env.get('NRC_USER_DIR'), ${JSON.stringify(file)}), JSON.stringify(${expr}) + '\\n'); return null;`;
}

function leaderFlow(instanceId, address) {
  const fnLibs = [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }];
  return [
    { id: 'tl', type: 'tab', label: 'leader' },
    { id: 'cl', type: 'ClusterConfigNode', name: '', instanceId, zkRootPath: '/nodered-cluster', natsAddress: address, role: 'Member' },
    { id: 'tick', type: 'inject', z: 'tl', name: '', props: [{ p: 'payload' }], repeat: '0.1', crontab: '', once: true, onceDelay: 0.1,
      topic: '', payload: '', payloadType: 'date', x: 100, y: 100, wires: [['ld']] },
    { id: 'ld', type: 'ClusterLeaderNode', z: 'tl', name: '', clusterConfig: 'cl', group: 'poller', lease: LEASE_S, x: 300, y: 100, wires: [['pass'], ['chg']] },
    { id: 'pass', type: 'function', z: 'tl', name: 'passed', outputs: 0, libs: fnLibs, x: 500, y: 80, wires: [],
      func: append('passed.jsonl', '{ at: Date.now(), token: msg.leader.token, instance: msg.leader.instance }') },
    { id: 'chg', type: 'function', z: 'tl', name: 'changes', outputs: 0, libs: fnLibs, x: 500, y: 120, wires: [],
      func: append('changes.jsonl', 'msg.payload') },
  ];
}

function lines(red, file) {
  const f = path.join(red.userDir, file);
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const became = (red) => lines(red, 'changes.jsonl').filter((e) => e.event === 'became_leader');
const passed = (red) => lines(red, 'passed.jsonl');

let server; let reds = [];
test.before(async () => {
  server = await startServer();
  reds = await Promise.all(['la', 'lb', 'lc'].map(() => startNodeRed({ packageDir: PKG })));
  await Promise.all(reds.map((r, i) => r.deploy(leaderFlow(['la', 'lb', 'lc'][i], server.address))));
});
test.after(async () => {
  for (const r of reds) { try { process.kill(r.proc.pid, 'SIGCONT'); } catch (_) { /* gone */ } }
  await Promise.all(reds.map((r) => r.stop()));
  if (server) { await server.stop(); server.cleanup(); }
});

/// Per token: first and last time a message was passed with it, from all processes' records.
function periods(all) {
  const by = new Map();
  for (const p of all) {
    const e = by.get(p.token) || { token: p.token, instance: p.instance, from: p.at, to: p.at, n: 0 };
    e.from = Math.min(e.from, p.at); e.to = Math.max(e.to, p.at); e.n++;
    if (e.instance !== p.instance) e.mixed = true;
    by.set(p.token, e);
  }
  return Array.from(by.values()).sort((a, b) => a.token - b.token);
}

function assertNoOverlap(all) {
  const ps = periods(all);
  for (const p of ps) assert.ok(!p.mixed, `token ${p.token} used by one instance only`);
  for (let i = 1; i < ps.length; i++) {
    assert.ok(ps[i - 1].to < ps[i].from,
      `token ${ps[i - 1].token} (${ps[i - 1].instance}) passed until ${ps[i - 1].to}, token ${ps[i].token} (${ps[i].instance}) from ${ps[i].from}`);
  }
  return ps;
}

test('one leader among three instances; only it passes messages', async () => {
  await until(() => reds.some((r) => became(r).length > 0), 15000, 'a leader');
  await new Promise((r) => setTimeout(r, 2 * LEASE_S * 1000));
  const leaders = reds.filter((r) => became(r).length > 0);
  assert.equal(leaders.length, 1, 'exactly one instance became leader');
  assert.ok(passed(leaders[0]).length > 10);
  for (const r of reds) if (r !== leaders[0]) assert.equal(passed(r).length, 0);
  assertNoOverlap(reds.flatMap(passed));
  const st = await leaders[0].request('GET', '/flows');
  assert.equal(st.status, 200);
  // Another instance's discovery answer names the leader with its token, under the new key `leaders`.
  const token = became(leaders[0]).slice(-1)[0].token;
  const other = reds.find((r) => r !== leaders[0]);
  const d = await until(async () => {
    const r = await other.request('GET', '/cluster/discovery/cl');
    return r.json && r.json.leaders && r.json.leaders.length ? r.json : null;
  }, 10000, 'leaders in discovery');
  assert.deepEqual(d.leaders.map((l) => [l.group, l.token]), [['poller', token]]);
  assert.ok(d.instances[d.leaders[0].instanceId], 'the leader is a known instance');
});

test('SIGKILL of the leader process: exactly one new leader with a larger token', async (t) => {
  const old = reds.find((r) => became(r).length > 0);
  const oldToken = became(old).at(-1).token;
  const others = reds.filter((r) => r !== old);
  const killedAt = Date.now();
  process.kill(old.proc.pid, 'SIGKILL');
  await old.exited;
  // Failure bound 10 s (takeover is due about one lease after the last renewal).
  await until(() => others.some((r) => became(r).length > 0), 10000, 'a new leader');
  const took = Date.now() - killedAt;
  await new Promise((r) => setTimeout(r, 2 * LEASE_S * 1000));
  const next = others.filter((r) => became(r).length > 0);
  assert.equal(next.length, 1, 'one new leader');
  assert.ok(became(next[0])[0].token > oldToken, `${became(next[0])[0].token} > ${oldToken}`);
  assertNoOverlap(reds.flatMap(passed));
  t.diagnostic(`takeover after SIGKILL: ${took} ms`);
  reds = others;
});

test('SIGSTOP of the leader: it passes nothing once its lease ran out, and no two pass at once', async () => {
  const old = reds.find((r) => became(r).length > 0);
  const other = reds.find((r) => r !== old);
  const before = became(other).length;
  process.kill(old.proc.pid, 'SIGSTOP');
  await until(() => became(other).length > before, 10000, 'the other instance takes over');
  await new Promise((r) => setTimeout(r, 1000));
  process.kill(old.proc.pid, 'SIGCONT');
  // The resumed process reports the loss and from then on passes nothing.
  await until(() => lines(old, 'changes.jsonl').some((e) => e.event === 'lost_leadership'), 10000, 'old leader reports loss');
  await new Promise((r) => setTimeout(r, 2000));
  const lost = lines(old, 'changes.jsonl').filter((e) => e.event === 'lost_leadership').at(-1);
  const won = became(other).at(-1);
  assert.ok(won.token > lost.token);
  assert.ok(lost.at < won.at, `lease of the old leader ended (${lost.at}) before the new one won (${won.at})`);
  const ps = assertNoOverlap(reds.flatMap(passed));
  assert.equal(ps.at(-1).token, won.token);
  // The paused leader passed nothing after its lease ended (the ticks queued during the pause included).
  assert.ok(passed(old).every((p) => p.at <= lost.at + 50), 'nothing passed by the old leader after its lease');
});
