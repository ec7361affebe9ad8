# Sourced by the host-side scripts of vm/ (bash, after `set -euo pipefail`, with $repo set): the
# guest's binary and the shell checkers' verdict lines. The guest's own library is vm/guest/guest-lib.sh.

# guest_binary: sets $binary to the static release ondemand-trace the guest runs (no Swift runtime
# in the initramfs), built from this tree now, so it is never stale; ODT_BINARY names one built
# before instead.
guest_binary() {
    if [ -n "${ODT_BINARY:-}" ]; then
        binary=$ODT_BINARY
        return
    fi
    (cd "$repo" && swift build -c release --static-swift-stdlib --product ondemand-trace 2>&1 | tail -1)
    binary=$(cd "$repo" && swift build -c release --static-swift-stdlib --show-bin-path)/ondemand-trace
}

# guest_program SOURCE.c OUT: a C program the guest runs beside ondemand-trace (the daemons and
# tools of vm/fanotify/ and vm/bench/), static: the initramfs has no libc of its own for it.
guest_program() {
    command -v gcc >/dev/null || { echo "vm: gcc not installed (it builds $1)" >&2; exit 2; }
    gcc -O2 -Wall -Wextra -static -pthread -o "$2" "$1"
}

# check WHAT RESULT [DETAIL]: one verdict line for $round (RESULT 0 = ok), failures counted.
failures=0
check() {
    if [ "$2" = 0 ]; then echo "ok   $round: $1${3:+ ($3)}"; else echo "FAIL $round: $1${3:+ ($3)}"; failures=$((failures + 1)); fi
}

# rc COMMAND...: 0 when COMMAND succeeds, else 1 (its output dropped), for check's RESULT.
rc() { "$@" > /dev/null 2>&1 && echo 0 || echo 1; }

# checked NAME OUT: the summary line; fails when any check did.
checked() {
    echo "$1: $failures failure(s); results in $2"
    [ "$failures" = 0 ]
}
