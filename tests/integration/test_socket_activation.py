# SPDX-License-Identifier: MIT
"""The unix sink serves the listening socket systemd passes (LISTEN_FDS) instead of
binding its own; systemd-socket-activate stands in for systemd."""

import os
import shutil
import unittest

import harness

ACTIVATOR = shutil.which("systemd-socket-activate")


@unittest.skipUnless(ACTIVATOR, "systemd-socket-activate is not installed")
class SocketActivation(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.socket_path = os.path.join(self.workdir, "activated.sock")

    def start_activated(self, server):
        """Starts wspushd under systemd-socket-activate, which listens first and execs
        the daemon (same pid, LISTEN_FDS=1, fd 3) at the first connection."""
        config = harness.config_yaml(server.url(), self.sink,
                                     sinks_yaml=harness.unix_sink_yaml(self.socket_path))
        daemon = self.daemon(config, wrapper=(ACTIVATOR, "-l", self.socket_path))
        daemon.log.wait_for_text(f"Listening on {self.socket_path} as 3.")
        return daemon

    def test_serves_the_socket_systemd_passed(self):
        server = self.server()
        daemon = self.start_activated(server)
        inode = os.stat(self.socket_path).st_ino
        first = self.unix_reader(self.socket_path)
        daemon.log.wait_for_text(f"serving {self.socket_path} on the socket systemd passed")
        server.wait_for("connected ")
        # The server sees the upgrade done before the daemon does: the reader's "connected"
        # event comes first.
        daemon.log.wait_for_text("connected to ")
        self.assertEqual(first.status()["subscribers"], 1)
        server.command("push 100 200 0")
        self.assertEqual([r["seq"] for r in first.records(100)], list(range(1, 101)))
        second = self.unix_reader(self.socket_path)
        self.assertEqual(second.status()["subscribers"], 2)
        server.command("send later")
        self.assertEqual([first.next()["seq"], second.next()["seq"]], [101, 101])
        self.assertEqual(os.stat(self.socket_path).st_ino, inode, "socket file replaced")
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    harness.main()
