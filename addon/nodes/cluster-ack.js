'use strict';
// ClusterAckNode ("cluster ack"): settles a message of a cluster in node whose Acknowledge setting is
// "by a cluster ack node", once the flow has processed it: ack (done, never delivered again) or nak
// (deliver again, now or after a delay). Unsettled messages come again after the ack wait anyway.

const { parseAckId } = require('../lib/common');

const ACTIONS = ['ack', 'nak'];
const STATUS_EVERY_MS = 1000;

module.exports = function (RED) {
  function ClusterAckNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.action = ACTIONS.includes(n.action) ? n.action : 'ack';
    node.nakDelay = Number(n.nakDelay) > 0 ? Number(n.nakDelay) : 0; // seconds
    const counts = { ack: 0, nak: 0, failed: 0 };
    let statusTimer = null;
    let lastError = '';

    const showStatus = () => {
      statusTimer = null;
      const text = RED._('cluster-ack.status.counts', counts);
      if (lastError) node.status({ fill: 'red', shape: 'ring', text: `${text}; ${lastError}` });
      else node.status({ fill: 'green', shape: 'dot', text });
    };
    // One status update per second at most: a busy flow settles thousands of messages a second.
    const scheduleStatus = () => { if (!statusTimer) statusTimer = setTimeout(showStatus, STATUS_EVERY_MS); };

    const problem = (code, key, params) => {
      const e = new Error(RED._(`cluster-ack.error.${key}`, params));
      e.code = code;
      return e;
    };

    node.on('input', function (msg, send, done) {
      const fail = (err) => {
        counts.failed++;
        lastError = err.message.length > 60 ? `${err.message.slice(0, 57)}…` : err.message;
        scheduleStatus();
        done(err);
      };
      const ackId = msg && msg.cluster && typeof msg.cluster === 'object' ? msg.cluster.ackId : undefined;
      if (ackId === undefined) return fail(problem('NO_ACK_ID', 'no-ack-id'));
      const ref = parseAckId(ackId);
      if (!ref) return fail(problem('INVALID_ACK_ID', 'bad-ack-id', { value: String(ackId).slice(0, 80) }));

      let action = node.action;
      if (msg.ack !== undefined && msg.ack !== null && msg.ack !== '') {
        action = typeof msg.ack === 'string' ? msg.ack.trim().toLowerCase() : '';
        if (action === 'term') return fail(problem('UNSUPPORTED', 'term'));
        if (!ACTIONS.includes(action)) return fail(problem('INVALID_ACTION', 'bad-action', { value: String(msg.ack).slice(0, 40) }));
      }
      let delayMs = node.nakDelay * 1000;
      if (msg.nakDelay !== undefined && msg.nakDelay !== null && msg.nakDelay !== '') {
        const d = Number(msg.nakDelay);
        if (!Number.isFinite(d) || d < 0) return fail(problem('INVALID_DELAY', 'bad-delay', { value: String(msg.nakDelay).slice(0, 40) }));
        delayMs = d;
      }

      const sub = RED.nodes.getNode(ref.nodeId);
      if (!sub || sub.type !== 'ClusterSubscribeNode' || typeof sub.settle !== 'function') {
        return fail(problem('SUBSCRIBER_GONE', 'no-subscriber', { id: ref.nodeId }));
      }
      let p;
      try {
        p = sub.settle(ref.session, ref.deliveryId, { nak: action === 'nak', delayMs });
      } catch (err) {
        return fail(err);
      }
      p.then(() => {
        counts[action]++;
        lastError = '';
        scheduleStatus();
        send(msg);
        done();
      }, (err) => {
        if (err.code === 'UNKNOWN_SUBSCRIPTION') {
          const e = problem('NOT_PENDING', 'not-pending');
          return fail(e);
        }
        fail(err);
      });
    });

    node.on('close', function () {
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
    });
  }

  RED.nodes.registerType('ClusterAckNode', ClusterAckNode);
};
