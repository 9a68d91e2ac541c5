# SPDX-License-Identifier: MIT
"""The `unix` sink as local applications see it: the hello line, records, events and
requests, replays (across restarts too), durable named subscriptions, slow subscribers,
and the socket file itself."""

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

    def config(self, server, url=None, server_config=None, store=None, **unix):
        """`store`: the store's settings (a dict), or None for the memory store."""
        extra = "".join(f"  {key}: {value}\n" for key, value in (store or {}).items())
        return harness.config_yaml(
            url or server.url(), self.sink, server=server_config,
            sinks_yaml=harness.unix_sink_yaml(self.socket_path, **unix),
            extra="store:\n" + extra if extra else "")

    def start(self, url=None, server_config=None, store=None, **unix):
        server = self.server()
        daemon = self.daemon(self.config(server, url, server_config, store, **unix))
        server.wait_for("connected ")
        return server, daemon

    def reader(self):
        """A subscriber the daemon has taken on (its status request was answered)."""
        reader = self.unix_reader(self.socket_path)
        reader.status()
        return reader

    def greeted(self):
        """A new client whose first line, the hello, was read: reader.hello holds it."""
        reader = self.unix_reader(self.socket_path)
        reader.hello = reader.next()
        self.assertEqual(reader.hello["event"], "hello", reader.hello)
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
        # 2.5 MB/s into a 256 KiB queue: the reader that reads may stall 100 ms (a loaded
        # CI machine) and still keep up; the one that never reads is cut off all the same.
        server, daemon = self.start(max_queue="256KiB", policy="disconnect")
        reader, stuck = self.reader(), self.reader()
        server.command("push 10000 1024 2500")
        lines = reader.take_lines(10000, timeout=30)
        self.assertEqual(seqs(map(json.loads, lines)), list(range(1, 10001)))
        harness.wait_records(self.sink, 10000)
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
        client = self.greeted()
        client.request({"op": "replay", "since": 5})
        self.assertEqual(seqs(client.records(15)), list(range(6, 21)))
        self.push(server, 10)
        self.assertEqual(seqs(client.records(10)), list(range(21, 31)))
        self.assertEqual(client.lines_before_status(), [])

    def test_gap_when_the_oldest_wanted_is_gone(self):
        self.start_with_records(80, ring=50)
        client = self.greeted()
        client.request({"op": "replay", "since": 0})
        self.assertEqual(client.next(), {"event": "gap", "from": 1, "to": 30})
        self.assertEqual(seqs(client.records(50)), list(range(31, 81)))
        self.assertEqual(client.lines_before_status(), [])

    def test_other_epoch_gives_an_epoch_gap_then_everything_held(self):
        self.start_with_records(20, ring=50)
        for key in ("epoch", "run"):  # "run" is round 1's name, still understood
            with self.subTest(key=key):
                client = self.greeted()
                client.request({"op": "replay", "since": 15, key: "0" * 32})
                self.assertEqual(client.next(), {"event": "gap", "reason": "epoch",
                                                 "epoch": client.hello["epoch"]})
                self.assertEqual(seqs(client.records(20)), list(range(1, 21)))
                self.assertEqual(client.lines_before_status(), [])

    def test_other_epoch_replays_no_further_back_than_replay(self):
        self.start_with_records(80, ring=50)
        client = self.greeted()
        client.request({"op": "replay", "since": 70, "epoch": "f" * 32})
        self.assertEqual(client.next()["reason"], "epoch")
        self.assertEqual(seqs(client.records(50)), list(range(31, 81)))
        self.assertEqual(client.lines_before_status(), [])

    def test_current_epoch_is_honoured(self):
        self.start_with_records(20, ring=50)
        for key in ("epoch", "run"):
            with self.subTest(key=key):
                client = self.greeted()
                self.assertEqual(client.status()["epoch"], client.hello["epoch"])
                client.request({"op": "replay", "since": 15, key: client.hello["epoch"]})
                self.assertEqual(seqs(client.records(5)), list(range(16, 21)))
                self.assertEqual(client.lines_before_status(), [])

    def test_since_beyond_the_newest_replays_nothing(self):
        server = self.start_with_records(20, ring=50)
        client = self.greeted()
        client.request({"op": "replay", "since": 1000})
        self.assertEqual(client.lines_before_status(), [])
        self.push(server, 1)
        self.assertEqual(seqs(client.records(1)), [21])

    def test_replay_during_a_stream_repeats_and_misses_nothing(self):
        server, _ = self.start(replay=100000)
        server.command("push 20000 200 20000")
        harness.wait_records(self.sink, 1000)
        client = self.greeted()
        client.request({"op": "replay", "since": 0})
        got = seqs(client.records(20000, timeout=30))
        self.assertEqual(sorted(got), list(range(1, 20001)))
        self.assertEqual(client.lines_before_status(), [])

    def test_replay_as_first_line_gives_records_in_order(self):
        server = self.start_with_records(20, ring=50)
        client = self.greeted()
        # A live record reaches the daemon before the request: it waits for the replay.
        server.command("send live")
        client.request({"op": "replay", "since": 0})
        self.assertEqual(seqs(client.records(21)), list(range(1, 22)))


class Hello(UnixSinkTestCase):
    def test_first_line_with_nothing_held(self):
        self.start()
        client = self.unix_reader(self.socket_path)
        hello = client.next()
        self.assertEqual(sorted(hello), ["epoch", "event", "first", "last"])
        self.assertEqual((hello["event"], hello["first"], hello["last"]), ("hello", 0, 0))
        self.assertRegex(hello["epoch"], r"^[0-9a-f]{32}$")
        self.assertEqual(client.status()["epoch"], hello["epoch"])

    def test_first_line_gives_the_held_range_and_every_later_record_follows(self):
        server, _ = self.start(replay=50)
        self.push(server, 20)
        harness.wait_records(self.sink, 20)
        client = self.unix_reader(self.socket_path)
        hello = client.next()
        self.assertEqual((hello["event"], hello["first"], hello["last"]), ("hello", 1, 20))
        server.command("send live")
        self.assertEqual(client.next()["seq"], 21)

    def test_first_line_while_records_stream_in(self):
        # Whenever it connects, a client gets each record after its hello's `last`, from
        # the very next one.
        server, _ = self.start(max_queue="64MiB")
        server.command("push 20000 200 20000")
        harness.wait_records(self.sink, 2000)
        clients = [self.unix_reader(self.socket_path) for _ in range(5)]
        server.wait_for("pushed 20000", timeout=30)
        for number, client in enumerate(clients):
            with self.subTest(client=number):
                hello = client.next()
                self.assertEqual(hello["event"], "hello")
                self.assertGreaterEqual(hello["last"], 2000)
                count = 20000 - hello["last"]
                self.assertEqual(seqs(client.records(count, timeout=30)),
                                 list(range(hello["last"] + 1, 20001)))

    def test_hello_comes_before_a_replay_asked_for_at_once(self):
        server, _ = self.start(replay=50)
        self.push(server, 20)
        harness.wait_records(self.sink, 20)
        client = self.unix_reader(self.socket_path)
        client.request({"op": "replay", "since": 0})
        self.assertEqual(client.next()["event"], "hello")
        self.assertEqual(seqs(client.records(20)), list(range(1, 21)))


class StoreTestCase(UnixSinkTestCase):
    """A daemon with its store in a directory of the test's own, restarted at will."""

    STORE = {}

    def setUp(self):
        super().setUp()
        self.store_dir = os.path.join(self.workdir, "store")

    def store_config(self):
        return {"path": json.dumps(self.store_dir), **self.STORE}

    def start(self, **unix):
        self.unix = unix
        self.server_ = self.server()
        daemon = self.daemon(self.config(self.server_, store=self.store_config(), **unix))
        self.wait_connected(daemon)
        return self.server_, daemon

    def wait_connected(self, daemon):
        """The server sees the upgrade done before the daemon does: a client taken on in
        between would get a `connected` event."""
        self.server_.wait_for("connected ")
        daemon.log.wait_for_text("connected to ")

    def restart(self, daemon):
        """SIGTERM, then a new daemon on the same config and store."""
        self.assertEqual(daemon.stop(), 0)
        daemon = self.daemon(self.config(self.server_, store=self.store_config(), **self.unix))
        self.wait_connected(daemon)
        return daemon

    def subscribe(self, name, **request):
        """A new client subscribed as `name`; returns it and its `subscribed` answer."""
        client = self.greeted()
        client.request({"op": "subscribe", "name": name, **request})
        answer = client.next()
        self.assertEqual((answer["event"], answer["name"]), ("subscribed", name), answer)
        return client, answer

    def cursors(self):
        """{name: cursor entry} from a `cursors` request."""
        client = self.greeted()
        client.request({"op": "cursors"})
        answer = client.wait_event("cursors")
        client.close()
        return {entry["name"]: entry for entry in answer["cursors"]}

    def wait_cursor(self, name, seq):
        """Acks are not answered: waits until the daemon has taken this one."""
        harness.wait_until(lambda: self.cursors().get(name, {}).get("seq") == seq,
                           f"cursor {name} at {seq}")


class ReplayAcrossRestarts(StoreTestCase):
    def test_same_epoch_and_seqs_after_a_restart(self):
        server, daemon = self.start(replay=1000)
        self.push(server, 30)
        harness.wait_records(self.sink, 30)
        before = self.greeted().hello
        self.assertEqual((before["first"], before["last"]), (1, 30))
        daemon = self.restart(daemon)

        client = self.greeted()
        self.assertEqual(client.hello, before)
        client.request({"op": "replay", "since": 10, "epoch": before["epoch"]})
        self.assertEqual(seqs(client.records(20)), list(range(11, 31)))
        self.push(server, 5)
        self.assertEqual(seqs(client.records(5)), list(range(31, 36)))
        self.assertEqual(client.lines_before_status(), [])

    def test_replay_reads_back_the_lines_the_file_sink_wrote(self):
        server, daemon = self.start(replay=100000)
        self.push(server, 3000)
        harness.wait_records(self.sink, 3000)
        daemon = self.restart(daemon)
        client = self.greeted()
        client.request({"op": "replay", "since": 0, "epoch": client.hello["epoch"]})
        self.assertEqual(client.take_lines(3000), raw_lines(self.sink))


class Subscriptions(StoreTestCase):
    def test_a_new_name_starts_at_the_next_record(self):
        server, _ = self.start()
        self.push(server, 10)
        harness.wait_records(self.sink, 10)
        client, answer = self.subscribe("fresh")
        self.assertEqual(answer["cursor"], 10)
        self.push(server, 5)
        self.assertEqual(seqs(client.records(5)), list(range(11, 16)))
        self.assertEqual(client.lines_before_status(), [])

    def test_from_first_starts_at_the_oldest_held(self):
        server, _ = self.start()
        self.push(server, 10)
        harness.wait_records(self.sink, 10)
        client, answer = self.subscribe("everything", **{"from": "first"})
        self.assertEqual(answer["cursor"], 0)
        self.assertEqual(seqs(client.records(10)), list(range(1, 11)))
        self.push(server, 2)
        self.assertEqual(seqs(client.records(2)), [11, 12])

    def test_what_is_not_acked_comes_again(self):
        server, _ = self.start()
        first, _ = self.subscribe("worker")
        self.push(server, 20)
        self.assertEqual(seqs(first.records(20)), list(range(1, 21)))
        first.request({"op": "ack", "seq": 12})
        first.request({"op": "ack", "seq": 5})  # never backwards
        self.wait_cursor("worker", 12)
        first.close()
        again, answer = self.subscribe("worker")
        self.assertEqual(answer["cursor"], 12)
        self.assertEqual(seqs(again.records(8)), list(range(13, 21)))
        self.assertEqual(again.lines_before_status(), [])

    def test_ack_cannot_pass_what_was_sent(self):
        server, _ = self.start()
        client, _ = self.subscribe("careful")
        self.push(server, 3)
        self.assertEqual(seqs(client.records(3)), [1, 2, 3])
        client.request({"op": "ack", "seq": 4})
        error = client.next()
        self.assertEqual(error["event"], "error")
        self.assertIn("past the last record sent", error["message"])
        client.request({"op": "ack", "seq": 3})
        self.wait_cursor("careful", 3)
        self.assertEqual(client.lines_before_status(), [])

    def test_a_second_client_with_the_name_takes_over(self):
        server, _ = self.start()
        first, _ = self.subscribe("single")
        self.push(server, 5)
        self.assertEqual(seqs(first.records(5)), list(range(1, 6)))
        first.request({"op": "ack", "seq": 3})
        self.wait_cursor("single", 3)
        second, answer = self.subscribe("single")
        self.assertEqual(answer["cursor"], 3)
        lines, partial = first.read_to_end()
        self.assertEqual(partial, b"")
        error = json.loads(lines[-1])
        self.assertEqual((error["event"], error["reason"]), ("error", "taken_over"))
        self.assertIn("taken over", error["message"])
        self.assertEqual(seqs(second.records(2)), [4, 5])
        self.push(server, 1)
        self.assertEqual(seqs(second.records(1)), [6])

    def test_replay_on_a_subscribed_connection_is_refused(self):
        self.start()
        client, _ = self.subscribe("named")
        client.request({"op": "replay", "since": 0})
        error = client.next()
        self.assertEqual(error["event"], "error")
        self.assertIn("subscribed as 'named'", error["message"])

    def test_read_100_ack_50_then_10000_more_and_a_restart(self):
        server, daemon = self.start()
        reader, _ = self.subscribe("reader")
        self.push(server, 100)
        first = reader.take_lines(100)
        self.assertEqual(seqs(map(json.loads, first)), list(range(1, 101)))
        reader.request({"op": "ack", "seq": 50})
        self.wait_cursor("reader", 50)
        reader.close()

        self.push(server, 10000)
        harness.wait_records(self.sink, 10100, timeout=30)
        daemon = self.restart(daemon)

        reader, answer = self.subscribe("reader")
        self.assertEqual(answer["cursor"], 50)
        lines = reader.take_lines(10050, timeout=30)
        self.assertEqual(seqs(map(json.loads, lines)), list(range(51, 10101)))
        self.assertEqual(lines, raw_lines(self.sink)[50:])
        self.push(server, 1)
        self.assertEqual(seqs(reader.records(1)), [10101])
        self.assertEqual(reader.lines_before_status(), [])

    def test_cursors_live_in_the_store_across_restarts(self):
        server, daemon = self.start()
        client, _ = self.subscribe("kept")
        self.push(server, 7)
        client.records(7)
        client.request({"op": "ack", "seq": 6})
        self.wait_cursor("kept", 6)
        client.close()
        daemon = self.restart(daemon)
        self.assertEqual(self.cursors(), {"kept": {"name": "kept", "seq": 6, "lag": 1,
                                                   "connected": False}})


class SubscriptionGaps(StoreTestCase):
    STORE = {"max_size": "1MiB"}

    def test_records_removed_before_they_were_acked_give_a_gap_first(self):
        server, daemon = self.start()
        client, _ = self.subscribe("away")
        client.close()
        self.push(server, 5000, size=1024)
        harness.wait_records(self.sink, 5000, timeout=30)
        first = self.greeted().hello["first"]
        self.assertGreater(first, 1, "retention removed nothing")
        client, _ = self.subscribe("away")
        self.assertEqual(client.next(), {"event": "gap", "from": 1, "to": first - 1})
        count = 5000 - first + 1
        lines = client.take_lines(count, timeout=30)
        self.assertEqual(seqs(map(json.loads, lines)), list(range(first, 5001)))
        self.assertEqual(lines, raw_lines(self.sink)[first - 1:])


class FarBehind(StoreTestCase):
    STORE = {"max_size": "1GiB"}

    def test_a_subscriber_far_behind_is_fed_as_it_reads(self):
        # 100 MiB of backlog: a subscriber that does not read costs the daemon no more
        # than what its socket and one read-ahead hold; one that reads gets it all in order
        # while live records go on flowing to the others.
        count = 100_000
        server, daemon = self.start(max_queue="1MiB")
        away, _ = self.subscribe("behind")
        away.close()
        self.push(server, count, size=1024)
        harness.wait_records(self.sink, count, timeout=60)
        rss_before = harness.rss_kib(daemon.process.pid)

        stuck, _ = self.subscribe("behind")  # reads nothing more
        watcher = self.reader()
        server.command("send during")
        self.assertEqual(watcher.next()["seq"], count + 1)
        self.assertLess(harness.rss_kib(daemon.process.pid) - rss_before, 32 * 1024)

        stuck.close()
        reader, _ = self.subscribe("behind")
        got = seqs(map(json.loads, reader.take_lines(count + 1, timeout=60)))
        self.assertEqual(got, list(range(1, count + 2)))
        self.assertLess(harness.rss_kib(daemon.process.pid) - rss_before, 32 * 1024)


class Cursors(StoreTestCase):
    def test_listed_with_their_lag_and_deleted(self):
        server, _ = self.start()
        one, _ = self.subscribe("one")
        two, _ = self.subscribe("two")
        self.push(server, 10)
        one.records(10)
        one.request({"op": "ack", "seq": 10})
        two.records(10)
        two.request({"op": "ack", "seq": 4})
        self.wait_cursor("one", 10)
        self.wait_cursor("two", 4)
        two.close()
        harness.wait_until(lambda: not self.cursors()["two"]["connected"], "two gone")
        self.assertEqual(self.cursors(), {
            "one": {"name": "one", "seq": 10, "lag": 0, "connected": True},
            "two": {"name": "two", "seq": 4, "lag": 6, "connected": False},
        })
        status = self.reader().status()
        self.assertEqual([entry["name"] for entry in status["cursors"]], ["one", "two"])

        client = self.greeted()
        client.request({"op": "delete_cursor", "name": "one"})
        error = client.next()
        self.assertEqual(error["event"], "error")
        self.assertIn("in use", error["message"])
        client.request({"op": "delete_cursor", "name": "two"})
        self.assertEqual(client.next(), {"event": "cursor_deleted", "name": "two"})
        client.request({"op": "cursors"})
        self.assertEqual([entry["name"] for entry in client.next()["cursors"]], ["one"])
        # A deleted name starts again at the next record.
        again, answer = self.subscribe("two")
        self.assertEqual(answer["cursor"], 10)


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
        ("subscribe without a name", b'{"op": "subscribe"}', 'needs "name"'),
        ("subscribe, name with a space", b'{"op": "subscribe", "name": "a b"}', "A-Z"),
        ("subscribe, name too long", b'{"op": "subscribe", "name": "' + b"n" * 65 + b'"}',
         "1 to 64"),
        ("subscribe from last", b'{"op": "subscribe", "name": "a", "from": "last"}',
         '"first" or "next"'),
        ("ack without a seq", b'{"op": "ack"}', 'needs "seq"'),
        ("ack with a string", b'{"op": "ack", "seq": "7"}', 'needs "seq"'),
        ("ack without a subscription", b'{"op": "ack", "seq": 7}', "subscribe first"),
        ("delete_cursor, bad name", b'{"op": "delete_cursor", "name": "../x"}', "A-Z"),
        ("delete_cursor, unknown name", b'{"op": "delete_cursor", "name": "nobody"}',
         "no cursor named 'nobody'"),
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
        self.assertEqual(after.next(timeout=3)["event"], "hello")
        self.assertEqual(after.next(timeout=3)["event"], "status")
        server.command("send after reload")
        self.assertEqual(after.next()["data"], "after reload")
        self.assertEqual(daemon.stop(), 0)

if __name__ == "__main__":
    harness.main()
