#!/usr/bin/env bash
# make bench: run bench/run.py with the interop venv's Python (pysunspec2 installed there).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${1:-.venv/bin/python}" bench/run.py
