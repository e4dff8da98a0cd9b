// The workloads on the official nats.js client (npm `nats`, v2), same command line and output as the
// C++ programs: node bench_natsjs.mjs pub|pubsub|rr <url> <count> <size> [warmup]
// nats.js is looked up in $NATS_JS_DIR/node_modules, else next to this file (bench/node_modules).
// Like our client, nats.js only queues on publish(), so the loops yield to the event loop every
// BATCH messages; memory stays bounded by a pipelined flush every FLUSH_EVERY messages (pub) or by a
// window of messages published but not yet received (pubsub).
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.NATS_JS_DIR ? path.resolve(process.env.NATS_JS_DIR) : here;
const require = createRequire(path.join(base, "package.json"));
const { connect } = require("nats");

const BATCH = Number(process.env.BENCH_JS_BATCH ?? 4096);
const FLUSH_EVERY = Number(process.env.BENCH_JS_FLUSH_EVERY ?? 64 * 1024);
const WINDOW = 32 * 1024;

const [workload, url, countArg, sizeArg, warmupArg] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
const warmup = warmupArg !== undefined ? Number(warmupArg) : Math.min(Math.floor(count / 10), 100000);
if (!["pub", "pubsub", "rr"].includes(workload) || !url || !(count > 0) || !(size >= 0)) {
  console.error("usage: node bench_natsjs.mjs pub|pubsub|rr <url> <count> <size> [warmup]");
  process.exit(2);
}

const payload = new Uint8Array(size).fill(0x78);
const yieldLoop = () => new Promise((resolve) => setImmediate(resolve));
const now = () => process.hrtime.bigint();
const secondsBetween = (a, b) => Number(b - a) / 1e9;
// CPU time (user + system) of this process since `since` (a process.cpuUsage() value), in seconds.
const cpuSince = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

function printRate(seconds, cpu) {
  console.log(JSON.stringify({ client: "nats.js", workload, count, size, seconds, msgs_per_sec: count / seconds,
    cpu_seconds: cpu }));
}

async function runPub() {
  const nc = await connect({ servers: url, name: "bench-pub" });
  const publishN = async (n) => {
    let previous = null;
    for (let i = 0; i < n; i++) {
      nc.publish("bench.pub", payload);
      if (i % BATCH === BATCH - 1) {
        if (i % FLUSH_EVERY === FLUSH_EVERY - 1) {
          if (previous) await previous;
          previous = nc.flush();
        } else {
          await yieldLoop();
        }
      }
    }
    await nc.flush();
  };
  await publishN(warmup);
  const c0 = process.cpuUsage();
  const t0 = now();
  await publishN(count);
  const t1 = now();
  printRate(secondsBetween(t0, t1), cpuSince(c0));
  await nc.close();
}

async function runPubsub() {
  const subNc = await connect({ servers: url, name: "bench-sub" });
  const pubNc = await connect({ servers: url, name: "bench-pub" });
  let published = 0;
  let received = 0;
  let target = 0;
  let doneAt = 0n;
  let wake = null; // resolves the publisher's wait
  const wakeUp = () => {
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  subNc.subscribe("bench.ps", {
    callback: (err) => {
      if (err) throw err;
      received++;
      if (received === target) {
        doneAt = now();
        wakeUp();
      } else if (wake && published - received <= WINDOW / 2) {
        wakeUp();
      }
    },
  });
  await subNc.flush();
  const sleep = () => new Promise((resolve) => (wake = resolve));
  const publishN = async (n) => {
    target = published + n;
    for (let i = 0; i < n; i++) {
      pubNc.publish("bench.ps", payload);
      published++;
      if (i % BATCH === BATCH - 1) {
        if (published - received > WINDOW) await sleep();
        else await yieldLoop();
      }
    }
    await pubNc.flush();
    while (received < target) await sleep();
  };
  if (warmup > 0) await publishN(warmup);
  const c0 = process.cpuUsage();
  const t0 = now();
  await publishN(count);
  printRate(secondsBetween(t0, doneAt), cpuSince(c0));
  await pubNc.close();
  await subNc.close();
}

async function runRr() {
  const respNc = await connect({ servers: url, name: "bench-responder" });
  const reqNc = await connect({ servers: url, name: "bench-requester" });
  respNc.subscribe("bench.rr", {
    callback: (err, m) => {
      if (err) throw err;
      m.respond(m.data);
    },
  });
  await respNc.flush();
  const one = async () => {
    const reply = await reqNc.request("bench.rr", payload, { timeout: 5000 });
    if (reply.data.length !== size) throw new Error("wrong reply size");
  };
  for (let i = 0; i < warmup; i++) await one();
  const lat = new Float64Array(count);
  const c0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const s = now();
    await one();
    lat[i] = Number(now() - s);
  }
  const t1 = now();
  const cpu = cpuSince(c0);
  lat.sort();
  const pct = (p) => lat[Math.round(p * (lat.length - 1))] / 1000;
  const seconds = secondsBetween(t0, t1);
  console.log(
    JSON.stringify({
      client: "nats.js",
      workload,
      count,
      size,
      seconds,
      msgs_per_sec: count / seconds,
      cpu_seconds: cpu,
      p50_us: pct(0.5),
      p90_us: pct(0.9),
      p99_us: pct(0.99),
      max_us: lat[lat.length - 1] / 1000,
    }),
  );
  await reqNc.close();
  await respNc.close();
}

try {
  if (workload === "pub") await runPub();
  else if (workload === "pubsub") await runPubsub();
  else await runRr();
} catch (e) {
  console.error(`error: ${e?.message ?? e}`);
  process.exit(1);
}
