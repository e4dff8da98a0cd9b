'use strict';
// ClusterResponseNode ("cluster response"): sends msg.payload back to the cluster request node that
// asked, for a message that came from a cluster request in node (msg.cluster.requestId).

const { parseAckId, encodePayload, throttledStatus } = require('../lib/common');

module.exports = function (RED) {
  function ClusterResponseNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    let answered = 0;
    const status = throttledStatus(node, () => ({ fill: 'green', shape: 'dot', text: RED._('cluster-response.status.answered', { n: answered }) }));
    const problem = (code, key, params) => { const e = new Error(RED._(`cluster-response.error.${key}`, params)); e.code = code; return e; };

    node.on('input', function (msg, send, done) {
      const fail = (err) => {
        status.cancel();
        node.status({ fill: 'red', shape: 'ring', text: err.code || err.message });
        done(err);
      };
      const id = msg && msg.cluster && typeof msg.cluster === 'object' ? msg.cluster.requestId : undefined;
      if (id === undefined) return fail(problem('NO_REQUEST', 'no-request'));
      const ref = parseAckId(id);
      if (!ref) return fail(problem('INVALID_REQUEST_ID', 'bad-request', { value: String(id).slice(0, 80) }));
      const source = RED.nodes.getNode(ref.nodeId);
      if (!source || source.type !== 'ClusterRequestInNode' || typeof source.respond !== 'function') {
        return fail(problem('RESPONDER_GONE', 'no-responder', { id: ref.nodeId }));
      }
      let payload;
      try {
        payload = encodePayload(msg.payload);
      } catch (err) {
        return fail(err);
      }
      const headers = msg.headers && typeof msg.headers === 'object' ? msg.headers : {};
      source.respond(ref.session, ref.deliveryId, payload, headers).then(() => {
        answered++;
        status.schedule();
        done();
      }, (err) => fail(err.code === 'UNKNOWN_REQUEST' ? problem('UNKNOWN_REQUEST', 'unknown') : err));
    });
    node.on('close', () => status.cancel());
  }

  RED.nodes.registerType('ClusterResponseNode', ClusterResponseNode);
};
