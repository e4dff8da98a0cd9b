'use strict';
// Leader failover time: three candidate processes (lib/backend.js Cluster.leader, default lease 5 s)
// on a real nats-server; the leader process is SIGKILLed `rounds` times (a fresh candidate replaces
// it each time) and the time from the kill to another process's became_leader is measured.
// Prints median and max, and checks that each new token is larger than the one before.
//
//   node bench/leader-failover.js [rounds=20] [leaseMs=5000]
const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');

if (process.argv[2] === '--child') {
  // A candidate: prints its leader events as JSON lines.
  const backend = require('../lib/backend');
  const [, , , id, url, leaseMs] = process.argv;
  const c = backend.createCluster({ instanceId: id, servers: url, rootPath: '/bench-leader' });
  c.start().then(() => {
    c.leader('failover', { leaseMs: Number(leaseMs), renewMs: Math.min(1000, leaseMs / 5), marginMs: leaseMs / 5 }, (ev) => {
      process.stdout.write(JSON.stringify(Object.assign({ id, t: Date.now() }, ev)) + '\n');
    });
  });
  setInterval(() => {}, 1 << 30);
  return;
}

const { startServer } = require('../test/support/nats-server');
const ROUNDS = Number(process.argv[2] || 20);
const LEASE = Number(process.argv[3] || 5000);

(async () => {
  const server = await startServer();
  const procs = new Map(); // id -> {proc}
  const events = [];
  let waiter = null;
  let n = 0;
  const spawnOne = () => {
    const id = `cand-${++n}`;
    const proc = spawn(process.execPath, [__filename, '--child', id, server.url, String(LEASE)], { stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: proc.stdout }).on('line', (l) => {
      const ev = JSON.parse(l);
      events.push(ev);
      if (waiter) waiter(ev);
    });
    procs.set(id, proc);
  };
  const next = (pred) => new Promise((resolve) => {
    const done = events.find(pred);
    if (done) return resolve(done);
    waiter = (ev) => { if (pred(ev)) { waiter = null; resolve(ev); } };
  });
  for (let i = 0; i < 3; i++) spawnOne();
  let leader = await next((e) => e.kind === 'became_leader');
  const times = [];
  let lastToken = leader.token;
  let ok = true;
  for (let r = 0; r < ROUNDS; r++) {
    await new Promise((res) => setTimeout(res, 1000 + Math.random() * 1000)); // some renewals
    const victim = leader.id;
    const killedAt = Date.now();
    procs.get(victim).kill('SIGKILL');
    procs.delete(victim);
    leader = await next((e) => e.kind === 'became_leader' && e.id !== victim && e.t >= killedAt);
    times.push(Date.now() - killedAt);
    if (!(leader.token > lastToken)) ok = false;
    lastToken = leader.token;
    spawnOne();
    process.stderr.write(`round ${r + 1}: ${times.at(-1)} ms (token ${leader.token})\n`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`leader failover after SIGKILL, lease ${LEASE} ms, renew ${Math.min(1000, LEASE / 5)} ms, ${ROUNDS} kills:` +
    ` median ${median} ms, min ${times[0]} ms, max ${times.at(-1)} ms; tokens always larger: ${ok}`);
  for (const p of procs.values()) p.kill('SIGKILL');
  await server.stop();
  server.cleanup();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
