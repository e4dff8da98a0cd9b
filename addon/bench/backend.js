'use strict';
// The same workload as bench/e2e.js without Node-RED: two Node processes using lib/backend.js directly
// (publisher: `count` publishes in one loop; subscriber: acks each delivery), so the cost of Node-RED's
// routing can be told apart from the addon + cluster layer + nats-server.
//
//   node bench/backend.js [count=20000] [modes=durable,ephemeral]
const { fork } = require('child_process');
const { startServer } = require('../test/support/nats-server');

const role = process.env.BENCH_ROLE;

/// CPU ms (user + system) of a process's threads: main JS thread, the addon's io thread, the rest.
function cpuOf(pid, threads = true) {
  const fs = require('fs');
  const out = {};
  let tids = [];
  try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch (_) { return out; }
  for (const tid of tids) {
    let st;
    try { st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch (_) { continue; }
    const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const g = !threads ? 'all' : String(tid) === String(pid) ? 'js' : name === 'nats-cluster-io' ? 'io' : 'other';
    out[g] = (out[g] || 0) + (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}

if (role) {
  const backend = require('../lib/backend');
  const [address, mode, n] = [process.env.BENCH_ADDR, process.env.BENCH_MODE, Number(process.env.BENCH_N)];
  const cluster = backend.createCluster({ instanceId: `bb-${role}`, rootPath: '/benchb', servers: address, outboxMessages: 1000000 });
  const ready = new Promise((resolve) => cluster.on('status', (s) => { if (s.connected) resolve(); }));
  cluster.start();
  (async () => {
    await ready;
    if (role === 'sub') {
      let got = 0; let first = 0; let last = -1; let inOrder = true; const lat = [];
      const sub = cluster.subscribe({ key: `bb-${mode}`, patterns: [`bb-pub.bench.${mode}`], start: 'new', ack: 'auto' }, (d) => {
        const p = JSON.parse(d.payload.toString());
        const now = Date.now();
        if (got === 0) first = p.t;
        if (p.i <= last) inOrder = false;
        last = Math.max(last, p.i);
        lat.push(now - p.t);
        sub.ack(d.id);
        if (++got === n) process.send({ elapsed: now - first, lat, inOrder });
      });
      await sub.ready;
      setTimeout(() => process.send({ ready: true }), 1000); // consumer created
    } else {
      process.send({ ready: true });
      process.on('message', async () => {
        const t0 = Date.now();
        // As the publish node does: JSON text, a callback per message (no Promise), a few hundred bytes.
        const pad = 'x'.repeat(300);
        await new Promise((resolve) => {
          let left = n;
          const done = () => { if (--left === 0) resolve(); };
          for (let i = 0; i < n; i++) cluster.publish(`bench.${mode}`, JSON.stringify({ i, t: Date.now(), pad }), { mode, ttl: 60 }, done);
        });
        process.send({ published: Date.now() - t0 });
      });
    }
  })();
  process.on('disconnect', () => cluster.stop().then(() => process.exit(0)));
} else {
  const N = Number(process.argv[2] || 20000);
  const MODES = (process.argv[3] || 'durable,ephemeral').split(',');
  const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
  (async () => {
    const server = await startServer();
    const rows = [];
    const cpuRows = [];
    try {
      for (const mode of MODES) {
        const start = (r) => {
          const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
          const c = fork(__filename, [], { execArgv: nodeArgs, env: Object.assign({}, process.env, { BENCH_ROLE: r, BENCH_ADDR: server.address, BENCH_MODE: mode, BENCH_N: String(N) }) });
          const msgs = [];
          let wake = null;
          c.on('message', (m) => { msgs.push(m); if (wake) wake(); });
          c.next = async () => { while (!msgs.length) await new Promise((r2) => { wake = r2; }); return msgs.shift(); };
          return c;
        };
        const sub = start('sub'); const pub = start('pub');
        await sub.next(); await pub.next();
        const cpu = () => ({ pub: cpuOf(pub.pid), sub: cpuOf(sub.pid), srv: cpuOf(server.proc.pid, false) });
        const c0 = cpu();
        pub.send('go');
        const p = await pub.next();
        const r = await sub.next();
        const c1 = cpu();
        const us = (x, y, k) => Math.round(((y[k] || 0) - (x[k] || 0)) * 1000 / N);
        cpuRows.push({ mode, 'pub js': us(c0.pub, c1.pub, 'js'), 'pub io': us(c0.pub, c1.pub, 'io'), 'pub other': us(c0.pub, c1.pub, 'other'),
          'sub js': us(c0.sub, c1.sub, 'js'), 'sub io': us(c0.sub, c1.sub, 'io'), 'sub other': us(c0.sub, c1.sub, 'other'),
          'nats-server': us(c0.srv, c1.srv, 'all') });
        const lat = r.lat.sort((x, y) => x - y);
        rows.push({ mode, messages: N, 'msg/s': Math.round(N / (r.elapsed / 1000)), 'publish done ms': p.published, 'p50 ms': pct(lat, 0.5), 'p99 ms': pct(lat, 0.99), inOrder: r.inOrder });
        sub.disconnect(); pub.disconnect();
        await Promise.all([new Promise((r2) => sub.on('exit', r2)), new Promise((r2) => pub.on('exit', r2))]);
      }
    } finally {
      await server.stop();
      server.cleanup();
    }
    console.table(rows);
    console.log('CPU µs per message (user + system), from the go signal to the last arrival:');
    console.table(cpuRows);
  })().catch((e) => { console.error(e); process.exit(1); });
}
