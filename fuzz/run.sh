#!/usr/bin/env bash
# make fuzz: builds the libFuzzer target over the decoder and every capture reader, then runs it.
#   FUZZ_SECONDS (default 60) per run; crashes land in fuzz/out/ (add each as a test).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/out
build=.build-fuzz
mkdir -p "$out" "$build" fuzz/corpus-run
flags=(-sanitize=fuzzer,address -parse-as-library -g -O -I "$build")
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name SunSpec \
  -emit-module-path "$build/SunSpec.swiftmodule" $(find Sources/SunSpec -name '*.swift') -o "$build/libSunSpec.a"
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name Captures \
  -emit-module-path "$build/Captures.swiftmodule" $(find Sources/Captures -name '*.swift') -o "$build/libCaptures.a"
swiftc "${flags[@]}" fuzz/FuzzTarget.swift "$build/libCaptures.a" "$build/libSunSpec.a" -o "$build/fuzz-decode"
# Seed corpus: every fixture under each selector.
if [ -z "$(ls -A fuzz/corpus-run)" ]; then
  i=0
  for f in Fixtures/*.json Fixtures/*.csv Fixtures/*.txt Fixtures/real/*.json; do
    for sel in 0 1 2 3 4 5 200; do
      { printf "\\$(printf %03o $sel)"; cat "$f"; } > "fuzz/corpus-run/seed-$i-$sel"
    done
    i=$((i + 1))
  done
fi
"$build/fuzz-decode" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -artifact_prefix="$out/" \
  -print_final_stats=1 fuzz/corpus-run fuzz/corpus
