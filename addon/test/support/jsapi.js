'use strict';
// A tiny raw-protocol NATS request, enough to ask the JetStream API questions in tests (no client library).
const net = require('net');

function request(server, user, pass, subject, body = '', timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const inbox = `_INBOX.test${Date.now()}${Math.random().toString(36).slice(2)}`;
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no reply to ${subject}`)); }, timeoutMs);
    const done = (v, e) => { clearTimeout(timer); sock.destroy(); if (e) reject(e); else resolve(v); };
    sock.on('error', (e) => done(null, e));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.slice(0, eol).toString();
        if (line.startsWith('INFO')) {
          const connect = { verbose: false, pedantic: false, user, pass, headers: false };
          sock.write(`CONNECT ${JSON.stringify(connect)}\r\nSUB ${inbox} 1\r\nPUB ${subject} ${inbox} ${Buffer.byteLength(body)}\r\n${body}\r\n`);
          buf = buf.slice(eol + 2);
        } else if (line.startsWith('MSG')) {
          const size = Number(line.split(' ').pop());
          if (buf.length < eol + 2 + size + 2) return;
          return done(JSON.parse(buf.slice(eol + 2, eol + 2 + size).toString()));
        } else if (line.startsWith('-ERR')) {
          return done(null, new Error(line));
        } else if (line.startsWith('PING')) {
          sock.write('PONG\r\n');
          buf = buf.slice(eol + 2);
        } else {
          buf = buf.slice(eol + 2);
        }
      }
    });
  });
}

async function consumerNames(server, user, pass, stream) {
  const r = await request(server, user, pass, `$JS.API.CONSUMER.NAMES.${stream}`, '{}');
  return r.consumers || [];
}

module.exports = { request, consumerNames };
