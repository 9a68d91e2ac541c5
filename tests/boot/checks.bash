# SPDX-License-Identifier: MIT
# The checks of scripts/boot-test, sourced by it once the container runs: wspushd installed
# from its .deb and run by a real systemd 252, against wspush-testserver on the host's
# loopback (the container shares the host's network).
#
# From scripts/boot-test: in_container [-t SECONDS] COMMAND..., container_command (the same
# as an array in container_argv, for background commands), pass/fail/skip NAME [WHY],
# $work, $deb, $testserver, server_pid, background_pids. run_checks runs them in order;
# when one that the rest need fails, it stops there.

unit=wspushd.service
config=/etc/wspushd/wspushd.yaml
file_sink=/var/lib/wspushd/messages.jsonl
socket=/run/wspushd/wspushd.sock
store_dir=/var/lib/wspushd/store # the shipped config's store.path
escape_dir=/srv/wspushd-escape # outside every directory the unit lets the daemon write

# --- helpers ------------------------------------------------------------------------------

# wait_until SECONDS COMMAND...: true once COMMAND succeeds, polled every 0.2 s.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# unit_property UNIT NAME: the property's value as systemctl show prints it.
unit_property() {
    in_container systemctl show -P "$2" "$1"
}

# unit_is UNIT NAME=VALUE...: true when each of the unit's properties has that value.
unit_is() {
    local name=$1 shown expected names=()
    shift
    for expected in "$@"; do
        names+=(-p "${expected%%=*}")
    done
    shown=$(in_container systemctl show "${names[@]}" "$name") || return 1
    for expected in "$@"; do
        grep -qxF -- "$expected" <<<"$shown" || return 1
    done
}

unit_running() { unit_is "$1" ActiveState=active SubState=running; }

status_text_starts() { [[ "$(unit_property "$unit" StatusText)" == "$1"* ]]; }
# status_text_has TEXT...: the unit's status text holds each TEXT.
status_text_has() {
    local text part
    text=$(unit_property "$unit" StatusText)
    for part in "$@"; do
        [[ "$text" == *"$part"* ]] || return 1
    done
}

unit_state() {
    in_container systemctl show -p ActiveState -p SubState -p Result -p MainPID -p NRestarts "$1" |
        paste -sd' '
}

# A timespan as systemctl show prints it ("10s", "1min 30s", "500ms", "0") in whole
# seconds, rounded up.
timespan_seconds() {
    python3 - "$1" <<'PY'
import math, re, sys
units = {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600}
total = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(us|ms|min|s|h)", sys.argv[1]))
print(math.ceil(total))
PY
}

# The unit's journal: journal_mark remembers where it ends, journal_since prints what came
# after (MESSAGE only).
journal_mark() {
    journal_cursor=$(in_container journalctl -q -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
}
journal_since() {
    in_container journalctl -q --no-pager -o cat -u "$unit" --after-cursor="$journal_cursor"
}
# (grep reads it all: with -q it would stop early, and pipefail take journalctl's SIGPIPE
# for a failure once the journal sink makes the journal long.)
journal_shows() { journal_since | grep -- "$1" >/dev/null; }
# journal_has MATCH...: the whole journal has an entry that matches.
journal_has() { [ -n "$(in_container journalctl -q --no-pager -o json "$@")" ]; }

# The push server on the host's loopback, driven through a fifo. server_mark remembers where
# its output ends; server_said REGEX is true once a whole line after the mark matches.
start_server() {
    mkfifo "$work/server.in"
    exec {server_in}<>"$work/server.in"
    "$testserver" --host 127.0.0.1 <"$work/server.in" >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    wait_until 10 grep -q '^listening ' "$work/server.out" || return 1
    server_port=$(sed -n 's/^listening //p' "$work/server.out")
}
server_command() { echo "$*" >&"$server_in"; }
server_mark() { server_line=$(wc -l <"$work/server.out"); }
server_said() { tail -n +$((server_line + 1)) "$work/server.out" | grep -qx -- "$1"; }

# push COUNT: the server pushes COUNT messages of 64 bytes to every client, at once.
push() {
    server_mark
    server_command "push $1 64 0"
    wait_until 10 server_said "pushed $1"
}

# lines_at_least FILE N, container_lines_at_least FILE N: the file (on the host, in the
# container) has N lines or more.
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
container_lines_at_least() {
    [ "$(in_container sh -c "cat '$1' 2>/dev/null | wc -l")" -ge "$2" ]
}

# The config the checks run: the test server, the shipped config's store: section as it
# is (shipped_store, read by check_install), a file, a unix and (when the installed
# wspushd takes it) a journal sink.
# The daemon's status (wspushctl status --json, as root) and one field of it, a path into
# the JSON such as store.epoch.
status_json() { in_container wspushctl --socket "$socket" status --json; }
status_field() {
    python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    value = value[key]
print(value)' "$1" "$2"
}

# The file sink's number of lines, and the seq of its last record (0 when empty).
file_sink_lines() { in_container sh -c "cat '$file_sink' 2>/dev/null | wc -l"; }
file_sink_last_seq() {
    in_container sh -c "tail -n 1 '$file_sink' 2>/dev/null" |
        python3 -c 'import json, sys; line = sys.stdin.read(); print(json.loads(line)["seq"] if line else 0)'
}

# The daemon has written all it received: the file sink ends at the status' last_seq, and
# has one line per seq (sets settled_seq).
file_sink_settled() {
    local status
    status=$(status_json 2>/dev/null) || return 1
    settled_seq=$(status_field "$status" last_seq) || return 1
    [ "$(file_sink_last_seq)" = "$settled_seq" ] && [ "$(file_sink_lines)" = "$settled_seq" ]
}

write_config() { # [EXTRA SINK LINES]
    in_container sh -c "cat >$config" <<EOF
# written by scripts/boot-test
server:
  url: ws://127.0.0.1:$server_port/websocket/boot
filter:
  drop: ["SUCCESS", "来自后台的反馈:连接成功"]
$shipped_store
sinks:
  - type: file
    path: $file_sink
  - type: unix
    path: $socket
    group: wspushd
${journal_sink:+  - type: journal
}${1-}
EOF
}

# Starts a unit, and tells why not when it does not run afterwards.
start_unit() {
    local output
    if ! output=$(in_container -t 100 systemctl restart "$1" 2>&1); then
        echo "systemctl restart $1: ${output:-timed out}; $(unit_state "$1"); journal: $(
            in_container journalctl -q --no-pager -o cat -n 5 -u "$1" | paste -sd'|')"
        return 1
    fi
    if ! wait_until 10 unit_running "$1"; then
        echo "not running: $(unit_state "$1")"
        return 1
    fi
}

# --- the checks ------------------------------------------------------------------------------

# apt in the container reaches the machine's Debian mirror (the host's network, the host's
# apt sources, copied at run time).
check_apt_mirror() {
    local file output
    in_container rm -f /etc/apt/sources.list
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        in_container sh -c "cat >/etc/apt/sources.list.d/${file##*/}" <"$file"
    done
    if output=$(in_container -t 180 apt-get update -q 2>&1) && ! grep -q '^[WE]:' <<<"$output"; then
        pass apt-mirror
    else
        fail apt-mirror "apt-get update in the container: $(grep '^[WE]:' <<<"$output" | head -n 3)"
        return 1
    fi
}

# The .deb installs with apt, its dependencies coming from the mirror.
check_install() {
    local output
    if output=$(in_container -t 300 apt-get install -y -q --no-install-recommends "/pkg/${deb##*/}" 2>&1); then
        pass install
        # The store: section of the shipped config (up to the next top-level key), comments
        # and all, for write_config.
        shipped_store=$(in_container cat "$config" | awk '/^[^ #]/ { in_store = /^store:/ } in_store')
        echo "  after the install, $unit is $(in_container systemctl is-enabled "$unit" 2>&1 || true)" \
            "and $(in_container systemctl is-active "$unit" 2>&1 || true)"
    else
        fail install "apt-get install: $(tail -n 5 <<<"$output")"
        return 1
    fi
}

# The package made the system user and group (sysusers.d).
check_system_user() {
    local uid
    uid=$(in_container getent passwd wspushd | cut -d: -f3) || true
    if [ -z "$uid" ]; then
        fail system-user "no user wspushd"
    elif [ "$uid" -eq 0 ]; then
        fail system-user "wspushd has uid 0"
    elif ! in_container getent group wspushd >/dev/null; then
        fail system-user "no group wspushd"
    else
        pass system-user
    fi
}

# The installed wspushd takes a journal sink? Only then does the config use one.
probe_journal_sink() {
    journal_sink=""
    if in_container sh -c 'cat >/tmp/journal-probe.yaml &&
        wspushd --check-config --config /tmp/journal-probe.yaml' >/dev/null 2>&1 <<EOF; then
server:
  url: ws://127.0.0.1:$server_port/websocket/probe
sinks:
  - type: journal
EOF
        journal_sink=yes
    fi
}

# enable + (re)start with our config: the unit runs and the server sees the daemon connect.
check_service_active() {
    local why
    server_mark
    write_config
    if ! why=$(in_container systemctl enable "$unit" 2>&1); then
        fail service-active "systemctl enable: $why"
        return 1
    fi
    if ! why=$(start_unit "$unit"); then
        fail service-active "$why"
        return 1
    fi
    service_started_at=$SECONDS
    service_pid=$(unit_property "$unit" MainPID)
    if ! wait_until 10 server_said "connected boot"; then
        fail service-active "running, but the server saw no \"connected boot\" in 10 s"
        return 1
    fi
    pass service-active
}

# STATUS= reaches systemd: once connected, the unit's status text says so.
check_notify_status() {
    local expected="connected to ws://127.0.0.1:$server_port/websocket/boot"
    if wait_until 10 status_text_starts "$expected"; then
        pass notify-status
    else
        fail notify-status "StatusText=\"$(unit_property "$unit" StatusText)\", expected \"$expected...\""
    fi
}

# The shipped config's store works in the unit's StateDirectory: the daemon made
# /var/lib/wspushd/store (0700, wspushd's) with its epoch and lock, and says so in its
# status (the store object, the epoch) and in STATUS= (sets store_epoch).
check_store_created() {
    local shown status epoch_file
    if [ -z "$shipped_store" ]; then
        fail store-created "the shipped $config has no store: section"
        return 0
    fi
    shown=$(in_container stat -c '%a %U %G' "$store_dir" 2>&1) || true
    epoch_file=$(in_container cat "$store_dir/epoch" 2>/dev/null) || true
    status=$(status_json 2>&1) || true
    store_epoch=$(status_field "$status" epoch 2>/dev/null) || true
    if [ "$shown" != "700 wspushd wspushd" ]; then
        fail store-created "$store_dir: \"$shown\", expected mode 700, owner and group wspushd"
    elif ! in_container test -f "$store_dir/lock"; then
        fail store-created "no $store_dir/lock"
    elif ! [[ "$epoch_file" =~ ^[0-9a-f]{32}$ ]]; then
        fail store-created "$store_dir/epoch holds \"$epoch_file\""
    elif [ "$(status_field "$status" store.path 2>/dev/null)" != "$store_dir" ] ||
        [ "$store_epoch" != "$epoch_file" ] || [ "$(status_field "$status" store.epoch)" != "$epoch_file" ]; then
        fail store-created "the status does not show $store_dir and epoch $epoch_file: $(head -c 400 <<<"$status")"
    elif ! wait_until 10 status_text_has "; store $store_dir " "epoch ${store_epoch:0:8}"; then
        fail store-created "StatusText=\"$(unit_property "$unit" StatusText)\" names neither $store_dir nor epoch ${store_epoch:0:8}"
    else
        echo "  $store_dir: epoch $store_epoch"
        pass store-created
    fi
}

# The daemon runs as the wspushd user, with no capabilities.
check_unprivileged() {
    local status uid
    status=$(in_container cat "/proc/$service_pid/status")
    uid=$(in_container id -u wspushd)
    if ! grep -qP "^Uid:\t$uid\t$uid\t$uid\t$uid$" <<<"$status"; then
        fail unprivileged "expected uid $uid, got $(grep ^Uid: <<<"$status")"
    elif ! grep -qP '^CapEff:\t0+$' <<<"$status" || ! grep -qP '^CapPrm:\t0+$' <<<"$status"; then
        fail unprivileged "capabilities: $(grep -E '^Cap(Eff|Prm):' <<<"$status" | paste -sd' ')"
    else
        pass unprivileged
    fi
}

# Pushed records reach the file sink (seq 1..5, the server's messages as data) and, the same
# lines, `wspushctl tail` run by a non-root member of the wspushd group.
check_records() {
    local tail_pid lines why
    container_command -t 60 setpriv --reuid=nobody --regid=nogroup --groups=wspushd \
        wspushctl --socket "$socket" tail --since 0
    "${container_argv[@]}" >"$work/tail.out" 2>"$work/tail.err" &
    tail_pid=$!
    background_pids+=("$tail_pid")
    if ! push 5; then
        fail file-sink "the server did not push 5 messages in 10 s"
        return 1
    fi
    if ! wait_until 10 container_lines_at_least "$file_sink" 5; then
        fail file-sink "$file_sink has not 5 lines after 10 s"
        return 1
    fi
    lines=$(in_container cat "$file_sink")
    if why=$(python3 - "$lines" 2>&1 <<'PY'
import json, re, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 5, f"{len(lines)} lines"
for i, line in enumerate(lines, 1):
    record = json.loads(line)
    assert record["seq"] == i, f"line {i}: seq {record['seq']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["ts"]), line
    assert record["data"]["n"] == i and len(json.dumps(record["data"], separators=(",", ":"))) == 64, line
PY
    ); then
        pass file-sink
    else
        fail file-sink "$(tail -n 1 <<<"$why")"
    fi

    wait_until 10 lines_at_least "$work/tail.out" 5 || true
    kill -TERM "$tail_pid" 2>/dev/null || true
    wait_gone "$tail_pid" 5 || true
    if [ "$(cat "$work/tail.out")" = "$lines" ]; then
        pass wspushctl-tail
    else
        fail wspushctl-tail "$(wc -l <"$work/tail.out") lines, not the file sink's 5; stderr: $(
            head -c 300 "$work/tail.err")"
    fi
}

# The socket is the wspushd group's: anyone else is refused.
check_socket_denied() {
    local output
    if output=$(in_container setpriv --reuid=nobody --regid=nogroup --clear-groups \
        wspushctl --socket "$socket" status 2>&1); then
        fail socket-denied "wspushctl status worked for nobody: $output"
    elif ! grep -q 'Permission denied' <<<"$output"; then
        fail socket-denied "expected \"Permission denied\", got: $output"
    else
        pass socket-denied
    fi
}

# The journal sink (once the installed wspushd has one): journalctl WSPUSH_SEQ=1 finds the
# first record, its payload as MESSAGE, filed under the service.
check_journal_sink() {
    if [ -z "$journal_sink" ]; then
        skip journal-sink "the installed wspushd does not accept \"type: journal\""
        return 0
    fi
    local why
    wait_until 10 journal_has WSPUSH_SEQ=1 || true
    if why=$(in_container journalctl -q --no-pager WSPUSH_SEQ=1 -o json | python3 -c '
import json, sys
entries = [json.loads(line) for line in sys.stdin]
assert len(entries) == 1, f"{len(entries)} journal entries with WSPUSH_SEQ=1"
entry = entries[0]
assert json.loads(entry["MESSAGE"]).get("n") == 1, "MESSAGE: " + str(entry["MESSAGE"])
assert entry.get("SYSLOG_IDENTIFIER") == "wspushd", "SYSLOG_IDENTIFIER: " + str(entry.get("SYSLOG_IDENTIFIER"))
assert entry.get("_SYSTEMD_UNIT") == "wspushd.service", "_SYSTEMD_UNIT: " + str(entry.get("_SYSTEMD_UNIT"))
' 2>&1); then
        pass journal-sink
    else
        fail journal-sink "$(tail -n 1 <<<"$why")"
    fi
}

# systemctl reload: the same process, still active/running, and the daemon says "reloaded".
check_reload() {
    local output
    journal_mark
    if ! output=$(in_container -t 30 systemctl reload "$unit" 2>&1); then
        fail reload "systemctl reload: ${output:-timed out}"
    elif ! wait_until 10 journal_shows reloaded; then
        fail reload "no \"reloaded\" in the journal after 10 s: $(journal_since | tail -n 3 | paste -sd'|')"
    elif ! unit_running "$unit" || [ "$(unit_property "$unit" MainPID)" != "$service_pid" ]; then
        fail reload "afterwards: $(unit_state "$unit") (MainPID was $service_pid)"
    else
        pass reload
    fi
}

# The sandbox: a file sink in a directory the wspushd user owns, but outside what the unit
# lets it write, fails on reload with EROFS/EACCES; nothing is written and the service
# runs on. Then the config is restored and the next record arrives.
check_sandbox() {
    in_container install -d -o wspushd -g wspushd "$escape_dir"
    write_config "  - type: file
    path: $escape_dir/out.jsonl"
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    if ! wait_until 10 journal_shows 'Read-only file system\|Permission denied'; then
        fail sandbox "no \"Read-only file system\" or \"Permission denied\" in the journal: $(
            journal_since | tail -n 3 | paste -sd'|')"
    elif in_container test -e "$escape_dir/out.jsonl"; then
        fail sandbox "the daemon wrote $escape_dir/out.jsonl"
    elif ! unit_running "$unit"; then
        fail sandbox "the service stopped: $(unit_state "$unit")"
    else
        echo "  journal: $(journal_since | grep -m 1 'Read-only file system\|Permission denied')"
        pass sandbox
    fi

    write_config
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    if ! wait_until 10 journal_shows reloaded; then
        fail reload-restored "no \"reloaded\" after restoring the config"
    elif ! push 1 || ! wait_until 10 container_lines_at_least "$file_sink" 6; then
        fail reload-restored "the record pushed afterwards did not reach $file_sink"
    elif [ "$(in_container tail -n 1 "$file_sink" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')" != 6 ]; then
        fail reload-restored "the record pushed afterwards is not seq 6: $(in_container tail -n 1 "$file_sink")"
    else
        pass reload-restored
    fi
}

# wspushd@NAME runs /etc/wspushd/NAME.yaml next to the main instance.
check_template_instance() {
    local instance=wspushd@second.service why
    if ! in_container systemctl cat "$instance" >/dev/null 2>&1; then
        fail template-instance "no wspushd@.service"
        return 0
    fi
    in_container sh -c 'cat >/etc/wspushd/second.yaml' <<EOF
server:
  url: ws://127.0.0.1:$server_port/websocket/second
EOF
    server_mark
    if ! why=$(start_unit "$instance"); then
        fail template-instance "$why"
    elif ! wait_until 10 server_said "connected second"; then
        fail template-instance "the server saw no \"connected second\" in 10 s"
    else
        server_mark
        in_container -t 30 systemctl stop "$instance" || true
        if wait_until 10 server_said "closed 1000"; then
            pass template-instance
        else
            fail template-instance "stopping it sent no close frame 1000"
        fi
    fi
}

# WatchdogSec is set, and a healthy daemon is never killed by it: it has run 1.5 watchdog
# periods and more without a restart.
check_watchdog_healthy() {
    watchdog_seconds=$(timespan_seconds "$(unit_property "$unit" WatchdogUSec)")
    if [ "$watchdog_seconds" -eq 0 ]; then
        fail watchdog-healthy "$unit has no WatchdogSec"
        return 0
    fi
    local wait=$((service_started_at + watchdog_seconds * 3 / 2 + 1 - SECONDS))
    if [ "$wait" -gt 0 ]; then
        echo "  waiting $wait s: ${watchdog_seconds}s watchdog, 1.5 periods of uptime"
        sleep "$wait" & # in the background, so that a signal to boot-test is not held up
        background_pids+=($!)
        wait $!
    fi
    if [ "$(unit_property "$unit" MainPID)" = "$service_pid" ] && unit_running "$unit" &&
        [ "$(unit_property "$unit" NRestarts)" = 0 ]; then
        pass watchdog-healthy
    else
        fail watchdog-healthy "after $((SECONDS - service_started_at)) s: $(unit_state "$unit") (MainPID was $service_pid)"
    fi
}

# The service runs under another MainPID than $service_pid (sets pid).
replaced_main_pid() {
    pid=$(unit_property "$unit" MainPID)
    [ "$pid" != 0 ] && [ "$pid" != "$service_pid" ] && unit_running "$unit"
}

# A wedged daemon (SIGSTOP) is killed by the watchdog and restarted: a new MainPID within
# WatchdogSec + RestartSec + 20 s, "Failed with result 'watchdog'" in the journal, a new
# connection to the server.
check_watchdog_restart() {
    local restart_seconds limit pid
    if [ "$watchdog_seconds" -eq 0 ]; then
        fail watchdog-restart "$unit has no WatchdogSec"
        return 0
    fi
    unit_running "$unit" || start_unit "$unit" >/dev/null || true
    service_pid=$(unit_property "$unit" MainPID)
    restart_seconds=$(timespan_seconds "$(unit_property "$unit" RestartUSec)")
    limit=$((watchdog_seconds + restart_seconds + 20))
    journal_mark
    server_mark
    in_container kill -STOP "$service_pid"
    local stopped_at=$SECONDS
    if ! wait_until "$limit" replaced_main_pid; then
        fail watchdog-restart "no new MainPID within $limit s: $(unit_state "$unit")"
        in_container kill -CONT "$service_pid" 2>/dev/null || true
        start_unit "$unit" >/dev/null || true
    elif ! journal_shows "Failed with result 'watchdog'"; then
        fail watchdog-restart "restarted, but not for the watchdog: $(
            journal_since | head -n 5 | paste -sd'|')"
    elif ! wait_until 10 server_said "connected boot"; then
        fail watchdog-restart "restarted (MainPID $pid), but the server saw no new \"connected boot\""
    else
        echo "  restarted after $((SECONDS - stopped_at)) s"
        pass watchdog-restart
    fi
    service_pid=$(unit_property "$unit" MainPID)
}

# --- the store across a restart and a crash -----------------------------------------------------

# Pushes that a restart or a kill cuts short: 2000 messages at 500 a second (4 s).
long_push_count=2000
long_push_rate=500

# start_long_push LINES: the server starts a long push (after server_mark); true once the
# file sink has 100 lines more than LINES, so that the daemon is receiving.
start_long_push() {
    server_mark
    server_command "push $long_push_count 64 $long_push_rate"
    wait_until 10 container_lines_at_least "$file_sink" $(($1 + 100))
}

# The server said "pushed N" since server_mark: its push job ended (sets pushed_count).
server_pushed() {
    local line
    line=$(tail -n +$((server_line + 1)) "$work/server.out" | grep -m 1 -x 'pushed [0-9]*') || return 1
    pushed_count=${line#pushed }
}

# After the long push a restart or a kill cut: the job ended early (its client gone), the
# new process connected, the epoch is the one the store was made with (sets why when not).
after_cut_push() {
    local status epoch
    if ! wait_until 10 server_pushed; then
        why="the server's push job did not end"
    elif [ "$pushed_count" -ge "$long_push_count" ]; then
        why="the push of $long_push_count ended before the daemon went: nothing was cut"
    elif ! wait_until 10 server_said "connected boot"; then
        why="the server saw no new \"connected boot\" in 10 s"
    elif ! status=$(status_json 2>&1) || ! epoch=$(status_field "$status" epoch 2>&1); then
        why="no status: $status"
    elif [ "$epoch" != "$store_epoch" ]; then
        why="the epoch is now $epoch, was $store_epoch"
    else
        return 0
    fi
    return 1
}

# What STATUS= says of the store (from "; store ").
show_status_store() {
    local text
    text=$(unit_property "$unit" StatusText)
    echo "  STATUS=...; ${text#*; }"
}

# Records survive `systemctl restart` and a `kill -9` of the main process (which systemd
# restarts, Restart=on-failure), each while the server pushes: in the file sink, seq goes
# 1, 2, 3... across both with no hole and no duplicate, the server's messages come once
# each and in order, and the epoch stays the store's.
check_store_survives() {
    local why lines restart_seconds limit output
    unit_running "$unit" || start_unit "$unit" >/dev/null || true
    if ! wait_until 10 file_sink_settled; then
        fail store-restart "before: $file_sink does not end at the status' last_seq"
        return 0
    fi

    # systemctl restart, mid-push.
    lines=$settled_seq
    journal_mark
    if ! start_long_push "$lines"; then
        fail store-restart "$file_sink did not get 100 of the pushed records in 10 s"
        return 0
    fi
    if ! why=$(start_unit "$unit") || ! after_cut_push; then
        fail store-restart "$why"
        return 0
    fi
    echo "  restarted after seq $lines + $pushed_count pushed"
    show_status_store
    pass store-restart

    # kill -9 of the main process, mid-push: systemd restarts it.
    service_pid=$(unit_property "$unit" MainPID)
    restart_seconds=$(timespan_seconds "$(unit_property "$unit" RestartUSec)")
    limit=$((restart_seconds + 20))
    lines=$(file_sink_lines)
    journal_mark
    if ! start_long_push "$lines"; then
        fail store-kill "$file_sink did not get 100 of the pushed records in 10 s"
        return 0
    fi
    in_container kill -KILL "$service_pid"
    if ! wait_until "$limit" replaced_main_pid; then
        fail store-kill "no new MainPID within $limit s (Restart=$(unit_property "$unit" Restart)): $(unit_state "$unit")"
        start_unit "$unit" >/dev/null || true
        return 0
    fi
    service_pid=$(unit_property "$unit" MainPID)
    if ! journal_shows 'status=9/KILL'; then
        fail store-kill "restarted, but the journal has no status=9/KILL: $(journal_since | head -n 5 | paste -sd'|')"
        return 0
    elif ! after_cut_push; then
        fail store-kill "$why"
        return 0
    fi
    echo "  killed after seq $lines + $pushed_count pushed, restarted by systemd (Restart=$(unit_property "$unit" Restart))"
    show_status_store
    pass store-kill

    # All of it in the file sink: seq 1, 2, 3... and each message of the server once.
    if ! push 200; then
        fail store-records "the server did not push 200 messages in 10 s"
    elif ! wait_until 15 file_sink_settled; then
        fail store-records "$file_sink does not end at the status' last_seq: last seq $(file_sink_last_seq), $(file_sink_lines) lines, status last_seq ${settled_seq:-none}"
    elif ! why=$(in_container cat "$file_sink" | python3 -c '
import json, sys
previous_n = 0
count = 0
for count, line in enumerate(sys.stdin, 1):
    record = json.loads(line)
    seq, n = record["seq"], record["data"]["n"]
    if seq != count:
        sys.exit(f"line {count}: seq {seq}, not {count}")
    if n <= previous_n:
        sys.exit(f"seq {seq}: message n={n} of the server after n={previous_n}")
    previous_n = n
print(count)' 2>&1); then
        fail store-records "$why"
    else
        echo "  seq 1-$why, one line each, the server's messages in order"
        pass store-records
    fi
}

# wspushd --verify-store finds the store sound afterwards, run by root and by wspushd.
check_verify_store() {
    local output status who
    for who in root wspushd; do
        output=$(in_container -t 60 setpriv --reuid="$who" --regid="$who" --init-groups \
            wspushd --verify-store --config "$config" 2>&1) && status=0 || status=$?
        if [ "$status" -ne 0 ] || ! tail -n 1 <<<"$output" | grep -q ': sound$'; then
            fail verify-store "as $who: exit $status: $(tail -n 4 <<<"$output" | paste -sd'|')"
            return 0
        fi
    done
    echo "  $(tail -n 1 <<<"$output")"
    pass verify-store
}

# A second wspushd on the same store (run by hand as wspushd, outside the sandbox) fails
# at start, exit 1, on the store's lock; the service runs on.
check_store_locked() {
    local output status expected="store $store_dir is in use by another wspushd (it holds $store_dir/lock)"
    output=$(in_container -t 20 setpriv --reuid=wspushd --regid=wspushd --init-groups \
        wspushd --config "$config" 2>&1) && status=0 || status=$?
    if [ "$status" -ne 1 ]; then
        fail store-locked "exit $status, expected 1: $(tail -n 3 <<<"$output" | paste -sd'|')"
    elif ! grep -qF -- "$expected" <<<"$output"; then
        fail store-locked "expected \"$expected\", got: $(tail -n 3 <<<"$output" | paste -sd'|')"
    elif ! unit_running "$unit" || [ "$(unit_property "$unit" MainPID)" != "$service_pid" ]; then
        fail store-locked "afterwards: $(unit_state "$unit") (MainPID was $service_pid)"
    else
        echo "  $(grep -F -- "$expected" <<<"$output")"
        pass store-locked
    fi
}

# --- a named cursor across a restart and a crash ----------------------------------------------

named_tail_pidfile=/run/wspushd-boot-tail.pid # in the container

# named_tail_start OUT: `wspushctl tail --name boot` in the background, as nobody in group
# wspushd (an unprivileged reader), its output in OUT; true once it has subscribed.
named_tail_start() {
    in_container rm -f "$named_tail_pidfile"
    container_command -t 120 sh -c 'echo $$ >"$0" && exec setpriv --reuid=nobody --regid=nogroup \
        --groups=wspushd wspushctl --socket "$1" tail --name boot' "$named_tail_pidfile" "$socket"
    "${container_argv[@]}" >"$1" 2>"$1.err" &
    named_tail_host_pid=$!
    background_pids+=("$named_tail_host_pid")
    wait_until 10 named_cursor_is connected True
}

# Disconnects it: SIGTERM to wspushctl itself, in the container.
named_tail_stop() {
    in_container sh -c "kill -TERM \$(cat '$named_tail_pidfile') 2>/dev/null; rm -f '$named_tail_pidfile'" || true
    wait_gone "$named_tail_host_pid" 10 || true
    wait_until 10 named_cursor_is connected False
}

# named_cursor_is FIELD VALUE: the cursor boot has that value in wspushctl cursors --json
# (True or False for connected); sets cursor_seq, its seq.
named_cursor_is() {
    local json shown
    json=$(in_container wspushctl --socket "$socket" cursors --json 2>/dev/null) || return 1
    shown=$(python3 -c '
import json, sys
for cursor in json.loads(sys.argv[1])["cursors"]:
    if cursor["name"] == "boot":
        print(cursor["seq"], cursor[sys.argv[2]])' "$json" "$1") || return 1
    [ -n "$shown" ] && [ "${shown#* }" = "$2" ] || return 1
    cursor_seq=${shown%% *}
}

# tail_seqs FILE: the seqs of the records it printed, one a line (sets tail_first and
# tail_last; tail_last 0 when none). True when they go up one at a time.
tail_seqs() {
    local shown
    shown=$(python3 -c '
import json, sys
seqs = [json.loads(line)["seq"] for line in open(sys.argv[1]) if line.strip()]
steps = all(b == a + 1 for a, b in zip(seqs, seqs[1:]))
print(seqs[0] if seqs else 0, seqs[-1] if seqs else 0, "yes" if steps else "no")' "$1") || return 1
    read -r tail_first tail_last tail_steps <<<"$shown"
    [ "$tail_steps" = yes ]
}

# named_read OUT N: tail --name boot reads (at least) N records pushed now, acks them, and
# disconnects; sets acked, the cursor's seq afterwards, which is the last seq printed.
named_read() {
    local out=$1 count=$2
    named_tail_start "$out" || {
        why="wspushctl tail --name boot did not subscribe in 10 s: $(head -c 300 "$out.err")"
        return 1
    }
    if ! push "$count" || ! wait_until 10 lines_at_least "$out" "$count"; then
        why="tail --name boot printed $(wc -l <"$out") lines, not $count or more: $(head -c 300 "$out.err")"
        return 1
    fi
    tail_seqs "$out" || true
    # It acks once no more records wait: the cursor reaches the last seq printed.
    if ! wait_until 10 named_cursor_is seq "$tail_last"; then
        why="the cursor stayed at ${cursor_seq:-none}, the last seq printed is $tail_last"
        return 1
    fi
    named_tail_stop
    if ! named_cursor_is connected False; then
        why="the cursor boot is still connected after wspushctl tail --name boot stopped"
        return 1
    fi
    acked=$cursor_seq
}

# tail_caught_up OUT: the daemon has written all it received, and OUT ends at its last seq.
tail_caught_up() {
    file_sink_settled || return 1
    tail_seqs "$1"
    [ "$tail_last" = "$settled_seq" ]
}

# named_resumes OUT: tail --name boot, back, prints the records after the acked one first,
# then every one up to the newest, one at a time (sets why when not).
named_resumes() {
    local out=$1
    named_tail_start "$out" || {
        why="wspushctl tail --name boot did not subscribe again in 10 s: $(head -c 300 "$out.err")"
        return 1
    }
    push 10 || true # live records after the catch-up
    wait_until 10 tail_caught_up "$out" || true
    if ! tail_seqs "$out"; then
        why="tail --name boot printed seqs that do not go up one at a time: $(
            head -n 3 "$out" | paste -sd'|')"
    elif [ "$tail_first" != $((acked + 1)) ]; then
        why="tail --name boot began at seq $tail_first, the acked seq was $acked"
    elif [ "$tail_last" != "$settled_seq" ]; then
        why="tail --name boot got seq $tail_first-$tail_last, the daemon's last is ${settled_seq:-unknown}"
    else
        named_tail_stop
        return 0
    fi
    named_tail_stop
    return 1
}

# A named cursor survives `systemctl restart` and a `kill -9`: `wspushctl tail --name boot`
# reads some records and disconnects, records come while it is away, the daemon restarts
# (is killed, and systemd restarts it), and tail --name boot, back, goes on right after the
# last record it acked, with no hole up to the newest. The cursor is saved at every sync
# (store.sync_interval, 1s in the shipped config) and at exit: before the kill the check
# waits two intervals, so that the ack is on disk.
check_named_cursor() {
    local why acked limit
    unit_running "$unit" || start_unit "$unit" >/dev/null || true
    if ! named_read "$work/named-1.out" 20; then
        fail named-cursor-restart "$why"
        return 0
    fi
    push 15 || true # while it is away
    if ! why=$(start_unit "$unit") || ! wait_until 10 server_said "connected boot"; then
        fail named-cursor-restart "${why:-restarted, but the server saw no new \"connected boot\"}"
        return 0
    fi
    if named_resumes "$work/named-2.out"; then
        echo "  acked $acked, after the restart: seq $tail_first-$tail_last"
        pass named-cursor-restart
    else
        fail named-cursor-restart "$why"
        return 0
    fi

    if ! named_read "$work/named-3.out" 20; then
        fail named-cursor-kill "$why"
        return 0
    fi
    push 15 || true # while it is away
    sleep 2.5
    service_pid=$(unit_property "$unit" MainPID)
    limit=$(($(timespan_seconds "$(unit_property "$unit" RestartUSec)") + 20))
    server_mark
    in_container kill -KILL "$service_pid"
    if ! wait_until "$limit" replaced_main_pid || ! wait_until 10 server_said "connected boot"; then
        fail named-cursor-kill "not back within $limit s: $(unit_state "$unit")"
        start_unit "$unit" >/dev/null || true
        return 0
    fi
    service_pid=$(unit_property "$unit" MainPID)
    if named_resumes "$work/named-4.out"; then
        echo "  acked $acked, after kill -9: seq $tail_first-$tail_last"
        pass named-cursor-kill
    else
        fail named-cursor-kill "$why"
    fi
}

# systemctl stop: a close frame 1000 reaches the server, and the daemon exits 0, in well
# under the 10 s this allows.
check_stop() {
    local output started=$SECONDS
    server_mark
    if ! output=$(in_container -t 30 systemctl stop "$unit" 2>&1); then
        fail stop "systemctl stop: ${output:-timed out}"
    elif ! wait_until 10 server_said "closed 1000"; then
        fail stop "the server got no close frame 1000: $(tail -n +$((server_line + 1)) "$work/server.out" | paste -sd'|')"
    elif ! unit_is "$unit" ActiveState=inactive Result=success ExecMainStatus=0; then
        fail stop "afterwards: $(unit_state "$unit") $(unit_property "$unit" ExecMainStatus)"
    elif [ $((SECONDS - started)) -gt 10 ]; then
        fail stop "it took $((SECONDS - started)) s"
    else
        pass stop
    fi
}

# --- the instances of wspushd@.service and the package's maintainer scripts ------------------

instances=(a b) # wspushd@a and wspushd@b, /etc/wspushd/a.yaml and b.yaml
instance_units=(wspushd@a.service wspushd@b.service)

# instance_pids_gone PID...: no such process in the container.
instance_pids_gone() {
    local pid
    for pid in "$@"; do
        ! in_container test -d "/proc/$pid" || return 1
    done
}

# instances_running: each instance active/running (sets instance_pids, their MainPIDs).
instances_running() {
    local name pid
    instance_pids=()
    for name in "${instances[@]}"; do
        unit_running "wspushd@$name.service" || return 1
        pid=$(unit_property "wspushd@$name.service" MainPID)
        [ "$pid" != 0 ] || return 1
        instance_pids+=("$pid")
    done
}

# instances_inactive UNIT...: each unit inactive (also once its file is gone: not-found).
instances_inactive() {
    local name
    for name in "$@"; do
        unit_is "$name" ActiveState=inactive || return 1
    done
}

instances_state() {
    local name
    for name in "${instances[@]}"; do
        echo "wspushd@$name: $(unit_state "wspushd@$name.service")"
    done | paste -sd';'
}

# all_differ N A1..AN B1..BN: Ai and Bi differ, for every i.
all_differ() {
    local n=$1 i
    shift
    for ((i = 1; i <= n; i++)); do
        [ "${!i}" != "${@:i+n:1}" ] || return 1
    done
}

# server_said_all LINE...: each line came from the server since server_mark.
server_said_all() {
    local line
    for line in "$@"; do
        server_said "$line" || return 1
    done
}

# Two instances, a and b, run side by side with configs of their own, each with its store
# in its StateDirectory (/var/lib/wspushd/NAME/store): the server sees both.
check_instances_running() {
    local name why
    server_mark
    for name in "${instances[@]}"; do
        in_container sh -c "cat >/etc/wspushd/$name.yaml" <<EOF
server:
  url: ws://127.0.0.1:$server_port/websocket/$name
store:
  path: /var/lib/wspushd/$name/store
EOF
        if ! why=$(start_unit "wspushd@$name.service"); then
            fail instances-running "wspushd@$name: $why"
            return 1
        fi
    done
    if ! wait_until 10 server_said_all "${instances[@]/#/connected }"; then
        fail instances-running "the server saw no \"connected NAME\" for each of ${instances[*]} in 10 s"
        return 1
    fi
    instances_running || true
    pass instances-running
}

# Each instance made its store in its own StateDirectory: /var/lib/wspushd/NAME/store,
# 0700 and wspushd's, an epoch of its own.
check_instance_stores() {
    local name shown epoch epochs=()
    for name in "${instances[@]}"; do
        shown=$(in_container stat -c '%a %U %G' "/var/lib/wspushd/$name/store" 2>&1) || true
        epoch=$(in_container cat "/var/lib/wspushd/$name/store/epoch" 2>&1) || true
        if [ "$shown" != "700 wspushd wspushd" ]; then
            fail instance-stores "/var/lib/wspushd/$name/store: \"$shown\", expected mode 700, owner and group wspushd"
            return 0
        elif ! [[ "$epoch" =~ ^[0-9a-f]{32}$ ]] || ! in_container test -f "/var/lib/wspushd/$name/store/lock"; then
            fail instance-stores "/var/lib/wspushd/$name/store: epoch \"$epoch\", files: $(
                in_container ls "/var/lib/wspushd/$name/store" | paste -sd' ')"
            return 0
        fi
        epochs+=("$epoch")
    done
    if [ "${epochs[0]}" = "${epochs[1]}" ]; then
        fail instance-stores "both stores have epoch ${epochs[0]}"
    else
        pass instance-stores
    fi
}

# An instance given another's store fails at start, and so does one given the main
# daemon's (as in a copy of wspushd.yaml): outside its StateDirectory a store is read-only
# to it. wspushd@c and wspushd@d are stopped afterwards (Restart= would retry them), and
# wspushd@a runs on.
check_instance_shared_store() {
    local name store output text pid_a
    pid_a=$(unit_property wspushd@a.service MainPID)
    for name in c d; do
        if [ "$name" = c ]; then store=/var/lib/wspushd/a/store; else store=$store_dir; fi
        in_container sh -c "cat >/etc/wspushd/$name.yaml" <<EOF
server:
  url: ws://127.0.0.1:$server_port/websocket/$name
store:
  path: $store
EOF
        journal_mark
        output=""
        if in_container -t 100 systemctl restart "wspushd@$name.service" >/dev/null 2>&1; then
            output="it started: $(unit_state "wspushd@$name.service")"
        fi
        text=$(in_container journalctl -q --no-pager -o cat -u "wspushd@$name.service" \
            --after-cursor="$journal_cursor" | grep -m 1 -F "store $store") || true
        in_container -t 30 systemctl stop "wspushd@$name.service" >/dev/null 2>&1 || true
        in_container systemctl reset-failed "wspushd@$name.service" >/dev/null 2>&1 || true
        in_container rm -f "/etc/wspushd/$name.yaml"
        if [ -n "$output" ]; then
            fail instance-shared-store "wspushd@$name with store $store: $output"
            return 0
        elif ! grep -q 'Read-only file system' <<<"$text"; then
            fail instance-shared-store "wspushd@$name with store $store: no \"store $store...: Read-only file system\" in its journal: $(
                in_container journalctl -q --no-pager -o cat -n 3 -u "wspushd@$name.service" | paste -sd'|')"
            return 0
        fi
        echo "  wspushd@$name: $text"
    done
    if ! instances_running || [ "${instance_pids[0]}" != "$pid_a" ]; then
        fail instance-shared-store "afterwards: $(instances_state) (wspushd@a was $pid_a)"
    else
        pass instance-shared-store
    fi
}

# An upgrade (dpkg -i of the package over itself: prerm upgrade, postinst configure OLD)
# restarts the running instances on the new files: new MainPIDs, the old processes gone,
# new connections; an instance that was stopped (wspushd@second) stays stopped.
check_upgrade_restarts_instances() {
    local old_pids output
    instances_running || true
    old_pids=("${instance_pids[@]}")
    server_mark
    if ! output=$(in_container -t 180 dpkg -i "/pkg/${deb##*/}" 2>&1); then
        fail upgrade-restarts-instances "dpkg -i: $(tail -n 5 <<<"$output")"
        return 0
    fi
    if ! wait_until 10 instances_running; then
        fail upgrade-restarts-instances "afterwards: $(instances_state)"
    elif ! all_differ "${#old_pids[@]}" "${old_pids[@]}" "${instance_pids[@]}"; then
        fail upgrade-restarts-instances "not restarted: MainPIDs ${instance_pids[*]}, before ${old_pids[*]}"
    elif ! wait_until 10 instance_pids_gone "${old_pids[@]}"; then
        fail upgrade-restarts-instances "the old processes ${old_pids[*]} still run"
    elif ! wait_until 10 server_said_all "${instances[@]/#/connected }"; then
        fail upgrade-restarts-instances "the server saw no new \"connected NAME\" for each of ${instances[*]} in 10 s"
    elif ! instances_inactive wspushd@second.service; then
        fail upgrade-restarts-instances "the stopped wspushd@second runs: $(unit_state wspushd@second.service)"
    else
        echo "  MainPIDs ${old_pids[*]} -> ${instance_pids[*]}"
        pass upgrade-restarts-instances
    fi
}

# apt-get remove stops every instance, cleanly, before the binary goes: both units inactive,
# their processes gone, no wspushd left in the container, each unit's journal says
# "Deactivated successfully" (exit 0 on SIGTERM, not a kill).
check_remove_stops_instances() {
    local pids output name left
    instances_running || true
    pids=("${instance_pids[@]}")
    journal_mark
    if ! output=$(in_container -t 180 apt-get remove -y -q wspushd 2>&1); then
        fail remove-stops-instances "apt-get remove: $(tail -n 5 <<<"$output")"
        return 0
    fi
    if ! wait_until 10 instances_inactive "${instance_units[@]}"; then
        fail remove-stops-instances "afterwards: $(instances_state)"
        return 0
    fi
    if ! wait_until 10 instance_pids_gone "${pids[@]}"; then
        fail remove-stops-instances "the instances' processes ${pids[*]} still run"
        return 0
    fi
    left=$(in_container pgrep -a -x wspushd || true)
    if [ -n "$left" ]; then
        fail remove-stops-instances "still running: $left"
        return 0
    fi
    for name in "${instances[@]}"; do
        if ! in_container journalctl -q --no-pager -o cat -u "wspushd@$name.service" \
            --after-cursor="$journal_cursor" | grep -q 'Deactivated successfully'; then
            fail remove-stops-instances "wspushd@$name did not stop cleanly: $(
                in_container journalctl -q --no-pager -o cat -u "wspushd@$name.service" \
                    --after-cursor="$journal_cursor" | tail -n 3 | paste -sd'|')"
            return 0
        fi
    done
    pass remove-stops-instances
}

# apt-get purge after the removal: it works with systemd running, no instance comes back,
# the records (the instances' too) are gone.
check_purge() {
    local output
    if ! output=$(in_container -t 180 apt-get purge -y -q wspushd 2>&1); then
        fail purge "apt-get purge: $(tail -n 5 <<<"$output")"
    elif ! instances_inactive "${instance_units[@]}"; then
        fail purge "afterwards: $(instances_state)"
    elif in_container test -e /var/lib/wspushd; then
        fail purge "/var/lib/wspushd is still there"
    else
        pass purge
    fi
}

run_checks() {
    start_server || {
        fail setup "wspush-testserver did not say \"listening PORT\""
        return 1
    }
    check_apt_mirror || return 1
    check_install || return 1
    check_system_user
    probe_journal_sink
    check_service_active || return 1
    check_notify_status
    check_store_created
    check_unprivileged
    check_records
    check_socket_denied
    check_journal_sink
    check_reload
    check_sandbox
    check_liveness_watch
    check_metrics
    check_mqtt_sink
    check_template_instance
    check_watchdog_healthy
    check_watchdog_restart
    check_store_survives
    check_verify_store
    check_store_locked
    check_named_cursor
    unit_running "$unit" || start_unit "$unit" >/dev/null || true
    check_stop
    if check_instances_running; then
        check_instance_stores
        check_instance_shared_store
        check_upgrade_restarts_instances
        check_remove_stops_instances
        check_purge
    fi
}

# Liveness (issue 14): under the real systemd-logind, a restarted service subscribes to
# PrepareForSleep on the system bus and opens its rtnetlink socket, the sandbox allowing
# both (AF_UNIX for the bus, AF_NETLINK), with no "cannot watch" line.
check_liveness_watch() {
    local logind
    logind=$(in_container systemctl is-active systemd-logind 2>&1) || {
        in_container systemctl start systemd-logind >/dev/null 2>&1
        logind=$(in_container systemctl is-active systemd-logind 2>&1)
    }
    journal_mark
    if ! in_container systemctl restart "$unit" >/dev/null 2>&1; then
        fail liveness-watch "systemctl restart $unit failed"
        return
    fi
    # The watchdog checks after this one watch the new process.
    service_started_at=$SECONDS
    service_pid=$(unit_property "$unit" MainPID)
    if ! wait_until 10 journal_shows "watching logind's PrepareForSleep on the system bus"; then
        fail liveness-watch "logind $logind; no subscription in 10 s: $(journal_since | grep -i "watch\|bus" | head -3)"
        return
    fi
    if journal_since | grep -q "cannot watch"; then
        fail liveness-watch "$(journal_since | grep "cannot watch" | head -2)"
        return
    fi
    pass liveness-watch "logind $logind; subscribed to PrepareForSleep, rtnetlink open"
}

# Metrics (issue 16): the running service, sandbox and all, serves GET /metrics on a
# loopback port (a TCP listener needs no drop-in: the unit allows AF_INET/AF_INET6 for the
# connection already) and writes its textfile in its StateDirectory. The scrape agrees with
# the status, the process_* figures are read under ProcSubset=pid, and promtool (when the
# host has it) finds nothing wrong. The config is put back afterwards; no record is pushed.
check_metrics() {
    local port textfile=/var/lib/wspushd/wspushd.prom why
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    write_config "metrics:
  listen: 127.0.0.1:$port
  textfile: $textfile
  interval: 1s"
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    if ! wait_until 10 journal_shows "metrics: serving GET /metrics on 127.0.0.1:$port"; then
        fail metrics "no \"serving GET /metrics on 127.0.0.1:$port\" in the journal: $(
            journal_since | tail -n 3 | paste -sd'|')"
    elif ! why=$(python3 - "$port" "$(in_container wspushctl --socket "$socket" status --json 2>&1)" \
        "$(command -v promtool || true)" 2>&1 <<'PY'
import json, subprocess, sys, urllib.request
port, status_text, promtool = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    status = json.loads(status_text)
except ValueError:
    print(f"wspushctl status --json: {status_text[:200]!r}")
    sys.exit(1)
with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
    text = answer.read().decode()
samples = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
def check(name, expected):
    if samples.get(name) != expected:
        print(f"{name} is {samples.get(name)}, the status says {expected}")
        sys.exit(1)
check("wspushd_messages_forwarded_total", status["forwarded"])
check("wspushd_store_last_seq", status["last_seq"])
check(f'wspushd_link_up{{server="{status["server"]}"}}', 1)
for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
    if not samples.get(name, 0) > 0:
        print(f"{name} is {samples.get(name)} under the unit's sandbox")
        sys.exit(1)
if promtool:
    check_run = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True)
    report = (check_run.stdout + check_run.stderr).decode().strip()
    if check_run.returncode != 0 or report:
        print(f"promtool: {report}")
        sys.exit(1)
print(f"{len(samples)} samples, forwarded {status['forwarded']}"
      + (", promtool clean" if promtool else ", no promtool on the host"))
PY
    ); then
        fail metrics "$why"
    elif ! wait_until 10 in_container grep -q '^wspushd_messages_forwarded_total ' "$textfile"; then
        fail metrics "$textfile was not written"
    else
        echo "  $why"
        pass metrics
    fi
    write_config
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    wait_until 10 journal_shows reloaded || true
}

# The mqtt sink (issue 15) under the real systemd and the unit's sandbox: a mosquitto on
# the host's loopback (the container shares the host's network; a broker on another host
# is the same AF_INET connection, see systemd/README.md), a reload adding an mqtt sink at
# QoS 1, 50 records pushed: a mosquitto_sub on the host, subscribed before, gets all 50,
# seq consecutive, each the record's line. Then the config is put back.
check_mqtt_sink() {
    local broker port broker_pid sub_pid why count=50
    broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    if [ ! -x "$broker" ] || ! command -v mosquitto_sub >/dev/null; then
        skip mqtt-sink "no mosquitto and mosquitto_sub on the host (apt-get install mosquitto mosquitto-clients)"
        return 0
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # As root, mosquitto would become the user "mosquitto", who cannot write in $work.
    printf '%s\n' "user root" "listener $port 127.0.0.1" "allow_anonymous true" \
        "persistence false" "log_dest file $work/mosquitto.log" "log_type error" \
        "log_type warning" "log_type notice" "log_type subscribe" >"$work/mosquitto.conf"
    "$broker" -c "$work/mosquitto.conf" >"$work/mosquitto.out" 2>&1 &
    broker_pid=$!
    background_pids+=("$broker_pid")
    if ! wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        fail mqtt-sink "mosquitto did not start: $(tail -n 3 "$work/mosquitto.log" "$work/mosquitto.out" 2>/dev/null | paste -sd'|')"
        kill "$broker_pid" 2>/dev/null
        return 0
    fi
    mosquitto_sub -h 127.0.0.1 -p "$port" -i boot-sub -q 1 -t wspush/boot -C "$count" -W 60 \
        >"$work/mqtt.out" 2>"$work/mqtt.err" &
    sub_pid=$!
    background_pids+=("$sub_pid")
    wait_until 10 grep -q ": boot-sub 1 wspush/boot$" "$work/mosquitto.log" || true
    write_config "  - type: mqtt
    url: mqtt://127.0.0.1:$port
    topic: wspush/boot
    qos: 1
    client_id: wspushd-boot"
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    if ! wait_until 10 journal_shows "mqtt mqtt://127.0.0.1:$port wspush/boot: connected"; then
        fail mqtt-sink "no \"mqtt mqtt://127.0.0.1:$port wspush/boot: connected\" in the journal: $(
            journal_since | tail -n 3 | paste -sd'|')"
    elif ! push "$count"; then
        fail mqtt-sink "the server did not push $count messages"
    elif ! wait_gone "$sub_pid" 30; then
        fail mqtt-sink "mosquitto_sub got $(wc -l <"$work/mqtt.out") of $count in 30 s"
    elif ! why=$(python3 - "$count" "$work/mqtt.out" 2>&1 <<'PY'
import json, sys
count, path = int(sys.argv[1]), sys.argv[2]
lines = open(path).read().splitlines()
if len(lines) != count:
    print(f"{len(lines)} messages, not {count}")
    sys.exit(1)
seqs = [json.loads(line)["seq"] for line in lines]
if seqs != list(range(seqs[0], seqs[0] + count)):
    print(f"seqs not consecutive: {seqs[:5]}...{seqs[-5:]}")
    sys.exit(1)
print(f"seq {seqs[0]}..{seqs[-1]}")
PY
    ); then
        fail mqtt-sink "$why"
    else
        echo "  $count records to mosquitto at QoS 1 from the sandboxed service: $why"
        pass mqtt-sink
    fi
    pid_alive "$sub_pid" && kill "$sub_pid"
    write_config
    journal_mark
    in_container -t 30 systemctl reload "$unit" >/dev/null 2>&1 || true
    wait_until 10 journal_shows reloaded || true
    kill "$broker_pid" 2>/dev/null
    wait_gone "$broker_pid" 5 || true
}
