# The built-in workloads of the test VM (busybox sh), run on the image mounted at /mnt/img.

# Reads every file of the mounted image once and prints md5sum lines (paths relative to the root).
workload_readall() { (cd /mnt/img && find . -type f | sort | sed 's|^\./||' | xargs md5sum); }

# The same files split over 4 readers running at once.
workload_parallel4() {
    (cd /mnt/img && find . -type f | sort | sed 's|^\./||') > /tmp/files
    i=0
    while [ $i -lt 4 ]; do
        (cd /mnt/img && awk -v k=$i 'NR % 4 == k' /tmp/files | xargs -r md5sum > /tmp/part.$i) &
        i=$((i + 1))
    done
    wait
    cat /tmp/part.* | sort -k2; rm -f /tmp/part.*
}

# Every file read once into /dev/null: the daemon's throughput, not md5sum's (for benchmarks).
workload_catall() { (cd /mnt/img && find . -type f | sort | xargs cat > /dev/null) && echo "read all"; }

# The same with 4 readers at once.
workload_parallel4cat() {
    (cd /mnt/img && find . -type f | sort) > /tmp/files
    i=0
    while [ $i -lt 4 ]; do
        (cd /mnt/img && awk -v k=$i 'NR % 4 == k' /tmp/files | xargs -r cat > /dev/null) &
        i=$((i + 1))
    done
    wait
    echo "read all"
}
