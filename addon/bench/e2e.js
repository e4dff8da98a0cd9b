'use strict';
// Node-RED end-to-end throughput and latency: two real Node-RED processes (A publishes N messages from a
// function loop as fast as Node-RED accepts them, B's subscribe node records arrival) and a real
// nats-server. Prints msg/s (first send → last arrival), latency percentiles, and whether order held.
//
//   node bench/e2e.js [count=20000] [modes=durable,ephemeral]
const path = require('path');
const fs = require('fs');
const { startServer } = require('../test/support/nats-server');
const { startNodeRed } = require('../test/support/nodered');

const N = Number(process.argv[2] || 20000);
const MODES = (process.argv[3] || 'durable,ephemeral').split(',');
const PKG = path.join(__dirname, '..');

function flowA(address, mode) {
  return [
    { id: 'ta', type: 'tab', label: 'A' },
    { id: 'ca', type: 'ClusterConfigNode', instanceId: 'bench-a', zkRootPath: '/bench', natsAddress: address, role: 'Member', outboxLimit: 1000000 },
    { id: 'in', type: 'http in', z: 'ta', url: '/go', method: 'post', wires: [['fn', 'res']] },
    { id: 'fn', type: 'function', z: 'ta', outputs: 1,
      func: 'const n = msg.payload.count; for (let i = 0; i < n; i++) node.send({payload: {i, t: Date.now()}}); return null;', wires: [['p']] },
    { id: 'res', type: 'http response', z: 'ta', statusCode: '200', wires: [] },
    { id: 'p', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: `bench.${mode.toLowerCase()}`, mode, ttl: 60, wires: [] },
  ];
}
function flowB(address, n, mode) {
  return [
    { id: 'tb', type: 'tab', label: 'B' },
    { id: 'cb', type: 'ClusterConfigNode', instanceId: 'bench-b', zkRootPath: '/bench', natsAddress: address, role: 'Member' },
    { id: `s-${mode}`, type: 'ClusterSubscribeNode', z: 'tb', clusterConfig: 'cb', subjectPattern: `bench-a.bench.${mode}`, start: 'new', ackMode: 'auto', wires: [['rec']] },
    { id: 'rec', type: 'function', z: 'tb', outputs: 0, libs: [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }],
      func: `const st = context.get('st') || {n: 0, lat: [], inOrder: true, last: -1, first: 0};
const now = Date.now();
if (st.n === 0) st.first = msg.payload.t;
if (msg.payload.i <= st.last) st.inOrder = false;
st.last = Math.max(st.last, msg.payload.i);
st.n++; st.lat.push(now - msg.payload.t);
context.set('st', st);
if (st.n === ${n}) { fs.writeFileSync(path.join(env.get('NRC_USER_DIR'), 'bench.json'), JSON.stringify({elapsed: now - st.first, lat: st.lat, inOrder: st.inOrder})); context.set('st', null); }
return null;`, wires: [] },
  ];
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];

(async () => {
  const server = await startServer();
  // BENCH_PROFILE=<dir>: V8 CPU profiles of both Node-RED processes.
  const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const A = await startNodeRed({ packageDir: PKG, nodeArgs });
  const B = await startNodeRed({ packageDir: PKG, nodeArgs });
  const rows = [];
  try {
    for (const mode of MODES) {
      const m = mode === 'ephemeral' ? 'Ephemeral' : 'Durable';
      const out = path.join(B.userDir, 'bench.json');
      fs.rmSync(out, { force: true });
      await B.deploy(flowB(server.address, N, m.toLowerCase()));
      await A.deploy(flowA(server.address, m));
      for (let i = 0; i < 100; i++) { // both connected
        const a = (await A.request('GET', '/cluster/status/ca')).json; const b = (await B.request('GET', '/cluster/status/cb')).json;
        if (a && a.connected && b && b.connected) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500));
      await A.request('POST', '/go', { count: N });
      const until = Date.now() + 120000;
      while (!fs.existsSync(out) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (!fs.existsSync(out)) { rows.push({ mode: m, error: 'not all messages arrived in 120 s' }); continue; }
      const r = JSON.parse(fs.readFileSync(out, 'utf8'));
      const lat = r.lat.sort((x, y) => x - y);
      rows.push({ mode: m, messages: N, 'msg/s': Math.round(N / (r.elapsed / 1000)), 'p50 ms': pct(lat, 0.5), 'p99 ms': pct(lat, 0.99), 'max ms': lat[lat.length - 1], inOrder: r.inOrder });
    }
  } finally {
    await Promise.all([A.stop(), B.stop()]);
    await server.stop();
    server.cleanup();
  }
  console.table(rows);
})().catch((e) => { console.error(e); process.exit(1); });
