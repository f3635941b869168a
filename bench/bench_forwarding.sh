#!/bin/sh
# Forwarding to an outside upstream (issue "Data plane II"): privresd with a
# rule for corp.example against dnsdist and unbound configured to forward the
# same zone to the same upstream (a real unbound on loopback that answers any
# name under corp.example), in one run. Two workloads: cache miss (every name
# new) and cache hit (one name over and over). Prints QPS, p99 latency and the
# ratios. The machine's cores are shared by dnsperf, the upstream and the
# server under test: compare ratios, not absolute numbers.
#   bench/bench_forwarding.sh [seconds per run, default 5] [workers, default: cores]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
workers=${2:-$(nproc)}
"$src/scripts/setup-deps" --bench
build=${PRIVRES_BENCH_BUILD:-$src/build-release}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd >/dev/null
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up=$(free_port); ub=$(free_port); dd=$(free_port); pr=$(free_port)
unbound_conf() { # port threads extra
	cat <<CONF
server:
	interface: 127.0.0.1@$1
	num-threads: $2
	so-reuseport: yes
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "$work"
	pidfile: "$work/unbound-$1.pid"
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	msg-cache-size: 64m
	rrset-cache-size: 128m
	# never recurse to the internet: only the zones below are answered
	local-zone: "." refuse
	local-zone: "corp.example." transparent
$3
CONF
}
# The upstream: answers every name under corp.example.
unbound_conf "$up" 1 '	local-zone: "corp.example." redirect
	local-data: "corp.example. 300 IN A 192.168.7.7"' | grep -v 'corp.example." transparent' >"$work/upstream.conf"
unbound -d -c "$work/upstream.conf" & pids="$pids $!"
# unbound as a forwarder.
unbound_conf "$ub" "$workers" "forward-zone:
	name: \"corp.example.\"
	forward-addr: 127.0.0.1@$up" >"$work/forwarder.conf"
unbound -d -c "$work/forwarder.conf" & pids="$pids $!"
# dnsdist with its packet cache.
cat >"$work/dnsdist.conf" <<CONF
setLocal("127.0.0.1:$dd")
newServer({address="127.0.0.1:$up", name="upstream", checkName="hit.corp.example."})
pc = newPacketCache(200000, {maxTTL=86400})
getPool(""):setCache(pc)
setSecurityPollSuffix("")
CONF
dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >/dev/null 2>&1 & pids="$pids $!"
# privresd: a spoke linked to a ruleset forwarding corp.example to the upstream.
cat >"$work/privres.yaml" <<YAML
emulator:
  basePort: 0
  listeners: {azure-dns/spoke: "127.0.0.1:$pr"}
  addressMap: {"10.100.0.2:53": "127.0.0.1:$up"}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets: [{name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}]
  - {name: spoke, addressPrefixes: [10.20.0.0/16]}
dnsResolvers: [{name: r, virtualNetwork: hub, outboundEndpoints: [{name: out, subnet: o}]}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules: [{name: Corp, domainName: corp.example., targetDnsServers: [10.100.0.2]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
YAML
"$build/daemon/privresd" --workers "$workers" --quiet --config "$work/privres.yaml" \
	--api-socket "$work/api.sock" & pids="$pids $!"
sleep 1.5
for p in "$up" "$ub" "$dd" "$pr"; do
	dig @127.0.0.1 -p "$p" +short +tries=3 +time=1 x.corp.example | grep -q 192.168.7.7 ||
		{ echo "nothing answers on port $p" >&2; exit 1; }
done

echo "hit.corp.example A" >"$work/hit"
/usr/bin/python3 -c '
import sys
for i in range(600000): print("m%d.corp.example A" % i)' >"$work/miss"

run() { # label port datafile
	dnsperf -s 127.0.0.1 -p "$2" -c 16 -q 200 -l "$seconds" -d "$3" -v >"$work/out" 2>&1 || true
	qps=$(awk '/Queries per second/ {print $4}' "$work/out")
	p99=$(awk '/^> / {print $NF}' "$work/out" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", a[i]*1000}')
	lost=$(awk '/Queries lost/ {print $3}' "$work/out")
	printf '  %-9s %10.0f qps   p99 %7s ms   lost %s\n' "$1" "$qps" "$p99" "$lost"
	echo "$qps" >"$work/qps-$1"
}
ratio() { awk -v a="$(cat "$work/qps-$1")" -v b="$(cat "$work/qps-$2")" 'BEGIN { printf "%.2f", a / b }'; }
echo "forwarding to one upstream, $workers workers, ${seconds}s per run, $(nproc) cores for everything"
for w in miss hit; do
	echo "cache $w:"
	run privresd "$pr" "$work/$w"
	run dnsdist "$dd" "$work/$w"
	run unbound "$ub" "$work/$w"
	echo "  ratio privresd/dnsdist $(ratio privresd dnsdist), privresd/unbound $(ratio privresd unbound)"
done
