'use strict';
// Node-RED context store on NATS KV (bucket CLUSTER_<stream>_CONTEXT), shared by every Node-RED
// instance of a cluster. settings.js:
//
//   contextStorage: {
//     default: { module: 'memory' },
//     cluster: {
//       module: require('@nats-cluster/node-red-cluster/context'),
//       config: { servers: 'nats://nats1:4222', instanceId: 'field-a', rootPath: '/nodered-cluster',
//                 user, password, token, nkeySeed, creds, tls: { enabled, ca, cert, key, serverName, verify } },
//     },
//   }
//
// Context stores start before flows, so the store has its own connection, configured with the same
// fields as a cluster config node (servers, credentials, TLS files). It runs as an observer instance
// `<instanceId>-context` of the cluster (visible in discovery).
//
// Layout (one KV entry per top-level context key, its value as JSON):
//   global scope            global.<key>
//   flow scope              flow.<flowId>.<key>
//   node scope (per instance) node.<instanceId>.<flowId>.<nodeId>.<key>
// Ids and keys are escaped for KV (characters other than letters, digits, '-' and '_' become '=XX' per
// UTF-8 byte), so any Node-RED key is stored. Node-scoped data carries the instance id: clean() only ever
// removes this instance's node data (and never flow or global data, which other instances may use).
//
// Consistency: a set resolves when NATS stored it, so a get on any instance afterwards sees it. Setting a
// whole top-level key is last-writer-wins (Node-RED's API has no compare-and-set); setting a nested
// property ('a.b') is a read-modify-write with compare-and-set on the KV revision, retried, so concurrent
// updates of different properties of one key do not lose each other. A read-then-set in a flow
// (counter = get + 1) is not atomic across instances.
//
// NATS down: every get/set/keys fails at once with a clear error (code NOT_CONNECTED) instead of
// answering from a stale copy; the loss and the return of the link are logged once each.
// Only asynchronous access works (get/set with a callback, or the await forms).

const backend = require('./backend');

// Nested sets retry their compare-and-set; a jittered pause spreads writers that collided.
const MAX_CAS_ATTEMPTS = 50;
const CAS_BACKOFF_MS = 5;

function storeError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/// KV-safe escape of one token: [A-Za-z0-9_-] kept, every other UTF-8 byte as '=XX'.
function escapeToken(s) {
  const b = Buffer.from(String(s), 'utf8');
  let out = '';
  for (const c of b) {
    const ch = String.fromCharCode(c);
    out += /[A-Za-z0-9_-]/.test(ch) ? ch : `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (!out) throw storeError('INVALID_KEY', 'empty context key or id');
  return out;
}

function unescapeToken(s) {
  const bytes = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && i + 2 < s.length && /^[0-9A-F]{2}$/.test(s.substr(i + 1, 2))) {
      bytes.push(parseInt(s.substr(i + 1, 2), 16));
      i += 2;
    } else {
      bytes.push(s.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/// "a.b[0]['c d']" → ['a', 'b', 0, 'c d']. Throws INVALID_KEY on anything else.
function parsePath(expr) {
  if (typeof expr !== 'string' || expr.length === 0) throw storeError('INVALID_KEY', `invalid context key: ${String(expr)}`);
  const parts = [];
  let i = 0;
  const bad = () => storeError('INVALID_KEY', `invalid context key: ${expr}`);
  while (i < expr.length) {
    if (expr[i] === '[') {
      const close = expr.indexOf(']', i);
      if (close < 0) throw bad();
      const inner = expr.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) parts.push(Number(inner));
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) parts.push(inner.slice(1, -1));
      else throw bad();
      i = close + 1;
      if (i < expr.length && expr[i] === '.') {
        i++;
        if (i >= expr.length) throw bad();
      }
    } else {
      let j = i;
      while (j < expr.length && expr[j] !== '.' && expr[j] !== '[') j++;
      const name = expr.slice(i, j);
      if (!name) throw bad();
      parts.push(name);
      i = j;
      if (i < expr.length && expr[i] === '.') {
        i++;
        if (i >= expr.length) throw bad();
      }
    }
  }
  if (typeof parts[0] !== 'string' || parts[0].length === 0) throw bad();
  return parts;
}

/// JSON text of a value, or a clear error (circular, BigInt, function...).
function toJson(value, key) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw storeError('INVALID_VALUE', `context value of "${key}" cannot be stored as JSON: ${err.message}`);
  }
  if (text === undefined) throw storeError('INVALID_VALUE', `context value of "${key}" cannot be stored as JSON (${typeof value})`);
  return text;
}

function getIn(obj, path) {
  let v = obj;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}

/// Sets (or with undefined deletes) obj[path...], creating objects/arrays on the way.
function setIn(obj, path, value) {
  let v = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const p = path[i];
    if (v[p] === null || typeof v[p] !== 'object') {
      if (value === undefined) return;
      v[p] = typeof path[i + 1] === 'number' ? [] : {};
    }
    v = v[p];
  }
  const last = path[path.length - 1];
  if (value === undefined) delete v[last];
  else v[last] = value;
}

class ClusterContextStore {
  constructor(config = {}) {
    this.config = Object.assign({}, config);
    this.instanceId = String(this.config.instanceId || '').trim();
    this.cluster = null;
    this.connected = false;
  }

  _log(level, text) {
    const line = `${new Date().toISOString()} - [${level}] [context:cluster] ${text}`;
    if (level === 'error' || level === 'warn') console.warn(line); else console.log(line);
  }

  open() {
    if (!this.instanceId) return Promise.reject(storeError('INVALID_CONFIG', 'cluster context store: config.instanceId is required (this Node-RED instance\'s id)'));
    try {
      escapeToken(this.instanceId);
      this.cluster = backend.createCluster({
        instanceId: `${this.instanceId}-context`,
        role: 'observer',
        rootPath: this.config.rootPath || '/nodered-cluster',
        servers: this.config.servers || 'nats://127.0.0.1:4222',
        name: `node-red ${this.instanceId} context`,
        auth: {
          user: this.config.user, password: this.config.password, token: this.config.token,
          nkeySeed: this.config.nkeySeed, creds: this.config.creds,
        },
        tls: this.config.tls || {},
      });
    } catch (err) {
      return Promise.reject(err);
    }
    this.cluster.on('status', (st) => {
      if (st.connected && !this.connected) {
        this.connected = true;
        this._log('info', `connected to ${st.server}`);
      } else if (!st.connected && this.connected) {
        this.connected = false;
        this._log('warn', `NATS connection lost (${(st.error && st.error.message) || st.state}): context reads and writes fail until it is back`);
      } else if (st.state === 'failed' && st.error) {
        this._log('error', `cannot use NATS: ${st.error.message}`);
      }
    });
    this.cluster.on('warning', () => {});
    this.cluster.on('error', () => {});
    // Wait for the first connection a little, so flows that read context at start find it; NATS down
    // at start does not keep Node-RED from starting.
    const waitMs = Number(this.config.openTimeoutMs) > 0 ? Number(this.config.openTimeoutMs) : 5000;
    return this.cluster.start().then(() => new Promise((resolve) => {
      if (this.cluster.status().connected) return resolve();
      const t = setTimeout(() => {
        this.cluster.removeListener('status', on);
        this._log('warn', `NATS not reachable at ${[].concat(this.config.servers || '').join(', ')}: context reads and writes fail until it is`);
        resolve();
      }, waitMs);
      const on = (st) => {
        if (!st.connected) return;
        clearTimeout(t);
        this.cluster.removeListener('status', on);
        resolve();
      };
      this.cluster.on('status', on);
    }));
  }

  close() {
    const c = this.cluster;
    this.cluster = null;
    return c ? c.stop().then(() => undefined) : Promise.resolve();
  }

  /// KV key prefix of a Node-RED scope: 'global', '<flowId>', '<nodeId>:<flowId>'.
  _scopePrefix(scope) {
    if (scope === 'global') return 'global';
    const s = String(scope);
    const colon = s.indexOf(':');
    if (colon < 0) return `flow.${escapeToken(s)}`;
    return `node.${escapeToken(this.instanceId)}.${escapeToken(s.slice(colon + 1))}.${escapeToken(s.slice(0, colon))}`;
  }

  _entryKey(scope, top) { return `${this._scopePrefix(scope)}.${escapeToken(top)}`; }

  _ready() {
    if (!this.cluster) throw storeError('NOT_OPEN', 'cluster context store is closed');
  }

  async _readTop(kvKey) {
    const r = await this.cluster.kvGet(kvKey);
    if (!r) return { value: undefined, revision: 0 };
    let value;
    try {
      value = JSON.parse(r.value.toString('utf8'));
    } catch (_) {
      throw storeError('INVALID_VALUE', `context entry ${kvKey} does not hold JSON`);
    }
    return { value, revision: r.revision };
  }

  async _getOne(scope, key) {
    const path = parsePath(key);
    const { value } = await this._readTop(this._entryKey(scope, path[0]));
    return path.length === 1 ? value : getIn(value, path.slice(1));
  }

  get(scope, key, callback) {
    if (typeof callback !== 'function') {
      throw storeError('ASYNC_ONLY', 'the cluster context store is asynchronous: use get(key, store, callback)');
    }
    const keys = Array.isArray(key) ? key : [key];
    Promise.resolve().then(() => { this._ready(); return Promise.all(keys.map((k) => this._getOne(scope, k))); })
      .then((values) => callback(null, ...values), (err) => callback(err));
  }

  set(scope, key, value, callback) {
    if (typeof callback !== 'function') {
      throw storeError('ASYNC_ONLY', 'the cluster context store is asynchronous: use set(key, value, store, callback)');
    }
    const keys = Array.isArray(key) ? key : [key];
    const values = Array.isArray(key) ? (Array.isArray(value) ? value : [value]) : [value];
    let plan;
    try {
      this._ready();
      // Everything is checked before the first write: a bad key or value writes nothing.
      plan = keys.map((k, i) => {
        const v = i < values.length ? values[i] : null;
        const path = parsePath(k);
        const kvKey = this._entryKey(scope, path[0]);
        const json = path.length === 1 && v !== undefined ? toJson(v, k) : undefined;
        if (path.length > 1 && v !== undefined) toJson(v, k);
        return { path, kvKey, value: v, json };
      });
    } catch (err) {
      process.nextTick(() => callback(err));
      return;
    }
    (async () => {
      for (const p of plan) await this._write(p);
    })().then(() => callback(null), (err) => callback(err));
  }

  async _write({ path, kvKey, value, json }) {
    if (path.length === 1) {
      if (value === undefined) return this.cluster.kvDelete(kvKey);
      return this.cluster.kvPut(kvKey, json);
    }
    // Nested property: read-modify-write on the revision read, again when someone wrote in between.
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cur = await this._readTop(kvKey);
      const top = cur.value !== null && typeof cur.value === 'object' ? cur.value : (typeof path[1] === 'number' ? [] : {});
      setIn(top, path.slice(1), value);
      const text = toJson(top, path[0]);
      try {
        if (cur.revision) await this.cluster.kvUpdate(kvKey, text, cur.revision);
        else await this.cluster.kvCreate(kvKey, text);
        return undefined;
      } catch (err) {
        if (err.code !== 'WRONG_REVISION' && err.code !== 'KEY_EXISTS') throw err;
      }
      await new Promise((r) => setTimeout(r, Math.random() * CAS_BACKOFF_MS * Math.min(attempt + 1, 20)));
    }
    throw storeError('CONFLICT', `context key ${path[0]} kept changing; gave up after ${MAX_CAS_ATTEMPTS} attempts`);
  }

  keys(scope, callback) {
    if (typeof callback !== 'function') {
      throw storeError('ASYNC_ONLY', 'the cluster context store is asynchronous: use keys(store, callback)');
    }
    Promise.resolve().then(() => {
      this._ready();
      const prefix = this._scopePrefix(scope);
      return this.cluster.kvKeys(`${prefix}.*`).then((ks) => ks.map((k) => unescapeToken(k.slice(prefix.length + 1))));
    }).then((ks) => callback(null, ks), (err) => callback(err));
  }

  /// Removes every key of a scope (Node-RED: a node or flow was deleted).
  async delete(scope) {
    this._ready();
    const prefix = this._scopePrefix(scope);
    const ks = await this.cluster.kvKeys(`${prefix}.*`);
    for (const k of ks) await this.cluster.kvDelete(k);
  }

  /// Removes this instance's node-scoped data of nodes that are no longer deployed here. Flow and global
  /// data stay (other instances may run those flows), and other instances' node data is never touched.
  async clean(activeNodes) {
    if (!this.cluster) return;
    const active = new Set((activeNodes || []).map(String));
    const mine = `node.${escapeToken(this.instanceId)}.`;
    let ks;
    try {
      ks = await this.cluster.kvKeys(`${mine}>`);
    } catch (err) {
      this._log('warn', `context clean skipped: ${err.message}`);
      return;
    }
    for (const k of ks) {
      const parts = k.slice(mine.length).split('.');
      if (parts.length < 3) continue;
      const nodeId = unescapeToken(parts[1]);
      if (!active.has(nodeId)) await this.cluster.kvDelete(k);
    }
  }
}

module.exports = function createContextStore(config) { return new ClusterContextStore(config); };
module.exports.ClusterContextStore = ClusterContextStore;
module.exports.escapeToken = escapeToken;
module.exports.unescapeToken = unescapeToken;
module.exports.parsePath = parsePath;
