'use strict';
// Builders for test flows in the original plugin's format (type and property names).
const path = require('path');
const fs = require('fs');

const FIXTURE = process.env.NRC_FIXTURE || '/work/shared/fixtures/original-plugin-flow.json';
const LOCAL_FIXTURE = path.join(__dirname, 'original-plugin-flow.json');

/// The original plugin's flow (shared fixture, or our copy), pointed at `address`. For the test helper
/// (which has no core nodes) inject/debug nodes become `helper` nodes; the cluster nodes stay as they are.
function originalFlow(address, { coreAsHelper = true } = {}) {
  const file = fs.existsSync(FIXTURE) ? FIXTURE : LOCAL_FIXTURE;
  const flow = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const n of flow) {
    if (n.type === 'ClusterConfigNode') n.natsAddress = address;
    if (coreAsHelper && (n.type === 'inject' || n.type === 'debug')) {
      for (const k of Object.keys(n)) if (!['id', 'z', 'wires', 'name'].includes(k)) delete n[k];
      n.type = 'helper';
    }
  }
  return flow;
}

function config(id, instanceId, address, extra = {}) {
  return Object.assign({ id, type: 'ClusterConfigNode', name: '', instanceId, zkRootPath: '/nodered-cluster',
    natsAddress: address, role: 'Member' }, extra);
}
function publisher(id, cfg, subject, extra = {}) {
  return Object.assign({ id, type: 'ClusterPublishNode', z: 'tab1', name: '', clusterConfig: cfg, subject,
    mode: 'Durable', ttl: 30, wires: [] }, extra);
}
function subscriber(id, cfg, pattern, wires, extra = {}) {
  return Object.assign({ id, type: 'ClusterSubscribeNode', z: 'tab1', name: '', clusterConfig: cfg,
    subjectPattern: pattern, wires: [wires] }, extra);
}
const tab = { id: 'tab1', type: 'tab', label: 'test' };
const sink = (id) => ({ id, type: 'helper', z: 'tab1' });

module.exports = { originalFlow, config, publisher, subscriber, tab, sink };
