// Benchmark driver: runs every workload on every client against a fresh local nats-server (a free
// 127.0.0.1 port, started and stopped here for each measurement), repeats the whole matrix, prints
// one table and optionally writes it to a Markdown file. Clients within a round run in a rotating
// order so that none always runs first or last on a noisy machine.
//
//   node bench/driver.mjs --build <build dir> [--repeat N] [--scale F] [--write bench/RESULTS.md]
//                         [--callgrind] [--only pub,pubsub,rr,jspub,jsfetch,kvput,kvget] [--nice N]
//
// --nice N runs the server and the clients under `nice -n N` (negative needs root): on a machine shared
// with other work this keeps the measurement closer to what an idle machine would show.
//
// Environment: NATS_SERVER_BIN (default: nats-server from PATH or /usr/sbin), NATS_JS_DIR (where
// node_modules/nats lives, default bench/).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const opt = { build: null, repeat: 3, scale: 1, write: null, callgrind: false, only: null, nice: null };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--build") opt.build = argv[++i];
  else if (a === "--repeat") opt.repeat = Number(argv[++i]);
  else if (a === "--scale") opt.scale = Number(argv[++i]);
  else if (a === "--write") opt.write = argv[++i];
  else if (a === "--callgrind") opt.callgrind = true;
  else if (a === "--only") opt.only = argv[++i].split(",");
  else if (a === "--nice") opt.nice = Number(argv[++i]);
  else {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
}
if (!opt.build) {
  console.error("usage: node driver.mjs --build <build dir> [--repeat N] [--scale F] [--write FILE] [--callgrind]");
  process.exit(2);
}

// ---------------------------------------------------------------- workloads and clients
// `ref` is the C client variant the ratios are taken against: its buffered default for throughput,
// its send-asap mode for latency (with defaults its flusher thread waits ~1 ms before writing, which
// would make every client look fast; that row is still shown).
const WORKLOADS = [
  { id: "pub", title: "publish {n} x 16 B + flush", count: 2_000_000, size: 16, kind: "rate", ref: "c",
    clients: ["ours", "c", "nats.js"] },
  { id: "pubsub", title: "pub/sub {n} x 128 B received", count: 1_000_000, size: 128, kind: "rate", ref: "c",
    clients: ["ours", "c", "nats.js"] },
  { id: "rr", title: "request/reply {n} x 64 B sequential", count: 20_000, size: 64, kind: "latency", ref: "c-asap",
    clients: ["ours", "c-asap", "c", "nats.js"] },
  // JetStream and KV (`js: true`: the server runs with -js and a fresh temporary store dir, file storage).
  { id: "jspub", title: "JetStream async publish {n} x 128 B, window 256", count: 200_000, size: 128, kind: "rate",
    ref: "c", js: true, clients: ["ours", "c", "nats.js"] },
  { id: "jsfetch", title: "JetStream pull fetch {n} x 128 B, batch 500, ack each", count: 200_000, size: 128,
    kind: "rate", ref: "c", js: true, clients: ["ours", "c", "nats.js"] },
  { id: "kvput", title: "KV put {n} x 128 B sequential", count: 10_000, size: 128, kind: "rate", ref: "c", js: true,
    clients: ["ours", "c", "nats.js"] },
  { id: "kvget", title: "KV get {n} x 128 B sequential", count: 10_000, size: 128, kind: "rate", ref: "c", js: true,
    clients: ["ours", "c", "nats.js"] },
].filter((w) => !opt.only || opt.only.includes(w.id));
// Titles show the message count actually run (--scale changes it).
for (const w of WORKLOADS) {
  const n = Math.max(1, Math.round(w.count * opt.scale));
  const short = n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 100 === 0 ? `${n / 1e3}k` : String(n);
  w.title = w.title.replace("{n}", short);
}

const progOurs = path.join(opt.build, "bench", "bench_ours");
const progC = path.join(opt.build, "bench", "bench_cnats");
const progJs = path.join(here, "bench_natsjs.mjs");

function natsJsVersion() {
  try {
    const base = process.env.NATS_JS_DIR ? path.resolve(process.env.NATS_JS_DIR) : here;
    const req = createRequire(path.join(base, "package.json"));
    const main = req.resolve("nats");
    let dir = path.dirname(main);
    while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

const available = {
  ours: fs.existsSync(progOurs),
  c: fs.existsSync(progC),
  "c-asap": fs.existsSync(progC),
  "nats.js": natsJsVersion() !== null,
};

function command(client, workload, count, size, warmup) {
  const rest = [workload, null, String(count), String(size)];
  if (warmup !== undefined) rest.push(String(warmup));
  switch (client) {
    case "ours": return [progOurs, rest];
    case "c": return [progC, rest];
    case "c-asap": return [progC, ["--send-asap", ...rest]];
    case "nats.js": return [process.execPath, [progJs, ...rest]];
  }
  throw new Error(client);
}

// ---------------------------------------------------------------- nats-server
function niced(cmd, args) {
  return opt.nice === null ? [cmd, args] : ["nice", ["-n", String(opt.nice), cmd, ...args]];
}

function serverBinary() {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const r = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  return "/usr/sbin/nats-server";
}
const NATS_SERVER = serverBinary();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.once("connect", () => { sock.destroy(); resolve(true); });
    sock.once("error", () => resolve(false));
  });
}

const liveServers = new Set();
process.on("exit", () => { for (const p of liveServers) p.kill("SIGKILL"); });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

// With `js`, JetStream is enabled with a fresh store dir, removed by stopServer.
async function startServer({ js = false } = {}) {
  const port = await freePort();
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  const storeDir = js ? fs.mkdtempSync(path.join(os.tmpdir(), "bench-js-")) : null;
  if (js) args.push("-js", "-sd", storeDir);
  const [scmd, sargs] = niced(NATS_SERVER, args);
  const proc = spawn(scmd, sargs, { stdio: "ignore" });
  liveServers.add(proc);
  let exited = false;
  proc.once("exit", () => {
    exited = true;
    liveServers.delete(proc);
    if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${NATS_SERVER} exited at start`);
    if (await canConnect(port)) return { proc, url: `nats://127.0.0.1:${port}`, storeDir };
    await new Promise((r) => setTimeout(r, 20));
  }
  proc.kill("SIGKILL");
  throw new Error(`${NATS_SERVER} did not open port ${port}`);
}

function stopServer({ proc }) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    proc.once("exit", () => { clearTimeout(t); resolve(); });
    proc.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------- running one program
function runProgram(file, args, { timeoutMs = 300000, wrap = null } = {}) {
  return new Promise((resolve) => {
    const [cmd, cargs] = wrap ? [wrap[0], [...wrap.slice(1), file, ...args]] : [file, args];
    const p = spawn(cmd, cargs, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => { err += `\n(killed after ${timeoutMs} ms)`; p.kill("SIGKILL"); }, timeoutMs);
    p.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

async function measure(client, w) {
  const count = Math.max(1, Math.round(w.count * opt.scale));
  const server = await startServer({ js: !!w.js });
  try {
    const [file, args] = command(client, w.id, count, w.size);
    args[args.indexOf(null)] = server.url;
    const [ncmd, nargs] = niced(file, args);
    const r = await runProgram(ncmd, nargs);
    const line = r.out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    if (r.code !== 0 || !line) {
      return { error: (r.err.trim() || `exit ${r.code ?? r.signal}`).split("\n").slice(-3).join(" | ") };
    }
    return JSON.parse(line);
  } finally {
    await stopServer(server);
  }
}

// ---------------------------------------------------------------- callgrind (instructions per message)
// Total instructions of the whole process for two message counts; the difference divided by the
// difference of counts cancels start-up, connect and shutdown. Deterministic to within a few per cent
// whatever else the machine runs (scheduling only changes how many messages one read or write carries).
function callgrindAvailable() {
  return spawnSync("sh", ["-c", "command -v valgrind"], { encoding: "utf8" }).status === 0;
}

async function instructionsOf(client, workload, count, size, js) {
  const server = await startServer({ js });
  try {
    const [file, args] = command(client, workload, count, size, 0);
    args[args.indexOf(null)] = server.url;
    const outFile = path.join(os.tmpdir(), `bench-callgrind-${process.pid}-${Date.now()}.out`);
    const wrap = ["valgrind", "--tool=callgrind", `--callgrind-out-file=${outFile}`];
    const r = await runProgram(file, args, { timeoutMs: 600000, wrap });
    fs.rmSync(outFile, { force: true });
    const m = r.err.match(/Collected\s*:\s*(\d+)/);
    if (r.code !== 0 || !m) return { error: r.err.trim().split("\n").slice(-2).join(" | ") };
    return { ir: Number(m[1]) };
  } finally {
    await stopServer(server);
  }
}

async function callgrindTable() {
  const rows = [];
  const cases = [
    { workload: "pub", size: 16, small: 20_000, large: 120_000 },
    { workload: "pubsub", size: 128, small: 10_000, large: 60_000 },
    { workload: "rr", size: 64, small: 1_000, large: 5_000 },
    // jsfetch publishes its messages first (through the async publisher), so its figure is publish +
    // fetch + ack; the jspub row is the publish part alone.
    { workload: "jspub", size: 128, small: 5_000, large: 25_000 },
    { workload: "jsfetch", size: 128, small: 5_000, large: 25_000 },
    { workload: "kvput", size: 128, small: 1_000, large: 5_000 },
    { workload: "kvget", size: 128, small: 1_000, large: 5_000 },
  ];
  for (const c of cases.filter((k) => !opt.only || opt.only.includes(k.workload))) {
    const js = c.workload.startsWith("js") || c.workload.startsWith("kv");
    for (const client of c.workload === "rr" ? ["ours", "c-asap"] : ["ours", "c"]) {
      if (!available[client]) continue;
      process.stderr.write(`callgrind ${c.workload} ${client} ...\n`);
      const a = await instructionsOf(client, c.workload, c.small, c.size, js);
      const b = await instructionsOf(client, c.workload, c.large, c.size, js);
      if (a.error || b.error) rows.push({ ...c, client, error: a.error || b.error });
      else rows.push({ ...c, client, perMsg: (b.ir - a.ir) / (c.large - c.small) });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- statistics and formatting
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtRate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
const fmtUs = (x) => x.toFixed(0);
const fmtRatio = (x) => `${x.toFixed(2)}x`;

function summarize(results) {
  const rows = [];
  for (const w of WORKLOADS) {
    const per = {};
    for (const client of w.clients) {
      const runs = results.filter((r) => r.workload === w.id && r.client === client);
      const ok = runs.filter((r) => !r.error);
      if (!ok.length) {
        per[client] = { client, runs: runs.length, error: runs.map((r) => r.error).filter(Boolean)[0] ?? "not run" };
        continue;
      }
      const rates = ok.map((r) => r.msgs_per_sec);
      const s = { client, runs: runs.length, ok: ok.length, rate: median(rates), rateMin: Math.min(...rates), rateMax: Math.max(...rates) };
      const cpu = ok.filter((r) => r.cpu_seconds !== undefined).map((r) => (r.cpu_seconds / r.count) * 1e9);
      if (cpu.length) s.cpuNs = median(cpu);
      if (w.kind === "latency") {
        s.p50 = median(ok.map((r) => r.p50_us));
        s.p99 = median(ok.map((r) => r.p99_us));
      }
      per[client] = s;
    }
    const ref = per[w.ref];
    for (const client of w.clients) {
      const s = per[client];
      const row = { workload: w, ...s };
      if (!s.error && ref && !ref.error && s.cpuNs !== undefined && ref.cpuNs !== undefined) row.cpuRatio = ref.cpuNs / s.cpuNs;
      if (!s.error && ref && !ref.error) {
        if (w.kind === "rate") row.ratio = s.rate / ref.rate;
        else {
          row.ratio = s.rate / ref.rate;
          row.ratioP50 = ref.p50 / s.p50;
          row.ratioP99 = ref.p99 / s.p99;
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

function table(rows) {
  const lines = [
    "| workload | client | msgs/s (median) | min - max | p50 µs | p99 µs | vs C (>1 = better) | client CPU ns/msg | CPU vs C |",
    "|---|---|---:|---:|---:|---:|---|---:|---:|",
  ];
  for (const r of rows) {
    const w = r.workload;
    const name = r.client === w.ref ? `**${r.client}** (ref)` : r.client;
    if (r.error) {
      lines.push(`| ${w.title} | ${name} | failed: ${String(r.error).replace(/\|/g, "/").slice(0, 120)} | | | | | | |`);
      continue;
    }
    const lat = w.kind === "latency";
    let ratio = r.ratio === undefined ? "n/a" : fmtRatio(r.ratio);
    if (lat && r.ratioP50 !== undefined) ratio = `rate ${fmtRatio(r.ratio)}, p50 ${fmtRatio(r.ratioP50)}, p99 ${fmtRatio(r.ratioP99)}`;
    lines.push(`| ${w.title} | ${name} | ${fmtRate(r.rate)} | ${fmtRate(r.rateMin)} - ${fmtRate(r.rateMax)} | ` +
      `${lat ? fmtUs(r.p50) : ""} | ${lat ? fmtUs(r.p99) : ""} | ${ratio} | ` +
      `${r.cpuNs !== undefined ? r.cpuNs.toFixed(0) : ""} | ${r.cpuRatio !== undefined ? fmtRatio(r.cpuRatio) : ""} |`);
  }
  return lines.join("\n");
}

function callgrindMarkdown(rows) {
  const lines = ["| workload (messages or requests) | client | instructions per message (per request for rr) |", "|---|---|---:|"];
  for (const r of rows) {
    const label = `${r.workload} (${r.large.toLocaleString("en")} - ${r.small.toLocaleString("en")})`;
    lines.push(`| ${label} | ${r.client} | ${r.error ? `failed: ${r.error}` : Math.round(r.perMsg).toLocaleString("en")} |`);
  }
  return lines.join("\n");
}

function machine() {
  const cpu = (() => {
    try {
      const m = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
      return m ? m[1].trim() : os.cpus()[0]?.model ?? "unknown";
    } catch {
      return os.cpus()[0]?.model ?? "unknown";
    }
  })();
  const nproc = spawnSync("nproc", [], { encoding: "utf8" }).stdout.trim() || String(os.cpus().length);
  const sv = spawnSync(NATS_SERVER, ["--version"], { encoding: "utf8" }).stdout.trim();
  const cv = spawnSync("pkg-config", ["--modversion", "libnats"], { encoding: "utf8" }).stdout.trim();
  const git = spawnSync("git", ["-C", here, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
  return { cpu, nproc, server: sv, cnats: cv || "unknown", natsjs: natsJsVersion() ?? "not installed", git,
    kernel: os.release(), load: os.loadavg().map((x) => x.toFixed(2)).join(" ") };
}

// ---------------------------------------------------------------- main
const missing = Object.entries(available).filter(([, v]) => !v).map(([k]) => k);
if (missing.length) console.error(`not available (skipped): ${missing.join(", ")}`);

const m0 = machine();
const started = new Date();
const results = [];
for (let round = 0; round < opt.repeat; round++) {
  for (const w of WORKLOADS) {
    const clients = w.clients.filter((c) => available[c]);
    const rot = round % clients.length;
    for (const client of [...clients.slice(rot), ...clients.slice(0, rot)]) {
      process.stderr.write(`round ${round + 1}/${opt.repeat} ${w.id} ${client} ... `);
      const r = await measure(client, w);
      results.push({ ...r, client, workload: w.id, round });
      process.stderr.write(r.error ? `FAILED: ${r.error}\n` :
        `${fmtRate(r.msgs_per_sec)} msgs/s${r.p50_us !== undefined ? `, p50 ${fmtUs(r.p50_us)} µs, p99 ${fmtUs(r.p99_us)} µs` : ""}\n`);
    }
  }
}
const rows = summarize(results);
const tbl = table(rows);
console.log(tbl);

let cg = null;
if (opt.callgrind) {
  if (callgrindAvailable()) {
    cg = await callgrindTable();
    console.log("\nInstructions per message (valgrind --tool=callgrind, whole process, optional figure):");
    console.log(callgrindMarkdown(cg));
  } else {
    console.error("valgrind not found: no callgrind figures");
  }
}

if (opt.write) {
  const m1 = machine();
  const doc = `# Benchmark results

Written by \`bench/run.sh\` (bench/driver.mjs); see bench/README.md for the workloads and how each client is driven.

- Date: ${started.toISOString()} (finished ${new Date().toISOString()})
- Machine: ${m0.nproc} CPUs (\`nproc\`), ${m0.cpu}, Linux ${m0.kernel}; load average before/after: ${m0.load} / ${m1.load}
- ${m0.server.replace(/^nats-server: */, "nats-server ")}; C client: libnats ${m0.cnats}; nats.js: ${m0.natsjs}; ours: commit ${m0.git || "unknown"}, release build
- Each cell is the median of ${opt.repeat} runs${opt.scale !== 1 ? ` at scale ${opt.scale}` : ""}, each run a fresh process against a fresh nats-server; the client order rotates between rounds.${opt.nice !== null ? ` Server and clients ran under \`nice -n ${opt.nice}\`.` : ""}
- Ratios are against the C client: its default (buffered) mode for throughput, its send-asap mode (\`natsOptions_SetSendAsap\`) for request/reply. Above 1 means better than the C client (more msgs/s, lower latency, less CPU).
- "client CPU ns/msg": user + system CPU time of the client process (all its threads, both connections) during the timed part, per message (per request for request/reply). The server's CPU is not included. On a shared machine it moves much less than wall-clock time.

${tbl}
${cg ? `
## Instructions per message (optional, repeatable)

\`valgrind --tool=callgrind\` total instructions of the whole process (all threads, kernel excluded) at two message counts; the difference divided by the difference of counts, so start-up and connect cancel out. Unlike the wall-clock table it does not depend on what else the machine runs.

${callgrindMarkdown(cg)}
` : ""}
## Raw runs

| round | workload | client | msgs/s | p50 µs | p99 µs | CPU ns/msg | error |
|---|---|---|---:|---:|---:|---:|---|
${results.map((r) => `| ${r.round + 1} | ${r.workload} | ${r.client} | ${r.error ? "" : fmtRate(r.msgs_per_sec)} | ${r.p50_us !== undefined ? fmtUs(r.p50_us) : ""} | ${r.p99_us !== undefined ? fmtUs(r.p99_us) : ""} | ${r.cpu_seconds !== undefined ? ((r.cpu_seconds / r.count) * 1e9).toFixed(0) : ""} | ${r.error ? String(r.error).replace(/\|/g, "/").slice(0, 160) : ""} |`).join("\n")}
`;
  fs.writeFileSync(opt.write, doc);
  console.error(`wrote ${opt.write}`);
}
