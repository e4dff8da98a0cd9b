'use strict';
// ClusterSubscribeNode: outputs every cluster message whose subject matches one of its patterns.

const crypto = require('crypto');
const { checkPattern, splitPatterns, decodePayload, formatAckId, checkGroup, defaultGroupName } = require('../lib/common');

module.exports = function (RED) {
  function ClusterSubscribeNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.subjectPattern = String(n.subjectPattern || '');
    node.start = ['new', 'all', 'last'].includes(n.start) ? n.start : 'new';
    node.ackMode = ['none', 'manual'].includes(n.ackMode) ? n.ackMode : 'auto';
    // Delivery: 'every' instance (the original plugin's behaviour, the default for its flows) or
    // 'group': one member of the named group gets each message (empty name: derived from root + patterns).
    node.delivery = n.delivery === 'group' ? 'group' : 'every';
    node.ackWait = Number(n.ackWait) > 0 ? Number(n.ackWait) : 0; // seconds; 0: the config node's
    // Names this run of the node in msg.cluster.ackId, so an ack for a delivery of an earlier run
    // (before a redeploy) is recognised instead of settling an unrelated message.
    node.ackSession = crypto.randomBytes(6).toString('hex');
    const manual = node.ackMode === 'manual';
    const idPrefix = crypto.randomBytes(4).toString('hex');
    let idCounter = crypto.randomBytes(4).readUInt32BE(0);
    const nextMsgId = () => {
      idCounter = (idCounter + 1) >>> 0;
      return idPrefix + idCounter.toString(16).padStart(8, '0');
    };
    node.config = RED.nodes.getNode(n.clusterConfig);
    node.sub = null;

    // Auto mode acknowledges a message once the nodes wired to this one have run their (synchronous)
    // handling of it, not when it is only queued for them: Node-RED hands a sent message over in a
    // setImmediate, so an ack sent right after node.send() could reach the server before the flow saw
    // the message, and a process killed in between would lose it. Deliveries come in batches; the
    // nextTick runs after the whole batch was sent, so the setImmediate it queues comes after every
    // hand-over of that batch.
    let autoAcks = null;
    const flushAutoAcks = () => {
      const ids = autoAcks;
      autoAcks = null;
      if (node.sub) for (const id of ids) node.sub.ack(id);
    };
    const ackAfterDelivery = (id) => {
      if (autoAcks) { autoAcks.push(id); return; }
      autoAcks = [id];
      process.nextTick(() => setImmediate(flushAutoAcks));
    };

    const patterns = splitPatterns(node.subjectPattern);
    const bad = patterns.length === 0 ? 'no pattern' : patterns.map(checkPattern).find(Boolean);
    node.group = '';
    if (node.delivery === 'group') {
      node.group = String(n.group || '').trim() ||
        defaultGroupName(node.config ? node.config.zkRootPath : '', node.subjectPattern);
    }
    const badGroup = node.group ? checkGroup(node.group) : null;

    if (!node.config) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-subscribe.status.no-config') });
    } else if (bad) {
      node.error(RED._('cluster-subscribe.error.pattern', { reason: bad }));
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-subscribe.status.bad-pattern') });
    } else if (badGroup) {
      node.error(RED._('cluster-subscribe.error.group', { reason: badGroup }));
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-subscribe.status.bad-group') });
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
            ack: node.ackMode === 'none' ? 'none' : 'auto', // both acked from JS (auto: here; manual: the flow)
            group: node.group,
            ackWaitMs: node.ackWait * 1000,
          }, (d) => {
            let payload = decodePayload(d.payload);
            // Binary payloads are views into the batch buffer from the addon: keep only their own bytes.
            if (Buffer.isBuffer(payload)) payload = Buffer.from(payload);
            const msg = {
              // Node-RED would make one per message from crypto random bytes; a run prefix + counter is
              // as unique and cheaper (same 16-hex-digit form).
              _msgid: nextMsgId(),
              payload,
              topic: d.subject,
              cluster: {
                sourceInstance: d.sourceInstance,
                relativeSubject: d.relativeSubject,
                mode: d.mode,
                streamSequence: d.streamSequence,
                redelivered: !!d.redelivered,
                // Handed out after later messages of the same publisher and subject (its predecessor
                // arrived too late to wait for): order could not be kept for this one.
                outOfOrder: !!d.outOfOrder,
                headers: d.headers || {},
              },
            };
            if (node.group) msg.cluster.group = node.group;
            // Manual: a cluster ack node settles it later, identified by this opaque reference.
            if (manual) msg.cluster.ackId = formatAckId(node.id, node.ackSession, d.id);
            node.send(msg);
            if (node.ackMode === 'auto') ackAfterDelivery(d.id);
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

    /// For cluster ack nodes: settles one delivery of this run. Rejects with a clear error when it
    /// cannot (not manual, another run, subscription stopped, already settled).
    node.settle = function (session, deliveryId, opts) {
      const fail = (code, message) => { const e = new Error(message); e.code = code; return Promise.reject(e); };
      if (!manual) return fail('NOT_MANUAL', RED._('cluster-subscribe.error.not-manual'));
      if (session !== node.ackSession) return fail('STALE_DELIVERY', RED._('cluster-subscribe.error.stale'));
      if (!node.sub) return fail('SUBSCRIPTION_CLOSED', RED._('cluster-subscribe.error.not-subscribed'));
      return node.sub.settle(deliveryId, opts);
    };

    node.on('close', function (removed, done) {
      if (node.config) node.config.deregister(node);
      const s = node.sub;
      node.sub = null;
      if (!s) return done();
      // Deleted from the flow: remove its durable consumer too. Redeployed: keep it, so nothing is missed.
      // In a group the shared consumer is removed only when no other member is known (cluster layer).
      s.close({ removeConsumer: !!removed }).catch((err) => node.warn(err.message)).finally(() => done());
    });
  }

  RED.nodes.registerType('ClusterSubscribeNode', ClusterSubscribeNode);
};
