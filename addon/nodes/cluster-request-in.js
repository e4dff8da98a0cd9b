'use strict';
// ClusterRequestInNode ("cluster request in"): answers requests of cluster request nodes for a subject
// (wildcards allowed). Outputs each request; a cluster response node at the end of the flow sends the
// answer (like http in / http response). Several of them, on any instances, share the requests as a
// queue group: one gets each.

const crypto = require('crypto');
const { checkPattern, checkGroup, decodePayload, formatAckId, throttledStatus } = require('../lib/common');

module.exports = function (RED) {
  function ClusterRequestInNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.subject = String(n.subject || '').trim();
    node.group = String(n.group || '').trim();
    node.config = RED.nodes.getNode(n.clusterConfig);
    // Names this run in msg.cluster.requestId, so a response after a redeploy is recognised.
    node.session = crypto.randomBytes(6).toString('hex');
    node.responder = null;
    // Requests handed to the flow and not answered yet whose requester still waits: shown on the status
    // ("connected · 3 being answered"), dropped when answered or when the requester's timeout passed.
    const open = new Map(); // request id → timer of its requester's timeout
    let clusterStatus = null;
    // Many requests per second would flood the editor with status events: at most five a second.
    const status = throttledStatus(node, () => {
      const base = node.config.statusFor(clusterStatus);
      return open.size > 0 && base.fill === 'green'
        ? { fill: 'blue', shape: 'dot', text: RED._('cluster-request-in.status.open', { status: base.text, n: open.size }) }
        : base;
    });
    Object.defineProperty(node, 'openRequests', { get: () => open.size });
    const closeRequest = (id) => {
      const t = open.get(id);
      if (t === undefined) return;
      clearTimeout(t);
      open.delete(id);
      status.schedule();
    };
    const bad = checkPattern(node.subject) || (node.group ? checkGroup(node.group) : null);

    if (!node.config) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-request-in.status.no-config') });
    } else if (bad) {
      node.error(RED._('cluster-request-in.error.subject', { reason: bad }));
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-request-in.status.bad-subject') });
    } else {
      node.onClusterStatus = (st) => { clusterStatus = st; status.now(); };
      node.config.register(node);
      if (node.config.cluster) {
        node.responder = node.config.cluster.serve({ subject: node.subject, group: node.group }, (q) => {
          const id = Number(q.id);
          const t = setTimeout(() => closeRequest(id), (Number(q.timeoutMs) > 0 ? Number(q.timeoutMs) : 60000) + 50);
          t.unref();
          open.set(id, t);
          status.schedule();
          node.send({
            payload: decodePayload(q.payload),
            topic: q.subject,
            cluster: {
              requestId: formatAckId(node.id, node.session, q.id),
              sourceInstance: q.sourceInstance,
              subject: q.subject,
              timeoutMs: q.timeoutMs,
              headers: q.headers || {},
            },
          });
        });
        node.responder.ready.catch((err) => {
          node.error(RED._('cluster-request-in.error.serve', { message: err.message }));
          node.status({ fill: 'red', shape: 'dot', text: err.message });
        });
      }
    }

    /// For cluster response nodes: answers one request of this run.
    node.respond = function (session, requestId, payload, headers) {
      const fail = (code, message) => { const e = new Error(message); e.code = code; return Promise.reject(e); };
      if (session !== node.session) return fail('STALE_REQUEST', RED._('cluster-request-in.error.stale'));
      if (!node.config || !node.config.cluster) return fail('NOT_CONNECTED', RED._('cluster-request-in.error.no-config'));
      // Leaves the count once answered, or once the addon says it is no longer answerable; a response
      // refused for its content (too large, bad headers) leaves the request open for another try.
      const id = Number(requestId);
      return node.config.cluster.respond(requestId, payload, headers).then((r) => {
        closeRequest(id);
        return r;
      }, (err) => {
        if (err && err.code === 'UNKNOWN_REQUEST') closeRequest(id);
        throw err;
      });
    };

    node.on('close', function (removed, done) {
      for (const t of open.values()) clearTimeout(t);
      open.clear();
      status.cancel();
      if (node.config) node.config.deregister(node);
      const r = node.responder;
      node.responder = null;
      if (!r) return done();
      r.close().catch((err) => node.warn(err.message)).finally(() => done());
    });
  }

  RED.nodes.registerType('ClusterRequestInNode', ClusterRequestInNode);
};
