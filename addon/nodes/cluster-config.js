'use strict';
// ClusterConfigNode: one cluster membership (instance id, role, root path, NATS servers and secrets) shared
// by every publish/subscribe node that points at it. Also serves the admin endpoints.

const backend = require('../lib/backend');
const { ClusterView } = require('../lib/cluster-view');
const { splitPatterns, statusFor, originalStatusOf, withoutUrlCredentials, authKindOf, membersAnswer, discoveryAnswer } = require('../lib/common');

const PLACEHOLDER = '__PWRD__'; // what the editor sends for a password field the user did not change

module.exports = function (RED) {
  /// Reads the secrets: credentials first, then the legacy plain-text properties of old flows.
  function secretsOf(n, credentials) {
    const c = credentials || {};
    return {
      user: c.natsUser || n.natsUser || '',
      password: c.natsPass || n.natsPass || '',
      token: c.token || '',
      nkeySeed: c.nkeySeed || '',
      creds: c.creds || '',
    };
  }

  /// TLS options from a standard tls-config node (certificates, key and CA as content).
  function tlsOf(tlsNodeId, wantTls) {
    const tls = { enabled: !!wantTls };
    if (!tlsNodeId) return tls;
    const tlsNode = RED.nodes.getNode(tlsNodeId);
    if (!tlsNode) return Object.assign(tls, { enabled: true });
    const o = {};
    tlsNode.addTLSOptions(o);
    return {
      enabled: true,
      ca: o.ca ? o.ca.toString() : '',
      cert: o.cert ? o.cert.toString() : '',
      key: o.key ? o.key.toString() : '',
      serverName: o.servername || '',
      verify: o.rejectUnauthorized !== false,
    };
  }

  function ClusterConfigNode(n) {
    RED.nodes.createNode(this, n);
    const node = this;
    node.name = n.name;
    node.instanceId = String(n.instanceId || '').trim();
    node.zkRootPath = n.zkRootPath || '/nodered-cluster';
    node.natsAddress = n.natsAddress || 'localhost:4222';
    node.role = n.role === 'Observer' ? 'Observer' : 'Member';
    node.isObserver = node.role === 'Observer';
    node.users = new Set();
    node.clusterStatus = { state: 'idle', outboxMessages: 0 };

    // Legacy flows carry natsUser/natsPass in plain text: keep using them, and move them into the
    // credential store so the next deploy writes them to flows_cred.json instead of flows.json (the
    // editor does not keep properties it does not know, so they vanish from flows.json then).
    const creds = Object.assign({}, node.credentials || {});
    if ((n.natsUser && !creds.natsUser) || (n.natsPass && !creds.natsPass)) {
      if (!creds.natsUser && n.natsUser) creds.natsUser = n.natsUser;
      if (!creds.natsPass && n.natsPass) creds.natsPass = n.natsPass;
      RED.nodes.addCredentials(node.id, creds);
      node.credentials = creds;
      node.warn(RED._('cluster-config.warn.legacy-credentials'));
    }

    const config = {
      instanceId: node.instanceId,
      rootPath: node.zkRootPath,
      servers: node.natsAddress,
      role: node.role,
      name: `node-red ${node.instanceId}`,
      auth: secretsOf(n, creds),
      tls: tlsOf(n.tls, n.useTls),
      outboxMessages: Number(n.outboxLimit) > 0 ? Number(n.outboxLimit) : 0,
      // Unacknowledged deliveries come again after this (only for consumers created from now on).
      ackWaitMs: Number(n.ackWait) >= 0.1 ? Math.round(Number(n.ackWait) * 1000) : 0,
    };

    // The connection parameters the status route shows (the original's `params`): never a secret.
    node.params = {
      natsAddress: withoutUrlCredentials(node.natsAddress),
      instanceId: node.instanceId,
      rootPath: node.zkRootPath,
      role: node.role,
      tls: config.tls.enabled || /(^|[\s,;])tls:\/\//i.test(node.natsAddress),
      auth: authKindOf(config.auth, node.natsAddress),
    };

    node.setClusterStatus = function (st) {
      node.clusterStatus = st;
      for (const u of node.users) {
        try { u.onClusterStatus(st); } catch (_) { /* a closing node */ }
      }
    };

    try {
      node.cluster = backend.createCluster(config);
    } catch (err) {
      node.cluster = null;
      node.startError = err;
      node.error(RED._('cluster-config.error.create', { message: err.message }));
      node.setClusterStatus({ state: 'failed', error: { code: err.code, message: err.message } });
    }

    if (node.cluster) {
      node.cluster.on('status', (st) => node.setClusterStatus(st));
      node.cluster.on('error', (err) => node.error(err));
      node.cluster.on('warning', (err) => node.warn(err.message));
      node.cluster.start().catch((err) => {
        node.error(RED._('cluster-config.error.start', { message: err.message }));
      });
    }

    // The editor's cluster sidebar (lib/cluster-view.js): this cluster's instances, live over comms.
    node.view = new ClusterView({
      configId: node.id,
      label: node.name || `${node.instanceId} @ ${node.params.natsAddress}`,
      selfId: node.instanceId,
      cluster: node.cluster,
      statusOf: () => node.clusterStatus,
      subscriptions: () => Array.from(node.users)
        .filter((u) => u.type === 'ClusterSubscribeNode').flatMap((u) => splitPatterns(u.subjectPattern)),
      publish: (topic, data, retain) => RED.comms.publish(topic, data, retain),
      throttleMs: 500,
    });

    /// A publish/subscribe node starts using this config.
    node.register = function (user) {
      node.users.add(user);
      user.onClusterStatus(node.clusterStatus);
      if (node.view) node.view.refresh();
    };
    node.deregister = function (user) {
      node.users.delete(user);
      if (node.view) node.view.refresh();
    };
    node.statusFor = (st, opts) => statusFor(st, opts);

    node.on('close', function (removed, done) {
      if (node.view) { node.view.close(); node.view = null; }
      const c = node.cluster;
      node.cluster = null;
      node.users.clear();
      if (!c) return done();
      c.stop().catch((err) => node.warn(err.message)).finally(() => done());
    });
  }

  RED.nodes.registerType('ClusterConfigNode', ClusterConfigNode, {
    credentials: {
      natsUser: { type: 'text' },
      natsPass: { type: 'password' },
      token: { type: 'password' },
      nkeySeed: { type: 'password' },
      creds: { type: 'password' },
    },
  });

  // ---- admin endpoints (same paths as the original plugin) ----

  function withCluster(req, res) {
    const n = RED.nodes.getNode(req.params.configId);
    if (!n || n.type !== 'ClusterConfigNode') {
      res.status(404).json({ error: 'not_found', message: 'no deployed cluster configuration with that id' });
      return null;
    }
    return n;
  }

  /// GET /cluster/status: the original's {status, params} + our connection details beside them (the
  /// node-status object the nodes show is `nodeStatus`).
  function statusAnswer(n) {
    const st = n.clusterStatus || {};
    const state = st.state || 'idle';
    return {
      status: originalStatusOf(state),
      params: Object.assign({}, n.params),
      id: n.id,
      name: n.name || '',
      instanceId: n.instanceId,
      role: n.role,
      zkRootPath: n.zkRootPath,
      natsAddress: withoutUrlCredentials(n.natsAddress),
      state,
      connected: state === 'connected',
      since: Number(st.since) || null,
      server: withoutUrlCredentials(st.server),
      outboxMessages: Number(st.outboxMessages) || 0,
      outboxBytes: Number(st.outboxBytes) || 0,
      outboxFull: !!st.outboxFull,
      error: st.error ? { code: st.error.code, message: withoutUrlCredentials(st.error.message) } : null,
      nodeStatus: statusFor(st),
    };
  }

  async function discoverOf(n) {
    if (!n.cluster) {
      const e = new Error('cluster is not running'); e.code = 'NOT_RUNNING'; throw e;
    }
    return n.cluster.discover();
  }

  RED.httpAdmin.get('/cluster/status/:configId', RED.auth.needsPermission('cluster.read'), (req, res) => {
    const n = withCluster(req, res);
    if (n) res.json(statusAnswer(n));
  });

  RED.httpAdmin.get('/cluster/members/:configId', RED.auth.needsPermission('cluster.read'), async (req, res) => {
    const n = withCluster(req, res);
    if (!n) return;
    try {
      res.json(membersAnswer(await discoverOf(n), n.instanceId));
    } catch (err) {
      res.status(503).json({ error: err.code || 'error', message: err.message });
    }
  });

  RED.httpAdmin.get('/cluster/discovery/:configId', RED.auth.needsPermission('cluster.read'), async (req, res) => {
    const n = withCluster(req, res);
    if (!n) return;
    try {
      res.json(discoveryAnswer(await discoverOf(n), n.instanceId));
    } catch (err) {
      res.status(503).json({ error: err.code || 'error', message: err.message });
    }
  });

  RED.httpAdmin.post('/cluster/testconnection', RED.auth.needsPermission('cluster.write'), async (req, res) => {
    const b = req.body || {};
    const given = b.credentials || {};
    // Fields the user did not retype arrive as the placeholder: take them from the deployed node.
    const stored = (b.id && RED.nodes.getCredentials(b.id)) || {};
    const deployed = b.id ? RED.nodes.getNode(b.id) : null;
    const pick = (k) => (given[k] === PLACEHOLDER || given[k] === undefined ? stored[k] : given[k]) || '';
    const legacy = deployed && deployed.credentials ? deployed.credentials : {};
    const auth = {
      user: pick('natsUser') || legacy.natsUser || '',
      password: pick('natsPass') || legacy.natsPass || '',
      token: pick('token'),
      nkeySeed: pick('nkeySeed'),
      creds: pick('creds'),
    };
    const timeout = Math.min(Math.max(Number(b.timeout) || 5000, 500), 20000);
    try {
      const result = await backend.testConnection({
        servers: b.natsAddress || (deployed && deployed.natsAddress) || '',
        auth,
        tls: tlsOf(b.tls, b.useTls),
        rootPath: b.zkRootPath || '/nodered-cluster',
      }, timeout);
      // Only the structured result, never the settings that produced it.
      res.json({
        ok: !!result.ok, code: result.code, message: result.message || '',
        server: result.server || '', serverVersion: result.serverVersion || '', jetstream: !!result.jetstream,
      });
    } catch (err) {
      res.json({ ok: false, code: 'error', message: err.message });
    }
  });
};
