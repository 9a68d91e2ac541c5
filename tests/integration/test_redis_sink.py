# SPDX-License-Identifier: MIT
"""The redis sink against a real redis-server started by the test on a free loopback port
(and a Unix socket) in a temp dir."""

import base64
import json
import os
import signal
import socket
import subprocess
import time

import harness

REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Redis:
    """A redis-server with an append-only file in `workdir`, and a small RESP client."""

    def __init__(self, workdir, password=None):
        self.workdir = workdir
        self.port = free_port()
        self.socket_path = os.path.join(workdir, "redis.sock")
        self.password = password
        self.process = None
        self.start()

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.workdir, "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--daemonize", "no", "--unixsocket", self.socket_path,
                "--unixsocketperm", "700", "--logfile", os.path.join(self.workdir, "redis.log")]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_until(self.answers, "redis-server answering")

    def answers(self):
        try:
            return self.command("PING") == "PONG"
        except AssertionError as error:
            if "LOADING" in str(error):  # reading its append-only file back
                return False
            raise
        except OSError:
            if self.process.poll() is not None:
                raise AssertionError("redis-server exited")
            return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=harness.DEFAULT_WAIT)

    def command(self, *args, db=0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            reader = connection.makefile("rb")
            commands = []
            if self.password:
                commands.append(("AUTH", self.password))
            if db:
                commands.append(("SELECT", str(db)))
            commands.append(args)
            for command in commands:
                request = f"*{len(command)}\r\n".encode()
                for arg in command:
                    arg = arg.encode() if isinstance(arg, str) else arg
                    request += b"$%d\r\n%s\r\n" % (len(arg), arg)
                connection.sendall(request)
            replies = [self.reply(reader) for _ in commands]
            return replies[-1]

    def reply(self, reader):
        line = reader.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError("redis error: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if int(rest) < 0:
                return None
            data = reader.read(int(rest) + 2)[:-2]
            return data.decode()
        if kind == b"*":
            return [self.reply(reader) for _ in range(int(rest))]
        raise AssertionError(f"unexpected RESP {line!r}")

    def entries(self, stream="wspush", db=0):
        """[(id, {field: value})] of the whole stream."""
        return [(entry_id, dict(zip(fields[::2], fields[1::2])))
                for entry_id, fields in self.command("XRANGE", stream, "-", "+", db=db)]


def redis_sink_yaml(**settings):
    lines = ["  - type: redis"] + [f"    {key}: {json.dumps(value)}"
                                   for key, value in settings.items()]
    return "\n".join(lines) + "\n"


class RedisSinkTest(harness.DaemonTestCase):

    def redis(self, password=None):
        redis = Redis(self.workdir, password)
        self.addCleanup(redis.stop)
        return redis

    def start(self, redis, **settings):
        server = self.server()
        settings = {"url": f"redis://127.0.0.1:{redis.port}/0", **settings}
        daemon = self.daemon(harness.config_yaml(server.url(),
                                                 sinks_yaml=redis_sink_yaml(**settings)))
        server.wait_for("connected ")
        return server, daemon

    @staticmethod
    def wait_redis(daemon, text, timeout=harness.DEFAULT_WAIT):
        return daemon.log.wait_for(lambda l: "redis " in l and text in l, timeout, repr(text))

    def wait_length(self, redis, count, timeout=60, **where):
        harness.wait_until(lambda: redis.command("XLEN", where.get("stream", "wspush"),
                                                 db=where.get("db", 0)) >= count,
                           f"{count} entries", timeout)

    def test_redis_outage_loses_nothing_and_adds_nothing_twice(self):
        redis = self.redis()
        server, daemon = self.start(redis)
        self.wait_redis(daemon, ": connected")
        server.command("push 10000 200 0")
        self.wait_length(redis, 10000)
        entries = redis.entries()
        self.assertEqual([int(fields["seq"]) for _, fields in entries], list(range(1, 10001)))
        self.assertEqual([json.loads(fields["data"])["n"] for _, fields in entries],
                         list(range(1, 10001)))

        # Redis goes away for 5 s while 4,000 more records arrive over 8 s.
        server.command("push 4000 200 500")
        time.sleep(1)
        redis.stop()
        self.wait_redis(daemon, "retrying in")
        time.sleep(5)
        redis.start()
        self.wait_redis(daemon, ": connected", timeout=15)
        server.wait_for("pushed 4000", timeout=30)
        self.wait_length(redis, 14000)
        time.sleep(0.5)
        seqs = [int(fields["seq"]) for _, fields in redis.entries()]
        self.assertEqual(seqs, list(range(1, 14001)))
        self.assertEqual(daemon.stop(), 0)

    def test_fields_binary_and_maxlen_trimming(self):
        redis = self.redis()
        server, daemon = self.start(redis, stream="pushed", max_len=1000)
        self.wait_redis(daemon, ": connected")
        server.command('send {"a":[1, 2]}')
        server.command("binhex 0001ff")
        server.command("send plain text")
        self.wait_length(redis, 3, stream="pushed")
        first = redis.entries("pushed")[:3]
        self.assertEqual(first[0][1]["seq"], "1")
        self.assertEqual(first[0][1]["data"], '{"a":[1,2]}')
        self.assertRegex(first[0][1]["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertNotIn("binary", first[0][1])
        self.assertEqual(first[1][1]["binary"], "1")
        self.assertEqual(base64.b64decode(first[1][1]["data"]), b"\x00\x01\xff")
        self.assertEqual(first[2][1]["data"], '"plain text"')
        server.command("push 5000 200 0")
        harness.wait_until(lambda: redis.command("XREVRANGE", "pushed", "+", "-", "COUNT", "1")
                           [0][1][1] == "5003", "the last record", 60)
        # MAXLEN ~ 1000: whole nodes are trimmed, so a little more than 1000 stays.
        length = redis.command("XLEN", "pushed")
        self.assertGreaterEqual(length, 1000)
        self.assertLess(length, 2000)

    def test_unix_socket_database_and_password(self):
        redis = self.redis(password="s3cret")
        password_file = os.path.join(self.workdir, "redis-password")
        with open(password_file, "w") as password:
            password.write("wrong\n")
        server, daemon = self.start(redis, url=f"unix:{redis.socket_path}?db=3",
                                    password_file=password_file)
        server.command('send {"n":1}')
        delays = []
        for _ in range(3):
            line = self.wait_redis(daemon, "retrying in", timeout=10)
            self.assertIn("AUTH failed", line)
            delays.append(line)
        # The password file is read again at the next attempt.
        with open(password_file, "w") as password:
            password.write("s3cret\n")
        self.wait_redis(daemon, ": connected", timeout=10)
        self.wait_length(redis, 1, db=3)
        self.assertEqual(json.loads(redis.entries(db=3)[0][1]["data"]), {"n": 1})
        self.assertEqual(redis.command("EXISTS", "wspush"), 0)


if __name__ == "__main__":
    harness.main()
