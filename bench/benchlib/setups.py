# SPDX-License-Identifier: MIT
"""The programs a benchmark starts: the bundled server, wspushd, the peers (the same job done
the way a user would, in Python, Go and Node.js), the reading tools, and a throwaway CA for
wss://."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from .processes import BenchError, Child

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS_DIR = os.path.join(SOURCE_DIR, "bench", "peers")
# Debian's interpreter: python3-websockets is installed for it, not for a pyenv python3.
PEER_PYTHON = "/usr/bin/python3"
# Debian's node-ws is there, outside the module path of node itself.
NODE_PATH = "/usr/share/nodejs"
# Debian's golang-github-gorilla-websocket-dev, which bench/peers/go/go.mod builds against.
GORILLA_WEBSOCKET = "/usr/share/gocode/src/github.com/gorilla/websocket"
# The peers in the table's order, and the Debian packages each needs.
PEERS = ["python", "go", "node"]
PEER_PACKAGES = {
    "python": ["python3", "python3-websockets"],
    "go": ["golang-go", "golang-github-gorilla-websocket-dev"],
    "node": ["nodejs", "node-ws"],
}
DROP = ["SUCCESS", "来自后台的反馈:连接成功"]


def go_peer_path(build_dir):
    """Where benchlib.build puts the Go peer."""
    return os.path.join(build_dir, "bench", "peers", "wspush-peer-go")


def go_installed():
    return shutil.which("go") is not None and os.path.isdir(GORILLA_WEBSOCKET)


class Tools:
    """The built programs; throws BenchError naming any that is missing. A peer that cannot
    run here is not an error: `peer_problems` says why, and its figures say n/a."""

    def __init__(self, build_dir):
        self.build_dir = build_dir
        self.daemon = os.path.join(build_dir, "src", "daemon", "wspushd")
        self.server = os.path.join(build_dir, "src", "testserver", "wspush-testserver")
        self.fanout_reader = os.path.join(build_dir, "bench", "fanout_reader")
        self.latency_reader = os.path.join(build_dir, "bench", "latency_reader")
        self.discard = os.path.join(build_dir, "bench", "discard_client")
        missing = [path for path in vars(self).values()
                   if path != build_dir and not os.access(path, os.X_OK)]
        if missing:
            raise BenchError(f"not built: {', '.join(missing)} (ninja -C {build_dir})")
        self.go_peer = go_peer_path(build_dir)
        self.peer_problems = {kind: peer_problem(kind, self.go_peer) for kind in PEERS}

    def peers(self):
        """The peers that can run here."""
        return [kind for kind in PEERS if self.peer_problems[kind] is None]


def peer_problem(kind, go_peer):
    """Why this peer cannot run here, or None."""
    install = f"apt-get install {' '.join(PEER_PACKAGES[kind])}"
    if kind == "python":
        if not os.access(PEER_PYTHON, os.X_OK):
            return f"{PEER_PYTHON} is missing"
        check = subprocess.run([PEER_PYTHON, "-c", "import websockets"], capture_output=True)
        if check.returncode != 0:
            return f"{PEER_PYTHON} has no websockets module ({install})"
    elif kind == "go":
        if not os.access(go_peer, os.X_OK):
            return f"not built: Go or gorilla/websocket is missing ({install})"
    elif kind == "node":
        if shutil.which("node") is None:
            return f"node is missing ({install})"
        check = subprocess.run(["node", "-e", "require('ws')"], capture_output=True,
                               env=dict(os.environ, NODE_PATH=NODE_PATH))
        if check.returncode != 0:
            return f"node has no ws module in {NODE_PATH} ({install})"
    return None


def peer_command(tools, kind):
    """The command line that starts a peer, and the environment it needs."""
    if kind == "python":
        return [PEER_PYTHON, os.path.join(PEERS_DIR, "wspush_peer.py")], None
    if kind == "go":
        return [tools.go_peer], None
    if kind == "node":
        return (["node", os.path.join(PEERS_DIR, "node", "wspush_peer.js")],
                {"NODE_PATH": NODE_PATH})
    raise ValueError(f"no peer {kind!r}")


class Workdir:
    """Paths inside the run's temporary directory, and its log files. `sinks`: the directory
    for the throughput pipelines' sink files (a tmpfs one from sink_directory(); default: the
    workdir itself), and `sinks_note`, why it is where it is."""

    def __init__(self, path, sinks=None, sinks_note=""):
        self.path = path
        self.sinks = sinks or path
        self.sinks_note = sinks_note

    def file(self, name):
        return os.path.join(self.path, name)

    def sink(self, name):
        """A throughput pipeline's sink file: in `sinks`, on tmpfs when there is one."""
        return os.path.join(self.sinks, name)

    def log(self, name):
        return open(self.file(name + ".log"), "a")


# Where the throughput pipelines' sink files go: a file sink truncated before each run takes
# fresh page-cache pages, which ext4 hands out at a few hundred MB/s on a VM (slower than
# wspushd writes at 4 KiB), tmpfs at several GB/s.
TMPFS_DIR = "/dev/shm"


def filesystem_type(path):
    """The type of the filesystem `path` is on (the longest mount point in /proc/self/mounts
    that holds it), e.g. "ext4" or "tmpfs"; "unknown" when that cannot be read."""
    path = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                # Octal escapes (\040 for a space) as in fstab.
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, fstype = point, fields[2]
    except OSError:
        pass
    return fstype


@contextlib.contextmanager
def sink_directory(fallback):
    """A directory of the run's own on tmpfs (under TMPFS_DIR, removed afterwards) for the
    sink files; `fallback` (the workdir) when TMPFS_DIR is not tmpfs or cannot be written.
    Yields (path, note): the note says where and why."""
    fstype = filesystem_type(TMPFS_DIR) if os.path.isdir(TMPFS_DIR) else "missing"
    path = None
    if fstype == "tmpfs":
        try:
            path = tempfile.mkdtemp(prefix="wspush-bench-", dir=TMPFS_DIR)
        except OSError as error:
            fstype = f"tmpfs, not writable: {error.strerror}"
    if path is None:
        note = (f"{TMPFS_DIR} is not tmpfs ({fstype}): sink files in the workdir "
                f"({filesystem_type(fallback)}), so the 4 KiB rows may measure its page cache")
        print(f"run: {note}", file=sys.stderr)
        yield fallback, note
        return
    try:
        yield path, f"sink files on tmpfs in {path}"
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_server(tools, workdir, name, port=0, tls=None, extra=()):
    """The bundled server; returns (child, port). `tls`: a Certificates."""
    command = [tools.server, "--port", str(port), "--quiet", *extra]
    if tls:
        command += ["--tls-cert", tls.server_cert, "--tls-key", tls.server_key]
    server = Child(command, stdin=True, stderr=workdir.log(name), name=name)
    listening = server.wait_for("listening ")
    return server, int(listening.split()[1])


def daemon_config(url, file_path=None, socket_path=None, heartbeat=None, reconnect=None,
                  ca_file=None, store=None):
    """wspushd's YAML: the two protocol replies dropped, the sinks asked for. `store`: the
    store section's keys (none: the store in memory)."""
    lines = ["server:", f"  url: {url}"]
    if ca_file:
        lines += ["  tls:", f"    ca_file: {json.dumps(ca_file)}"]
    for section, values in (("heartbeat", heartbeat), ("reconnect", reconnect),
                            ("store", store)):
        if values:
            lines.append(f"{section}:")
            lines += [f"  {key}: {value}" for key, value in values.items()]
    lines += ["filter:", f"  drop: {json.dumps(DROP, ensure_ascii=False)}"]
    sinks = []
    if file_path:
        sinks += ["  - type: file", f"    path: {json.dumps(file_path)}"]
    if socket_path:
        sinks += ["  - type: unix", f"    path: {json.dumps(socket_path)}"]
    lines += ["sinks:", *sinks] if sinks else ["sinks: []"]
    return "\n".join(lines) + "\n"


def start_daemon(tools, workdir, name, server, config):
    """wspushd with `config`, once `server` saw it connect."""
    config_path = workdir.file(name + ".yaml")
    with open(config_path, "w") as out:
        out.write(config)
    daemon = Child([tools.daemon, "--config", config_path], stderr=workdir.log(name), name=name)
    server.wait_for("connected ")
    daemon.check_alive()
    return daemon


def start_peer(tools, workdir, kind, name, server, url, file_path=None, socket_path=None,
               heartbeat_interval=30):
    """A peer (PEERS: "python", "go" or "node"), once `server` saw it connect. They all take
    the same options."""
    command, env = peer_command(tools, kind)
    command += ["--url", url, "--heartbeat-interval", str(heartbeat_interval)]
    if file_path:
        command += ["--file", file_path]
    if socket_path:
        command += ["--socket", socket_path]
    peer = Child(command, stderr=workdir.log(name), name=name, env=env)
    server.wait_for("connected ")
    peer.check_alive()
    return peer


class Certificates:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it, made with openssl(1)."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.ca_cert = workdir.file("ca.pem")
        self.server_cert = workdir.file("server.pem")
        self.server_key = workdir.file("server.key")
        ca_key = workdir.file("ca.key")
        csr = workdir.file("server.csr")
        extensions = workdir.file("server.cnf")
        with open(extensions, "w") as out:
            out.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                      "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for key in (ca_key, self.server_key):
            self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-out", key)
        self.openssl("req", "-x509", "-new", "-key", ca_key, "-out", self.ca_cert, "-days", "1",
                     "-subj", "/CN=wspush bench CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.openssl("req", "-new", "-key", self.server_key, "-out", csr,
                     "-subj", "/CN=127.0.0.1")
        self.openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", ca_key,
                     "-CAcreateserial", "-out", self.server_cert, "-days", "1",
                     "-extfile", extensions)

    @staticmethod
    def openssl(*args):
        try:
            subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            raise BenchError(f"openssl {args[0]}: {error}") from error
