#!/usr/bin/env bash
# test.sh [--sanitize]: builds kiroku and runs the quick test suite (unit, protocol and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(scripts/build.sh "$@" | tail -n 1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The fault-injection suite (label "faults") is not part of this run: .ci/run runs it bounded, on its own.
ctest --test-dir "$dir" --output-on-failure -j2 -LE faults
