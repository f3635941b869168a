#!/bin/sh
# What /metrics and the live view cost each answer, counted in instructions
# (valgrind's cachegrind), which other jobs on a shared machine do not
# disturb as they disturb QPS. privresd (Release, one worker) answers the
# private-zone question in three modes: without --metrics-listen; with it,
# nobody looking; with it, scraped once per 5,000 answers (once a second at
# 5,000 QPS) while a live view is open. Each mode runs twice, with N1 and N2
# answers, so the start-up cancels out: instructions per answer are
# (I(N2) - I(N1)) / (N2 - N1), for the whole process (web thread included).
# Last, one scrape's own cost: an idle privresd scraped 0 and 200 times.
# Under valgrind privresd runs many times slower, so the live view's
# stream (at most 50 entries a second per worker) samples a larger share of
# the answers than it would at full speed: the "view open" figure is an upper
# bound.
#   bench/bench_web_instructions.sh [N1, default 2000] [N2, default 22000]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
n1=${1:-2000}
n2=${2:-22000}
"$src/scripts/setup-deps" --bench
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
build="$src/build-release"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd >/dev/null
work=$(mktemp -d)
pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$build/daemon/privresd" --print-default | sed 's/^emulator:/emulator:\n  basePort: 0/' >"$work/d.yaml"
echo "web.azure.contoso.com A" >"$work/queries"
field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

count() { # mode answers → instructions of the whole run
	mode=$1 n=$2
	rm -f "$work/ready.json"
	set -- --workers 1 --quiet --config "$work/d.yaml" --ready-file "$work/ready.json" \
		--api-socket "$work/api.sock" --state-dir "$work/state-$mode-$n"
	[ "$mode" = off ] || set -- "$@" --metrics-listen 127.0.0.1:0
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$build/daemon/privresd" "$@" 2>"$work/vg" &
	pid=$!
	i=0; until [ -s "$work/ready.json" ]; do i=$((i + 1)); [ $i -lt 1200 ] || exit 1; sleep 0.1; done
	port=$(field "$work/ready.json" '[l["port"] for l in d["listeners"] if l["name"]=="hub-resolver/in"][0]')
	stream=""
	if [ "$mode" = watched ]; then
		web=$(field "$work/ready.json" 'd["web"]["port"]')
		curl -s -N -o /dev/null "http://127.0.0.1:$web/api/stream" &
		stream=$!
	fi
	left=$n
	if [ "$mode" = scrapes ]; then # no queries: n scrapes of an idle privresd
		web=$(field "$work/ready.json" 'd["web"]["port"]')
		for i in $(seq "$n"); do curl -s -o /dev/null "http://127.0.0.1:$web/metrics"; done
		left=0
	fi
	while [ "$left" -gt 0 ]; do
		chunk=$((left < 5000 ? left : 5000))
		dnsperf -s 127.0.0.1 -p "$port" -c 4 -q 50 -t 20 -n "$chunk" -d "$work/queries" \
			>"$work/perf" 2>&1 || true
		grep -q "Queries lost: *0 " "$work/perf" || { echo "queries lost:" >&2; cat "$work/perf" >&2; }
		[ "$mode" != watched ] || curl -s -o /dev/null "http://127.0.0.1:$web/metrics"
		left=$((left - chunk))
	done
	[ -z "$stream" ] || { kill "$stream"; wait "$stream" 2>/dev/null || true; }
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
	awk '/I *refs:/ { gsub(",", "", $4); print $4 }' "$work/vg"
}

text="${BENCH_WEB_OUT:-$build/bench-web-instructions}"
: >"$work/figures"
for mode in off on watched; do
	a=$(count "$mode" "$n1")
	b=$(count "$mode" "$n2")
	per=$(awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.0f", (b - a) / (n2 - n1) }')
	echo "$mode: $a instructions for $n1 answers, $b for $n2: $per per answer"
	echo "$mode $per" >>"$work/figures"
done | tee "$text.txt"
# A scrape alone: an idle privresd scraped 0 and 200 times.
a=$(count scrapes 0)
b=$(count scrapes 200)
echo "one scrape of /metrics: $(( (b - a) / 200 )) instructions" | tee -a "$text.txt"
awk '
	{ v[$1] = $2 }
	END {
		printf "--metrics-listen, nobody looking / off: %.4f\n", v["on"] / v["off"]
		printf "scraped once per 5,000 answers + view open / --metrics-listen: %.4f\n", v["watched"] / v["on"]
	}' "$work/figures" | tee -a "$text.txt"
awk '{ printf "instructions per answer (valgrind), one worker\tprivresd %s\t%s\n",
	$1 == "off" ? "no metrics" : $1 == "on" ? "--metrics-listen" : "scraped + view open", $2 }' \
	"$work/figures" | /usr/bin/python3 "$src/bench/chart.py" "$text.svg" \
	"What /metrics and the live view cost per answer" instructions
echo "text: $text.txt  chart: $text.svg"
