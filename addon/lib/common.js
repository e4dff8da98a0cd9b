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

/// msg.payload → bytes on the wire. Like the original plugin, everything is JSON.stringify'd (so a string
/// "open" travels as "\"open\"" and comes back as the same string); a Buffer is sent as its raw bytes.
/// Throws with code INVALID_PAYLOAD when the value cannot be serialised (circular, BigInt, ...).
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
  return Buffer.from(text, 'utf8');
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
      if (['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_REVOKED', 'BAD_CREDENTIALS', 'BAD_SEED'].includes(code) || (st.error && st.error.auth)) return { fill: 'red', shape: 'dot', text: 'login refused: check user/password/token' };
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

module.exports = { formatAckId, parseAckId, checkPublishSubject, checkPattern, splitPatterns, encodePayload, decodePayload, statusFor, suggestionsFrom };
