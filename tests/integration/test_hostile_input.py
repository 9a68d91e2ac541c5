# SPDX-License-Identifier: MIT
"""A hostile or runaway server: compressed bombs, ping floods, and more data than the sinks
can take. Each ends in a counted, logged drop, and the daemon keeps going in bounded memory."""

import os
import shutil

import harness

MIB = 1024
# ASan's redzones, quarantine and allocation stacks cost memory of their own (scripts/test
# --sanitize measured up to 34 MiB of growth where the plain build grows by 6).
SLACK = 8 if harness.SANITIZED else 1


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for process {pid}")


class HostileServer(harness.DaemonTestCase):
    def start(self, server_args=(), **config):
        server = self.server(*server_args)
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, **config))
        server.wait_for("connected ")
        daemon.log.wait_for_text("connected to ")
        return server, daemon

    def test_compressed_bomb_is_measured_after_inflation(self):
        server, daemon = self.start(
            ("--deflate", "--show-header", "Sec-WebSocket-Extensions"),
            server={"compression": "true", "max_message_size": "64KiB"})
        rss_before = harness.rss_kib(daemon.process.pid)
        received_before = harness.tcp_bytes(server.port, "received")
        server.command("oversize 16000000")
        server.command("send after the bomb")
        records = harness.wait_records(self.sink, 1)
        self.assertEqual(records[-1], {**records[-1], "seq": 1, "data": "after the bomb"})
        daemon.log.wait_for_text("dropped a message of 16000000 bytes")
        # 16 MB of JSON went over the wire as a few KiB: it really was compressed...
        self.assertLess(harness.tcp_bytes(server.port, "received") - received_before, 512 * 1024)
        # ...and never held whole.
        self.assertLess(peak_rss_kib(daemon.process.pid) - rss_before, 8 * MIB * SLACK)

    def test_compression_is_only_offered_when_configured(self):
        server = self.server("--deflate", "--show-header", "Sec-WebSocket-Extensions")
        self.daemon(harness.config_yaml(server.url(), self.sink))
        self.assertEqual(server.wait_for("header "), "header Sec-WebSocket-Extensions -")
        server.wait_for("connected ")
        server.command("send plain")
        self.assertEqual(harness.wait_records(self.sink, 1)[-1]["data"], "plain")

    def test_ping_flood_costs_no_memory_and_holds_nothing_up(self):
        server, daemon = self.start()
        rss_before = harness.rss_kib(daemon.process.pid)
        server.command("pingflood 2000000")
        server.command("send after the flood")
        self.assertEqual(harness.wait_records(self.sink, 1)[-1]["data"], "after the flood")
        # One pong for the newest ping of a read: a flood costs CPU, not memory.
        self.assertLess(peak_rss_kib(daemon.process.pid) - rss_before, 4 * MIB * SLACK)
        daemon.log.drain()
        self.assertFalse(any("disconnected" in line for line in daemon.log.seen))

    def test_a_server_faster_than_every_sink_is_held_to_the_queue_bounds(self):
        # The file cannot be written at all and the one subscriber never reads: every
        # record goes to a full queue. Memory stays within the documented bound: the sum
        # of max_queue over sinks and subscribers, the replay ring, and one message.
        socket_path = os.path.join(self.workdir, "push.sock")
        sinks = harness.unix_sink_yaml(socket_path, max_queue="1MiB", policy="drop",
                                       replay=1000)
        sinks += "  - type: file\n    path: /dev/full\n    max_queue: 1MiB\n"
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), sinks_yaml=sinks))
        server.wait_for("connected ")
        daemon.log.wait_for_text("connected to ")
        stalled = self.unix_reader(socket_path)
        stalled.status()  # taken on; from now on it reads nothing
        watcher = self.unix_reader(socket_path)  # reads all the time
        watcher.status()
        rss_before = harness.rss_kib(daemon.process.pid)

        count = 100_000
        server.command(f"push {count} 1024 0")
        server.wait_for(f"pushed {count}", timeout=60)
        server.command("send end-marker")
        watcher.wait_for(lambda line: line.get("data") == "end-marker", timeout=60,
                         what="the marker")

        status = watcher.status()
        file_sink = next(s for s in status["sinks"] if s["type"] == "file")
        # The in-memory store holds 16 MiB of records (about 7,000 of these) for the file
        # sink; it skipped, logged and counted the rest.
        self.assertGreater(file_sink["dropped"], count - 10 * 1024)
        # 100 MB went through; the queues hold 1 MiB each, the store 16 MiB.
        bound_kib = 1 * MIB + 1 * MIB + 16 * MIB + 1 * MIB + 16 * MIB  # + allocator, lws slack
        self.assertLess(peak_rss_kib(daemon.process.pid) - rss_before, bound_kib * SLACK)


if __name__ == "__main__":
    if shutil.which("ss") is None:
        print("ss (iproute2) is not installed")
        raise SystemExit(77)
    harness.main()
