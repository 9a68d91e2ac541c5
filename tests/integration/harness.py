# SPDX-License-Identifier: MIT
"""Runs the real wspushd against the real bundled server on loopback.

Every wait is bounded and awaits an event (a line printed, a record written) rather than
sleeping a guessed time.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

BUILD_DIR = os.environ["WSPUSH_BUILD_DIR"]
WSPUSHD = os.path.join(BUILD_DIR, "src", "daemon", "wspushd")
TESTSERVER = os.path.join(BUILD_DIR, "src", "testserver", "wspush-testserver")
SOURCE_DIR = os.environ["WSPUSH_SOURCE_DIR"]

DEFAULT_WAIT = 10.0


class LineReader:
    """Collects a pipe's lines in a thread so tests can wait for one."""

    def __init__(self, pipe, name):
        self.lines = queue.Queue()
        self.seen = []
        self.name = name
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        for raw in pipe:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, predicate, timeout=DEFAULT_WAIT, what="a line"):
        """Returns the first new line for which predicate(line) is true."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout} s; "
                                     f"saw: {self.seen[-15:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)
                raise AssertionError(f"{self.name}: ended before {what}; saw: {self.seen[-15:]}")
            self.seen.append(line)
            if predicate(line):
                return line

    def wait_for_text(self, text, timeout=DEFAULT_WAIT):
        return self.wait_for(lambda line: text in line, timeout, repr(text))

    def drain(self):
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self.lines.put(None)
                return
            self.seen.append(line)


class TestServer:
    """wspush-testserver driven through its stdin/stdout protocol."""

    def __init__(self, *args, port=0):
        self.args = list(args)
        self.start(port)

    def start(self, port=0):
        self.process = subprocess.Popen(
            [TESTSERVER, "--port", str(port), *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.out = LineReader(self.process.stdout, "testserver")
        line = self.out.wait_for(lambda l: l.startswith("listening "), what="listening")
        self.port = int(line.split()[1])

    def url(self, user="u1"):
        return f"ws://127.0.0.1:{self.port}/websocket/{user}"

    def command(self, text, timeout=DEFAULT_WAIT):
        verb = text.split()[0]
        self.process.stdin.write((text + "\n").encode())
        self.process.stdin.flush()
        self.out.wait_for(lambda l: l == f"ok {verb}" or l.startswith("error "),
                          timeout, f"ok {verb}")

    def wait_for(self, prefix, timeout=DEFAULT_WAIT):
        return self.out.wait_for(lambda l: l.startswith(prefix), timeout, repr(prefix))

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=DEFAULT_WAIT)

    def restart(self):
        """Stops and starts again on the same port."""
        port = self.port
        self.stop()
        self.start(port)


class Daemon:
    """A wspushd process with a config written from a dict-like YAML text."""

    def __init__(self, workdir, config_text, args=()):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "wspushd.yaml")
        with open(self.config_path, "w") as config:
            config.write(config_text)
        self.process = subprocess.Popen(
            [WSPUSHD, "--config", self.config_path, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.log = LineReader(self.process.stderr, "wspushd")

    def rewrite_config(self, config_text):
        with open(self.config_path, "w") as config:
            config.write(config_text)

    def signal(self, number):
        self.process.send_signal(number)

    def stop(self, timeout=DEFAULT_WAIT):
        """SIGTERM; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"wspushd did not exit within {timeout} s of SIGTERM")

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def wait_exit(self, timeout=DEFAULT_WAIT):
        return self.process.wait(timeout=timeout)


def config_yaml(url, sink_path=None, heartbeat=None, reconnect=None, server=None, extra=""):
    """A config text with fast test timings unless overridden."""
    heartbeat = {"interval": "30s", "ping_interval": "20s", "timeout": "60s",
                 **(heartbeat or {})}
    reconnect = {"initial_delay": "200ms", "max_delay": "2s", "jitter": "0.2",
                 "stable_after": "1s", **(reconnect or {})}
    lines = ["server:", f"  url: {url}"]
    lines += [f"  {key}: {value}" for key, value in (server or {}).items()]
    lines += ["heartbeat:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in heartbeat.items()]
    lines += ["reconnect:"]
    lines += [f"  {key}: {value}" for key, value in reconnect.items()]
    lines += ["filter:", '  drop: ["SUCCESS", "来自后台的反馈:连接成功"]']
    if sink_path:
        lines += ["sinks:", "  - type: file", f"    path: {sink_path}"]
    return "\n".join(lines) + "\n" + extra


def read_records(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as sink:
        data = sink.read()
    complete = data[:data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.decode("utf-8").splitlines()]


def wait_records(path, count, timeout=DEFAULT_WAIT):
    """Waits until the file holds at least `count` records; returns them all."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(path)
        if len(records) >= count:
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {len(records)} records, wanted {count} "
                                 f"within {timeout} s")
        time.sleep(0.02)  # polling a file: no event to await


class DaemonTestCase(unittest.TestCase):
    """Gives each test a scratch directory, and stops what it started."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="wspush-it-")
        self.sink = os.path.join(self.workdir, "messages.jsonl")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def server(self, *args):
        server = TestServer(*args)
        self.addCleanup(server.stop)
        return server

    def daemon(self, config_text, args=()):
        daemon = Daemon(self.workdir, config_text, args)
        self.addCleanup(daemon.kill)
        return daemon


def main():
    unittest.main(verbosity=2)
