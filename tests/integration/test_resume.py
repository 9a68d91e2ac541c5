# SPDX-License-Identifier: MIT
"""Resuming upstream: the daemon tells the bundled server (--ids --resume MODE) the last id
it stored, in each of the three ways servers take it, and gets what it missed while it was
cut off, exactly once and in the server's order; what comes twice is dropped and counted,
and a gap the server cannot fill is told."""

import os
import signal
import socket
import threading

import harness

MODES = {
    "query": ("query:since", {"url_query": "?since=${LAST_ID}"}),
    "header": ("header:Last-Event-ID", {"headers": '{Last-Event-ID: "${LAST_ID}"}'}),
    "message": ("message", {"message": "'{\"op\":\"resume\",\"id\":\"${LAST_ID}\"}'"}),
}
MISSED = 1000


class Blackhole:
    """A TCP relay on loopback that can stop forwarding without closing anything, as a
    proxy whose far side went away would."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dropping = threading.Event()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                if not self.dropping.is_set():
                    sink.sendall(data)
        except OSError:
            pass

    def close(self):
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass


class Resume(harness.DaemonTestCase):
    def config(self, server, mode, port=None, **extra):
        _, settings = MODES[mode]
        url = f"ws://127.0.0.1:{port or server.port}/websocket/u1" + settings.get("url_query", "")
        server_keys = {"headers": settings["headers"]} if "headers" in settings else {}
        resume = ["resume:", "  id: /id", "  sequence: /seq"]
        if "message" in settings:
            resume.append(f"  message: {settings['message']}")
        resume += [f"  {key}: {value}" for key, value in extra.items()]
        self.socket_path = os.path.join(self.workdir, "push.sock")
        store = os.path.join(self.workdir, "store")
        return harness.config_yaml(
            url, self.sink, server=server_keys,
            heartbeat={"ping_interval": "300ms", "timeout": "1s"},
            sinks_yaml=harness.unix_sink_yaml(self.socket_path),
            extra="\n".join(resume) + f"\nstore:\n  path: {store}\n")

    def start_server(self, mode):
        return self.server("--ids", "--resume", MODES[mode][0])

    def assert_every_message_once_in_order(self, count):
        records = harness.wait_records(self.sink, count, timeout=30)
        numbers = [r["data"]["n"] for r in records]
        self.assertEqual(numbers, list(range(1, count + 1)))
        self.assertEqual([r["seq"] for r in records], list(range(1, count + 1)))

    def status(self):
        return self.unix_reader(self.socket_path).status()

    def push_while_cut_off(self, server):
        server.command(f"push {MISSED} 100 0")
        server.wait_for(f"pushed {MISSED}", timeout=30)

    def test_daemon_restart_and_kill(self):
        for mode in MODES:
            for how in (signal.SIGTERM, signal.SIGKILL):
                with self.subTest(mode=mode, how=how.name):
                    self.setUp()
                    server = self.start_server(mode)
                    config = self.config(server, mode)
                    daemon = self.daemon(config)
                    server.wait_for("connected ")
                    server.command("push 10 100 0")
                    harness.wait_records(self.sink, 10)
                    if how == signal.SIGTERM:
                        self.assertEqual(daemon.stop(), 0)
                    else:
                        # With sync: interval the last id saved may be older than the last
                        # record: the server sends some again, and dedup drops them.
                        daemon.kill()
                    self.push_while_cut_off(server)
                    self.daemon(config)
                    server.wait_for("resumed u1 from m-")
                    self.assert_every_message_once_in_order(10 + MISSED)

    def test_server_going_away_and_a_blackholed_link(self):
        for mode in MODES:
            with self.subTest(mode=mode, cut="server"):
                self.setUp()
                server = self.start_server(mode)
                self.daemon(self.config(server, mode))
                server.wait_for("connected ")
                server.command("push 10 100 0")
                harness.wait_records(self.sink, 10)
                # The server restarts its front: the link closes (1012) and new ones are
                # refused for a while; it keeps its history.
                server.command("refuse on")
                server.command("close 1012 restart")
                self.push_while_cut_off(server)
                server.command("refuse off")
                line = server.wait_for("resumed u1 from m-10", timeout=10)
                self.assertIn(f"{MISSED} messages", line)
                self.assert_every_message_once_in_order(10 + MISSED)
            with self.subTest(mode=mode, cut="blackhole"):
                self.setUp()
                server = self.start_server(mode)
                relay = Blackhole(server.port)
                self.addCleanup(relay.close)
                daemon = self.daemon(self.config(server, mode, port=relay.port))
                server.wait_for("connected ")
                server.command("push 10 100 0")
                harness.wait_records(self.sink, 10)
                relay.dropping.set()
                self.push_while_cut_off(server)  # written into the void
                daemon.log.wait_for_text("the link is dead", timeout=5)
                relay.dropping.clear()
                server.wait_for("resumed u1 from m-10", timeout=10)
                self.assert_every_message_once_in_order(10 + MISSED)

    def test_what_comes_twice_is_dropped_and_counted_across_a_restart(self):
        server = self.start_server("query")
        config = self.config(server, "query")
        daemon = self.daemon(config)
        server.wait_for("connected ")
        server.command("push 10 100 0")
        harness.wait_records(self.sink, 10)
        server.command('send {"id":"m-3","seq":3,"n":3}')
        server.command("push 2 100 0")
        self.assert_every_message_once_in_order(12)
        self.assertEqual(self.status()["duplicates"], 1)
        # The dedup window is rebuilt from the store at start.
        self.assertEqual(daemon.stop(), 0)
        self.daemon(config)
        server.wait_for("resumed u1 from m-12")
        server.command('send {"id":"m-7","seq":7,"n":7}')
        server.command("push 1 100 0")
        self.assert_every_message_once_in_order(13)
        self.assertEqual(self.status()["duplicates"], 1)

    def test_a_gap_the_server_cannot_fill_is_told(self):
        server = self.start_server("query")
        daemon = self.daemon(self.config(server, "query"))
        server.wait_for("connected ")
        server.command("push 3 100 0")
        harness.wait_records(self.sink, 3)
        reader = self.unix_reader(self.socket_path)
        reader.status()
        server.command("skip 5")
        server.command("push 2 100 0")
        gap = reader.wait_for(lambda line: line.get("event") == "gap", what="a gap event")
        self.assertEqual((gap["upstream"], gap["expected"], gap["got"]), (True, 4, 9))
        line = daemon.log.wait_for_text("the server's sequence jumped")
        self.assertIn("expected 4, got 9", line)
        server.command("restart-seq")
        server.command("push 1 100 0")
        gap = reader.wait_for(lambda line: line.get("event") == "gap", what="a second gap")
        self.assertEqual((gap["expected"], gap["got"]), (11, 1))
        # The daemon's own seq has no hole.
        records = harness.wait_records(self.sink, 6)
        self.assertEqual([r["seq"] for r in records], list(range(1, 7)))
        self.assertEqual(self.status()["upstream_gaps"], 2)

    def test_reconnect_on_gap(self):
        server = self.start_server("query")
        daemon = self.daemon(self.config(server, "query", reconnect_on_gap="true"))
        server.wait_for("connected ")
        server.command("push 3 100 0")
        harness.wait_records(self.sink, 3)
        server.command("skip 2")
        server.command("push 1 100 0")
        daemon.log.wait_for_text("a gap in the server's sequence: reconnecting at once")
        server.wait_for("resumed u1 from m-4", timeout=5)


if __name__ == "__main__":
    harness.main()
