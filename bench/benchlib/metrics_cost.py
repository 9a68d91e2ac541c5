# SPDX-License-Identifier: MIT
"""What the metrics cost: the same throughput setup as throughput.Pipeline (wspushd, 200 B,
a file sink and one Unix-socket reader) twice, side by side: one daemon with no scraper,
one with metrics.listen and a scraper pulling GET /metrics every 100 ms through each run.
The runs go round the two setups, so a machine that gets busier slows both alike. Also the
scrape itself: its latency, and the daemon's CPU per scrape while idle."""

import http.client
import re
import statistics
import threading
import time

from .processes import BenchError, cpu_seconds, stop_all
from .setups import daemon_config, start_daemon, start_server
from .throughput import Pipeline, median_figures, next_count, wait_for_path

SCRAPE_INTERVAL = 0.1
LISTENING = re.compile(r"metrics: serving GET /metrics on 127\.0\.0\.1:(\d+)")


def scrape(port, timeout=5.0):
    """One GET /metrics; returns the body's length, throws BenchError unless it is a 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
    except OSError as error:
        raise BenchError(f"GET /metrics on port {port}: {error}") from error
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"GET /metrics on port {port}: status {response.status}")
    return len(body)


class Scraper:
    """Pulls GET /metrics every SCRAPE_INTERVAL in a thread, timing each pull."""

    def __init__(self, port):
        self.port = port
        self.latencies = []
        self.error = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                scrape(self.port)
            except BenchError as error:
                self.error = error
                return
            self.latencies.append(time.monotonic() - started)
            next_at += SCRAPE_INTERVAL
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def stop(self):
        self.stopping.set()
        self.thread.join()
        if self.error:
            raise self.error


class Scraped(Pipeline):
    """throughput.Pipeline's wspushd, with metrics.listen, scraped during each measure()."""

    def __init__(self, tools, workdir, size):
        self.tools, self.size, self.label = tools, size, "wspushd-scraped"
        name = f"{self.label}-{size}"
        self.file_path = workdir.sink(name + ".jsonl")
        self.socket_path = workdir.file(name + ".sock")
        self.server, port = start_server(tools, workdir, name + "-server")
        self.process = None
        self.latencies = []
        try:
            config = daemon_config(f"ws://127.0.0.1:{port}/websocket/{self.label}",
                                   self.file_path, self.socket_path)
            config += "metrics:\n  listen: 127.0.0.1:0\n"
            self.process = start_daemon(tools, workdir, name, self.server, config)
            wait_for_path(self.socket_path, self.process)
            self.port = metrics_port(workdir.file(name + ".log"), self.process)
        except BaseException:
            self.stop()
            raise

    def measure(self, count):
        scraper = Scraper(self.port)
        try:
            figures = super().measure(count)
        finally:
            scraper.stop()
        self.latencies += scraper.latencies
        figures["scrapes"] = len(scraper.latencies)
        return figures

    def idle_cpu_per_scrape_us(self, seconds):
        """The daemon idle for `seconds` without, then with the scraper: CPU µs per scrape."""
        before = cpu_seconds(self.process.pid)
        time.sleep(seconds)
        quiet = cpu_seconds(self.process.pid) - before
        scraper = Scraper(self.port)
        before = cpu_seconds(self.process.pid)
        time.sleep(seconds)
        scraped = cpu_seconds(self.process.pid) - before
        scraper.stop()
        self.latencies += scraper.latencies
        if not scraper.latencies:
            raise BenchError("no scrape answered while idle")
        return max(0.0, scraped - quiet) / len(scraper.latencies) * 1e6, len(scraper.latencies)


def metrics_port(log_path, process, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_alive()
        with open(log_path) as log:
            if match := LISTENING.search(log.read()):
                return int(match.group(1))
        time.sleep(0.02)
    raise BenchError(f"{log_path}: no \"metrics: serving GET /metrics\" line")


def run(tools, workdir, count, runs, seconds=None, idle_seconds=2.0):
    """Both setups, `runs` times round, `count` messages in each first run (later runs take
    about `seconds` when given). Returns {"plain": figures, "scraped": figures} with the
    medians, plus the scrape latencies (ms) and the idle CPU per scrape."""
    plain = scraped = None
    try:
        plain = Pipeline(tools, workdir, 200, "wspushd")
        scraped = Scraped(tools, workdir, 200)
        setups = {"plain": plain, "scraped": scraped}
        results = {key: [] for key in setups}
        used = {key: [] for key in setups}
        for _ in range(runs):
            for key, setup in setups.items():
                this = (count if not used[key] else
                        next_count(used[key][-1], results[key][-1]["rate"], seconds, count))
                used[key].append(this)
                results[key].append(setup.measure(this))
        figures = {key: median_figures(results[key]) for key in setups}
        cpu_us, idle_scrapes = scraped.idle_cpu_per_scrape_us(idle_seconds)
        latencies = sorted(scraped.latencies)
        figures["scrape"] = {
            "count": len(latencies),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
            "idle_cpu_us": cpu_us,
            "idle_scrapes": idle_scrapes,
            "bytes": scrape(scraped.port),
        }
        return figures
    finally:
        stop_all([setup for setup in (plain, scraped) if setup is not None])


if __name__ == "__main__":
    raise SystemExit("run through bench/run --only metrics")
