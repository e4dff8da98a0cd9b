'use strict';
// Pure helpers shared by the nodes: subject checks, payload encoding, status words. No Node-RED, no addon.

/// A publish subject relative to the cluster: dot-separated tokens, no wildcards, no whitespace.
function checkPublishSubject(s) {
  if (typeof s !== 'string' || s.length === 0) return 'subject is empty';
  if (/[\s]/.test(s)) return `subject "${s}" contains whitespace`;
  const tokens = s.split('.');
  if (tokens.some((t) => t.length === 0)) return `subject "${s}" has an empty token (leading, trailing or double dot)`;
  if (tokens.some((t) => t === '*' || t === '>' || t.includes('*') || t.includes('>'))) {
    return `subject "${s}" contains a wildcard; wildcards are only allowed in subscribe patterns`;
  }
  return null;
}

/// One subscribe pattern: tokens, `*` as a whole token, `>` only as the last token.
function checkPattern(p) {
  if (typeof p !== 'string' || p.length === 0) return 'pattern is empty';
  if (/[\s]/.test(p)) return `pattern "${p}" contains whitespace`;
  const tokens = p.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.length === 0) return `pattern "${p}" has an empty token`;
    if (t === '>' && i !== tokens.length - 1) return `pattern "${p}": ">" must be the last token`;
    if (t !== '*' && t !== '>' && (t.includes('*') || t.includes('>'))) {
      return `pattern "${p}": wildcards must be whole tokens`;
    }
  }
  return null;
}

/// "a.b, *.c.>" → ["a.b", "*.c.>"]
function splitPatterns(s) {
  return String(s || '').split(',').map((x) => x.trim()).filter(Boolean);
}

/// msg.payload → what goes on the wire: its JSON text (sent as UTF-8), or a Buffer's raw bytes. Like the
/// original plugin, everything is JSON.stringify'd (so a string "open" travels as "\"open\"" and comes back
/// as the same string). The text stays a string: the publish batch encodes all of a burst's texts into
/// one Buffer (no Buffer per message). Throws with code INVALID_PAYLOAD when the value cannot be
/// serialised (circular, BigInt, ...).
function encodePayload(payload) {
  if (Buffer.isBuffer(payload)) return payload;
  let text;
  try {
    text = JSON.stringify(payload === undefined ? null : payload);
  } catch (err) {
    const e = new Error(`msg.payload cannot be sent as JSON: ${err.message}`);
    e.code = 'INVALID_PAYLOAD';
    throw e;
  }
  if (text === undefined) text = 'null'; // functions, symbols
  return text;
}

/// Bytes from the wire → msg.payload: parsed JSON; else the text when it is valid UTF-8; else the Buffer.
function decodePayload(buf) {
  if (!Buffer.isBuffer(buf)) buf = Buffer.from(buf || '');
  const text = buf.toString('utf8');
  if (text.length > 0) {
    try {
      return JSON.parse(text);
    } catch (_) { /* not JSON */ }
  }
  if (Buffer.byteLength(text, 'utf8') === buf.length && !text.includes('\ufffd')) return text;
  return buf;
}

/// Status snapshot from the addon → a Node-RED status object in words a person understands.
function statusFor(st, opts = {}) {
  if (!st) return { fill: 'grey', shape: 'ring', text: 'not started' };
  const queued = Number(st.outboxMessages) || 0;
  const q = queued > 0 ? `, ${queued} message${queued === 1 ? '' : 's'} waiting to be sent` : '';
  if (opts.observerPublish) return { fill: 'grey', shape: 'dot', text: 'observer: publishing disabled' };
  switch (st.state) {
    case 'connected':
      if (st.outboxFull) return { fill: 'red', shape: 'dot', text: `connected, outbox full${q}` };
      return queued > 0
        ? { fill: 'green', shape: 'ring', text: `connected${q}` }
        : { fill: 'green', shape: 'dot', text: 'connected' };
    case 'connecting':
    case 'idle':
      return { fill: 'yellow', shape: 'ring', text: 'connecting…' };
    case 'reconnecting':
    case 'disconnected':
      return { fill: 'red', shape: 'ring', text: `NATS unreachable, retrying${q}` };
    case 'failed': {
      const code = st.error && st.error.code;
      // Credentials that cannot even be sent: the connection keeps trying, but only a change helps.
      if (code === 'BAD_CREDENTIALS') return { fill: 'red', shape: 'dot', text: 'credentials (.creds) unusable: check their content' };
      if (code === 'BAD_SEED') return { fill: 'red', shape: 'dot', text: 'nkey seed unusable: check the seed' };
      if (code === 'NONCE_REQUIRED') return { fill: 'red', shape: 'dot', text: 'nkey login impossible: the server offers no nkey authentication' };
      if (['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_REVOKED'].includes(code) || (st.error && st.error.auth)) return { fill: 'red', shape: 'dot', text: 'login refused: check user/password/token' };
      if (code === 'TLS_ERROR' || code === 'TLS_REQUIRED') return { fill: 'red', shape: 'dot', text: 'TLS problem: check the TLS settings' };
      if (code === 'DUPLICATE_INSTANCE') return { fill: 'red', shape: 'dot', text: 'another running Node-RED uses this instance id' };
      if (code === 'JETSTREAM_UNAVAILABLE') return { fill: 'red', shape: 'dot', text: 'JetStream is not enabled on the NATS server' };
      return { fill: 'red', shape: 'dot', text: `stopped: ${(st.error && st.error.message) || 'error'}` };
    }
    case 'stopped':
    case 'closed':
      return { fill: 'grey', shape: 'ring', text: 'stopped' };
    default:
      return { fill: 'grey', shape: 'ring', text: String(st.state || 'unknown') };
  }
}

/// Suggestions for subscribe patterns from a discovery snapshot.
function suggestionsFrom(instances) {
  const out = new Set();
  for (const inst of instances || []) {
    for (const ep of inst.endpoints || []) {
      out.add(`${inst.instanceId}.${ep.subject}`);
      out.add(`*.${ep.subject}`);
    }
    out.add(`${inst.instanceId}.>`);
  }
  return Array.from(out).sort();
}

// ---- admin route answers (GET /cluster/status|members|discovery/:configId) ----
// Each answer has the original plugin's shape as its base; our richer fields sit beside it under keys the
// original does not use, so scripts written for the original and our editor read the same answer.

/// Our connection states → the original plugin's five status words. "reconnecting" (NATS unreachable,
/// retrying) and "closed" are "disconnected"; "failed" (retrying cannot help: wrong password, TLS, ...)
/// is "error"; anything unknown is "error" too.
const ORIGINAL_STATUS = {
  idle: 'idle', connecting: 'connecting', connected: 'connected',
  disconnected: 'disconnected', reconnecting: 'disconnected', closed: 'disconnected', stopped: 'disconnected',
  failed: 'error',
};
function originalStatusOf(state) {
  return Object.prototype.hasOwnProperty.call(ORIGINAL_STATUS, state) ? ORIGINAL_STATUS[state] : 'error';
}

/// "nats://user:pass@host:4222" → "nats://host:4222": an address as it may be shown to anyone.
function withoutUrlCredentials(address) {
  return String(address || '').replace(/\/\/[^@/\s,]*@/g, '//');
}

/// The kind of login a configuration uses, never the secret: the first the client sends, in the client's
/// order (connection_impl::fill_auth): creds, nkey, token, user, credentials in the server URL, none.
function authKindOf(auth, servers) {
  const a = auth || {};
  if (a.creds) return 'creds';
  if (a.nkeySeed) return 'nkey';
  if (a.token) return 'token';
  if (a.user) return 'user';
  if (/\/\/[^@/\s,]+@/.test(String(servers || ''))) return 'url';
  return 'none';
}

/// One instance of a discovery snapshot as the admin answers list it: the original's {natsAddress, role}
/// plus ours (presence, online, lastSeen in ms since the epoch or null, legacy = written by the original
/// plugin, self = this config's own instance).
function instanceSummary(i, selfId) {
  return {
    natsAddress: withoutUrlCredentials(i.natsAddress),
    role: i.role === 'Observer' ? 'Observer' : 'Member',
    presence: i.presence || (i.online === false ? 'offline' : 'online'),
    online: i.online !== false,
    lastSeen: Number(i.lastSeen) > 0 ? Number(i.lastSeen) : null,
    legacy: !!i.legacy,
    self: !!i.self || i.instanceId === selfId,
  };
}

/// GET /cluster/members: {members: [ids, sorted]} (original) + {instances: {id: instanceSummary}}.
function membersAnswer(list, selfId) {
  const sorted = (list || []).slice().sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
  const instances = {};
  for (const i of sorted) instances[i.instanceId] = instanceSummary(i, selfId);
  return { members: sorted.map((i) => i.instanceId), instances };
}

/// GET /cluster/discovery: {instances: {id: {natsAddress, role, ...ours}}, endpoints: {id: [subject]}}
/// (original; subjects relative to the instance) + {endpointDetails: {id: [{subject, mode, ttl}]},
/// subjects: [pattern suggestions], groups: [{group, patterns, members}], leaders: [{group, instanceId, token, seen}]}.
function discoveryAnswer(list, selfId) {
  const { members, instances } = membersAnswer(list, selfId);
  const byId = new Map((list || []).map((i) => [i.instanceId, i]));
  const endpoints = {};
  const endpointDetails = {};
  for (const id of members) {
    const eps = (byId.get(id).endpoints || []).slice().sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
    endpoints[id] = eps.map((e) => e.subject);
    endpointDetails[id] = eps.map((e) => ({ subject: e.subject, mode: e.mode, ttl: e.ttl }));
  }
  return { instances, endpoints, endpointDetails, subjects: suggestionsFrom(list), groups: groupsFrom(list), leaders: leadersFrom(list) };
}

/// Live leaders from a discovery snapshot (leases the backend still counts as held by an online
/// instance): [{group, instanceId, token, seen}], sorted by group.
function leadersFrom(instances) {
  const out = [];
  for (const inst of instances || []) {
    for (const l of inst.leads || []) out.push({ group: l.group, instanceId: inst.instanceId, token: l.token, seen: l.seen });
  }
  return out.sort((a, b) => a.group.localeCompare(b.group));
}

/// Groups and their members from a discovery snapshot: [{group, patterns, members: [instanceId...]}].
function groupsFrom(instances) {
  const by = new Map();
  for (const inst of instances || []) {
    for (const g of inst.groups || []) {
      if (!by.has(g.group)) by.set(g.group, { group: g.group, patterns: g.patterns, members: [] });
      by.get(g.group).members.push(inst.instanceId);
    }
  }
  return Array.from(by.values()).sort((a, b) => a.group.localeCompare(b.group));
}

/// A group name: one NATS token (no '.', '*', '>', whitespace) without '/' or '\'. null when fine.
function checkGroup(g) {
  if (typeof g !== 'string' || g.length === 0) return 'group name is empty';
  if (g.length > 128) return 'group name is longer than 128 characters';
  if (/[\s.*>/\\\x00-\x1f\x7f]/.test(g)) return `group name "${g}" must be one word: no dots, wildcards, spaces, "/" or "\\"`;
  return null;
}

/// The group name used when the node leaves it empty: root and patterns as one token, e.g.
/// "/nodered-cluster" + "*.jobs.>" → "nodered-cluster_any_jobs_all" (the editor shows the same).
function defaultGroupName(rootPath, patterns) {
  const root = String(rootPath || '/nodered-cluster').replace(/^\//, '');
  const pat = splitPatterns(patterns).join('_').replace(/\*/g, 'any').replace(/>/g, 'all');
  return `${root}_${pat}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}

/// The reference a cluster ack node needs (msg.cluster.ackId): subscribe node id, run, delivery id. A
/// plain string, so it survives message cloning, JSON and being stored for later.
function formatAckId(nodeId, session, deliveryId) {
  return `${nodeId}/${session}/${deliveryId}`;
}

/// msg.cluster.ackId → {nodeId, session, deliveryId}, or null when it is not one.
function parseAckId(s) {
  if (typeof s !== 'string') return null;
  const m = /^([^/]+)\/([0-9a-f]+)\/([1-9][0-9]{0,15})$/.exec(s);
  if (!m) return null;
  const deliveryId = Number(m[3]);
  if (!Number.isSafeInteger(deliveryId)) return null;
  return { nodeId: m[1], session: m[2], deliveryId };
}

/// A node status that changes with every message (an in-flight count, an answered count) is shown at
/// most every `ms`: each node.status() is a runtime event and an editor message, paid on the message's
/// path. `compute()` returns the status object; schedule() after a change, now() for one that must show
/// at once (an error), cancel() on close.
function throttledStatus(node, compute, ms = 200) {
  let timer = null;
  const now = () => {
    if (timer) { clearTimeout(timer); timer = null; }
    node.status(compute());
  };
  return {
    now,
    schedule() { if (!timer) { timer = setTimeout(now, ms); timer.unref(); } },
    cancel() { if (timer) { clearTimeout(timer); timer = null; } },
  };
}

module.exports = {
  originalStatusOf, withoutUrlCredentials, authKindOf, instanceSummary, membersAnswer, discoveryAnswer, formatAckId,
  parseAckId, checkPublishSubject, checkPattern, splitPatterns, encodePayload, decodePayload, statusFor, suggestionsFrom,
  groupsFrom, leadersFrom, checkGroup, defaultGroupName, throttledStatus,
};
