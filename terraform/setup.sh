#!/bin/sh
# Install HashiCorp's HCL parser as packaged for npm (@cdktf/hcl2json, the
# Go hcl2json compiled to WebAssembly), which the Terraform import runs with
# node. Idempotent: does nothing when the pinned version is there.
#   terraform/setup.sh [DIR]
# DIR defaults to $PRIVRES_HCL2JSON_DIR, else ${XDG_CACHE_HOME:-~/.cache}/privres/hcl2json
# (where terraform_import() looks by default).
set -eu
version=0.21.0
dir=${1:-${PRIVRES_HCL2JSON_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/privres/hcl2json}}
pkg=$dir/node_modules/@cdktf/hcl2json/package.json

if [ -f "$pkg" ] && grep -q "\"version\": \"$version\"" "$pkg"; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "privres: the Terraform import needs node and npm (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
mkdir -p "$dir"
echo "privres: installing @cdktf/hcl2json@$version into $dir" >&2
npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "@cdktf/hcl2json@$version" >&2
test -f "$pkg"
