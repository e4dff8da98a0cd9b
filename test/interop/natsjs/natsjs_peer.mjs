// The nats.js side of the interop test. Talks to the C++ client through a real nats-server:
// receives messages with headers, answers requests, publishes and requests the other way.
// Prints one line per milestone on stdout; exits 0 only when every check passed.
import { connect, headers, StringCodec } from "nats";

const url = process.argv[2];
const sc = StringCodec();
const fail = (why) => {
  console.log(`FAIL ${why}`);
  process.exit(1);
};
setTimeout(() => fail("timeout"), 20000).unref();

const nc = await connect({ servers: url, name: "natsjs-peer" });

// 1. Messages from C++: payload + headers (multi-valued) must arrive intact.
const inbox = nc.subscribe("interop.js.inbox", { max: 3 });
const inboxDone = (async () => {
  let i = 0;
  for await (const m of inbox) {
    if (sc.decode(m.data) !== `from-cpp-${i}`) fail(`payload ${i}: ${sc.decode(m.data)}`);
    if (!m.headers) fail(`no headers on ${i}`);
    if (m.headers.get("X-Seq") !== String(i)) fail(`X-Seq ${m.headers.get("X-Seq")}`);
    const multi = m.headers.values("X-Multi");
    if (multi.length !== 2 || multi[0] !== "a" || multi[1] !== "b") fail(`X-Multi ${JSON.stringify(multi)}`);
    i++;
  }
  console.log("INBOX_OK");
})();

// 2. Requests from C++: answer with a header.
const svc = nc.subscribe("interop.js.svc");
(async () => {
  for await (const m of svc) {
    const h = headers();
    h.set("X-From", "js");
    const echoed = m.headers ? m.headers.get("X-Req") : "";
    m.respond(sc.encode(`js:${sc.decode(m.data)}:${echoed}`), { headers: h });
  }
})();
await nc.flush();
console.log("READY");

// 3. The other way: publish with headers to C++, and request from the C++ responder.
for (let i = 0; i < 3; i++) {
  const h = headers();
  h.set("X-Seq", String(i));
  h.append("X-Multi", "x");
  h.append("X-Multi", "y");
  nc.publish("interop.cpp.inbox", sc.encode(`from-js-${i}`), { headers: h });
}
const rh = headers();
rh.set("X-Req", "from-js");
const reply = await nc.request("interop.cpp.svc", sc.encode("ping"), { timeout: 5000, headers: rh });
if (sc.decode(reply.data) !== "cpp:ping:from-js") fail(`reply ${sc.decode(reply.data)}`);
if (!reply.headers || reply.headers.get("X-From") !== "cpp") fail("reply header");
console.log("REQUEST_OK");

await inboxDone;
await nc.drain();
console.log("DONE");
process.exit(0);
