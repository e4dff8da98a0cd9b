'use strict';
// Small waiting helpers for the node tests.

/// Resolves with the first `count` messages a helper node receives (rejects after timeoutMs).
function collect(node, count, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length}/${count} messages in ${timeoutMs} ms`)), timeoutMs);
    node.on('input', (msg) => {
      got.push(msg);
      if (got.length === count) { clearTimeout(timer); resolve(got); }
    });
  });
}

/// Waits until predicate() is true (polling).
async function until(predicate, timeoutMs = 10000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Calls of a spied Node method (the test helper spies on Node.prototype) made by this node.
function callsOf(node, method) {
  return node[method].getCalls().filter((c) => c.thisValue === node).map((c) => c.args);
}
/// The node's latest status object.
function statusOf(node) {
  const calls = callsOf(node, 'status');
  return calls.length ? calls[calls.length - 1][0] : null;
}
function waitStatus(node, predicate, timeoutMs = 10000) {
  return until(() => { const s = statusOf(node); return s && predicate(s) ? s : null; }, timeoutMs, `status of ${node.type}`);
}

/// Where the editor tests put their screenshots: test/screenshots/ (tracked, shown in the README) only
/// when NRC_UPDATE_SCREENSHOTS=1, else a temp dir, so an ordinary test run leaves the tree unchanged.
function screenshotDir() {
  const dir = process.env.NRC_UPDATE_SCREENSHOTS
    ? require('path').join(__dirname, '..', 'screenshots')
    : require('path').join(require('os').tmpdir(), 'nrc-screenshots');
  require('fs').mkdirSync(dir, { recursive: true });
  return dir;
}

module.exports = { screenshotDir, collect, until, callsOf, statusOf, waitStatus };
