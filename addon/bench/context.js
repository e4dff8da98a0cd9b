'use strict';
// Context store throughput and latency through Node-RED's context API, in one run for three stores of
// one real Node-RED process: Node-RED's `memory` and `localfilesystem` (file, default 30 s flush
// cache) and ours (`cluster`, NATS KV on a real nats-server). A function node runs `count` sequential
// flow.set / flow.get calls with callbacks (one in flight, as a flow does) and reports ops/s and
// per-call latency percentiles.
//
//   node bench/context.js [count=2000]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../test/support/nats-server');
const { startNodeRed } = require('../test/support/nodered');

const N = Number(process.argv[2] || 2000);
const PKG = path.join(__dirname, '..');

function settings(server) {
  return `module.exports = {
  flowFile: 'flows.json', credentialSecret: false, uiHost: '127.0.0.1',
  logging: { console: { level: 'warn' } }, telemetry: { enabled: false }, functionExternalModules: true,
  editorTheme: { tours: false, projects: { enabled: false } },
  contextStorage: {
    default: { module: 'memory' },
    file: { module: 'localfilesystem' },
    cluster: { module: require('@nats-cluster/node-red-cluster/context'),
               config: { servers: ${JSON.stringify(server.url)}, instanceId: 'bench-ctx' } },
  },
};\n`;
}

const FUNC = `
const { store, op, n } = msg.payload;
const lat = new Array(n);
let i = 0;
const t0 = perf.performance.now();
const value = { i: 0, text: 'a context value of some size', list: [1, 2, 3] };
function next() {
  if (i === n) {
    const total = perf.performance.now() - t0;
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(n - 1, Math.floor(p * n))];
    msg.payload = { store, op, n, totalMs: total, opsPerS: n / total * 1000, p50: q(0.5), p99: q(0.99), max: lat[n - 1] };
    return node.send(msg);
  }
  const s = perf.performance.now();
  const k = 'k' + (i % 100);
  const cb = (err) => {
    if (err) { msg.payload = { store, op, error: err.message }; return node.send(msg); }
    lat[i++] = perf.performance.now() - s;
    Promise.resolve().then(next);
  };
  if (op === 'set') { value.i = i; flow.set(k, value, store, cb); } else flow.get(k, store, cb);
}
next();
return null;`;

(async () => {
  const server = await startServer();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-bench-ctx-'));
  fs.writeFileSync(path.join(userDir, 'settings.js'), settings(server));
  const red = await startNodeRed({ packageDir: PKG, userDir });
  try {
    await red.deploy([
      { id: 'tb', type: 'tab', label: 'bench' },
      { id: 'in', type: 'http in', z: 'tb', url: '/bench', method: 'post', wires: [['fn']] },
      { id: 'fn', type: 'function', z: 'tb', outputs: 1, func: FUNC, libs: [{ var: 'perf', module: 'perf_hooks' }], wires: [['res']] },
      { id: 'res', type: 'http response', z: 'tb', statusCode: '200', wires: [] },
    ]);
    // The http-in route exists once the deployed flow started.
    for (let i = 0; i < 100; i++) {
      const r = await red.request('POST', '/bench', { store: 'default', op: 'get', n: 1 });
      if (r.json) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const rows = [];
    for (const store of ['default', 'file', 'cluster']) {
      for (const op of ['set', 'get']) {
        await red.request('POST', '/bench', { store, op, n: Math.min(200, N) }); // warm-up
        const r = await red.request('POST', '/bench', { store, op, n: N });
        rows.push(r.json || { store, op, error: `HTTP ${r.status}: ${r.text.slice(0, 200)}` });
      }
    }
    console.log(`context store, ${N} sequential calls each, through flow.set/flow.get with a callback`);
    console.log('| store | op | ops/s | p50 ms | p99 ms | max ms |');
    console.log('|-------|----|-------|--------|--------|--------|');
    for (const r of rows) {
      if (r.error) { console.log(`| ${r.store} | ${r.op} | error: ${r.error} | | | |`); continue; }
      console.log(`| ${{ default: 'memory', file: 'localfilesystem' }[r.store] || r.store} | ${r.op} | ${Math.round(r.opsPerS)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.max.toFixed(3)} |`);
    }
  } finally {
    await red.stop();
    await server.stop();
    server.cleanup();
  }
})().catch((err) => { console.error(err); process.exit(1); });
