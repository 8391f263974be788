#!/bin/sh
# run.sh SECONDS - build every tests/fuzz/fuzz_*.c with clang's libFuzzer and
# run each for SECONDS, growing tests/fuzz/corpus/<target>/. Crashes are
# written to build-fuzz/ and must be added to the corpus once fixed.
set -eu
secs=${1:-20}
mkdir -p build-fuzz
srcs=$(ls src/common/*.c src/setitec/*.c src/hole/*.c src/depth/*.c src/sim/*.c src/nn/*.c 2>/dev/null || true)
for f in tests/fuzz/fuzz_*.c; do
	t=$(basename "$f" .c)
	t=${t#fuzz_}
	echo "fuzz: $t"
	clang -std=c11 -O1 -g -D_GNU_SOURCE -Iinclude -Isrc \
		-fsanitize=fuzzer,address,undefined $f $srcs -ljansson \
		-lcyaml -lyaml -lsqlite3 -lm -lpthread \
		-o build-fuzz/fuzz_$t
	mkdir -p tests/fuzz/corpus/$t
	build-fuzz/fuzz_$t -max_total_time="$secs" -max_len=1048576 \
		-artifact_prefix=build-fuzz/$t- tests/fuzz/corpus/$t
done
