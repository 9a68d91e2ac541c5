# SPDX-License-Identifier: MIT
"""wspushctl, the companion tool, against the real daemon and the real server: tail (record
lines, --raw, --since, --name, restarts, reconnects, being cut off, SIGPIPE), status,
cursors, send, and its exit codes and messages when the daemon is not there or the command
line is wrong."""

import json
import os
import signal
import subprocess

import harness

STATUS_FIELDS = {"event", "run", "epoch", "state", "server", "connected_since", "reconnects",
                 "received", "forwarded", "filtered", "oversized", "last_seq", "subscribers",
                 "store", "sinks", "cursors"}
RECONNECTING = ("wspushctl: connection closed by the daemon; reconnecting",
                "wspushctl: connection to the daemon lost: ")
NO_SOCKET = "/nonexistent/x.sock"


def seqs(lines):
    return [json.loads(line)["seq"] for line in lines]


def has_seq(seq):
    return lambda line: json.loads(line).get("seq") == seq


def file_lines(path):
    with open(path, encoding="utf-8") as sink:
        return sink.read().splitlines()


def is_reconnecting(line):
    return line.startswith(RECONNECTING[0]) or (
        line.startswith(RECONNECTING[1]) and line.endswith("; reconnecting"))


class CtlTestCase(harness.DaemonTestCase):
    """A server, and a daemon (--verbose, to log each client it accepts) with a file sink
    and a unix sink at self.socket_path."""

    def setUp(self):
        super().setUp()
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")

    # Settings of the store (a dict of YAML texts), None for the memory store.
    STORE = None

    def config(self, server, user="u1", **unix):
        extra = "".join(f"  {key}: {value}\n" for key, value in (self.STORE or {}).items())
        return harness.config_yaml(server.url(user), self.sink,
                                   sinks_yaml=harness.unix_sink_yaml(self.socket_path, **unix),
                                   extra="store:\n" + extra if extra else "")

    def start_daemon(self, server, **unix):
        daemon = self.daemon(self.config(server, **unix), args=("--verbose",))
        server.wait_for("connected ")
        # The server sees the upgrade done before the daemon does: a client taken on in
        # between would get a "connected" event.
        daemon.log.wait_for_text("connected to ")
        return daemon

    def start(self, **unix):
        server = self.server()
        return server, self.start_daemon(server, **unix)

    def tail(self, daemon, *args, binary=False):
        """`wspushctl tail ARGS` once the daemon has taken it on as a client: every record
        from now on reaches it."""
        tail = self.ctl("--socket", self.socket_path, "tail", *args, binary=binary)
        daemon.log.wait_for_text("a client connected")
        return tail

    def ctl_run(self, *args, **kwargs):
        return harness.run_ctl("--socket", self.socket_path, *args, **kwargs)

    def push(self, server, count, size=200, rate=0):
        server.command(f"push {count} {size} {rate}")
        server.wait_for(f"pushed {count}", timeout=30)


class Tail(CtlTestCase):
    # The forms test_delivery checks in the file sink; tail must print the same lines.
    COMMANDS = [
        'send {"type": "order",\\n "id": 7}',
        "send 42",
        'send "x"',
        "send [1]",
        "send null",
        "send 42 is not JSON",
        "send line one\\nline two",
        "send 来自服务器的消息 ✓",
        "sendhex 61c328ff7a",
        "binhex 0001ff",
    ]

    def test_prints_each_record_line_as_the_file_sink_writes_it(self):
        server, daemon = self.start()
        tail = self.tail(daemon)
        for command in self.COMMANDS:
            server.command(command)
        self.push(server, 200)
        total = len(self.COMMANDS) + 200
        harness.wait_records(self.sink, total)
        tail.out.wait_for(has_seq(total), what=f"seq {total}")
        self.assertEqual(tail.stop(signal.SIGTERM), 0)
        printed = tail.out.read_to_end()
        self.assertEqual(printed, file_lines(self.sink))
        self.assertEqual(seqs(printed), list(range(1, total + 1)))
        self.assertEqual(tail.err.read_to_end(), [])

    def test_raw_prints_payloads_only(self):
        server, daemon = self.start()
        tail = self.tail(daemon, "--raw", binary=True)
        sent = [
            ('send {"b":1,"a":[1.50,2e3,"é"],"c":{"z":null,"y":true}}',
             '{"b":1,"a":[1.50,2e3,"é"],"c":{"z":null,"y":true}}'.encode()),
            ('send "quoted"', b'quoted'),
            ("send plain text ✓", "plain text ✓".encode()),
            ("send 42", b"42"),
            ("send [1, 2]", b"[1,2]"),
            ("binhex 0001ff80fe41", b"\x00\x01\xff\x80\xfeA"),
            ("send last", b"last"),
        ]
        for command, _ in sent:
            server.command(command)
        tail.out.wait_for(lambda line: line == b"last", what="the last payload")
        self.assertEqual(tail.stop(signal.SIGINT), 0)
        self.assertEqual(tail.out.read_to_end(), [payload for _, payload in sent])
        self.assertEqual(tail.err.read_to_end(), [])

    def test_since_prints_held_records_then_live_ones_nothing_twice(self):
        server, daemon = self.start(replay=100000)
        # Records keep arriving while tail asks for the held ones.
        server.command("push 4000 200 4000")
        harness.wait_records(self.sink, 300)
        tail = self.ctl("--socket", self.socket_path, "tail", "--since", "100")
        server.wait_for("pushed 4000", timeout=30)
        tail.out.wait_for(has_seq(4000), what="seq 4000")
        server.command("send live")
        tail.out.wait_for(has_seq(4001), what="seq 4001")
        self.assertEqual(tail.stop(), 0)
        printed = tail.out.read_to_end()
        self.assertEqual(seqs(printed), list(range(101, 4002)))
        self.assertEqual(printed, file_lines(self.sink)[100:])
        self.assertEqual(tail.err.read_to_end(), [])

    def test_since_reports_a_gap_for_records_no_longer_held(self):
        server, daemon = self.start(replay=10)
        self.push(server, 30)
        harness.wait_records(self.sink, 30)
        tail = self.ctl("--socket", self.socket_path, "tail", "--since", "5")
        tail.err.wait_for_text("wspushctl: gap: records 6–20 are no longer held")
        tail.out.wait_for(has_seq(30), what="seq 30")
        self.assertEqual(tail.stop(), 0)
        self.assertEqual(seqs(tail.out.read_to_end()), list(range(21, 31)))

    def test_since_replays_more_than_max_queue(self):
        server, _ = self.start(max_queue="64KiB", replay=1000)
        self.push(server, 200, size=1024)
        harness.wait_records(self.sink, 200)
        tail = self.ctl("--socket", self.socket_path, "tail", "--since", "0")
        # 200 KiB from the ring come at once: 5 s is ample.
        tail.out.wait_for(has_seq(200), what="seq 200", timeout=5)
        self.assertEqual(tail.stop(), 0)
        self.assertEqual(tail.out.read_to_end(), file_lines(self.sink))
        self.assertEqual(tail.err.read_to_end(), [])

    def test_stdout_stays_line_flushed_into_a_pipe(self):
        # Each line must come through the pipe while tail is still running and has nothing
        # more to print: a block-buffered stdout would hold it back.
        server, daemon = self.start()
        tail = self.tail(daemon)
        for number in range(1, 4):
            server.command(f"send line {number}")
            line = json.loads(tail.out.wait_for(lambda line: True, what=f"line {number}"))
            self.assertEqual((line["seq"], line["data"]), (number, f"line {number}"))
            self.assertIsNone(tail.process.poll())


class Follow(CtlTestCase):
    def test_follows_the_daemon_across_a_restart(self):
        server, first = self.start()
        tail = self.tail(first)
        self.push(server, 5)
        tail.out.wait_for(has_seq(5), what="seq 5")
        self.assertEqual(first.stop(), 0)
        tail.err.wait_for(is_reconnecting, what="reconnecting")
        # A new run on the same config without a store: a new epoch, seqs start at 1 again.
        second = self.start_daemon(server)
        self.push(server, 3)
        tail.err.wait_for_text(
            "wspushctl: the daemon's seqs began anew (a new epoch); printing all it holds")
        tail.out.wait_for(lambda line: json.loads(line)["data"]["n"] == 8, what="n 8")
        self.assertEqual(tail.stop(), 0)
        printed = [json.loads(line) for line in tail.out.read_to_end()]
        self.assertEqual([r["seq"] for r in printed], [1, 2, 3, 4, 5, 1, 2, 3])
        self.assertEqual([r["data"]["n"] for r in printed], list(range(1, 9)))
        self.assertEqual(second.stop(), 0)

    def test_reports_upstream_reconnects_and_keeps_printing(self):
        server, daemon = self.start()
        tail = self.tail(daemon)
        self.push(server, 2)
        tail.out.wait_for(has_seq(2), what="seq 2")

        server.command("close 4001 maintenance")
        down = tail.err.wait_for_text("wspushctl: upstream disconnected: ")
        self.assertIn("4001", down)
        tail.err.wait_for_text(f"wspushctl: upstream connected to {server.url()}")
        self.push(server, 2)
        tail.out.wait_for(has_seq(4), what="seq 4")

        # A reload that moves the link to another path reconnects upstream too.
        daemon.rewrite_config(self.config(server, user="u2"))
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reloaded")
        server.wait_for("connected u2")
        tail.err.wait_for_text("wspushctl: upstream disconnected: ")
        tail.err.wait_for_text(f"wspushctl: upstream connected to {server.url('u2')}")
        self.push(server, 2)
        tail.out.wait_for(has_seq(6), what="seq 6")

        self.assertEqual(tail.stop(), 0)
        self.assertEqual(seqs(tail.out.read_to_end()), list(range(1, 7)))
        self.assertFalse([line for line in tail.err.read_to_end() if "reconnect" in line])

    def cut_off_while_stopped(self, then=None):
        """A tail stopped (SIGSTOP) after printing seqs 1..3, while 2000 records of 1 KiB
        arrive, is cut off by a daemon with max_queue 64 KiB and policy disconnect; the
        ring (replay 100000) holds every record. Calls then(server, daemon), continues the
        tail (SIGCONT), and returns (daemon, tail) once tail says it is reconnecting."""
        server, daemon = self.start(max_queue="64KiB", policy="disconnect", replay=100000)
        tail = self.tail(daemon)
        self.push(server, 3)
        tail.out.wait_for(has_seq(3), what="seq 3")
        tail.signal(signal.SIGSTOP)
        try:
            self.push(server, 2000, size=1024)
            daemon.log.wait_for_text("too slow: more than max_queue bytes waiting")
            harness.wait_records(self.sink, 2003)
            if then:
                then(server, daemon)
        finally:
            tail.signal(signal.SIGCONT)
        tail.err.wait_for(is_reconnecting, what="reconnecting")
        return daemon, tail

    def assert_resumes_with_every_record_once(self, tail):
        # The first thing tail says after "reconnecting" is that it resumes, not another
        # "reconnecting".
        resumed = tail.err.wait_for(lambda line: True, what="a line after reconnecting")
        self.assertRegex(resumed, r"^wspushctl: reconnected; resuming after seq \d+$")
        after = int(resumed.rsplit(" ", 1)[1])
        self.assertGreaterEqual(after, 3)
        self.assertLess(after, 2003)
        tail.out.wait_for(has_seq(2003), what="seq 2003", timeout=20)
        self.assertEqual(tail.stop(), 0)
        printed = tail.out.read_to_end()
        self.assertEqual(seqs(printed), list(range(1, 2004)))
        self.assertEqual(printed, file_lines(self.sink))

    def test_cut_off_while_stopped_then_resumes_after_the_last_seq_printed(self):
        _, tail = self.cut_off_while_stopped()
        self.assert_resumes_with_every_record_once(tail)

    def test_cut_off_then_resumes_once_the_replay_fits_max_queue(self):
        # The same, but the limit is raised (SIGHUP, the same socket: changed in place)
        # before tail reads again, so the bug above does not hide tail's own resume.
        def raise_max_queue(server, daemon):
            daemon.rewrite_config(self.config(server, max_queue="16MiB", policy="disconnect",
                                              replay=100000))
            daemon.signal(signal.SIGHUP)
            daemon.log.wait_for_text("reloaded")

        _, tail = self.cut_off_while_stopped(then=raise_max_queue)
        self.assert_resumes_with_every_record_once(tail)


class Status(CtlTestCase):
    def test_table(self):
        server, _ = self.start()
        self.push(server, 3)
        harness.wait_records(self.sink, 3)
        result = self.ctl_run("status")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b"")
        # Blocks apart by an empty line: the daemon, the store, the sinks.
        blocks = [block.splitlines() for block in result.stdout.decode().split("\n\n")]
        self.assertEqual(len(blocks), 3, blocks)
        # A label padded to 17 columns, then the value.
        fields = {line[:17].rstrip(): line[17:] for line in blocks[0]}
        store = {line[:17].rstrip(): line[17:] for line in blocks[1]}
        # No resume: "last id" says nothing. A probe may have run: any network change on
        # this machine (another test's namespaces) makes one.
        fields.pop("last probe", None)
        self.assertEqual(list(fields), ["state", "server", "address", "connected since", "reconnects",
                                        "received", "forwarded", "filtered", "oversized",
                                        "last seq", "duplicates", "upstream gaps", "probes",
                                        "probe reconnects", "subscribers"])
        self.assertEqual(fields["state"], "connected")
        self.assertEqual(fields["server"], server.url())
        self.assertRegex(fields["connected since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(fields["reconnects"], "0")
        self.assertEqual(fields["forwarded"], "3")
        self.assertEqual(fields["last seq"], "3")
        self.assertEqual(fields["subscribers"], "1")
        for label in ("received", "filtered", "oversized"):
            self.assertRegex(fields[label], r"^\d+$")
        for label in ("duplicates", "upstream gaps", "probe reconnects"):
            self.assertEqual(fields[label], "0")
        self.assertRegex(fields["probes"], r"^\d+$")
        self.assertEqual(store["store"], "in memory")
        self.assertRegex(store["store size"], r"^\d+ bytes$|^\d+\.\d (KiB|MiB) \(\d+ bytes\)$")
        self.assertEqual(store["store seqs"], "1–3")
        self.assertRegex(store["epoch"], r"^[0-9a-f]{32}$")
        self.assertEqual(list(store), ["store", "store size", "store seqs", "epoch"])
        self.assertEqual(blocks[2][0].split(), ["SINK", "NAME", "FORWARDED", "DROPPED", "LAG"])
        self.assertEqual([line.split() for line in blocks[2][1:]], [
            ["file", "file", self.sink, "3", "0", "0"],
            ["unix", "unix", self.socket_path, "0", "0", "0"],
        ])

    def test_json(self):
        server, _ = self.start()
        self.push(server, 3)
        harness.wait_records(self.sink, 3)
        result = self.ctl_run("status", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b"")
        lines = result.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        status = json.loads(lines[0])
        self.assertEqual(status["event"], "status")
        self.assertLessEqual(STATUS_FIELDS, set(status))
        self.assertEqual((status["state"], status["server"]), ("connected", server.url()))
        self.assertEqual((status["forwarded"], status["last_seq"]), (3, 3))
        self.assertEqual(status["subscribers"], 1)
        self.assertEqual([(s["type"], s["forwarded"]) for s in status["sinks"]],
                         [("file", 3), ("unix", 0)])


class StoreCtlTestCase(CtlTestCase):
    """With a store in the test's own directory, and a daemon restarted at will."""

    def setUp(self):
        super().setUp()
        self.STORE = {"path": json.dumps(os.path.join(self.workdir, "store"))}

    def start(self, **unix):
        self.unix = unix
        self.server_ = self.server()
        return self.server_, self.start_daemon(self.server_, **unix)

    def restart(self, daemon):
        self.assertEqual(daemon.stop(), 0)
        return self.start_daemon(self.server_, **self.unix)

    def cursors(self):
        """{name: entry} from `wspushctl cursors --json`."""
        result = self.ctl_run("cursors", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        event = json.loads(result.stdout)
        self.assertEqual(event["event"], "cursors")
        return {entry["name"]: entry for entry in event["cursors"]}

    def wait_cursor(self, name, seq):
        """tail acks without an answer: waits until the daemon has taken the ack."""
        harness.wait_until(lambda: self.cursors().get(name, {}).get("seq") == seq,
                           f"cursor {name} at {seq}")

    def tail_name(self, daemon, name, *args):
        """`wspushctl tail --name NAME ARGS`, once the daemon has taken on its subscription."""
        tail = self.ctl("--socket", self.socket_path, "tail", "--name", name, *args)
        daemon.log.wait_for_text(f"subscribed as '{name}'")
        return tail


class TailName(StoreCtlTestCase):
    def test_prints_after_the_cursor_and_acks_what_it_wrote(self):
        server, daemon = self.start()
        self.push(server, 5)
        harness.wait_records(self.sink, 5)
        tail = self.tail_name(daemon, "reader")  # a new name starts at the next record
        self.push(server, 5)
        tail.out.wait_for(has_seq(10), what="seq 10")
        self.wait_cursor("reader", 10)
        self.assertEqual(tail.stop(), 0)
        self.assertEqual(tail.out.read_to_end(), file_lines(self.sink)[5:])
        self.assertEqual(tail.err.read_to_end(), [])

        self.push(server, 3)
        again = self.tail_name(daemon, "reader")
        again.out.wait_for(has_seq(13), what="seq 13")
        self.assertEqual(again.stop(), 0)
        self.assertEqual(seqs(again.out.read_to_end()), [11, 12, 13])

    def test_from_first_prints_all_held_with_raw_payloads(self):
        server, daemon = self.start()
        for text in ("one", "two", "three"):
            server.command(f"send {text}")
        harness.wait_records(self.sink, 3)
        tail = self.ctl("--socket", self.socket_path, "tail", "--name", "all", "--from-first",
                        "--raw")
        tail.out.wait_for(lambda line: line == "three", what="three")
        self.wait_cursor("all", 3)
        self.assertEqual(tail.stop(), 0)
        self.assertEqual(tail.out.read_to_end(), ["one", "two", "three"])

    def test_a_daemon_restart_in_between_loses_and_repeats_nothing(self):
        server, daemon = self.start()
        tail = self.tail_name(daemon, "steady")
        self.push(server, 5)
        tail.out.wait_for(has_seq(5), what="seq 5")
        daemon = self.restart(daemon)
        tail.err.wait_for(is_reconnecting, what="reconnecting")
        # Records arrive while tail is away; seqs go on in the same epoch.
        self.push(server, 300)
        tail.err.wait_for_text("wspushctl: reconnected; resuming subscription 'steady'")
        tail.out.wait_for(has_seq(305), what="seq 305")
        self.push(server, 3)
        tail.out.wait_for(has_seq(308), what="seq 308")
        self.wait_cursor("steady", 308)
        self.assertEqual(tail.stop(), 0)
        printed = tail.out.read_to_end()
        self.assertEqual(seqs(printed), list(range(1, 309)))
        self.assertEqual(printed, file_lines(self.sink))

    def test_taken_over_by_another_tail_exits_1(self):
        server, daemon = self.start()
        first = self.tail_name(daemon, "only")
        self.push(server, 2)
        first.out.wait_for(has_seq(2), what="seq 2")
        second = self.ctl("--socket", self.socket_path, "tail", "--name", "only")
        self.assertEqual(first.wait_exit(), 1)
        self.assertEqual(first.err.read_to_end()[-1],
                         "wspushctl: subscription 'only' was taken over by another client")
        self.push(server, 1)
        second.out.wait_for(has_seq(3), what="seq 3")
        self.assertEqual(second.stop(), 0)


class Cursors(StoreCtlTestCase):
    def test_lists_names_positions_and_lag_then_deletes(self):
        server, daemon = self.start()
        ahead = self.tail_name(daemon, "ahead")
        behind = self.tail_name(daemon, "behind")
        self.push(server, 10)
        ahead.out.wait_for(has_seq(10), what="seq 10")
        behind.out.wait_for(has_seq(10), what="seq 10")
        self.wait_cursor("behind", 10)
        self.assertEqual(behind.stop(), 0)
        self.push(server, 4)
        ahead.out.wait_for(has_seq(14), what="seq 14")
        self.wait_cursor("ahead", 14)
        harness.wait_until(lambda: not self.cursors()["behind"]["connected"], "behind gone")

        result = self.ctl_run("cursors")
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual([line.split() for line in result.stdout.decode().splitlines()], [
            ["SUBSCRIPTION", "SEQ", "LAG", "CONNECTED"],
            ["ahead", "14", "0", "yes"],
            ["behind", "10", "4", "no"],
        ])
        status = self.ctl_run("status").stdout.decode().splitlines()
        self.assertEqual([line.split() for line in status[-3:]], [
            ["SUBSCRIPTION", "SEQ", "LAG", "CONNECTED"],
            ["ahead", "14", "0", "yes"],
            ["behind", "10", "4", "no"],
        ])

        result = self.ctl_run("cursors", "delete", "ahead")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.decode(), "wspushctl: error: subscription 'ahead' is in "
                         "use by a connected client\n")
        result = self.ctl_run("cursors", "delete", "behind")
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, b"", b""))
        result = self.ctl_run("cursors", "delete", "behind")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.decode(), "wspushctl: error: no cursor named 'behind'\n")
        self.assertEqual(list(self.cursors()), ["ahead"])
        self.assertEqual(ahead.stop(), 0)

    def test_none_yet(self):
        self.start()
        result = self.ctl_run("cursors")
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(result.stdout.decode().split(), ["SUBSCRIPTION", "SEQ", "LAG",
                                                          "CONNECTED"])


class StoreStatus(StoreCtlTestCase):
    def test_shows_the_store(self):
        server, daemon = self.start()
        self.push(server, 3)
        harness.wait_records(self.sink, 3)
        daemon = self.restart(daemon)
        blocks = self.ctl_run("status").stdout.decode().split("\n\n")
        store = {line[:17].rstrip(): line[17:] for line in blocks[1].splitlines()}
        self.assertEqual(store["store"], os.path.join(self.workdir, "store"))
        self.assertRegex(store["store size"], r"^\d+ bytes$")
        self.assertEqual(store["store seqs"], "1–3")
        status = json.loads(self.ctl_run("status", "--json").stdout)
        self.assertEqual(store["epoch"], status["epoch"])
        self.assertEqual(status["store"]["bytes"], int(store["store size"].split()[0]))


class Send(CtlTestCase):
    def test_text(self):
        server, _ = self.start(allow_send=True)
        text = 'héllo "world" ✓'
        result = self.ctl_run("send", text)
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(server.wait_for("received "), "received " + text)

    def test_stdin_less_one_trailing_newline(self):
        server, _ = self.start(allow_send=True)
        result = self.ctl_run("send", "-", input="first\nsecond\n\n".encode())
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(server.wait_for("received "), "received first\\nsecond\\n")
        result = self.ctl_run("send", "-", input=b'{"sendType":"ORDER"}\n')
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(server.wait_for("received "), 'received {"sendType":"ORDER"}')

    def test_refused_without_allow_send(self):
        server, _ = self.start()
        result = self.ctl_run("send", "no")
        self.assertEqual(result.returncode, 1)
        stderr = result.stderr.decode()
        self.assertTrue(stderr.startswith("wspushctl: error: "), stderr)
        self.assertIn("allow_send", stderr)
        server.command("stats")
        stats = next(line for line in reversed(server.out.seen) if line.startswith("stats "))
        self.assertIn(" received=0 ", stats)

    def test_refused_when_upstream_is_down(self):
        server, _ = self.start(allow_send=True)
        watcher = self.unix_reader(self.socket_path)
        watcher.status()
        server.stop()
        watcher.wait_event("disconnected")
        result = self.ctl_run("send", "nobody")
        self.assertEqual(result.returncode, 1)
        self.assertIn("wspushctl: error: ", result.stderr.decode())
        self.assertIn("not connected", result.stderr.decode())


class CommandLine(harness.DaemonTestCase):
    COMMANDS = [["tail"], ["tail", "--since", "0", "--raw"], ["tail", "--name", "x"],
                ["status"], ["status", "--json"], ["send", "x"], ["cursors"],
                ["cursors", "--json"], ["cursors", "delete", "x"]]

    def test_unreachable_daemon_exits_1(self):
        for command in self.COMMANDS:
            with self.subTest(command=command):
                result = harness.run_ctl("--socket", NO_SOCKET, *command)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stdout, b"")
                self.assertEqual(result.stderr.decode(), f"wspushctl: cannot connect to "
                                 f"{NO_SOCKET}: No such file or directory\n")

    def test_wspush_socket_is_honoured(self):
        env = {"WSPUSH_SOCKET": "/nonexistent/env.sock"}
        for command in self.COMMANDS:
            with self.subTest(command=command):
                result = harness.run_ctl(*command, env=env)
                self.assertEqual(result.returncode, 1)
                self.assertIn("cannot connect to /nonexistent/env.sock: No such file",
                              result.stderr.decode())
        # --socket wins over the environment.
        result = harness.run_ctl("--socket", NO_SOCKET, "status", env=env)
        self.assertIn(f"cannot connect to {NO_SOCKET}:", result.stderr.decode())

    def test_wspush_socket_reaches_a_running_daemon(self):
        socket_path = os.path.join(self.workdir, "env.sock")
        server = self.server()
        self.daemon(harness.config_yaml(
            server.url(), sinks_yaml=harness.unix_sink_yaml(socket_path)))
        server.wait_for("connected ")
        result = harness.run_ctl("status", "--json", env={"WSPUSH_SOCKET": socket_path})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)["event"], "status")

    def test_usage_errors_exit_2(self):
        for args in [[], ["bogus"], ["tail", "--since", "abc"], ["tail", "--since", "-1"],
                     ["send"], ["send", "a", "b"], ["status", "--raw"], ["tail", "--json"],
                     ["--no-such-option", "status"], ["tail", "--since", "1", "--name", "a"],
                     ["tail", "--name", "a b"], ["tail", "--name", ""], ["tail", "--from-first"],
                     ["tail", "--name", "n" * 65], ["status", "--name", "a"],
                     ["cursors", "remove", "a"], ["cursors", "delete"],
                     ["cursors", "delete", "a", "b"], ["cursors", "delete", "a/b"],
                     ["cursors", "delete", "a", "--json"], ["cursors", "--raw"]]:
            with self.subTest(args=args):
                result = harness.run_ctl(*args, env={"WSPUSH_SOCKET": NO_SOCKET})
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertEqual(result.stdout, b"")
                self.assertTrue(result.stderr.startswith(b"wspushctl: "), result.stderr)
                self.assertNotIn(b"cannot connect", result.stderr)

    def test_version_and_help_exit_0(self):
        version = harness.run_ctl("--version")
        self.assertEqual((version.returncode, version.stderr), (0, b""))
        self.assertRegex(version.stdout.decode(), r"^wspushctl \S+\n$")
        usage = harness.run_ctl("--help")
        self.assertEqual((usage.returncode, usage.stderr), (0, b""))
        self.assertIn(b"Usage: wspushctl", usage.stdout)
        for command in (b"tail", b"status", b"send", b"cursors", b"--name"):
            self.assertIn(command, usage.stdout)


class Sigpipe(CtlTestCase):
    def test_tail_into_head_exits_0(self):
        server, daemon = self.start()
        tail = subprocess.Popen(
            [harness.WSPUSHCTL, "--socket", self.socket_path, "tail"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(tail.stderr.close)
        self.addCleanup(tail.wait)
        self.addCleanup(tail.kill)
        head = subprocess.Popen(["head", "-n", "3"], stdin=tail.stdout,
                                stdout=subprocess.PIPE)
        self.addCleanup(head.wait)
        self.addCleanup(head.kill)
        tail.stdout.close()  # head alone reads it now
        errors = harness.LineReader(tail.stderr, "wspushctl stderr")
        daemon.log.wait_for_text("a client connected")
        self.push(server, 3)
        out, _ = head.communicate(timeout=harness.DEFAULT_WAIT)
        self.assertEqual(head.returncode, 0)
        self.assertEqual(seqs(out.decode().splitlines()), [1, 2, 3])
        # The next record meets a closed pipe.
        server.command("send after head")
        self.assertEqual(tail.wait(timeout=harness.DEFAULT_WAIT), 0)
        self.assertEqual(errors.read_to_end(), [])


if __name__ == "__main__":
    harness.main()
