// SPDX-License-Identifier: MIT
/*
 * The peer a Node.js user would write instead of wspushd: the same job as wspush_peer.py, on
 * ws (Debian's node-ws, 8.11), for bench/run to measure next to the daemon.
 *
 *     NODE_PATH=/usr/share/nodejs node bench/peers/node/wspush_peer.js
 *         --url ws://127.0.0.1:PORT/websocket/ID [--file PATH] [--socket PATH]
 *         [--heartbeat-interval SECONDS]
 *
 * What it does, as the Python peer and wspushd do it (PRODUCT.md):
 * - keeps one connection, sends the heartbeat {"sendType":"HEALTH"} on open and every
 *   interval, pings every 20 s and gives the link up after 60 s without a pong (ws answers
 *   pings but sends none itself), reconnects with exponential backoff and jitter;
 * - drops the two protocol replies ("SUCCESS" and the greeting);
 * - turns every other message into a record, {"seq":N,"ts":"…Z","data":…} (data: the
 *   compact JSON value when the text is JSON, else the text as a string; binary frames as
 *   base64 with "binary":true), one line each;
 * - appends the records to --file, and writes them to every client of the Unix socket
 *   --socket, which also answers {"op":"status"} with a status event and cuts off a client
 *   more than 4 MiB behind.
 *
 * It is written the way a careful user would write it, not tuned beyond that: JSON.parse and
 * JSON.stringify, streams for the file and the clients, corked while a batch of messages is
 * handled (one write per stream per batch), the connection paused while the file catches up.
 */
'use strict';

const fs = require('fs');
const net = require('net');
const readline = require('readline');
const { parseArgs } = require('util');
const WebSocket = require('ws');

const HEARTBEAT = '{"sendType":"HEALTH"}';
const DROP = new Set(['SUCCESS', '来自后台的反馈:连接成功']);
const MAX_QUEUE = 4 * 1024 * 1024;
const PING_INTERVAL_MS = 20_000;
const PONG_WAIT_MS = 60_000;

// Microseconds, as wspushd and the other peers write them (a Date holds milliseconds).
function utcTimestamp() {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const milliseconds = new Date(Math.floor(us / 1000)).toISOString().slice(0, -1);
  return `${milliseconds}${String(us % 1000).padStart(3, '0')}Z`;
}

// A message (a string, or a Buffer when binary) as one record line, in wspushd's format.
function recordLine(seq, message, isBinary) {
  const record = { seq, ts: utcTimestamp(), data: null };
  if (isBinary) {
    record.data = message.toString('base64');
    record.binary = true;
  } else {
    try {
      record.data = JSON.parse(message);
    } catch {
      record.data = message;
    }
  }
  return JSON.stringify(record) + '\n';
}

// Writes text to stream, corked until the messages received together are all handled (the
// batching that the Node documentation recommends for writable.cork()).
function batchedWrite(stream, text) {
  if (!stream.writableCorked) {
    stream.cork();
    process.nextTick(() => stream.uncork());
  }
  return stream.write(text);
}

class Peer {
  constructor(options) {
    this.options = options;
    this.seq = 0;
    this.clients = new Set();
    this.websocket = null;
    this.connected = false;
    this.delay = 1000;
    this.file = null;
    if (options.file) {
      this.file = fs.createWriteStream(options.file, { flags: 'a' });
      this.file.on('error', (error) => console.error(`wspush_peer: ${error.message}`));
      this.file.on('drain', () => this.websocket?.resume());
    }
  }

  // --- the Unix socket ------------------------------------------------------------------------

  serveClient(socket) {
    this.clients.add(socket);
    socket.on('error', () => {}); // a client that went away: 'close' follows
    socket.on('close', () => this.clients.delete(socket));
    readline.createInterface({ input: socket, crlfDelay: Infinity }).on('line', (line) => {
      let request = null;
      try {
        request = JSON.parse(line);
      } catch {
        // answered below
      }
      if (request?.op === 'status') {
        const status = {
          event: 'status',
          state: this.connected ? 'connected' : 'disconnected',
          received: this.seq,
          subscribers: this.clients.size,
        };
        socket.write(JSON.stringify(status) + '\n');
      } else {
        socket.write('{"event":"error","message":"unknown request"}\n');
      }
    });
  }

  broadcast(line) {
    for (const socket of this.clients) {
      if (socket.writableLength > MAX_QUEUE) {
        this.clients.delete(socket);
        socket.end('{"event":"error","message":"too slow: disconnected"}\n');
      } else {
        batchedWrite(socket, line);
      }
    }
  }

  event(name, fields) {
    this.broadcast(JSON.stringify({ event: name, ...fields }) + '\n');
  }

  // --- the connection -------------------------------------------------------------------------

  deliver(data, isBinary) {
    const message = isBinary ? data : data.toString();
    if (!isBinary && DROP.has(message)) {
      return;
    }
    this.seq += 1;
    const line = recordLine(this.seq, message, isBinary);
    if (this.file && !batchedWrite(this.file, line)) {
      this.websocket.pause();
    }
    if (this.clients.size > 0) {
      this.broadcast(line);
    }
  }

  connect() {
    const url = this.options.url;
    const websocket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 20 });
    this.websocket = websocket;
    let reason = null;
    let timers = [];
    let lastPong = Date.now();
    websocket.on('open', () => {
      console.error('connected');
      this.connected = true;
      this.delay = 1000;
      this.event('connected', { server: url });
      websocket.send(HEARTBEAT);
      timers = [
        setInterval(() => websocket.send(HEARTBEAT), this.options.heartbeatInterval * 1000),
        setInterval(() => {
          if (Date.now() - lastPong > PONG_WAIT_MS) {
            reason = 'no pong';
            websocket.terminate();
          } else {
            websocket.ping();
          }
        }, PING_INTERVAL_MS),
      ];
    });
    websocket.on('pong', () => {
      lastPong = Date.now();
    });
    websocket.on('message', (message, isBinary) => this.deliver(message, isBinary));
    websocket.on('error', (error) => {
      reason ??= error.message;
    });
    websocket.on('close', () => {
      timers.forEach(clearInterval);
      reason ??= 'closed by the server';
      if (this.connected) {
        this.connected = false;
        this.event('disconnected', { reason });
      }
      const wait = this.delay * (0.8 + 0.4 * Math.random());
      console.error(`reconnecting in ${(wait / 1000).toFixed(1)} s: ${reason}`);
      setTimeout(() => this.connect(), wait);
      this.delay = Math.min(this.delay * 2, 60_000);
    });
  }

  run() {
    if (this.options.socket) {
      fs.rmSync(this.options.socket, { force: true });
      net.createServer((socket) => this.serveClient(socket)).listen(this.options.socket);
    }
    this.connect();
  }
}

function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      file: { type: 'string' },
      socket: { type: 'string' },
      'heartbeat-interval': { type: 'string', default: '30' },
    },
  });
  const heartbeatInterval = Number(values['heartbeat-interval']);
  if (!values.url || !(heartbeatInterval > 0)) {
    console.error('usage: wspush_peer.js --url URL [--file PATH] [--socket PATH] '
      + '[--heartbeat-interval SECONDS]');
    return 2;
  }
  new Peer({ ...values, heartbeatInterval }).run();
  return 0;
}

process.exitCode = main();
