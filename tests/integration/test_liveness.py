# SPDX-License-Identifier: MIT
"""Liveness: after a network change or a resume from sleep the link is probed at once, and
a dead one is replaced within probe_timeout, not after heartbeat.timeout.

Real kernels and buses: the daemon and the server run in two network namespaces joined by
a veth pair (addresses of these test hosts only, in namespaces made here), and logind is a
stand-in on a private dbus-daemon that DBUS_SYSTEM_BUS_ADDRESS points to."""

import os
import shutil
import subprocess
import time
import uuid

import harness

LOGIN1_STANDIN = os.path.join(harness.BUILD_DIR, "tests", "integration", "login1-standin")
DAEMON_ADDRESS = "10.203.0.1"
SERVER_ADDRESS = "10.203.0.2"
PROBE_TIMEOUT = 2.0
# heartbeat.timeout far away, so that only a probe can notice a dead link in time.
HEARTBEAT = {"interval": "30s", "ping_interval": "20s", "timeout": "60s",
             "probe_timeout": f"{PROBE_TIMEOUT:g}s"}
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class NamespacedCase(harness.DaemonTestCase):
    """The daemon in one namespace, the server in another, a veth pair between them."""

    def setUp(self):
        super().setUp()
        suffix = uuid.uuid4().hex[:6]
        self.daemon_ns, self.server_ns = f"wsp-d-{suffix}", f"wsp-s-{suffix}"
        self.link = f"wspd{suffix}"
        for namespace in (self.daemon_ns, self.server_ns):
            harness.run("ip", "netns", "add", namespace)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", namespace],
                            capture_output=True)
            self.ip(namespace, "link", "set", "lo", "up")
        harness.run("ip", "link", "add", self.link, "netns", self.daemon_ns, "type", "veth", "peer",
            "name", "peer0", "netns", self.server_ns)
        self.ip(self.daemon_ns, "addr", "add", f"{DAEMON_ADDRESS}/24", "dev", self.link)
        self.ip(self.server_ns, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", "peer0")
        self.ip(self.daemon_ns, "link", "set", self.link, "up")
        self.ip(self.server_ns, "link", "set", "peer0", "up")

    def ip(self, namespace, *args):
        harness.run("ip", "-n", namespace, *args)

    def start(self, env=None, rate=20, args=()):
        server = harness.NetnsServer(self.server_ns, SERVER_ADDRESS, "--count", "0", "--rate",
                                     str(rate), "--size", "100")
        self.addCleanup(server.stop)
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, heartbeat=HEARTBEAT),
                             wrapper=("ip", "netns", "exec", self.daemon_ns), env=env,
                             args=args)
        server.wait_for("connected ")
        daemon.log.wait_for_text("connected to ")
        return server, daemon

    def records_after(self, seen, timeout):
        """Waits for a record beyond the first `seen`; returns when it came (monotonic)."""
        deadline = time.monotonic() + timeout
        while len(harness.read_records(self.sink)) <= seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"no new record within {timeout} s")
            time.sleep(0.01)  # the file sink has no event to wait on
        return time.monotonic()



class Network(NamespacedCase):
    def test_records_flow_within_a_second_of_the_link_coming_up(self):
        _, daemon = self.start()
        harness.wait_records(self.sink, 5)
        self.ip(self.daemon_ns, "link", "set", self.link, "down")
        time.sleep(5.0)  # the outage itself
        seen = len(harness.read_records(self.sink))
        self.ip(self.daemon_ns, "link", "set", self.link, "up")
        up_at = time.monotonic()
        self.assertLess(self.records_after(seen, timeout=5) - up_at, 1.0)
        daemon.log.drain()
        self.assertFalse(any("nothing received for" in line for line in daemon.log.seen))
        seqs = [r["seq"] for r in harness.read_records(self.sink)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_a_local_address_that_goes_away_reconnects_at_once(self):
        server, daemon = self.start()
        harness.wait_records(self.sink, 3)
        self.ip(self.daemon_ns, "addr", "del", f"{DAEMON_ADDRESS}/24", "dev", self.link)
        self.ip(self.daemon_ns, "addr", "add", "10.203.0.3/24", "dev", self.link)
        changed_at = time.monotonic()
        daemon.log.wait_for_text(f"the local address {DAEMON_ADDRESS} went away", timeout=3)
        server.wait_for("connected ", timeout=3)
        self.assertLess(time.monotonic() - changed_at, 1.0)
        seen = len(harness.read_records(self.sink))
        self.records_after(seen, timeout=3)

    def test_a_probe_without_answer_reconnects_within_probe_timeout(self):
        _, daemon = self.start()
        harness.wait_records(self.sink, 3)
        self.ip(self.daemon_ns, "link", "set", self.link, "down")
        self.ip(self.daemon_ns, "link", "set", self.link, "up")
        # Right after link-up, packets to the server go nowhere.
        self.ip(self.daemon_ns, "route", "add", "blackhole", f"{SERVER_ADDRESS}/32")
        up_at = time.monotonic()
        line = daemon.log.wait_for_text("no answer within", timeout=PROBE_TIMEOUT + 3)
        self.assertLess(time.monotonic() - up_at, PROBE_TIMEOUT + 0.5)
        self.assertIn("probed the link (the network changed)", line)
        daemon.log.wait_for_text("disconnected from", timeout=3)
        # Once packets flow again the daemon is back at once: the backoff was reset.
        self.ip(self.daemon_ns, "route", "del", "blackhole", f"{SERVER_ADDRESS}/32")
        daemon.log.wait_for_text("connected to ", timeout=5)


class Sleep(NamespacedCase):
    def start_bus(self):
        path = os.path.join(self.workdir, "system_bus_socket")
        config = os.path.join(self.workdir, "bus.conf")
        with open(config, "w") as out:
            out.write(BUS_CONFIG.format(path=path))
        bus = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", "--config-file", config,
                                "--print-address"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(bus.wait)
        self.addCleanup(bus.terminate)
        address = bus.stdout.readline().strip()
        self.assertTrue(address.startswith("unix:"), address)
        env = {"DBUS_SYSTEM_BUS_ADDRESS": address}
        standin = subprocess.Popen([LOGIN1_STANDIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env={**os.environ, **env}, text=True)
        self.addCleanup(standin.wait)
        self.addCleanup(standin.kill)
        self.assertEqual(standin.stdout.readline(), "ready\n")
        return env, standin

    def emit(self, standin, word):
        standin.stdin.write(word + "\n")
        standin.stdin.flush()
        self.assertEqual(standin.stdout.readline(), f"sent {word}\n")

    def test_waking_up_probes_the_link_and_a_dead_one_is_replaced(self):
        if shutil.which("dbus-daemon") is None:
            self.skipTest("dbus-daemon is not installed")
        env, standin = self.start_bus()
        _, daemon = self.start(env=env, args=("--verbose",))
        # Said once the bus answered, maybe before the link came up (start() waited for).
        if not any("watching logind's PrepareForSleep" in line for line in daemon.log.seen):
            daemon.log.wait_for_text("watching logind's PrepareForSleep", timeout=5)
        # A wake-up on a healthy link: probed, answered.
        self.emit(standin, "sleep")
        self.emit(standin, "wake")
        line = daemon.log.wait_for_text("probed the link (the machine woke up)", timeout=5)
        self.assertIn("it answered", line)
        # Asleep, the server went out of reach; on waking the probe finds out at once.
        self.emit(standin, "sleep")
        daemon.log.wait_for_text("the machine is going to sleep")
        self.ip(self.daemon_ns, "route", "add", "blackhole", f"{SERVER_ADDRESS}/32")
        self.emit(standin, "wake")
        woke_at = time.monotonic()
        daemon.log.wait_for_text("no answer within", timeout=PROBE_TIMEOUT + 3)
        self.assertLess(time.monotonic() - woke_at, PROBE_TIMEOUT + 0.5)

    def test_without_a_system_bus_it_runs_on_and_says_so_once(self):
        missing = os.path.join(self.workdir, "no-bus")
        _, daemon = self.start(env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={missing}"})
        harness.wait_records(self.sink, 3)
        self.assertEqual(daemon.stop(), 0)
        lines = daemon.log.read_to_end()
        told = [line for line in lines if "cannot watch for sleep" in line]
        self.assertEqual(len(told), 1, lines)


if __name__ == "__main__":
    REFUSED = harness.namespaces_refused()
    if REFUSED:
        print(f"skipped: {REFUSED}")
        raise SystemExit(77)
    harness.main()
