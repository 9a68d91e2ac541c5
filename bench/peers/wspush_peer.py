#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The peer a user would write instead of wspushd: the same job in Python with Debian's
python3-websockets (10.4), for bench/run to measure next to the daemon.

    /usr/bin/python3 bench/peers/wspush_peer.py --url ws://127.0.0.1:PORT/websocket/ID
        [--file PATH] [--socket PATH] [--heartbeat-interval SECONDS]

What it does, as wspushd does it (PRODUCT.md):
- keeps one connection, sends the heartbeat {"sendType":"HEALTH"} on open and every
  interval, lets websockets ping, reconnects with exponential backoff and jitter;
- drops the two protocol replies ("SUCCESS" and the greeting);
- turns every other message into a record, {"seq":N,"ts":"…Z","data":…} (data: the
  compact JSON value when the text is JSON, else the text as a string; binary frames as
  base64 with "binary":true), one line each;
- appends the records to --file (one write per batch of records received together), and
  writes them to every client of the Unix socket --socket, which also answers
  {"op":"status"} with a status event and cuts off a client more than 4 MiB behind.

It is written the way a careful user would write it, not tuned beyond that: asyncio, the
standard json module, buffered file writes flushed once per loop iteration.
"""

import argparse
import asyncio
import base64
import datetime
import json
import os
import random
import sys

import websockets

HEARTBEAT = '{"sendType":"HEALTH"}'
DROP = {"SUCCESS", "来自后台的反馈:连接成功"}
MAX_QUEUE = 4 * 1024 * 1024
COMPACT = {"ensure_ascii": False, "separators": (",", ":")}


def utc_timestamp():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_line(seq, message):
    """A message as one record line, in wspushd's format."""
    if isinstance(message, bytes):
        data = '"' + base64.b64encode(message).decode("ascii") + '","binary":true'
    else:
        try:
            data = json.dumps(json.loads(message), **COMPACT)
        except ValueError:
            data = json.dumps(message, **COMPACT)
    return f'{{"seq":{seq},"ts":"{utc_timestamp()}","data":{data}}}\n'.encode()


class Peer:
    def __init__(self, args):
        self.args = args
        self.seq = 0
        self.clients = set()
        self.connected = False
        self.file = open(args.file, "ab") if args.file else None
        self.flush_pending = False

    # --- the Unix socket -------------------------------------------------------------------

    async def serve_client(self, reader, writer):
        self.clients.add(writer)
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                except ValueError:
                    request = None
                if isinstance(request, dict) and request.get("op") == "status":
                    status = {"event": "status",
                              "state": "connected" if self.connected else "disconnected",
                              "received": self.seq, "subscribers": len(self.clients)}
                    writer.write((json.dumps(status, **COMPACT) + "\n").encode())
                else:
                    writer.write(b'{"event":"error","message":"unknown request"}\n')
        except ConnectionError:
            pass
        finally:
            self.clients.discard(writer)
            writer.close()

    def broadcast(self, line):
        for writer in list(self.clients):
            if writer.transport.get_write_buffer_size() > MAX_QUEUE:
                self.clients.discard(writer)
                writer.write(b'{"event":"error","message":"too slow: disconnected"}\n')
                writer.close()
            else:
                writer.write(line)

    def event(self, name, **fields):
        self.broadcast((json.dumps({"event": name, **fields}, **COMPACT) + "\n").encode())

    # --- the file --------------------------------------------------------------------------

    def append(self, line):
        self.file.write(line)
        if not self.flush_pending:
            self.flush_pending = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self):
        self.flush_pending = False
        try:
            self.file.flush()
        except OSError as error:
            print(f"wspush_peer: {self.args.file}: {error}", file=sys.stderr)

    # --- the connection --------------------------------------------------------------------

    def deliver(self, message):
        if isinstance(message, str) and message in DROP:
            return
        self.seq += 1
        line = record_line(self.seq, message)
        if self.file:
            self.append(line)
        if self.clients:
            self.broadcast(line)

    async def heartbeat(self, websocket):
        while True:
            await websocket.send(HEARTBEAT)
            await asyncio.sleep(self.args.heartbeat_interval)

    async def run(self):
        if self.args.socket:
            if os.path.exists(self.args.socket):
                os.unlink(self.args.socket)
            await asyncio.start_unix_server(self.serve_client, path=self.args.socket)
        delay = 1.0
        while True:
            try:
                async with websockets.connect(self.args.url, ping_interval=20, ping_timeout=60,
                                              max_size=1 << 20, compression=None) as websocket:
                    print("connected", file=sys.stderr, flush=True)
                    self.connected = True
                    self.event("connected", server=self.args.url)
                    delay = 1.0
                    beat = asyncio.create_task(self.heartbeat(websocket))
                    try:
                        async for message in websocket:
                            self.deliver(message)
                    finally:
                        beat.cancel()
            except (OSError, websockets.WebSocketException) as error:
                reason = str(error) or type(error).__name__
            else:
                reason = "closed by the server"
            if self.connected:
                self.connected = False
                self.event("disconnected", reason=reason)
            wait = delay * random.uniform(0.8, 1.2)
            print(f"reconnecting in {wait:.1f} s: {reason}", file=sys.stderr, flush=True)
            await asyncio.sleep(wait)
            delay = min(delay * 2, 60.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--file", help="append the records to this file")
    parser.add_argument("--socket", help="serve the records on this Unix socket")
    parser.add_argument("--heartbeat-interval", type=float, default=30.0)
    args = parser.parse_args()
    try:
        asyncio.run(Peer(args).run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
