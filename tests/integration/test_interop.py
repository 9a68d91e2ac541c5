# SPDX-License-Identifier: MIT
"""The real daemon against WebSocket servers nobody here wrote: Python's websockets
(python3-websockets 10.4) and Node's ws (node-ws 8.11), on loopback.

Each stack runs the same checks: fragmented messages (text, binary, a ping between
fragments), permessage-deflate (negotiated, context takeover, a 1 MiB message, and a server
that allows neither context takeover nor more than 9-bit windows), close codes logged as
sent and followed by a reconnect, and the heartbeat going up and coming back.
"""

import base64
import json
import os
import random
import subprocess

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's interpreter: python3-websockets is installed for it, not for a pyenv python3.
PYTHON = "/usr/bin/python3"
# Where Debian's node-ws is installed; node does not look there unless told.
NODE_PATH = "/usr/share/nodejs"

HEARTBEAT = '{"sendType":"HEALTH"}'  # the daemon's default heartbeat.message
MIB = 1024 * 1024


def pieces(data, cuts):
    """`data` (bytes) cut at the offsets `cuts`, each piece base64 for the server."""
    bounds = [0, *cuts, len(data)]
    return [base64.b64encode(data[start:end]).decode() for start, end in zip(bounds, bounds[1:])]


class InteropServer:
    """One of the interop_*_server scripts, driven by JSON lines on stdin and stdout."""

    def __init__(self, name, command, env=None):
        self.name = name
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=None if env is None else {**os.environ, **env})
        self.out = harness.LineReader(self.process.stdout, name)
        self.port = self.wait_event("listening")["port"]

    def url(self, user="u1"):
        return f"ws://127.0.0.1:{self.port}/websocket/{user}"

    def mark(self):
        """A position in the events: wait_event(since=mark) finds only later ones."""
        self.out.drain()
        return len(self.out.seen)

    def wait_event(self, name, since=None, timeout=harness.DEFAULT_WAIT, **fields):
        """The first event `name` with these fields after `since` (default: the next new
        one); waits for it if it has not come yet."""
        def matches(line):
            event = json.loads(line)
            return event["event"] == name and all(event.get(k) == v for k, v in fields.items())

        if since is not None:
            self.out.drain()
            for line in self.out.seen[since:]:
                if matches(line):
                    return json.loads(line)
        return json.loads(self.out.wait_for(matches, timeout, f"{name} {fields or ''}"))

    def command(self, op, timeout=harness.DEFAULT_WAIT, **fields):
        """Runs one command to its end; returns the events that came meanwhile."""
        start = self.mark()
        self.process.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
        self.process.stdin.flush()
        line = self.out.wait_for(lambda l: json.loads(l)["event"] in ("ok", "error"),
                                 timeout, f"the end of {op}")
        done = json.loads(line)
        if done["event"] == "error":
            raise AssertionError(f"{self.name}: {op} failed: {done['message']}")
        return [json.loads(line) for line in self.out.seen[start:]]

    def send(self, text):
        self.command("send", text=text)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=harness.DEFAULT_WAIT)
        self.process.stdin.close()
        self.out.thread.join(harness.DEFAULT_WAIT)
        if not self.out.thread.is_alive():
            self.process.stdout.close()


class InteropTests:
    """The checks every stack runs; a subclass names the server (COMMAND, ENV) and whether
    it can cut a text message inside a UTF-8 character (SPLITS_CHARACTERS)."""

    COMMAND = ()
    ENV = None
    SPLITS_CHARACTERS = False

    def start(self, deflate="default", **config):
        server = InteropServer(type(self).__name__, [*self.COMMAND, "--deflate", deflate],
                               self.ENV)
        self.addCleanup(server.stop)
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, **config))
        connected = server.wait_event("connected", since=0)
        self.assertEqual(connected["path"], "/websocket/u1")
        daemon.log.wait_for_text("connected to ")
        return server, daemon, connected

    def test_fragmented_messages_arrive_whole_and_a_ping_between_fragments_is_answered(self):
        # The daemon offers no compression unless told, so none is negotiated.
        server, _, connected = self.start()
        self.assertEqual(connected["extensions"], "")

        text = '{"type":"order","id":7,"note":"来自服务器 ✓ fragmented"}'
        encoded = text.encode()
        check_mark = encoded.index("✓".encode())
        # ws sends raw bytes, so one cut falls inside the three bytes of the check mark;
        # websockets sends str pieces, which end on a character.
        cuts = [9, check_mark + (1 if self.SPLITS_CHARACTERS else 0), len(encoded) - 3]
        events = server.command("fragments", pieces=pieces(encoded, cuts), ping_after=1)
        self.assertIn({"event": "pong"}, events)

        # A 1-byte piece, an empty one (the ping follows it), then the rest.
        binary = bytes(range(256)) * 4
        events = server.command("fragments", pieces=pieces(binary, [1, 300, 300, 1000]),
                                binary=True, ping_after=2)
        self.assertIn({"event": "pong"}, events)

        large = "".join(f"{i:05d} " for i in range(64 * 1024 // 6))
        server.command("fragments", pieces=pieces(large.encode(), range(4096, len(large), 4096)))
        server.send("end")

        records = harness.wait_records(self.sink, 4)
        self.assertEqual([r["seq"] for r in records], [1, 2, 3, 4])
        self.assertEqual(records[0]["data"], json.loads(text))
        self.assertEqual(records[1]["binary"], True)
        self.assertEqual(base64.b64decode(records[1]["data"]), binary)
        self.assertEqual(records[2]["data"], large)
        self.assertEqual(records[3]["data"], "end")
        for record in (records[0], records[2], records[3]):
            self.assertNotIn("binary", record)

    def start_compressed(self, deflate):
        """A daemon that offers compression and may send upstream through its socket."""
        socket_path = os.path.join(self.workdir, "push.sock")
        server, _, connected = self.start(
            deflate, server={"compression": "true", "max_message_size": "2MiB"},
            sinks_yaml=harness.unix_sink_yaml(socket_path, allow_send=True))
        self.assertTrue(connected["extensions"].startswith("permessage-deflate"),
                        connected["extensions"])
        return server, connected, self.unix_reader(socket_path)

    def compressed_messages_go_up(self, server, client):
        """The daemon's own compressed frames, inflated by the server: the heartbeat, then
        twice the same 16 KiB of hex digits, in which a 1000-byte block repeats and which
        ends with the 200 bytes it starts with. Returns the TCP bytes the two took.

        A deflater that ignored client_no_context_takeover would refer to the end of the
        message before, which the server's inflater no longer holds. One that ignored a
        9-bit client window (512 bytes) and referred 1000 bytes back goes unnoticed by a
        server that inflates a whole message at once, so the caller judges the size."""
        server.wait_event("received", since=0, text=HEARTBEAT)
        noise = random.Random(13)
        head, block = noise.randbytes(100).hex(), noise.randbytes(500).hex()
        text = head + block * 16 + head
        before = harness.tcp_bytes(server.port, "sent")
        for _ in range(2):
            mark = server.mark()
            client.request({"op": "send", "data": text})
            self.assertEqual(client.wait_event("sent")["bytes"], len(text))
            received = server.wait_event("received", since=mark)
            self.assertEqual(received, {"event": "received", "text": text})
        return harness.tcp_bytes(server.port, "sent") - before, len(text)

    def assert_compressed_messages_come_down(self, server):
        """Several similar messages in a row (so a server that keeps its context sends later
        ones as references to earlier ones), then 1 MiB of text, then a marker: all arrive
        as sent, and the 1 MiB crossed the wire in far fewer bytes (about 30 KiB)."""
        orders = [{"type": "order", "id": i, "items": ["apple", "pear", "plum"],
                   "note": "the same words again and again, for the dictionary"}
                  for i in range(20)]
        for order in orders:
            server.send(json.dumps(order))

        line = "a compressible line of text, the same every time but for its number "
        large = "".join(f"{line}{i:08d}\n" for i in range(MIB // (len(line) + 9) + 1))[:MIB]
        before = harness.tcp_bytes(server.port, "received")
        server.send(large)
        server.send("end")

        records = harness.wait_records(self.sink, len(orders) + 2)
        self.assertLess(harness.tcp_bytes(server.port, "received") - before, MIB // 8)
        self.assertEqual([r["seq"] for r in records], list(range(1, len(orders) + 3)))
        self.assertEqual([r["data"] for r in records[:len(orders)]], orders)
        self.assertEqual(len(records[-2]["data"]), MIB)
        self.assertEqual(records[-2]["data"], large)
        self.assertEqual(records[-1]["data"], "end")

    def test_compressed_messages_arrive_intact(self):
        server, _, client = self.start_compressed("default")
        self.assert_compressed_messages_come_down(server)
        on_the_wire, size = self.compressed_messages_go_up(server, client)
        # With the context kept and a window of 4 KiB or more, the block's repeats and
        # the second message cost next to nothing (1 to 3 KB in all).
        self.assertLess(on_the_wire, size // 2)

    def test_compression_without_context_takeover_and_with_9_bit_windows(self):
        server, connected, client = self.start_compressed("small")
        for parameter in ("server_no_context_takeover", "client_no_context_takeover",
                          "server_max_window_bits=9", "client_max_window_bits=9"):
            self.assertIn(parameter, connected["extensions"])
        self.assert_compressed_messages_come_down(server)
        on_the_wire, size = self.compressed_messages_go_up(server, client)
        # Within 512 bytes no repeat is in reach: each message is only entropy-coded (hex
        # digits: about half their size; 17 KB in all). A reference 1000 bytes back
        # would have made them a few KB.
        self.assertGreater(on_the_wire, size)
        self.assertLess(on_the_wire, size * 3 // 2)

    def test_close_codes_are_logged_as_sent_and_the_daemon_reconnects(self):
        # The code logged is the code sent. (libwebsockets 4.1 handed the daemon 1012-1015
        # as 1002; the owned connection layer passes every code through.) Short delays,
        # and a close_codes wait for 1013, which the log names.
        server, daemon, _ = self.start(
            "off", reconnect={"initial_delay": "50ms", "max_delay": "200ms",
                              "fleet_spread": "0s", "close_codes": "{1013: 300ms}"})
        closes = [(1000, "bye"), (1001, "going away"), (1011, "internal error"),
                  (1012, "service restart"), (1013, "try again later"),
                  (4000, "application code 4000"), (4999, "application code 4999")]
        for code, reason in closes:
            with self.subTest(code=code):
                mark = server.mark()
                events = server.command("close", code=code, reason=reason)
                line = daemon.log.wait_for_text("disconnected from ")
                # The daemon is back before anything is judged, so one code's failure
                # leaves the next one a connection to close.
                server.wait_event("connected", since=mark)
                daemon.log.wait_for_text("connected to ")

                expected = f"server closed the connection with code {code} ({reason})"
                if code == 1013:
                    expected += ", which asks for a wait of at least 0.3 s"
                self.assertTrue(line.endswith(": " + expected), line)
                # The daemon answered the close frame with one of its own.
                (closed,) = [e for e in events if e["event"] == "closed"]
                self.assertIsNotNone(closed["code"], closed)

    def test_the_heartbeat_goes_up_and_its_echo_comes_back(self):
        server, _, _ = self.start("off")
        heartbeat = server.wait_event("received", since=0)
        self.assertEqual(heartbeat, {"event": "received", "text": HEARTBEAT})
        server.send("SUCCESS")  # the article's reply to a heartbeat, dropped by the filter
        server.send(heartbeat["text"])
        server.send("end")
        records = harness.wait_records(self.sink, 2)
        self.assertEqual([(r["seq"], r["data"]) for r in records],
                         [(1, json.loads(HEARTBEAT)), (2, "end")])


class WebsocketsServer(InteropTests, harness.DaemonTestCase):
    """Python's websockets 10.4, asyncio."""

    COMMAND = (PYTHON, os.path.join(HERE, "interop_websockets_server.py"))


class WsServer(InteropTests, harness.DaemonTestCase):
    """Node's ws 8.11."""

    COMMAND = ("node", os.path.join(HERE, "interop_ws_server.js"))
    ENV = {"NODE_PATH": NODE_PATH}
    SPLITS_CHARACTERS = True


if __name__ == "__main__":
    harness.main()
