# SPDX-License-Identifier: MIT
"""The `unix` sink as local applications see it: records, events and requests, slow
subscribers, and the socket file itself."""

import grp
import json
import os
import secrets
import signal
import stat

import harness

# Under ASan (scripts/test --sanitize) freed blocks wait in its 256 MiB quarantine before
# reuse and shadow memory adds an eighth: 218 MiB measured. The bound grows by the quarantine
# and a margin, so only gross growth fails there; the plain run checks the real bound.
RSS_BOUND_KIB = (64 + 256 + 64 if harness.SANITIZED else 64) * 1024
PACED_RATE = 10000  # records/s: 10 MB/s of 1 KiB records


def seqs(lines):
    return [line["seq"] for line in lines]


def server_stats(server):
    server.command("stats")
    return next(line for line in reversed(server.out.seen) if line.startswith("stats "))


def raw_lines(path):
    with open(path, "rb") as sink:
        return sink.read().split(b"\n")[:-1]


class UnixSinkTestCase(harness.DaemonTestCase):
    """A server, and a daemon with a file sink and a unix sink at self.socket_path."""

    def setUp(self):
        super().setUp()
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")

    def config(self, server, url=None, server_config=None, **unix):
        return harness.config_yaml(
            url or server.url(), self.sink, server=server_config,
            sinks_yaml=harness.unix_sink_yaml(self.socket_path, **unix))

    def start(self, url=None, server_config=None, **unix):
        server = self.server()
        daemon = self.daemon(self.config(server, url, server_config, **unix))
        server.wait_for("connected ")
        return server, daemon

    def reader(self):
        """A subscriber the daemon has taken on (its status request was answered)."""
        reader = self.unix_reader(self.socket_path)
        reader.status()
        return reader

    def push(self, server, count, size=200):
        """Pushes at full speed and waits until the server is done (the daemon may still
        be busy)."""
        server.command(f"push {count} {size} 0")
        server.wait_for(f"pushed {count}", timeout=60)


class Fanout(UnixSinkTestCase):
    def test_hundred_subscribers_get_every_record_in_order(self):
        server, _ = self.start()
        readers = [self.reader() for _ in range(100)]
        self.assertEqual(readers[0].status()["subscribers"], 100)
        self.push(server, 10000)
        records = harness.wait_records(self.sink, 10000, timeout=30)
        self.assertEqual(seqs(records), list(range(1, 10001)))
        self.assertEqual([r["data"]["n"] for r in records], list(range(1, 10001)))
        file_lines = raw_lines(self.sink)
        harness.fill_all(readers, 10000, timeout=30)
        for number, reader in enumerate(readers):
            with self.subTest(reader=number):
                self.assertEqual(reader.take_lines(10000), file_lines)
                self.assertEqual(reader.lines_before_status(), [])


class SlowSubscribers(UnixSinkTestCase):
    """max_queue is tiny for every subscriber, so the one that reads does so while the
    records stream in, at a pace a Python reader keeps up with."""

    def test_stuck_subscriber_is_cut_off_and_no_one_waits(self):
        server, daemon = self.start(max_queue="64KiB", policy="disconnect")
        reader, stuck = self.reader(), self.reader()
        server.command(f"push 50000 1024 {PACED_RATE}")
        lines = reader.take_lines(50000, timeout=30)
        self.assertEqual(seqs(map(json.loads, lines)), list(range(1, 50001)))
        harness.wait_records(self.sink, 50000)
        self.assertEqual(raw_lines(self.sink), lines)
        self.assertLess(harness.rss_kib(daemon.process.pid), RSS_BOUND_KIB)
        stuck.wait_closed_unread()
        got = [json.loads(line) for line in stuck.read_to_end()[0]]
        records = [line for line in got if "seq" in line]
        self.assertEqual(seqs(records), list(range(1, len(records) + 1)))
        self.assertEqual(records, got[:len(records)])

    def test_stuck_subscriber_reads_an_error_last(self):
        # The error line cannot pass a full socket: it is read if the client reads before
        # the daemon's grace period (2 s) ends, as a client that was only slow does.
        server, daemon = self.start(max_queue="64KiB", policy="disconnect")
        stuck = self.reader()
        server.command("push 2000 1024 0")
        daemon.log.wait_for_text("disconnecting")
        lines, partial = stuck.read_to_end()
        self.assertEqual(partial, b"", "half a line before the close")
        last = json.loads(lines[-1])
        self.assertEqual(last.get("event"), "error", f"last line: {lines[-1][:80]}")
        self.assertIn("max_queue", last["message"])

    def test_drop_policy_counts_every_record_missed(self):
        before, notices, after = self.drop_scenario()
        self.assertEqual(seqs(before), list(range(1, len(before) + 1)))
        self.assertEqual({notice["event"] for notice in notices}, {"dropped"})
        self.assertEqual(sum(notice["count"] for notice in notices), 5000 - len(before))
        self.assertEqual(seqs(after), list(range(5001, 5011)))

    def test_drop_policy_tells_one_gap_in_one_notice(self):
        before, notices, _ = self.drop_scenario()
        self.assertEqual(notices, [{"event": "dropped", "count": 5000 - len(before)}])

    def drop_scenario(self):
        """A stuck subscriber misses part of 5000 records, then reads; 10 more follow.

        Returns the records it read before the first non-record line, the non-record
        lines that follow them, and the records after those."""
        server, _ = self.start(max_queue="64KiB", policy="drop")
        reader, stuck = self.reader(), self.reader()
        first_line = stuck.taken
        server.command(f"push 5000 1024 {PACED_RATE}")
        self.assertEqual(seqs(reader.records(5000)), list(range(1, 5001)))
        stuck.wait_event("dropped")
        server.command("push 10 1024 0")
        stuck.wait_for(lambda line: line.get("seq") == 5010)
        lines = [json.loads(line) for line in stuck.lines[first_line:stuck.taken]]
        self.assertEqual(seqs(reader.records(10)), list(range(5001, 5011)))
        self.assertEqual(len(harness.wait_records(self.sink, 5010)), 5010)
        self.assertEqual(stuck.lines_before_status(), [])
        return split_at_events(lines)


def split_at_events(lines):
    """(records before the first event, the events in a row from there, what follows)."""
    first = next(i for i, line in enumerate(lines) if "seq" not in line)
    end = next((i for i in range(first, len(lines)) if "seq" in lines[i]), len(lines))
    return lines[:first], lines[first:end], lines[end:]


class LinkEvents(UnixSinkTestCase):
    def test_disconnected_and_connected_reach_subscribers(self):
        server = self.server()
        token_file = os.path.join(self.workdir, "token")
        with open(token_file, "w") as token:
            token.write("s3cret\n")
        url = f"ws://127.0.0.1:{server.port}/websocket/${{TOKEN}}"
        self.daemon(self.config(server, url, {"token_file": json.dumps(token_file)}))
        server.wait_for("connected s3cret")
        reader = self.reader()
        server.command("close 4001 maintenance")
        down = reader.wait_event("disconnected")
        self.assertIn("4001", down["reason"])
        self.assertRegex(down["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        up = reader.wait_event("connected")
        self.assertEqual(up["server"], f"ws://127.0.0.1:{server.port}/websocket/***")
        self.assertEqual(sorted(up), ["event", "server", "ts"])
        server.command("send after")
        self.assertEqual(reader.next()["data"], "after")


class Replay(UnixSinkTestCase):
    def start_with_records(self, count, ring):
        server, _ = self.start(replay=ring)
        self.push(server, count)
        harness.wait_records(self.sink, count)
        return server

    def test_replay_then_live_without_repeats(self):
        server = self.start_with_records(20, ring=50)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 5})
        self.assertEqual(seqs(client.records(15)), list(range(6, 21)))
        self.push(server, 10)
        self.assertEqual(seqs(client.records(10)), list(range(21, 31)))
        self.assertEqual(client.lines_before_status(), [])

    def test_gap_when_the_oldest_wanted_is_gone(self):
        self.start_with_records(80, ring=50)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 0})
        self.assertEqual(client.next(), {"event": "gap", "from": 1, "to": 30})
        self.assertEqual(seqs(client.records(50)), list(range(31, 81)))
        self.assertEqual(client.lines_before_status(), [])

    def test_other_run_replays_everything_held(self):
        self.start_with_records(20, ring=50)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 15, "run": "0000000000000000"})
        self.assertEqual(seqs(client.records(20)), list(range(1, 21)))
        self.assertEqual(client.lines_before_status(), [])

    def test_current_run_is_honoured(self):
        self.start_with_records(20, ring=50)
        client = self.unix_reader(self.socket_path)
        run = client.status()["run"]
        client.request({"op": "replay", "since": 15, "run": run})
        self.assertEqual(seqs(client.records(5)), list(range(16, 21)))
        self.assertEqual(client.lines_before_status(), [])

    def test_since_beyond_the_newest_replays_nothing(self):
        server = self.start_with_records(20, ring=50)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 1000})
        self.assertEqual(client.lines_before_status(), [])
        self.push(server, 1)
        self.assertEqual(seqs(client.records(1)), [21])

    def test_replay_during_a_stream_repeats_and_misses_nothing(self):
        server, _ = self.start(replay=100000)
        server.command("push 20000 200 20000")
        harness.wait_records(self.sink, 1000)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 0})
        got = seqs(client.records(20000, timeout=30))
        self.assertEqual(sorted(got), list(range(1, 20001)))
        self.assertEqual(client.lines_before_status(), [])

    def test_replay_as_first_line_gives_records_in_order(self):
        server = self.start_with_records(20, ring=50)
        client = self.unix_reader(self.socket_path)
        # A live record reaches the daemon before the request: it waits for the replay.
        server.command("send live")
        client.request({"op": "replay", "since": 0})
        self.assertEqual(seqs(client.records(21)), list(range(1, 22)))


class Status(UnixSinkTestCase):
    def test_status_fields(self):
        server, _ = self.start()
        readers = [self.reader() for _ in range(3)]
        self.push(server, 5)
        for reader in readers:
            reader.records(5)
        status = readers[0].status()
        self.assertRegex(status["epoch"], r"^[0-9a-f]{32}$")
        self.assertEqual(status["run"], status["epoch"])
        self.assertEqual(status["state"], "connected")
        self.assertEqual(status["server"], server.url())
        self.assertRegex(status["connected_since"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual((status["received"], status["forwarded"], status["last_seq"]),
                         (5 + status["filtered"], 5, 5))
        self.assertEqual((status["reconnects"], status["oversized"]), (0, 0))
        self.assertEqual(status["subscribers"], 3)
        self.assertEqual(status["sinks"], [
            {"type": "file", "name": f"file {self.sink}", "forwarded": 5, "dropped": 0,
             "lag": 0},
            {"type": "unix", "name": f"unix {self.socket_path}", "forwarded": 15,
             "dropped": 0, "lag": 0},
        ])

    def test_subscribers_follow_connects_and_leaves(self):
        self.start()
        first, second = self.reader(), self.reader()
        self.assertEqual(first.status()["subscribers"], 2)
        second.close()
        third = self.reader()
        self.assertEqual(third.status()["subscribers"], 2)


class Send(UnixSinkTestCase):
    def test_string_goes_upstream_verbatim(self):
        server, _ = self.start(allow_send=True)
        client = self.reader()
        text = 'héllo "world" ✓'
        client.request({"op": "send", "data": text})
        self.assertEqual(server.wait_for("received "), "received " + text)
        self.assertEqual(client.next(), {"event": "sent", "bytes": len(text.encode())})

    def test_other_values_go_as_compact_json(self):
        server, _ = self.start(allow_send=True)
        client = self.reader()
        client.request('{"op": "send", "data": {"a": 1, "b": [true, null, "é"]}}')
        compact = '{"a":1,"b":[true,null,"é"]}'
        self.assertEqual(server.wait_for("received "), "received " + compact)
        self.assertEqual(client.next(), {"event": "sent", "bytes": len(compact.encode())})

    def test_refused_without_allow_send(self):
        server, _ = self.start()
        client = self.reader()
        client.request({"op": "send", "data": "no"})
        error = client.next()
        self.assertEqual(error["event"], "error")
        self.assertIn("allow_send", error["message"])
        self.assertIn(" received=0 ", server_stats(server))

    def test_refused_when_not_connected(self):
        server, _ = self.start(allow_send=True)
        client = self.reader()
        server.stop()
        client.wait_event("disconnected")
        client.request({"op": "send", "data": "nobody"})
        error = client.wait_event("error")
        self.assertIn("not connected", error["message"])

    def test_refused_when_larger_than_max_message_size(self):
        server, _ = self.start(allow_send=True, server_config={"max_message_size": "4KiB"})
        client = self.reader()
        client.request({"op": "send", "data": "x" * 5000})
        error = client.next()
        self.assertEqual(error["event"], "error")
        self.assertIn("max_message_size", error["message"])
        client.request({"op": "send", "data": "small"})
        self.assertEqual(client.next(), {"event": "sent", "bytes": 5})
        self.assertEqual(server.wait_for("received "), "received small")


class MalformedRequests(UnixSinkTestCase):
    CASES = [
        ("invalid JSON", b'{"op": "status"', "not JSON"),
        ("unknown op", b'{"op": "dance"}', "unknown op"),
        ("array", b'[{"op": "status"}]', "object"),
        ("70 KB line", b'{"op": "status", "pad": "' + b"x" * 70000 + b'"}', "64 KiB"),
        ("10 MB line", b'{"op": "status", "pad": "' + b"x" * 10_000_000 + b'"}', "64 KiB"),
    ]

    def test_each_gets_one_error_and_the_client_stays(self):
        self.start()
        client = self.reader()
        for name, request, words in self.CASES:
            with self.subTest(name):
                client.request(request, timeout=30)
                before = client.lines_before_status()
                self.assertEqual(len(before), 1, before)
                self.assertEqual(before[0]["event"], "error")
                self.assertIn(words, before[0]["message"])


class SocketFile(UnixSinkTestCase):
    def test_mode_and_group_as_configured(self):
        if os.geteuid() != 0:
            self.skipTest("giving the socket to group daemon needs root")
        self.start(mode="0600", group="daemon")
        info = os.stat(self.socket_path)
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
        self.assertEqual(info.st_gid, grp.getgrnam("daemon").gr_gid)

    def test_second_daemon_on_the_same_path_fails_and_the_first_serves_on(self):
        server, _ = self.start()
        reader = self.reader()
        second = harness.Daemon(self.second_workdir(), self.config(server))
        self.addCleanup(second.kill)
        second.log.wait_for_text("is in use by another wspushd")
        self.assertEqual(second.wait_exit(), 1)
        self.assertEqual(self.reader().status()["subscribers"], 2)
        server.command("send still here")
        self.assertEqual(reader.next()["data"], "still here")

    def test_stale_socket_of_a_killed_daemon_is_replaced(self):
        server, first = self.start()
        self.reader()
        first.process.send_signal(signal.SIGKILL)
        first.wait_exit()
        self.assertTrue(stat.S_ISSOCK(os.stat(self.socket_path).st_mode))
        with self.assertRaises(ConnectionRefusedError):
            harness.UnixReader(self.socket_path)
        self.daemon(self.config(server))
        server.wait_for("connected ")
        reader = self.reader()
        server.command("send fresh")
        self.assertEqual(reader.next()["seq"], 1)

    def test_abstract_namespace(self):
        self.socket_path = f"@wspush-test-{secrets.token_hex(8)}"
        server, _ = self.start()
        reader = self.reader()
        self.push(server, 3)
        self.assertEqual(seqs(reader.records(3)), [1, 2, 3])
        self.assertFalse(os.path.exists(self.socket_path))

    def second_workdir(self):
        path = os.path.join(self.workdir, "second")
        os.mkdir(path)
        return path


class Lifecycle(UnixSinkTestCase):
    """Freed memory is filled with a pattern (glibc's perturb tunable), so that a use
    after free shows the same way every run."""

    def start(self, url=None, server_config=None, **unix):
        server = self.server()
        daemon = self.daemon(self.config(server, url, server_config, **unix),
                             env={"GLIBC_TUNABLES": "glibc.malloc.perturb=165"})
        server.wait_for("connected ")
        return server, daemon

    def test_sigterm_with_a_subscriber_connected_exits_0(self):
        _, daemon = self.start()
        self.reader()
        self.assertEqual(daemon.stop(), 0)

    def reload_with_changed_sink(self, server, daemon):
        daemon.rewrite_config(self.config(server, replay=999))
        daemon.signal(signal.SIGHUP)
        daemon.log.wait_for_text("reloaded")

    def test_reload_that_changes_the_sink_does_not_strand_subscribers(self):
        server, daemon = self.start(replay=1000)
        before = self.reader()
        self.reload_with_changed_sink(server, daemon)
        server.command("send after reload")
        before.fill(1, timeout=3)
        self.assertTrue(before.eof or before.next()["data"] == "after reload",
                        "neither closed nor sent the next record")

    def test_reload_that_changes_the_sink_serves_new_subscribers(self):
        server, daemon = self.start(replay=1000)
        self.reader()
        self.reload_with_changed_sink(server, daemon)
        after = self.unix_reader(self.socket_path)
        after.request({"op": "status"})
        self.assertEqual(after.next(timeout=3)["event"], "status")
        server.command("send after reload")
        self.assertEqual(after.next()["data"], "after reload")
        self.assertEqual(daemon.stop(), 0)

if __name__ == "__main__":
    harness.main()
