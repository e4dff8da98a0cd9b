'use strict';
// Starts a real nats-server (JetStream on, temp store, free 127.0.0.1 port) for the tests; stops it by PID.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const BIN = process.env.NATS_SERVER || '/usr/sbin/nats-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function waitForPort(port, timeoutMs) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const c = net.connect(port, '127.0.0.1');
      c.once('data', () => { c.destroy(); resolve(); }); // INFO line: the server is ready
      c.once('error', () => {
        c.destroy();
        if (Date.now() > until) reject(new Error(`nats-server did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/// opts: {port, user, password, jetstream (default true), storeDir, extraConfig}
async function startServer(opts = {}) {
  const port = opts.port || await freePort();
  const storeDir = opts.storeDir || fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-js-'));
  const lines = [`listen: 127.0.0.1:${port}`];
  if (opts.jetstream !== false) lines.push(`jetstream { store_dir: ${JSON.stringify(storeDir)} }`);
  if (opts.user) lines.push(`authorization { user: ${JSON.stringify(opts.user)}, password: ${JSON.stringify(opts.password)} }`);
  if (opts.extraConfig) lines.push(opts.extraConfig);
  const conf = path.join(storeDir, 'server.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const proc = spawn(BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-8000); });
  // Never outlive the test process, even when it dies early.
  const reap = () => { try { process.kill(proc.pid, 'SIGKILL'); } catch (_) { /* gone */ } };
  process.once('exit', reap);
  proc.once('exit', () => process.removeListener('exit', reap));
  await waitForPort(port, 10000);
  const server = {
    port,
    url: `nats://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    storeDir,
    proc,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(proc.pid, signal);
      await exited;
    },
    /// Kill and start again on the same port with the same store.
    async restart() {
      await server.stop('SIGKILL');
      const again = await startServer(Object.assign({}, opts, { port, storeDir }));
      server.proc = again.proc;
      server.stop = again.stop;
      return server;
    },
    cleanup() { try { fs.rmSync(storeDir, { recursive: true, force: true }); } catch (_) { /* ignore */ } },
  };
  return server;
}

module.exports = { startServer, freePort };
