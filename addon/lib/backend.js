'use strict';
// The one door to the native addon. Everything the Node-RED nodes need from the C++ cluster layer goes
// through here, as Promises and events:
//
//   const cluster = createCluster(config)       // see normalizeConfig() for the fields
//   await cluster.start()                        // resolves once the first connect attempt finished
//   await cluster.publish(subject, payload, {mode: 'durable'|'ephemeral', ttl})
//   const sub = cluster.subscribe({key, patterns, start, ack, maxInFlight}, onMessage)
//   sub.ack(id); await sub.settle(id, {nak, delayMs}); await sub.close({removeConsumer})
//   await cluster.discover()                     // [{instanceId, role, natsAddress, online, endpoints: [...], groups: [...],
//                                                  leads: [{group, token, revision, seen}]}]
//   await cluster.kvGet(key) / kvPut(key, v) / kvCreate / kvUpdate(key, v, rev) / kvDelete / kvKeys(filter)
//   const le = cluster.leader(group, {leaseMs}, onEvent); le.isLeader(); await le.stop()
//   cluster.status()                             // synchronous snapshot
//   cluster.on('status', s => ...); cluster.on('discovery', d => ...)
//   await cluster.stop()
//   await testConnection(config, timeoutMs)      // {ok, code, message, ...}
//
// The addon reports everything (operation results, deliveries, status) through one thread-safe
// function per cluster, in batches; this file turns those batches into Promise settlements and events.

const EventEmitter = require('events');
const path = require('path');

let native = null;
let nativeError = null;

function loadNative() {
  if (native || nativeError) return native;
  try {
    native = require('node-gyp-build')(path.join(__dirname, '..'));
  } catch (err) {
    nativeError = err;
  }
  return native;
}

function nativeOrThrow() {
  const n = loadNative();
  if (!n) {
    const err = new Error(
      'the native part of @nats-cluster/node-red-cluster is not available for this platform ' +
        `(${process.platform}-${process.arch}, Node-API): ${nativeError && nativeError.message}. ` +
        'Build it from source with scripts/build.sh (see README).');
    err.code = 'ADDON_NOT_LOADED';
    throw err;
  }
  return n;
}

function makeError(e) {
  if (e instanceof Error) return e;
  const err = new Error((e && e.message) || 'unknown error');
  err.code = (e && e.code) || 'UNKNOWN';
  if (e && e.category) err.category = e.category;
  return err;
}

/// Turns the config node's view of a cluster into what the addon expects. Throws (code
/// INVALID_CONFIG) on values that can never work.
function normalizeConfig(c) {
  const fail = (m) => { const e = new Error(m); e.code = 'INVALID_CONFIG'; throw e; };
  const instanceId = String(c.instanceId || '').trim();
  if (!instanceId) fail('instance id is empty');
  if (!/^[A-Za-z0-9_-]+$/.test(instanceId)) fail(`instance id "${instanceId}" may only contain letters, digits, - and _`);
  const rootPath = String(c.rootPath || '/nodered-cluster').trim();
  if (!/^\/?[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(rootPath)) fail(`root path "${rootPath}" is not a path like /nodered-cluster`);
  const servers = parseServers(c.servers);
  if (servers.length === 0) fail('no NATS server address');
  const role = String(c.role || 'member').toLowerCase() === 'observer' ? 'observer' : 'member';
  const auth = c.auth || {};
  const tls = c.tls || {};
  const str = (v) => (v == null ? '' : String(v));
  return {
    instanceId,
    rootPath,
    role,
    servers,
    natsAddress: Array.isArray(c.servers) ? c.servers.join(',') : String(c.servers || ''),
    name: str(c.name || `node-red ${instanceId}`),
    auth: {
      user: str(auth.user), password: str(auth.password), token: str(auth.token),
      nkeySeed: str(auth.nkeySeed).trim(), creds: str(auth.creds),
    },
    tls: {
      enabled: !!tls.enabled, ca: str(tls.ca), cert: str(tls.cert), key: str(tls.key),
      serverName: str(tls.serverName), verify: tls.verify !== false,
    },
    heartbeatMs: Number(c.heartbeatMs) > 0 ? Number(c.heartbeatMs) : 0,
    staleMs: Number(c.staleMs) > 0 ? Number(c.staleMs) : 0,
    outboxMessages: Number(c.outboxMessages) > 0 ? Number(c.outboxMessages) : 0,
    outboxBytes: Number(c.outboxBytes) > 0 ? Number(c.outboxBytes) : 0,
    ackWaitMs: Number(c.ackWaitMs) >= 100 ? Number(c.ackWaitMs) : 0,
  };
}

/// "host:port, nats://a:4222 tls://b" → ["nats://host:port", "nats://a:4222", "tls://b"].
function parseServers(s) {
  const list = Array.isArray(s) ? s : String(s || '').split(/[\s,;]+/);
  return list.map((x) => String(x).trim()).filter(Boolean)
    .map((x) => (/^[a-z]+:\/\//i.test(x) ? x : `nats://${x}`));
}

/// The calls waiting for an answer from the io thread. While there are any, the addon keeps the event
/// loop alive, so a script whose last step is `await cluster.start()` / `publish()` / `stop()` gets its
/// answer; an idle cluster (only subscriptions) does not hold a process that has nothing else to do.
class PendingCalls extends Map {
  constructor(onBusy) { super(); this._onBusy = onBusy; }
  set(k, v) {
    const idle = this.size === 0;
    super.set(k, v);
    if (idle) this._onBusy(true);
    return this;
  }
  delete(k) {
    const had = super.delete(k);
    if (had && this.size === 0) this._onBusy(false);
    return had;
  }
  clear() {
    const busy = this.size > 0;
    super.clear();
    if (busy) this._onBusy(false);
  }
}

const UNREACHABLE_AFTER_MS = 4000;
const MAX_BATCH_BYTES = 256 * 1024 * 1024;
// A burst (a function node sending thousands in one loop) is delivered to the publish node in one turn
// of the event loop: without an early hand-over the io thread would start only after the whole burst,
// and the subscribers after that. Handing over every few hundred lets the io thread, the server and the
// subscribing instances work while this thread is still taking the burst.
const EARLY_FLUSH_MESSAGES = 256;

// Errors that retrying will not fix: the node shows them until the configuration changes.
const FATAL = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_REVOKED', 'BAD_SEED',
  'BAD_CREDENTIALS', 'NONCE_REQUIRED', 'TLS_ERROR', 'TLS_REQUIRED', 'JETSTREAM_UNAVAILABLE', 'DUPLICATE_INSTANCE',
  'INVALID_CONFIG', 'MAX_RECONNECTS']);

const errorOf = (e) => (e.error ? Object.assign({ auth: !!e.authError }, e.error) : null);
const unfixable = (error) => !!error && (error.auth || FATAL.has(error.code));

/// Folds one status event of the addon ({kind, error, text, server, outboxMessages, outboxBytes,
/// authError}) into the status snapshot the nodes display.
function nextStatus(prev, e, config) {
  let state = prev.state;
  let error = prev.error;
  switch (e.kind) {
    case 'connecting': state = 'connecting'; break;
    case 'connected': state = 'connected'; error = null; break;
    case 'disconnected':
    case 'reconnecting': {
      // A failed connect attempt comes as 'disconnected' then 'reconnecting', both with the attempt's
      // error. One that retrying cannot fix (credentials that do not parse, an nkey the server sends
      // no nonce for, a refused login, TLS) is shown as it is, not as "unreachable": the connection
      // goes on trying in the background (the server's configuration may change), a success clears it.
      const err = errorOf(e);
      if (unfixable(err)) {
        state = 'failed';
        // The 'disconnected' event's text says it best; the 'reconnecting' one adds the next attempt.
        if (!(prev.state === 'failed' && prev.error && prev.error.code === err.code)) error = err;
      } else if (e.kind === 'disconnected') {
        state = 'disconnected';
        error = e.error || null;
      } else {
        state = 'reconnecting';
      }
      break;
    }
    case 'closed': if (state !== 'failed') state = 'closed'; break; // keep showing why it gave up
    case 'error':
      error = errorOf(e);
      if (unfixable(error)) state = 'failed';
      break;
    default: break; // 'outbox': counters only
  }
  const limit = (config && config.outboxMessages) || 10000;
  const outboxMessages = Number(e.outboxMessages) || 0;
  return {
    state,
    connected: state === 'connected',
    server: e.server || prev.server || '',
    outboxMessages,
    outboxBytes: Number(e.outboxBytes) || 0,
    outboxFull: outboxMessages >= limit,
    error,
    since: state === prev.state ? prev.since : Date.now(),
  };
}

/// Flat [name, value, name, value...] → {name: value} (a repeated name → array of values, in order).
function headersFrom(h) {
  const o = {};
  if (!h) return o;
  for (let k = 0; k + 1 < h.length; k += 2) {
    const name = h[k]; const value = h[k + 1];
    if (!Object.prototype.hasOwnProperty.call(o, name)) {
      if (name === '__proto__') Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
      else o[name] = value;
    } else if (Array.isArray(o[name])) {
      o[name].push(value);
    } else {
      o[name] = [o[name], value];
    }
  }
  return o;
}

/// Delivery i of a columnar batch entry → {id, subject, relativeSubject, sourceInstance, payload (a view
/// into the batch's buffer), headers, mode, streamSequence, deliveryCount, redelivered, outOfOrder,
/// published}.
function deliveryAt(ev, i) {
  const f = ev.flags[i];
  return {
    id: ev.ids[i],
    subject: ev.subject[i],
    relativeSubject: ev.relative[i],
    sourceInstance: ev.source[i],
    payload: ev.payload.subarray(ev.off[i], ev.off[i + 1]),
    headers: headersFrom(ev.headers[i]),
    mode: (f & 2) ? 'ephemeral' : 'durable',
    streamSequence: ev.seq[i],
    deliveryCount: ev.count[i],
    redelivered: (f & 1) !== 0,
    outOfOrder: (f & 4) !== 0,
    published: ev.published[i],
  };
}

class Subscription {
  constructor(cluster, id) {
    this._cluster = cluster;
    this.id = id;
    this.closed = false;
  }
  ack(deliveryId) {
    if (this.closed || this._cluster._stopped) return;
    this._cluster._queueAck(deliveryId);
  }
  /// Acknowledges (default) or, with {nak: true, delayMs}, asks for redelivery (after delayMs) of one
  /// delivery, and says whether the cluster layer still had it pending: rejects with
  /// UNKNOWN_SUBSCRIPTION when it was settled already (or redelivered meanwhile and settled by that
  /// delivery), SUBSCRIPTION_CLOSED when this subscription has stopped (the message will be redelivered).
  settle(deliveryId, opts = {}) {
    if (this.closed || this._cluster._stopped) {
      const e = new Error('the subscription has stopped (redeployed or closed); the message will be delivered again');
      e.code = 'SUBSCRIPTION_CLOSED';
      return Promise.reject(e);
    }
    const id = Number(deliveryId);
    if (!Number.isSafeInteger(id) || id <= 0) {
      const e = new Error(`not a delivery id: ${String(deliveryId)}`);
      e.code = 'INVALID_ARGUMENT';
      return Promise.reject(e);
    }
    const delay = Number(opts.delayMs) > 0 ? Math.min(Number(opts.delayMs), 2 ** 31) : 0;
    return this._cluster._queueSettle(id, !!opts.nak, delay);
  }
  close(opts = {}) {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this._cluster._subs.delete(this.id);
    if (this._cluster._stopped) return Promise.resolve(); // stopping the cluster ended it already
    return this._cluster._call((rid) => this._cluster._native.unsubscribe(rid, this.id, !!opts.removeConsumer));
  }
}

/// A payload for the addon: Buffers as they are, text (encodePayload's JSON) as UTF-8 bytes.
function asBuffer(p) {
  return Buffer.isBuffer(p) ? p : Buffer.from(p == null ? '' : String(p), 'utf8');
}

/// Settles a pending call: a Promise's {resolve, reject}, or a node-style callback (publish with a
/// callback: no Promise per message).
function settle(cluster, p, err, value) {
  if (typeof p === 'function') {
    try { p(err || null, value); } catch (e) { cluster.emit('error', e); }
  } else if (err) {
    p.reject(err);
  } else {
    p.resolve(value);
  }
}

class Cluster extends EventEmitter {
  constructor(config) {
    super();
    const n = nativeOrThrow();
    this.config = normalizeConfig(config);
    this._pending = new PendingCalls((busy) => {
      try { if (this._native) this._native.keepAlive(busy); } catch (_) { /* released: nothing to hold */ }
    });
    this._nextId = 1;
    this._subs = new Map();
    this._responders = new Map();
    this._status = { state: 'idle', connected: false, outboxMessages: 0, outboxBytes: 0, error: null };
    this._stopped = false;
    this._native = new n.Cluster(this.config, (batch) => this._onBatch(batch));
  }

  _call(fn) {
    if (this._stopped && this._stopPromise) {
      const e = new Error('cluster stopped'); e.code = 'STOPPED';
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const id = this._nextId++;
      this._pending.set(id, { resolve, reject });
      try {
        fn(id);
      } catch (err) {
        this._pending.delete(id);
        reject(makeError(err));
      }
    });
  }

  _onBatch(batch) {
    for (const ev of batch) {
      switch (ev.t) {
        case 'r': { // result of a call
          const p = this._pending.get(ev.id);
          if (!p) break;
          this._pending.delete(ev.id);
          settle(this, p, ev.error ? makeError(ev.error) : null, ev.value);
          break;
        }
        case 'R': { // successes of many calls (publish results under load)
          const ids = ev.ids;
          for (let i = 0; i < ids.length; i++) {
            const p = this._pending.get(ids[i]);
            if (!p) continue;
            this._pending.delete(ids[i]);
            settle(this, p, null, undefined);
          }
          break;
        }
        case 'M': { // deliveries for one subscription, as columns (src/event_queue.cpp)
          const s = this._subs.get(ev.sub);
          if (!s) break;
          for (let i = 0; i < ev.n; i++) {
            if (!this._subs.has(ev.sub)) break; // closed by a handler meanwhile
            const d = deliveryAt(ev, i);
            try { s.onMessage(d); } catch (err) { this.emit('error', err); }
          }
          break;
        }
        case 's':
          this._setStatus(nextStatus(this._status, ev.value, this.config));
          break;
        case 'd':
          this.emit('discovery', ev.value);
          break;
        case 'l': { // leader election event
          const le = this._leaders && this._leaders.get(ev.handle);
          if (le) { try { le.onEvent(ev.value); } catch (err) { this.emit('error', err); } }
          break;
        }
        case 'q': { // a request for one responder
          const r = this._responders.get(ev.responder);
          if (!r) break;
          try { r.onRequest(ev.value); } catch (err) { this.emit('error', err); }
          break;
        }
        default:
          break;
      }
    }
  }

  _setStatus(st) {
    this._status = st;
    // The first connect retries quietly; after a while say plainly that NATS cannot be reached.
    clearTimeout(this._connectTimer);
    if (st.state === 'connecting' && !this._stopped) {
      this._connectTimer = setTimeout(() => {
        if (this._status.state !== 'connecting' || this._stopped) return;
        this._setStatus(Object.assign({}, this._status, {
          state: 'reconnecting', since: Date.now(),
          error: { code: 'UNREACHABLE', message: `no NATS server answers at ${this.config.servers.join(', ')}` },
        }));
      }, UNREACHABLE_AFTER_MS);
      if (this._connectTimer.unref) this._connectTimer.unref();
    }
    this.emit('status', this.status());
  }

  start() {
    this._setStatus(Object.assign({}, this._status, { state: 'connecting' }));
    return this._call((id) => this._native.start(id));
  }

  /// payload: Buffer or string (sent as is). mode: 'durable' | 'ephemeral'; ttl in seconds.
  /// Publishes made in one turn of the event loop cross to the io thread together, in order.
  /// With `callback(err)` no Promise is made (the publish node's path: one less allocation and
  /// microtask per message); without, returns a Promise.
  publish(subject, payload, opts = {}, callback = undefined) {
    const mode = String(opts.mode || 'durable').toLowerCase() === 'ephemeral' ? 'ephemeral' : 'durable';
    const ttl = Number(opts.ttl) > 0 ? Number(opts.ttl) : 0;
    // A string stays a string until the batch is flushed: then all texts are encoded into one Buffer.
    const body = Buffer.isBuffer(payload) ? payload : String(payload == null ? '' : payload);
    // At most this many bytes (UTF-8 needs up to 3 per UTF-16 unit).
    const size = typeof body === 'string' ? body.length * 3 : body.length;
    const subj = String(subject);
    // Payload offsets cross as 32-bit numbers: a very large burst goes in several batches, in order.
    if (this._pubBatch && this._pubBatch.bytes + size > MAX_BATCH_BYTES) this._flush();
    const enqueue = (id) => {
      const b = this._pubBatch || (this._pubBatch = { ids: [], subjects: [], subjectIndex: new Map(), subjectOf: [], payloads: [], bytes: 0, eph: [], ttls: [] });
      let si = b.subjectIndex.get(subj);
      if (si === undefined) { si = b.subjects.length; b.subjects.push(subj); b.subjectIndex.set(subj, si); }
      b.ids.push(id); b.subjectOf.push(si); b.payloads.push(body); b.bytes += size;
      b.eph.push(mode === 'ephemeral' ? 1 : 0); b.ttls.push(ttl);
      if (b.ids.length >= EARLY_FLUSH_MESSAGES) this._flush(); else this._scheduleFlush();
    };
    if (typeof callback !== 'function') return this._call(enqueue);
    if (this._stopped && this._stopPromise) {
      const e = new Error('cluster stopped'); e.code = 'STOPPED';
      process.nextTick(() => settle(this, callback, e));
      return undefined;
    }
    const id = this._nextId++;
    this._pending.set(id, callback);
    enqueue(id);
    return undefined;
  }

  _queueSettle(deliveryId, nak, delayMs) {
    return this._call((id) => {
      const b = this._settleBatch || (this._settleBatch = { ids: [], deliveries: [], naks: [], delays: [] });
      b.ids.push(id); b.deliveries.push(deliveryId); b.naks.push(nak); b.delays.push(delayMs);
      this._scheduleFlush();
    });
  }

  _queueAck(deliveryId) {
    (this._ackBatch || (this._ackBatch = [])).push(deliveryId);
    this._scheduleFlush();
  }

  _scheduleFlush() {
    if (this._flushScheduled) return;
    this._flushScheduled = true;
    setImmediate(() => this._flush());
  }

  _flush() {
    this._flushScheduled = false;
    const b = this._pubBatch; this._pubBatch = null;
    const a = this._ackBatch; this._ackBatch = null;
    const st = this._settleBatch; this._settleBatch = null;
    if (this._stopped && !this._native) return;
    try {
      if (b) {
        // Columns (src/cluster_wrap.cpp publishBatch): one Buffer for all payloads, typed arrays.
        const n = b.ids.length;
        const off = new Uint32Array(n + 1);
        let pos = 0;
        for (let i = 0; i < n; i++) {
          const p = b.payloads[i];
          off[i] = pos;
          pos += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
        }
        off[n] = pos;
        // One Buffer for the batch, each text encoded straight into its place.
        const all = Buffer.allocUnsafe(pos);
        for (let i = 0; i < n; i++) {
          const p = b.payloads[i];
          if (typeof p === 'string') all.write(p, off[i], 'utf8'); else p.copy(all, off[i]);
        }
        this._native.publishBatch(Float64Array.from(b.ids), b.subjects, Uint32Array.from(b.subjectOf),
          all, off, Uint8Array.from(b.eph), Float64Array.from(b.ttls));
      }
    } catch (err) {
      for (const id of b.ids) {
        const p = this._pending.get(id);
        if (p) { this._pending.delete(id); settle(this, p, makeError(err)); }
      }
    }
    if (a) {
      // A typed array: the addon reads it as one block instead of one N-API call per element.
      try { this._native.ackBatch(Float64Array.from(a)); } catch (err) { this.emit('warning', makeError(err)); }
    }
    if (st) {
      try {
        this._native.settleBatch(st.ids, st.deliveries, st.naks, st.delays);
      } catch (err) {
        for (const id of st.ids) {
          const p = this._pending.get(id);
          if (p) { this._pending.delete(id); settle(this, p, makeError(err)); }
        }
      }
    }
  }

  /// Announces a publish subject (discovery shows it) before the first message is sent.
  registerEndpoint(subject, opts = {}) {
    const mode = String(opts.mode || 'durable').toLowerCase() === 'ephemeral' ? 'ephemeral' : 'durable';
    return this._call((id) => this._native.registerEndpoint(id, String(subject), mode, Number(opts.ttl) > 0 ? Number(opts.ttl) : 0));
  }

  /// opts: {key, patterns: [..], start: 'new'|'all'|'last', ack: 'auto'|'none', maxInFlight,
  /// group (empty: every instance; a name: one member of that group gets each message), ackWaitMs}.
  /// onMessage(delivery) with {id, subject, relativeSubject, sourceInstance, payload: Buffer, headers,
  /// streamSequence, redelivered}.
  subscribe(opts, onMessage) {
    let sid;
    const ready = this._call((id) => {
      sid = this._native.subscribe(id, {
        key: String(opts.key || ''),
        patterns: (opts.patterns || []).map(String),
        start: opts.start || 'new',
        ack: opts.ack || 'auto',
        maxInFlight: Number(opts.maxInFlight) > 0 ? Number(opts.maxInFlight) : 0,
        group: String(opts.group || ''),
        ackWaitMs: Number(opts.ackWaitMs) > 0 ? Number(opts.ackWaitMs) : 0,
      });
    });
    const sub = new Subscription(this, sid);
    /// Settles when the cluster layer accepted the subscription (rejects on a bad pattern, a duplicate key...).
    sub.ready = ready;
    if (sid === undefined) sub.closed = true;
    else this._subs.set(sid, { sub, onMessage });
    ready.catch(() => { sub.closed = true; this._subs.delete(sid); });
    return sub;
  }

  discover() { return this._call((id) => this._native.discover(id)); }

  /// Leader election in `group` on this cluster (lease on the KV key leaders.<group>, docs/cluster.md):
  /// opts {leaseMs, renewMs, marginMs, candidate}; onEvent({kind: 'became_leader'|'lost_leadership'|
  /// 'leader_changed', token, reason, leader, at}). Returns {ready: Promise, isLeader(), token(),
  /// stop(): Promise} — isLeader() is synchronous and exact (checks the lease deadline now).
  leader(group, opts = {}, onEvent = () => {}) {
    const handle = this._nextLeader = (this._nextLeader || 0) + 1;
    const leaders = this._leaders || (this._leaders = new Map());
    const native = this._native;
    let stopped = false;
    const le = {
      group: String(group),
      onEvent,
      isLeader: () => !stopped && !this._stopped && native.isLeader(handle)[0],
      token: () => (stopped || this._stopped ? 0 : native.isLeader(handle)[1]),
      stop: () => {
        if (stopped) return le._stopping || Promise.resolve();
        stopped = true;
        le._stopping = (this._stopped && !this._native ? Promise.resolve() : this._call((id) => native.leaderStop(id, handle)))
          .catch((err) => { if (err.code !== 'STOPPED') throw err; })
          .finally(() => leaders.delete(handle));
        return le._stopping;
      },
    };
    leaders.set(handle, le);
    le.ready = this._call((id) => native.leaderStart(id, handle, {
      group: String(group), candidate: opts.candidate ? String(opts.candidate) : '',
      leaseMs: Number(opts.leaseMs) || 0, renewMs: Number(opts.renewMs) || 0, marginMs: Number(opts.marginMs) || 0,
    }));
    le.ready.catch(() => { stopped = true; leaders.delete(handle); });
    return le;
  }

  // Host key-values on this cluster's connection, in the bucket CLUSTER_<stream>_CONTEXT (the context
  // store's). Values are Buffers or strings; revisions allow compare-and-set. While NATS is down every
  // call rejects at once (NOT_CONNECTED). Other codes: INVALID_KEY, PAYLOAD_TOO_LARGE, KEY_EXISTS,
  // WRONG_REVISION.

  /// {value: Buffer, revision} or null when the key has no value.
  kvGet(key) {
    return this._call((id) => this._native.kv(id, 'get', String(key))).then(
      (r) => ({ value: r.value || Buffer.alloc(0), revision: r.revision }),
      (err) => { if (err.code === 'KEY_NOT_FOUND') return null; throw err; });
  }
  /// Resolves with the new revision.
  kvPut(key, value) { return this._kvWrite('put', key, value, 0); }
  /// Only when the key has no value (KEY_EXISTS otherwise).
  kvCreate(key, value) { return this._kvWrite('create', key, value, 0); }
  /// Only when the key's revision is still `revision` (WRONG_REVISION otherwise).
  kvUpdate(key, value, revision) { return this._kvWrite('update', key, value, Number(revision)); }
  kvDelete(key) { return this._call((id) => this._native.kv(id, 'delete', String(key))).then(() => undefined); }
  /// Keys with a value matching `filter` (NATS wildcards, default all).
  kvKeys(filter = '>') { return this._call((id) => this._native.kv(id, 'keys', String(filter))).then((r) => r.keys || []); }

  _kvWrite(op, key, value, revision) {
    const body = Buffer.isBuffer(value) ? value : Buffer.from(String(value == null ? '' : value));
    return this._call((id) => this._native.kv(id, op, String(key), body, revision)).then((r) => r.revision);
  }

  /// Request/reply between instances. Resolves with {payload: Buffer, headers, instance}; rejects with
  /// code NO_RESPONDERS, TIMEOUT, NOT_CONNECTED, PAYLOAD_TOO_LARGE, INVALID_SUBJECT, ...
  /// opts: {instance, group, timeoutMs, headers}.
  request(subject, payload, opts = {}) {
    return this._call((id) => this._native.request(id, String(subject), asBuffer(payload), {
      instance: String(opts.instance || ''),
      group: String(opts.group || ''),
      timeoutMs: Number(opts.timeoutMs) > 0 ? Number(opts.timeoutMs) : 5000,
      headers: opts.headers || {},
    }));
  }

  /// Answers requests for `opts.subject` (wildcards allowed; opts.group: responder group).
  /// onRequest({id, subject, sourceInstance, payload: Buffer, headers, timeoutMs}); answer with
  /// respond(id, payload, headers). Returns {ready, close()}.
  serve(opts, onRequest) {
    let rid;
    const ready = this._call((id) => {
      rid = this._native.serve(id, { subject: String(opts.subject || ''), group: String(opts.group || '') });
    });
    const responder = { ready, closed: false };
    responder.close = () => {
      if (responder.closed) return Promise.resolve();
      responder.closed = true;
      this._responders.delete(rid);
      if (this._stopped) return Promise.resolve();
      return this._call((id) => this._native.stopServing(id, rid));
    };
    if (rid === undefined) responder.closed = true;
    else this._responders.set(rid, { onRequest });
    ready.catch(() => { responder.closed = true; this._responders.delete(rid); });
    return responder;
  }

  /// Sends the answer to a request handed to a responder (rejects with UNKNOWN_REQUEST when it was
  /// answered already or its requester stopped waiting).
  respond(requestId, payload, headers = {}) {
    return this._call((id) => this._native.respond(id, Number(requestId), asBuffer(payload), headers || {}));
  }

  status() { return Object.assign({}, this._status); }

  stop() {
    if (this._stopped) return this._stopPromise;
    // Leaders hand over first (their lease released while the connection is still up).
    const leaders = this._leaders ? Array.from(this._leaders.values()) : [];
    const released = Promise.all(leaders.map((le) => le.stop().catch(() => {})));
    this._stopped = true;
    clearTimeout(this._connectTimer);
    this._subs.clear();
    // Stopping always succeeds from the caller's point of view: a node that never started or already
    // gave up (e.g. wrong password) has nothing left to stop.
    this._flush();
    this._stopPromise = released.then(() => new Promise((resolve, reject) => {
      const id = this._nextId++;
      this._pending.set(id, { resolve, reject });
      try { this._native.stop(id); } catch (err) { this._pending.delete(id); reject(makeError(err)); }
    })).catch((err) => {
      if (!['NOT_STARTED', 'STOPPED', 'OUTBOX_NOT_DRAINED'].includes(err.code)) this.emit('warning', err);
    }).finally(() => {
      const left = Array.from(this._pending.values());
      this._pending.clear();
      for (const p of left) {
        const e = new Error('cluster stopped'); e.code = 'STOPPED'; settle(this, p, e);
      }
    });
    return this._stopPromise;
  }
}

function createCluster(config) { return new Cluster(config); }

/// Connects once with the given settings and reports what happened, without secrets:
/// {ok, code: 'ok'|'unreachable'|'auth_failed'|'tls'|'jetstream_disabled'|'invalid_config'|'error',
///  message, server, serverVersion, jetstream}.
function testConnection(config, timeoutMs = 5000) {
  let cfg;
  try {
    cfg = normalizeConfig(Object.assign({ instanceId: 'connection-test' }, config));
  } catch (err) {
    return Promise.resolve({ ok: false, code: 'invalid_config', message: err.message });
  }
  let n;
  try { n = nativeOrThrow(); } catch (err) { return Promise.resolve({ ok: false, code: 'error', message: err.message }); }
  return new Promise((resolve) => {
    n.testConnection(cfg, Math.max(100, Number(timeoutMs) || 5000), (result) => resolve(result));
  });
}

module.exports = { createCluster, testConnection, normalizeConfig, parseServers, nextStatus, loadNative, Cluster, headersFrom };
