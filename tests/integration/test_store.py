# SPDX-License-Identifier: MIT
"""The store with the real daemon and real files: restarts, --verify-store, and a store
damaged while the daemon was stopped (torn, bit flips, segments deleted). The daemon always
starts, says what it cut or set aside, keeps every sound record, and never issues a seq
twice. A full file system is test_store_full_disk.py, kill -9 rounds test_store_crash.py."""

import json
import os
import random
import re

import harness
from store_files import (StoreCaseMixin, read_segment, read_store, segment_paths, store_yaml,
                         verify_store)

# 1 MiB of store: 128 KiB segments, so a few thousand records make several.
SMALL_STORE = {"max_size": "1MiB"}


def seqs(records):
    return [record["seq"] for record in records]


class StoreTestCase(StoreCaseMixin, harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.store = os.path.join(self.workdir, "store")
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")
        self.config_path = os.path.join(self.workdir, "wspushd.yaml")
        # WSPUSH_TEST_SEED=N repeats a run.
        self.seed = int(os.environ.get("WSPUSH_TEST_SEED") or random.randrange(1 << 32))
        self.random = random.Random(self.seed)
        print(f"{self.id()}: random seed {self.seed}")

    def config(self, server, store=None, **settings):
        return harness.config_yaml(
            server.url(), self.sink, sinks_yaml=harness.unix_sink_yaml(self.socket_path),
            extra=store_yaml(store or self.store, **settings))

    def start(self, server, config_text):
        daemon = self.daemon(config_text)
        server.wait_for("connected ")
        return daemon

    def fill(self, server, count, **settings):
        """Runs the daemon until `count` more records are in the sink; stops it. Returns
        every record of the sink."""
        before = len(harness.read_records(self.sink))
        daemon = self.start(server, self.config(server, **settings))
        self.push(server, count)
        records = harness.wait_records(self.sink, before + count, timeout=60)
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(seqs(records), list(range(1, before + count + 1)))
        return records

    def assert_stored(self, sink_records, missing=()):
        """Every record of the sink is in the store, its payload the data the sink got,
        except those in `missing`, which are not."""
        stored = {record.seq: record for record in read_store(self.store)}
        for record in sink_records:
            if record["seq"] in missing:
                self.assertNotIn(record["seq"], stored)
                continue
            self.assertIn(record["seq"], stored, f"record {record['seq']} is not in the store")
            self.assertEqual(json.loads(stored[record["seq"]].payload), record["data"])

    def assert_fresh_seqs(self, server, daemon, before, count=10):
        """New records get seqs above every earlier one, one after another."""
        self.push(server, count)
        records = harness.wait_records(self.sink, len(before) + count)
        self.assertEqual(seqs(records[:len(before)]), seqs(before))
        new = seqs(records[len(before):])
        first = max(seqs(before)) + 1
        self.assertEqual(new, list(range(first, first + count)))
        self.assertEqual(daemon.stop(), 0)
        return records


class Restart(StoreTestCase):
    def test_restart_keeps_the_epoch_and_seq_goes_on(self):
        server = self.server()
        config = self.config(server)
        daemon = self.start(server, config)
        self.assertEqual(os.stat(self.store).st_mode & 0o777, 0o700)
        self.push(server, 50)
        harness.wait_records(self.sink, 50)
        status = self.status()
        epoch = status["epoch"]
        self.assertRegex(epoch, r"^[0-9a-f]{32}$")
        self.assertEqual(status["store"]["path"], self.store)
        self.assertEqual(status["store"]["epoch"], epoch)
        self.assertEqual((status["store"]["first"], status["store"]["last"]), (1, 50))
        self.assertEqual(status["last_seq"], 50)
        self.assertEqual(daemon.stop(), 0)

        daemon = self.start(server, config)
        status = self.status()
        self.assertEqual(status["epoch"], epoch)
        self.assertEqual((status["store"]["first"], status["store"]["last"]), (1, 50))
        self.push(server, 50)
        records = harness.wait_records(self.sink, 100)
        self.assertEqual(seqs(records), list(range(1, 101)))
        # Each message once, in the order pushed.
        ns = [record["data"]["n"] for record in records]
        self.assertEqual(ns, sorted(set(ns)))
        self.assertEqual(self.status()["epoch"], epoch)
        self.assertEqual(daemon.stop(), 0)
        self.assert_stored(records)

        # Another directory is another store: a new epoch, seq from 1.
        other = os.path.join(self.workdir, "other-store")
        os.remove(self.sink)
        daemon = self.start(server, self.config(server, store=other))
        status = self.status()
        self.assertNotEqual(status["epoch"], epoch)
        self.assertEqual(status["store"]["last"], 0)
        self.push(server, 5)
        self.assertEqual(seqs(harness.wait_records(self.sink, 5)), [1, 2, 3, 4, 5])
        self.assertEqual(daemon.stop(), 0)

    def test_a_sink_that_was_down_catches_up_from_the_store_after_a_restart(self):
        server = self.server()
        config = self.config(server)
        self.fill(server, 100)
        # The daemon runs without the file sink for a while...
        daemon = self.start(server, harness.config_yaml(
            server.url(), sinks_yaml=harness.unix_sink_yaml(self.socket_path),
            extra=store_yaml(self.store)))
        self.push(server, 300)
        harness.wait_until(lambda: self.status()["store"]["last"] == 400, "400 records stored")
        self.assertEqual(daemon.stop(), 0)
        # ...and with it again: it gets what it missed from its cursor on, then live ones.
        daemon = self.start(server, config)
        daemon.log.wait_for_text(f"file {self.sink}: catching up from record 101 to 400")
        self.push(server, 10)
        records = harness.wait_records(self.sink, 410)
        self.assertEqual(seqs(records), list(range(1, 411)))
        self.assertEqual(daemon.stop(), 0)
        self.assert_stored(records)


    def test_a_file_sink_that_lost_its_tail_gets_it_again(self):
        server = self.server()
        self.fill(server, 100)
        # Its last lines were not on disk at a power loss: 90 whole lines and half a line.
        with open(self.sink, "rb") as sink:
            lines = sink.read().splitlines(keepends=True)
        with open(self.sink, "wb") as sink:
            sink.write(b"".join(lines[:90]) + lines[90][:30])
        daemon = self.start(server, self.config(server))
        daemon.log.wait_for_text(f"file {self.sink}: cut 30 bytes of an unfinished line")
        daemon.log.wait_for_text(f"file {self.sink} holds records only up to 90, its cursor is "
                                 "at 100: they come again")
        self.push(server, 10)
        records = harness.wait_records(self.sink, 110)
        self.assertEqual(seqs(records), list(range(1, 111)))
        self.assertEqual(daemon.stop(), 0)


class VerifyStore(StoreTestCase):
    def verify(self, config_text):
        with open(self.config_path, "w") as config:
            config.write(config_text)
        return verify_store(self.config_path)

    def test_no_store_path_is_sound(self):
        code, out, _ = self.verify(harness.config_yaml("ws://127.0.0.1:9/x", self.sink))
        self.assertEqual(code, 0)
        self.assertIn("no store.path is configured", out)

    def test_a_store_that_is_not_there_is_an_error(self):
        code, out, err = self.verify(harness.config_yaml("ws://127.0.0.1:9/x", self.sink,
                                                         extra=store_yaml(self.store)))
        self.assertEqual(code, 1)
        self.assertIn(f"store {self.store}: not a directory", err)

    def test_sound_then_damaged_then_set_aside(self):
        server = self.server()
        config = self.config(server, **SMALL_STORE)
        records = self.fill(server, 3000, **SMALL_STORE)
        segments = segment_paths(self.store)
        self.assertGreaterEqual(len(segments), 4)

        code, out, _ = self.verify(config)
        self.assertEqual(code, 0, out)
        lines = out.splitlines()
        self.assertEqual(lines[-1], f"{self.store}: {len(segments)} segment(s), 3000 records: "
                                    "sound")
        self.assertRegex(lines[0], r"^00000000000000000001\.seg: \d+ records, seq 1 to \d+, "
                                   r"\d+ bytes$")
        self.assertNotIn("DAMAGED", out)

        # A flipped byte inside a middle segment.
        middle = segments[1]
        stored, _ = read_segment(middle)
        hit = stored[len(stored) // 2]
        with open(middle, "r+b") as segment:
            segment.seek(hit.offset + hit.size - 3)
            byte = segment.read(1)[0]
            segment.seek(-1, os.SEEK_CUR)
            segment.write(bytes([byte ^ 0x10]))
        code, out, _ = self.verify(config)
        self.assertEqual(code, 1)
        name = os.path.basename(middle)
        self.assertRegex(out, re.escape(name) + rf": {len(stored) - 1} records, .*, DAMAGED: "
                                                rf"{hit.size} bytes in 1 place\(s\)\n")
        self.assertTrue(out.endswith(": DAMAGED\n"))

        # The daemon starts, sets it aside; verify says so until it is removed.
        daemon = self.start(server, config)
        daemon.log.wait_for_text(f"{middle} was damaged ({hit.size} bytes in 1 place(s)): "
                                 f"set aside as {middle}.damaged, {len(stored) - 1} sound "
                                 "record(s) kept")
        self.assert_fresh_seqs(server, daemon, records)
        code, out, _ = self.verify(config)
        self.assertEqual(code, 1)
        self.assertIn(f"{name}.damaged: DAMAGED, set aside (remove it once looked at)", out)
        os.remove(middle + ".damaged")
        code, out, _ = self.verify(config)
        self.assertEqual(code, 0, out)

    def test_a_torn_tail_is_reported(self):
        server = self.server()
        config = self.config(server)
        self.fill(server, 20)
        newest = segment_paths(self.store)[-1]
        os.truncate(newest, os.path.getsize(newest) - 5)
        code, out, _ = self.verify(config)
        self.assertEqual(code, 1)
        self.assertIn(f"{os.path.basename(newest)}: 19 records, seq 1 to 19, ", out)
        self.assertIn("DAMAGED: 223 bytes in 1 place(s) at the end (a torn tail)", out)


class Damage(StoreTestCase):
    """The store is damaged while the daemon is stopped; it starts on it all the same."""

    def test_newest_segment_truncated_at_random_offsets(self):
        server = self.server()
        records = self.fill(server, 3000, **SMALL_STORE)
        missing = set()
        for _ in range(6):
            newest = segment_paths(self.store)[-1]
            kept, _ = read_segment(newest)
            cut = self.random.randrange(0, os.path.getsize(newest))
            sound = [record for record in kept if record.offset + record.size <= cut]
            torn = cut - (sound[-1].offset + sound[-1].size if sound else 0)
            os.truncate(newest, cut)
            missing |= {record.seq for record in kept[len(sound):]}

            daemon = self.start(server, self.config(server, **SMALL_STORE))
            if torn:
                daemon.log.wait_for_text(f"cut a torn tail of {torn} bytes off {newest}")
            # A segment left without a record goes.
            self.assertEqual(os.path.exists(newest), bool(sound))
            records = self.assert_fresh_seqs(server, daemon, records)
            # Every sound record is still there; what was cut is not.
            self.assert_stored(records, missing=missing)
            self.assertEqual(verify_store(daemon.config_path)[0], 0)

    def test_random_bit_flips_in_a_middle_segment(self):
        server = self.server()
        records = self.fill(server, 3000, **SMALL_STORE)
        missing = set()
        for _ in range(3):
            segments = segment_paths(self.store)
            middle = segments[len(segments) // 2]
            stored, end = read_segment(middle)
            self.assertEqual(end, os.path.getsize(middle))
            with open(middle, "rb") as segment:
                data = bytearray(segment.read())
            # Distinct bits, so that no flip undoes another; each loses the record it is in.
            bits = self.random.sample(range(len(data) * 8), self.random.randint(1, 6))
            hit = set()
            for bit in bits:
                data[bit // 8] ^= 1 << (bit % 8)
                hit.update(r.seq for r in stored if r.offset <= bit // 8 < r.offset + r.size)
            with open(middle, "wb") as segment:
                segment.write(data)
            missing |= hit

            daemon = self.start(server, self.config(server, **SMALL_STORE))
            line = daemon.log.wait_for_text(f"{middle} was damaged")
            self.assertIn(f"set aside as {middle}.damaged, {len(stored) - len(hit)} sound "
                          "record(s) kept", line)
            with open(middle + ".damaged", "rb") as aside:
                self.assertEqual(aside.read(), bytes(data))
            records = self.assert_fresh_seqs(server, daemon, records)
            self.assert_stored(records, missing=missing)
            code, out, _ = verify_store(daemon.config_path)
            self.assertEqual(code, 1)
            self.assertIn(f"{os.path.basename(middle)}.damaged: DAMAGED, set aside", out)
            os.remove(middle + ".damaged")

    def test_deleted_segments(self):
        server = self.server()
        records = self.fill(server, 3000, **SMALL_STORE)
        middle = segment_paths(self.store)[1]
        gone = [record.seq for record in read_segment(middle)[0]]
        os.remove(middle)
        code, out, _ = verify_store(self.config_path)
        self.assertEqual(code, 1)
        self.assertIn(f"MISSING: records {gone[0]} to {gone[-1]} before it", out)

        daemon = self.start(server, self.config(server, **SMALL_STORE))
        daemon.log.wait_for_text(f"records {gone[0]} to {gone[-1]} are missing before")
        records = self.assert_fresh_seqs(server, daemon, records)
        missing = set(gone)
        self.assert_stored(records, missing=missing)

        # The newest one too: the seqs it held are not issued again.
        newest = segment_paths(self.store)[-1]
        missing |= {record.seq for record in read_segment(newest)[0]}
        os.remove(newest)
        daemon = self.start(server, self.config(server, **SMALL_STORE))
        records = self.assert_fresh_seqs(server, daemon, records)
        self.assert_stored(records, missing=missing)


if __name__ == "__main__":
    harness.main()
