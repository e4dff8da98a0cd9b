'use strict';
// Runs a real Node-RED process (the node-red devDependency) with its own user dir, for end-to-end tests.
// Flows are deployed through the admin API; received messages are appended as JSON lines to a file by a
// function node, so the test reads exactly what the flow saw.
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { freePort } = require('./nats-server');

// NRC_NODE_RED=<path of red.js> and NRC_NODE=<node binary> run the tests on another Node-RED / Node.
const RED_JS = process.env.NRC_NODE_RED || require.resolve('node-red/red.js');

function request(port, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath,
      headers: Object.assign({ 'content-type': 'application/json' }, data ? { 'content-length': data.length } : {}, headers) },
    (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch (_) { /* not JSON */ }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    if (data) req.write(data);
    req.end();
  });
}

/// Writes the settings.js every test process uses into `userDir`, plus `extra`: more properties of the
/// settings object, as JS source ending in a comma (a context store, a function global context).
function writeSettings(userDir, extra = '') {
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,       // tests read flows_cred.json
  uiHost: '127.0.0.1',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  telemetry: { enabled: false },  // no update-notification prompt in the editor
  functionExternalModules: true, // the recorder function node uses fs/path
  externalModules: { palette: { allowInstall: true } },
${extra}};\n`);
}

/// opts: {userDir (fresh temp dir when absent; a settings.js already there is kept), packageDir (linked
/// into userDir/node_modules unless installed there already), env, nodeBin}
async function startNodeRed(opts = {}) {
  const userDir = opts.userDir || fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-user-'));
  const port = await freePort();
  if (!fs.existsSync(path.join(userDir, 'settings.js'))) writeSettings(userDir);
  if (opts.packageDir) {
    const dest = path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster');
    if (!fs.existsSync(dest)) {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.symlinkSync(opts.packageDir, dest, 'dir');
    }
  }
  const proc = spawn(opts.nodeBin || process.env.NRC_NODE || process.execPath, [...(opts.nodeArgs || []), RED_JS, '-u', userDir, '-p', String(port)], {
    env: Object.assign({}, process.env, { NRC_USER_DIR: userDir }, opts.env || {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const onData = (d) => { log += d; if (process.env.NRC_VERBOSE) process.stderr.write(d); };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const reap = () => { try { process.kill(proc.pid, 'SIGKILL'); } catch (_) { /* gone */ } };
  process.once('exit', reap);
  proc.once('exit', () => process.removeListener('exit', reap));

  const red = {
    port, userDir, proc, exited,
    url: `http://127.0.0.1:${port}/`,
    log: () => log,
    request: (method, p, body, h) => request(port, method, p, body, h),
    async deploy(flows, type = 'full') {
      const r = await request(port, 'POST', '/flows', flows, { 'Node-RED-Deployment-Type': type, 'Node-RED-API-Version': 'v1' });
      if (r.status !== 204 && r.status !== 200) throw new Error(`deploy failed: ${r.status} ${r.text}`);
      return r;
    },
    async stop(signal = 'SIGINT', timeoutMs = 20000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      process.kill(proc.pid, signal);
      const t = setTimeout(() => { red.killed = true; try { process.kill(proc.pid, 'SIGKILL'); } catch (_) { /* gone */ } }, timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    /// JSON lines written by the recorder function node.
    received(file = 'received.jsonl') {
      const f = path.join(userDir, file);
      if (!fs.existsSync(f)) return [];
      return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
  };
  // Ready when the admin API answers.
  const until = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Node-RED exited early:\n${log}`);
    try {
      const r = await request(port, 'GET', '/settings');
      if (r.status === 200) break;
    } catch (_) { /* not yet */ }
    if (Date.now() > until) throw new Error(`Node-RED did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return red;
}

/// A function node that appends {topic, payload, cluster, t (ms when recorded)} of each message as a JSON line to a file in
/// the user dir (path computed inside the flow, so it works in any Node-RED process).
function recorder(id, z, file = 'received.jsonl') {
  return {
    id, type: 'function', z, name: 'record', outputs: 0, libs: [{ var: 'fs', module: 'fs' }, { var: 'path', module: 'path' }],
    func: `fs.appendFileSync(path.join(env.get('NRC_USER_DIR'), ${JSON.stringify(file)}), JSON.stringify({topic: msg.topic, payload: msg.payload, cluster: msg.cluster, t: Date.now()}) + '\\n'); return null;`,
    x: 400, y: 200, wires: [],
  };
}

/// An `http in` POST /<name> whose JSON body {subject, payload, count} is published `count` times
/// (payload {i, ...payload}); answers at once with 200.
function httpPublisher(prefix, z, publishNodeId, name = 'publish') {
  return [
    { id: `${prefix}in`, type: 'http in', z, name: '', url: `/${name}`, method: 'post', upload: false, swaggerDoc: '', x: 100, y: 300, wires: [[`${prefix}fn`, `${prefix}res`]] },
    { id: `${prefix}fn`, type: 'function', z, name: 'fan out', outputs: 1,
      func: 'const b = msg.payload || {}; const n = b.count || 1; for (let i = 0; i < n; i++) node.send({topic: b.subject, payload: Object.assign({i}, b.payload || {})}); return null;',
      x: 300, y: 300, wires: [[publishNodeId]] },
    { id: `${prefix}res`, type: 'http response', z, name: '', statusCode: '200', headers: {}, x: 300, y: 340, wires: [] },
  ];
}

module.exports = { startNodeRed, writeSettings, recorder, httpPublisher, request };
