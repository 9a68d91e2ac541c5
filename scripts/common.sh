# SPDX-License-Identifier: MIT
# Shared by scripts/demo and scripts/test: install what is missing, build.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo_root/build"

# Debian 12 packages the build, the tests and the demo need: iproute2's ss shows the bytes a
# test connection carried; python3-websockets runs the benchmark's Python peer and one of
# test_interop's servers.
base_packages=(
    g++ meson ninja-build pkg-config cmake
    libwebsockets-dev libjsoncpp-dev libsystemd-dev libyaml-cpp-dev doctest-dev libssl-dev
    zlib1g-dev libmosquitto-dev libhiredis-dev libhttp-parser-dev libc-ares-dev
    python3 openssl systemd tinyproxy iproute2 python3-websockets
)
# What only scripts/test adds: Debian's prometheus package, whose promtool checks the metrics
# exposition and whose server scrapes a daemon in test_metrics. On a machine that runs
# systemd, the package also starts its own prometheus.service (port 9090):
# `systemctl disable --now prometheus` if that is not wanted.
# dbus-daemon runs the private bus with a stand-in logind in test_liveness. mosquitto and
# mosquitto-clients: test_mqtt_sink starts its own broker on a free loopback port and
# subscribes with mosquitto_sub; test_redis_sink starts its own redis-server (the packages'
# own mosquitto.service and redis-server.service are left alone). nodejs and node-ws: the
# Node ws server test_interop runs the daemon against (python3-websockets is the other).
test_packages=(prometheus dbus-daemon mosquitto mosquitto-clients redis-server nodejs node-ws)
# What scripts/fuzz adds (scripts/test runs it): clang with libFuzzer and the sanitizer
# runtimes, and llvm-symbolizer for readable reports. The demo needs none of it, and
# scripts/test --sanitize builds with g++, whose ASan and UBSan come with it.
fuzz_packages=(clang-14 libclang-rt-14-dev llvm-14)

install_packages() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# configure DIR [meson options...]: sets up a build directory, or applies the options again.
configure() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$repo_root" "$@"
    fi
}

# build [meson options...]: configures build/ (again when the options change) and builds.
build() {
    configure "$build_dir" "$@"
    ninja -C "$build_dir"
}
