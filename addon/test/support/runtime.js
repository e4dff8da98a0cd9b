'use strict';
// What every test file that runs the nodes in node-red-node-test-helper shares: the helper on the
// installed Node-RED, one real nats-server for the file, the flow unloaded after each test.
const test = require('node:test');
const helper = require('node-red-node-test-helper');
const { startServer } = require('./nats-server');

/// Registers the file's hooks and returns `{ server }`, the nats-server (started with `serverOptions`
/// before the first test). A test that replaces the server (kill, start again) stores the new one in
/// `server` so that the last hook stops that one.
function useNatsAndNodeRed(serverOptions) {
  helper.init(require.resolve('node-red'));
  const nats = { server: null };
  test.before(async () => {
    nats.server = await startServer(serverOptions);
    await new Promise((r) => helper.startServer(r));
  });
  test.after(async () => {
    await new Promise((r) => helper.stopServer(r));
    if (nats.server) { await nats.server.stop(); nats.server.cleanup(); }
  });
  test.afterEach(async () => { await helper.unload(); });
  return nats;
}

/// Status predicate: the node shows the connected (green) status.
const connected = (s) => s.fill === 'green';
/// A subscriber's durable consumer is created right after its connection is up; tests that publish at
/// once give it this long first.
const CONSUMER_SETUP_MS = 1500;

module.exports = { useNatsAndNodeRed, connected, CONSUMER_SETUP_MS };
