'use strict';
// Shared by the Node-RED benchmarks (e2e.js, work.js): the official nats.js client's modules, a
// Node-RED settings file that hands them to function nodes, percentiles.
const path = require('path');
const { writeSettings } = require('../test/support/nodered');

// The official client's v3 packages, installed by bench/package.json at the repository root.
const natsjsModule = (name) => require.resolve(`@nats-io/${name}`, { paths: [path.join(__dirname, '..', '..', 'bench')] });

function settingsFile(userDir) {
  // The nats.js modules reach function nodes through the global context, as a user would set them up.
  writeSettings(userDir, `  functionGlobalContext: {
    natsjs: require(${JSON.stringify(natsjsModule('transport-node'))}),
    natsjsJetstream: require(${JSON.stringify(natsjsModule('jetstream'))}),
  },
`);
}

/// The p-quantile (0..1) of an ascending array.
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];

module.exports = { natsjsModule, settingsFile, pct };
