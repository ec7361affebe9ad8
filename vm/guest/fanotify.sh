# Runs in the 7.3 test VM (busybox sh, from /init, via vm/run --guest fanotify.sh): on-demand
# loading through fanotify pre-content events, recorded. Each line of /mnt/host/plan is a scenario:
#   NAME IMAGE WORKLOAD[:SECONDS] [@shell] [DAEMON-OPTION...]   (DAEMON-OPTION: see fanotify-daemon.c)
# For each: the image made sparse on the ext4 disk (/cache), bin/fanotify-daemon marking it and
# filling it from the full image in RAM, then under `ondemand-trace record --backend fanotify`:
# mount(2) file-backed (bin/erofs-mount), the workload, umount. With --never the recording ends
# while that reader is still blocked; then the reader (the never line's pid) is killed, the daemon
# stopped and the image unmounted.
# @shell: the kprobe events are made here instead (group ondemand_fan, the lines of
# docs/fanotify.md), recorded with `record --events ondemand_fan,fsnotify:fsnotify`, a second
# tracefs instance (txt, mono clock) keeping a text copy of the same events; removed after.
# Results in /mnt/host/out/NAME/: trace.dat, daemon.log, md5.txt, dmesg.txt, *.rc (@shell: trace.txt)
# `NAME - run` and `NAME - gate [RUN-OPTION...]`: `ondemand-trace run --backend fanotify` itself
# (special_run: verified runs, faults, --daemon-command, bad input; special_gate: the regression
# preset and gate), results in /mnt/host/out/NAME/.
. /mnt/host/guest-lib.sh
mkdir -p /tmp/blobs /tmp/fan
cp $share/blobs/* /tmp/blobs/   # the full images, in RAM: the daemon's source
echo "guest: $(uname -r), $(nproc) cpus, images: $(ls /tmp/blobs | tr '\n' ' ')"

# The probes of ../shared/testkernel-7.3/README.md (the same lines `record --backend fanotify`
# creates under its own group): range at entry, result at return, the kernel event's address
# queued (reader), picked up and answered (daemon), freed.
probes='p:ondemand_fan/fan_pre_content fsnotify_pre_content pos=+0(%si):s64 count=%dx:u64
r:ondemand_fan/fan_pre_content_ret fsnotify_pre_content ret=$retval:s32
p:ondemand_fan/fan_insert fsnotify_insert_event ev=%si:x64
r:ondemand_fan/fan_pickup fsnotify_remove_first_event ev=$retval:x64
p:ondemand_fan/fan_answer finish_permission_event ev=%si:x64 resp=%dx:x32
p:ondemand_fan/fan_destroy fsnotify_destroy_event ev=%si:x64'
probe_names="fan_pre_content fan_pre_content_ret fan_insert fan_pickup fan_answer fan_destroy"

add_probes() {
    out=$1
    echo "$probes" | while read -r line; do
        echo "$line" >> $tracing/kprobe_events || echo "kprobe refused: $line"
    done
    mkdir -p $out/formats/ondemand_fan $out/formats/fsnotify/fsnotify
    for p in $probe_names; do
        mkdir -p $out/formats/ondemand_fan/$p
        cat $tracing/events/ondemand_fan/$p/format > $out/formats/ondemand_fan/$p/format
    done
    cat $tracing/events/fsnotify/fsnotify/format > $out/formats/fsnotify/fsnotify/format
    cat $tracing/kprobe_events > $out/kprobe_events.txt
}

remove_probes() {
    out=$1
    # nmissed of the return probes: more than maxactive readers blocked in the hook at once
    cat $tracing/kprobe_profile > $out/kprobe_profile.txt
    echo 0 > $tracing/events/ondemand_fan/enable
    for p in $probe_names; do echo "-:ondemand_fan/$p" >> $tracing/kprobe_events; done
    cat $tracing/kprobe_events > $out/kprobe_events-after.txt
}

run_scenario() {
    name=$1 image=$2 workload=${3%%:*} limit=${3#*:}; shift 3
    [ "$limit" = "$workload" ] && limit=60   # WORKLOAD[:SECONDS]: the workload's time limit
    out=$share/out/$name log=/tmp/fan/$name.log sparse=/cache/$name.sparse
    never=0 shell=0
    case " $* " in *" --never "*) never=1 ;; esac
    [ "$1" = @shell ] && { shell=1; shift; }
    mkdir -p $out
    echo "== $name: image=$image workload=$workload daemon options: $*"
    # The image file, sparse: every byte comes from the daemon.
    rm -f $sparse && truncate -s $(stat -c %s /tmp/blobs/$image) $sparse
    md5sum < /tmp/blobs/$image | cut -d' ' -f1 > $out/image.md5
    stat -c 'dev=%D ino=%i size=%s' $sparse > $out/sparse.stat
    inst=$tracing/instances/txt
    if [ $shell = 1 ]; then
        add_probes $out
        # The text twin: a second instance with the same events, mono clock.
        new_instance $inst 4096 ondemand_fan fsnotify/fsnotify
        record_args="--events ondemand_fan,fsnotify:fsnotify"
    else
        record_args="--backend fanotify"
    fi
    dmesg -c > /dev/null
    rm -f /tmp/ready /tmp/workload.pid $log
    $share/bin/fanotify-daemon "$@" $sparse /tmp/blobs/$image /tmp/ready $log 2> $out/daemon.err &
    dpid=$!
    wait_ready /tmp/ready $dpid 100 || echo "daemon did not become ready: $(cat $out/daemon.err)"
    # What runs under `record`: mount (its superblock reads are events too), the workload, umount.
    # --never: the recording ends once the held event is logged (plus a moment), the reader blocked.
    cat > /tmp/inner.sh <<INNER
timeout 20 $share/bin/erofs-mount mount $sparse /mnt/img 2> $out/mount.err
echo \$? > $out/mount.rc
[ "\$(cat $out/mount.rc)" = 0 ] || exit 1
start=\$(cut -d' ' -f1 /proc/uptime)
( timeout $limit sh -c ". $share/workloads.sh; workload_$workload" > $out/md5.txt 2> $out/workload.err
  echo \$? > $out/workload.rc ) &
echo \$! > /tmp/workload.pid
if [ $never = 1 ]; then
    n=0
    while ! grep -q 'response=never' $log && [ \$n -lt 200 ]; do sleep 0.1; n=\$((n + 1)); done
    sleep 1
    grep -q 'response=never' $log && echo held > $out/never.state || echo "no event held" > $out/never.state
    exit 0
fi
wait
echo "\$start \$(cut -d' ' -f1 /proc/uptime)" > $out/workload.uptime
timeout 10 $share/bin/erofs-mount umount /mnt/img 2> $out/umount.err
INNER
    timeout $((limit + 40)) $bin record $record_args -o /tmp/fan/$name.dat -- sh /tmp/inner.sh \
        > $out/record.out 2> $out/record.err
    echo $? > $out/record.rc
    [ $shell = 0 ] || echo 0 > $inst/tracing_on
    if [ $never = 1 ]; then
        # The held reader: still blocked in the hook (state D or S) until killed.
        rpid=$(sed -n 's/.*pid=\([0-9]*\) .*response=never.*/\1/p' $log | head -1)
        if [ -n "$rpid" ]; then
            echo "reader $rpid: $(grep -E '^(Name|State):' /proc/$rpid/status 2>/dev/null | tr '\n\t' '  ')" > $out/never-reader.txt
            cat /proc/$rpid/stack > $out/never-reader.stack 2>/dev/null
            kill -KILL $rpid 2>/dev/null
        fi
        n=0
        while [ -e /proc/$(cat /tmp/workload.pid 2>/dev/null || echo 0) ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
        timeout 10 $share/bin/erofs-mount umount /mnt/img 2> $out/umount.err
    fi
    grep -q ' /mnt/img ' /proc/mounts && { kill -TERM $dpid 2>/dev/null; timeout 10 $share/bin/erofs-mount umount /mnt/img --lazy; }
    stop_process $dpid
    echo $? > $out/daemon.rc
    if [ $shell = 1 ]; then
        cat $inst/trace > $out/trace.txt
        for c in $inst/per_cpu/cpu*; do echo "${c##*/}"; cat $c/stats; done > $out/ringbuffer-stats.txt
        rmdir $inst
        remove_probes $out
    fi
    # What record leaves behind: no instance, no kprobe event (its group is removed at exit).
    ls $tracing/instances > $out/instances-after.txt
    cat $tracing/kprobe_events > $out/kprobes-after.txt
    mv /tmp/fan/$name.dat $out/trace.dat 2>/dev/null
    cp $log $out/daemon.log
    dmesg > $out/dmesg.txt
    grep ' /mnt/img ' /proc/mounts > $out/mounts-after.txt
    rm -f $sparse $log
    echo "== $name done: mount rc $(cat $out/mount.rc 2>/dev/null), record rc $(cat $out/record.rc), workload rc $(cat $out/workload.rc 2>/dev/null), daemon rc $(cat $out/daemon.rc), events $(grep -c '^event' $out/daemon.log)"
}

# `ondemand-trace run --backend fanotify` (the plan's `NAME - run` line): one run of IMAGE with
# the run options given; results $out/N.{dat,json,out,err,rc}, the daemon's log $out/N.log.
runfan() {
    n=$1 img=$2; shift 2
    started=$(uptime_ms)
    timeout 120 $bin run --backend fanotify --image /tmp/blobs/$img --cache-dir /cache/runs -o $out/$n.dat --report $out/$n.json \
        "$@" > $out/$n.out 2> $out/$n.err
    echo $? > $out/$n.rc
    echo "   run $n: rc $(cat $out/$n.rc), $(( $(uptime_ms) - started )) ms"
}

# What a run must not leave: an erofs mount, a mount point, a file or a fanotify mark in the cache
# directory, a daemon process.
leftovers() {
    grep -c ' erofs ' /proc/mounts > $out/$1-mounts-left
    ls -d /tmp/ondemand-trace-run.* 2>/dev/null | wc -l > $out/$1-mountpoints-left
    ls -A /cache/runs > $out/$1-cache-left
    cat /proc/[0-9]*/fdinfo/* 2>/dev/null | grep -c '^fanotify ino' > $out/$1-marks-left
    # (anchored: busybox timeout's watcher, which outlives a run by up to a second, has the
    # daemon command in its arguments)
    for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\0' ' '; echo; done \
        | grep -E '^(sleep 20|[^ ]*/fanotify-daemon |[^ ]*/ondemand-trace daemon )' > $out/$1-daemons.txt
    grep -c . $out/$1-daemons.txt > $out/$1-daemons-left
}

# The measured runs: the plain and the lz4 image with 1 and 4 readers, every byte verified and
# every request logged by the daemon (--log-requests); the faults (delay, deny=EIO, never-answer
# with a workload time limit); ours as a separate process (--daemon-command), then the C daemon
# standing in for a foreign one; then bad input (exit 2 each).
special_run() {
    name=$1 out=$share/out/$1 t=$share/trees
    mkdir -p $out /cache/runs
    echo "== $name: ondemand-trace run --backend fanotify"
    runfan p1 small --expect $t/small --log-requests --log $out/p1.log
    runfan p4 small --expect $t/small --readers 4 --threads 2 --log-requests --log $out/p4.log
    runfan z1 zsmall --expect $t/zsmall --log-requests --log $out/z1.log
    runfan z4 zsmall --expect $t/zsmall --readers 4 --threads 2 --log-requests --log $out/z4.log
    runfan delay small --expect $t/small --fault delay=10ms,every=10 --log-requests --log $out/delay.log
    runfan deny small --expect $t/small --fault deny=EIO,every=25 --log-requests --log $out/deny.log
    runfan never small --expect $t/small --fault never-answer,nth=20 --workload-timeout 5s --log-requests --log $out/never.log
    leftovers faults
    # Bootstrap + blobs (vm/make-image chunked: soak + soak-blob; twoblobs: duo + duo-blob + duo-blob2):
    # each file sparse in the cache dir, marked, mounted with device=PATH per blob.
    runfan c1 soak --blob /tmp/blobs/soak-blob --expect $t/soak --log-requests --log $out/c1.log
    runfan c4 soak --blob /tmp/blobs/soak-blob --expect $t/soak --readers 4 --threads 2 --log-requests --log $out/c4.log
    runfan d4 duo --blob /tmp/blobs/duo-blob --blob /tmp/blobs/duo-blob2 --expect $t/duo --readers 4 --threads 2 \
        --fault delay=2ms,every=7 --log-requests --log $out/d4.log
    runfan noblob soak
    leftovers chunked
    runfan cmd small --expect $t/small --readers 4 --daemon-command \
        "$bin daemon --fanotify --image-file \"\$ONDEMAND_IMAGE_FILE\" --source \"\$ONDEMAND_SOURCE_IMAGE\" --threads 2 --log-requests --log $out/cmd.log"
    runfan cdaemon zsmall --expect $t/zsmall --readers 4 --daemon-command \
        "$share/bin/fanotify-daemon --threads 2 \"\$ONDEMAND_IMAGE_FILE\" \"\$ONDEMAND_SOURCE_IMAGE\" /tmp/cdaemon.ready $out/cdaemon.log"
    runfan cmdblob soak --blob /tmp/blobs/soak-blob --expect $t/soak --readers 4 --daemon-command \
        "$bin daemon --fanotify --image-file \"\$ONDEMAND_IMAGE_FILE\" --source \"\$ONDEMAND_SOURCE_IMAGE\" --blob-file \"\$ONDEMAND_BLOB_FILES\" --blob-source \"\$ONDEMAND_BLOB_SOURCES\" --threads 2 --log-requests --log $out/cmdblob.log"
    leftovers foreign
    mkdir -p /tmp/tmpfs-cache   # /tmp is tmpfs
    timeout 60 $bin run --backend fanotify --image /tmp/blobs/small --cache-dir /tmp/tmpfs-cache -o /tmp/x.dat --report /tmp/x.json \
        > $out/tmpfs.out 2> $out/tmpfs.err
    echo $? > $out/tmpfs.rc
    ls -A /tmp/tmpfs-cache > $out/tmpfs-cache-left
    runfan exits small --daemon-command "exit 3"
    runfan nomark small --daemon-command "exec sleep 20" --daemon-timeout 2s
    leftovers bad
    rm -rf /cache/runs /tmp/tmpfs-cache /tmp/x.dat /tmp/x.json
    echo "== $name done: $(for n in p1 p4 z1 z4 delay deny never c1 c4 d4 noblob cmd cmdblob cdaemon tmpfs exits nomark; do printf '%s=%s ' $n $(cat $out/$n.rc); done)"
}

# The regression preset and gate: a baseline set, an identical current set, and a set slowed by
# 5 ms per request that checks itself against the baseline (`run --baseline`, exit 1 expected).
# The host compares base and cur with `check` (no false alarm expected). GATE: the runs' options
# beside the preset (fewer passes than the preset's 12 to keep the VM time small).
special_gate() {
    name=$1 out=$share/out/$1
    shift 3
    mkdir -p $out /cache/gate
    echo "== $name: --preset regression $*"
    for set in base cur slow; do
        extra=
        [ $set = slow ] && extra="--slowdown 5ms --baseline $out/base.json"
        started=$(uptime_ms)
        timeout 400 $bin run --backend fanotify --image /tmp/blobs/small --cache-dir /cache/gate --preset regression "$@" $extra \
            -o /tmp/gate.dat --report $out/$set.json --log $out/$set.log > $out/$set.check 2> $out/$set.err
        echo $? > $out/$set.rc
        echo "   $set: rc $(cat $out/$set.rc), $(( $(uptime_ms) - started )) ms"
        rm -f /tmp/gate*.dat
    done
    ls -A /cache/gate > $out/cache-left
    rm -rf /cache/gate
    echo "== $name done: base $(cat $out/base.rc) cur $(cat $out/cur.rc) slow $(cat $out/slow.rc)"
}

# `monitor` on the fanotify path (the plan's `NAME - monitor`; vm/fanotify-test forwards the guest's
# port 9464 to a Prometheus on the host, vm/prometheus-watch): monitor runs the whole time while
# our daemon, a separate process marking a sparse copy of the small image, serves 4 readers
# (round a); then a daemon with --fault never-answer,nth=3 holds one reader in the hook past
# --hung-after (round b: scraped while it hangs) until that daemon is killed, whose group's end
# lets the reader go. The guest scrapes after each round; the host's Prometheus is given time to
# see the end state (OUT/workload-done, /mnt/host/prom-done), then monitor gets SIGTERM.
special_monitor() {
    name=$1 out=$share/out/$1
    url=http://127.0.0.1:9464/metrics sparse=/cache/mon.img
    mkdir -p $out
    echo "== $name: monitor on the fanotify path"
    $bin monitor --listen 0.0.0.0:9464 --hung-after 2s 2> $out/monitor.err &
    mpid=$!
    # Ready once its recording runs (its log says so): /metrics answers before that.
    n=0
    until grep -q '^monitor: serving' $out/monitor.err || [ $n -ge 600 ]; do sleep 0.1; n=$((n + 1)); done
    for round in a b; do
        rm -f $sparse /tmp/ready && truncate -s $(stat -c %s /tmp/blobs/small) $sparse
        faults=
        [ $round = b ] && faults="--fault never-answer,nth=3"
        $bin daemon --fanotify --image-file $sparse --source /tmp/blobs/small --threads 2 --log-requests $faults \
            --log $out/daemon-$round.log --ready-file /tmp/ready 2> $out/daemon-$round.err &
        dpid=$!
        n=0
        while [ ! -e /tmp/ready ] && kill -0 $dpid 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        timeout 20 $share/bin/erofs-mount mount $sparse /mnt/img 2>> $out/mount.err
        echo $? >> $out/mount.rc
        if [ $round = a ]; then
            (. $share/workloads.sh; workload_parallel4) > $out/md5-a.txt 2> $out/workload-a.err
            kill -TERM $dpid; wait $dpid
        else
            cat /mnt/img/sub/2m.bin > /dev/null 2> $out/hung-reader.err &
            rpid=$!
            sleep 4
            timeout 5 wget -q -O $out/hung.prom $url; echo $? > $out/hung.rc
            kill -0 $rpid 2>/dev/null && echo blocked > $out/hung-reader.state
            sleep 2   # the host's Prometheus scrapes it hanging (every second)
            kill -KILL $dpid; wait $dpid
            wait $rpid; echo $? > $out/hung-reader.rc
        fi
        timeout 10 $share/bin/erofs-mount umount /mnt/img 2>> $out/umount.err || timeout 10 $share/bin/erofs-mount umount /mnt/img --lazy
        n=0   # settled: nothing in flight
        while :; do
            timeout 5 wget -q -O $out/after.prom $url
            grep -Eq '^ondemand_requests_in_flight\{op="read",backend="fanotify"\} 0(\.0)?$' $out/after.prom && break
            [ $n -ge 50 ] && break
            sleep 0.2; n=$((n + 1))
        done
        cp $out/after.prom $out/after-$round.prom
    done
    echo done > $out/workload-done
    n=0
    while [ ! -e $share/prom-done ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    [ -e $share/prom-done ] && echo yes > $out/prom-seen
    kill -TERM $mpid
    wait $mpid
    echo $? > $out/monitor.rc
    ls $tracing/instances > $out/instances-after.txt
    cat $tracing/kprobe_events > $out/kprobes-after.txt
    cat /proc/[0-9]*/fdinfo/* 2>/dev/null | grep -c '^fanotify ino' > $out/marks-left
    grep -c ' erofs ' /proc/mounts > $out/mounts-left
    rm -f $sparse
    echo "== $name done: monitor rc $(cat $out/monitor.rc), mounts $(cat $out/mount.rc | tr '\n' ' ')"
}

while read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    set -- $line
    if [ "$2" = - ]; then
        special_$3 "$@" < /dev/null
    else
        run_scenario "$@" < /dev/null   # nothing in it reads the plan
    fi
done < $share/plan
$bin doctor > $share/out/doctor.txt 2>&1
echo $? > $share/out/doctor.rc
ls $tracing/instances > $share/out/instances-after.txt
grep -c . $tracing/kprobe_events > $share/out/kprobes-after.count
