'use strict';
// Node-RED end-to-end throughput and latency: two real Node-RED processes (A publishes N messages from a
// function loop as fast as Node-RED accepts them, B's subscribe node records arrival) and a real
// nats-server. Prints msg/s (first send → last arrival), latency percentiles, and whether order held.
//
//   node bench/e2e.js [count=20000] [modes=durable,ephemeral]
//   BENCH_RATE=<msg/s>     paced sending instead of one burst (latency of the path, not of a queue)
//   BENCH_RECORDER=naive   the first recorder (slower: a third of B's JS time was the recorder itself)
//   BENCH_RECORDER=node    B ends in a minimal custom node (bench/sink) instead of a function node: what our
//                          nodes and Node-RED's routing cost without the function node's per-message vm run
//   BENCH_PROFILE=<dir>    V8 CPU profiles of both Node-RED processes + the timed windows (windows.jsonl)
//   BENCH_THREADS=1        CPU per thread name
const path = require('path');
const fs = require('fs');
const { startServer } = require('../test/support/nats-server');
const { startNodeRed } = require('../test/support/nodered');

const N = Number(process.argv[2] || 20000);
const MODES = (process.argv[3] || 'durable,ephemeral').split(',');
const PKG = path.join(__dirname, '..');
const RATE = Number(process.env.BENCH_RATE || 0); // msg/s; 0: one synchronous burst

function flowA(address, mode) {
  return [
    { id: 'ta', type: 'tab', label: 'A' },
    { id: 'ca', type: 'ClusterConfigNode', instanceId: 'bench-a', zkRootPath: '/bench', natsAddress: address, role: 'Member', outboxLimit: 1000000 },
    { id: 'in', type: 'http in', z: 'ta', url: '/go', method: 'post', wires: [['fn', 'res']] },
    { id: 'fn', type: 'function', z: 'ta', outputs: 1,
      func: RATE > 0
        // Paced: RATE msg/s in 10 ms ticks, so latency is the path's, not time spent queued behind a burst.
        ? `const n = msg.payload.count, per = Math.max(1, Math.round(${RATE} / 100)); let i = 0;
const timer = setInterval(() => { for (let k = 0; k < per && i < n; k++, i++) node.send({payload: {i, t: Date.now()}}); if (i >= n) clearInterval(timer); }, 10);
return null;`
        // Burst: all messages in one synchronous loop (they all enter the flow in one event-loop turn).
        : 'const n = msg.payload.count; for (let i = 0; i < n; i++) node.send({payload: {i, t: Date.now()}}); return null;',
      wires: [['p']] },
    { id: 'res', type: 'http response', z: 'ta', statusCode: '200', wires: [] },
    { id: 'p', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: `bench.${mode.toLowerCase()}`, mode, ttl: 60, wires: [] },
  ];
}
function flowB(address, n, mode) {
  return [
    { id: 'tb', type: 'tab', label: 'B' },
    { id: 'cb', type: 'ClusterConfigNode', instanceId: 'bench-b', zkRootPath: '/bench', natsAddress: address, role: 'Member' },
    { id: `s-${mode}`, type: 'ClusterSubscribeNode', z: 'tb', clusterConfig: 'cb', subjectPattern: `bench-a.bench.${mode}`, start: 'new', ackMode: 'auto', wires: [['rec']] },
    process.env.BENCH_RECORDER === 'node'
      ? { id: 'rec', type: 'bench-sink', z: 'tb', count: n, wires: [] }
      : { id: 'rec', type: 'function', z: 'tb', outputs: 0, libs: [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }],
        func: process.env.BENCH_RECORDER === 'naive' ? naiveRecorder(n) : recorder(n), wires: [] },
  ];
}

// B's recorder, a function node like a user's flow would have. It keeps its own work small (a closure
// made once and kept in the node context; per message one context lookup and a few local operations).
// Most of its cost is the function node itself: Node-RED runs a vm script and builds the sandbox's
// `node` object for every message (about a fifth of B's JS thread in a CPU profile).
// BENCH_RECORDER=naive is the first recorder (context get/set of the whole state per message); in our
// runs the two cost about the same.
function recorder(n) {
  return `let r = context.get('r');
if (!r) {
  const st = {n: 0, lat: [], inOrder: true, last: -1, first: 0};
  const now = Date.now, write = fs.writeFileSync, file = path.join(env.get('NRC_USER_DIR'), 'bench.json'), ctx = context;
  r = (m) => {
    const t = now(), p = m.payload;
    if (st.n === 0) st.first = p.t;
    if (p.i <= st.last) st.inOrder = false; else st.last = p.i;
    st.lat.push(t - p.t);
    if (++st.n === ${n}) { write(file, JSON.stringify({elapsed: t - st.first, lat: st.lat, inOrder: st.inOrder})); ctx.set('r', null); }
  };
  context.set('r', r);
}
r(msg);
return null;`;
}
function naiveRecorder(n) {
  return `const st = context.get('st') || {n: 0, lat: [], inOrder: true, last: -1, first: 0};
const now = Date.now();
if (st.n === 0) st.first = msg.payload.t;
if (msg.payload.i <= st.last) st.inOrder = false;
st.last = Math.max(st.last, msg.payload.i);
st.n++; st.lat.push(now - msg.payload.t);
context.set('st', st);
if (st.n === ${n}) { fs.writeFileSync(path.join(env.get('NRC_USER_DIR'), 'bench.json'), JSON.stringify({elapsed: now - st.first, lat: st.lat, inOrder: st.inOrder})); context.set('st', null); }
return null;`;
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];

/// CPU time (ms, user + system) of each thread of a process, grouped: the JS main thread, the addon's
/// io thread ("nats-cluster-io") and the rest (V8 GC/compiler workers, libuv pool); one sum for other
/// programs (nats-server).
function cpuOf(pid, threads = true) {
  const tick = 10; // ms per clock tick (USER_HZ 100 on Linux)
  const out = {};
  let dirs;
  try { dirs = fs.readdirSync(`/proc/${pid}/task`); } catch (_) { return out; }
  for (const tid of dirs) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch (_) { continue; }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * tick; // utime, stime
    let group = !threads ? 'all' : String(tid) === String(pid) ? 'js' : name === 'nats-cluster-io' ? 'io' : 'other';
    if (group === 'other' && process.env.BENCH_THREADS) group = `other:${name}`; // which threads
    out[group] = (out[group] || 0) + ms;
  }
  return out;
}
function cpuDelta(a, b) {
  const d = {};
  for (const k of Object.keys(b)) d[k] = b[k] - (a[k] || 0);
  return d;
}

(async () => {
  const server = await startServer();
  // BENCH_PROFILE=<dir>: V8 CPU profiles of both Node-RED processes.
  const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  if (process.env.BENCH_PROFILE) fs.mkdirSync(process.env.BENCH_PROFILE, { recursive: true });
  const A = await startNodeRed({ packageDir: PKG, nodeArgs });
  // B's user dir also holds the benchmark's sink node (BENCH_RECORDER=node).
  const userDirB = fs.mkdtempSync(path.join(require('os').tmpdir(), 'nrc-bench-'));
  fs.mkdirSync(path.join(userDirB, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.join(__dirname, 'sink'), path.join(userDirB, 'node_modules', 'nrc-bench-sink'), 'dir');
  const B = await startNodeRed({ packageDir: PKG, nodeArgs, userDir: userDirB });
  const rows = [];
  const cpuRows = [];
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
      const cpu0 = { A: cpuOf(A.proc.pid), B: cpuOf(B.proc.pid), S: cpuOf(server.proc.pid, false) };
      const t0 = process.hrtime.bigint() / 1000n; // µs, the clock of V8's CPU profiles (monotonic)
      await A.request('POST', '/go', { count: N });
      const until = Date.now() + 120000;
      while (!fs.existsSync(out) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const cpu1 = { A: cpuOf(A.proc.pid), B: cpuOf(B.proc.pid), S: cpuOf(server.proc.pid, false) };
      if (process.env.BENCH_PROFILE) {
        // The timed window, so a profile summary can leave start-up and deploys out.
        fs.appendFileSync(path.join(process.env.BENCH_PROFILE, 'windows.jsonl'), JSON.stringify({ mode: m,
          A: A.proc.pid, B: B.proc.pid, fromUs: String(t0), toUs: String(process.hrtime.bigint() / 1000n) }) + '\n');
      }
      if (!fs.existsSync(out)) { rows.push({ mode: m, error: 'not all messages arrived in 120 s' }); continue; }
      const r = JSON.parse(fs.readFileSync(out, 'utf8'));
      const lat = r.lat.sort((x, y) => x - y);
      rows.push({ mode: m, messages: N, 'msg/s': Math.round(N / (r.elapsed / 1000)), 'p50 ms': pct(lat, 0.5), 'p99 ms': pct(lat, 0.99), 'max ms': lat[lat.length - 1], inOrder: r.inOrder });
      // CPU µs per message from POST /go to the last arrival (10 ms clock ticks: rough for small counts).
      const us = (ms) => Math.round((ms * 1000) / N);
      const a = cpuDelta(cpu0.A, cpu1.A); const b = cpuDelta(cpu0.B, cpu1.B); const sv = cpuDelta(cpu0.S, cpu1.S);
      if (process.env.BENCH_THREADS) console.log(m, { A: a, B: b });
      cpuRows.push({ mode: m, 'A js': us(a.js || 0), 'A io': us(a.io || 0), 'A other': us(a.other || 0),
        'B js': us(b.js || 0), 'B io': us(b.io || 0), 'B other': us(b.other || 0), 'nats-server': us(sv.all || 0),
        total: us(Object.values(a).concat(Object.values(b), Object.values(sv)).reduce((x, y) => x + y, 0)),
        'wall µs/msg': Math.round((r.elapsed * 1000) / N) });
    }
  } finally {
    await Promise.all([A.stop(), B.stop()]);
    await server.stop();
    server.cleanup();
  }
  console.table(rows);
  console.log('CPU µs per message (user + system; A = publishing Node-RED, B = subscribing Node-RED):');
  console.table(cpuRows);
})().catch((e) => { console.error(e); process.exit(1); });
