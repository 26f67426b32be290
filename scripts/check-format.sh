#!/usr/bin/env bash
# Fails, naming the files, when any C++ source differs from clang-format's output.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
bad=()
while IFS= read -r f; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then bad+=("$f"); fi
done < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' '*.c' 2>/dev/null || find . -name '*.cc' -o -name '*.h')
if ((${#bad[@]})); then
  echo "not clang-formatted (run: clang-format -i ${bad[*]}):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "clang-format: all sources formatted"
