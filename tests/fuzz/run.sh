#!/bin/sh
# Build the libFuzzer targets with clang and give each a bounded run over a
# copy of its seed corpus (the seeds stay as committed). A folder's file `dict`
# (libFuzzer dictionary syntax), when there is one, is passed as -dict=.
#   tests/fuzz/run.sh [seconds per target, default 30] [target name filter]
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${PRIVRES_FUZZ_BUILD:-$src/build-fuzz}
seconds=${1:-30}
filter=${2:-}

CC=clang cmake -S "$src" -B "$build" -DPRIVRES_FUZZ=ON -DPRIVRES_TESTS=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$build" -j"$(nproc)" privres >/dev/null
status=0
for dir in "$src"/tests/fuzz/*/; do
	[ -f "$dir/CMakeLists.txt" ] || continue
	for c in "$dir"fuzz_*.c; do
		name=$(basename "$c" .c)
		case "$name" in *"$filter"*) ;; *) continue ;; esac
		make -C "$build" "$name" >/dev/null
		bin=$(find "$build/tests/fuzz" -type f -name "$name" -perm -u+x | head -n 1)
		work=$(mktemp -d)
		[ -d "$dir/corpus" ] && cp -r "$dir/corpus/." "$work/"
		set --
		[ -f "$dir/dict" ] && set -- -dict="$dir/dict"
		echo "== $name: ${seconds}s"
		if ! "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
			-artifact_prefix="$build/$name-" "$@" "$work"; then
			echo "== $name FAILED: crash input in $build/$name-*"
			status=1
		fi
		rm -rf "$work"
	done
done
exit $status
