# SPDX-License-Identifier: MIT
"""Runs the real wspushd against the real bundled server on loopback.

Every wait is bounded and awaits an event (a line printed, a record written) rather than
sleeping a guessed time.
"""

import json
import os
import queue
import re
import select
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

BUILD_DIR = os.environ["WSPUSH_BUILD_DIR"]
WSPUSHD = os.path.join(BUILD_DIR, "src", "daemon", "wspushd")
TESTSERVER = os.path.join(BUILD_DIR, "src", "testserver", "wspush-testserver")
WSPUSHCTL = os.path.join(BUILD_DIR, "src", "ctl", "wspushctl")
SOURCE_DIR = os.environ["WSPUSH_SOURCE_DIR"]
# Set by `scripts/test --sanitize`: the binaries run under ASan, which costs memory (shadow
# memory, a quarantine of freed blocks) and time.
SANITIZED = os.environ.get("WSPUSH_SANITIZED") == "1"

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

    def read_to_end(self, timeout=DEFAULT_WAIT):
        """Waits for the pipe's end; returns every line seen, from the first."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"{self.name}: still open after {timeout} s; "
                                 f"saw: {self.seen[-15:]}")
        self.drain()
        return self.seen


class BytesLineReader(LineReader):
    """A LineReader that keeps each line as bytes, without its newline."""

    def _read(self, pipe):
        for raw in pipe:
            self.lines.put(raw[:-1] if raw.endswith(b"\n") else raw)
        self.lines.put(None)


class TestServer:
    """wspush-testserver driven through its stdin/stdout protocol."""

    def __init__(self, *args, port=0):
        self.args = list(args)
        self.start(port)

    def start(self, port=0):
        self.spawn([TESTSERVER, "--port", str(port), *self.args])

    def spawn(self, argv):
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
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
    """A wspushd process with a config written from a dict-like YAML text.

    `env`, when given, adds to (or overrides) this process's environment for the daemon;
    `wrapper` is a command line to run it under (e.g. systemd-socket-activate).
    """

    def __init__(self, workdir, config_text, args=(), env=None, wrapper=()):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "wspushd.yaml")
        with open(self.config_path, "w") as config:
            config.write(config_text)
        self.process = subprocess.Popen(
            [*wrapper, WSPUSHD, "--config", self.config_path, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=None if env is None else {**os.environ, **env})
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


class Ctl:
    """A running `wspushctl ARGS...` (e.g. `tail`): stdout and stderr read line by line.

    `binary` keeps the stdout lines as bytes (for `tail --raw`); `env` adds to (or
    overrides) this process's environment.
    """

    def __init__(self, *args, env=None, binary=False):
        self.process = subprocess.Popen(
            [WSPUSHCTL, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=None if env is None else {**os.environ, **env})
        reader = BytesLineReader if binary else LineReader
        self.out = reader(self.process.stdout, "wspushctl stdout")
        self.err = LineReader(self.process.stderr, "wspushctl stderr")

    def signal(self, number):
        self.process.send_signal(number)

    def wait_exit(self, timeout=DEFAULT_WAIT):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"wspushctl did not exit within {timeout} s") from None

    def stop(self, number=None, timeout=DEFAULT_WAIT):
        """Sends `number` (SIGTERM by default); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if number is None else number)
        return self.wait_exit(timeout)

    def kill(self):
        """SIGKILL (a stopped process too), then closes the pipes once read to their end."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader, pipe in ((self.out, self.process.stdout), (self.err, self.process.stderr)):
            reader.thread.join(DEFAULT_WAIT)
            if not reader.thread.is_alive():
                pipe.close()


def run_ctl(*args, input=None, env=None, timeout=DEFAULT_WAIT * 2):
    """Runs `wspushctl ARGS...` to its end; returns the CompletedProcess (bytes)."""
    return subprocess.run(
        [WSPUSHCTL, *args], input=input, capture_output=True, timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
        env=None if env is None else {**os.environ, **env})


def wait_until(predicate, what, timeout=DEFAULT_WAIT):
    """Polls `predicate` (for what no event exists, such as a port opening)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def ipv6_loopback_available():
    """Whether ::1 can be bound here (some containers have no IPv6 loopback)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def config_yaml(url, sink_path=None, heartbeat=None, reconnect=None, server=None, extra="",
                sinks_yaml=""):
    """A config text with fast test timings unless overridden.

    `sinks_yaml` holds more sink items (see unix_sink_yaml), after the file sink if any.
    """
    heartbeat = {"interval": "30s", "ping_interval": "20s", "timeout": "60s",
                 **(heartbeat or {})}
    reconnect = {"initial_delay": "200ms", "max_delay": "2s", "jitter": "0.2",
                 "stable_after": "1s", "fleet_spread": "0s", **(reconnect or {})}
    lines = ["server:", f"  url: {url}"]
    lines += [f"  {key}: {value}" for key, value in (server or {}).items()]
    lines += ["heartbeat:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in heartbeat.items()]
    lines += ["reconnect:"]
    lines += [f"  {key}: {value}" for key, value in reconnect.items()]
    lines += ["filter:", '  drop: ["SUCCESS", "来自后台的反馈:连接成功"]']
    if sink_path or sinks_yaml:
        lines += ["sinks:"]
    if sink_path:
        lines += ["  - type: file", f"    path: {sink_path}"]
    return "\n".join(lines) + "\n" + sinks_yaml + extra


def unix_sink_yaml(path, **settings):
    """One `unix` sink item for config_yaml(sinks_yaml=...); values are written as JSON."""
    lines = ["  - type: unix", f"    path: {json.dumps(path)}"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


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


def run(*command, input=None):
    """Runs a set-up command; its failure fails the test."""
    subprocess.run(command, check=True, capture_output=True, timeout=DEFAULT_WAIT,
                   input=input, text=True)


def namespaces_refused():
    """Why network namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    name = "wsp-probe-" + uuid.uuid4().hex[:6]
    result = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if result.returncode != 0:
        return "the kernel refused a network namespace: " + result.stderr.strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


class NetnsServer(TestServer):
    """The bundled server inside the network namespace `namespace`, on `address`; url()
    names `host` (the address itself unless given)."""

    def __init__(self, namespace, address, *args, host=None):
        self.namespace, self.address, self.host = namespace, address, host or address
        super().__init__(*args)

    def start(self, port=0):
        self.spawn(["ip", "netns", "exec", self.namespace, TESTSERVER, "--host", self.address,
                    "--port", str(port), *self.args])

    def url(self, user="u1"):
        return f"ws://{self.host}:{self.port}/websocket/{user}"


def tcp_bytes(port, direction):
    """What the daemon's established TCP connection to `port` has carried so far (ss -i):
    `direction` is "received" or "sent"."""
    output = subprocess.run(["ss", "-tinH", "state", "established", f"dport = :{port}"],
                            capture_output=True, text=True, check=True).stdout
    found = re.search(rf"bytes_{direction}:(\d+)", output)
    if found is None:
        raise AssertionError(f"no connection to port {port}: {output!r}")
    return int(found.group(1))


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as info:
        fields = info.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """A process's resident set size (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def unix_address(path):
    """The address to connect to: `@name` is the abstract namespace."""
    return "\0" + path[1:] if path.startswith("@") else path


class UnixReader:
    """A client of the daemon's Unix socket: writes requests, reads JSON lines.

    Lines are kept as bytes without their newline; every wait is bounded.
    """

    def __init__(self, path, timeout=DEFAULT_WAIT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(unix_address(path))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.partial = b""
        self.lines = []
        self.taken = 0
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()

    def request(self, request, timeout=DEFAULT_WAIT):
        """Writes one line: a dict as JSON, str or bytes as they are."""
        if isinstance(request, dict):
            request = json.dumps(request)
        if isinstance(request, str):
            request = request.encode()
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(request + b"\n")
        finally:
            self.sock.setblocking(False)

    def receive(self):
        """Takes what the socket holds now; False once the daemon closed it."""
        while not self.eof:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                return True
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                break
            pieces = (self.partial + data).split(b"\n")
            self.partial = pieces.pop()
            self.lines.extend(pieces)
        return False

    def pending(self):
        return len(self.lines) - self.taken

    def last_lines(self, count=3):
        """The last lines received, shortened, for failure messages."""
        return [line[:160] for line in self.lines[-count:]]

    def fill(self, count, timeout=DEFAULT_WAIT):
        """Waits until `count` unread lines are held, the socket closed, or time is up."""
        deadline = time.monotonic() + timeout
        while self.receive() and self.pending() < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            select.select([self.sock], [], [], left)

    def take_lines(self, count, timeout=DEFAULT_WAIT):
        """The next `count` lines as bytes; fails if they do not come in time."""
        self.fill(count, timeout)
        if self.pending() < count:
            raise AssertionError(f"got {self.pending()} of {count} lines within {timeout} s "
                                 f"(closed: {self.eof}); last: {self.last_lines()}")
        lines = self.lines[self.taken:self.taken + count]
        self.taken += count
        return lines

    def next(self, timeout=DEFAULT_WAIT):
        """The next line, parsed."""
        return json.loads(self.take_lines(1, timeout)[0])

    def wait_for(self, predicate, timeout=DEFAULT_WAIT, what="a line"):
        """Skips lines until predicate(parsed line) holds; returns that line."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.next(max(left, 0))
            except AssertionError:
                raise AssertionError(f"no {what} within {timeout} s; last lines: "
                                     f"{self.last_lines(5)}") from None
            if predicate(line):
                return line

    def wait_event(self, name, timeout=DEFAULT_WAIT):
        return self.wait_for(lambda line: line.get("event") == name, timeout,
                             f"{name!r} event")

    def records(self, count, timeout=DEFAULT_WAIT):
        """The next `count` lines, parsed."""
        return [json.loads(line) for line in self.take_lines(count, timeout)]

    def status(self, timeout=DEFAULT_WAIT):
        """Asks for and returns the daemon's status event."""
        self.request({"op": "status"})
        return self.wait_event("status", timeout)

    def lines_before_status(self):
        """Asks for the status; returns the lines (parsed) that came before its answer."""
        self.request({"op": "status"})
        before = []
        while (line := self.next()).get("event") != "status":
            before.append(line)
        return before

    def wait_closed_unread(self, timeout=DEFAULT_WAIT):
        """Waits, without reading, until the daemon has closed its end."""
        poller = select.poll()
        poller.register(self.sock, select.POLLRDHUP)
        if not poller.poll(timeout * 1000):
            raise AssertionError(f"the daemon did not close the socket within {timeout} s")

    def read_to_end(self, timeout=DEFAULT_WAIT):
        """Everything left until the daemon closes: (lines, bytes after the last newline)."""
        deadline = time.monotonic() + timeout
        while self.receive():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the socket stayed open for {timeout} s")
            select.select([self.sock], [], [], left)
        lines = self.lines[self.taken:]
        self.taken = len(self.lines)
        return lines, self.partial


def fill_all(readers, count, timeout=DEFAULT_WAIT):
    """Reads all readers at once until each holds `count` unread lines (or closed)."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        waiting = [r for r in readers if r.pending() < count and not r.eof]
        for reader in waiting:
            selector.register(reader, selectors.EVENT_READ)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in selector.select(left):
                reader = key.fileobj
                if not reader.receive() or reader.pending() >= count:
                    selector.unregister(reader)
                    waiting.remove(reader)
    short = [r.pending() for r in readers if r.pending() < count]
    if short:
        raise AssertionError(f"{len(short)} readers short of {count} lines after {timeout} s: "
                             f"{short[:10]}")


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

    def daemon(self, config_text, args=(), env=None, wrapper=()):
        daemon = Daemon(self.workdir, config_text, args, env, wrapper)
        self.addCleanup(daemon.kill)
        return daemon

    def unix_reader(self, path, timeout=DEFAULT_WAIT):
        reader = UnixReader(path, timeout)
        self.addCleanup(reader.close)
        return reader

    def ctl(self, *args, env=None, binary=False):
        ctl = Ctl(*args, env=env, binary=binary)
        self.addCleanup(ctl.kill)
        return ctl


def main():
    unittest.main(verbosity=2)
