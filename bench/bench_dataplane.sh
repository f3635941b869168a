#!/bin/sh
# privresd against unbound, answering the same private record from memory,
# in one run: dnsperf over UDP for each, QPS and the ratio (bench/README.md).
#   bench/bench_dataplane.sh [seconds per run, default 10] [workers, default: cores]
# Builds a Release privresd in build-release; installs dnsperf and the peers.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-10}
workers=${2:-$(nproc)}
"$src/scripts/setup-deps" --bench
build="$src/build-release"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd >/dev/null
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The same answer from both: web.azure.contoso.com A 10.10.2.5, TTL 300.
echo "web.azure.contoso.com A" >"$work/queries"
"$build/daemon/privresd" --workers "$workers" --quiet --ready-file "$work/ready.json" \
	--api-socket "$work/api.sock" &
pids="$pids $!"
i=0; until [ -s "$work/ready.json" ]; do i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
port=$(/usr/bin/python3 -c 'import json,sys; print([l["port"] for l in json.load(open(sys.argv[1]))["listeners"] if l["name"]=="hub-resolver/in"][0])' "$work/ready.json")

uport=$((port + 1000))
cat >"$work/unbound.conf" <<CONF
server:
	interface: 127.0.0.1@$uport
	num-threads: $workers
	so-reuseport: yes
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "$work"
	pidfile: "$work/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	access-control: 127.0.0.0/8 allow
	local-zone: "azure.contoso.com." static
	local-data: "web.azure.contoso.com. 300 IN A 10.10.2.5"
CONF
unbound -d -c "$work/unbound.conf" &
pids="$pids $!"
sleep 1
dig @127.0.0.1 -p "$uport" +short web.azure.contoso.com | grep -q 10.10.2.5 || { echo "unbound did not answer" >&2; exit 1; }
dig @127.0.0.1 -p "$port" +short web.azure.contoso.com | grep -q 10.10.2.5 || { echo "privresd did not answer" >&2; exit 1; }

run() { # name port
	dnsperf -s 127.0.0.1 -p "$2" -c 16 -q 200 -l "$seconds" -d "$work/queries" 2>&1 >"$work/$1.out" || true
	qps=$(awk '/Queries per second/ {print $4}' "$work/$1.out")
	lat=$(awk '/Average Latency/ {print $4}' "$work/$1.out")
	lost=$(awk '/Queries lost/ {print $3}' "$work/$1.out")
	printf '%-10s %12s qps  avg latency %s s  lost %s\n' "$1" "$qps" "$lat" "$lost"
	eval "qps_$1=$qps"
}
echo "private-zone answer, $workers workers, ${seconds}s each, $(nproc) cores shared with dnsperf"
run privresd "$port"
run unbound "$uport"
awk -v a="$qps_privresd" -v b="$qps_unbound" 'BEGIN { printf "ratio privresd/unbound: %.2f\n", a / b }'
