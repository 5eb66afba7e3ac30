#!/usr/bin/env bash
# Sets up what is missing, then runs every check and test: fmt, clippy (native and wasm32), the native tests,
# the API against its description (schemathesis), the wasm tests in headless Chromium, the console build, the
# end-to-end browser tests, and the Kubernetes platform's tests on a real one-node cluster (scripts/k8s-cluster.sh,
# docs/kubernetes.md; its slow builds are cached under /var/cache/upgrade-manager).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32: shared, frontend)"
cargo clippy -p shared -p frontend --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

step "native tests"
cargo build -p agent -p demo --bins --locked
cargo nextest run --workspace --locked

step "API against its description"
scripts/api-fuzz.sh

step "wasm tests in headless Chromium"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER=/usr/bin/chromedriver \
WASM_BINDGEN_TEST_TIMEOUT=300 \
  cargo test -p shared -p frontend --target wasm32-unknown-unknown --locked

step "console build"
trunk build --offline

step "end-to-end tests in headless Chromium"
cargo nextest run -p system-tests --locked --run-ignored only --no-tests=fail

step "cluster tests on a real Kubernetes cluster"
# One `up` for every scenario; `down` however the tests end, leaving no process, mount, rule or setting behind.
trap 'scripts/k8s-cluster.sh down' EXIT
scripts/k8s-cluster.sh up
# shellcheck disable=SC1091 # written by `up`: KUBECONFIG, the cluster's Docker, kubectl first in PATH
source "${K8S_CACHE_DIR:-/var/cache/upgrade-manager/k8s}/run/env"
# One scenario at a time: they share the one node, and each measures its own upgrade under load.
cargo nextest run -p agent --test api --locked --run-ignored only --test-threads 1 -E 'test(/^kubernetes::/)' \
  --no-tests=fail
trap - EXIT
scripts/k8s-cluster.sh down
