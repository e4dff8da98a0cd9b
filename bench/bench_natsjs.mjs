// The workloads on the official nats.js client (npm `nats`, v2), same command line and output as the
// C++ programs: node bench_natsjs.mjs pub|pubsub|rr|jspub|jsfetch|kvput|kvget <url> <count> <size> [warmup]
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
const { connect, AckPolicy, StorageType } = require("nats");

const BATCH = Number(process.env.BENCH_JS_BATCH ?? 4096);
const FLUSH_EVERY = Number(process.env.BENCH_JS_FLUSH_EVERY ?? 64 * 1024);
const WINDOW = 32 * 1024;

const [workload, url, countArg, sizeArg, warmupArg] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
const warmup = warmupArg !== undefined ? Number(warmupArg) : Math.min(Math.floor(count / 10), 100000);
const WORKLOADS = ["pub", "pubsub", "rr", "jspub", "jsfetch", "kvput", "kvget"];
if (!WORKLOADS.includes(workload) || !url || !(count > 0) || !(size >= 0)) {
  console.error(`usage: node bench_natsjs.mjs ${WORKLOADS.join("|")} <url> <count> <size> [warmup]`);
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

// ---------------------------------------------------------------- JetStream and KV
// Same stream, consumer and bucket names as bench_common.hpp.
const JS_STREAM = "BENCH";
const JS_SUBJECTS = "bench.js.>";
const JS_SUBJECT = "bench.js.data";
const JS_CONSUMER = "BENCH_PULL";
const KV_BUCKET = "BENCH";
const JS_WINDOW = 256;
const JS_BATCH = 500;
const kvKey = (i) => `k${i}`;

async function addBenchStream(nc) {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: JS_STREAM, subjects: [JS_SUBJECTS], storage: StorageType.File });
  return jsm;
}

// js.publish() returns a promise of the PubAck; at most JS_WINDOW of them are outstanding.
async function jsPublishN(js, n) {
  let inflight = 0;
  let failure = null;
  let wake = null;
  const settle = () => {
    inflight--;
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  for (let i = 0; i < n; i++) {
    while (inflight >= JS_WINDOW) await new Promise((r) => (wake = r));
    inflight++;
    js.publish(JS_SUBJECT, payload).then(settle, (e) => {
      failure ??= e;
      settle();
    });
  }
  while (inflight > 0) await new Promise((r) => (wake = r));
  if (failure) throw failure;
}

async function runJspub() {
  const nc = await connect({ servers: url, name: "bench-jspub" });
  await addBenchStream(nc);
  const js = nc.jetstream();
  await jsPublishN(js, warmup);
  const c0 = process.cpuUsage();
  const t0 = now();
  await jsPublishN(js, count);
  const t1 = now();
  printRate(secondsBetween(t0, t1), cpuSince(c0));
  await nc.close();
}

// Fetches (batch JS_BATCH) and acks n messages one by one; the acks are flushed at the end.
async function jsFetchN(nc, consumer, n) {
  let got = 0;
  while (got < n) {
    const batch = Math.min(JS_BATCH, n - got);
    const msgs = await consumer.fetch({ max_messages: batch, expires: 5000 });
    let inBatch = 0;
    for await (const m of msgs) {
      m.ack();
      inBatch++;
    }
    if (inBatch === 0) throw new Error(`fetch returned nothing after ${got} messages`);
    got += inBatch;
  }
  await nc.flush();
}

async function runJsfetch() {
  const nc = await connect({ servers: url, name: "bench-jsfetch" });
  const jsm = await addBenchStream(nc);
  const js = nc.jetstream();
  await jsPublishN(js, warmup + count); // fill the stream (untimed)
  await jsm.consumers.add(JS_STREAM, { durable_name: JS_CONSUMER, ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get(JS_STREAM, JS_CONSUMER);
  await jsFetchN(nc, consumer, warmup);
  const c0 = process.cpuUsage();
  const t0 = now();
  await jsFetchN(nc, consumer, count);
  const t1 = now();
  printRate(secondsBetween(t0, t1), cpuSince(c0));
  await nc.close();
}

// kvput: n sequential puts of distinct keys; kvget: n sequential gets of keys put before the clock started.
async function runKv() {
  const nc = await connect({ servers: url, name: "bench-kv" });
  const kv = await nc.jetstream().views.kv(KV_BUCKET, { history: 1 });
  const put = workload === "kvput";
  const putRange = async (from, to) => {
    for (let i = from; i < to; i++) await kv.put(kvKey(i), payload);
  };
  const getRange = async (from, to) => {
    for (let i = from; i < to; i++) {
      const e = await kv.get(kvKey(i % count));
      if (!e || e.value.length !== size) throw new Error("kvget: wrong value");
    }
  };
  if (put) {
    await putRange(count, count + warmup); // other keys than the timed part's
  } else {
    await putRange(0, count);
    await getRange(0, warmup);
  }
  const c0 = process.cpuUsage();
  const t0 = now();
  if (put) await putRange(0, count);
  else await getRange(0, count);
  const t1 = now();
  printRate(secondsBetween(t0, t1), cpuSince(c0));
  await nc.close();
}

try {
  if (workload === "pub") await runPub();
  else if (workload === "pubsub") await runPubsub();
  else if (workload === "rr") await runRr();
  else if (workload === "jspub") await runJspub();
  else if (workload === "jsfetch") await runJsfetch();
  else await runKv();
} catch (e) {
  console.error(`error: ${e?.message ?? e}`);
  process.exit(1);
}
