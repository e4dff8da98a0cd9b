#!/usr/bin/env bash
# Demo: a nats-server from nats/ and two Node-RED instances (node-a, node-b) with the example flow,
# the package installed from the packed tarball. Prints the editor URLs; Ctrl-C stops everything.
#
#   addon/scripts/demo.sh            (SKIP_SETUP=1: skip the system package step)
#   DEMO_NATS_PORT=4222 DEMO_PORTS="1880 1881"
set -euo pipefail
addon="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$addon/.." && pwd)"
nats_port="${DEMO_NATS_PORT:-4222}"
read -r -a ports <<< "${DEMO_PORTS:-1880 1881}"

if [ "${SKIP_SETUP:-0}" != "1" ]; then bash "$root/scripts/setup.sh"; fi
cd "$addon"
[ -d node_modules/node-red ] || npm install --no-audit --no-fund --ignore-scripts
[ -d "prebuilds/$(node -p 'process.platform + "-" + process.arch')" ] || bash scripts/build.sh

work="$(mktemp -d /tmp/nrc-demo.XXXXXX)"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "demo: stopping"
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  echo "demo: stopped"
}
trap cleanup INT TERM EXIT

tgz="$(npm pack --silent --pack-destination "$work" | tail -n1)"
nats-server -c "$root/nats/nats-server.conf" -p "$nats_port" -sd "$work/jetstream" >"$work/nats.log" 2>&1 &
pids+=($!)

i=0
for id in node-a node-b; do
  dir="$work/$id"; mkdir -p "$dir"
  echo '{"name":"demo","version":"0.0.1","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$work/$tgz" >/dev/null)
  cat > "$dir/settings.js" <<JS
module.exports = { flowFile: 'flows.json', credentialSecret: false, uiHost: '127.0.0.1',
  editorTheme: { tours: false, projects: { enabled: false } }, telemetry: { enabled: false } };
JS
  node -e '
    const [file, id, addr] = process.argv.slice(1);
    const flow = JSON.parse(require("fs").readFileSync(file, "utf8"));
    for (const n of flow) if (n.type === "ClusterConfigNode") { n.instanceId = id; n.natsAddress = addr; n.name = id; }
    process.stdout.write(JSON.stringify(flow, null, 1));
  ' "$addon/examples/01 Publish and subscribe.json" "$id" "127.0.0.1:$nats_port" > "$dir/flows.json"
  node "$addon/node_modules/node-red/red.js" -u "$dir" -p "${ports[$i]}" >"$work/$id.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done

for p in "${ports[@]}"; do
  for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$p/settings" >/dev/null 2>&1 && break; sleep 0.5; done
done
echo "demo: nats-server on 127.0.0.1:$nats_port (logs in $work)"
echo "demo: node-a editor  http://127.0.0.1:${ports[0]}/"
echo "demo: node-b editor  http://127.0.0.1:${ports[1]}/"
echo "demo: both publish every 5 s and subscribe to *.sensors.>, *.commands.> (see the debug sidebar). Ctrl-C stops."
wait "${pids[0]}"
