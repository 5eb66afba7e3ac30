#!/usr/bin/env bash
# Fuzzes the checks of `shared` with cargo-fuzz (libFuzzer): the ZIP reader, the YAML loader, the manifest, key
# paths and the non-standard check. Not part of CI: CI replays the saved corpus and the regressions as ordinary
# tests (shared/tests/fuzz_replay.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   run each target for SECONDS (default 60); all targets by default
#   scripts/fuzz.sh --seed                  only (re)build the seed corpus from the test fixtures
#
# New corpus entries are kept in fuzz/corpus/<target>/ (minimised at the end); a crash, hang or out-of-memory is
# left in fuzz/artifacts/<target>/ and the script exits 1: turn it into a regression named after what broke
# (fuzz/regressions/<target>/<what-broke> and a test in shared/tests/fuzz_replay.rs).
# cargo-fuzz needs unstable compiler flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, as its
# documentation allows for toolchains without nightly. The code is safe Rust, so no sanitizer (twice the speed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

TARGETS=(zip_reader yaml_loader manifest key_path non_standard)
# Each target's largest input: big enough for every fixture, small enough to stay fast.
declare -A MAX_LEN=([zip_reader]=65536 [yaml_loader]=16384 [manifest]=16384 [key_path]=256 [non_standard]=16384)

say() { printf '\033[1m[fuzz]\033[0m %s\n' "$*"; }

# Seeds: the project's own fixtures, copied under content-addressed names (libFuzzer's own naming).
seed() {
  local target=$1 dir=fuzz/corpus/$1 file
  shift
  mkdir -p "$dir"
  for file in "$@"; do
    [[ -f $file ]] && cp "$file" "$dir/$(sha1sum "$file" | cut -c1-40)"
  done
  return 0
}

seed_all() {
  seed zip_reader shared/tests/fixtures/real-world/*.zip demo/config/*.zip demo/versions/*.zip
  seed yaml_loader demo/config/*.yaml shared/tests/fixtures/real-world/*.yaml \
    $(find demo/config/src shared/tests/fixtures/real-world/src -name '*.yaml')
  seed manifest shared/tests/fixtures/real-world/version.yaml $(find demo/versions/src -name version.yaml)
  local tmp
  tmp=$(mktemp -d)
  printf '%s' 'dataservice.gateway.hosts[0]' >"$tmp/a"
  printf '%s' 'labels["app.kubernetes.io/name"]' >"$tmp/b"
  printf '%s' 'a["x\"y\\z"][12].b' >"$tmp/c"
  seed key_path "$tmp"/*
  # non_standard: values.yaml NUL overlay path NUL overlay NUL online values (see fuzz/harness.rs).
  local good=demo/config/src/nonstandard-V5.1.2.04-good bad=demo/config/src/nonstandard-V5.1.2.04-incompatible
  for bundle in "$good" "$bad"; do
    {
      cat "$bundle/values.yaml"; printf '\0templates/dataservice.yaml\0'
      cat "$bundle/overlay/templates/dataservice.yaml" 2>/dev/null || true
      printf '\0'; cat demo/config/values-V5.1.2.02.yaml
    } >"$tmp/$(basename "$bundle")"
  done
  # A chart with a schema and a subchart (parts 5 to 8), so the fuzzer starts inside those rules.
  {
    printf 'controller:\n  replicaCount: "2"\n  nodeSelector: {role: ingress}\nsub:\n  replicas: 3\n  extra: {a: 1}\n'
    printf '\0values.yaml\0controller:\n  resources: {limits: {cpu: 1}}\n\0controller: {replicaCount: 1}\n\0'
    printf 'controller:\n  replicaCount: 1\n  nodeSelector: {}\n  resources: {requests: {cpu: 100m}}\nsub: {}\n\0'
    printf 'apiVersion: v2\nname: dataphin\nversion: 1.0.0\ndependencies:\n  - name: subchart\n    alias: sub\n    version: 1.x\n\0'
    printf '{"type":"object","properties":{"controller":{"type":"object","additionalProperties":false,"properties":{"replicaCount":{"type":"integer"},"nodeSelector":{"type":"object"},"resources":{"type":"object"}}},"sub":{"type":"object"}}}\0'
    printf 'replicas: 1\nextra: {}\n'
  } >"$tmp/chart-with-schema-and-subchart"
  seed non_standard "$tmp"/nonstandard-* "$tmp/chart-with-schema-and-subchart"
  rm -rf "$tmp"
}

if [[ "${1:-}" == "--seed" ]]; then
  seed_all
  say "seed corpus in fuzz/corpus/"
  exit 0
fi

SECONDS_EACH=${1:-60}
shift || true
(( $# )) && TARGETS=("$@")

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
seed_all
export RUSTC_BOOTSTRAP=1

status=0
for target in "${TARGETS[@]}"; do
  say "$target for ${SECONDS_EACH} s"
  mkdir -p "fuzz/artifacts/$target"
  # -rss_limit_mb and -timeout turn unbounded memory and time into findings; both are far above what one input
  # may take within the checks' limits.
  if ! (cd fuzz && cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN[$target]}" -rss_limit_mb=1024 -timeout=10 \
      -print_final_stats=1 >"artifacts/$target/last-run.log" 2>&1); then
    status=1
  fi
  grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|^Done [0-9]+ runs|SUMMARY' \
    "fuzz/artifacts/$target/last-run.log" || true
  if compgen -G "fuzz/artifacts/$target/crash-*" >/dev/null || compgen -G "fuzz/artifacts/$target/oom-*" >/dev/null ||
    compgen -G "fuzz/artifacts/$target/timeout-*" >/dev/null; then
    say "$target: findings in fuzz/artifacts/$target/"
    status=1
  fi
  (cd fuzz && cargo fuzz cmin --sanitizer none "$target" "corpus/$target" >/dev/null 2>&1) || true
done
exit $status
