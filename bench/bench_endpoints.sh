#!/bin/sh
# Load on the listeners alone (endpoints/, design.md §3): dnsperf over UDP and
# TCP against ep_testd (a libknot echo-style handler, no resolution) on
# 127.0.0.1. Build without sanitizers for numbers that mean something:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && make -C build-rel ep_testd
#   bench/bench_endpoints.sh build-rel [seconds, default 5] [workers, default 2]
set -eu
build=${1:?usage: bench_endpoints.sh BUILD_DIR [seconds] [workers]}
seconds=${2:-5}
workers=${3:-2}
bin="$build/tests/integration/endpoints/ep_testd"
[ -x "$bin" ] || { echo "no $bin: make -C $build ep_testd" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
i=0
while [ $i -lt 1000 ]; do echo "host$i.example A"; i=$((i + 1)); done >"$work/queries"
mkfifo "$work/ctl"
"$bin" --workers "$workers" <"$work/ctl" >"$work/out" &
pid=$!
exec 3>"$work/ctl"
n=0
until grep -q '^ready' "$work/out"; do
	n=$((n + 1)); [ $n -lt 100 ] || { echo "ep_testd did not start" >&2; exit 1; }
	sleep 0.05
done
port=$(awk '/^ready/ {print $3}' "$work/out")
for mode in udp tcp; do
	echo "== $mode, $workers workers, ${seconds}s"
	dnsperf -s 127.0.0.1 -p "$port" -m "$mode" -c 8 -l "$seconds" -d "$work/queries" 2>&1 |
		grep -E 'Queries (sent|completed|lost)|Queries per second|Average Latency'
done
echo stats >&3
echo quit >&3
exec 3>&-
wait $pid
grep -E '^stats' "$work/out" | tr ' ' '\n' | grep -E 'queries|answers|errors|dropped'
