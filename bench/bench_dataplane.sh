#!/bin/sh
# The private-zone answer at the ceiling: privresd against knot-resolver (one
# kresd per worker, hints) and unbound (local-data) answering the same record
# from memory, and a recvmmsg/sendmmsg echo (bench/echo.c) as the floor of what
# the kernel costs per packet, all in one run (bench/README.md):
# - saturation: dnsperf -c 4 -q 200 against each in turn, the servers taken in
#   alternation for several rounds, the median QPS of each and the ratios;
# - CPU per answer at a fixed 40,000 QPS (dnsperf -Q): the servers' user+system
#   time over the run (from /proc) divided by the answers dnsperf received.
#   bench/bench_dataplane.sh [seconds per run, default 10] [workers, default: cores]
#                            [rounds, default 2]
# Builds a Release privresd in $PRIVRES_BENCH_BUILD (default build-release);
# installs dnsperf and the peers. PRIVRES_BENCH_BASELINE=/path/to/privresd adds
# another privresd (say, main's) to the rounds as "baseline", to measure a
# change before and after in the same conditions.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-10}
workers=${2:-$(nproc)}
rounds=${3:-2}
"$src/scripts/setup-deps" --bench
build=${PRIVRES_BENCH_BUILD:-$src/build-release}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd bench_echo >/dev/null
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
answers() { # port: the server answers the record
	i=0; until dig @127.0.0.1 -p "$1" +short +tries=1 +time=1 web.azure.contoso.com 2>/dev/null |
		grep -q 10.10.2.5; do
		i=$((i + 1)); [ $i -lt 50 ] || return 1; sleep 0.1; done
}

# The same answer from every server: web.azure.contoso.com A 10.10.2.5.
echo "web.azure.contoso.com A" >"$work/queries"
# privresd's default deployment on ports the system picks (not 5300: other
# privresd instances may run on the machine).
"$build/daemon/privresd" --print-default | sed 's|^emulator:$|emulator:\n  basePort: 0|' \
	>"$work/privres.yaml"
start_privresd() { # name binary: sets pids_<name>, port_<name>
	mkdir -p "$work/$1"
	"$2" --workers "$workers" --quiet --config "$work/privres.yaml" \
		--ready-file "$work/$1/ready.json" --api-socket "$work/$1/api.sock" &
	eval "pids_$1=$!"
	pids="$pids $!"
	i=0; until [ -s "$work/$1/ready.json" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "$1 did not start" >&2; exit 1; }; sleep 0.05; done
	eval "port_$1=$(/usr/bin/python3 -c 'import json,sys; print([l["port"] for l in json.load(open(sys.argv[1]))["listeners"] if l["name"]=="hub-resolver/in"][0])' "$work/$1/ready.json")"
}
start_privresd privresd "$build/daemon/privresd"
pids_baseline=""
[ -z "${PRIVRES_BENCH_BASELINE:-}" ] || start_privresd baseline "$PRIVRES_BENCH_BASELINE"

port_unbound=$(free_port)
cat >"$work/unbound.conf" <<CONF
server:
	interface: 127.0.0.1@$port_unbound
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
pids_unbound=$!
pids="$pids $!"

# One kresd process per worker sharing the port (SO_REUSEPORT), as its docs advise.
port_kresd=$(free_port)
cat >"$work/kresd.conf" <<CONF
net.listen('127.0.0.1', $port_kresd, { kind = 'dns' })
modules.load('hints')
hints['web.azure.contoso.com'] = '10.10.2.5'
CONF
pids_kresd=""
for n in $(seq "$workers"); do
	mkdir -p "$work/kresd$n"
	kresd -n -q -c "$work/kresd.conf" "$work/kresd$n" >"$work/kresd$n.log" 2>&1 &
	pids_kresd="$pids_kresd $!"
	pids="$pids $!"
done

port_echo=$(free_port)
"$build/bench/bench_echo" "$port_echo" "$workers" &
pids_echo=$!
pids="$pids $!"

servers="privresd${pids_baseline:+ baseline} kresd unbound"
for s in $servers; do
	eval "answers \$port_$s" || { echo "$s did not answer" >&2; exit 1; }
done
servers="$servers echo"

perf() { # name port out [extra dnsperf options]
	name=$1 port=$2 out=$3; shift 3
	dnsperf -s 127.0.0.1 -p "$port" -c 4 -q 200 -l "$seconds" -d "$work/queries" "$@" \
		>"$out" 2>&1 || true
}
. "$src/bench/cpu.sh"
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

echo "private-zone answer, $workers workers, ${seconds}s per run, $rounds rounds in alternation, $(nproc) cores shared with dnsperf (dnsperf -c 4 -q 200)"
for r in $(seq "$rounds"); do
	for s in $servers; do
		eval "perf $s \$port_$s $work/$s.out"
		q=$(awk '/Queries per second/ { print $4 }' "$work/$s.out")
		lost=$(awk '/Queries lost/ { print $3 }' "$work/$s.out")
		printf '  round %s: %-8s %12s qps  lost %s\n' "$r" "$s" "${q:-0}" "$lost"
		echo "${q:-0}" >>"$work/qps-$s"
	done
done
for s in $servers; do
	eval "qps_$s=$(median <"$work/qps-$s")"
	eval "printf '%-8s %12.0f qps  (median of %s rounds)\n' $s \$qps_$s $rounds"
done
echo "ratio privresd/kresd: $(ratio "$qps_privresd" "$qps_kresd")  privresd/unbound: $(ratio "$qps_privresd" "$qps_unbound")  privresd/echo: $(ratio "$qps_privresd" "$qps_echo")  kresd/echo: $(ratio "$qps_kresd" "$qps_echo")"
[ -z "$pids_baseline" ] || echo "ratio privresd/baseline: $(ratio "$qps_privresd" "$qps_baseline")  baseline/kresd: $(ratio "$qps_baseline" "$qps_kresd")  baseline/unbound: $(ratio "$qps_baseline" "$qps_unbound")"

# CPU per answer at a fixed rate below every server's ceiling.
rate=40000
echo "CPU per answer at a fixed $rate QPS, ${seconds}s each"
for s in $servers; do
	eval "sp=\$pids_$s"
	before=$(cpu_ns $sp)
	eval "perf $s \$port_$s $work/$s-fixed.out -Q $rate"
	after=$(cpu_ns $sp)
	done_=$(awk '/Queries completed/ { print $3 }' "$work/$s-fixed.out")
	us=$(awk -v t="$((after - before))" -v n="${done_:-0}" \
		'BEGIN { if (n > 0) printf "%.2f", t / 1e3 / n; else print 0 }')
	printf '%-8s %8s us/answer  cpu (%s answers)\n' "$s" "$us" "${done_:-0}"
	eval "us_$s=$us"
done
[ -z "$pids_baseline" ] || echo "cpu ratio privresd/baseline: $(ratio "$us_privresd" "$us_baseline")  baseline/echo: $(ratio "$us_baseline" "$us_echo")"
echo "cpu ratio privresd/echo: $(ratio "$us_privresd" "$us_echo")  kresd/echo: $(ratio "$us_kresd" "$us_echo")  unbound/echo: $(ratio "$us_unbound" "$us_echo")"
