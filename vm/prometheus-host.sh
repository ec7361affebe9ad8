# Sourced by vm/fanotify-test (vm/monitor-test starts the same one itself): a real Prometheus on the host (Debian's package,
# 127.0.0.1 only) scraping the monitor in the VM every second through vm/run's --forward.
#   start_prometheus WORK_DIR    sets forward (the host port to give vm/run --forward FORWARD:9464),
#                                prom_port and prom_pid; stop_prometheus when done (the EXIT trap)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_prometheus() {
    local work=$1 n=0
    forward=$(free_port)
    prom_port=$(free_port)
    cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: ondemand
    static_configs:
      - targets: ["127.0.0.1:$forward"]
YML
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
        --web.listen-address="127.0.0.1:$prom_port" --log.level=warn > "$work/prometheus.log" 2>&1 &
    prom_pid=$!
    until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$prom_port/-/ready', timeout=1)" 2>/dev/null; do
        n=$((n + 1))
        [ $n -lt 100 ] && kill -0 $prom_pid 2> /dev/null || { echo "prometheus did not start:" >&2; cat "$work/prometheus.log" >&2; return 1; }
        sleep 0.2
    done
}

stop_prometheus() {
    [ -z "${prom_pid:-}" ] || { kill $prom_pid 2>/dev/null; wait $prom_pid 2>/dev/null || true; }
    prom_pid=
}
