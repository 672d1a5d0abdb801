#!/bin/sh
# Compare `sunspec-gateway decode` with pysunspec2 for all SunSpec models.
#
#   PYTHON=.venv/bin/python GATEWAY=.build/debug/sunspec-gateway Tests/Interop/test_interop.sh [extra args]
#
# PYTHON must have Tests/Interop/requirements.txt installed (default: .venv/bin/python if present,
# else python3). GATEWAY defaults to .build/debug/sunspec-gateway. Extra arguments go to
# decode_interop.py (e.g. --seed 7 --per-model 50 --models 705,802). SEED and PER_MODEL env vars
# are honoured too. Exit status is decode_interop.py's: 0 pass, 1 mismatch, 2 setup error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
GATEWAY=${GATEWAY:-$root/.build/debug/sunspec-gateway}
if [ ! -x "$GATEWAY" ]; then
    echo "test_interop.sh: gateway binary not found at $GATEWAY (build it first or set GATEWAY)" >&2
    exit 2
fi
exec "$PYTHON" "$here/decode_interop.py" --gateway "$GATEWAY" \
    --seed "${SEED:-1}" --per-model "${PER_MODEL:-20}" "$@"
