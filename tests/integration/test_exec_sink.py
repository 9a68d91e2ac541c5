# SPDX-License-Identifier: MIT
"""The exec sink with the real daemon and real processes: small shell and Python scripts
written into each test's directory are the commands. Each mode (order, parallelism,
timeout and the process group, retries then a skip, the environment, no shell anywhere),
stream mode (lines, a restart, back-pressure), the child's output in the log, and a
restart of the daemon that resumes after the last record the sink finished."""

import json
import os
import stat
import sys
import time

import harness
from store_files import store_yaml


def process_gone(pid):
    """True when the process no longer runs (gone, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as info:
            return info.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


class ExecTestCase(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")
        self.out = os.path.join(self.workdir, "out")

    def script(self, name, body, interpreter="/bin/sh"):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as script:
            script.write(f"#!{interpreter}\n{body}")
        os.chmod(path, stat.S_IRWXU)
        return path

    def exec_yaml(self, command, **settings):
        lines = ["  - type: exec", f"    command: {json.dumps(command)}"]
        lines += [f"    {key}: {json.dumps(value)}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def start(self, sinks_yaml, store=None, file_sink=False):
        server = self.server()
        config = harness.config_yaml(
            server.url(), self.sink if file_sink else None,
            sinks_yaml=harness.unix_sink_yaml(self.socket_path) + sinks_yaml,
            extra=store_yaml(store) if store else "")
        daemon = self.daemon(config)
        server.wait_for("connected ")
        return server, daemon

    def status(self):
        reader = self.unix_reader(self.socket_path)
        try:
            return reader.status()
        finally:
            reader.close()

    def exec_status(self):
        return next(sink for sink in self.status()["sinks"] if sink["type"] == "exec")

    def lines(self, path=None, count=0, timeout=harness.DEFAULT_WAIT):
        """The lines of `path` (self.out) once it has at least `count`."""
        path = path or self.out
        found = []

        def enough():
            nonlocal found
            if os.path.exists(path):
                with open(path) as lines:
                    found = lines.read().splitlines()
            return len(found) >= count

        harness.wait_until(enough, f"{count} lines in {path} (have {len(found)})", timeout)
        return found


class EachMode(ExecTestCase):
    def test_in_order_with_the_record_on_stdin_and_its_variables(self):
        script = self.script("each", f"""
sleep 0.0$(( $WSPUSH_SEQ % 3 ))
printf '%s %s %s %s %s\\n' "$WSPUSH_SEQ" "$WSPUSH_TS" "$WSPUSH_EPOCH" "$EXTRA" "$(cat)" \\
    >> {self.out}
echo "hello from $WSPUSH_SEQ"
echo "complaint from $WSPUSH_SEQ" >&2
# What a program the command starts has (the shell itself blocks signals around a fork).
if [ "$WSPUSH_SEQ" = 1 ]; then
    exec grep -E '^Sig(Blk|Ign):' /proc/self/status > {self.workdir}/signals
fi
exec ls -l /proc/self/fd > {self.workdir}/fds.$WSPUSH_SEQ
""")
        server, daemon = self.start(
            self.exec_yaml([script], environment={"EXTRA": "x_y"}), file_sink=True)
        for n in range(1, 13):
            server.command(f'send {{"n":{n}}}')
        records = harness.wait_records(self.sink, 12)
        lines = self.lines(count=12)
        epoch = self.status()["epoch"]
        self.assertEqual(len(lines), 12)
        for line, record in zip(lines, records):
            seq, ts, line_epoch, extra, stdin = line.split(" ", 4)
            self.assertEqual(int(seq), record["seq"])
            self.assertEqual(ts, record["ts"])
            self.assertEqual(line_epoch, epoch)
            self.assertEqual(extra, "x_y")
            self.assertEqual(json.loads(stdin), record)
        self.assertEqual([json.loads(line.split(" ", 4)[4])["data"]["n"] for line in lines],
                         list(range(1, 13)))
        # Its output is in the daemon's log under the sink's name, stdout and stderr.
        daemon.log.wait_for_text(f"exec {script} [")
        daemon.log.wait_for_text("hello from 12")
        self.assertTrue(any("complaint from" in line for line in daemon.log.seen))
        harness.wait_until(lambda: self.exec_status()["forwarded"] == 12, "12 forwarded")
        self.assertEqual(self.exec_status()["dropped"], 0)
        # No signal blocked or ignored as the daemon has them (SIGTERM, SIGHUP, SIGPIPE...;
        # glibc's own two, 32 and 33, it leaves ignored and a glibc program takes back), and
        # no fd of the daemon's.
        with open(os.path.join(self.workdir, "signals")) as signals:
            masks = dict(line.split() for line in signals.read().splitlines())
        self.assertEqual(int(masks["SigBlk:"], 16), 0)
        self.assertEqual(int(masks["SigIgn:"], 16) & 0x7FFFFFFF, 0)  # signals 1-31
        with open(os.path.join(self.workdir, "fds.12")) as fds:
            targets = {int(line.split(" -> ")[0].split()[-1]): line.split(" -> ")[1]
                       for line in fds.read().splitlines() if " -> " in line}
        # ls's own directory of fds is all there is beyond 0, 1 and 2.
        self.assertEqual([target for fd, target in targets.items()
                          if fd > 2 and not target.startswith("/proc/")], [])
        self.assertEqual(daemon.stop(), 0)

    def test_concurrency_runs_processes_at_once(self):
        script = self.script("slow", f"""
echo "start $WSPUSH_SEQ $(date +%s.%N)" >> {self.out}
sleep 1
echo "end $WSPUSH_SEQ $(date +%s.%N)" >> {self.out}
""")
        server, daemon = self.start(self.exec_yaml([script], concurrency=4, input="none"))
        began = time.monotonic()
        server.command("push 8 50 0")
        lines = self.lines(count=16, timeout=20)
        took = time.monotonic() - began
        events = sorted((float(line.split()[2]), line.split()[0]) for line in lines)
        running = peak = 0
        for _, kind in events:
            running += 1 if kind == "start" else -1
            peak = max(peak, running)
        self.assertEqual(peak, 4, lines)
        self.assertLess(took, 6, "8 runs of 1 s, 4 at a time")
        harness.wait_until(lambda: self.exec_status()["forwarded"] == 8, "8 forwarded")
        self.assertEqual(daemon.stop(), 0)

    def test_a_hanging_command_is_killed_at_the_timeout_with_its_group(self):
        script = self.script("hang", f"""
sleep 300 &
echo $! > {self.workdir}/grandchild.pid
wait
""")
        server, daemon = self.start(self.exec_yaml([script], timeout="1s", retry=0))
        server.command("send one")
        daemon.log.wait_for_text("still running after 1 s; SIGTERM to its process group")
        daemon.log.wait_for_text("given up after 1 run, skipped")
        with open(os.path.join(self.workdir, "grandchild.pid")) as pid:
            grandchild = int(pid.read())
        harness.wait_until(lambda: process_gone(grandchild), "the grandchild gone")
        status = self.exec_status()
        self.assertEqual((status["forwarded"], status["dropped"]), (0, 1))
        self.assertEqual(daemon.stop(), 0)

    def test_a_group_that_ignores_sigterm_gets_sigkill_5_s_later(self):
        script = self.script("stubborn", f"""
trap '' TERM
sleep 300 &
echo $! > {self.workdir}/grandchild.pid
wait
""")
        server, daemon = self.start(self.exec_yaml([script], timeout="1s", retry=0))
        server.command("send one")
        daemon.log.wait_for_text("SIGKILL in 5 s")
        began = time.monotonic()
        daemon.log.wait_for_text("given up after 1 run, skipped", timeout=15)
        self.assertGreater(time.monotonic() - began, 4)
        with open(os.path.join(self.workdir, "grandchild.pid")) as pid:
            grandchild = int(pid.read())
        harness.wait_until(lambda: process_gone(grandchild), "the grandchild gone")
        self.assertEqual(daemon.stop(), 0)

    def test_a_failing_run_is_retried_then_skipped_and_the_next_goes_on(self):
        script = self.script("flaky", f"""
input=$(cat)
echo "$WSPUSH_SEQ" >> {self.out}
case "$input" in *fail*) exit 3 ;; esac
""")
        server, daemon = self.start(self.exec_yaml([script], retry=2))
        server.command("send please fail")
        server.command("send fine")
        daemon.log.wait_for_text("record 1 failed (exit status 3); run 2 of 3 in 1 s")
        daemon.log.wait_for_text("record 1 failed (exit status 3); run 3 of 3 in 2 s")
        daemon.log.wait_for_text("record 1 failed (exit status 3); given up after 3 runs, "
                                 "skipped")
        # Concurrency 1 keeps order: record 2 runs only once record 1 is done with.
        self.assertEqual(self.lines(count=4), ["1", "1", "1", "2"])
        harness.wait_until(lambda: self.exec_status()["forwarded"] == 1, "record 2 forwarded")
        self.assertEqual(self.exec_status()["dropped"], 1)
        self.assertEqual(daemon.stop(), 0)

    def test_nothing_in_a_message_or_the_command_goes_through_a_shell(self):
        marker = os.path.join(self.workdir, "pwned")
        keep = os.path.join(self.workdir, "keep")
        os.mkdir(keep)
        script = self.script("copy", f"""
printf '%s|%s\\n' "$1" "$2" > {self.workdir}/args
cat > {self.workdir}/in.$WSPUSH_SEQ
""")
        server, daemon = self.start(
            self.exec_yaml([script, "$HOME `id` $(id)", "; rm -rf " + keep], input="raw"))
        payloads = [f"$(touch {marker})", f"`touch {marker}`", f"; rm -rf {keep}",
                    f"x && touch {marker} | touch {marker}", "'\"\\ $HOME *"]
        for payload in payloads:
            server.command("send " + payload.replace("\\", "\\\\"))
        harness.wait_until(lambda: self.exec_status()["forwarded"] == len(payloads),
                           "every payload run")
        for seq, payload in enumerate(payloads, 1):
            with open(os.path.join(self.workdir, f"in.{seq}"), "rb") as copy:
                self.assertEqual(copy.read(), payload.encode())
        with open(os.path.join(self.workdir, "args")) as args:
            self.assertEqual(args.read(), f"$HOME `id` $(id)|; rm -rf {keep}\n")
        self.assertFalse(os.path.exists(marker))
        self.assertTrue(os.path.isdir(keep))
        self.assertEqual(daemon.stop(), 0)

    def test_output_is_bounded_per_line_and_per_second(self):
        script = self.script("chatty", """
head -c 10000 /dev/zero | tr '\\0' 'a'; echo
i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done
""")
        server, daemon = self.start(self.exec_yaml([script], input="none"))
        server.command("send go")
        cut = daemon.log.wait_for_text("[cut at 4 KiB]")
        self.assertIn("a" * 4096 + " [cut", cut)
        self.assertNotIn("a" * 4097, cut)
        daemon.log.wait_for_text("more lines of output not logged (at most 100 a second)")
        harness.wait_until(lambda: self.exec_status()["forwarded"] == 1, "the run done")
        time.sleep(1.5)  # the last second's count is told once it is over
        daemon.log.drain()
        logged = [line for line in daemon.log.seen if "]: line " in line or "[cut at" in line]
        told = [int(line.split(": ")[1].split()[0]) for line in daemon.log.seen
                if "more lines of output not logged" in line]
        # Every line is either logged or counted, and most of a burst is counted.
        self.assertEqual(len(logged) + sum(told), 301)
        self.assertLessEqual(len(logged), 200)
        self.assertEqual(daemon.stop(), 0)

    def test_a_restart_resumes_after_the_last_record_it_finished(self):
        store = os.path.join(self.workdir, "store")
        script = self.script("resume", f"""
input=$(cat)
case "$input" in *hang*)
    if [ ! -e {self.workdir}/hung ]; then touch {self.workdir}/hung; exec sleep 300; fi ;;
esac
echo "$WSPUSH_SEQ" >> {self.out}
""")
        sinks = self.exec_yaml([script])
        server, daemon = self.start(sinks, store=store)
        for n in range(5):
            server.command(f"send {n}")
        self.assertEqual(self.lines(count=5), ["1", "2", "3", "4", "5"])
        server.command("send hang")
        harness.wait_until(lambda: os.path.exists(os.path.join(self.workdir, "hung")),
                           "the run that hangs")
        server.command("send 7")
        self.assertEqual(daemon.stop(), 0)
        # The hanging run was ended with the daemon and never finished: it runs again.
        server.stop()
        server.start(server.port)
        daemon = self.daemon(harness.config_yaml(
            server.url(), sinks_yaml=harness.unix_sink_yaml(self.socket_path) + sinks,
            extra=store_yaml(store)))
        server.wait_for("connected ")
        self.assertEqual(self.lines(count=7), ["1", "2", "3", "4", "5", "6", "7"])
        server.command("send 8")
        self.assertEqual(self.lines(count=8)[7], "8")
        self.assertEqual(daemon.stop(), 0)


class StreamMode(ExecTestCase):
    def test_a_line_per_record(self):
        script = self.script("reader", f"""
import sys
with open({self.out!r}, "a") as out:
    for line in sys.stdin:
        out.write(line)
        out.flush()
""", interpreter=sys.executable)
        server, daemon = self.start(self.exec_yaml([script], mode="stream"), file_sink=True)
        server.command("push 500 300 0")
        records = harness.wait_records(self.sink, 500)
        lines = self.lines(count=500)
        self.assertEqual([json.loads(line) for line in lines], records)
        harness.wait_until(lambda: self.exec_status()["forwarded"] == 500, "500 forwarded")
        self.assertEqual(daemon.stop(), 0)

    def test_raw_lines_and_a_restart_after_the_command_exits(self):
        script = self.script("one", f"""
read -r line
echo "$$ $WSPUSH_EPOCH $line" >> {self.out}
""")
        server, daemon = self.start(self.exec_yaml([script], mode="stream", input="raw"))
        server.command("send first one")
        first = self.lines(count=1)[0].split(" ", 2)
        self.assertEqual(first[2], "first one")
        self.assertEqual(first[1], self.status()["epoch"])
        daemon.log.wait_for_text("exit status 0; starting it again in 1 s")
        daemon.log.wait_for_text(": started [")
        server.command("send second")
        second = self.lines(count=2)[1].split(" ", 2)
        self.assertEqual(second[2], "second")
        self.assertNotEqual(second[0], first[0])
        self.assertEqual(daemon.stop(), 0)

    def test_a_command_that_stops_reading_holds_back_no_one(self):
        script = self.script("stuck", "exec sleep 300\n")
        server, daemon = self.start(self.exec_yaml([script], mode="stream"), file_sink=True)
        server.command("push 3000 1000 0")
        harness.wait_records(self.sink, 3000, timeout=30)
        status = self.exec_status()
        # The pipe (64 KiB) and the sink's queue (1 MiB) took what they could; the rest
        # waits in the store.
        self.assertLess(status["forwarded"], 1500)
        self.assertGreater(status["lag"], 1000)
        server.command("send after")
        harness.wait_records(self.sink, 3001)
        # Waiting for the pipe costs nothing.
        before = harness.cpu_seconds(daemon.process.pid)
        time.sleep(1)
        self.assertLess(harness.cpu_seconds(daemon.process.pid) - before, 0.2)
        self.assertEqual(daemon.stop(), 0)

    def test_a_command_that_closes_its_stdin_is_restarted(self):
        script = self.script("closer", f"""
echo "$$" >> {self.out}
exec 0<&-
exec sleep 300
""")
        server, daemon = self.start(self.exec_yaml([script], mode="stream"))
        self.lines(count=1)
        # Nothing to write yet: the closed pipe costs nothing while the sink waits.
        before = harness.cpu_seconds(daemon.process.pid)
        time.sleep(1)
        self.assertLess(harness.cpu_seconds(daemon.process.pid) - before, 0.2)
        server.command("send x")
        daemon.log.wait_for_text("its stdin cannot be written")
        daemon.log.wait_for_text("killed by SIGTERM; starting it again in 1 s")
        self.assertEqual(len(self.lines(count=2)), 2)
        self.assertEqual(daemon.stop(), 0)


class Lifecycle(ExecTestCase):
    def test_children_do_not_outlive_a_reload_or_a_stop(self):
        script = self.script("long", f"""
echo "$$" >> {self.out}
exec sleep 300
""")
        server, daemon = self.start(self.exec_yaml([script], mode="stream"))
        first = int(self.lines(count=1)[0])
        # A changed command replaces the sink: its child goes.
        other = self.script("long2", f"""
echo "$$" >> {self.out}
exec sleep 300
""")
        daemon.rewrite_config(harness.config_yaml(
            server.url(), sinks_yaml=harness.unix_sink_yaml(self.socket_path) +
            self.exec_yaml([other], mode="stream")))
        daemon.signal(1)  # SIGHUP
        daemon.log.wait_for_text("reloaded ")
        self.assertTrue(process_gone(first))
        second = int(self.lines(count=2)[1])
        self.assertFalse(process_gone(second))
        self.assertEqual(daemon.stop(), 0)
        self.assertTrue(process_gone(second))

    def test_a_command_that_cannot_run_is_a_clear_error_at_start(self):
        server = self.server()
        config = harness.config_yaml(
            server.url(), sinks_yaml=self.exec_yaml(["no-such-command-anywhere"]))
        daemon = self.daemon(config)
        self.assertEqual(daemon.wait_exit(), 1)
        daemon.log.wait_for_text("cannot run no-such-command-anywhere: no executable file of "
                                 "that name in PATH")


if __name__ == "__main__":
    harness.main()
