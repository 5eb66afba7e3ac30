#!/usr/bin/env bash
# The console's download size (docs/console.md): builds it the size-minded way (profile wasm-release: opt-level z,
# fat LTO, one codegen unit, panic abort, strip; Leptos's erase_components from .cargo/config.toml) and prints the
# wasm and its JS glue raw, with gzip -9 and with brotli -q 11. It measures; it never fails on a size.
#
#   scripts/console-size.sh [DIST]     (default: a temporary directory, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh >/dev/null

dist="${1:-}"
if [[ -z "$dist" ]]; then
  dist=$(mktemp -d)
  trap 'rm -rf "$dist"' EXIT
fi
log=$(mktemp)
if ! trunk build --offline --release --cargo-profile wasm-release --dist "$dist" >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
rm -f "$log"
printf '%-28s %10s %10s %10s\n' file raw gzip-9 brotli-11
for file in "$dist"/*.wasm "$dist"/*.js; do
  printf '%-28s %10d %10d %10d\n' "$(basename "$file")" "$(wc -c <"$file")" \
    "$(gzip -9 -c "$file" | wc -c)" "$(brotli -q 11 -c "$file" | wc -c)"
done
