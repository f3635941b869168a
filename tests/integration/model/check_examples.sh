#!/bin/bash
# Every example deployment validates with `privresd --check`; every invalid one
# is refused (exit 1) with the rule id and message its "# expect:" line names.
set -u
bin="$PRIVRES_BUILD_DIR/daemon/privresd"
src="$PRIVRES_SOURCE_DIR/examples"
pass=0 fail=0
for f in "$src"/*.yaml; do
	if out=$("$bin" --check "$f" 2>&1); then
		pass=$((pass + 1))
	else
		echo "FAIL: $f should be valid:"; echo "$out"; fail=$((fail + 1))
	fi
done
for f in "$src"/invalid/*.yaml; do
	expect=$(sed -n 's/^# expect: //p' "$f" | head -n1)
	rule=${expect%% *}
	text=${expect#* }
	out=$("$bin" --check "$f" 2>&1); rc=$?
	if [ $rc -ne 1 ]; then
		echo "FAIL: $f: exit $rc, expected 1"; echo "$out"; fail=$((fail + 1)); continue
	fi
	if [ "$rule" != "-" ] && ! grep -qF "($rule)" <<<"$out"; then
		echo "FAIL: $f: no ($rule) in:"; echo "$out"; fail=$((fail + 1)); continue
	fi
	if ! grep -qF -- "$text" <<<"$out"; then
		echo "FAIL: $f: no '$text' in:"; echo "$out"; fail=$((fail + 1)); continue
	fi
	if ! grep -qE "^[^:]+\.yaml:[0-9]+:[0-9]+: " <<<"$out"; then
		echo "FAIL: $f: no file:line:column in:"; echo "$out"; fail=$((fail + 1)); continue
	fi
	pass=$((pass + 1))
done
# The embedded default is the hub-and-spoke example and serves as is.
"$bin" --print-default | cmp -s - "$src/hub-and-spoke.yaml" || { echo "FAIL: embedded default differs"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
