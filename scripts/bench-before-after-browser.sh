#!/usr/bin/env bash
# The browser side of scripts/bench-before-after.sh: the check of the large chart-shaped bundle (bench/gen_bundle.py,
# docs/benchmarks.md) in headless Chromium, by the code of an earlier commit and by the working tree, in one run:
# both builds of bench/tests/browser.rs (wasm, profile wasm-release, as the console ships) run in interleaved rounds
# on the same bundle served from 127.0.0.1. Prints each run and the ratio of the medians (now / before) of the one
# call check (`browser`) and of the check as the console slices it (`console-style`). It measures; it never fails
# on a time. It fails only when a step cannot run or a check's report is not ok.
#
#   scripts/bench-before-after-browser.sh BASE_COMMIT [ROUNDS] [RUNS_PER_ROUND]     (defaults 3 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" LC_ALL=C

base="${1:?usage: scripts/bench-before-after-browser.sh BASE_COMMIT [ROUNDS] [RUNS_PER_ROUND]}"
rounds="${2:-3}"
runs="${3:-2}"
out="$PWD/target/bench-before-after"
mkdir -p "$out"
server_pid=""
trap '[[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== bundle"
python3 bench/gen_bundle.py "$out"

# A static server on 127.0.0.1, any free port, that lets the test page (another port) fetch the files.
python3 - "$out" >"$out/server.port" 2>"$out/server.log" <<'PY' &
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
PY
server_pid=$!
for _ in $(seq 50); do [[ -s "$out/server.port" ]] && break; sleep 0.1; done
port=$(cat "$out/server.port")
export BENCH_PACKAGE_URL="http://127.0.0.1:$port/version.yaml"
export BENCH_BUNDLE_URL="http://127.0.0.1:$port/bundle.zip"
export BENCH_RUNS="$runs"

# Builds the browser benchmark in the current directory; prints the test wasm's path.
build() {
  cargo test --locked -p bench --target wasm32-unknown-unknown --profile wasm-release --test browser --no-run \
    --message-format json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "browser" and m.get("executable"):
        print(m["executable"])'
}

# The base builds in its own target directory: cargo names a workspace member's units by their path inside the
# workspace, so in one target directory both sides' `shared` are the same unit, whose recorded sources are those of
# the last side built, and a build of one side can be taken as fresh with the other side's code.
base_target="$out/base-target"
# An older run of this script built the base here: its sources must be gone, or cargo may take them for the tree's.
rm -rf "$out/base-src"

echo "== build: the working tree"
now_wasm=$(build)
cp "$now_wasm" "$out/browser-now.wasm"

echo "== build: $base (its sources from git archive, its own target directory)"
rm -rf "$out/base-src"
mkdir -p "$out/base-src"
git archive "$base" | tar -x -C "$out/base-src"
before_wasm=$(cd "$out/base-src" && CARGO_TARGET_DIR="$base_target" build)
cp "$before_wasm" "$out/browser-before.wasm"
cmp -s "$out/browser-before.wasm" "$out/browser-now.wasm" && { echo "the two builds are the same wasm" >&2; exit 1; }

echo "== $rounds rounds, each side running $runs checks of each kind, before then now"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in browser console-style; do : >"$out/$kind.before.times"; : >"$out/$kind.now.times"; done
for round in $(seq "$rounds"); do
  for side in before now; do
    # The runner reads bench/webdriver.json (headless Chromium's options) from its working directory.
    (cd bench && CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" WASM_BINDGEN_TEST_TIMEOUT=600 \
      wasm-bindgen-test-runner "$out/browser-$side.wasm" --nocapture) >"$out/browser-$side.txt" 2>&1 || {
      cat "$out/browser-$side.txt"
      exit 1
    }
    grep -q 'test result: ok. 1 passed' "$out/browser-$side.txt" || {
      cat "$out/browser-$side.txt"
      exit 1
    }
    for kind in browser console-style; do
      awk -v k="$kind" '$1 == k && $2 == "run" { print $4 }' "$out/browser-$side.txt" |
        tee -a "$out/$kind.$side.times" | sed "s/^/round $round $side $kind: /; s/$/ s/"
    done
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in browser console-style; do
  before=$(median <"$out/$kind.before.times")
  now=$(median <"$out/$kind.now.times")
  printf '%s: median before (%s): %.3f s; median now: %.3f s; now / before = %.3f\n' "$kind" "$base" "$before" \
    "$now" "$(echo "$now / $before" | bc -l)"
done
