'use strict';
// Where the JS threads of an e2e.js run spent their time, per message and per category (ours, Node-RED's
// runtime, function nodes, fs, GC...), from the V8 CPU profiles that `BENCH_PROFILE=<dir> node bench/e2e.js`
// writes, limited to each timed window (windows.jsonl).
//
//   node bench/profile-summary.js <dir>
// Profiling slows the JS threads down (about 1.5×): compare shares, and absolute values of the same run.
const fs = require('fs');
const path = require('path');

function category(cf) {
  const u = cf.url; const f = cf.functionName;
  if (f === '(idle)') return 'idle';
  if (f === '(garbage collector)') return 'GC';
  if (f === '(program)') return 'V8/native outside JS (incl. N-API calls)';
  if (/\/addon\/(lib|nodes)\//.test(u) && !u.includes('node_modules')) return 'ours: ' + u.split('/').slice(-2).join('/');
  if (u.startsWith('Function node:')) return 'function nodes: their script (sandbox access included)';
  if (f === 'writeFileUtf8' || /node:fs|internal\/fs/.test(u)) return 'fs (the recorder appends a line per message)';
  if (/node:vm/.test(u) || f === 'runInContext') return 'function nodes: vm';
  if (/10-function\.js/.test(u)) return 'function nodes: Node-RED wrapper';
  if (/node-red|@node-red|lodash/.test(u)) return 'Node-RED runtime (routing, hooks, cloneDeep, log)';
  return 'Node.js internals (timers, events, buffer, microtasks)';
}

function summarize(file, fromUs, toUs, n) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  let t = p.startTime; let busy = 0;
  const per = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    const c = category(byId.get(p.samples[i]).callFrame);
    if (c === 'idle') continue;
    per.set(c, (per.get(c) || 0) + p.timeDeltas[i]);
    busy += p.timeDeltas[i];
  }
  const rows = [...per].sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ category: k, 'µs/msg': +(v / n).toFixed(1), share: `${Math.round((100 * v) / busy)} %` }));
  return { busy: +(busy / n).toFixed(1), rows };
}

const dir = process.argv[2];
if (!dir) { console.error('usage: node bench/profile-summary.js <BENCH_PROFILE dir>'); process.exit(2); }
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
for (const line of fs.readFileSync(path.join(dir, 'windows.jsonl'), 'utf8').split('\n').filter(Boolean)) {
  const w = JSON.parse(line);
  for (const side of ['A', 'B']) {
    const f = files.find((x) => x.includes(`.${w[side]}.`));
    if (!f) continue;
    const s = summarize(path.join(dir, f), Number(w.fromUs), Number(w.toUs), w.n);
    console.log(`${w.variant} n=${w.n}${w.rate ? ` rate=${w.rate}` : ''} — ${side} JS thread busy ${s.busy} µs per message`);
    console.table(s.rows);
  }
}
