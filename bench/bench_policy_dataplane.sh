#!/bin/sh
# The cost of a DNS security policy and of the query log on the data plane
# (issue "DNS security policy"): dnsperf against privresd answering a private
# record from a spoke (1) with no policy, (2) with a policy whose Block list
# holds 100,000 domains (the queried name is allowed by a small list at a
# lower priority number, so it is evaluated and answered), (3) as (1) with the
# query log on. Same run, same build; prints QPS and the ratios.
#   bench/bench_policy_dataplane.sh [seconds per run, default 10] [workers, default: cores]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-10}
workers=${2:-$(nproc)}
"$src/scripts/setup-deps" --bench
build="$src/build-release"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIVRES_TESTS=OFF >/dev/null
make -C "$build" -j"$(nproc)" privresd >/dev/null
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

base() { # extra emulator settings
	cat <<YAML
emulator: {basePort: 0$1}
virtualNetworks:
  - {name: hub, addressPrefixes: [10.10.0.0/16]}
  - {name: spoke, addressPrefixes: [10.20.0.0/16]}
privateDnsZones:
  - name: azure.contoso.com
    recordSets: [{name: web, type: A, ttl: 300, records: [10.10.2.5]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
YAML
}
base "" >"$work/plain.yaml"
base ", queryLog: $work/query.log" >"$work/logged.yaml"
{
	base ""
	echo "dnsResolverDomainLists:"
	echo "  - {name: needed, domains: [contoso.com.]}"
	echo "  - name: blocked"
	echo "    domains:"
	/usr/bin/python3 -c '
for i in range(100000): print("      - d%d.blocked%d.example." % (i, i % 97))'
	cat <<YAML
dnsResolverPolicies:
  - name: p
    dnsSecurityRules:
      - {name: allow, priority: 100, action: {actionType: Allow}, dnsResolverDomainLists: [needed]}
      - {name: block, priority: 200, action: {actionType: Block}, dnsResolverDomainLists: [blocked]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
YAML
} >"$work/policy.yaml"
echo "web.azure.contoso.com A" >"$work/queries"

run() { # label config
	rm -f "$work/ready.json"
	"$build/daemon/privresd" --workers "$workers" --quiet --config "$2" \
		--ready-file "$work/ready.json" --api-socket "$work/api.sock" &
	pid=$!
	i=0; until [ -s "$work/ready.json" ]; do i=$((i + 1)); [ $i -lt 400 ] || exit 1; sleep 0.05; done
	port=$(/usr/bin/python3 -c 'import json,sys; print([l["port"] for l in json.load(open(sys.argv[1]))["listeners"] if l["name"]=="azure-dns/spoke"][0])' "$work/ready.json")
	dig @127.0.0.1 -p "$port" +short web.azure.contoso.com | grep -q 10.10.2.5 || { echo "no answer" >&2; exit 1; }
	dnsperf -s 127.0.0.1 -p "$port" -c 16 -q 200 -l "$seconds" -d "$work/queries" >"$work/out" 2>&1 || true
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	qps=$(awk '/Queries per second/ {print $4}' "$work/out")
	printf '  %-28s %10.0f qps\n' "$1" "$qps"
	echo "$qps" >"$work/qps-$3"
}
echo "private record from a spoke, $workers workers, ${seconds}s per run, $(nproc) cores shared with dnsperf"
run "no policy" "$work/plain.yaml" plain
run "policy, 100,000-domain Block" "$work/policy.yaml" policy
run "query log on" "$work/logged.yaml" logged
awk -v a="$(cat "$work/qps-policy")" -v b="$(cat "$work/qps-plain")" -v c="$(cat "$work/qps-logged")" \
	'BEGIN { printf "policy/no policy: %.3f (cost %.1f%%)   query log on/off: %.3f (cost %.1f%%)\n", a/b, (1-a/b)*100, c/b, (1-c/b)*100 }'
echo "query log lines written: $(wc -l <"$work/query.log")"
