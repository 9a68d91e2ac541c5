# SPDX-License-Identifier: MIT
"""The bundled server's ids, history and resume (--ids, --history, --resume), checked with a
plain WebSocket client: what the daemon's resume support is written and tested against."""

import base64
import json
import os
import socket
import struct
import time
import unittest

import harness

GREETING = "来自后台的反馈:连接成功"


class RawClient:
    """A minimal WebSocket client on a blocking socket: text frames in and out, nothing else.

    The python3-websockets module is not there for every python3 the tests run under."""

    def __init__(self, port, path="/websocket/u1", headers=(), timeout=harness.DEFAULT_WAIT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                   "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                   "Sec-WebSocket-Version: 13", *headers]
        self.sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"upgrade refused: {head!r}")

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise AssertionError("the server closed the connection")
        self.buffer += data

    def _take(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        """The next text message's bytes (pings are answered, other frames are errors)."""
        while True:
            first, second = self._take(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._take(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._take(8))[0]
            payload = self._take(length)
            opcode = first & 0x0F
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode != 0x1 or not first & 0x80:
                raise AssertionError(f"unexpected frame: opcode {opcode}, {payload[:60]!r}")
            return payload

    def receive_pushed(self, count):
        """The next `count` pushed messages as bytes, skipping the greeting."""
        messages = []
        while len(messages) < count:
            payload = self.receive()
            if payload.decode() != GREETING:
                messages.append(payload)
        return messages

    def nothing_more(self, wait=0.3):
        """True if nothing arrives within `wait` seconds (what does is kept)."""
        if self.buffer:
            return False
        self.sock.settimeout(wait)
        try:
            self.buffer += self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        return False

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self._send(0x1, text.encode())

    def close(self):
        self.sock.close()


def decoded(messages):
    return [json.loads(message) for message in messages]


def ids(messages):
    return [message["id"] for message in decoded(messages)]


class ResumeTest(unittest.TestCase):
    def server(self, *args):
        server = harness.TestServer(*args)
        self.addCleanup(server.stop)
        return server

    def client(self, server, path="/websocket/u1", headers=()):
        client = RawClient(server.port, path, headers)
        self.addCleanup(client.close)
        return client

    def push(self, server, count, size=100, stamp=True):
        server.command(f"push {count} {size} 0" + (" stamp" if stamp else ""))
        server.wait_for(f"pushed {count}")

    def send_line(self, server, line):
        """A command whose answer the caller awaits itself."""
        server.process.stdin.write((line + "\n").encode())
        server.process.stdin.flush()

    def history(self, server):
        self.send_line(server, "history")
        return server.wait_for("history ")

    def drop(self, server, client):
        client.close()
        server.wait_for("disconnected")

    def check_resume(self, server, reconnect, hello=None):
        """A watcher connected all along and a client that goes away and comes back with the
        id it had last (`reconnect(last_id)` connects it): the client gets exactly what it
        missed, byte for byte what the watcher got, then live messages. `hello`: what the
        watcher sends first."""
        watcher = self.client(server, "/websocket/watcher")
        if hello:
            watcher.send_text(hello)
        server.wait_for("connected watcher")
        first = reconnect(None)
        server.wait_for("connected u1")
        self.push(server, 5)
        seen = watcher.receive_pushed(5)
        got = first.receive_pushed(5)
        self.assertEqual(got, seen)
        self.assertEqual(ids(got), [f"m-{k}" for k in range(1, 6)])
        self.drop(server, first)

        self.push(server, 7)
        missed = watcher.receive_pushed(7)
        self.assertEqual(self.history(server), "history first=m-1 last=m-12 count=12")

        again = reconnect("m-5")
        server.wait_for("connected u1")
        server.wait_for("resumed u1 from m-5: 7 messages")
        self.assertEqual(again.receive_pushed(7), missed)
        self.push(server, 3)
        live = watcher.receive_pushed(3)
        self.assertEqual(again.receive_pushed(3), live)
        self.assertEqual(ids(live), ["m-13", "m-14", "m-15"])
        self.assertTrue(again.nothing_more())

    def test_layout(self):
        """id, seq and n ahead of the rest; SIZE bytes exactly; nothing new without --ids."""
        server = self.server("--ids")
        client = self.client(server)
        server.wait_for("connected u1")
        server.command("push 2 100 0")
        server.command("push 1 120 0 stamp")
        messages = client.receive_pushed(3)
        self.assertEqual([len(message) for message in messages], [100, 100, 120])
        self.assertTrue(messages[0].startswith(b'{"id":"m-1","seq":1,"n":1,"pad":"xx'))
        self.assertTrue(messages[1].startswith(b'{"id":"m-2","seq":2,"n":2,"pad":"xx'))
        self.assertRegex(messages[2], rb'^\{"id":"m-3","seq":3,"n":3,"t":\d{19},"pad":"x+"\}$')
        self.send_line(server, "push 1 60 0")
        server.wait_for("error push: SIZE must be 62..")

        plain = self.server()
        client = self.client(plain)
        plain.wait_for("connected u1")
        plain.command("push 1 32 0")
        self.assertEqual(client.receive_pushed(1), [b'{"n":1,"pad":"' + b"x" * 16 + b'"}'])
        for command in ("history", "skip 1", "restart-seq"):
            self.send_line(plain, command)
            plain.wait_for(f"error {command.split()[0]}: needs --ids")

    def test_id_prefix(self):
        server = self.server("--id-prefix", "run2.", "--resume", "query:since")
        client = self.client(server)
        server.wait_for("live u1")
        server.command("push 1 100 0")
        self.assertTrue(client.receive_pushed(1)[0].startswith(b'{"id":"run2.1","seq":1,'))

    def test_query(self):
        server = self.server("--resume", "query:since")
        self.check_resume(server, lambda last: self.client(
            server, "/websocket/u1" + ("" if last is None else f"?x=1&since={last}")))

    def test_header(self):
        server = self.server("--resume", "header:Last-Event-ID")
        self.check_resume(server, lambda last: self.client(
            server, headers=() if last is None else (f"Last-Event-ID: {last}",)))

    def test_message(self):
        server = self.server("--resume", "message", "--resume-wait", "60000")

        def reconnect(last):
            client = self.client(server)
            client.send_text(json.dumps({"op": "resume", "id": last}))
            return client

        self.check_resume(server, reconnect, hello='{"op":"resume"}')

    def test_message_holds_pushes_until_it_comes(self):
        """Messages published between the connect and the resume request go out after the
        replay, each once."""
        server = self.server("--resume", "message", "--resume-wait", "60000")
        client = self.client(server)
        client.send_text('{"op":"resume","id":null}')
        server.wait_for("live u1")
        self.push(server, 3)
        self.assertEqual(ids(client.receive_pushed(3)), ["m-1", "m-2", "m-3"])
        self.drop(server, client)
        self.push(server, 2)

        client = self.client(server)
        server.wait_for("connected u1")
        self.push(server, 2)  # held: the client has not said where it is
        self.assertEqual(client.receive().decode(), GREETING)
        self.assertTrue(client.nothing_more())
        client.send_text('{ "op" : "resume", "id" : "m-3", "extra": [1, {"a": null}] }')
        server.wait_for("resumed u1 from m-3: 2 messages")
        self.assertEqual(ids(client.receive_pushed(4)), ["m-4", "m-5", "m-6", "m-7"])
        client.send_text('{"sendType":"HEALTH"}')
        self.assertEqual(client.receive(), b"SUCCESS")

    def test_message_wait_is_bounded(self):
        server = self.server("--resume", "message", "--resume-wait", "500")
        self.push(server, 2)
        client = self.client(server)
        started = time.monotonic()
        server.wait_for("connected u1")
        self.push(server, 1)
        # The wait may be over before the push is.
        if "live u1" not in server.out.seen:
            server.wait_for("live u1")
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.assertEqual(ids(client.receive_pushed(1)), ["m-3"])

    def test_message_other_first_message_goes_live(self):
        server = self.server("--resume", "message", "--resume-wait", "60000")
        client = self.client(server)
        server.wait_for("connected u1")
        self.push(server, 1)
        client.send_text("hello")
        server.wait_for("live u1")
        server.wait_for("received hello")
        self.assertEqual(ids(client.receive_pushed(1)), ["m-1"])

    def test_unknown_id(self):
        """An id older than the history, or none of the server's: the whole history."""
        server = self.server("--resume", "query:since", "--history", "5")
        self.push(server, 20, stamp=False)
        self.assertEqual(self.history(server), "history first=m-16 last=m-20 count=5")
        for since, seen in (("m-3", "m-3"), ("bogus%20id", "bogus id"), ("m-99", "m-99")):
            with self.subTest(since=since):
                client = self.client(server, f"/websocket/u1?since={since}")
                server.wait_for(f"unknown-id u1 {seen} first=m-16")
                server.wait_for(f"resumed u1 from {seen}: 5 messages")
                self.assertEqual(ids(client.receive_pushed(5)),
                                 [f"m-{k}" for k in range(16, 21)])
                self.drop(server, client)
        # The message just before the history: nothing was lost.
        client = self.client(server, "/websocket/u1?since=m-15")
        server.wait_for("resumed u1 from m-15: 5 messages")
        client = self.client(server, "/websocket/u2?since=m-20")
        server.wait_for("resumed u2 from m-20: 0 messages")
        client = self.client(server, "/websocket/u3?since=")
        server.wait_for("live u3")

    def test_skip_and_restart_seq(self):
        server = self.server("--ids")
        client = self.client(server)
        server.wait_for("connected u1")
        self.push(server, 2)
        server.command("skip 3")
        self.push(server, 2)
        server.command("restart-seq")
        self.push(server, 2)
        server.command("restart-seq 100")
        self.push(server, 1)
        messages = decoded(client.receive_pushed(7))
        self.assertEqual([m["seq"] for m in messages], [1, 2, 6, 7, 1, 2, 100])
        self.assertEqual([m["n"] for m in messages], list(range(1, 8)))
        self.assertEqual([m["id"] for m in messages], [f"m-{k}" for k in range(1, 8)])
        self.send_line(server, "skip 0")
        server.wait_for("error skip: usage")

    def test_stream_goes_on_without_clients(self):
        """--count with --ids: one stream from the first connect on, clients or not; a client
        back with its last id gets it whole, without a gap or a message twice."""
        server = self.server("--resume", "query:since", "--count", "0", "--rate", "200",
                             "--size", "80")
        client = self.client(server)
        server.wait_for("live u1")
        before = decoded(client.receive_pushed(10))
        self.drop(server, client)
        last = before[-1]["n"]
        harness.wait_until(lambda: int(self.history(server).split()[2].split("-")[-1])
                           >= last + 50, "50 messages published without a client")
        client = self.client(server, f"/websocket/u1?since=m-{last}")
        line = server.wait_for("resumed u1 from ")
        replayed = int(line.split(": ")[1].split()[0])
        self.assertGreaterEqual(replayed, 50)
        after = decoded(client.receive_pushed(replayed + 20))
        self.assertEqual([m["n"] for m in before + after],
                         list(range(before[0]["n"], last + replayed + 21)))
        self.assertEqual([m["seq"] for m in after], [m["n"] for m in after])


if __name__ == "__main__":
    unittest.main()
