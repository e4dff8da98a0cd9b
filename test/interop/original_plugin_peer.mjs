// A peer that behaves on the wire like @theotherwillembotha/node-red-cluster 0.0.55 (for the cluster
// interop test): same stream/bucket/key names, JSON.stringify(payload) bodies without headers, durable =
// JetStream publish, ephemeral = core publish, subscriptions = plain core subscriptions per pattern.
//
//   node original_plugin_peer.mjs <url> publish <instanceId>     registers and publishes 5 durable + 1 ephemeral
//   node original_plugin_peer.mjs <url> subscribe <patterns> <n> prints {topic,payload} lines for n messages
import { connect, StringCodec } from "nats";

const [url, mode, arg, countArg] = process.argv.slice(2);
const prefix = "nodered-cluster";
const streamName = prefix.toUpperCase().replace(/[.\-/]/g, "_");
const bucketName = "CLUSTER_" + streamName;
const sc = StringCodec();
const nc = await connect({ servers: url });

if (mode === "publish") {
  const id = arg;
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(streamName);
  } catch {
    await jsm.streams.add({ name: streamName, subjects: [prefix + ".>"] });
  }
  const js = nc.jetstream();
  const kv = await js.views.kv(bucketName, { history: 1 });
  await kv.put(`instances.${id}`, sc.encode(JSON.stringify({ natsAddress: url, role: "Member" })));
  await kv.put(`endpoints.${id}.sensors.t`, sc.encode(JSON.stringify({ mode: "Durable", ttl: 30 })));
  await kv.put(`endpoints.${id}.commands.go`, sc.encode(JSON.stringify({ mode: "Ephemeral", ttl: 10 })));
  for (let i = 0; i < 5; i++) await js.publish(`${prefix}.${id}.sensors.t`, sc.encode(JSON.stringify({ n: i })));
  nc.publish(`${prefix}.${id}.commands.go`, sc.encode(JSON.stringify("open")));
  await nc.flush();
  console.log("done");
} else if (mode === "subscribe") {
  const want = Number(countArg);
  let got = 0;
  const subs = arg.split(",").map((p) => nc.subscribe(`${prefix}.${p.trim()}`));
  await nc.flush();
  console.log("ready");
  await new Promise((resolve) => {
    for (const sub of subs) {
      (async () => {
        for await (const m of sub) {
          const body = sc.decode(m.data);
          let payload;
          try {
            payload = JSON.parse(body);
          } catch {
            payload = body;
          }
          console.log(JSON.stringify({ topic: m.subject, payload }));
          if (++got >= want) resolve();
        }
      })();
    }
  });
}
await nc.drain();
