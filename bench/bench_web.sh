#!/bin/sh
# What /metrics and the live view cost the data plane (issue "see it"): one
# privresd without --metrics-listen, one with it, loaded in turn by dnsperf on
# the private-zone answer, in rounds: off, on (nobody looking), on while
# /metrics is scraped every second and a live view is open (its event stream
# and its estate refresh every 2 s). Every figure comes from the same run; the
# text and a chart (bench/chart.py) are written beside each other.
# Two figures per run, both flat out: QPS, and privresd's CPU time per answer
# (every thread of the process, web thread included, in nanoseconds from
# schedstat), which a machine shared with other jobs disturbs less. Measured
# flat out because there every recvmmsg returns a full batch: at a low fixed
# rate each answer costs a wakeup of its own, and how queries happen to be
# batched moves the figure by more than what is measured here.
#   bench/bench_web.sh [seconds per run, default 5] [rounds, default 3] [workers, default: cores]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
rounds=${2:-3}
workers=${3:-$(nproc)}
"$src/scripts/setup-deps" --bench
build="$src/build-release"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd >/dev/null
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() { # name [args…]: a privresd on the embedded default, its ready file in $work/name
	name=$1; shift
	mkdir -p "$work/$name"
	"$build/daemon/privresd" --workers "$workers" --quiet --ready-file "$work/$name/ready.json" \
		--api-socket "$work/$name/api.sock" --state-dir "$work/$name" "$@" &
	pids="$pids $!"
	i=0; until [ -s "$work/$name/ready.json" ]; do i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
}
field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
listener='[l["port"] for l in d["listeners"] if l["name"]=="hub-resolver/in"][0]'

# The embedded default binds fixed ports from 5300: the second one gets its own.
"$build/daemon/privresd" --print-default | sed 's/^emulator:/emulator:\n  basePort: 0/' >"$work/d.yaml"
start off --config "$work/d.yaml"
start on --config "$work/d.yaml" --metrics-listen 127.0.0.1:0
port_off=$(field "$work/off/ready.json" "$listener")
port_on=$(field "$work/on/ready.json" "$listener")
pid_off=$(field "$work/off/ready.json" 'd["pid"]')
pid_on=$(field "$work/on/ready.json" 'd["pid"]')
web=$(field "$work/on/ready.json" 'd["web"]["port"]')
echo "web.azure.contoso.com A" >"$work/queries"

. "$src/bench/cpu.sh"
load() { # port pid → "QPS flat out, CPU µs per answer"
	t0=$(cpu_ns "$2")
	dnsperf -s 127.0.0.1 -p "$1" -c 16 -q 200 -l "$seconds" -d "$work/queries" 2>&1 >"$work/out" || true
	t1=$(cpu_ns "$2")
	awk -v t="$((t1 - t0))" '/Queries per second/ { q = $4 } /Queries completed/ { n = $3 }
		END { printf "%.0f %.3f", q, (n > 0 ? t / 1e3 / n : 0) }' "$work/out"
}
watch_start() { # a scrape every second, a live view open
	(while :; do curl -s -o /dev/null "http://127.0.0.1:$web/metrics"; sleep 1; done) &
	scraper=$!
	(while :; do curl -s -o /dev/null "http://127.0.0.1:$web/api/estate"; sleep 2; done) &
	estate=$!
	curl -s -N -o "$work/stream" "http://127.0.0.1:$web/api/stream" &
	stream=$!
	sleep 0.5
}
watch_stop() { kill "$scraper" "$estate" "$stream" 2>/dev/null || true; wait "$scraper" "$estate" "$stream" 2>/dev/null || true; }

# Each round runs the three in a mirrored order (off on watched, then watched
# on off) so that a drift of the machine's load weighs on each alike; the
# ratios are taken within a round and their median reported.
echo "private-zone answer, $workers workers, ${seconds}s per run, $rounds rounds, $(nproc) cores shared with dnsperf"
: >"$work/rounds"
watched() { watch_start; c=$(load "$port_on" "$pid_on"); watch_stop; }
for r in $(seq "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then
		a=$(load "$port_off" "$pid_off"); b=$(load "$port_on" "$pid_on"); watched
	else
		watched; b=$(load "$port_on" "$pid_on"); a=$(load "$port_off" "$pid_off")
	fi
	echo "round $r (QPS, CPU µs per answer): off $a  on $b  on+scraped+view $c"
	echo "$a $b $c" >>"$work/rounds"
done
lines=$(grep -c '^data:' "$work/stream" 2>/dev/null || echo 0)
text="${BENCH_WEB_OUT:-$build/bench-web}"
/usr/bin/python3 "$src/bench/web_rounds.py" "$work/rounds" "$lines" "$text.txt" "$text.svg"
echo "text: $text.txt  chart: $text.svg"
