# SPDX-License-Identifier: MIT
"""The systemd notify protocol, against a NOTIFY_SOCKET the test listens on."""

import os
import queue
import signal
import socket
import threading
import time

import harness


class NotifySocket:
    """Collects (time, message) for every datagram the daemon sends."""

    def __init__(self, path):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.messages = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.socket.recv(65536)
            except OSError:
                return
            self.messages.put((time.monotonic(), data.decode()))

    def wait_for(self, predicate, timeout=harness.DEFAULT_WAIT, what="a message"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; saw {self.seen[-10:]}")
            try:
                when, message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(message)
            if predicate(message):
                return when, message

    def wait_text(self, text, timeout=harness.DEFAULT_WAIT):
        return self.wait_for(lambda m: text in m, timeout, repr(text))[1]


class Notify(harness.DaemonTestCase):
    def start(self, watchdog_usec=None):
        path = os.path.join(self.workdir, "notify.sock")
        notify = NotifySocket(path)
        self.addCleanup(notify.socket.close)
        env = {"NOTIFY_SOCKET": path}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink), env=env)
        return notify, server, daemon

    def test_lifecycle_messages(self):
        notify, server, daemon = self.start()
        ready = notify.wait_text("READY=1")
        self.assertIn(f"STATUS=connecting to {server.url()}", ready)
        connected = notify.wait_text("STATUS=connected")
        self.assertIn(f"STATUS=connected to {server.url()}, 0 messages", connected)
        self.assertRegex(connected, r"; store in memory 0 MiB, seq 0-0, epoch [0-9a-f]{8}$")
        server.command("send one")
        harness.wait_records(self.sink, 1)

        server.command("close 4001")
        self.assertIn("4001", notify.wait_text("STATUS=disconnected"))
        retry = notify.wait_text("STATUS=reconnecting in")
        self.assertRegex(retry, r"STATUS=reconnecting in \d+\.\d s: server closed the "
                                r"connection with code 4001")
        self.assertIn("1 messages", notify.wait_text("STATUS=connected"))

        daemon.signal(signal.SIGHUP)
        reloading = notify.wait_text("RELOADING=1")
        self.assertRegex(reloading, r"MONOTONIC_USEC=\d+")
        stamp = int(reloading.split("MONOTONIC_USEC=")[1].split()[0])
        self.assertLess(abs(stamp - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000),
                        10_000_000)
        self.assertIn("STATUS=connected", notify.wait_text("READY=1"))

        daemon.signal(signal.SIGTERM)
        notify.wait_text("STOPPING=1")
        self.assertEqual(daemon.wait_exit(), 0)

    def test_watchdog_pings_at_half_the_interval(self):
        notify, _, daemon = self.start(watchdog_usec=400_000)
        first, _ = notify.wait_for(lambda m: m == "WATCHDOG=1", what="WATCHDOG=1")
        stamps = [first]
        while len(stamps) < 6:
            when, _ = notify.wait_for(lambda m: m == "WATCHDOG=1", timeout=1,
                                      what="the next WATCHDOG=1")
            stamps.append(when)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        for gap in gaps:
            self.assertGreater(gap, 0.15)
            self.assertLess(gap, 0.35)

        # A wedged loop stops the pings: systemd's watchdog then restarts the service.
        daemon.signal(signal.SIGSTOP)
        self.addCleanup(daemon.signal, signal.SIGCONT)
        with self.assertRaises(AssertionError):
            notify.wait_for(lambda m: m == "WATCHDOG=1", timeout=0.8, what="WATCHDOG=1")
        daemon.signal(signal.SIGCONT)
        notify.wait_for(lambda m: m == "WATCHDOG=1", timeout=1, what="WATCHDOG=1")


if __name__ == "__main__":
    harness.main()
