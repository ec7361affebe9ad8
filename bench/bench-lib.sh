# Shared by bench/*-bench.sh: sourced after `cd` to the repository, with BENCH_DIR and RUNS set
# and BENCH the script's name. Checks the tools, builds the release binaries, defines measure.
mkdir -p "$BENCH_DIR"
for tool in gcc python3 trace-cmd pkg-config; do
    command -v "$tool" >/dev/null || { echo "$BENCH: needs $tool (scripts/install-deps installs trace-cmd, pkg-config)"; exit 2; }
done

swift build -c release --product ondemand-trace >/dev/null
swift build -c release --product trace-dat-gen >/dev/null
ODT=$(swift build -c release --show-bin-path)/ondemand-trace
GENERATE=$(swift build -c release --show-bin-path)/trace-dat-gen
gcc -O2 -o "$BENCH_DIR/iterate-records" bench/iterate-records.c $(pkg-config --cflags --libs libtracecmd)

# measure NAME CMD...: "NAME best-wall-seconds its-CPU-seconds largest-peak-RSS-KiB" over RUNS runs.
measure() {
    local name=$1; shift
    local best="" rss=0 cpu=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
            echo "$name failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
        local wall kib
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$BENCH_DIR/time.txt")
        kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$BENCH_DIR/time.txt")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall
            cpu=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { print u + s }' "$BENCH_DIR/time.txt")
        fi
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    echo "$name $best $cpu $rss"
}

# take NAME CMD...: one run of CMD folded into NAME's best wall time, best CPU time (user +
# system) and largest peak RSS: wall and CPU each at their best, since other load on the machine
# stretches the wall time of one run and the CPU time of another. Take the commands to compare in
# turn, RUNS times, so that load falls on each of them alike; `taken NAME` prints
# "NAME wall CPU KiB".
declare -A best_wall best_cpu peak_rss
take() {
    local name=$1; shift
    local w c k
    read -r _ w c k <<<"$(RUNS=1 measure "$name" "$@")"
    if [ -z "${best_wall[$name]:-}" ] || awk -v a="$w" -v b="${best_wall[$name]}" 'BEGIN { exit !(a < b) }'; then best_wall[$name]=$w; fi
    if [ -z "${best_cpu[$name]:-}" ] || awk -v a="$c" -v b="${best_cpu[$name]}" 'BEGIN { exit !(a < b) }'; then best_cpu[$name]=$c; fi
    if [ -z "${peak_rss[$name]:-}" ] || [ "$k" -gt "${peak_rss[$name]}" ]; then peak_rss[$name]=$k; fi
}
taken() { echo "$1 ${best_wall[$1]} ${best_cpu[$1]} ${peak_rss[$1]}"; }
