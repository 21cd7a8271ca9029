#!/usr/bin/env bash
# Runs host unit-test binaries given as arguments; prints their PASS/FAIL lines
# and a closing "N passed, N failed" line.  A binary that crashes counts as a
# failure even if it printed nothing.
set -u
pass=0 fail=0
for bin in "$@"; do
	out=$("$bin" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL) ' | sed "s|^|$(basename "$bin"): |"
	p=$(printf '%s\n' "$out" | grep -c '^PASS ')
	f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$(basename "$bin"): FAIL exited with status $rc"
		printf '%s\n' "$out" | tail -20
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
