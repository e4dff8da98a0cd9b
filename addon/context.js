'use strict';
// Node-RED context store on NATS KV: contextStorage: { cluster: { module: require('@nats-cluster/node-red-cluster/context'), config: {...} } }
module.exports = require('./lib/context-store');
