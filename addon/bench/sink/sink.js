'use strict';
// Benchmark only (bench/e2e.js, BENCH_RECORDER=node): the cheapest possible end of a flow. Per message it
// notes the arrival time and checks order, like the function-node recorder, without the function
// node's per-message vm run and sandbox; at the last message it writes the result file.
const fs = require('fs');
const path = require('path');

module.exports = function (RED) {
  function BenchSink(n) {
    RED.nodes.createNode(this, n);
    const total = Number(n.count);
    const file = path.join(process.env.NRC_USER_DIR, 'bench.json');
    const st = { n: 0, lat: [], inOrder: true, last: -1, first: 0 };
    this.on('input', (msg, send, done) => {
      const t = Date.now();
      const p = msg.payload;
      if (st.n === 0) st.first = p.t;
      if (p.i <= st.last) st.inOrder = false; else st.last = p.i;
      st.lat.push(t - p.t);
      if (++st.n === total) fs.writeFileSync(file, JSON.stringify({ elapsed: t - st.first, lat: st.lat, inOrder: st.inOrder }));
      done();
    });
  }
  RED.nodes.registerType('bench-sink', BenchSink);
};
