# SPDX-License-Identifier: MIT
"""A WebSocket server on Python's `websockets` (Debian's python3-websockets 10.4), for
test_interop: the daemon against a stack nobody here wrote.

Run by Debian's /usr/bin/python3 (the package installs for that interpreter only):

    /usr/bin/python3 interop_websockets_server.py [--deflate default|off|small]

`--deflate small` accepts permessage-deflate with no context takeover and 9-bit windows on
both sides; `default` is what `websockets.serve` does unless told otherwise.

It speaks the same JSON lines as interop_ws_server.js. Commands on stdin act on the latest
connection, one at a time, each answered by {"event":"ok","op":OP} once done (or
{"event":"error",...}):
    {"op":"send","text":T}  or  {"op":"send","base64":B}   one message in one frame
    {"op":"fragments","pieces":[B64,...],"binary":BOOL,"ping_after":I}
        one message, a frame per piece; with ping_after, a ping goes out after piece I and
        the next piece only once its pong came back (a text message's pieces must each be
        whole UTF-8 characters here: websockets sends str fragments)
    {"op":"close","code":C,"reason":R}   a close frame; answered once the connection ended
Events on stdout:
    {"event":"listening","port":P}
    {"event":"connected","path":P,"extensions":EXT}   the Sec-WebSocket-Extensions answered
    {"event":"received","text":T}  or  {"event":"received","base64":B}
    {"event":"pong"}
    {"event":"closed","code":C,"reason":R}   what the client's close frame said; code null
                                             when it sent none
"""

import argparse
import asyncio
import base64
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

PONG_WAIT = 5.0


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Server:
    def __init__(self):
        self.current = None
        self.reported = {}  # websocket -> set once its "closed" event is out

    async def handle(self, websocket):
        self.current = websocket
        self.reported[websocket] = asyncio.Event()
        emit("connected", path=websocket.path,
             extensions=websocket.response_headers.get("Sec-WebSocket-Extensions", ""))
        try:
            async for message in websocket:
                if isinstance(message, str):
                    emit("received", text=message)
                else:
                    emit("received", base64=base64.b64encode(message).decode())
        except websockets.ConnectionClosed:
            pass
        await websocket.wait_closed()
        received = websocket.close_rcvd
        emit("closed", code=received.code if received else None,
             reason=received.reason if received else None)
        self.reported.pop(websocket).set()

    async def fragments(self, websocket, command):
        pieces = [base64.b64decode(piece) for piece in command["pieces"]]
        if not command.get("binary", False):
            pieces = [piece.decode("utf-8") for piece in pieces]
        ping_after = command.get("ping_after")

        async def frames():
            for index, piece in enumerate(pieces):
                yield piece
                if index == ping_after:
                    # Control frames may go between a message's fragments (RFC 6455 5.4).
                    waiter = await websocket.ping(b"between fragments")
                    await asyncio.wait_for(waiter, PONG_WAIT)
                    emit("pong")

        await websocket.send(frames())

    async def run(self, command):
        websocket = self.current
        if websocket is None or websocket.closed:
            raise RuntimeError("no client connected")
        op = command["op"]
        if op == "send":
            if "text" in command:
                await websocket.send(command["text"])
            else:
                await websocket.send(base64.b64decode(command["base64"]))
        elif op == "fragments":
            await self.fragments(websocket, command)
        elif op == "close":
            # Returns once the client answered with its close frame, or close_timeout passed.
            reported = self.reported.get(websocket)
            await websocket.close(command["code"], command.get("reason", ""))
            if reported is not None:
                await reported.wait()
        else:
            raise RuntimeError(f"unknown op {op!r}")

    async def commands(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = {}
            try:
                command = json.loads(line)
                await self.run(command)
                emit("ok", op=command["op"])
            except Exception as error:  # reported to the test, which fails on it
                emit("error", op=command.get("op"), message=f"{type(error).__name__}: {error}")


def extensions(deflate):
    if deflate == "small":
        return [ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=9, client_max_window_bits=9)]
    return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deflate", choices=("default", "off", "small"), default="default")
    args = parser.parse_args()
    server = Server()
    async with websockets.serve(
            server.handle, "127.0.0.1", 0, ping_interval=None, max_size=None, close_timeout=5,
            compression=None if args.deflate != "default" else "deflate",
            extensions=extensions(args.deflate)) as listener:
        emit("listening", port=listener.sockets[0].getsockname()[1])
        await server.commands()


if __name__ == "__main__":
    asyncio.run(main())
