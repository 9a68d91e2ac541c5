// SPDX-License-Identifier: MIT
// A WebSocket server on Node's `ws` (Debian's node-ws 8.11), for test_interop: the daemon
// against a stack nobody here wrote.
//
//     NODE_PATH=/usr/share/nodejs node interop_ws_server.js [--deflate default|off|small]
//
// `--deflate default` accepts permessage-deflate and compresses every message (threshold
// 0; ws's own default leaves those under 1 KiB alone); `small` adds no context takeover and
// 9-bit windows on both sides; `off` declines it.
//
// It speaks the same JSON lines as interop_websockets_server.py (its docstring has the
// commands and events). Here a text message's pieces may split a UTF-8 character: ws sends
// each piece's bytes as they are.
'use strict';

const readline = require('readline');
const { WebSocketServer } = require('ws');

const PONG_WAIT_MS = 5000;

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function deflateOptions(mode) {
  if (mode === 'off') return false;
  const options = { threshold: 0 };
  if (mode === 'small') {
    Object.assign(options, {
      serverNoContextTakeover: true, clientNoContextTakeover: true,
      serverMaxWindowBits: 9, clientMaxWindowBits: 9,
    });
  }
  return options;
}

const modeAt = process.argv.indexOf('--deflate');
const mode = modeAt >= 0 ? process.argv[modeAt + 1] : 'default';
if (!['default', 'off', 'small'].includes(mode)) {
  process.stderr.write(`unknown --deflate mode ${mode}\n`);
  process.exit(2);
}

const server = new WebSocketServer({
  host: '127.0.0.1', port: 0, perMessageDeflate: deflateOptions(mode), maxPayload: 0,
});
const answeredExtensions = new WeakMap(); // request -> its Sec-WebSocket-Extensions
let current = null;
const reported = new WeakMap(); // websocket -> resolves once its "closed" event is out

server.on('listening', () => emit('listening', { port: server.address().port }));

server.on('headers', (headers, request) => {
  const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
  answeredExtensions.set(request, line ? line.slice(line.indexOf(':') + 1).trim() : '');
});

server.on('connection', (websocket, request) => {
  current = websocket;
  let closed;
  reported.set(websocket, new Promise((resolve) => { closed = resolve; }));
  emit('connected', { path: request.url, extensions: answeredExtensions.get(request) ?? '' });
  websocket.on('message', (data, isBinary) => {
    emit('received', isBinary ? { base64: data.toString('base64') } : { text: data.toString() });
  });
  // ws reports 1005 when the close frame had no code, 1006 when none came at all.
  websocket.on('close', (code, reason) => {
    const none = code === 1005 || code === 1006;
    emit('closed', { code: none ? null : code, reason: none ? null : reason.toString() });
    closed();
  });
});

function sent(websocket, data, options) {
  return new Promise((resolve, reject) => {
    websocket.send(data, options, (error) => (error ? reject(error) : resolve()));
  });
}

function pong(websocket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no pong')), PONG_WAIT_MS);
    websocket.once('pong', () => { clearTimeout(timer); resolve(); });
    websocket.ping('between fragments');
  });
}

async function fragments(websocket, command) {
  const pieces = command.pieces.map((piece) => Buffer.from(piece, 'base64'));
  const binary = command.binary ?? false;
  for (const [index, piece] of pieces.entries()) {
    await sent(websocket, piece, { binary, fin: index === pieces.length - 1 });
    if (index === command.ping_after) {
      // Control frames may go between a message's fragments (RFC 6455 5.4).
      await pong(websocket);
      emit('pong');
    }
  }
}

async function run(command) {
  const websocket = current;
  if (websocket === null || websocket.readyState !== websocket.OPEN) {
    throw new Error('no client connected');
  }
  switch (command.op) {
    case 'send':
      if ('text' in command) await sent(websocket, command.text, { binary: false });
      else await sent(websocket, Buffer.from(command.base64, 'base64'), { binary: true });
      break;
    case 'fragments':
      await fragments(websocket, command);
      break;
    case 'close':
      websocket.close(command.code, command.reason ?? '');
      await reported.get(websocket);
      break;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

// One command at a time, in order.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    let command = {};
    try {
      command = JSON.parse(line);
      await run(command);
      emit('ok', { op: command.op });
    } catch (error) {
      emit('error', { op: command.op ?? null, message: String(error) });
    }
  });
}).on('close', () => process.exit(0));
