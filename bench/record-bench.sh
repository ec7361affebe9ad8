#!/usr/bin/env bash
# Benchmark (not a test): the highest trace_marker event rate `ondemand-trace record` sustains on
# this host without lost events, and its CPU use, next to a plain `cat per_cpu/cpuN/trace_pipe_raw`
# copy and `trace-cmd record` under the same load, and what `--live` adds (odt-live rows: the same
# recording with every record decoded and correlated for the live lines), and what the crash-safe
# pieces cost (odt-unlinked rows: the same recording with --no-crash-safe, the pages in unlinked
# files as before the pieces). Needs root and tracefs.
#
#   bench/record-bench.sh                       # rates 25k..400k events/s, 3 s each, 4096 KiB/CPU
#   RATES="100000 200000" SECONDS_PER_RATE=5 BUFFER_KB=1024 bench/record-bench.sh
#   MODES="unlinked plain" SKIP_OTHERS=1 bench/record-bench.sh   # only the crash-safe cost
#
# Load: bench/marker-load.c, one pinned thread per CPU writing ~60-byte lines to the recording
# instance's trace_marker in 1 ms batches (the rate it reached is printed: a write is a syscall).
# Lost = the instance's per_cpu/cpuN/stats overrun + dropped events; ondemand-trace's count is also
# checked against the lines written. CPU = user+sys of the recorder process(es) over the run's wall
# time (load time + 2 s), and per event. Results go to stdout and bench-out/record-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=(${RATES:-25000 50000 100000 200000 400000})
seconds=${SECONDS_PER_RATE:-3}
buffer_kb=${BUFFER_KB:-4096}
modes=(${MODES:-unlinked plain live})
tracing=/sys/kernel/tracing
[ -d "$tracing/instances" ] || { echo "record-bench: tracefs is not mounted at $tracing" >&2; exit 2; }
BENCH=record-bench BENCH_PRODUCTS=ondemand-trace BENCH_TOOLS=gcc BENCH_C_LOOP=0
. bench/bench-lib.sh
out=$BENCH_DIR/record-bench
mkdir -p "$out"
gcc -O2 -pthread -o "$out/marker-load" bench/marker-load.c
wall=$((seconds + 2))
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Sums the "user sys" pairs GNU time wrote to the given files.
cpu_seconds() { cat "$@" | awk '/^[0-9.]+ [0-9.]+$/ { s += $1 + $2 } END { printf "%.2f", s }'; }
lost_in_stats() { cat "$1"/per_cpu/cpu*/stats | awk '/^overrun:|^dropped events:/ { s += $NF } END { print s + 0 }'; }
wait_for() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

printf '%-14s %10s %9s %11s %9s %7s %6s %9s\n' tool target/s sent achieved/s recorded lost cpu% us/event
report() {  # tool target sent achieved recorded lost cpu_seconds
    local cpu_pct us_per
    cpu_pct=$(awk -v c="$7" -v w="$wall" 'BEGIN { printf "%.1f", 100 * c / w }')
    us_per=$(awk -v c="$7" -v n="$3" 'BEGIN { printf "%.2f", (n > 0 ? 1e6 * c / n : 0) }')
    printf '%-14s %10s %9s %11s %9s %7s %6s %9s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$cpu_pct" "$us_per"
    echo "$1 $2 $3 $4 $5 $6 $cpu_pct $us_per" >> "$out/results.txt"
}
: > "$out/results.txt"

for rate in "${rates[@]}"; do
    # ondemand-trace record, in its own instance, stopped by --duration; then the same with --live
    # (every record merged across CPUs, decoded and correlated, a line per second).
    for mode in "${modes[@]}"; do
        instance=odt-bench-$$
        rm -f "$out/odt.dat" "$out"/odt.dat.*
        live=(); tool=ondemand-trace
        [ "$mode" = live ] && live=(--live --interval 1s) tool=odt-live
        [ "$mode" = unlinked ] && live=(--no-crash-safe) tool=odt-unlinked
        /usr/bin/time -f "%U %S" -o "$out/odt.time" "$ODT" record --events ftrace:print --instance "$instance" \
            --buffer-size "$buffer_kb" -o "$out/odt.dat" --duration "$wall" "${live[@]}" > "$out/odt-$mode.out" 2> "$out/odt.log" &
        recorder=$!
        wait_for "$tracing/instances/$instance/trace_marker"
        sleep 0.5
        read -r sent achieved < <("$out/marker-load" "$tracing/instances/$instance/trace_marker" "$rate" "$seconds")
        wait "$recorder" || { echo "ondemand-trace failed: $(tail -1 "$out/odt.log")" >&2; exit 2; }
        recorded=$(sed -n 's/^wrote .*: \([0-9]*\) records.*/\1/p' "$out/odt.log")
        lost=$(sed -n 's/^warning: the ring buffer lost \([0-9]*\) events.*/\1/p' "$out/odt.log")
        lost=${lost:-0}
        [ "$recorded" = "$sent" ] || lost=$((lost > sent - recorded ? lost : sent - recorded))
        report "$tool" "$rate" "$sent" "$achieved" "$recorded" "$lost" "$(cpu_seconds "$out/odt.time")"
    done

    [ "${SKIP_OTHERS:-0}" = 1 ] && continue
    # cat trace_pipe_raw, one per CPU, into files: the floor any recorder pays.
    dir=$tracing/instances/cat-bench-$$
    mkdir "$dir"
    echo "$buffer_kb" > "$dir/buffer_size_kb"
    cats=()
    for cpu_dir in "$dir"/per_cpu/cpu*; do
        n=${cpu_dir##*cpu}
        /usr/bin/time -f "%U %S" -o "$out/cat$n.time" timeout -s INT "$wall" cat "$cpu_dir/trace_pipe_raw" > "$out/cat$n.raw" 2>/dev/null &
        cats+=($!)
    done
    sleep 0.5
    read -r sent achieved < <("$out/marker-load" "$dir/trace_marker" "$rate" "$seconds")
    sleep 1.5
    lost=$(lost_in_stats "$dir")
    wait "${cats[@]}" 2>/dev/null || true
    rmdir "$dir"
    report cat-pipe-raw "$rate" "$sent" "$achieved" "-" "$lost" "$(cpu_seconds "$out"/cat*.time)"
done

# trace-cmd record into an instance, same load, at the highest rate; it may not run everywhere.
# It insists on one enabled event (sched_process_exec: rare here); the markers are recorded anyway.
if [ "${SKIP_OTHERS:-0}" != 1 ]; then
rate=${rates[-1]}
dir=$tracing/instances/tc-bench-$$
rm -f "$out/tc.dat"
setsid /usr/bin/time -f "%U %S" -o "$out/tc.time" trace-cmd record -B "tc-bench-$$" -e sched:sched_process_exec \
    -b "$buffer_kb" -o "$out/tc.dat" > "$out/tc.log" 2>&1 &
tc=$!
if wait_for "$dir/trace_marker" && sleep 1 && kill -0 "$tc" 2>/dev/null; then
    read -r sent achieved < <("$out/marker-load" "$dir/trace_marker" "$rate" "$seconds" 2>/dev/null || echo "0 0")
    kill -INT "$tc" 2>/dev/null || true
fi
status=0
wait "$tc" || status=$?
kill -- "-$tc" 2>/dev/null || true
rm -f "$out"/tc.dat.*  # its per-CPU temporary files, left when it fails
if [ "$status" = 0 ] && [ -s "$out/tc.dat" ]; then
    recorded=$(trace-cmd report -i "$out/tc.dat" 2>/dev/null | grep -c ' print: ' || true)
    report trace-cmd "$rate" "$sent" "$achieved" "$recorded" "$((sent - recorded))" "$(cpu_seconds "$out/tc.time")"
else
    echo "trace-cmd      record did not run on this host (exit $status$([ "$status" = 139 ] && echo ', segfault')): $(grep -v '^$' "$out/tc.log" | tail -1)"
fi
[ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
fi

echo
awk '$6 == 0 && $4 + 0 > best[$1] + 0 { best[$1] = $4 }
     END { for (t in best) printf "highest lossless rate: %-14s %s events/s\n", t, best[t] }' "$out/results.txt"
echo "(buffer $buffer_kb KiB per CPU, $(nproc) CPUs, $seconds s per rate; load before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg))"
