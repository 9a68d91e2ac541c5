# SPDX-License-Identifier: MIT
"""The command line: options, exit codes, --check-config and its messages."""

import os
import re
import subprocess

import harness

EX_CONFIG = 78


def run(*args, env=None):
    return subprocess.run([harness.WSPUSHD, *args], capture_output=True, text=True,
                          timeout=harness.DEFAULT_WAIT, env=env)


class CommandLine(harness.DaemonTestCase):
    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as out:
            out.write(text)
        return path

    def test_version_and_help(self):
        version = run("--version")
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^wspushd \d+\.\d+\.\d+\n$")
        help_ = run("--help")
        self.assertEqual(help_.returncode, 0)
        for option in ("--config", "--check-config", "--verbose", "--version", "--help"):
            self.assertIn(option, help_.stdout)

    def test_usage_errors_exit_2(self):
        self.assertEqual(run("--bogus").returncode, 2)
        self.assertEqual(run("extra-argument").returncode, 2)
        self.assertEqual(run("--config").returncode, 2)

    def test_check_config_accepts_a_valid_file(self):
        path = self.write("good.yaml", harness.config_yaml("ws://127.0.0.1:9/websocket/1",
                                                           self.sink))
        result = run("--check-config", "--config", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("configuration is valid", result.stdout)

    def test_shipped_configs_are_valid(self):
        env = dict(os.environ, USER_ID="42")
        for name in ("wspushd.yaml", "demo.yaml"):
            path = os.path.join(harness.SOURCE_DIR, "config", name)
            result = run("--check-config", "--config", path, env=dict(env, WSPUSH_DEMO_PORT="1"))
            self.assertEqual(result.returncode, 0, f"{name}: {result.stderr}")

    def test_config_errors_are_path_line_column_and_exit_78(self):
        cases = {
            "unknown key": ("server:\n  url: ws://h/\n  colour: red\n",
                            r":3:3: .*unknown key 'colour'"),
            "wrong type": ("server:\n  url: ws://h/\nheartbeat:\n  interval: soon\n",
                           r":4:13: .*heartbeat\.interval"),
            "missing url": ("heartbeat:\n  interval: 1s\n", r":\d+:\d+: .*server\.url"),
            "malformed yaml": ("server: [unclosed\n", r":\d+:\d+: "),
            "bad scheme": ("server:\n  url: http://h/\n", r":2:8: .*ws://"),
            "unknown sink type": ("server:\n  url: ws://h/\nsinks:\n  - type: kafka\n",
                                  r":4:\d+: sinks\[0\]\.type: expected one of"),
        }
        for name, (text, pattern) in cases.items():
            with self.subTest(name):
                path = self.write("bad.yaml", text)
                for args in (["--check-config", "--config", path], ["--config", path]):
                    result = run(*args)
                    self.assertEqual(result.returncode, EX_CONFIG, result.stderr)
                    self.assertRegex(result.stderr,
                                     r"^<3>" + re.escape(path) + pattern)

    def test_unreadable_config_file(self):
        missing = os.path.join(self.workdir, "missing.yaml")
        result = run("--check-config", "--config", missing)
        self.assertEqual(result.returncode, EX_CONFIG)
        self.assertIn(f"{missing}:1:1: cannot read file: No such file or directory",
                      result.stderr)
        result = run("--check-config", "--config", self.workdir)
        self.assertEqual(result.returncode, EX_CONFIG)
        self.assertIn(f"{self.workdir}:1:1: cannot read file", result.stderr)

    def test_unreadable_token_file_is_a_config_error(self):
        path = self.write("token.yaml", "server:\n  url: ws://h/\n  token_file: "
                          + os.path.join(self.workdir, "no-token") + "\n")
        result = run("--check-config", "--config", path)
        self.assertEqual(result.returncode, EX_CONFIG)
        self.assertIn("no-token: cannot open: No such file or directory", result.stderr)

    def test_sink_that_cannot_open_exits_1_naming_it(self):
        path = self.write("c.yaml", harness.config_yaml("ws://127.0.0.1:9/websocket/1",
                                                        "/nonexistent-dir/m.jsonl"))
        result = run("--config", path)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot open /nonexistent-dir/m.jsonl: No such file or directory",
                      result.stderr)


if __name__ == "__main__":
    harness.main()
