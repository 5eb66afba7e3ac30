#!/usr/bin/env bash
# Builds the console, the agent and the demo product, then starts the agent with the demo product running
# V5.1.2.02. Open http://127.0.0.1:8080/opsconsole/v2/ and log on as admin (password printed on first start,
# or set AGENT_ADMIN_PASSWORD). Data lives in ./.data; delete it to start over. Ctrl-C stops the agent and the
# product (`agent stop-product`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --run
export PATH="$HOME/.cargo/bin:$PATH"

# The release console, as it ships (profile wasm-release: the size-minded build, docs/console.md).
trunk build --offline --release --cargo-profile wasm-release
cargo build -p agent -p demo --bins --locked
# The product runs under a supervisor that outlives the agent (docs/engine.md); a demo stops everything on Ctrl-C:
# the agent first, then the product of its data dir.
data_dir="${AGENT_DATA_DIR:-./.data}"
previous=""
for arg in "$@"; do
  case "$arg" in
    --data-dir=*) data_dir="${arg#--data-dir=}" ;;
    *) [ "$previous" = "--data-dir" ] && data_dir="$arg" ;;
  esac
  previous="$arg"
done
target/debug/agent serve \
  --bootstrap-package demo/versions/V5.1.2.02.zip \
  --bootstrap-values demo/config/values-V5.1.2.02.yaml \
  "$@" &
agent=$!
stopped=""
stop_everything() {
  [ -n "$stopped" ] && return
  stopped=yes
  kill -TERM "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  target/debug/agent stop-product --data-dir "$data_dir" || true
}
trap stop_everything EXIT INT TERM
wait "$agent" || true
