# Sourced by every guest script (`. /mnt/host/guest-lib.sh`; POSIX sh, run by the initramfs's
# busybox sh): the paths they share and the waits they all make. vm/run copies it into the share
# beside them. Names starting with _gl_ are its own.
share=/mnt/host
bin=$share/bin/ondemand-trace
tracing=/sys/kernel/tracing

# Milliseconds since boot (CLOCK_MONOTONIC in this VM, never suspended).
uptime_ms() { read up _ < /proc/uptime; echo "${up%.*}${up#*.}0"; }

# alive PID: the process exists and has not exited (kill -0 also succeeds on a zombie, which a
# daemon that exited stays until its parent waits for it).
# No child process: a script holding /dev/cachefiles on fd 3 lends it to none.
alive() {
    { read -r _gl_stat < /proc/$1/stat; } 2>/dev/null || return 1
    _gl_state=${_gl_stat##*) }
    [ "${_gl_state%% *}" != Z ]
}

# wait_ready FILE PID [TENTHS]: waits until the daemon PID has made FILE (its --ready-file),
# has exited, or TENTHS tenths of a second (default 600) have passed; true when FILE exists.
wait_ready() {
    _gl_n=0
    while [ ! -e "$1" ] && alive "$2" && [ $_gl_n -lt "${3:-600}" ]; do sleep 0.1; _gl_n=$((_gl_n + 1)); done
    [ -e "$1" ]
}

# stop_process PID [TENTHS]: SIGTERM, up to TENTHS tenths of a second (default 50) to exit,
# then SIGKILL; reaps it and returns its exit status.
stop_process() {
    kill -TERM "$1" 2>/dev/null
    _gl_n=0
    while alive "$1" && [ $_gl_n -lt "${2:-50}" ]; do sleep 0.1; _gl_n=$((_gl_n + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
}

# new_instance DIR BUFFER-KB [EVENT...]: a tracefs instance at DIR with the mono clock (the
# daemon's CLOCK_MONOTONIC), BUFFER-KB per CPU (- keeps the default) and each EVENT enabled: a
# path under events/ (default cachefiles: the whole system).
new_instance() {
    _gl_dir=$1 _gl_kb=$2
    shift 2
    [ $# -gt 0 ] || set -- cachefiles
    mkdir -p $_gl_dir
    echo mono > $_gl_dir/trace_clock
    [ "$_gl_kb" = - ] || echo $_gl_kb > $_gl_dir/buffer_size_kb
    for _gl_event in "$@"; do echo 1 > $_gl_dir/events/$_gl_event/enable; done
}

# unmount DIR: umount, lazily if it does not go within 10 s (a reader still holds it).
unmount() { timeout 10 umount "$1" || umount -l "$1"; }
