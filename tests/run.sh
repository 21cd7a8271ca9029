#!/usr/bin/env bash
# keel's whole test suite: host unit tests (ASan+UBSan), short fuzz runs of
# every guest/user-input parser, and the in-QEMU integration tests that boot
# real Xen + keel.  Ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
mkdir -p build/test-logs
pass=0 fail=0
count() { # reads PASS/FAIL lines on stdin, echoes them, adds them up
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case "$line" in
		*"PASS "*) pass=$((pass + 1));;
		*"FAIL "*) fail=$((fail + 1));;
		esac
	done
}

echo "== host unit tests"
bins=()
for mk in tests/unit/*.mk; do
	for t in $(sed -n 's/^UNIT_TESTS *+= *//p' "$mk"); do
		if make -s "build/host/$t" > "build/test-logs/$t.build.log" 2>&1; then
			bins+=("build/host/$t")
		else
			echo "FAIL $t: does not build (build/test-logs/$t.build.log)"
			tail -5 "build/test-logs/$t.build.log"
			fail=$((fail + 1))
		fi
	done
done
count < <(tests/run-unit.sh "${bins[@]}" | grep -v '^unit: ')

echo "== fuzz (${FUZZ_SECONDS:=10} s per target, two at a time)"
# Two targets run at once (the machines have two cores); results are read
# back in name order once both of a pair have ended.
fuzz_one() {
	FUZZ_SECONDS=$FUZZ_SECONDS FUZZ_ONLY=$1 tests/fuzz/run.sh > "build/test-logs/$1.log" 2>&1
	echo $? > "build/test-logs/$1.rc"
}
mkdir -p build/fuzz build/include
[ -e build/include/xen ] || ln -sfn /usr/include/xen build/include/xen
names=()
for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
for ((i = 0; i < ${#names[@]}; i += 2)); do
	fuzz_one "${names[$i]}" &
	[ $((i + 1)) -lt ${#names[@]} ] && fuzz_one "${names[$((i + 1))]}" &
	wait
done
for name in "${names[@]}"; do
	if [ "$(cat "build/test-logs/$name.rc" 2>/dev/null)" = 0 ]; then
		echo "PASS $name (no crash in ${FUZZ_SECONDS} s)"; pass=$((pass + 1))
	else
		echo "FAIL $name: see build/test-logs/$name.log"; tail -20 "build/test-logs/$name.log"
		fail=$((fail + 1))
	fi
	rm -f "build/test-logs/$name.rc"
done

echo "== in-QEMU integration tests (Xen 4.17 + keel)"
for t in tests/integration/test_*.py; do
	count < <(timeout 1200 python3 "$t" 2>&1)
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
