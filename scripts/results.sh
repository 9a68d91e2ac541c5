# SPDX-License-Identifier: MIT
# Check results of the test scripts that run outside meson (package-test, boot-test): each
# check prints "ok NAME", "skip NAME: why" or "FAIL NAME: why" and is recorded as one JSON
# line in a results file that .ci/run adds to its count.

# results_open FILE PREFIX: starts an empty results file; names are recorded as PREFIX/NAME.
results_open() {
    results=$1
    results_prefix=$2
    checks_failed=0
    mkdir -p "$(dirname "$results")"
    : >"$results"
}

json_string() {
    local text=${1//\\/\\\\}
    text=${text//\"/\\\"}
    text=${text//$'\t'/ }
    text=${text//$'\r'/ }
    text=${text//$'\n'/; }
    printf '"%s"' "${text//[[:cntrl:]]/?}"
}

# record NAME OK|FAIL|SKIP [WHY]
record() {
    local name=$1 result=$2 why=${3-}
    case "$result" in
    OK) echo "ok $name" ;;
    SKIP) echo "skip $name: $why" ;;
    *)
        echo "FAIL $name: $why"
        checks_failed=$((checks_failed + 1))
        ;;
    esac
    printf '{"name":%s,"result":"%s"}\n' "$(json_string "$results_prefix/$name")" "$result" \
        >>"$results"
}
pass() { record "$1" OK; }
fail() { record "$1" FAIL "$2"; }
skip() { record "$1" SKIP "$2"; }
