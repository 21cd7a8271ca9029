#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang's libFuzzer and runs each for
# FUZZ_SECONDS (default 30).  A target names the sources it links on a line
# "fuzz-srcs: a.c b.c" in its first comment, and the libraries it needs, if
# any, on a line "fuzz-libs: -lfoo"; a folder of seed inputs on "fuzz-seeds: DIR".
set -eu
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-30}
mkdir -p build/fuzz build/include
[ -e build/include/xen ] || ln -sfn /usr/include/xen build/include/xen
status=0
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	[ -z "${FUZZ_ONLY:-}" ] || [ "$FUZZ_ONLY" = "$name" ] || continue
	srcs=$(sed -n 's/.*fuzz-srcs:\(.*\)/\1/p' "$f" | head -1)
	libs=$(sed -n 's/.*fuzz-libs:\(.*\)/\1/p' "$f" | head -1)
	seeds=$(sed -n 's/.*fuzz-seeds: *\([^ ]*\).*/\1/p' "$f" | head -1)
	clang -g -O1 -std=gnu11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -DKEEL_HOST -D__XEN_TOOLS__ \
		-Iinclude -Ibuild/include -fsanitize=fuzzer,address,undefined \
		-o "build/fuzz/$name" "$f" $srcs $libs
	mkdir -p "build/fuzz/$name.corpus"
	echo "fuzz: $name for ${secs}s"
	if ! "build/fuzz/$name" -max_total_time="$secs" -print_final_stats=0 \
		"build/fuzz/$name.corpus" $seeds > "build/fuzz/$name.log" 2>&1; then
		echo "fuzz: $name FAILED, see build/fuzz/$name.log"; tail -30 "build/fuzz/$name.log"; status=1
	fi
done
exit $status
