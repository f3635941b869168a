# Sourced by the benchmarks: CPU time a set of processes has used so far, in
# nanoseconds, summed over all their threads (/proc/PID/task/*/schedstat, the
# scheduler's own count). /proc/PID/stat counts in clock ticks of 10 ms, which
# over a 5-second run of 25,000 answers at ~10 µs each is a 4% step: too
# coarse for the few-percent differences these benchmarks look for.
cpu_ns() { # pid…
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
		awk '{ t += $1 } END { printf "%.0f\n", t }'
}
