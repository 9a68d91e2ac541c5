# SPDX-License-Identifier: MIT
"""Records/s from wspushd into real brokers, next to the brokers' own clients, same run:
- Mosquitto (a `mosquitto` started here on a free loopback port): wspushd with only an mqtt
  sink (`format: raw`, so each MQTT message is the pushed 200 B message) at QoS 0 and at
  QoS 1, next to `mosquitto_pub -l` fed the same number of 200 B lines at the same QoS. The
  figure is N / the time from the push (or mosquitto_pub's start) until a `mosquitto_sub
  -C N`, subscribed before, has all N and exits.
- Redis (a `redis-server` started here): wspushd with only a redis sink, next to
  `redis-benchmark` sending the same XADD (seq, ts and a 200 B data field, MAXLEN ~) on one
  connection, pipelined 1,000 deep like the sink. The figure is N / the time from the push
  until the stream's newest entry has the last record's seq.
- The daemon's CPU per record over that window (cpu_seconds); the baselines' own CPU per
  record (their rusage).

Each setup (one server and one daemon) stays up for all runs; the runs go round the setups,
so a machine that gets busier slows all alike."""

import os
import pwd
import shutil
import socket
import statistics
import subprocess
import threading
import time

from .processes import BenchError, cpu_seconds, stop_all
from .setups import daemon_config, start_daemon, start_server

MOSQUITTO = ["/usr/sbin/mosquitto", "mosquitto"]
SIZE = 200
WARM_UP = 10
MAX_LEN = 100_000


def find(names):
    for name in names:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    return None


def missing(programs, packages):
    """Why these programs cannot run here, or None."""
    absent = [name for name in programs
              if not find(MOSQUITTO if name == "mosquitto" else [name])]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install {packages})"
    return None


def mqtt_refused():
    return missing(["mosquitto", "mosquitto_sub", "mosquitto_pub"],
                   "mosquitto mosquitto-clients")


def redis_refused():
    return missing(["redis-server", "redis-benchmark"], "redis-server redis-tools")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port, process, label, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise BenchError(f"{label} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(f"{label}: nothing listens on port {port} after {timeout:g} s")
            time.sleep(0.02)


def payload(seq=0):
    """A 200 B JSON line, as the bundled server's messages are."""
    head = '{"type":"bench","seq":%d,"pad":"' % seq
    return head + "x" * (SIZE - len(head) - 2) + '"}'


def waited(process):
    """(exit status, CPU seconds) of a child Popen, from wait4."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def stop_process(process):
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


class Broker:
    """A broker process on a free loopback port in the run's temporary directory."""

    def __init__(self, workdir, label, command_for_port):
        self.port = free_port()
        self.label = label
        self.process = subprocess.Popen(command_for_port(self.port), stdin=subprocess.DEVNULL,
                                        stdout=workdir.log(label), stderr=subprocess.STDOUT,
                                        cwd=workdir.path)
        try:
            wait_port(self.port, self.process, label)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        stop_process(self.process)


def start_mosquitto(workdir):
    config = workdir.file("mosquitto.conf")
    log = workdir.file("mosquitto-broker.log")

    def command(port):
        with open(config, "w") as out:
            # No limit on what waits for the subscriber (the default 1000 would drop QoS 1
            # messages to a subscriber that falls behind), no persistence file.
            # As root, mosquitto would become the user "mosquitto", who cannot write here.
            out.write(f"user {pwd.getpwuid(os.geteuid()).pw_name}\n")
            out.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      f"max_queued_messages 0\nlog_dest file {log}\nlog_type error\n"
                      "log_type warning\nlog_type notice\nlog_type subscribe\n")
        return [find(MOSQUITTO), "-c", config]
    broker = Broker(workdir, "mosquitto", command)
    broker.log = log
    return broker


def start_redis(workdir):
    def command(port):
        return [find(["redis-server"]), "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", workdir.path,
                "--daemonize", "no", "--protected-mode", "no"]
    return Broker(workdir, "redis-server", command)


class Subscriber:
    """mosquitto_sub -C COUNT, subscribed (the broker logged its SUBSCRIBE) before it
    returns; done() waits for its exit."""

    def __init__(self, workdir, broker, topic, qos, count, name):
        self.count = count
        self.log = workdir.file(name + ".log")
        offset = os.path.getsize(broker.log) if os.path.exists(broker.log) else 0
        self.process = subprocess.Popen(
            [find(["mosquitto_sub"]), "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
             "-q", str(qos), "-C", str(count), "-i", name],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=workdir.log(name))
        self.exited_at = None
        self.waiter = threading.Thread(target=self._wait, daemon=True)
        self.waiter.start()
        subscribed = f": {name} {qos} {topic}\n"
        deadline = time.monotonic() + 10
        while True:
            if os.path.exists(broker.log):
                with open(broker.log) as text:
                    text.seek(offset)
                    if subscribed in text.read():
                        break
            if self.exited_at is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"mosquitto_sub on port {broker.port}: not subscribed within "
                                 f"10 s (see {broker.log})")
            time.sleep(0.005)

    def _wait(self):
        self.process.wait()
        self.exited_at = time.monotonic()

    def done(self, timeout):
        """When the subscriber had all COUNT (monotonic); throws when it did not."""
        self.waiter.join(timeout)
        if self.exited_at is None or self.process.returncode != 0:
            self.stop()
            raise BenchError(f"mosquitto_sub: not all {self.count} messages within "
                             f"{timeout:g} s")
        return self.exited_at

    def stop(self):
        stop_process(self.process)


class MqttDaemon:
    """The bundled server and wspushd with one mqtt sink at `qos`."""

    def __init__(self, tools, workdir, broker, qos):
        self.tools, self.workdir, self.broker, self.qos = tools, workdir, broker, qos
        self.label = f"wspushd-mqtt-q{qos}"
        self.topic = f"bench/{self.label}"
        self.server, port = start_server(tools, workdir, self.label + "-server")
        self.process = None
        try:
            sink = (f"sinks:\n  - type: mqtt\n    url: mqtt://127.0.0.1:{broker.port}\n"
                    f"    topic: {self.topic}\n    qos: {qos}\n    format: raw\n"
                    f"    client_id: {self.label}\n")
            config = daemon_config(f"ws://127.0.0.1:{port}/websocket/{self.label}")
            config = config.replace("sinks: []\n", sink)
            self.process = start_daemon(tools, workdir, self.label, self.server, config)
            self.measure(WARM_UP)  # connected to the broker, session set up
        except BaseException:
            self.stop()
            raise

    def measure(self, count):
        subscriber = Subscriber(self.workdir, self.broker, self.topic, self.qos, count,
                                self.label + "-sub")
        try:
            started, before = time.monotonic(), cpu_seconds(self.process.pid)
            self.server.send(f"push {count} {SIZE} 0")
            finished = subscriber.done(timeout=60 + count / 2000)
            used = cpu_seconds(self.process.pid) - before
            self.server.wait_for(f"pushed {count}", timeout=60)
        finally:
            subscriber.stop()
        self.process.check_alive()
        window = finished - started
        return {"rate": count / window, "cpu_us": used / count * 1e6, "cpu_share": used / window}

    def stop(self):
        stop_all([self.process, self.server])


class MqttBaseline:
    """mosquitto_pub -l fed COUNT lines of 200 B at `qos` (its own client: clean session,
    libmosquitto's default of 20 in flight at QoS 1)."""

    def __init__(self, workdir, broker, qos):
        self.workdir, self.broker, self.qos = workdir, broker, qos
        self.label = f"mosquitto_pub-q{qos}"
        self.topic = f"bench/{self.label}"

    def measure(self, count):
        lines = self.workdir.file(f"{self.label}-{count}.txt")
        if not os.path.exists(lines):
            with open(lines, "w") as out:
                out.writelines(payload(seq) + "\n" for seq in range(count))
        subscriber = Subscriber(self.workdir, self.broker, self.topic, self.qos, count,
                                self.label + "-sub")
        publisher = None
        try:
            with open(lines) as feed:
                started = time.monotonic()
                publisher = subprocess.Popen(
                    [find(["mosquitto_pub"]), "-h", "127.0.0.1", "-p", str(self.broker.port),
                     "-t", self.topic, "-q", str(self.qos), "-l", "-i", self.label],
                    stdin=feed, stdout=subprocess.DEVNULL, stderr=self.workdir.log(self.label))
            status, used = waited(publisher)
            if status != 0:
                raise BenchError(f"mosquitto_pub exited with status {status}")
            finished = subscriber.done(timeout=60 + count / 2000)
        finally:
            stop_process(publisher)
            subscriber.stop()
        window = finished - started
        return {"rate": count / window, "cpu_us": used / count * 1e6}

    def stop(self):
        pass


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisProbe:
    """One connection to ask for the newest entry's seq (XREVRANGE stream + - COUNT 1)."""

    def __init__(self, port, stream):
        self.stream = stream
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.connection.recv(65536)
            if not chunk:
                raise BenchError("redis-server closed the probe's connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _reply(self):
        """One RESP2 reply: bytes, int, a list, or None."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise BenchError(f"redis: {rest.decode(errors='replace')}")
        if kind == b"+":
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buffer) < length + 2:
                chunk = self.connection.recv(65536)
                if not chunk:
                    raise BenchError("redis-server closed the probe's connection")
                self.buffer += chunk
            value, self.buffer = self.buffer[:length], self.buffer[length + 2:]
            return value
        if kind == b"*":
            length = int(rest)
            return None if length < 0 else [self._reply() for _ in range(length)]
        raise BenchError(f"redis: unexpected reply {line[:40]!r}")

    def last_seq(self):
        self.connection.sendall(resp("XREVRANGE", self.stream, "+", "-", "COUNT", "1"))
        entries = self._reply()
        if not entries:
            return 0
        fields = entries[0][1]
        values = dict(zip(fields[::2], fields[1::2]))
        return int(values.get(b"seq", 0))

    def close(self):
        self.connection.close()


class RedisDaemon:
    """The bundled server and wspushd with one redis sink."""

    def __init__(self, tools, workdir, broker):
        self.tools, self.workdir, self.broker = tools, workdir, broker
        self.label = "wspushd-redis"
        self.stream = "bench:" + self.label
        self.server, port = start_server(tools, workdir, self.label + "-server")
        self.process = self.probe = None
        try:
            sink = (f"sinks:\n  - type: redis\n    url: redis://127.0.0.1:{broker.port}/0\n"
                    f"    stream: \"{self.stream}\"\n    max_len: {MAX_LEN}\n")
            config = daemon_config(f"ws://127.0.0.1:{port}/websocket/{self.label}")
            config = config.replace("sinks: []\n", sink)
            self.process = start_daemon(tools, workdir, self.label, self.server, config)
            self.probe = RedisProbe(broker.port, self.stream)
            self.measure(WARM_UP)
        except BaseException:
            self.stop()
            raise

    def measure(self, count):
        first = self.probe.last_seq()
        target = first + count
        timeout = 60 + count / 2000
        started, before = time.monotonic(), cpu_seconds(self.process.pid)
        self.server.send(f"push {count} {SIZE} 0")
        while (last := self.probe.last_seq()) < target:
            if time.monotonic() - started > timeout:
                raise BenchError(f"{self.label}: the stream's newest seq is {last}, not "
                                 f"{target}, after {timeout:g} s")
            self.process.check_alive()
            time.sleep(0.002)
        finished = time.monotonic()
        used = cpu_seconds(self.process.pid) - before
        self.server.wait_for(f"pushed {count}", timeout=60)
        if last != target:
            raise BenchError(f"{self.label}: the stream's newest seq is {last}, not {target}")
        window = finished - started
        return {"rate": count / window, "cpu_us": used / count * 1e6, "cpu_share": used / window}

    def stop(self):
        if self.probe:
            self.probe.close()
        stop_all([self.process, self.server])


class RedisBaseline:
    """redis-benchmark: the sink's XADD, one connection, 1,000 pipelined."""

    def __init__(self, workdir, broker):
        self.workdir, self.broker = workdir, broker
        self.label = "redis-benchmark"

    def measure(self, count):
        command = [find(["redis-benchmark"]), "-h", "127.0.0.1", "-p", str(self.broker.port),
                   "-n", str(count), "-c", "1", "-P", "1000", "--csv",
                   "XADD", "bench:redis-benchmark", "MAXLEN", "~", str(MAX_LEN), "*",
                   "seq", "1042", "ts", "2026-11-27T22:31:05.123456Z", "data", payload()]
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        output = process.stdout.read().decode(errors="replace")
        status, used = waited(process)
        window = time.monotonic() - started
        if status != 0:
            raise BenchError(f"redis-benchmark exited with status {status}: {output[-300:]}")
        # --csv: a header line, then "XADD ...","requests per second",... ; use its own
        # figure (the run without the start-up), else the wall time.
        rate = None
        for line in output.splitlines():
            cells = [cell.strip('"') for cell in line.split('","')]
            if len(cells) > 1 and cells[0].startswith("XADD"):
                try:
                    rate = float(cells[1])
                except ValueError:
                    pass
        return {"rate": rate or count / window, "cpu_us": used / count * 1e6}

    def stop(self):
        pass


def go_round(setups, counts, runs, seconds=None):
    """`runs` rounds over the setups, `counts[label]` records in each one's first run; with
    `seconds`, later runs are sized to take about that long at the rate just measured (at
    least 100 records, at most 100 times the first run). Returns the medians."""
    results = {setup.label: [] for setup in setups}
    used = {setup.label: [] for setup in setups}
    for _ in range(runs):
        for setup in setups:
            label = setup.label
            count = counts[label]
            if used[label] and seconds:
                count = int(min(max(results[label][-1]["rate"] * seconds, 100), 100 * count))
            used[label].append(count)
            results[label].append(setup.measure(count))
    return {label: dict({key: statistics.median(run[key] for run in values)
                         for key in values[0]}, counts=used[label])
            for label, values in results.items()}


def run_mqtt(tools, workdir, counts, runs, seconds=None):
    """{"q0": daemon figures, "q0-pub": baseline figures, "q1": ..., "q1-pub": ...}."""
    broker = None
    setups = []
    try:
        broker = start_mosquitto(workdir)
        for qos in (0, 1):
            setups.append(MqttDaemon(tools, workdir, broker, qos))
            setups.append(MqttBaseline(workdir, broker, qos))
        count = {setup.label: counts[f"q{setup.qos}"] for setup in setups}
        figures = go_round(setups, count, runs, seconds)
        out = {}
        for qos in (0, 1):
            out[f"q{qos}"] = figures[f"wspushd-mqtt-q{qos}"]
            out[f"q{qos}-pub"] = figures[f"mosquitto_pub-q{qos}"]
        return out
    finally:
        stop_all(setups)
        if broker:
            broker.stop()


def run_redis(tools, workdir, count, runs, seconds=None):
    """{"daemon": figures, "baseline": figures}."""
    broker = None
    setups = []
    try:
        broker = start_redis(workdir)
        setups.append(RedisDaemon(tools, workdir, broker))
        setups.append(RedisBaseline(workdir, broker))
        figures = go_round(setups, {setup.label: count for setup in setups}, runs, seconds)
        return {"daemon": figures["wspushd-redis"], "baseline": figures["redis-benchmark"]}
    finally:
        stop_all(setups)
        if broker:
            broker.stop()


if __name__ == "__main__":
    raise SystemExit("run through bench/run --only brokers")
