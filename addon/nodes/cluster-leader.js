'use strict';
// ClusterLeaderNode ("cluster leader"): among the Node-RED instances of a cluster whose leader nodes
// share a group name, exactly one live instance is leader (a lease on the KV key leaders.<group>, see
// docs/cluster.md "Leader election"). Output 1 passes messages on only on the leader; output 2 reports
// leadership changes with the fencing token (the KV revision of the winning write: it only grows).

const GROUP_RE = /^[A-Za-z0-9_=/-]+(\.[A-Za-z0-9_=/-]+)*$/;

module.exports = function (RED) {
  function ClusterLeaderNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.group = String(n.group || '').trim();
    const leaseS = Number(n.lease) > 0 ? Number(n.lease) : 5;
    node.leaseMs = Math.round(leaseS * 1000);
    node.config = RED.nodes.getNode(n.clusterConfig);
    let le = null;
    let holder = '';
    let dropped = 0;
    let clusterState = null;

    const show = () => {
      if (clusterState && !clusterState.connected && !(le && le.isLeader())) {
        node.status(node.config.statusFor(clusterState));
        return;
      }
      if (le && le.isLeader()) node.status({ fill: 'green', shape: 'dot', text: RED._('cluster-leader.status.leader', { token: le.token() }) });
      else if (holder) node.status({ fill: 'blue', shape: 'ring', text: RED._('cluster-leader.status.follower', { leader: holder }) });
      else node.status({ fill: 'grey', shape: 'ring', text: RED._('cluster-leader.status.candidate') });
    };

    const report = (event, ev) => {
      node.send([null, {
        topic: node.group,
        payload: { event, group: node.group, instance: node.config.instanceId, token: ev.token, leader: ev.leader,
          reason: ev.reason, at: ev.at },
      }]);
    };

    if (!node.config) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-leader.status.no-config') });
    } else if (!GROUP_RE.test(node.group)) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-leader.status.bad-group') });
      node.error(RED._('cluster-leader.error.group', { group: node.group }));
    } else if (!node.config.cluster) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('cluster-leader.status.not-running') });
    } else {
      node.onClusterStatus = (st) => { clusterState = st; show(); };
      node.config.register(node);
      const lease = node.leaseMs;
      const renew = Math.min(1000, Math.floor(lease / 5));
      le = node.config.cluster.leader(node.group, { leaseMs: lease, renewMs: renew, marginMs: Math.floor(lease / 5) }, (ev) => {
        if (ev.kind === 'became_leader') {
          holder = node.config.instanceId;
          node.log(RED._('cluster-leader.log.became', { group: node.group, token: ev.token }));
          report('became_leader', ev);
        } else if (ev.kind === 'lost_leadership') {
          node.warn(RED._('cluster-leader.log.lost', { group: node.group, token: ev.token, reason: ev.reason }));
          report('lost_leadership', ev);
        } else if (ev.kind === 'leader_changed') {
          holder = ev.leader;
        }
        show();
      });
      le.ready.catch((err) => {
        node.status({ fill: 'red', shape: 'dot', text: err.code || 'error' });
        node.error(RED._('cluster-leader.error.start', { message: err.message }));
      });
      show();
    }

    node.on('input', function (msg, send, done) {
      // Decided now against the lease deadline: a paused or cut-off instance passes nothing.
      if (le && le.isLeader()) {
        msg.leader = { group: node.group, token: le.token(), instance: node.config.instanceId };
        send([msg, null]);
      } else {
        dropped++;
      }
      done();
    });

    node.on('close', function (removed, done) {
      if (node.config) node.config.deregister(node);
      const l = le;
      le = null;
      if (!l) return done();
      // Clean stop: the lease is released so another instance takes over at once.
      l.stop().catch((err) => node.debug(`leader stop: ${err.message}`)).finally(() => done());
    });
  }

  RED.nodes.registerType('ClusterLeaderNode', ClusterLeaderNode);
};
