#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets, then runs each: fuzz-decode (the decoder and every capture
# reader) and fuzz-config (the gateway configuration, vendor profiles and their value conversion).
#   FUZZ_SECONDS (default 60) per target; crashes land in fuzz/out/ (add each as a test).
set -euo pipefail
cd "$(dirname "$0")/.."
# libFuzzer reports crashes itself; Swift's backtracer would wait on a crashed target.
export SWIFT_BACKTRACE=enable=no
out=fuzz/out
build=.build-fuzz
mkdir -p "$out" "$build" fuzz/corpus-run
flags=(-sanitize=fuzzer,address -parse-as-library -g -O -I "$build")
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name SunSpec \
  -emit-module-path "$build/SunSpec.swiftmodule" $(find Sources/SunSpec -name '*.swift') -o "$build/libSunSpec.a"
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name Captures \
  -emit-module-path "$build/Captures.swiftmodule" $(find Sources/Captures -name '*.swift') -o "$build/libCaptures.a"
swiftc "${flags[@]}" fuzz/FuzzTarget.swift "$build/libCaptures.a" "$build/libSunSpec.a" -o "$build/fuzz-decode"
# The YAML side: libyaml and Yams (from the package checkout), YAMLFiles, ModbusCore and CModbus's types, Profiles, and the
# configuration files of Gateway (the rest of Gateway, NIO and all, is not needed to read a config).
[ -d .build/checkouts/Yams ] || swift package resolve
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name ModbusCore \
  -emit-module-path "$build/ModbusCore.swiftmodule" $(find Sources/ModbusCore -name '*.swift') -o "$build/libModbusCore.a"
yams=.build/checkouts/Yams/Sources
for c in "$yams"/CYaml/src/*.c; do
  clang -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_STATIC -I "$yams/CYaml/include" "$c" -o "$build/$(basename "$c" .c).o"
done
ar rcs "$build/libCYaml.a" "$build"/*.o
ymap=(-D SWIFT_PACKAGE -Xcc -DYAML_DECLARE_STATIC -Xcc -fmodule-map-file="$yams/CYaml/include/module.modulemap" -I "$yams/CYaml/include")
swiftc "${flags[@]}" "${ymap[@]}" -emit-library -static -emit-module -module-name Yams \
  -emit-module-path "$build/Yams.swiftmodule" $(find "$yams/Yams" -name '*.swift') -o "$build/libYams.a"
swiftc "${flags[@]}" "${ymap[@]}" -emit-library -static -emit-module -module-name YAMLFiles \
  -emit-module-path "$build/YAMLFiles.swiftmodule" $(find Sources/YAMLFiles -name '*.swift') -o "$build/libYAMLFiles.a"
swiftc "${flags[@]}" "${ymap[@]}" -emit-library -static -emit-module -module-name Profiles \
  -emit-module-path "$build/Profiles.swiftmodule" $(find Sources/Profiles -name '*.swift') -o "$build/libProfiles.a"
cmap=(-Xcc -fmodule-map-file=Sources/CModbus/module.modulemap -I Sources/CModbus)
swiftc "${flags[@]}" "${ymap[@]}" "${cmap[@]}" -emit-library -static -emit-module -module-name Modbus \
  -emit-module-path "$build/Modbus.swiftmodule" $(find Sources/Modbus -name '*.swift') -o "$build/libModbus.a"
swiftc "${flags[@]}" "${ymap[@]}" "${cmap[@]}" -emit-library -static -emit-module -module-name GatewayConfigFuzz \
  -emit-module-path "$build/GatewayConfigFuzz.swiftmodule" Sources/Gateway/GatewayConfig.swift \
  Sources/Gateway/ConfigReader+*.swift Sources/Gateway/DeviceConfig.swift Sources/Gateway/Quirks.swift \
  Sources/Gateway/DurationText.swift -o "$build/libGatewayConfigFuzz.a"
swiftc "${flags[@]}" "${ymap[@]}" "${cmap[@]}" fuzz/FuzzConfig.swift "$build/libGatewayConfigFuzz.a" "$build/libModbus.a" \
  "$build/libProfiles.a" "$build/libYAMLFiles.a" "$build/libModbusCore.a" "$build/libYams.a" "$build/libCYaml.a" "$build/libSunSpec.a" -lmodbus -o "$build/fuzz-config"
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
# Seed corpus of the YAML target: the shipped profiles (odd selector) and configs from the docs (even).
mkdir -p fuzz/corpus-config-run
if [ -z "$(ls -A fuzz/corpus-config-run)" ]; then
  for f in Profiles/*.yaml; do { printf '\001'; cat "$f"; } > "fuzz/corpus-config-run/profile-$(basename "$f")"; done
  for f in fuzz/configs/*.yaml; do { printf '\000'; cat "$f"; } > "fuzz/corpus-config-run/config-$(basename "$f")"; done
fi
"$build/fuzz-config" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=16384 -artifact_prefix="$out/config-" \
  -print_final_stats=1 fuzz/corpus-config-run fuzz/regressions-config
