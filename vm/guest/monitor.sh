# `monitor` on a real kernel (vm/monitor-test). Plan line: NAME - monitor IMAGE
# A bootstrap + data blob image (IMAGE, IMAGE-blob) served by our daemon as a separate process
# (no markers: the monitor names blobs from the fscache tables, as for nydusd), while
# `ondemand-trace monitor` runs the whole time and `ondemand-trace record` records the same span:
#   1. daemon A, mount, 4 readers (a scrape while they read), umount;
#   2. daemon A stops, daemon B binds a new cache (the monitor keeps going), mount, read, umount;
#   3. daemon C with --fault never-answer,nth=3: a reader hangs; after --hung-after the scrape
#      shows it in flight and the monitor logs it; daemon C is killed: nothing in flight again.
# Then the host's Prometheus (scraping through the qemu forward) is given time to see the end
# state: the guest writes OUT/workload-done and waits for /mnt/host/prom-done. Then SIGTERM.
. /mnt/host/guest-lib.sh
name=$1 image=$2
out=$share/out/$name
mkdir -p $out /tmp/mon-traces
url=http://127.0.0.1:9464/metrics

scrape() { timeout 5 wget -q -O "$out/$1.prom" $url; echo $? > "$out/$1.rc"; }
gauge() {  # FILE NAME{LABELS}: the value of one sample
    grep "^$2 " "$out/$1.prom" | cut -d' ' -f2
}

echo "== $name: monitor"
$bin monitor --listen 0.0.0.0:9464 --hung-after 2s -o /tmp/mon-traces --rotate-size 1MiB --keep 3 \
    --instance odt-monitor 2> $out/monitor.err &
mpid=$!
n=0
until timeout 5 wget -q -O /dev/null $url 2>/dev/null || [ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
cpu_ticks() { set -- $(cat /proc/$mpid/stat); echo $(( ${14} + ${15} )); }   # utime + stime
# Idle: 5 s with nothing to record (the cookie poll every 20 ms, the reader's poll every 100 ms).
t0=$(cpu_ticks) m0=$(uptime_ms)
sleep 5
echo "idle $(( $(cpu_ticks) - t0 )) $(( $(uptime_ms) - m0 ))" > $out/cpu.txt
t0=$(cpu_ticks) m0=$(uptime_ms)

# Everything the daemons do happens inside the recording's command.
cat > /tmp/monitor-inner.sh <<INNER
. $share/guest-lib.sh
daemon() {  # ROUND [OPTION...]: our daemon as a separate process, without markers
    r=\$1; shift
    mkdir -p /cache/$name-\$r
    rm -f /tmp/ready
    $bin daemon --cache-dir /cache/$name-\$r --source-dir /tmp/blobs --tag $name-\$r --threads 2 \
        --log $out/daemon-\$r.log --ready-file /tmp/ready "\$@" 2> $out/daemon-\$r.err &
    dpid=\$!
    wait_ready /tmp/ready \$dpid
}
stop_daemon() { kill -TERM \$dpid; wait \$dpid; }
mount_image() { timeout 20 mount -t erofs none -o fsid=$image,device=$image-blob /mnt/img 2>> $out/mount.err; echo \$? >> $out/mount.rc; }

daemon a
mount_image
(. $share/workloads.sh; workload_parallel4) > $out/md5-a.txt 2> $out/workload-a.err &
wpid=\$!
sleep 0.5
timeout 5 wget -q -O $out/during.prom $url; echo \$? > $out/during.rc
wait \$wpid
unmount /mnt/img
sleep 0.5
stop_daemon

daemon b
mount_image
(. $share/workloads.sh; workload_readall) > $out/md5-b.txt 2> $out/workload-b.err
unmount /mnt/img
sleep 0.5
stop_daemon

daemon c --fault never-answer,nth=3
mount_image
cat /mnt/img/c99/two-chunks.bin > /dev/null 2> $out/hung-reader.err &
rpid=\$!
sleep 4
timeout 5 wget -q -O $out/hung.prom $url; echo \$? > $out/hung.rc
alive \$rpid && echo blocked > $out/hung-reader.state
kill -KILL \$dpid; wait \$dpid
wait \$rpid; echo \$? > $out/hung-reader.rc
unmount /mnt/img
sleep 1
INNER
$bin record -o /tmp/monitor.dat --instance odt-monitor-rec -- sh /tmp/monitor-inner.sh > $out/record.out 2> $out/record.err
echo $? > $out/record.rc
echo "workload $(( $(cpu_ticks) - t0 )) $(( $(uptime_ms) - m0 ))" >> $out/cpu.txt
getconf CLK_TCK > $out/clk_tck 2>/dev/null || echo 100 > $out/clk_tck
mv /tmp/monitor.dat $out/record.dat

# The monitor has settled everything: in flight 0 again.
n=0
while :; do
    scrape after
    [ "$(gauge after 'ondemand_requests_in_flight{op="read",backend="cachefiles"}')" = 0 ] && [ "$(gauge after 'ondemand_requests_in_flight{op="open",backend="cachefiles"}')" = 0 ] && break
    [ $n -ge 50 ] && break
    sleep 0.2; n=$((n + 1))
done
timeout 5 wget -q --header 'Accept: application/openmetrics-text; version=1.0.0' -O $out/after.om $url; echo $? > $out/after-om.rc
echo done > $out/workload-done
n=0
while [ ! -e $share/prom-done ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -e $share/prom-done ] && echo yes > $out/prom-seen
cat /proc/$mpid/status > $out/monitor-status.txt
kill -TERM $mpid
wait $mpid
echo $? > $out/monitor.rc
ls $tracing/instances > $out/instances-after.txt
ls /tmp/mon-traces > $out/rotated.txt
for f in /tmp/mon-traces/*.dat; do [ -e "$f" ] && cp "$f" $out/; done
rm -rf /tmp/mon-traces /cache/$name-*
echo "== $name done: monitor rc $(cat $out/monitor.rc), record rc $(cat $out/record.rc)"
