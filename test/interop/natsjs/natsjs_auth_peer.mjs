// nats.js side of the auth interop test: connects with the same nkey seed or .creds file the C++
// client uses, receives one message and answers on `<subject>.back`. Exits 0 only on success.
import { connect, credsAuthenticator, nkeyAuthenticator, StringCodec } from "nats";
import { readFileSync } from "node:fs";

const [url, mode, file, subject] = process.argv.slice(2);
const sc = StringCodec();
setTimeout(() => {
  console.log("FAIL timeout");
  process.exit(1);
}, 15000).unref();

const material = readFileSync(file);
const authenticator =
  mode === "nkey" ? nkeyAuthenticator(new TextEncoder().encode(material.toString().trim())) : credsAuthenticator(material);
const nc = await connect({ servers: url, authenticator, name: `natsjs-${mode}` });
const sub = nc.subscribe(subject, { max: 1 });
await nc.flush();
console.log("READY");
for await (const m of sub) {
  nc.publish(`${subject}.back`, sc.encode(`${sc.decode(m.data)}:js-${mode}`));
}
await nc.drain();
console.log("DONE");
process.exit(0);
