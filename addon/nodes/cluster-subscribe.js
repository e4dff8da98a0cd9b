'use strict';
// ClusterSubscribeNode: outputs every cluster message whose subject matches one of its patterns.

const { checkPattern, splitPatterns, decodePayload } = require('../lib/common');

module.exports = function (RED) {
  function ClusterSubscribeNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.subjectPattern = String(n.subjectPattern || '');
    node.start = ['new', 'all', 'last'].includes(n.start) ? n.start : 'new';
    node.ackMode = n.ackMode === 'none' ? 'none' : 'auto';
    node.config = RED.nodes.getNode(n.clusterConfig);
    node.sub = null;

    const patterns = splitPatterns(node.subjectPattern);
    const bad = patterns.length === 0 ? 'no pattern' : patterns.map(checkPattern).find(Boolean);

    if (!node.config) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-subscribe.status.no-config') });
    } else if (bad) {
      node.error(RED._('cluster-subscribe.error.pattern', { reason: bad }));
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-subscribe.status.bad-pattern') });
    } else {
      node.onClusterStatus = (st) => { if (!node.failed) node.status(node.config.statusFor(st)); };
      node.config.register(node);
      if (node.config.cluster) {
        try {
          node.sub = node.config.cluster.subscribe({
            // The durable consumer belongs to this node: its id survives redeploys and restarts.
            key: node.id,
            patterns,
            start: node.start,
            ack: node.ackMode,
          }, (d) => {
            const msg = {
              payload: decodePayload(d.payload),
              topic: d.subject,
              cluster: {
                sourceInstance: d.sourceInstance,
                relativeSubject: d.relativeSubject,
                mode: d.mode,
                streamSequence: d.streamSequence,
                redelivered: !!d.redelivered,
                headers: d.headers || {},
              },
            };
            node.send(msg);
            // Handed to the flow: acknowledge so the message is not delivered again.
            if (node.ackMode === 'auto' && node.sub) node.sub.ack(d.id);
          });
          node.sub.ready.catch((err) => {
            node.error(RED._('cluster-subscribe.error.subscribe', { message: err.message }));
            node.failed = true;
            node.status({ fill: 'red', shape: 'dot', text: err.message });
            node.sub = null;
          });
        } catch (err) {
          node.error(RED._('cluster-subscribe.error.subscribe', { message: err.message }));
          node.status({ fill: 'red', shape: 'dot', text: err.message });
        }
      }
    }

    node.on('close', function (removed, done) {
      if (node.config) node.config.deregister(node);
      const s = node.sub;
      node.sub = null;
      if (!s) return done();
      // Deleted from the flow: remove its durable consumer too. Redeployed: keep it, so nothing is missed.
      s.close({ removeConsumer: !!removed }).catch((err) => node.warn(err.message)).finally(() => done());
    });
  }

  RED.nodes.registerType('ClusterSubscribeNode', ClusterSubscribeNode);
};
