# The soak (vm/soak; a plan line `NAME - soak KEY=VALUE...`), run in the test VM by busybox sh:
# mount/read/umount cycles of a bootstrap + data blob image (vm/make-image LAYOUT chunked, served
# as IMG and IMG-blob, mounted with -o fsid=...,device=IMG-blob), 4 readers at once verifying
# every file's md5, for each --threads value. A reader still running after `limit` seconds is a
# hang: the daemon's in-flight dump (SIGUSR1) and the kernel stacks of the readers and the
# daemon's threads are kept, then the daemon is stopped (its pending requests fail) and the
# phase ends.
#   cycles=N        cycles per --threads value (default 20)
#   threads=1,2,4   the --threads values, one daemon phase each
#   limit=S         seconds the 4 readers of one cycle may take (default 60)
#   mode=fresh      one daemon per phase; each cycle mounts a new fsid (a new cache volume), so
#                   every cycle reads cold through the same long-running daemon
#   mode=same       each cycle: a new daemon on a fresh cache, the same fsid every time
#   prelude=K:N[:same]  first, N mounts (4 readers each) served by another daemon process, then
#                   stopped: K = minimal (the C daemon of vm/bench, if shipped) or quiet (ours,
#                   no logging): "after three mounts served by another daemon"; with :same they
#                   mount the fsid our first cycle mounts (mode=same: IMG), else IMG-preN
#   image=IMG       the chunked image's name (default soak)
#   plant=N         last, one cycle whose daemon never answers its Nth READ (--fault
#                   never-answer,nth=N; limit 5 s): a planted hang, which must be detected with
#                   its evidence (the proof that the detector works; vm/check-soak asserts it)
# Out: OUT/NAME/cycles.txt (one line per cycle: phase, cycle, result, ms), per phase the
# daemon log (--log-requests), per cycle md5.txt, and for a hang OUT/NAME/PHASE/cC/hang/.
. /mnt/host/guest-lib.sh
name=$1; shift
cycles=20 threads=1,2,4 limit=60 mode=fresh prelude= img=soak plant=
for kv in "$@"; do
    case $kv in
        cycles=*|threads=*|limit=*|mode=*|prelude=*|image=*|plant=*) eval "${kv%%=*}=\${kv#*=}" ;;
        *) echo "soak: unknown argument $kv"; exit 2 ;;
    esac
done
[ "$image" ] && img=$image
out=$share/out/$name
mkdir -p $out /tmp/soak-src
: > $out/cycles.txt
echo "== $name: soak cycles=$cycles threads=$threads limit=${limit}s mode=$mode prelude=${prelude:-none} plant=${plant:-none} image=$img"
ln -f /tmp/blobs/$img-blob /tmp/soak-src/$img-blob
# The expected checksums come from the host's tree (9p), not from the image.
(cd $share/trees/$img && find . -type f | sed 's|^\./||' | sort > /tmp/soak-files && xargs md5sum < /tmp/soak-files | sort -k2) > /tmp/soak-expected.md5
i=0
while [ $i -lt 4 ]; do awk -v k=$i 'NR % 4 == k' /tmp/soak-files > /tmp/soak-list.$i; i=$((i + 1)); done

# start_daemon KIND DIR TAG THREADS [OPTION...]: our daemon with --log-requests (KIND ours),
# without logging (quiet) or the C daemon (minimal); sets $dpid, waits until it is bound.
start_daemon() {
    kind=$1 ddir=$2 tag=$3 nthreads=$4
    shift 4
    mkdir -p $ddir /cache/$tag
    rm -f /tmp/soak-ready
    case $kind in
        minimal) $share/bin/minimal-daemon /cache/$tag /tmp/soak-src /tmp/soak-ready > $ddir/daemon.log 2> $ddir/daemon.err & ;;
        quiet) $bin daemon --cache-dir /cache/$tag --source-dir /tmp/soak-src --tag $tag --threads $nthreads \
            --log $ddir/daemon.log --ready-file /tmp/soak-ready 2> $ddir/daemon.err & ;;
        *) $bin daemon --cache-dir /cache/$tag --source-dir /tmp/soak-src --tag $tag --threads $nthreads \
            --log-requests --log $ddir/daemon.log --ready-file /tmp/soak-ready "$@" 2> $ddir/daemon.err & ;;
    esac
    dpid=$!
    wait_ready /tmp/soak-ready $dpid || echo "soak: daemon $kind did not become ready: $(cat $ddir/daemon.err)"
}

stop_daemon() {
    stop_process $dpid
    echo $? > $1/daemon.rc
}

# The kernel stacks of every task in D state and of the readers and daemons, with wchan.
kernel_stacks() {
    for p in /proc/[0-9]*; do
        [ -r $p/stat ] || continue
        state=$(awk '{print $3}' $p/stat 2>/dev/null)
        comm=$(cat $p/comm 2>/dev/null)
        case "$state:$comm" in D:*|*:md5sum|*:xargs|*:ondemand-trace|*:minimal-daemon) ;; *) continue ;; esac
        for task in $p/task/*; do
            echo "== pid ${p#/proc/} tid ${task##*/} comm $(cat $task/comm 2>/dev/null) state $(awk '{print $3}' $task/stat 2>/dev/null) wchan $(cat $task/wchan 2>/dev/null)"
            cat $task/stack 2>&1
        done
    done
}

# A hang: keep the daemon's in-flight dump, the stacks, fscache's view and the trace.
diagnose() {
    d=$1
    mkdir -p $d
    lines=$(wc -l < $pdir/daemon.log)
    kill -USR1 $dpid
    sleep 2
    tail -n +$((lines + 1)) $pdir/daemon.log | grep 'in-flight' > $d/in-flight.txt
    kernel_stacks > $d/stacks.txt
    if [ -w /proc/sysrq-trigger ]; then echo w > /proc/sysrq-trigger; else echo "no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off): the stacks come from /proc/PID/task/TID/stack" > $d/sysrq.txt; fi
    for f in /proc/fs/fscache/*; do echo "== $f"; cat $f; done > $d/fscache.txt 2>&1
    cat $tracing/instances/soak/trace > $d/trace.txt 2>/dev/null
    dmesg > $d/dmesg.txt
    echo "hang: $(grep -c . $d/in-flight.txt) in-flight line(s), $(grep -c '^== pid' $d/stacks.txt) task(s) with stacks"
}

# cycle PHASE-DIR LABEL FSID: mount, 4 readers, verify, umount; appends to cycles.txt. Returns 1
# on a hang (the daemon has been stopped then).
cycle() {
    pdir=$1 label=$2 fsid=$3 cdir=$1/$2
    mkdir -p $cdir
    ln -f /tmp/blobs/$img /tmp/soak-src/$fsid
    start=$(uptime_ms)
    timeout 20 mount -t erofs none -o fsid=$fsid,device=$img-blob /mnt/img 2> $cdir/mount.err
    rc=$?
    if [ $rc != 0 ]; then
        echo "$pdir $label mount-failed $(( $(uptime_ms) - start )) rc=$rc $(cat $cdir/mount.err)" | sed "s|$out/||" >> $out/cycles.txt
        rm -f /tmp/soak-src/$fsid
        return 0
    fi
    rm -f /tmp/soak-rc.* /tmp/soak-part.*
    i=0
    while [ $i -lt 4 ]; do
        (cd /mnt/img && xargs -r md5sum < /tmp/soak-list.$i > /tmp/soak-part.$i 2> $cdir/reader$i.err; echo $? > /tmp/soak-rc.$i) &
        i=$((i + 1))
    done
    n=0
    while [ $(ls /tmp/soak-rc.* 2>/dev/null | wc -l) -lt 4 ] && [ $n -lt $((limit * 10)) ]; do sleep 0.1; n=$((n + 1)); done
    ms=$(( $(uptime_ms) - start ))
    if [ $(ls /tmp/soak-rc.* 2>/dev/null | wc -l) -lt 4 ]; then
        echo "soak: $pdir $label: readers still running after ${limit}s"
        diagnose $cdir/hang
        stop_daemon $pdir   # the devnode closes: the kernel fails what is pending, the readers end
        n=0
        while [ $(ls /tmp/soak-rc.* 2>/dev/null | wc -l) -lt 4 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        unmount /mnt/img
        echo "$pdir $label hang $ms" | sed "s|$out/||" >> $out/cycles.txt
        rm -f /tmp/soak-src/$fsid
        return 1
    fi
    cat /tmp/soak-part.* | sort -k2 > $cdir/md5.txt
    cat /tmp/soak-rc.* | tr '\n' ' ' > $cdir/readers.rc
    if cmp -s $cdir/md5.txt /tmp/soak-expected.md5 && [ "$(cat $cdir/readers.rc)" = "0 0 0 0 " ]; then result=ok; else result=mismatch; fi
    timeout 10 umount /mnt/img || { umount -l /mnt/img; result="$result umount-failed"; }
    echo "$pdir $label $result $ms" | sed "s|$out/||" >> $out/cycles.txt
    rm -f /tmp/soak-src/$fsid
    return 0
}

# The whole phase's cachefiles events in their own instance (kept for a hang).
new_instance $tracing/instances/soak 2048
started=$(uptime_ms)

if [ -n "$prelude" ]; then
    kind=${prelude%%:*} count=${prelude#*:}
    prefsid=
    case $count in *:same) count=${count%:same}; [ $mode = same ] && prefsid=$img || prefsid=$img-t${threads%%,*}-c1 ;; esac
    [ $kind = minimal ] && [ ! -x $share/bin/minimal-daemon ] && kind=quiet
    pdir=$out/prelude
    start_daemon $kind $pdir $name-prelude 1
    k=1
    while [ $k -le $count ]; do cycle $pdir c$k ${prefsid:-$img-pre$k} || break; k=$((k + 1)); done
    stop_daemon $pdir
    rm -rf /cache/$name-prelude
fi

for t in $(echo $threads | tr ',' ' '); do
    pdir=$out/t$t
    echo 1 > $tracing/instances/soak/tracing_on
    echo > $tracing/instances/soak/trace
    if [ $mode = same ]; then
        c=1
        while [ $c -le $cycles ]; do
            start_daemon ours $pdir/d$c $name-t$t-c$c $t --warn-after 5s
            pdir=$pdir/d$c
            cycle $pdir c$c $img; hung=$?
            pdir=$out/t$t
            [ $hung = 0 ] && stop_daemon $pdir/d$c
            rm -rf /cache/$name-t$t-c$c
            c=$((c + 1))
        done
    else
        start_daemon ours $pdir $name-t$t $t --warn-after 5s
        c=1
        while [ $c -le $cycles ]; do cycle $pdir c$c $img-t$t-c$c || break; c=$((c + 1)); done
        [ $c -gt $cycles ] && stop_daemon $pdir
        rm -rf /cache/$name-t$t
    fi
done
if [ -n "$plant" ]; then
    pdir=$out/planted
    echo > $tracing/instances/soak/trace
    start_daemon ours $pdir $name-planted 2 --warn-after 1s --fault never-answer,nth=$plant
    keep=$limit limit=5
    cycle $pdir c1 $img-planted && stop_daemon $pdir
    limit=$keep
    rm -rf /cache/$name-planted
fi
echo 0 > $tracing/instances/soak/tracing_on
rmdir $tracing/instances/soak
echo $(( $(uptime_ms) - started )) > $out/soak.ms
echo "== $name done: $(grep -c ' ok ' $out/cycles.txt) ok, $(grep -c ' hang ' $out/cycles.txt) hang(s), $(grep -vc ' ok ' $out/cycles.txt) not ok, in $(cat $out/soak.ms) ms"
