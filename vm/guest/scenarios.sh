# Runs in the test VM (busybox sh, from /init). Each line of /mnt/host/plan is one scenario:
#   NAME FSID WORKLOAD[:SECONDS] [@minimal|@quiet] [DAEMON-OPTION...]
# For each: a fresh cache directory and tracefs instance, the daemon with markers into that
# instance, mount, workload, umount, daemon stop (SIGTERM), then the trace and logs go to
# /mnt/host/out/NAME/. Every step that could block has a timeout.
. /mnt/host/guest-lib.sh
mkdir -p /tmp/blobs
cp $share/blobs/* /tmp/blobs/   # serve from RAM, not 9p: the figures are the daemon's, not 9p's
echo "guest: $(uname -r), $(nproc) cpus, blobs: $(ls /tmp/blobs | tr '\n' ' ')"

run_scenario() {
    name=$1 fsid=$2 workload=${3%%:*} limit=${3#*:}; shift 3
    [ "$limit" = "$workload" ] && limit=60   # WORKLOAD[:SECONDS]: the workload's time limit
    out=$share/out/$name inst=$tracing/instances/$name
    mkdir -p $out /cache/$name
    echo "== $name: fsid=$fsid workload=$workload daemon options: $*"
    new_instance $inst 4096
    dmesg -c > /dev/null
    rm -f /tmp/ready
    # @minimal: the benchmark's C baseline daemon; @quiet: ours without markers (as the baseline).
    case "$1" in
        @minimal) shift; $share/bin/minimal-daemon /cache/$name /tmp/blobs /tmp/ready > $out/daemon.log 2> $out/daemon.err & ;;
        @quiet) shift; $bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name \
            --log $out/daemon.log --ready-file /tmp/ready "$@" 2> $out/daemon.err & ;;
        *) $bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name \
            --marker-file $inst/trace_marker --log $out/daemon.log --ready-file /tmp/ready "$@" \
            2> $out/daemon.err & ;;
    esac
    pid=$!
    wait_ready /tmp/ready $pid || echo "daemon did not become ready: $(cat $out/daemon.err)"
    start=$(uptime_ms)
    timeout 20 mount -t erofs none -o fsid=$fsid /mnt/img 2> $out/mount.err
    echo $? > $out/mount.rc
    if [ "$(cat $out/mount.rc)" = 0 ]; then
        timeout $limit sh -c ". $share/workloads.sh; workload_$workload" > $out/md5.txt 2> $out/workload.err
        echo $? > $out/workload.rc
        echo $(( $(uptime_ms) - start )) > $out/workload.ms
        unmount /mnt/img
    fi
    stop_process $pid
    echo $? > $out/daemon.rc
    echo 0 > $inst/tracing_on
    cat $inst/trace > $out/trace.txt
    for c in $inst/per_cpu/cpu*; do echo "${c##*/}"; cat $c/stats; done > $out/ringbuffer-stats.txt
    dmesg > $out/dmesg.txt
    rm -rf /cache/$name   # the next scenario starts from a cold, roomy cache
    echo "== $name done: mount rc $(cat $out/mount.rc), daemon rc $(cat $out/daemon.rc)"
}

# The daemon's refusals on a real kernel: a cache dir on tmpfs, a second daemon (devnode busy), an
# fsid with no blob, an fsid that tries to name a path outside the source directory.
special_errors() {
    name=$1 out=$share/out/$1
    mkdir -p $out /cache/$name /tmp/tmpfs-cache
    echo "== $name: daemon refusals"
    $bin daemon --cache-dir /tmp/tmpfs-cache --source-dir /tmp/blobs 2> $out/tmpfs.err
    echo $? > $out/tmpfs.rc
    dmesg -c > /dev/null
    rm -f /tmp/ready
    $bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name --log $out/daemon.log \
        --ready-file /tmp/ready 2> $out/daemon.err &
    pid=$!
    wait_ready /tmp/ready $pid
    $bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs 2> $out/busy.err
    echo $? > $out/busy.rc
    timeout 20 mount -t erofs none -o fsid=missing /mnt/img 2> $out/missing.err
    echo $? > $out/missing.rc
    timeout 20 mount -t erofs none -o fsid=../blobs/small /mnt/img 2> $out/escape.err
    echo $? > $out/escape.rc
    timeout 20 mount -t erofs none -o fsid=.. /mnt/img 2> $out/dotdot.err
    echo $? > $out/dotdot.rc
    kill -TERM $pid; wait $pid
    echo $? > $out/daemon.rc
    dmesg > $out/dmesg.txt
    echo "== $name done"
}

# `ondemand-trace record` on a real kernel: it records the daemon serving a mount and a workload
# (the daemon's markers go into the recorder's instance) with --live lines; file and logs to
# OUT/NAME/. Plan: NAME - record [WORKLOAD [DAEMON-THREADS]] (default readall, 1 thread).
special_record() {
    name=$1 workload=${2:-readall} threads=${3:-1} out=$share/out/$1 inst=odt-$1
    mkdir -p $out /cache/$name
    echo "== $name: record ($workload, $threads daemon thread(s))"
    cat > /tmp/record-inner.sh <<INNER
. $share/guest-lib.sh
rm -f /tmp/ready
$bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name --threads $threads \\
    --marker-file $tracing/instances/$inst/trace_marker --log $out/daemon.log --ready-file /tmp/ready 2> $out/daemon.err &
pid=\$!
wait_ready /tmp/ready \$pid
timeout 20 mount -t erofs none -o fsid=small /mnt/img 2> $out/mount.err
echo \$? > $out/mount.rc
(. $share/workloads.sh; workload_$workload) > $out/md5.txt 2> $out/workload.err
unmount /mnt/img
kill -TERM \$pid; wait \$pid
INNER
    $bin record -o /tmp/record.dat --instance $inst --live --interval 250ms -- sh /tmp/record-inner.sh > $out/record.out 2> $out/record.err
    echo $? > $out/record.rc
    ls $tracing/instances > $out/instances-after.txt
    mv /tmp/record.dat $out/record.dat
    $bin doctor > $out/doctor.txt 2>&1
    echo $? > $out/doctor.rc
    rm -rf /cache/$name
    echo "== $name done: record rc $(cat $out/record.rc)"
}

# `ondemand-trace run`: daemon + recording + mount + built-in workload (verified byte for byte
# against the image's source tree) + report, in one command; then the same with a command.
special_run() {
    name=$1 out=$share/out/$1
    mkdir -p $out /cache/$name-seq /cache/$name-rnd /cache/$name-cmd
    echo "== $name: ondemand-trace run"
    timeout 60 $bin run --image /tmp/blobs/small --fsid small --cache-dir /cache/$name-seq --expect $share/trees/small \
        --threads 2 --readers 2 -o $out/seq.dat --report $out/seq.json --log $out/seq-daemon.log \
        --files --prefetch-list $out/seq.prefetch > $out/seq.files 2> $out/seq.err
    echo $? > $out/seq.rc
    timeout 60 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-rnd --expect $share/trees/small \
        --order random --block-size 8192 --readers 3 --fault delay=1ms..3ms,seed=5 \
        -o $out/rnd.dat --report $out/rnd.json --log $out/rnd-daemon.log 2> $out/rnd.err
    echo $? > $out/rnd.rc
    timeout 60 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-cmd -o $out/cmd.dat --report $out/cmd.json \
        --log $out/cmd-daemon.log -- sh -c 'md5sum hello.txt sub/12k.bin > /tmp/cmd-md5.txt; false' 2> $out/cmd.err
    echo $? > $out/cmd.rc
    cp /tmp/cmd-md5.txt $out/cmd-md5.txt
    # A known subset in a known order (against the image's order): the prefetch list is exactly it.
    mkdir -p /cache/$name-sub
    timeout 60 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-sub -o $out/sub.dat --report $out/sub.json \
        --prefetch-list $out/sub.prefetch -- sh -c 'cat sub/12k.bin > /dev/null && cat sub/2m.bin > /dev/null' 2> $out/sub.err
    echo $? > $out/sub.rc
    rm -rf /cache/$name-sub
    mkdir -p /cache/$name-die
    timeout 60 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-die --expect $share/trees/small \
        --fault exit,nth=5 -o $out/die.dat --report $out/die.json --log $out/die-daemon.log 2> $out/die.err
    echo $? > $out/die.rc
    # The regression preset. regset: repeated runs as the preset makes them (a warm-up, then
    # --repeat runs, each on a fresh cache subdirectory), 2 runs of 1 pass to check the document
    # quickly. Then baseline, current and 5 ms slower runs of the preset (12 passes) interleaved
    # (base1 cur1 slow1 base2 ...), so that the host's changing load falls on the three sets
    # alike; the host's `check` compares them as sets of 5 runs with the default limits. The last
    # slow run also checks itself as it ends (`run --baseline`) against base1: 1 vs 1 run.
    mkdir -p /cache/$name-regset /cache/$name-reg
    preset_started=$(uptime_ms)
    timeout 150 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-regset --preset regression --repeat 2 --passes 1 \
        -o /tmp/regset.dat --report $out/regset.json --log $out/regset-daemon.log > $out/regset.check 2> $out/regset.err
    echo $? > $out/regset.rc
    ls /cache/$name-regset > $out/regset.cache-left
    rm -rf /cache/$name-regset /tmp/regset*.dat
    for i in 1 2 3 4 5; do
        for set in base cur slow; do
            extra=""
            [ $set = slow ] && extra="--slowdown 5ms"
            [ $set$i = slow5 ] && extra="$extra --baseline $out/regbase1.json"
            timeout 60 $bin run --image /tmp/blobs/small --cache-dir /cache/$name-reg --preset regression --repeat 1 --warmup 0 \
                -o /tmp/reg.dat --report $out/reg$set$i.json --log $out/reg-daemon.log $extra > $out/reg$set$i.check 2> $out/reg$set$i.err
            echo $? > $out/reg$set$i.rc
            rm -rf /cache/$name-reg/* /tmp/reg.dat
        done
    done
    echo "preset runs (18): $(( ($(uptime_ms) - preset_started) / 1000 )) s"
    rm -rf /cache/$name-seq /cache/$name-rnd /cache/$name-cmd /cache/$name-die
    echo "== $name done: $(cat $out/seq.rc) $(cat $out/rnd.rc) $(cat $out/cmd.rc) $(cat $out/die.rc) $(cat $out/regset.rc) $(cat $out/regslow5.rc)"
}

# `run` with a bootstrap + data blob image (vm/make-image chunked, served as soak and soak-blob):
# first without the blob (the kernel refuses: its reason must be quoted), then ours serving it
# with --blob (4 readers, verified), the same in a domain over 2 passes, then our daemon as a
# separate process without markers (--daemon-command, standing in for nydusd); then bad input.
special_runblob() {
    name=$1 out=$share/out/$1
    img=/tmp/blobs/soak blob=/tmp/blobs/soak-blob
    mkdir -p $out /cache/$name-ref /cache/$name-emb /cache/$name-dom /cache/$name-ext
    echo "== $name: ondemand-trace run with a bootstrap + blob"
    timeout 60 $bin run --image $img --cache-dir /cache/$name-ref -o $out/ref.dat --report $out/ref.json 2> $out/ref.err
    echo $? > $out/ref.rc
    timeout 120 $bin run --image $img --blob $blob --cache-dir /cache/$name-emb --expect $share/trees/soak --readers 4 \
        --threads 2 -o $out/emb.dat --report $out/emb.json --log $out/emb-daemon.log 2> $out/emb.err
    echo $? > $out/emb.rc
    timeout 120 $bin run --image $img --blob $blob --domain dom1 --passes 2 --cache-dir /cache/$name-dom \
        --expect $share/trees/soak -o $out/dom.dat --report $out/dom.json --log $out/dom-daemon.log 2> $out/dom.err
    echo $? > $out/dom.rc
    timeout 120 $bin run --image $img --blob $blob --expect $share/trees/soak --readers 4 -o $out/ext.dat --report $out/ext.json \
        --daemon-command "exec $bin daemon --cache-dir /cache/$name-ext --source-dir /tmp/blobs --tag ext --threads 2 --log $out/ext-daemon.log" \
        2> $out/ext.err
    echo $? > $out/ext.rc
    # a bootstrap and two blobs (vm/make-image twoblobs), 4 readers
    mkdir -p /cache/$name-two
    timeout 120 $bin run --image /tmp/blobs/duo --blob /tmp/blobs/duo-blob --blob /tmp/blobs/duo-blob2 --cache-dir /cache/$name-two \
        --expect $share/trees/duo --readers 4 --threads 2 -o $out/two.dat --report $out/two.json --log $out/two-daemon.log \
        --log-requests 2> $out/two.err
    echo $? > $out/two.rc
    timeout 30 $bin run --image $img --blob /tmp/blobs/missing --cache-dir /cache/$name-ref 2> $out/missing.err
    echo $? > $out/missing.rc
    timeout 30 $bin run --image $img --blob $blob --daemon-command "exit 3" -o /tmp/x.dat --report /tmp/x.json 2> $out/exits.err
    echo $? > $out/exits.rc
    timeout 30 $bin run --image $img --blob $blob --daemon-command "exec sleep 20" --daemon-timeout 1s -o /tmp/x.dat \
        --report /tmp/x.json 2> $out/nobind.err
    echo $? > $out/nobind.rc
    grep -c erofs /proc/mounts > $out/mounts-left
    ls -d /tmp/ondemand-trace-run.* 2>/dev/null | wc -l > $out/mountpoints-left
    cat /proc/fs/fscache/caches > $out/caches.txt
    for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c "^sleep 20" > $out/sleepers-left
    rm -rf /cache/$name-*
    echo "== $name done: $(cat $out/ref.rc) $(cat $out/emb.rc) $(cat $out/dom.rc) $(cat $out/ext.rc) $(cat $out/two.rc) $(cat $out/missing.rc) $(cat $out/exits.rc) $(cat $out/nobind.rc)"
}

# Two images sharing a blob through one domain, mounted at once: soak and a copy of its
# bootstrap under another fsid (soakb), both with device=soak-blob and domain_id=shared. In the
# domain the blob is one cookie: the kernel opens it once for both mounts.
special_domain() {
    name=$1 out=$share/out/$1 inst=$tracing/instances/$1
    mkdir -p $out /cache/$name /mnt/img2
    echo "== $name: two images sharing a blob in one domain"
    cp /tmp/blobs/soak /tmp/blobs/soakb
    new_instance $inst 4096
    rm -f /tmp/ready
    $bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name --marker-file $inst/trace_marker \
        --log $out/daemon.log --ready-file /tmp/ready 2> $out/daemon.err &
    pid=$!
    wait_ready /tmp/ready $pid
    timeout 20 mount -t erofs none -o fsid=soak,domain_id=shared,device=soak-blob /mnt/img 2> $out/mount1.err
    echo $? > $out/mount1.rc
    timeout 20 mount -t erofs none -o fsid=soakb,domain_id=shared,device=soak-blob /mnt/img2 2> $out/mount2.err
    echo $? > $out/mount2.rc
    (cd /mnt/img && timeout 60 find . -type f | LC_ALL=C sort | sed 's|^\./||' | timeout 60 xargs md5sum) > $out/md5-1.txt 2> $out/workload.err
    (cd /mnt/img2 && timeout 60 find . -type f | LC_ALL=C sort | sed 's|^\./||' | timeout 60 xargs md5sum) > $out/md5-2.txt 2>> $out/workload.err
    unmount /mnt/img
    unmount /mnt/img2
    kill -TERM $pid; wait $pid
    echo $? > $out/daemon.rc
    echo 0 > $inst/tracing_on
    cat $inst/trace > $out/trace.txt
    rmdir $inst
    rm -rf /cache/$name /tmp/blobs/soakb
    echo "== $name done: mounts $(cat $out/mount1.rc) $(cat $out/mount2.rc), daemon $(cat $out/daemon.rc)"
}

# The gate's own measurement (vm/bench/gate): one warm-up, then ROUNDS rounds, each making
# PER-ROUND identical preset runs and one run at each slowdown, interleaved (identical, slowed...,
# identical), so that the host's changing load falls on every kind alike; each run its own
# report (1 run, no warm-up) from which the host draws sets.
#   NAME - gate ROUNDS PER-ROUND SLOWDOWN...
special_gate() {
    name=$1 rounds=$2 per=$3; shift 3
    out=$share/out/$name
    mkdir -p $out /cache/$name
    echo "== $name: $rounds rounds of $per identical preset runs and one at each of: $*"
    timeout 120 $bin run --image /tmp/blobs/small --cache-dir /cache/$name --preset regression --repeat 1 \
        -o /tmp/gate.dat --report /tmp/gate-warmup.json 2> $out/warmup.err
    echo "warm-up rc $?"
    rm -rf /cache/$name/* /tmp/gate*.dat
    r=1 n=1
    while [ $r -le $rounds ]; do
        half=$(( (per + 1) / 2 ))
        kinds=""
        k=1; while [ $k -le $half ]; do kinds="$kinds identical"; k=$((k + 1)); done
        kinds="$kinds $*"
        k=$((half + 1)); while [ $k -le $per ]; do kinds="$kinds identical"; k=$((k + 1)); done
        for kind in $kinds; do
            if [ $kind = identical ]; then extra="" file=identical-$n; n=$((n + 1)); else extra="--slowdown $kind" file=$kind-$r; fi
            timeout 120 $bin run --image /tmp/blobs/small --cache-dir /cache/$name --preset regression --repeat 1 --warmup 0 \
                $extra -o /tmp/gate.dat --report $out/$file.json 2> $out/$file.err
            rc=$?
            [ $rc = 0 ] || echo "$file: rc $rc: $(tail -2 $out/$file.err)"
            rm -rf /cache/$name/* /tmp/gate*.dat
        done
        echo "round $r done at $(cut -d' ' -f1 /proc/uptime) s"
        r=$((r + 1))
    done
    echo "== $name done"
}

# Failover: this shell holds /dev/cachefiles (fd 3) across daemons. The first daemon exits when
# it picks up READ #5; a second one adopts fd 3 with --restore, the kernel re-sends what was in
# flight (re-opening the object), and the reader finishes with every checksum right.
special_failover() {
    name=$1 out=$share/out/$1 inst=$tracing/instances/$1
    mkdir -p $out /cache/$name
    echo "== $name: daemon exit + restore"
    new_instance $inst -
    rm -f /tmp/ready /tmp/ready2
    exec 3<>/dev/cachefiles
    $bin daemon --devnode-fd 3 --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name --fault exit,nth=5 \
        --marker-file $inst/trace_marker --log $out/daemon1.log --ready-file /tmp/ready 2> $out/daemon1.err &
    pid=$!
    wait_ready /tmp/ready $pid
    # (busybox timeout leaves a watcher process for up to a second: keep fd 3 away from it)
    timeout 20 mount -t erofs none -o fsid=small /mnt/img 2> $out/mount.err 3<&-
    echo $? > $out/mount.rc
    (timeout 40 sh -c ". $share/workloads.sh; workload_readall" > $out/md5.txt 2> $out/workload.err; echo $? > $out/workload.rc) 3<&- &
    reader=$!
    wait $pid
    echo $? > $out/daemon1.rc
    $bin daemon --devnode-fd 3 --restore --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name \
        --marker-file $inst/trace_marker --log $out/daemon2.log --ready-file /tmp/ready2 2> $out/daemon2.err &
    pid=$!
    wait $reader
    unmount /mnt/img 3<&-
    kill -TERM $pid; wait $pid
    echo $? > $out/daemon2.rc
    exec 3<&-
    echo 0 > $inst/tracing_on
    cat $inst/trace > $out/trace.txt
    dmesg > $out/dmesg.txt
    rm -rf /cache/$name
    echo "== $name done: daemons $(cat $out/daemon1.rc) $(cat $out/daemon2.rc), reader $(cat $out/workload.rc)"
}

while read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    set -- $line
    if [ "$2" = - ] && [ -f $share/$3.sh ]; then n=$1 s=$3; shift 3; sh $share/$s.sh $n "$@"   # vm/guest/$3.sh NAME ARGS (the soak)
    elif [ "$2" = - ]; then name=$1 special=$3; shift 3; special_$special $name "$@"; else run_scenario "$@"; fi
done < $share/plan
