// The nats.js side of the KV/JetStream interop test (run by natsjs_interop_test.cpp between its own
// steps). Reads what the C++ client wrote, writes for it to read, and prints `KEY value` lines the C++
// side checks. Exits non-zero on the first failed expectation.
// ESM ignores NODE_PATH: load the package from the directory the test passes (test/interop/node_modules).
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { connect, headers, StringCodec } = require(process.env.NATSJS_NODE_MODULES + "/nats");

const [url, cppRev] = [process.argv[2], Number(process.argv[3])];
const sc = StringCodec();
const fail = (why) => {
  console.log(`FAIL ${why}`);
  process.exit(1);
};
setTimeout(() => fail("timeout"), 20000).unref();

const nc = await connect({ servers: url, name: "natsjs-kv-peer" });
const js = nc.jetstream();
const jsm = await nc.jetstreamManager();

// 1. The bucket the C++ client made.
const kv = await js.views.kv("cppbucket", { bindOnly: true });
const k1 = await kv.get("k1");
if (!k1 || sc.decode(k1.value) !== "from-cpp") fail(`k1 ${k1 && sc.decode(k1.value)}`);
if (k1.revision !== cppRev) fail(`k1 revision ${k1.revision} != ${cppRev}`);
const k2 = await kv.get("k2");
if (k2 && k2.operation !== "DEL") fail(`k2 should be deleted, op ${k2.operation}`);
const keys = [];
for await (const k of await kv.keys()) keys.push(k);
if (keys.length !== 1 || keys[0] !== "k1") fail(`keys ${JSON.stringify(keys)}`);
const hist = [];
for await (const e of await kv.history({ key: "k2" })) hist.push(e.operation);
if (JSON.stringify(hist) !== JSON.stringify(["PUT", "DEL"])) fail(`history ${JSON.stringify(hist)}`);
console.log("READ_OK");

// 2. Writes the C++ side reads: CAS update of k1, create k3, purge k2, binary value.
const upd = await kv.update("k1", sc.encode("from-js"), cppRev);
console.log(`K1_REV ${upd}`);
try {
  await kv.update("k1", sc.encode("stale"), cppRev);
  fail("stale update accepted");
} catch (_) {
  console.log("CAS_CONFLICT_OK");
}
const k3 = await kv.create("k3", sc.encode("created-by-js"));
console.log(`K3_REV ${k3}`);
await kv.purge("k2");
await kv.put("bin", new Uint8Array([0, 255, 1, 254]));

// 3. A bucket made by nats.js, for the C++ client to bind.
const jsb = await js.views.kv("jsbucket", { history: 3 });
await jsb.put("a", sc.encode("1"));
await jsb.put("a", sc.encode("2"));

// 4. A stream message with headers, read back by the C++ client; and the C++ message read here.
const h = headers();
h.set("X-From", "js");
const pa = await js.publish("iop.js", sc.encode("hello from js"), { headers: h, msgID: "js-1" });
console.log(`IOP_SEQ ${pa.seq}`);
const m = await jsm.streams.getMessage("IOP", { last_by_subj: "iop.cpp" });
if (sc.decode(m.data) !== "hello from cpp") fail(`iop.cpp data ${sc.decode(m.data)}`);
if (!m.header || m.header.get("X-From") !== "cpp") fail("iop.cpp header");
console.log("STREAM_OK");

await nc.drain();
console.log("DONE");
