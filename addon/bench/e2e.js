'use strict';
// Node-RED end-to-end throughput and latency: two real Node-RED processes and a real nats-server.
// In A a function node emits messages of a few hundred bytes (bursts of BENCH_BURST, each burst in one
// synchronous loop) into the path under test; in B the path ends in a function node that appends a line
// per message to a file and records arrival. One command runs every variant and prints one table with
// ratios:
//
//   ours ephemeral / ours durable       cluster out → cluster in (this package)
//   nats.js core                         function nodes on the official nats.js v3 client: publish → subscribe
//   nats.js JetStream                    function nodes: js.publish → durable pull consumer (consume + ack)
//   original plugin                      its published figures (not re-measured here)
//
//   node bench/e2e.js                                   everything (5 000 burst, 100 000 run, latency at 100 and 5 000 msg/s)
//   node bench/e2e.js [count] [variants] [rate]        one scenario: e.g. 5000 ours-ephemeral,natsjs-core 0
//   BENCH_BURST=<n>        messages per synchronous burst (default 5000)
//   BENCH_PAYLOAD=<bytes>  padding per message (default 300)
//   BENCH_PROFILE=<dir>    V8 CPU profiles of both Node-RED processes + the timed windows (windows.jsonl)
//   BENCH_THREADS=1        CPU per thread name
//   BENCH_KEEP=<dir>       keep B's per-message log (index, sent ms, received ms) of each run
//   BENCH_PERF=<file>      `perf record -g` of A, B and nats-server over each timed window (<file>.<variant>.<n>)
//   BENCH_RECORDER=node    B ends in a minimal custom node (bench/sink) instead of the function node
// Needs the nats.js v3 packages of bench/ (repository root): `cd bench && npm ci`.
const path = require('path');
const fs = require('fs');
const os = require('os');
const { startServer } = require('../test/support/nats-server');
const { startNodeRed } = require('../test/support/nodered');

const PKG = path.join(__dirname, '..');
const { natsjsModule, settingsFile, pct } = require('./common');
const BURST = Number(process.env.BENCH_BURST || 5000);
const PAD = Number(process.env.BENCH_PAYLOAD || 300);
const ALL = ['ours-ephemeral', 'natsjs-core', 'ours-durable', 'natsjs-js'];
// The original plugin (node-red-cluster 0.0.55 on nats.js), figures given with issue 12: 5 000-message
// bursts, B ending in a function node that appends to a file.
const ORIGINAL = { ephemeral: 8407, durable: 2576 }; // means of 8 237/8 576 and 2 643/2 508 msg/s

// A: http in → emitter function → the path under test.
function emitter(rate) {
  const pad = JSON.stringify('x'.repeat(PAD));
  return rate > 0
    // Paced: rate msg/s in 10 ms ticks, so latency is the path's, not time spent queued behind a burst.
    ? `const n = msg.payload.count, per = Math.max(1, Math.round(${rate} / 100)); let i = 0;
const timer = setInterval(() => { for (let k = 0; k < per && i < n; k++, i++) node.send({payload: {i, t: Date.now(), pad: ${pad}}}); if (i >= n) clearInterval(timer); }, 10);
return null;`
    // Bursts of BURST messages, each in one synchronous loop; the next burst on the next event-loop turn.
    : `const n = msg.payload.count; let i = 0;
const burst = () => { const end = Math.min(n, i + ${BURST}); for (; i < end; i++) node.send({payload: {i, t: Date.now(), pad: ${pad}}}); if (i < n) setTimeout(burst, 0); };
burst();
return null;`;
}
function flowA(address, variant, rate) {
  const head = [
    { id: 'ta', type: 'tab', label: 'A' },
    { id: 'in', type: 'http in', z: 'ta', url: '/go', method: 'post', wires: [['fn', 'res']] },
    { id: 'fn', type: 'function', z: 'ta', outputs: 1, func: emitter(rate), wires: [['p']] },
    { id: 'res', type: 'http response', z: 'ta', statusCode: '200', wires: [] },
  ];
  if (variant.startsWith('ours')) {
    const mode = variant === 'ours-ephemeral' ? 'Ephemeral' : 'Durable';
    return head.concat([
      { id: 'ca', type: 'ClusterConfigNode', instanceId: 'bench-a', zkRootPath: '/bench', natsAddress: address, role: 'Member', outboxLimit: 1000000 },
      { id: 'p', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: `bench.${mode.toLowerCase()}`, mode, ttl: 60, wires: [] },
    ]);
  }
  // What a user of the official client writes: a function node with its connection in "On Start".
  const js = variant === 'natsjs-js';
  return head.concat([{
    id: 'p', type: 'function', z: 'ta', outputs: 0,
    initialize: `const nats = global.get('natsjs'); const nc = await nats.connect({servers: ${JSON.stringify(address)}});
context.set('nc', nc);${js ? " context.set('js', global.get('natsjsJetstream').jetstream(nc));" : ''}`,
    func: js
      ? `const js = context.get('js'); js.publish('benchjs.x', JSON.stringify(msg.payload)).then(() => node.done(), (e) => node.done(e)); return null;`
      : `context.get('nc').publish('benchcore.x', JSON.stringify(msg.payload)); return null;`,
    finalize: `const nc = context.get('nc'); if (nc) nc.drain().catch(() => {});`,
    wires: [],
  }]);
}

function flowB(address, n, variant) {
  const head = [{ id: 'tb', type: 'tab', label: 'B' }];
  let source;
  if (variant.startsWith('ours')) {
    const mode = variant === 'ours-ephemeral' ? 'ephemeral' : 'durable';
    source = [
      { id: 'cb', type: 'ClusterConfigNode', instanceId: 'bench-b', zkRootPath: '/bench', natsAddress: address, role: 'Member' },
      { id: `s-${mode}`, type: 'ClusterSubscribeNode', z: 'tb', clusterConfig: 'cb', subjectPattern: `bench-a.bench.${mode}`, start: 'new', ackMode: 'auto', wires: [['rec']] },
    ];
  } else if (variant === 'natsjs-core') {
    source = [{
      id: 'sub', type: 'function', z: 'tb', outputs: 1,
      initialize: `const nats = global.get('natsjs'); const nc = await nats.connect({servers: ${JSON.stringify(address)}});
context.set('nc', nc);
nc.subscribe('benchcore.x', {callback: (err, m) => { if (!err) node.send({payload: m.json(), topic: m.subject}); }});
await nc.flush();`,
      func: 'return null;',
      finalize: `const nc = context.get('nc'); if (nc) nc.drain().catch(() => {});`,
      wires: [['rec']],
    }];
  } else {
    // The consumer exists already (made by the bench before deploying): consume, send on, ack.
    source = [{
      id: 'sub', type: 'function', z: 'tb', outputs: 1,
      initialize: `const nats = global.get('natsjs'); const nc = await nats.connect({servers: ${JSON.stringify(address)}});
context.set('nc', nc);
const c = await global.get('natsjsJetstream').jetstream(nc).consumers.get('BENCHJS', 'b');
const msgs = await c.consume();
(async () => { for await (const m of msgs) { node.send({payload: m.json(), topic: m.subject}); m.ack(); } })().catch((e) => node.error(e));`,
      func: 'return null;',
      finalize: `const nc = context.get('nc'); if (nc) nc.close().catch(() => {});`,
      wires: [['rec']],
    }];
  }
  return head.concat(source, [recorderNode(n)]);
}

// B's end: a function node that appends a line per message to a file (as the flow does) and
// keeps the latency figures; at the last message it writes the result.
function recorderNode(n) {
  if (process.env.BENCH_RECORDER === 'node') return { id: 'rec', type: 'bench-sink', z: 'tb', count: n, wires: [] };
  return {
    id: 'rec', type: 'function', z: 'tb', outputs: 0, libs: [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }],
    func: `let r = context.get('r');
if (!r) {
  const st = {n: 0, lat: [], inOrder: true, last: -1, first: 0};
  const dir = env.get('NRC_USER_DIR'), file = path.join(dir, 'bench.json'), log = path.join(dir, 'received.log'), ctx = context;
  r = (m) => {
    const t = Date.now(), p = m.payload;
    fs.appendFileSync(log, p.i + ' ' + p.t + ' ' + t + '\\n');
    if (st.n === 0) st.first = p.t;
    if (p.i <= st.last) st.inOrder = false; else st.last = p.i;
    st.lat.push(t - p.t);
    if (++st.n === ${n}) { fs.writeFileSync(file, JSON.stringify({elapsed: t - st.first, lat: st.lat, inOrder: st.inOrder})); ctx.set('r', null); }
  };
  context.set('r', r);
}
r(msg);
return null;`,
    wires: [],
  };
}

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

async function natsjsSetup(server) {
  const nats = require(natsjsModule('transport-node'));
  const { jetstreamManager } = require(natsjsModule('jetstream'));
  const nc = await nats.connect({ servers: server.address });
  const jsm = await jetstreamManager(nc);
  try { await jsm.streams.delete('BENCHJS'); } catch (_) { /* first time */ }
  await jsm.streams.add({ name: 'BENCHJS', subjects: ['benchjs.>'], storage: 'file' });
  await jsm.consumers.add('BENCHJS', { durable_name: 'b', ack_policy: 'explicit', deliver_policy: 'new' });
  await nc.close();
}

async function runOne(ctx, variant, n, rate) {
  const { A, B, server } = ctx;
  const out = path.join(B.userDir, 'bench.json');
  fs.rmSync(out, { force: true });
  fs.rmSync(path.join(B.userDir, 'received.log'), { force: true });
  if (variant === 'natsjs-js') await natsjsSetup(server);
  await B.deploy(flowB(server.address, n, variant));
  await A.deploy(flowA(server.address, variant, rate));
  if (variant.startsWith('ours')) {
    for (let i = 0; i < 100; i++) { // both connected
      const a = (await A.request('GET', '/cluster/status/ca')).json; const b = (await B.request('GET', '/cluster/status/cb')).json;
      if (a && a.connected && b && b.connected) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await new Promise((r) => setTimeout(r, Number(process.env.BENCH_SETTLE_MS || 3000))); // subscriptions / consumers in place
  // BENCH_PERF=<file>: `perf record` of both Node-RED processes and nats-server over the timed window
  // (native frames of the io threads and the server; JS frames are in BENCH_PROFILE's V8 profiles).
  let perf = null;
  if (process.env.BENCH_PERF) {
    perf = require('child_process').spawn('perf', ['record', '-F', '999', '-g', '-o', `${process.env.BENCH_PERF}.${variant}.${n}`,
      '-p', [A.proc.pid, B.proc.pid, server.proc.pid].join(',')], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
  }
  const cpu0 = { A: cpuOf(A.proc.pid), B: cpuOf(B.proc.pid), S: cpuOf(server.proc.pid, false) };
  const t0 = process.hrtime.bigint() / 1000n; // µs, the clock of V8's CPU profiles (monotonic)
  await A.request('POST', '/go', { count: n });
  const until = Date.now() + Number(process.env.BENCH_WAIT_MS || 180000);
  while (!fs.existsSync(out) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const cpu1 = { A: cpuOf(A.proc.pid), B: cpuOf(B.proc.pid), S: cpuOf(server.proc.pid, false) };
  if (perf) { const exited = new Promise((r) => perf.once('exit', r)); perf.kill('SIGINT'); await exited; }
  if (process.env.BENCH_PROFILE) {
    fs.appendFileSync(path.join(process.env.BENCH_PROFILE, 'windows.jsonl'), JSON.stringify({ variant, n, rate,
      A: A.proc.pid, B: B.proc.pid, fromUs: String(t0), toUs: String(process.hrtime.bigint() / 1000n) }) + '\n');
  }
  if (!fs.existsSync(out)) return { variant, n, rate, error: 'not all messages arrived in time' };
  // BENCH_KEEP=<dir>: B's per-message log (index, sent ms, received ms) of every run.
  if (process.env.BENCH_KEEP) fs.copyFileSync(path.join(B.userDir, 'received.log'), path.join(process.env.BENCH_KEEP, `${variant}.${n}.${rate}.log`));
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  const lat = r.lat.sort((x, y) => x - y);
  const us = (ms) => Math.round((ms * 1000) / n);
  const a = cpuDelta(cpu0.A, cpu1.A); const b = cpuDelta(cpu0.B, cpu1.B); const sv = cpuDelta(cpu0.S, cpu1.S);
  if (process.env.BENCH_THREADS) console.log(variant, n, { A: a, B: b });
  return {
    variant, n, rate, msgs: Math.round(n / (r.elapsed / 1000)), p50: pct(lat, 0.5), p99: pct(lat, 0.99), inOrder: r.inOrder,
    cpu: { 'A js': us(a.js || 0), 'A io': us(a.io || 0), 'A other': us(a.other || 0),
      'B js': us(b.js || 0), 'B io': us(b.io || 0), 'B other': us(b.other || 0), 'nats-server': us(sv.all || 0),
      total: us(Object.values(a).concat(Object.values(b), Object.values(sv)).reduce((x, y) => x + y, 0)) },
  };
}

(async () => {
  const one = process.argv[2] !== undefined;
  const variants = (process.argv[3] || ALL.join(',')).split(',');
  const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
  // Bursts of 5 000 last under a second: several rounds (variants alternating), the median reported.
  const scenarios = one
    ? [{ n: Number(process.argv[2]), rate: Number(process.argv[4] || 0), rounds: ROUNDS }]
    : [{ n: 5000, rate: 0, rounds: ROUNDS }, { n: 100000, rate: 0, rounds: 1 }, { n: 500, rate: 100, rounds: 1 }, { n: 10000, rate: 5000, rounds: 1 }];
  const loadBefore = os.loadavg();
  const server = await startServer();
  const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  if (process.env.BENCH_PROFILE) fs.mkdirSync(process.env.BENCH_PROFILE, { recursive: true });
  const userDirA = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-bench-'));
  settingsFile(userDirA);
  const A = await startNodeRed({ packageDir: PKG, nodeArgs, userDir: userDirA });
  // B's user dir also holds the benchmark's sink node (BENCH_RECORDER=node).
  const userDirB = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-bench-'));
  settingsFile(userDirB);
  fs.mkdirSync(path.join(userDirB, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.join(__dirname, 'sink'), path.join(userDirB, 'node_modules', 'nrc-bench-sink'), 'dir');
  const B = await startNodeRed({ packageDir: PKG, nodeArgs, userDir: userDirB });
  const results = [];
  try {
    // Warm-up (not reported): every path once, so the first measured variant does not pay for the JIT.
    if (!process.env.BENCH_PROFILE) for (const v of variants) await runOne({ A, B, server }, v, 2000, 0);
    for (const s of scenarios) {
      for (let round = 0; round < s.rounds; round++) {
        for (const v of variants) {
          const r = await runOne({ A, B, server }, v, s.n, s.rate);
          results.push(r);
          console.error(JSON.stringify(r));
        }
      }
    }
  } finally {
    await Promise.all([A.stop(), B.stop()]);
    await server.stop();
    server.cleanup();
    for (const d of [userDirA, userDirB]) fs.rmSync(d, { recursive: true, force: true });
  }
  // The run with the median msg/s of a variant in a scenario (its CPU and latency shown with it).
  const median = (v, s) => {
    const runs = results.filter((r) => r.variant === v && r.n === s.n && r.rate === s.rate && !r.error).sort((a, b) => a.msgs - b.msgs);
    if (runs.length === 0) return null;
    return Object.assign({}, runs[Math.floor(runs.length / 2)], { range: runs.length > 1 ? `${runs[0].msgs}–${runs[runs.length - 1].msgs}` : '' });
  };
  const ratio = (x, y) => (x && y ? (x / y).toFixed(2) + '×' : '—');
  const rows = [];
  const cpuRows = [];
  for (const s of scenarios) {
    for (const v of variants) {
      const r = median(v, s);
      const label = s.rate ? `${s.rate} msg/s × ${s.n}` : `${s.n} in bursts of ${Math.min(BURST, s.n)}`;
      if (!r) {
        const e = results.find((x) => x.variant === v && x.n === s.n && x.rate === s.rate);
        if (e) rows.push({ scenario: label, variant: v, error: e.error });
        continue;
      }
      const base = v.startsWith('ours') ? (v === 'ours-ephemeral' ? 'ephemeral' : 'durable') : null;
      const peer = v === 'ours-ephemeral' ? median('natsjs-core', s) : v === 'ours-durable' ? median('natsjs-js', s) : null;
      rows.push({
        scenario: label, variant: v, 'msg/s': r.msgs, range: r.range, 'p50 ms': r.p50, 'p99 ms': r.p99, inOrder: r.inOrder,
        'CPU µs/msg': r.cpu.total,
        '/ original': !s.rate && base ? ratio(r.msgs, ORIGINAL[base]) : '',
        '/ nats.js': !s.rate && peer ? ratio(r.msgs, peer.msgs) : '',
      });
      cpuRows.push(Object.assign({ scenario: label, variant: v }, r.cpu));
    }
  }
  const la = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`${new Date().toISOString()}  ${os.cpus().length} CPUs  load average (1/5/15 min) before: ${la(loadBefore)}  after: ${la(os.loadavg())}`);
  console.log(`original plugin (published figures, 5 000 bursts): ephemeral ${ORIGINAL.ephemeral} msg/s, durable ${ORIGINAL.durable} msg/s`);
  console.table(rows);
  console.log('CPU µs per message of the runs above (user + system; A = publishing Node-RED, B = subscribing Node-RED):');
  console.table(cpuRows);
})().catch((e) => { console.error(e); process.exit(1); });
