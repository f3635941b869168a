#!/bin/sh
# DoT and DoH (W-6): privresd against dnsdist and knot-resolver serving the same
# answer over the same transports, in one run: dnsperf -m dot / -m doh over
# established connections, QPS and average latency, the ratios to the best peer,
# and privresd's own cost of TLS against plain UDP/TCP (bench/README.md).
#   bench/bench_encrypted.sh [seconds per run, default 10] [workers, default: cores]
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
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port
	i=0; until kdig @127.0.0.1 -p "$1" +tls +timeout=1 +retry=0 web.azure.contoso.com 2>/dev/null | grep -q 10.10.2.5; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "nothing answers DoT on $1" >&2; exit 1; }; sleep 0.1; done
}

# The same answer from every server: web.azure.contoso.com A 10.10.2.5.
echo "web.azure.contoso.com A" >"$work/queries"
p_dot=$(free_port); p_doh=$(free_port)
"$build/daemon/privresd" --print-default | sed "s|^emulator:\$|emulator:\n  basePort: 0\n  stateDir: $work/state\n  encryptedListeners:\n    hub-resolver/in: {dot: 127.0.0.1:$p_dot, doh: 127.0.0.1:$p_doh}|" >"$work/privres.yaml"
"$build/daemon/privresd" --workers "$workers" --quiet --config "$work/privres.yaml" \
	--ready-file "$work/ready.json" --api-socket "$work/api.sock" &
pids="$pids $!"
i=0; until [ -s "$work/ready.json" ]; do i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
p_udp=$(/usr/bin/python3 -c 'import json,sys; print([l["port"] for l in json.load(open(sys.argv[1]))["listeners"] if l["name"]=="hub-resolver/in" and l["protocol"]=="dns"][0])' "$work/ready.json")
wait_port "$p_dot"

# The peers get a certificate of their own (dnsperf does not verify).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/peer.key" \
	-out "$work/peer.pem" -days 1 -subj /CN=localhost 2>/dev/null

d_dot=$(free_port); d_doh=$(free_port); d_udp=$(free_port)
cat >"$work/dnsdist.conf" <<CONF
setLocal("127.0.0.1:$d_udp")
addTLSLocal("127.0.0.1:$d_dot", "$work/peer.pem", "$work/peer.key")
addDOHLocal("127.0.0.1:$d_doh", "$work/peer.pem", "$work/peer.key", "/dns-query")
addAction(AllRule(), SpoofAction("10.10.2.5"))
CONF
dnsdist -C "$work/dnsdist.conf" --supervised --disable-syslog >"$work/dnsdist.log" 2>&1 &
pids="$pids $!"
wait_port "$d_dot"

k_dot=$(free_port); k_doh=$(free_port)
cat >"$work/kresd.conf" <<CONF
net.listen('127.0.0.1', $k_dot, { kind = 'tls' })
net.listen('127.0.0.1', $k_doh, { kind = 'doh2' })
net.tls('$work/peer.pem', '$work/peer.key')
modules.load('hints')
hints['web.azure.contoso.com'] = '10.10.2.5'
CONF
# One kresd process per worker, sharing the ports (SO_REUSEPORT), as its docs advise.
for n in $(seq "$workers"); do
	mkdir -p "$work/kresd$n"
	kresd -n -q -c "$work/kresd.conf" "$work/kresd$n" >"$work/kresd$n.log" 2>&1 &
	pids="$pids $!"
done
wait_port "$k_dot"

run() { # name mode port
	dnsperf -m "$2" -s 127.0.0.1 -p "$3" -c 16 -q 200 -l "$seconds" -d "$work/queries" \
		>"$work/$1.out" 2>&1 || true
	qps=$(awk '/Queries per second/ {print $4}' "$work/$1.out")
	lat=$(awk '/Average Latency/ {print $4; exit}' "$work/$1.out")
	lost=$(awk '/Queries lost/ {print $3}' "$work/$1.out")
	printf '%-16s %12s qps  avg latency %s s  lost %s\n' "$1" "${qps:-0}" "$lat" "$lost"
	# A run that lost most of its queries did not measure the server: n/a.
	case "$lost" in 0|[0-9]|[0-9][0-9]) ;; *) qps=0; echo "  ($1: not measured, see $1.out)" ;; esac
	eval "qps_$1=${qps:-0}"
}
echo "local answer, $workers workers, ${seconds}s each, 16 connections, $(nproc) cores shared with dnsperf"
run privresd_dot dot "$p_dot"
run dnsdist_dot dot "$d_dot"
run kresd_dot dot "$k_dot"
run privresd_doh doh "$p_doh"
run dnsdist_doh doh "$d_doh"
run kresd_doh doh "$k_doh"
run privresd_tcp tcp "$p_udp"
run privresd_udp udp "$p_udp"
awk -v p="$qps_privresd_dot" -v d="$qps_dnsdist_dot" -v k="$qps_kresd_dot" \
	-v ph="$qps_privresd_doh" -v dh="$qps_dnsdist_doh" -v kh="$qps_kresd_doh" \
	-v t="$qps_privresd_tcp" -v u="$qps_privresd_udp" '
function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
BEGIN {
	bd = d > k ? d : k; bh = dh > kh ? dh : kh
	printf "DoT: privresd/dnsdist %s  privresd/kresd %s  privresd/best peer %s\n", r(p, d), r(p, k), r(p, bd)
	printf "DoH: privresd/dnsdist %s  privresd/kresd %s  privresd/best peer %s\n", r(ph, dh), r(ph, kh), r(ph, bh)
	printf "privresd cost of TLS: DoT/TCP %.2f  DoT/UDP %.2f  DoH/UDP %.2f\n", p / t, p / u, ph / u
}'
