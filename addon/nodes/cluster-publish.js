'use strict';
// ClusterPublishNode: sends msg.payload to every instance subscribed to `<instanceId>.<subject>`.

const { checkPublishSubject, encodePayload } = require('../lib/common');

module.exports = function (RED) {
  function ClusterPublishNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.subject = String(n.subject || '').trim();
    node.mode = n.mode === 'Ephemeral' ? 'Ephemeral' : 'Durable';
    node.ttl = Number(n.ttl) > 0 ? Number(n.ttl) : 0;
    node.config = RED.nodes.getNode(n.clusterConfig);
    node.inFlight = 0;
    let observerWarnedAt = 0;
    let observerDropped = 0;
    let lastGoodSubject = null;
    const publishOpts = { mode: node.mode.toLowerCase(), ttl: node.ttl };

    if (!node.config) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-publish.status.no-config') });
    } else {
      node.onClusterStatus = (st) => {
        node.status(node.config.statusFor(st, { observerPublish: node.config.isObserver }));
      };
      node.config.register(node);
      // Announce the subject now, so other instances' editors can suggest it before the first message.
      if (node.subject && !node.config.isObserver && node.config.cluster && !checkPublishSubject(node.subject)) {
        node.config.cluster.registerEndpoint(node.subject, { mode: node.mode.toLowerCase(), ttl: node.ttl })
          .catch((err) => node.debug(`endpoint not registered: ${err.message}`));
      }
    }

    node.on('input', function (msg, send, done) {
      const fail = (err) => { if (done) done(err); else node.error(err, msg); };
      const cfg = node.config;
      if (!cfg) return fail(new Error(RED._('cluster-publish.error.no-config')));
      if (cfg.isObserver) {
        // Observers only listen. Say so, but not once per message.
        observerDropped++;
        const now = Date.now();
        if (now - observerWarnedAt > 10000) {
          node.warn(RED._('cluster-publish.warn.observer', { count: observerDropped }));
          observerWarnedAt = now;
          observerDropped = 0;
        }
        if (done) done();
        return;
      }
      const subject = node.subject || (typeof msg.topic === 'string' ? msg.topic.trim() : '') ||
        (typeof msg.subject === 'string' ? msg.subject.trim() : '');
      // The subject is usually the same for every message: check it once.
      const bad = subject === lastGoodSubject ? null : checkPublishSubject(subject);
      if (bad) {
        const err = new Error(RED._('cluster-publish.error.subject', { reason: bad }));
        err.code = 'INVALID_SUBJECT';
        return fail(err);
      }
      lastGoodSubject = subject;
      let body;
      try {
        body = encodePayload(msg.payload);
      } catch (err) {
        return fail(err);
      }
      if (!cfg.cluster) return fail(new Error(RED._('cluster-publish.error.not-running')));
      node.inFlight++;
      cfg.cluster.publish(subject, body, publishOpts, (err) => {
        node.inFlight--;
        if (err) fail(err); else if (done) done();
      });
    });

    node.on('close', function (done) {
      if (node.config) node.config.deregister(node);
      done();
    });
  }

  RED.nodes.registerType('ClusterPublishNode', ClusterPublishNode);
};
