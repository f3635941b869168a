#!/bin/bash
# privres-tf-import end to end: each Terraform estate imports to a deployment
# that privresd accepts (--check); the bad configurations are refused (exit 1)
# with the rule id (F-5, P-1) at the .tf file and line of their resource; the
# JSON of `terraform show -json` imports too; usage errors exit 2.
set -u
src=$PRIVRES_SOURCE_DIR
bin="$PRIVRES_BUILD_DIR/terraform/privres-tf-import"
privresd="$PRIVRES_BUILD_DIR/daemon/privresd"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

sh "$src/terraform/setup.sh" || { echo "FAIL: terraform/setup.sh"; exit 1; }

for estate in hub-and-spoke hybrid zero-trust; do
	if "$bin" "$src/terraform-examples/$estate" >"$tmp/$estate.yaml" 2>"$tmp/$estate.err"; then
		ok
	else
		bad "$estate: import failed:"; cat "$tmp/$estate.err"; continue
	fi
	grep -q "resources imported" "$tmp/$estate.err" && ok || bad "$estate: no summary"
	if out=$("$privresd" --check "$tmp/$estate.yaml" 2>&1); then ok
	else bad "$estate: privresd --check refused the import:"; echo "$out"; fi
	"$bin" -o json "$src/terraform-examples/$estate" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["dnsResolvers"]' &&
		ok || bad "$estate: -o json is not the deployment JSON"
done
grep -q "1 skipped as unrelated to DNS (azurerm_network_security_group: 1)" \
	"$tmp/hub-and-spoke.err" && ok || bad "hub-and-spoke: NSG not counted as skipped"

# --var overrides a default (and the location follows the resource group).
"$bin" --var location=northeurope "$src/terraform-examples/hybrid" 2>/dev/null |
	grep -q "^location: northeurope" && ok || bad "--var location=northeurope ignored"

# Refusals: rule id, file and the line of the resource block.
check_refused() { # dir rule file header
	local dir="$src/tests/integration/terraform/bad/$1" out rc line
	out=$("$bin" "$dir" 2>&1 >/dev/null); rc=$?
	[ $rc -eq 1 ] || { bad "$1: exit $rc, expected 1"; echo "$out"; return; }
	line=$(grep -nF "$4" "$dir/$3" | cut -d: -f1)
	if grep -qE "^$dir/$3:$line:[0-9]+: .*\($2\)" <<<"$out"; then ok
	else bad "$1: no '$3:$line: ... ($2)' in:"; echo "$out"; fi
}
check_refused f5-azure-dns-target F-5 rules.tf \
	'resource "azurerm_private_dns_resolver_forwarding_rule" "to_azure"'
check_refused p1-ruleset-into-own-vnet P-1 rules.tf \
	'resource "azurerm_private_dns_resolver_virtual_network_link" "hub"'

# terraform show -json of a state, with the estate's side file.
if "$bin" --side-file "$src/terraform-examples/hybrid/privres.yaml" \
	"$src/tests/unit/terraform/fixtures/hybrid-state.json" >"$tmp/state.yaml" 2>"$tmp/state.err" &&
	"$privresd" --check "$tmp/state.yaml" >/dev/null 2>&1; then ok
else bad "show -json state:"; cat "$tmp/state.err"; fi

# Usage.
"$bin" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no PATH: expected exit 2"
"$bin" -o xml "$src/terraform-examples/hybrid" >/dev/null 2>&1; [ $? -eq 2 ] && ok ||
	bad "-o xml: expected exit 2"
"$bin" "$tmp/nothing-here" >/dev/null 2>&1; [ $? -eq 1 ] && ok || bad "missing path: expected exit 1"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
