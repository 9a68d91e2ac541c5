# SPDX-License-Identifier: MIT
# Shared by scripts/demo and scripts/test: install what is missing, build.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo_root/build"

# Debian 12 packages the build, the tests and the demo need.
base_packages=(
    g++ meson ninja-build pkg-config cmake
    libwebsockets-dev libjsoncpp-dev libsystemd-dev libyaml-cpp-dev doctest-dev libssl-dev
    python3 openssl systemd tinyproxy
)

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

# build [meson options...]: configures build/ (again when the options change) and builds.
build() {
    local dir="$build_dir"
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$repo_root" "$@"
    fi
    ninja -C "$dir"
}
