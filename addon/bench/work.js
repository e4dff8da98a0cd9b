'use strict';
// Node-RED request/reply and group (work queue) benchmarks: real Node-RED processes and a real
// nats-server. One command prints both tables:
//
//   request/reply  process R: a loop function node → the request path → back to the loop (it keeps
//                  `concurrency` requests outstanding and records each round trip); process S answers.
//     ours         cluster request → (S) cluster request in → cluster response
//     nats.js      function nodes on the official nats.js v3 client: nc.request in R; in S a function
//                  node subscribes and sends each request on to a second one that responds
//   group          process P publishes N durable messages (cluster publish) in bursts; 1, 2 or 3 member
//                  processes each run a cluster subscribe node with "Delivery: one instance of group"
//                  ending in a function node that appends the job to a file. msg/s from the first
//                  publish to the last job processed; each job must be processed exactly once.
//
//   node bench/work.js                 everything, BENCH_ROUNDS rounds (default 3; ≈ 2 min)
//   BENCH_RR=<n>        requests per request/reply run (default 2000; sequential runs use n/2)
//   BENCH_JOBS=<n>      jobs per group run (default 10000)
//   BENCH_PAYLOAD=<bytes>  padding per message (default 100)
//   BENCH_PARTS=rr|groups  only one of the two (default both)
// Needs the nats.js v3 packages of bench/ (repository root): `cd bench && npm ci`.
const path = require('path');
const fs = require('fs');
const os = require('os');
const { startServer } = require('../test/support/nats-server');
const { startNodeRed } = require('../test/support/nodered');
const { settingsFile, pct } = require('./common');

const PKG = path.join(__dirname, '..');
const RR = Number(process.env.BENCH_RR || 2000);
const JOBS = Number(process.env.BENCH_JOBS || 10000);
const PAD = JSON.stringify('x'.repeat(Number(process.env.BENCH_PAYLOAD || 100)));
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS || 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const WAIT_MS = Number(process.env.BENCH_WAIT_MS || 60000);
const PARTS = (process.env.BENCH_PARTS || 'rr,groups').split(',');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const libs = [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }, { var: 'perf_hooks', module: 'perf_hooks' }];

// --- request/reply -------------------------------------------------------------------------------

// R's loop: started by POST /go {count, concurrency}; every answer (back from the request path) is
// timed and replaced by the next request until `count` have been answered; then the result file.
const LOOP = `const now = () => perf_hooks.performance.now();
if (msg.req) {
  const st = {n: msg.payload.count, sent: 0, got: 0, lat: [], t0: now()};
  context.set('st', st);
  for (let k = 0; k < msg.payload.concurrency && st.sent < st.n; k++) node.send({payload: {i: st.sent++, t: now(), pad: ${PAD}}});
  return null;
}
const st = context.get('st');
if (!msg.payload || typeof msg.payload.t !== 'number') { node.warn('not an answer: ' + JSON.stringify(msg).slice(0, 300)); return null; }
st.lat.push(now() - msg.payload.t);
if (st.sent < st.n) node.send({payload: {i: st.sent++, t: now(), pad: ${PAD}}});
if (++st.got === st.n) fs.writeFileSync(path.join(env.get('NRC_USER_DIR'), 'rr.json'), JSON.stringify({elapsed: now() - st.t0, lat: st.lat}));
return null;`;

function flowR(address, variant) {
  const nodes = [
    { id: 'tr', type: 'tab', label: 'R' },
    { id: 'in', type: 'http in', z: 'tr', url: '/go', method: 'post', wires: [['loop', 'res']] },
    { id: 'res', type: 'http response', z: 'tr', statusCode: '200', wires: [] },
    { id: 'loop', type: 'function', z: 'tr', outputs: 1, libs, func: LOOP, wires: [['rq']] },
  ];
  if (variant === 'ours') {
    return nodes.concat([
      { id: 'cr', type: 'ClusterConfigNode', instanceId: 'bench-r', zkRootPath: '/benchrr', natsAddress: address, role: 'Member' },
      { id: 'rq', type: 'ClusterRequestNode', z: 'tr', clusterConfig: 'cr', subject: 'echo', target: 'any', timeout: 10, wires: [['loop']] },
    ]);
  }
  return nodes.concat([{
    id: 'rq', type: 'function', z: 'tr', outputs: 1,
    initialize: `const nats = global.get('natsjs'); context.set('nc', await nats.connect({servers: ${JSON.stringify(address)}}));`,
    func: `context.get('nc').request('natsjs.echo', JSON.stringify(msg.payload), {timeout: 10000})
  .then((m) => { msg.payload = m.json(); node.send(msg); node.done(); }, (e) => node.done(e));
return null;`,
    finalize: `const nc = context.get('nc'); if (nc) nc.drain().catch(() => {});`,
    wires: [['loop']],
  }]);
}

function flowS(address, variant) {
  const tab = { id: 'ts', type: 'tab', label: 'S' };
  if (variant === 'ours') {
    return [tab,
      { id: 'cs', type: 'ClusterConfigNode', instanceId: 'bench-s', zkRootPath: '/benchrr', natsAddress: address, role: 'Member' },
      { id: 'ri', type: 'ClusterRequestInNode', z: 'ts', clusterConfig: 'cs', subject: 'echo', group: '', wires: [['rs']] },
      { id: 'rs', type: 'ClusterResponseNode', z: 'ts', wires: [] },
    ];
  }
  // The connection is shared through the flow context: one node subscribes, the other responds.
  return [tab, {
    id: 'sub', type: 'function', z: 'ts', outputs: 1,
    initialize: `const nats = global.get('natsjs'); const nc = await nats.connect({servers: ${JSON.stringify(address)}});
flow.set('nc', nc);
nc.subscribe('natsjs.echo', {callback: (err, m) => { if (!err) node.send({payload: m.json(), reply: m.reply}); }});
await nc.flush();`,
    func: 'return null;',
    finalize: `const nc = flow.get('nc'); if (nc) nc.drain().catch(() => {});`,
    wires: [['resp']],
  }, {
    id: 'resp', type: 'function', z: 'ts', outputs: 0,
    func: `flow.get('nc').publish(msg.reply, JSON.stringify(msg.payload)); return null;`,
    wires: [],
  }];
}

async function connectedStatus(proc, id) {
  for (let i = 0; i < 100; i++) {
    const s = (await proc.request('GET', `/cluster/status/${id}`)).json;
    if (s && s.connected) return;
    await sleep(100);
  }
  throw new Error(`${id} did not connect`);
}

async function deployRR(ctx, variant) {
  const { R, S, server } = ctx;
  await S.deploy(flowS(server.address, variant));
  await R.deploy(flowR(server.address, variant));
  if (variant === 'ours') { await connectedStatus(R, 'cr'); await connectedStatus(S, 'cs'); }
  await sleep(SETTLE_MS);
}

async function runRR(ctx, variant, n, concurrency) {
  const out = path.join(ctx.R.userDir, 'rr.json');
  fs.rmSync(out, { force: true });
  await ctx.R.request('POST', '/go', { count: n, concurrency });
  const until = Date.now() + WAIT_MS;
  while (!fs.existsSync(out) && Date.now() < until) await sleep(20);
  if (!fs.existsSync(out)) return { variant, concurrency, n, error: 'not all requests answered in time' };
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (process.env.BENCH_DEBUG) console.error(JSON.stringify(r).slice(0, 500));
  const lat = r.lat.sort((a, b) => a - b);
  return { variant, concurrency, n, 'req/s': Math.round(n / (r.elapsed / 1000)),
    'p50 ms': Number(pct(lat, 0.5).toFixed(2)), 'p99 ms': Number(pct(lat, 0.99).toFixed(2)) };
}

// --- groups --------------------------------------------------------------------------------------

// P: http in → bursts of 1 000 messages (each burst in one synchronous loop) → cluster publish (durable).
function flowP(address, root, k) {
  return [
    { id: 'tp', type: 'tab', label: 'P' },
    { id: 'in', type: 'http in', z: 'tp', url: '/go', method: 'post', wires: [['fn', 'res']] },
    { id: 'res', type: 'http response', z: 'tp', statusCode: '200', wires: [] },
    { id: 'fn', type: 'function', z: 'tp', outputs: 1, wires: [['p']],
      func: `const n = msg.payload.count; let i = 0;
const burst = () => { const end = Math.min(n, i + 1000); for (; i < end; i++) node.send({payload: {i, pad: ${PAD}}}); if (i < n) setTimeout(burst, 0); };
burst();
return null;` },
    { id: 'cp', type: 'ClusterConfigNode', instanceId: `prod${k}`, zkRootPath: root, natsAddress: address, role: 'Member', outboxLimit: 1000000 },
    { id: 'p', type: 'ClusterPublishNode', z: 'tp', clusterConfig: 'cp', subject: 'jobs.x', mode: 'Durable', ttl: 600, wires: [] },
  ];
}

// A member: group subscription → a function node appending "index time redelivered" per job to a file.
function flowM(address, root, k, j) {
  return [
    { id: 'tm', type: 'tab', label: 'M' },
    { id: 'cm', type: 'ClusterConfigNode', instanceId: `m${j}-of-${k}`, zkRootPath: root, natsAddress: address, role: 'Member' },
    { id: 'sm', type: 'ClusterSubscribeNode', z: 'tm', clusterConfig: 'cm', subjectPattern: `prod${k}.jobs.>`, start: 'new',
      ackMode: 'auto', delivery: 'group', group: 'work', wires: [['rec']] },
    { id: 'rec', type: 'function', z: 'tm', outputs: 0, libs,
      func: `fs.appendFileSync(path.join(env.get('NRC_USER_DIR'), 'jobs.log'), msg.payload.i + ' ' + Date.now() + ' ' + (msg.cluster.redelivered ? 1 : 0) + '\\n');
return null;` },
  ];
}

const readJobs = (proc) => {
  try {
    return fs.readFileSync(path.join(proc.userDir, 'jobs.log'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').map(Number));
  } catch (_) { return []; }
};

async function runGroup(ctx, k, n, round) {
  const { P, members, server } = ctx;
  const root = `/benchgroup${k}r${round}`; // a root per run: its own stream and group consumer
  for (const m of members) fs.rmSync(path.join(m.userDir, 'jobs.log'), { force: true });
  for (let j = 0; j < members.length; j++) {
    await members[j].deploy(j < k ? flowM(server.address, root, k, j + 1) : [{ id: 'tm', type: 'tab', label: 'idle' }]);
  }
  await P.deploy(flowP(server.address, root, k));
  await connectedStatus(P, 'cp');
  for (let j = 0; j < k; j++) await connectedStatus(members[j], 'cm');
  await sleep(SETTLE_MS); // the group consumer in place
  const t0 = Date.now();
  await P.request('POST', '/go', { count: n });
  const until = Date.now() + WAIT_MS;
  let jobs = [];
  for (;;) {
    jobs = members.slice(0, k).map(readJobs);
    if (jobs.reduce((s, x) => s + x.length, 0) >= n || Date.now() > until) break;
    await sleep(200);
  }
  await sleep(1000); // a second processing of any job would show up now
  jobs = members.slice(0, k).map(readJobs);
  const all = jobs.flat();
  const seen = new Set(all.map((x) => x[0]));
  const last = Math.max(...all.map((x) => x[1]));
  return {
    members: k, jobs: n, 'msg/s': seen.size === n ? Math.round(n / ((last - t0) / 1000)) : '—',
    processed: all.length, distinct: seen.size, lost: n - seen.size, twice: all.length - seen.size,
    redelivered: all.filter((x) => x[2]).length, 'per member': jobs.map((x) => x.length).join(' / '),
  };
}

/// Per key, the run with the median `field` (failed runs count as lowest), with the range of all runs.
function median(runs, key, field) {
  const out = [];
  for (const k of [...new Set(runs.map(key))]) {
    const all = runs.filter((r) => key(r) === k).sort((a, b) => (Number(a[field]) || 0) - (Number(b[field]) || 0));
    const m = Object.assign({}, all[Math.floor(all.length / 2)]);
    if (all.length > 1) m.range = `${all[0][field] || all[0].error}–${all[all.length - 1][field]}`;
    delete m.lost; delete m.twice;
    out.push(m);
  }
  return out;
}

// --- main ----------------------------------------------------------------------------------------

async function nodeRed() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-work-'));
  settingsFile(userDir);
  return startNodeRed({ packageDir: PKG, userDir });
}

(async () => {
  const loadBefore = os.loadavg();
  const started = Date.now();
  const server = await startServer();
  // R/P and S/member 1 are the same processes; members 2 and 3 join for the group runs.
  const procs = await Promise.all([nodeRed(), nodeRed(), nodeRed(), nodeRed()]);
  const [R, S, M2, M3] = procs;
  const rr = [];
  const groups = [];
  try {
    // Rounds with the variants alternating (the machine is shared): the run with the median rate is shown.
    for (let round = 0; round < (PARTS.includes('rr') ? ROUNDS : 0); round++) {
      for (const v of (process.env.BENCH_RR_VARIANTS || 'ours,natsjs').split(',')) {
        await deployRR({ R, S, server }, v);
        await runRR({ R, S }, v, 200, 4); // warm-up, not reported
        for (const c of [1, 16]) {
          const r = await runRR({ R, S }, v, c === 1 ? RR / 2 : RR, c);
          rr.push(r);
          console.error(JSON.stringify(r));
        }
      }
    }
    await R.deploy([{ id: 'tr', type: 'tab', label: 'idle' }]);
    await S.deploy([{ id: 'ts', type: 'tab', label: 'idle' }]);
    for (let round = 0; round < (PARTS.includes('groups') ? ROUNDS : 0); round++) {
      for (const k of [1, 2, 3]) {
        const r = await runGroup({ P: R, members: [S, M2, M3], server }, k, JOBS, round);
        groups.push(r);
        console.error(JSON.stringify(r));
      }
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
    server.cleanup();
    for (const p of procs) fs.rmSync(p.userDir, { recursive: true, force: true });
  }
  const la = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`${new Date().toISOString()}  ${os.cpus().length} CPUs  load average (1/5/15 min) before: ${la(loadBefore)}  after: ${la(os.loadavg())}  (${Math.round((Date.now() - started) / 1000)} s)`);
  console.log('Request/reply round trip between two Node-RED processes (ours: cluster request → cluster request in → cluster response; nats.js: function nodes):');
  console.table(median(rr, (r) => `${r.variant} ${r.concurrency}`, 'req/s'));
  console.log('Group: one producer process (durable publish), 1–3 member processes (one instance of group, auto ack):');
  console.table(median(groups, (r) => r.members, 'msg/s').map((r) => Object.assign(r, {
    // Over all rounds of this member count: each job must have been processed exactly once in every one.
    'lost (all rounds)': groups.filter((g) => g.members === r.members).reduce((x, g) => x + g.lost, 0),
    'twice (all rounds)': groups.filter((g) => g.members === r.members).reduce((x, g) => x + g.twice, 0),
  })));
})().catch((e) => { console.error(e); process.exit(1); });
