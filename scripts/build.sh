#!/usr/bin/env bash
# build.sh [--sanitize]: configures and builds kiroku in build/ (or build-asan/ with ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DKIROKU_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags=(-DKIROKU_WERROR=ON -DKIROKU_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir"
echo "$dir"
