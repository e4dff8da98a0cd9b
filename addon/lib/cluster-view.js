'use strict';
// The editor's cluster sidebar, runtime side: one live view per cluster config node (its instances with
// presence, last seen, role, endpoints, groups, the groups each leads, and this instance's own subscriptions;
// plus the groups with their members and the live leader of each group), sent to the editors over
// Node-RED's comms as a retained message on `nats-cluster/view/<config id>`. Refreshed from the cluster's
// 'discovery' and 'status' events, at most once per `throttleMs`, and every `pollMs` (last seen times).

const { instanceSummary, originalStatusOf, groupsFrom, leadersFrom } = require('./common');

const TOPIC_PREFIX = 'nats-cluster/view/';
const KEEP_DEPARTED = 100; // instances that left, remembered (newest first) so the sidebar shows them offline

/// Folds a discovery snapshot and the instances that left since into the rows the sidebar shows (sorted
/// by id). `departed`: Map id → {instance, leftAt}; an id that is back in the snapshot is dropped from it.
/// `ownSubscriptions`: this instance's subscribe patterns (other instances' are not published, so null).
/// `previous`: the rows of the last view; an instance whose entry no longer says when it was last seen
/// (it left: the entry is gone) keeps the time from there.
function viewRows(list, departed, selfId, ownSubscriptions, previous = []) {
  const before = new Map(previous.map((r) => [r.instanceId, r]));
  const rows = new Map();
  for (const i of list || []) {
    departed.delete(i.instanceId);
    const row = rowOf(i, selfId, i.instanceId === selfId || i.self ? ownSubscriptions : null);
    if (row.lastSeen === null && before.has(i.instanceId)) row.lastSeen = before.get(i.instanceId).lastSeen;
    rows.set(i.instanceId, row);
  }
  for (const [id, d] of departed) {
    if (rows.has(id)) continue;
    const seen = Number(d.instance.lastSeen) > 0 ? Number(d.instance.lastSeen) : (before.has(id) && before.get(id).lastSeen) || d.leftAt;
    rows.set(id, Object.assign(rowOf(d.instance, selfId, null), { presence: 'left', online: false, lastSeen: seen, leads: [] }));
  }
  return Array.from(rows.values()).sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

function rowOf(i, selfId, subscriptions) {
  return Object.assign({ instanceId: i.instanceId }, instanceSummary(i, selfId), {
    endpoints: (i.endpoints || []).map((e) => ({ subject: e.subject, mode: e.mode, ttl: e.ttl }))
      .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0)),
    subscriptions: subscriptions ? subscriptions.slice() : null,
    groups: (i.groups || []).map((g) => ({ group: g.group, patterns: g.patterns })),
    leads: i.online === false ? [] : (i.leads || []).map((l) => ({ group: l.group, token: l.token })),
  });
}

class ClusterView {
  /// opts: {configId, label, selfId, cluster (backend Cluster or null), statusOf() → status snapshot,
  /// subscriptions() → [patterns], publish(topic, data, retain), throttleMs (least time between two
  /// updates), pollMs (a fresh look at least this often)}
  constructor(opts) {
    this._o = opts;
    this.topic = TOPIC_PREFIX + opts.configId;
    this._departed = new Map();
    this._rows = [];
    this._groups = [];
    this._leaders = [];
    this._timer = null;
    this._last = 0;
    this._closed = false;
    this._onDiscovery = (e) => this._noteDiscovery(e);
    this._onStatus = () => this.refresh();
    if (opts.cluster) {
      opts.cluster.on('discovery', this._onDiscovery);
      opts.cluster.on('status', this._onStatus);
      // Heartbeats are not discovery events: look again now and then so "last seen" stays current.
      this._poll = setInterval(() => this.refresh(), opts.pollMs || 5000);
      if (this._poll.unref) this._poll.unref();
    }
    this.refresh();
  }

  _noteDiscovery(e) {
    if (e && e.kind === 'left' && e.instance && e.instance.instanceId) {
      this._departed.delete(e.instance.instanceId);
      this._departed.set(e.instance.instanceId, { instance: e.instance, leftAt: Date.now() });
      while (this._departed.size > KEEP_DEPARTED) this._departed.delete(this._departed.keys().next().value);
    }
    this.refresh();
  }

  /// Schedules a refresh: at once when the last one is older than throttleMs, else at the end of it.
  refresh() {
    if (this._closed || this._timer) return;
    const wait = Math.max(0, this._last + (this._o.throttleMs || 500) - Date.now());
    this._timer = setTimeout(() => { this._timer = null; this._send().catch(() => { /* closed meanwhile */ }); }, wait);
    if (this._timer.unref) this._timer.unref();
  }

  async _send() {
    this._last = Date.now();
    const c = this._o.cluster;
    const st = this._o.statusOf() || {};
    if (c && st.state === 'connected') {
      try {
        const list = await c.discover();
        this._rows = viewRows(list, this._departed, this._o.selfId, this._o.subscriptions(), this._rows);
        this._groups = groupsFrom(list);
        this._leaders = leadersFrom(list.filter((i) => i.online !== false)).map((l) => ({ group: l.group, instanceId: l.instanceId, token: l.token }));
      } catch (_) { /* keep the last rows; the state says why they may be old */ }
    } else {
      // Not connected: what we knew, our own row from our config (its presence follows our state).
      this._rows = this._rows.map((r) => (r.self ? Object.assign({}, r, { subscriptions: this._o.subscriptions() }) : r));
      // Leases are judged by the watch, which is not running: no live leader is known.
      this._rows = this._rows.map((r) => (r.leads && r.leads.length ? Object.assign({}, r, { leads: [] }) : r));
      this._leaders = [];
    }
    if (this._closed) return;
    const state = st.state || 'idle';
    this._o.publish(this.topic, {
      configId: this._o.configId,
      label: this._o.label,
      instanceId: this._o.selfId,
      status: originalStatusOf(state),
      state,
      at: Date.now(),
      instances: this._rows,
      groups: this._groups,
      leaders: this._leaders,
    }, true);
  }

  /// The config node is gone: editors drop its section, the retained message is cleared.
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    clearInterval(this._poll);
    const c = this._o.cluster;
    if (c) {
      c.removeListener('discovery', this._onDiscovery);
      c.removeListener('status', this._onStatus);
    }
    this._o.publish(this.topic, { configId: this._o.configId, removed: true }, false);
  }
}

module.exports = { ClusterView, viewRows, TOPIC_PREFIX };
