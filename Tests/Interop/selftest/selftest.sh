#!/bin/sh
# Tests the interop harness itself, without the Swift binary: the stand-in fake_gateway.py must
# pass, and every fault it can inject must make decode_interop.py fail.
#
#   PYTHON=.venv/bin/python Tests/Interop/selftest/selftest.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
if "$PYTHON" "$here/../decode_interop.py" --gateway "$here/fake_gateway.py" --workdir "$work" \
        --per-model 10 > "$work/out" 2>&1; then
    echo "ok   clean stand-in passes: $(tail -1 "$work/out" | cut -c1-100)"
else
    echo "FAIL clean stand-in does not pass:"; tail -30 "$work/out"; status=1
fi
for bug in sfignore drop705 extrakey countoff strnul int32neg nullsf floatscale ipint eui48zero f32round meta; do
    # eui48zero needs images with an all-zero eui48: models 11 and 16 with many images
    args="--per-model 10"
    [ "$bug" = eui48zero ] && args="--per-model 100 --models 11,16"
    if FAKE_GATEWAY_BUGS=$bug "$PYTHON" "$here/../decode_interop.py" --gateway "$here/fake_gateway.py" \
            --workdir "$work" $args > "$work/out" 2>&1; then
        echo "FAIL fault $bug not detected"; status=1
    else
        echo "ok   fault $bug detected: $(grep -m1 '^  model [0-9]* m' "$work/out" | cut -c1-110)"
    fi
done
exit $status
