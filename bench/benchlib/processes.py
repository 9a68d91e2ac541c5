# SPDX-License-Identifier: MIT
"""Child processes for the benchmark, and what /proc says about them."""

import glob
import os
import queue
import subprocess
import threading
import time

WAIT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Something does not work; the benchmark cannot go on."""


class Child:
    """A child process whose stdout lines can be awaited, each with the time it was read."""

    def __init__(self, command, stdin=False, stderr=subprocess.DEVNULL, name=None, env=None):
        """`env`: variables to set for it, on top of the bench's own environment."""
        self.command = [str(part) for part in command]
        self.label = name or os.path.basename(self.command[0])
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr, text=True,
            env=dict(os.environ, **env) if env else None)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self):
        return self.process.pid

    def _read(self):
        for line in self.process.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))
        self.lines.put((time.monotonic(), None))

    def wait_for_timed(self, prefix, timeout=WAIT):
        """The first new line starting with `prefix`, and when it was read (monotonic)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                read_at, line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.lines.put((read_at, None))
                raise BenchError(f"{self.label} exited (status {self.process.wait()}) "
                                 f"before printing {prefix!r}")
            if line.startswith(prefix):
                return read_at, line
        raise BenchError(f"{self.label}: no {prefix!r} within {timeout:g} s")

    def wait_for(self, prefix, timeout=WAIT):
        return self.wait_for_timed(prefix, timeout)[1]

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def alive(self):
        return self.process.poll() is None

    def check_alive(self):
        if not self.alive():
            raise BenchError(f"{self.label} exited with status {self.process.returncode}")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def stop_all(children):
    for child in children:
        if child is not None:
            child.stop()


def key_values(line):
    """'done a=1 b=2.5' -> {'a': 1.0, 'b': 2.5}"""
    return {key: float(value) for key, value in (pair.split("=") for pair in line.split()[1:])}


def cpu_seconds(pid):
    """CPU time a process used so far, all its threads: from schedstat (nanoseconds) when the
    kernel has it, else utime + stime from /proc/PID/stat (clock ticks)."""
    try:
        total = 0
        for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            with open(path) as stat:
                total += int(stat.read().split()[0])
        if total:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_rollup_kib(pid):
    """/proc/PID/smaps_rollup in KiB: Rss, Pss, Private_Clean, Private_Dirty, ..."""
    figures = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                figures[parts[0].rstrip(":")] = int(parts[1])
    return figures


def memory_kib(pid, field):
    """A /proc/PID/status figure in KiB: VmRSS (now) or VmHWM (peak resident set)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")
