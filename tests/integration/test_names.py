# SPDX-License-Identifier: MIT
"""Names: the daemon resolves the server's name without stalling its loop, races the
addresses it gets (RFC 8305), and keeps retrying a name that does not resolve.

Everything runs in a network namespace made here: the daemon, the bundled server on
SERVER_ADDRESS (a veth pair inside the namespace), and tests/integration/dns_server.py on
127.0.0.1:53. `ip netns exec` puts /etc/netns/NAME/resolv.conf and hosts over /etc's for the
processes it starts, so the daemon asks that server and the machine's own files stay
untouched."""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import harness

SERVER_ADDRESS = "10.203.0.1"
# On-link through the veth, where an nftables rule in the namespace drops every packet to
# it: a connect there hangs, as to a host whose firewall drops SYNs. IPv6 sorts first (RFC
# 6724 precedence), so it is the address tried first.
BLACKHOLE_ADDRESS = "2001:db8:203::99"
LOCAL_V6 = "2001:db8:203::1"
NAME = "push.test"
DNS_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dns_server.py")
NETNS_ETC = "/etc/netns"


class DnsServer:
    """dns_server.py inside the namespace, on 127.0.0.1:53."""

    def __init__(self, namespace, names, delay=0.0):
        specs = [f"{name}={','.join(addresses)}" for name, addresses in names.items()]
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, DNS_SERVER, "--delay", str(delay),
             *specs],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.out = harness.LineReader(self.process.stdout, "dns_server")
        self.out.wait_for(lambda line: line.startswith("listening "), what="listening")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=harness.DEFAULT_WAIT)
        self.out.thread.join(harness.DEFAULT_WAIT)
        self.process.stdout.close()


class NamesCase(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.namespace = "wsp-n-" + uuid.uuid4().hex[:6]
        harness.run("ip", "netns", "add", self.namespace)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.namespace],
                        capture_output=True)
        self.write_netns_files()
        self.ip("link", "set", "lo", "up")
        harness.run("ip", "-n", self.namespace, "link", "add", "wspn0", "type", "veth", "peer",
                    "name", "wspn1")
        self.ip("addr", "add", f"{SERVER_ADDRESS}/24", "dev", "wspn0")
        self.ip("addr", "add", f"{LOCAL_V6}/64", "dev", "wspn0", "nodad")
        self.ip("link", "set", "wspn0", "up")
        self.ip("link", "set", "wspn1", "up")
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")

    def write_netns_files(self):
        """The namespace's resolv.conf and hosts, removed again by the cleanup."""
        if not os.path.isdir(NETNS_ETC):
            os.makedirs(NETNS_ETC)
            self.addCleanup(self.remove_if_empty, NETNS_ETC)
        etc = os.path.join(NETNS_ETC, self.namespace)
        os.makedirs(etc)
        self.addCleanup(shutil.rmtree, etc, ignore_errors=True)
        with open(os.path.join(etc, "resolv.conf"), "w") as conf:
            conf.write("nameserver 127.0.0.1\noptions timeout:5 attempts:2\n")
        with open(os.path.join(etc, "hosts"), "w") as hosts:
            hosts.write("127.0.0.1 localhost\n::1 localhost\n")

    @staticmethod
    def remove_if_empty(path):
        try:
            os.rmdir(path)
        except OSError:
            pass

    def ip(self, *args):
        harness.run("ip", "-n", self.namespace, *args)

    def dns(self, names, delay=0.0):
        server = DnsServer(self.namespace, names, delay)
        self.addCleanup(server.stop)
        return server

    def server(self, *args):
        server = harness.NetnsServer(self.namespace, SERVER_ADDRESS, "--count", "0", "--rate",
                                     "20", "--size", "100", *args, host=NAME)
        self.addCleanup(server.stop)
        return server

    def start_daemon(self, url):
        config = harness.config_yaml(url, self.sink,
                                     sinks_yaml=harness.unix_sink_yaml(self.socket_path))
        return self.daemon(config, args=("--verbose",),
                           wrapper=("ip", "netns", "exec", self.namespace))

    def status_seconds(self):
        """Connects to the daemon's Unix socket and asks for its status; returns the time
        from connecting to the answer."""
        started = time.monotonic()
        reader = harness.UnixReader(self.socket_path)
        try:
            reader.status()
        finally:
            reader.close()
        return time.monotonic() - started

    def test_a_blackholed_first_address_still_connects_within_half_a_second(self):
        if shutil.which("nft") is None:
            self.skipTest("nft (nftables) is not installed")
        harness.run("ip", "netns", "exec", self.namespace, "nft", "-f", "-", input=(
            "table inet wspush_names {\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f"    ip6 daddr {BLACKHOLE_ADDRESS} drop\n"
            "  }\n"
            "}\n"))
        dns = self.dns({NAME: [BLACKHOLE_ADDRESS, SERVER_ADDRESS]})
        server = self.server()
        daemon = self.start_daemon(server.url())
        daemon.log.wait_for_text("connecting to ")
        started = time.monotonic()
        server.wait_for("connected ", timeout=5)
        took = time.monotonic() - started
        # The race only shows if the dead address came first.
        resolved = daemon.log.wait_for_text(f"resolved {NAME}: ")
        self.assertTrue(resolved.endswith(f"resolved {NAME}: {BLACKHOLE_ADDRESS}, "
                                          f"{SERVER_ADDRESS}"), resolved)
        self.assertLess(took, 0.5)
        dns.out.drain()
        self.assertIn(f"query {NAME} 28", dns.out.seen)
        daemon.log.wait_for_text("connected to ")

        status = harness.run_ctl("--socket", self.socket_path, "status")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertRegex(status.stdout.decode(),
                         rf"(?m)^address\s+{re.escape(SERVER_ADDRESS)}:{server.port}$")

    def test_a_slow_name_server_leaves_the_unix_socket_answering(self):
        dns = self.dns({NAME: [SERVER_ADDRESS]}, delay=3.0)
        server = self.server()
        self.start_daemon(server.url())
        dns.out.wait_for_text(f"query {NAME} ")
        asked = time.monotonic()
        harness.wait_until(lambda: os.path.exists(self.socket_path), "the daemon's socket")
        times = []
        while time.monotonic() - asked < 2.5:
            times.append(self.status_seconds())
            time.sleep(0.1)
        self.assertGreaterEqual(len(times), 5)
        self.assertLess(max(times), 0.05, [round(t, 4) for t in times])
        dns.out.drain()
        # Every status above was asked while the lookup was under way.
        self.assertFalse([line for line in dns.out.seen if line.startswith("answered ")],
                         dns.out.seen)
        dns.out.wait_for_text(f"answered {NAME} ", timeout=3)
        server.wait_for("connected ", timeout=3)
        self.assertGreater(time.monotonic() - asked, 2.5)

    def test_a_name_that_does_not_exist_is_said_and_retried(self):
        dns = self.dns({NAME: [SERVER_ADDRESS]})
        daemon = self.start_daemon("ws://nosuch.test:9/websocket/u1")
        for _ in range(2):
            line = daemon.log.wait_for(lambda l: "reconnecting in " in l, timeout=5,
                                       what="a retry line")
            self.assertIn("cannot resolve nosuch.test", line)
        dns.out.drain()
        self.assertIn("query nosuch.test 1", dns.out.seen)
        # The daemon is alive and answering meanwhile.
        self.assertLess(self.status_seconds(), 1.0)


if __name__ == "__main__":
    REFUSED = harness.namespaces_refused()
    if REFUSED:
        print(f"skipped: {REFUSED}")
        raise SystemExit(77)
    harness.main()
