#!/usr/bin/env bash
# Installs what building, running and testing the project needs, skipping what is already there.
# Safe to run again and again; used by scripts/run.sh and scripts/test.sh.
#   scripts/setup.sh          everything (toolchain pieces, console tools, browser, the API fuzzer)
#   scripts/setup.sh --run    only what running needs (no browser, no API fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
[[ "${1:-}" == "--run" ]] && want_browser=0

TRUNK_VERSION=0.21.14
# schemathesis (scripts/api-fuzz.sh), from PyPI into a virtual environment kept outside the repository.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=/var/cache/upgrade-manager/schemathesis-venv
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]]; then
  say "installing trunk $TRUNK_VERSION (about 13 minutes on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: one of its locked dependencies is missing from the registry mirror.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

apt_packages=()
command -v unzip >/dev/null || apt_packages+=(unzip)
command -v zip >/dev/null || apt_packages+=(zip)
command -v brotli >/dev/null || apt_packages+=(brotli) # scripts/console-size.sh
if [[ $want_browser == 1 ]]; then
  [[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
  [[ -x /usr/bin/chromedriver ]] || apt_packages+=(chromium-driver)
  command -v 7z >/dev/null || apt_packages+=(p7zip-full)
  # scripts/api-fuzz.sh: python3 with venv for schemathesis, curl and jq to log on and prepare data.
  command -v python3 >/dev/null || apt_packages+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
  command -v curl >/dev/null || apt_packages+=(curl)
  command -v jq >/dev/null || apt_packages+=(jq)
fi
if (( ${#apt_packages[@]} )); then
  say "installing ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
fi

if [[ $want_browser == 1 &&
      "$("$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV"
  as_root mkdir -p "$SCHEMATHESIS_VENV"
  as_root chown "$(id -u):$(id -g)" "$SCHEMATHESIS_VENV"
  python3 -m venv --clear "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

say "ready"
