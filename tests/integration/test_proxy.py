# SPDX-License-Identifier: MIT
"""server.proxy: the link through a real HTTP CONNECT proxy (tinyproxy) on loopback."""

import os
import shutil
import socket
import subprocess
import sys

import harness

SKIP = 77  # meson's "skipped"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Proxy:
    """tinyproxy in the foreground, its log in the test's directory."""

    def __init__(self, workdir, auth=None):
        self.port = free_port()
        self.log = os.path.join(workdir, "tinyproxy.log")
        self.config = os.path.join(workdir, "tinyproxy.conf")
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Allow 127.0.0.1", "Timeout 60",
                 "LogLevel Connect", f'LogFile "{self.log}"']
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        with open(self.config, "w") as out:
            out.write("\n".join(lines) + "\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["tinyproxy", "-d", "-c", self.config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_until(self.accepts, "tinyproxy to listen")

    def accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=harness.DEFAULT_WAIT)

    def tunnels(self):
        with open(self.log) as log:
            return sum("Established connection" in line for line in log)


class ThroughProxy(harness.DaemonTestCase):
    def proxy(self, auth=None, start=True):
        proxy = Proxy(self.workdir, auth)
        self.addCleanup(proxy.stop)
        if start:
            proxy.start()
        return proxy

    def daemon_via(self, server, proxy_url):
        return self.daemon(harness.config_yaml(server.url(), self.sink,
                                               server={"proxy": proxy_url}))

    def test_records_arrive_through_the_proxy(self):
        proxy = self.proxy()
        server = self.server()
        self.daemon_via(server, f"http://127.0.0.1:{proxy.port}")
        server.wait_for("connected ")
        server.command("send through the proxy")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "through the proxy")
        self.assertEqual(proxy.tunnels(), 1)

    def test_proxy_credentials(self):
        proxy = self.proxy(auth=("pushy", "s3cret"))
        server = self.server()
        daemon = self.daemon_via(server, f"http://pushy:wrong@127.0.0.1:{proxy.port}")
        daemon.log.wait_for_text("reconnecting in")
        self.assertEqual(proxy.tunnels(), 0)
        daemon.stop()

        daemon = self.daemon_via(server, f"http://pushy:s3cret@127.0.0.1:{proxy.port}")
        server.wait_for("connected ")
        self.assertFalse(any("s3cret" in line for line in daemon.log.seen))

    def test_proxy_down_backs_off_then_recovers(self):
        proxy = self.proxy(start=False)
        server = self.server()
        daemon = self.daemon_via(server, f"http://127.0.0.1:{proxy.port}")
        daemon.log.wait_for_text("reconnecting in")
        daemon.log.wait_for_text("reconnecting in")
        proxy.start()
        server.wait_for("connected ", timeout=10)

    def daemon_with_env(self, server, env, **server_settings):
        return self.daemon(harness.config_yaml(server.url(), self.sink, server=server_settings),
                           env=env)

    def test_http_proxy_from_the_environment(self):
        proxy = self.proxy()
        server = self.server()
        daemon = self.daemon_with_env(
            server, {"http_proxy": f"http://127.0.0.1:{proxy.port}/", "no_proxy": "example.com"})
        server.wait_for("connected ")
        self.assertEqual(proxy.tunnels(), 1)
        daemon.log.wait_for_text(
            f"connecting through the proxy http://127.0.0.1:{proxy.port} from $http_proxy")

    def test_no_proxy_exempts_the_server(self):
        # The proxy named is down: only a direct link gets through. lws itself would use
        # http_proxy regardless of no_proxy; the daemon takes that decision from it.
        server = self.server()
        self.daemon_with_env(server, {"http_proxy": f"http://127.0.0.1:{free_port()}",
                                      "no_proxy": "localhost, 127.0.0.1"})
        server.wait_for("connected ")

    def test_https_proxy_is_only_for_wss(self):
        server = self.server()
        self.daemon_with_env(server, {"https_proxy": f"http://127.0.0.1:{free_port()}"})
        server.wait_for("connected ")

    def test_server_proxy_wins_over_the_environment(self):
        proxy = self.proxy()
        server = self.server()
        self.daemon_with_env(server, {"HTTP_PROXY": f"http://127.0.0.1:{free_port()}"},
                             proxy=f"http://127.0.0.1:{proxy.port}")
        server.wait_for("connected ")
        self.assertEqual(proxy.tunnels(), 1)

    def test_unusable_proxy_variable_is_ignored_with_a_warning(self):
        server = self.server()
        daemon = self.daemon_with_env(server, {"http_proxy": "socks5://127.0.0.1:1080"})
        server.wait_for("connected ")
        line = daemon.log.wait_for_text("ignoring $http_proxy")
        self.assertIn("only http:// proxies are supported", line)


if __name__ == "__main__":
    if shutil.which("tinyproxy") is None:
        print("tinyproxy is not installed")
        sys.exit(SKIP)
    harness.main()
