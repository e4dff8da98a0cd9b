'use strict';
// ClusterRequestNode ("cluster request"): sends msg.payload as a request to a responder of a subject
// (a cluster request in node on some instance: any one, a chosen instance, or a responder group) and
// outputs the answer. Errors (Catch node) carry err.code: NO_RESPONDERS, TIMEOUT, NOT_CONNECTED,
// PAYLOAD_TOO_LARGE, INVALID_PAYLOAD, INVALID_SUBJECT...

const { checkPublishSubject, checkGroup, encodePayload, decodePayload, throttledStatus } = require('../lib/common');

module.exports = function (RED) {
  function ClusterRequestNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.subject = String(n.subject || '').trim();
    node.target = ['instance', 'group'].includes(n.target) ? n.target : 'any';
    node.instance = String(n.instance || '').trim();
    node.group = String(n.group || '').trim();
    node.timeout = Number(n.timeout) > 0 ? Number(n.timeout) : 5; // seconds
    node.config = RED.nodes.getNode(n.clusterConfig);
    let inFlight = 0;
    let lastError = '';

    // At most five status updates a second (one per request start and end would be paid on each
    // request's path); an error shows at once.
    const status = throttledStatus(node, () => (lastError
      ? { fill: 'red', shape: 'ring', text: RED._('cluster-request.status.error', { n: inFlight, error: lastError }) }
      : { fill: inFlight ? 'blue' : 'green', shape: 'dot', text: RED._('cluster-request.status.waiting', { n: inFlight }) }));
    const problem = (code, message) => { const e = new Error(message); e.code = code; return e; };

    if (!node.config) node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-request.status.no-config') });

    node.on('input', function (msg, send, done) {
      const fail = (err) => {
        lastError = err.code || err.message;
        status.now();
        done(err);
      };
      if (!node.config || !node.config.cluster) return fail(problem('NOT_CONNECTED', RED._('cluster-request.error.no-config')));
      const subject = node.subject || (typeof msg.topic === 'string' ? msg.topic.trim() : '');
      const bad = checkPublishSubject(subject);
      if (bad) return fail(problem('INVALID_SUBJECT', RED._('cluster-request.error.subject', { reason: bad })));
      const opts = { timeoutMs: node.timeout * 1000 };
      if (msg.timeout !== undefined && msg.timeout !== null && msg.timeout !== '') {
        const t = Number(msg.timeout);
        if (!(t > 0)) return fail(problem('INVALID_TIMEOUT', RED._('cluster-request.error.timeout', { value: String(msg.timeout).slice(0, 40) })));
        opts.timeoutMs = t;
      }
      if (node.target === 'instance') opts.instance = typeof msg.instance === 'string' && msg.instance ? msg.instance : node.instance;
      if (node.target === 'group') {
        opts.group = typeof msg.group === 'string' && msg.group ? msg.group : node.group;
        const g = checkGroup(opts.group);
        if (g) return fail(problem('INVALID_GROUP', RED._('cluster-request.error.group', { reason: g })));
      }
      if (msg.headers && typeof msg.headers === 'object') opts.headers = msg.headers;
      let payload;
      try {
        payload = encodePayload(msg.payload);
      } catch (err) {
        return fail(err);
      }
      inFlight++;
      status.schedule();
      node.config.cluster.request(subject, payload, opts).then((r) => {
        inFlight--;
        if (lastError) { lastError = ''; status.now(); } else status.schedule();
        msg.payload = decodePayload(r.payload);
        msg.cluster = { responder: r.instance, subject, headers: r.headers || {} };
        send(msg);
        done();
      }, (err) => {
        inFlight--;
        fail(err);
      });
    });
    node.on('close', () => status.cancel());
  }

  RED.nodes.registerType('ClusterRequestNode', ClusterRequestNode);
};
