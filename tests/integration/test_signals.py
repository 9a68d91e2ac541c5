# SPDX-License-Identifier: MIT
"""SIGTERM closes cleanly; SIGHUP reloads, keeps a working config, reopens files."""

import os
import signal
import time

import harness


class Signals(harness.DaemonTestCase):
    def start(self, **config):
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, **config))
        server.wait_for("connected ")
        return server, daemon

    def test_sigterm_sends_close_1000_and_exits_0_within_3_seconds(self):
        server, daemon = self.start()
        stopped_at = time.monotonic()
        self.assertEqual(daemon.stop(timeout=3), 0)
        self.assertLess(time.monotonic() - stopped_at, 3)
        server.wait_for("closed 1000")

    def test_sigterm_while_disconnected_exits_0_at_once(self):
        server = self.server()
        port = server.port
        server.stop()
        daemon = self.daemon(harness.config_yaml(f"ws://127.0.0.1:{port}/websocket/u1",
                                                 self.sink))
        daemon.log.wait_for_text("reconnecting in")
        self.assertEqual(daemon.stop(timeout=3), 0)

    def test_sighup_with_a_broken_config_keeps_delivering(self):
        server, daemon = self.start()
        server.command("send before")
        harness.wait_records(self.sink, 1)
        daemon.rewrite_config("server:\n  url: [broken\n")
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reload rejected")
        server.command("send after")
        records = harness.wait_records(self.sink, 2)
        self.assertEqual([(r["seq"], r["data"]) for r in records],
                         [(1, "before"), (2, "after")])
        self.assertEqual(daemon.stop(), 0)

    def test_sighup_with_an_unreadable_token_file_is_rejected(self):
        server, daemon = self.start()
        missing = os.path.join(self.workdir, "no-token")
        daemon.rewrite_config(harness.config_yaml(server.url(), self.sink,
                                                  server={"token_file": missing}))
        daemon.signal(signal.SIGHUP)
        line = daemon.log.wait_for_text("reload rejected")
        self.assertIn(f"{missing}: cannot open: No such file or directory", line)
        server.command("send still here")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "still here")

    def test_sighup_with_a_new_server_reconnects_there(self):
        first, daemon = self.start()
        second = self.server()
        daemon.rewrite_config(harness.config_yaml(second.url("u2"), self.sink))
        daemon.signal(signal.SIGHUP)
        first.wait_for("closed 1000")
        second.wait_for("connected u2")
        second.command("send from the second server")
        records = harness.wait_records(self.sink, 1)
        self.assertEqual(records[0]["data"], "from the second server")

    def test_sighup_reopens_a_file_moved_away(self):
        server, daemon = self.start()
        server.command("send one")
        harness.wait_records(self.sink, 1)
        os.rename(self.sink, self.sink + ".1")
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reloaded")
        server.command("send two")
        records = harness.wait_records(self.sink, 1)
        self.assertEqual([(r["seq"], r["data"]) for r in records], [(2, "two")])
        self.assertEqual([r["data"] for r in harness.read_records(self.sink + ".1")], ["one"])


if __name__ == "__main__":
    harness.main()
