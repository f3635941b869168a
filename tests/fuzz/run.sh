#!/bin/sh
# Build the libFuzzer targets with clang and give each a bounded run over a
# copy of its seed corpus. A folder's file `dict` (libFuzzer dictionary
# syntax), when there is one, is passed as -dict=. Each run ends with one line
#   == <name>: <executions> execs, cov <edges>, ft <features>, corpus <n> (+<new kept>)
# With PRIVRES_FUZZ_KEEP=1 (scripts/fuzz), the inputs that found new coverage
# are merged back into the committed corpus (-merge=1 keeps only those);
# otherwise the seeds stay as committed (CI).
#   tests/fuzz/run.sh [seconds per target, default 30] [target name pattern]
# The pattern is a shell pattern over target names ("fuzz_arm" is that one
# target, "*arm*" every target whose name contains arm); by default every one.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${PRIVRES_FUZZ_BUILD:-$src/build-fuzz}
seconds=${1:-30}
filter=${2:-*}
keep=${PRIVRES_FUZZ_KEEP:-0}
jobs=${PRIVRES_FUZZ_JOBS:-$(nproc)}
# per input; long runs on a shared machine raise it (a slow input under load
# is not a finding)
timeout=${PRIVRES_FUZZ_TIMEOUT:-5}

CC=clang cmake -S "$src" -B "$build" -DPRIVRES_FUZZ=ON -DPRIVRES_TESTS=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$build" -j"$jobs" privres >/dev/null
status=0
for dir in "$src"/tests/fuzz/*/; do
	[ -f "$dir/CMakeLists.txt" ] || continue
	for c in "$dir"fuzz_*.c; do
		name=$(basename "$c" .c)
		case "$name" in $filter) ;; *) continue ;; esac
		make -C "$build" -j"$jobs" "$name" >/dev/null
		bin=$(find "$build/tests/fuzz" -type f -name "$name" -perm -u+x | head -n 1)
		work=$(mktemp -d)
		log=$(mktemp)
		mkdir -p "$dir/corpus"
		cp -r "$dir/corpus/." "$work/"
		set --
		[ -f "$dir/dict" ] && set -- -dict="$dir/dict"
		echo "== $name: ${seconds}s"
		if ! "$bin" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$build/$name-" "$@" "$work" \
			>"$log" 2>&1; then
			tail -n 60 "$log"
			echo "== $name FAILED: crash input in $build/$name-*"
			status=1
		fi
		before=$(ls "$dir/corpus" | wc -l)
		if [ "$keep" = 1 ]; then
			"$bin" -merge=1 "$@" "$dir/corpus" "$work" >/dev/null 2>&1 || true
		fi
		after=$(ls "$dir/corpus" | wc -l)
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
		cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
		echo "== $name: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}," \
			"corpus $after (+$((after - before)) kept)"
		rm -rf "$work" "$log"
	done
done
exit $status
