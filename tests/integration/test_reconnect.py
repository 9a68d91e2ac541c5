# SPDX-License-Identifier: MIT
"""Every kind of loss ends in a reconnect, paced by the backoff."""

import os
import re
import time

import harness

RETRY = re.compile(r"reconnecting in (\d+\.\d) s: (.*)$")


def retry_delays(daemon, count, reason, timeout=harness.DEFAULT_WAIT):
    """The next `count` retry delays (seconds) whose reason contains `reason`."""
    delays = []
    for _ in range(count):
        line = daemon.log.wait_for(
            lambda l: RETRY.search(l) is not None and reason in l, timeout,
            f"a retry because of {reason!r}")
        delays.append(float(RETRY.search(line).group(1)))
    return delays


class Reconnect(harness.DaemonTestCase):
    def start(self, server=None, **config):
        server = server or self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, **config),
                             args=("--verbose",))
        server.wait_for("connected ")
        return server, daemon

    def test_server_restart_reconnects_within_initial_delay_plus_jitter(self):
        server, daemon = self.start()
        daemon.log.wait_for_text("link stable")
        lost_at = time.monotonic()
        server.restart()
        server.wait_for("connected ")
        elapsed = time.monotonic() - lost_at
        (delay,) = retry_delays(daemon, 1, "")
        self.assertLessEqual(delay, 0.24)  # initial_delay 200ms + 20% jitter
        self.assertLess(elapsed, 0.24 + 0.5)
        server.command("send after restart")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "after restart")

    def test_fleet_spread_applies_only_after_a_working_link_is_lost(self):
        # With an hour to spread over, a first retry within initial_delay + jitter would be
        # a 1-in-15,000 draw.
        server = self.server()
        port = server.port
        server.stop()
        daemon = self.daemon(harness.config_yaml(f"ws://127.0.0.1:{port}/websocket/u1",
                                                 self.sink, reconnect={"fleet_spread": "1h",
                                                                       "max_delay": "2h"}))
        (never_up,) = retry_delays(daemon, 1, "")
        self.assertLessEqual(never_up, 0.24)
        server.start(port)
        server.wait_for("connected ", timeout=5)
        daemon.log.wait_for_text("connected to ")
        server.stop()
        (after_loss,) = retry_delays(daemon, 1, "")
        self.assertGreater(after_loss, 0.24)
        self.assertLessEqual(after_loss, 3600.24)

    def test_a_server_back_after_5s_is_reconnected_within_max_delay(self):
        # fleet_spread at its default (15 s) must not stretch a wait past max_delay (2 s).
        server, daemon = self.start(reconnect={"fleet_spread": "15s"})
        port = server.port
        server.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < 5.0:
            (delay,) = retry_delays(daemon, 1, "")
            self.assertLessEqual(delay, 2.0)
        server.start(port)
        back_at = time.monotonic()
        server.wait_for("connected ", timeout=5)
        self.assertLess(time.monotonic() - back_at, 2.0 + 0.5)

    def test_a_clean_close_is_reconnected_within_max_delay(self):
        server, daemon = self.start(reconnect={"fleet_spread": "15s"})
        for _ in range(3):
            server.command("close 1000")
            closed_at = time.monotonic()
            (delay,) = retry_delays(daemon, 1, "code 1000")
            self.assertLessEqual(delay, 2.0)
            server.wait_for("connected ", timeout=5)
            self.assertLess(time.monotonic() - closed_at, 2.0 + 0.5)

    def test_silent_server_is_dead_within_timeout_then_reconnects(self):
        server, daemon = self.start(heartbeat={"ping_interval": "300ms", "timeout": "1s"})
        server.command("silent on")
        silent_at = time.monotonic()
        daemon.log.wait_for_text("the link is dead", timeout=3)
        self.assertLess(time.monotonic() - silent_at, 1.0 + 1.0)
        # While silent, an upgrade is never answered: that attempt is abandoned too.
        retry_delays(daemon, 1, "no answer from the server in time", timeout=5)
        server.command("silent off")
        server.wait_for("connected ", timeout=10)

    def test_pongs_keep_a_quiet_link_alive(self):
        server, daemon = self.start(heartbeat={"interval": "0s", "ping_interval": "200ms",
                                               "timeout": "700ms"})
        # No data flows, only pings and pongs; the link must not be declared dead.
        server.command("send probe")
        harness.wait_records(self.sink, 1)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            daemon.log.drain()
            time.sleep(0.1)  # observing that nothing happens for a while
        self.assertFalse(any("dead" in line for line in daemon.log.seen), daemon.log.seen)
        server.command("send still here")
        self.assertEqual(harness.wait_records(self.sink, 2)[1]["data"], "still here")

    def test_refused_upgrade_backs_off_then_recovers(self):
        server, daemon = self.start()
        # Without Retry-After: the plain backoff (test_server_driven has the rest).
        server.command("refuse 503 -")
        server.command("close 1001 going away")
        delays = retry_delays(daemon, 3, "HTTP 503")
        self.assertLess(delays[0], delays[1])
        self.assertLess(delays[1], delays[2])
        server.command("refuse off")
        server.wait_for("connected ")

    def test_close_codes_and_resets_reconnect(self):
        server, daemon = self.start()
        for command, reason in (("close 1000", "code 1000"),
                                ("close 4001 bye", "code 4001 (bye)"),
                                ("close 1011", "code 1011"),
                                ("reset", "")):
            with self.subTest(command):
                server.command(command)
                daemon.log.wait_for_text("disconnected from")
                retry_delays(daemon, 1, reason)
                server.wait_for("connected ")
        server.command("send still delivering")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "still delivering")

    def test_refused_attempts_leave_no_fd_and_no_busy_loop(self):
        server = self.server()
        port = server.port
        server.stop()
        daemon = self.daemon(harness.config_yaml(
            f"ws://127.0.0.1:{port}/websocket/u1", self.sink,
            reconnect={"initial_delay": "20ms", "max_delay": "50ms", "fleet_spread": "0s"}))
        pid = daemon.process.pid
        retry_delays(daemon, 5, "Connection refused")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        cpu = harness.cpu_seconds(pid)
        retry_delays(daemon, 40, "Connection refused")
        self.assertLessEqual(len(os.listdir(f"/proc/{pid}/fd")), fds)
        # 40 attempts 20-50 ms apart: a loop woken by a dead fd would burn a CPU meanwhile.
        self.assertLess(harness.cpu_seconds(pid) - cpu, 1.0 if harness.SANITIZED else 0.5)

    def test_backoff_grows_while_nothing_listens_then_connects(self):
        server = self.server()
        port = server.port
        server.stop()
        daemon = self.daemon(harness.config_yaml(f"ws://127.0.0.1:{port}/websocket/u1",
                                                 self.sink))
        delays = retry_delays(daemon, 3, "")
        self.assertLess(delays[0], delays[1])
        self.assertLess(delays[1], delays[2])
        server.start(port)
        server.wait_for("connected ", timeout=10)

    def test_a_token_file_gone_at_connect_time_is_retried_until_it_is_back(self):
        token = os.path.join(self.workdir, "token")
        with open(token, "w") as out:
            out.write("first\n")
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink,
                                                 server={"token_file": token}))
        server.wait_for("connected ")
        os.remove(token)
        server.command("close 1000")
        delays = retry_delays(daemon, 2, "No such file or directory")
        self.assertLess(delays[0], delays[1])
        with open(token, "w") as out:
            out.write("second\n")
        server.wait_for("connected ", timeout=10)

    def test_max_attempts_gives_up_with_exit_1(self):
        server = self.server()
        port = server.port
        server.stop()
        daemon = self.daemon(harness.config_yaml(
            f"ws://127.0.0.1:{port}/websocket/u1", self.sink,
            reconnect={"initial_delay": "50ms", "max_attempts": "2"}))
        self.assertEqual(daemon.wait_exit(), 1)
        daemon.log.wait_for_text("giving up after 3 attempts")


if __name__ == "__main__":
    harness.main()
