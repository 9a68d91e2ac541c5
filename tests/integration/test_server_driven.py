# SPDX-License-Identifier: MIT
"""A server that says "not soon" (Retry-After, close codes) or "not you" (401/403) is
believed: the next attempt waits at least that long."""

import time

import harness
from test_reconnect import retry_delays

# initial 200ms, max 2s, jitter 0.2: an ordinary first retry is at most 0.24 s.
RECONNECT = {"initial_delay": "200ms", "max_delay": "2s", "jitter": "0.2",
             "stable_after": "30s"}


class ServerDriven(harness.DaemonTestCase):
    def start(self, **reconnect):
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink,
                                                 reconnect={**RECONNECT, **reconnect}))
        server.wait_for("connected ")
        return server, daemon

    def assert_waits(self, server, daemon, reason, low, high):
        """The next retry for `reason` is planned for low..high s, and no attempt gets
        through before it. The log shows tenths, rounded."""
        (delay,) = retry_delays(daemon, 1, reason)
        planned_at = time.monotonic()
        self.assertGreaterEqual(delay, round(low, 1))
        self.assertLessEqual(delay, round(high, 1))
        server.command("refuse off")
        server.wait_for("connected ", timeout=high + 5)
        self.assertGreaterEqual(time.monotonic() - planned_at, delay - 0.1)
        return delay

    def test_retry_after_seconds_is_waited_even_past_max_delay(self):
        server, daemon = self.start()
        for status, phrase in (("429", "Too Many Requests"), ("503", "Service Unavailable")):
            with self.subTest(status):
                server.command(f"refuse {status} 3")
                server.command("close 1001")
                self.assert_waits(server, daemon, f"HTTP {status} ({phrase}) instead of "
                                  "upgrading and asked to wait 3.0 s", 3.0, 3.0 * 1.2 + 0.01)

    def test_retry_after_http_date_is_waited(self):
        server, daemon = self.start()
        server.command("refuse 503 date+4")
        server.command("close 1001")
        # An HTTP-date has whole seconds: 3 to 4 s are left of the 4 asked for.
        self.assert_waits(server, daemon, "HTTP 503", 2.9, 4.0 * 1.2 + 0.01)

    def test_unreadable_retry_after_falls_back_to_the_backoff(self):
        server, daemon = self.start()
        server.command("refuse 503 soon")
        server.command("close 1001")
        # The second attempt in a row (the close was the first): 0.4 s +/- 20%.
        self.assert_waits(server, daemon, "unreadable Retry-After ignored", 0.32, 0.48)

    def test_authentication_failure_backs_off_at_max_delay_with_the_reason(self):
        server, daemon = self.start()
        for status, phrase in (("401", "token expired"), ("403", "Forbidden")):
            with self.subTest(status):
                server.command(f"refuse {status} - token expired" if status == "401"
                               else f"refuse {status} -")
                server.command("close 1001")
                line = daemon.log.wait_for_text("authentication failed")
                self.assertIn(f"HTTP {status} ({phrase})", line)
                if status == "401":
                    self.assertIn('WWW-Authenticate: Bearer error="invalid_token"', line)
                self.assertTrue(line.startswith("<3>"), line)
                # max_delay 2 s, spread only downwards by the jitter.
                self.assert_waits(server, daemon, "authentication failed", 1.6, 2.0)

    def test_configured_close_codes_wait_at_least_their_time(self):
        server, daemon = self.start(
            max_delay="1s",
            close_codes='{1008: 2s, 1013: 3s, "4000-4099": 2500ms, 4001: 1500ms}')
        for code, low in (("4001", 1.5), ("4050", 2.5), ("1008", 2.0)):
            with self.subTest(code):
                server.command(f"close {code} go away")
                (delay,) = retry_delays(daemon, 1, f"code {code} (go away)")
                self.assertGreaterEqual(delay, low)
                self.assertLessEqual(delay, low * 1.2 + 0.01)
                server.wait_for("connected ", timeout=low * 1.2 + 5)
        # Not configured: the ordinary backoff, never above max_delay.
        server.command("close 4500")
        (delay,) = retry_delays(daemon, 1, "code 4500")
        self.assertLessEqual(delay, 1.0)

    def test_every_code_is_taken_as_the_server_sent_it(self):
        # 1012 (service restart) waits what 1012 is given, not 1013's 30 s, and a code with
        # no configured wait only the ordinary backoff, within max_delay.
        server, daemon = self.start(max_delay="1s",
                                    close_codes='{1008: 60s, 1012: 2s, "1013-1015": 3s}')
        for code, wait in (("1012", 2.0), ("1013", 3.0), ("1011", 0.0)):
            with self.subTest(code):
                server.command(f"close {code} restart")
                (delay,) = retry_delays(daemon, 1, f"code {code} (restart)")
                self.assertGreaterEqual(delay, wait)
                self.assertLessEqual(delay, max(wait, 1.0) * 1.2 + 0.01)
                server.wait_for("connected ", timeout=wait + 2.5)


if __name__ == "__main__":
    harness.main()
