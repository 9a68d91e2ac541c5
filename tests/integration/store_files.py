# SPDX-License-Identifier: MIT
"""A store's files as the tests see them, read without the daemon.

Segments hold records as src/store/record_format.hpp writes them: a 28-byte little-endian
header (payload length, CRC-32 of everything after the CRC field, seq, receive time in µs,
flags) and the payload.
"""

import json
import os
import re
import struct
import subprocess
import zlib
from typing import NamedTuple

import harness

HEADER = struct.Struct("<IIQqI")
BINARY = 1
SEGMENT_NAME = re.compile(r"^[0-9]{20}\.seg$")


class Stored(NamedTuple):
    seq: int
    us: int
    binary: bool
    payload: bytes
    offset: int  # in its segment file
    size: int  # header and payload


def store_yaml(path, **settings):
    """The `store:` section for harness.config_yaml(extra=...)."""
    lines = ["store:", f"  path: {path}"]
    lines += [f"  {key}: {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def segment_paths(store):
    """The segment files, oldest first."""
    return [os.path.join(store, name) for name in sorted(os.listdir(store))
            if SEGMENT_NAME.match(name)]


def parse_segment(data):
    """The sound records at the start of `data`, and the offset where they end."""
    records = []
    offset = 0
    while offset + HEADER.size <= len(data):
        length, crc, seq, us, flags = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if flags & ~BINARY or end > len(data) or zlib.crc32(data[offset + 8:end]) != crc:
            break
        records.append(Stored(seq, us, bool(flags & BINARY), data[offset + HEADER.size:end],
                              offset, end - offset))
        offset = end
    return records, offset


def read_segment(path):
    with open(path, "rb") as segment:
        return parse_segment(segment.read())


def read_store(store, first_segment=0):
    """Every sound record of the segments from index `first_segment` on, in file order."""
    records = []
    for path in segment_paths(store)[first_segment:]:
        records += read_segment(path)[0]
    return records


def verify_store(config_path, timeout=harness.DEFAULT_WAIT * 3):
    """Runs `wspushd --verify-store`; returns (exit code, stdout, stderr)."""
    done = subprocess.run([harness.WSPUSHD, "--verify-store", "--config", config_path],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout, done.stderr


class SinkFollower:
    """Reads a file sink's new whole lines as they come, without reading a line twice.

    check() asserts what the crash rounds need of the lines read so far: seq one above the
    one before (no hole, no repeat, nothing out of order), and the pushed messages' "n"
    growing.
    """

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.last_seq = 0
        self.last_n = 0
        self.count = 0

    def read_new(self):
        """The records whose lines were completed since the last call, parsed."""
        try:
            with open(self.path, "rb") as sink:
                sink.seek(self.offset)
                data = sink.read()
        except FileNotFoundError:
            return []
        whole = data[:data.rfind(b"\n") + 1]
        self.offset += len(whole)
        records = [json.loads(line) for line in whole.splitlines()]
        for record in records:
            if record["seq"] != self.last_seq + 1:
                raise AssertionError(f"{self.path}: seq {record['seq']} after {self.last_seq} "
                                     f"(line {self.count + 1})")
            n = record["data"]["n"] if isinstance(record["data"], dict) else None
            if n is not None:
                if n <= self.last_n:
                    raise AssertionError(f"{self.path}: message n={n} after n={self.last_n} "
                                         f"(seq {record['seq']})")
                self.last_n = n
            self.last_seq = record["seq"]
            self.count += 1
        return records

    def wait_for_seq(self, seq, timeout=harness.DEFAULT_WAIT):
        """Reads on until the line with `seq` was read; returns the records read meanwhile."""
        records = []
        harness.wait_until(lambda: records.extend(self.read_new()) or self.last_seq >= seq,
                           f"record {seq} in {self.path} (have {self.last_seq})", timeout)
        return records


class StoreCaseMixin:
    """What the store tests do with the bundled server and the daemon's unix socket
    (`self.socket_path`)."""

    def push(self, server, count, size=200):
        server.command(f"push {count} {size} 0")
        server.wait_for(f"pushed {count}", timeout=60)

    def status(self):
        reader = self.unix_reader(self.socket_path)
        try:
            return reader.status()
        finally:
            reader.close()
