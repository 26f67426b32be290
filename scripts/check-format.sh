#!/usr/bin/env bash
# Fails, naming the files, when any C++ source differs from clang-format's output.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
list_sources() {
  git ls-files -co --exclude-standard -- '*.cc' '*.h' '*.c' 2>/dev/null ||
    find . -name '*.cc' -o -name '*.h'
}
# One clang-format per file, spread over the cores; prints the files that differ.
mapfile -t bad < <(list_sources | tr '\n' '\0' |
  xargs -0 -r -P "$(nproc)" -n 16 sh -c \
    'for f; do clang-format --style=file "$f" | cmp -s - "$f" || echo "$f"; done' _)
if ((${#bad[@]})); then
  echo "not clang-formatted (run: clang-format -i ${bad[*]}):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "clang-format: all sources formatted"
