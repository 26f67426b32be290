#!/usr/bin/env bash
# The whole test suite, from a fresh clone: dependencies, build, every test
# (unit, style, integration against a private containerd), then the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCUBELET_SANITIZE=ON >/dev/null
ninja -C build-asan -j "$jobs" unit_tests
(cd build-asan && ctest --output-on-failure -j "$jobs" -L unit)
