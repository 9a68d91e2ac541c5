# SPDX-License-Identifier: MIT
"""The metrics: GET /metrics in the Prometheus text format (checked by promtool, compared
with the status, scraped by a real Prometheus server), the textfile rewritten atomically,
and an endpoint that hostile clients cannot use to stall the loop or grow the memory."""

import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import harness

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}
MAX_CONNECTIONS = 64  # HttpListener::maxConnections
# Under ASan freed blocks wait in a 256 MiB quarantine before reuse.
RSS_GROWTH_BOUND_KIB = (300 if harness.SANITIZED else 16) * 1024
# ASan makes everything about three times slower: the time bounds grow with it.
SLOWER = 3 if harness.SANITIZED else 1


def parse_exposition(text):
    """{(name, ((label, value), ...)): float} for every sample; fails on a malformed line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = []
        if labels:
            consumed = 0
            for label in LABEL.finditer(labels):
                assert label.start() == consumed, f"bad labels in {line!r}"
                consumed = label.end()
                pairs.append((label.group(1), re.sub(r"\\(.)", lambda m: UNESCAPE[m.group(1)],
                                                     label.group(2))))
            assert consumed == len(labels), f"bad labels in {line!r}"
        samples[(name, tuple(pairs))] = float(value)
    return samples


def value(samples, metric, /, **labels):
    """The one sample of `metric` whose labels include `labels`."""
    found = [v for (n, pairs), v in samples.items()
             if n == metric and all(dict(pairs).get(k) == w for k, w in labels.items())]
    assert len(found) == 1, f"{len(found)} samples of {metric} {labels}"
    return found[0]


def http_get(port, path="/metrics", timeout=5.0):
    """(status, headers, body text) of one GET on 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def raw_exchange(address, request, timeout=5.0, family=socket.AF_INET):
    """Sends `request` bytes, returns every byte answered until the daemon closes."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def promtool_check(text):
    """Runs `promtool check metrics` on the text; fails on any problem it reports."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (scripts/test does)"
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=30)
    report = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and not report.strip(), f"promtool: {report}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def record_times(path):
    return [datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
            for r in harness.read_records(path)]


class MetricsTestCase(harness.DaemonTestCase):
    def config(self, server, metrics, heartbeat=None, sinks_yaml=""):
        lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in metrics.items())
        return harness.config_yaml(server.url(), self.sink, heartbeat=heartbeat,
                                   sinks_yaml=sinks_yaml, extra="metrics:\n" + lines)

    def start(self, metrics=None, heartbeat=None, sinks_yaml="", server_args=()):
        """A server, and a daemon serving metrics on a port the kernel picks."""
        server = self.server(*server_args)
        metrics = {"listen": "127.0.0.1:0", **(metrics or {})}
        daemon = self.daemon(self.config(server, metrics, heartbeat, sinks_yaml))
        if metrics["listen"] and not metrics["listen"].startswith("unix:"):
            line = daemon.log.wait_for_text("metrics: serving GET /metrics on ")
            daemon.metrics_port = int(line.rsplit(":", 1)[1])
        server.wait_for("connected ")
        return server, daemon

    def scrape(self, daemon):
        status, headers, body = http_get(daemon.metrics_port)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return body

    def push(self, server, count, size=200):
        server.command(f"push {count} {size} 0")
        server.wait_for(f"pushed {count}", timeout=60)


class Exposition(MetricsTestCase):
    def test_values_match_the_status_after_messages_a_reconnect_and_drops(self):
        socket_path = os.path.join(self.workdir, "wspushd.sock")
        started = time.time()
        server, daemon = self.start(
            heartbeat={"ping_interval": "200ms", "timeout": "5s"},
            sinks_yaml=harness.unix_sink_yaml(socket_path, max_queue="64KiB", policy="drop"))
        stuck = self.unix_reader(socket_path)
        stuck.status()  # taken on; from now on it reads nothing
        self.push(server, 3000, 1024)
        harness.wait_records(self.sink, 3000, timeout=30)
        server.command("close 1000")
        server.wait_for("connected ")
        daemon.log.wait_for_text("connected to")
        self.push(server, 20)
        harness.wait_records(self.sink, 3020, timeout=30)

        # Both connects' greeting and heartbeat reply came back and were filtered.
        def settled():
            samples = parse_exposition(self.scrape(daemon))
            return (value(samples, "wspushd_messages_filtered_total") == 4
                    and value(samples, "wspushd_heartbeat_round_trip_seconds_count") > 0)
        harness.wait_until(settled, "both greetings and heartbeat replies filtered")

        for _ in range(20):
            before = self.scrape(daemon)
            result = harness.run_ctl("--socket", socket_path, "status", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            status = json.loads(result.stdout)
            after = self.scrape(daemon)
            a, b = parse_exposition(before), parse_exposition(after)
            keys = [k for k in a if not k[0].startswith(("process_", "wspushd_metrics_",
                                                          "wspushd_heartbeat_round_trip"))]
            if all(a[k] == b.get(k) for k in keys):
                break
            time.sleep(0.2)
        else:
            self.fail("the figures never held still for a scrape and a status")

        promtool_check(before)
        samples = a
        pairs = {
            "wspushd_messages_received_total": status["received"],
            "wspushd_messages_forwarded_total": status["forwarded"],
            "wspushd_messages_filtered_total": status["filtered"],
            "wspushd_messages_oversized_total": status["oversized"],
            "wspushd_messages_duplicates_total": status["duplicates"],
            "wspushd_upstream_gaps_total": status["upstream_gaps"],
            "wspushd_reconnects_total": status["reconnects"],
            "wspushd_store_first_seq": status["store"]["first"],
            "wspushd_store_last_seq": status["store"]["last"],
            "wspushd_store_bytes": status["store"]["bytes"],
        }
        for name, expected in pairs.items():
            with self.subTest(metric=name):
                self.assertEqual(value(samples, name), expected)
        self.assertEqual(status["forwarded"], 3020)
        self.assertEqual(status["received"], 3024)
        self.assertEqual(status["reconnects"], 1)
        self.assertEqual(value(samples, "wspushd_connects_total"), 2)
        self.assertEqual(value(samples, "wspushd_link_up", server=server.url()), 1)
        self.assertEqual(value(samples, "wspushd_info", server=server.url()), 1)
        self.assertEqual(status["last_seq"], 3020)
        for index, sink in enumerate(status["sinks"]):
            labels = {"sink": f"{sink['type']}:{index}", "name": sink["name"]}
            with self.subTest(sink=labels["sink"]):
                self.assertEqual(value(samples, "wspushd_sink_delivered_total", **labels),
                                 sink["forwarded"])
                self.assertEqual(value(samples, "wspushd_sink_dropped_total", **labels),
                                 sink["dropped"])
                self.assertEqual(value(samples, "wspushd_sink_lag_records", **labels),
                                 sink["lag"])
        self.assertEqual(value(samples, "wspushd_sink_delivered_total", sink="file:0"), 3020)
        self.assertGreater(value(samples, "wspushd_sink_dropped_total", sink="unix:1"), 0)
        self.assertEqual(value(samples, "wspushd_sink_queued_bytes", sink="file:0"), 0)

        # The round trip: cumulative buckets, the last one the count.
        buckets = sorted(((float(dict(pairs)["le"]), v) for (n, pairs), v in samples.items()
                          if n == "wspushd_heartbeat_round_trip_seconds_bucket"))
        self.assertEqual(buckets[-1], (float("inf"),
                                       value(samples, "wspushd_heartbeat_round_trip_seconds_count")))
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertLess(value(samples, "wspushd_heartbeat_round_trip_seconds_sum"),
                        buckets[-1][1] * 1.0)  # loopback: far below a second each

        # The process figures, under their standard names.
        pid = daemon.process.pid
        self.assertAlmostEqual(value(samples, "process_resident_memory_bytes") / 1024,
                               harness.rss_kib(pid), delta=8 * 1024)
        self.assertGreater(value(samples, "process_virtual_memory_bytes"),
                           value(samples, "process_resident_memory_bytes"))
        self.assertGreater(value(samples, "process_open_fds"), 5)
        self.assertGreaterEqual(value(samples, "process_max_fds"),
                                value(samples, "process_open_fds"))
        self.assertGreater(value(samples, "process_cpu_seconds_total"), 0)
        self.assertAlmostEqual(value(samples, "process_start_time_seconds"), started, delta=5)
        self.assertLess(value(samples, "wspushd_last_message_time_seconds"), time.time() + 1)
        self.assertGreater(value(samples, "wspushd_last_message_time_seconds"), time.time() - 60)

    def test_label_values_are_escaped(self):
        # A path may hold any byte but NUL: a quote, a backslash and a newline.
        odd = os.path.join(self.workdir, 'a"b\\c\nd.jsonl')
        sinks = f"  - type: file\n    path: {json.dumps(odd)}\n"
        _, daemon = self.start(sinks_yaml=sinks)
        text = self.scrape(daemon)
        self.assertIn('name="file ' + self.workdir + '/a\\"b\\\\c\\nd.jsonl"', text)
        samples = parse_exposition(text)
        self.assertEqual(value(samples, "wspushd_sink_delivered_total", sink="file:1"), 0)
        self.assertEqual(dict(next(p for (n, p) in samples
                                   if n == "wspushd_sink_delivered_total" and
                                   dict(p)["sink"] == "file:1"))["name"], "file " + odd)
        promtool_check(text)

    def test_only_get_metrics_is_served(self):
        _, daemon = self.start()
        port = daemon.metrics_port
        self.assertEqual(http_get(port, "/metrics?name[]=up")[0], 200)
        for path in ("/", "/metrics/", "/metricsx", "/api/v1/query", "/../metrics"):
            with self.subTest(path=path):
                self.assertEqual(http_get(port, path)[0], 404)
        address = ("127.0.0.1", port)
        for request, status in ((b"GET /metrics HTTP/1.0\r\n\r\n", b"200"),
                                (b"HEAD /metrics HTTP/1.1\r\n\r\n", b"404"),
                                (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"404"),
                                (b"GET /metrics\r\n\r\n", b"400"),
                                (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n", b"400")):
            with self.subTest(request=request):
                answer = raw_exchange(address, request)
                self.assertTrue(answer.startswith(b"HTTP/1.1 " + status), answer[:80])
                self.assertIn(b"\r\nConnection: close\r\n", answer)
        samples = parse_exposition(self.scrape(daemon))
        self.assertEqual(value(samples, "wspushd_metrics_requests_total", code="404"), 7)
        self.assertEqual(value(samples, "wspushd_metrics_requests_total", code="400"), 2)


class RealPrometheus(MetricsTestCase):
    """A prometheus server, started here on a free loopback port, scrapes the daemon."""

    def start_prometheus(self, target):
        executable = shutil.which("prometheus")
        self.assertTrue(executable, "prometheus not found: install Debian's prometheus package "
                                    "(scripts/test does)")
        for attempt in range(3):
            home = os.path.join(self.workdir, f"prometheus-{attempt}")
            os.makedirs(home)
            config = os.path.join(home, "prometheus.yml")
            with open(config, "w") as out:
                out.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                          "scrape_configs:\n  - job_name: wspushd\n    static_configs:\n"
                          f"      - targets: ['{target}']\n")
            port = free_port()
            log = open(os.path.join(home, "log"), "wb")
            self.addCleanup(log.close)
            process = subprocess.Popen(
                [executable, f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(home, 'data')}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=home)
            self.addCleanup(lambda p=process: (p.kill(), p.wait()))
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready",
                                                timeout=2) as ready:
                        if ready.status == 200:
                            return port
                except OSError:
                    pass
                time.sleep(0.1)
            with open(os.path.join(home, "log"), "rb") as lines:
                text = lines.read().decode(errors="replace")
            if "address already in use" not in text:
                self.fail(f"prometheus did not become ready: {text[-2000:]}")
        self.fail("no free port for prometheus in 3 tries")

    def query(self, port, expression):
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression})
        with urllib.request.urlopen(url, timeout=5) as answer:
            reply = json.load(answer)
        self.assertEqual(reply["status"], "success", reply)
        return reply["data"]["result"]

    def wait_value(self, port, expression, expected, timeout=30):
        deadline = time.monotonic() + timeout
        result = None
        while time.monotonic() < deadline:
            result = self.query(port, expression)
            if len(result) == 1 and float(result[0]["value"][1]) == expected:
                return result[0]
            time.sleep(0.25)
        self.fail(f"{expression}: {result}, wanted {expected} within {timeout} s")

    def test_prometheus_scrapes_the_daemon(self):
        # No heartbeat message: what the server pushed is the greeting and the 500 messages.
        server, daemon = self.start(heartbeat={"message": ""})
        self.push(server, 500)
        harness.wait_records(self.sink, 500)
        port = self.start_prometheus(f"127.0.0.1:{daemon.metrics_port}")
        up = self.wait_value(port, 'up{job="wspushd"}', 1)
        self.assertEqual(up["metric"]["instance"], f"127.0.0.1:{daemon.metrics_port}")
        received = self.wait_value(port, "wspushd_messages_received_total", 501)
        self.assertEqual(received["metric"]["job"], "wspushd")
        self.wait_value(port, "wspushd_messages_forwarded_total", 500)
        self.wait_value(port, "wspushd_link_up", 1)
        self.wait_value(port, 'wspushd_sink_delivered_total{sink="file:0"}', 500)
        self.assertEqual(len(self.query(port, "process_resident_memory_bytes")), 1)
        # Prometheus itself found nothing wrong with the exposition.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets",
                                    timeout=5) as answer:
            targets = json.load(answer)["data"]["activeTargets"]
        self.assertEqual([t["health"] for t in targets], ["up"])
        self.assertEqual([t["lastError"] for t in targets], [""])


class Textfile(MetricsTestCase):
    def test_textfile_is_never_seen_half_written(self):
        path = os.path.join(self.workdir, "wspushd.prom")
        server, daemon = self.start({"listen": "", "textfile": path, "interval": "100ms"})
        self.assertTrue(os.path.exists(path), "written at start")
        server.command("push 100000 200 500")
        reads, rewrites, received = 0, set(), []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            with open(path, "rb") as textfile:
                written = os.fstat(textfile.fileno())
                rewrites.add((written.st_ino, written.st_mtime_ns))
                text = textfile.read().decode()
            reads += 1
            self.assertTrue(text.endswith("\n"), f"read {reads}: cut short: {text[-80:]!r}")
            samples = parse_exposition(text)
            # The last family is whole: one sample per sink.
            self.assertEqual(len([k for k in samples if k[0] == "wspushd_sink_queued_bytes"]), 1,
                             f"read {reads}: {text[-200:]!r}")
            received.append(value(samples, "wspushd_messages_received_total"))
        self.assertGreaterEqual(len(rewrites), 20, f"{reads} reads saw {len(rewrites)} files")
        self.assertEqual(received, sorted(received))
        self.assertGreater(received[-1], received[0])
        promtool_check(text)
        # node_exporter has its own process_* figures and would refuse the same names again.
        self.assertNotIn("process_", text)
        daemon.stop()
        self.assertTrue(os.path.exists(path))

    def test_a_textfile_that_cannot_be_written(self):
        missing = os.path.join(self.workdir, "missing", "wspushd.prom")
        server = self.server()
        daemon = self.daemon(self.config(server, {"textfile": missing}))
        self.assertEqual(daemon.wait_exit(), 1)
        daemon.log.wait_for_text("missing/wspushd.prom.tmp")


class Hostile(MetricsTestCase):
    def test_hostile_clients_cannot_stall_the_loop_or_grow_memory(self):
        socket_path = os.path.join(self.workdir, "wspushd.sock")
        server, daemon = self.start(sinks_yaml=harness.unix_sink_yaml(socket_path))
        pid, port = daemon.process.pid, daemon.metrics_port
        address = ("127.0.0.1", port)
        server.command("push 60000 200 2000")  # 30 s of a steady stream
        harness.wait_records(self.sink, 500)
        for _ in range(20):
            self.scrape(daemon)
        fds_before, rss_before = open_fds(pid), harness.rss_kib(pid)
        attack_start = datetime.datetime.now(datetime.timezone.utc)

        # A request line without end, a MiB of it: answered 400 and closed.
        with socket.create_connection(address, timeout=5) as huge:
            try:
                huge.sendall(b"GET /" + b"a" * (1 << 20))
            except OSError:
                pass  # the daemon stopped reading and closed: as it should
            try:
                answer = huge.recv(65536)
                while chunk := huge.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                answer = b""
            self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:80])

        # A slow client that finishes, a byte at a time, is answered.
        with socket.create_connection(address, timeout=5) as slow:
            slow.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n":
                slow.send(bytes([byte]))
                time.sleep(0.01)
            answer = b""
            while chunk := slow.recv(65536):
                answer += chunk
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK"), answer[:80])

        # One that never finishes, a header line a second: cut off after the request time.
        loris = socket.create_connection(address, timeout=20)
        self.addCleanup(loris.close)
        loris.sendall(b"GET /metrics HTTP/1.1\r\n")
        loris_closed = threading.Event()

        def drip():
            try:
                for n in range(30):
                    loris.sendall(b"X-%d: y\r\n" % n)
                    if loris_closed.wait(1):
                        return
            except OSError:
                pass
        threading.Thread(target=drip, daemon=True).start()
        loris_start = time.monotonic()

        # 500 connections: half idle, half asking and never reading the answer.
        crowd = []
        for n in range(500):
            crowd.append(socket.create_connection(address, timeout=5))
            if n % 2:
                crowd[-1].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.addCleanup(lambda: [c.close() for c in crowd])

        # Meanwhile: scrapes and the status answer at once, records keep flowing.
        lines_before = len(harness.read_records(self.sink))
        for _ in range(5):
            started = time.monotonic()
            self.scrape(daemon)
            self.assertLess(time.monotonic() - started, 1.0 * SLOWER)
        started = time.monotonic()
        status = harness.run_ctl("--socket", socket_path, "status", "--json", timeout=5)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertLess(time.monotonic() - started, 2.0 * SLOWER)
        self.assertLessEqual(open_fds(pid), fds_before + MAX_CONNECTIONS + 8)
        harness.wait_until(lambda: len(harness.read_records(self.sink)) > lines_before + 500,
                           "records flowing during the attack")
        self.assertLess(harness.rss_kib(pid) - rss_before, RSS_GROWTH_BOUND_KIB)

        # The slow loris is cut off within the request time (lws checks once a second).
        loris.settimeout(20)
        try:
            while loris.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError, socket.timeout):
            pass
        loris_closed.set()
        self.assertLess(time.monotonic() - loris_start, 10 + 3)

        # No gap in the stream: each record's receive time within a second of the last.
        times = [t for t in record_times(self.sink) if t >= attack_start]
        self.assertGreater(len(times), 1000)
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        self.assertLess(max(gaps), 1.0 * SLOWER)

        samples = parse_exposition(self.scrape(daemon))
        # The idle half was evicted (the others' answers fit in their socket buffers).
        self.assertGreaterEqual(value(samples, "wspushd_metrics_connections_dropped_total"),
                                250 - MAX_CONNECTIONS)
        self.assertGreaterEqual(value(samples, "wspushd_metrics_requests_total", code="400"), 1)
        self.assertLessEqual(value(samples, "process_open_fds"),
                             fds_before + MAX_CONNECTIONS + 8)


class Listening(MetricsTestCase):
    def test_unix_socket_listener(self):
        path = os.path.join(self.workdir, "metrics.sock")
        _, daemon = self.start({"listen": f"unix:{path}"})
        answer = raw_exchange(path, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                              family=socket.AF_UNIX)
        head, body = answer.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"))
        promtool_check(body.decode())
        # A second daemon cannot take the path over.
        other_dir = os.path.join(self.workdir, "other")
        os.makedirs(other_dir)
        other = harness.Daemon(other_dir, harness.config_yaml(
            self.server().url(), extra=f"metrics:\n  listen: unix:{path}\n"))
        self.addCleanup(other.kill)
        self.assertEqual(other.wait_exit(), 1)
        other.log.wait_for_text("is in use by another process")
        self.assertEqual(daemon.stop(), 0)
        self.assertFalse(os.path.exists(path), "the socket file is removed at exit")

    def test_a_port_in_use_fails_the_start(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = self.server()
            daemon = self.daemon(self.config(server, {"listen": f"127.0.0.1:{port}"}))
            self.assertEqual(daemon.wait_exit(), 1)
            daemon.log.wait_for_text(f"metrics: cannot listen on 127.0.0.1:{port}")

    def test_ipv6_listener(self):
        if not harness.ipv6_loopback_available():
            self.skipTest("no IPv6 loopback here")
        _, daemon = self.start({"listen": "[::1]:0"})
        answer = raw_exchange(("::1", daemon.metrics_port), b"GET /metrics HTTP/1.1\r\n\r\n",
                              family=socket.AF_INET6)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK"))

    def test_reload_moves_the_listener_and_a_bad_one_keeps_it(self):
        server, daemon = self.start()
        old_port = daemon.metrics_port
        metrics_path = os.path.join(self.workdir, "metrics.sock")
        daemon.rewrite_config(self.config(server, {"listen": f"unix:{metrics_path}"}))
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reloaded")
        with self.assertRaises(OSError):
            http_get(old_port)
        answer = raw_exchange(metrics_path, b"GET /metrics HTTP/1.1\r\n\r\n",
                              family=socket.AF_UNIX)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK"))

        # A port in use: the reload is rejected and the socket kept.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            daemon.rewrite_config(self.config(server, {"listen": f"127.0.0.1:{port}"}))
            daemon.signal(signal.SIGHUP)
            daemon.log.wait_for_text("reload rejected")
        answer = raw_exchange(metrics_path, b"GET /metrics HTTP/1.1\r\n\r\n",
                              family=socket.AF_UNIX)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK"))

        # Off: the socket goes.
        daemon.rewrite_config(self.config(server, {"listen": ""}))
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reloaded")
        self.assertFalse(os.path.exists(metrics_path))


if __name__ == "__main__":
    harness.main()
