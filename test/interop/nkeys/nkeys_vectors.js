#!/usr/bin/env node
// Produces NKey test vectors with the official nkeys.js library, one per line, tab-separated:
//   <seed> <public key> <nonce> <base64url (no padding) Ed25519 signature of the nonce bytes>
// Usage:
//   node nkeys_vectors.js [count]      fresh random key pairs of every Ed25519 kind, `count` per kind
//   node nkeys_vectors.js --from FILE  FILE holds "<seed>\t<nonce>" lines made by another implementation;
//                                      nkeys.js decodes each seed and prints the full vector line
// nkeys.js is found through NODE_PATH or the usual module resolution.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const nkeys = require('nkeys.js');

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64url(bytes) {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function line(kp, nonce) {
  return [dec.decode(kp.getSeed()), kp.getPublicKey(), nonce, b64url(kp.sign(enc.encode(nonce)))].join('\t');
}

// Nonces like the server's (base64url-ish, ~22 chars) plus a few odd lengths and characters.
function randomNonce(i) {
  const lengths = [22, 11, 1, 64, 100];
  return crypto.randomBytes(lengths[i % lengths.length]).toString('base64url').slice(0, lengths[i % lengths.length]);
}

const args = process.argv.slice(2);
const out = [];
if (args[0] === '--from') {
  for (const row of fs.readFileSync(args[1], 'utf8').split('\n')) {
    if (!row.trim()) continue;
    const [seed, nonce] = row.split('\t');
    out.push(line(nkeys.fromSeed(enc.encode(seed)), nonce));
  }
} else {
  const count = Number(args[0] || 2);
  const makers = [nkeys.createUser, nkeys.createAccount, nkeys.createOperator, nkeys.createServer, nkeys.createCluster];
  let i = 0;
  for (const make of makers) {
    for (let n = 0; n < count; ++n, ++i) out.push(line(make(), randomNonce(i)));
  }
}
process.stdout.write(out.join('\n') + '\n');
