#!/usr/bin/env bash
# Benchmark of the shared checks on a large non-standard configuration bundle (docs/benchmarks.md):
#   1. generates bundle.zip (~50 MB, ~250 MB inflated, ~4,000 files; seeded) and its version package;
#   2. times check_non_standard_config natively (release build);
#   3. times `unzip -t` plus `unzip -d` and `md5sum` of every extracted file, on the same machine;
#   4. times the same check in headless Chromium (wasm, wasm-release profile, as the console ships), in one call
#      and as the console runs it (~40 ms slices with a yield to the browser between them);
#   5. prints the ratios.
# It measures; it never fails on a time. It fails only when a step cannot run or the check's report is not ok.
#
#   scripts/bench-bundle.sh [RUNS]      (default 5; BENCH_SKIP_BROWSER=1 skips step 4;
#                                        BENCH_WASM_PROFILE=release measures opt-level 3 wasm instead)
# The tools extract into tmpfs (/dev/shm) when there is one, so that the disk does not slow them down: the
# comparison is with the tools at their fastest. BENCH_EXTRACT_DIR=DIR extracts under DIR (e.g. on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" LC_ALL=C

runs="${1:-5}"
out="target/bench-bundle"
mkdir -p "$out"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now() { date +%s.%N; }
server_pid=""
if [[ -n "${BENCH_EXTRACT_DIR:-}" ]]; then
  extracted="$BENCH_EXTRACT_DIR/bench-bundle-$$"
elif [[ -d /dev/shm && -w /dev/shm ]]; then
  extracted="/dev/shm/bench-bundle-$$"
else
  extracted="$out/extracted"
fi
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null
  rm -rf "$extracted"
}
trap cleanup EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for tool in python3 unzip md5sum cargo; do
  command -v "$tool" >/dev/null || { echo "bench-bundle: $tool is missing" >&2; exit 2; }
done

say "machine"
echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
unzip -v | sed -n 1p
md5sum --version | sed -n 1p
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows every figure)"

say "1. bundle"
python3 bench/gen_bundle.py "$out"
bundle_mb=$(stat -c %s "$out/bundle.zip" | awk '{ printf "%.1f", $1 / 1e6 }')

say "2. native check (release), $runs runs"
cargo build --release --locked -p bench --bin bench 2>&1 | tail -1
target/release/bench "$out/version.yaml" "$out/bundle.zip" "$runs" | tee "$out/native.txt"
native=$(awk -F= '/^BENCH native_median_seconds=/ { print $2 }' "$out/native.txt")
native_best=$(awk -F= '/^BENCH native_best_seconds=/ { print $2 }' "$out/native.txt")
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f 'native peak memory: %M KiB (one extraction to count bytes, then one check)' \
    target/release/bench "$out/version.yaml" "$out/bundle.zip" 1 >/dev/null
fi
native_digest=$(awk '/^native run 1:/ { print $NF }' "$out/native.txt")

say "3. unzip -t, then unzip -d and md5sum of the extracted files (into $extracted), $runs runs"
: >"$out/test.times"
: >"$out/extract.times"
for run in $(seq "$runs"); do
  rm -rf "$extracted"
  sync # the previous run's writes must not be flushed during this one
  t0=$(now)
  unzip -tq "$out/bundle.zip" >/dev/null
  t1=$(now)
  unzip -q -d "$extracted" "$out/bundle.zip"
  find "$extracted" -type f -print0 | xargs -0 md5sum >/dev/null
  t2=$(now)
  echo "$t1 - $t0" | bc -l >>"$out/test.times"
  echo "$t2 - $t1" | bc -l >>"$out/extract.times"
  printf 'tools run %s: unzip -t %.3f s, unzip -d + md5sum %.3f s\n' "$run" "$(tail -1 "$out/test.times")" \
    "$(tail -1 "$out/extract.times")"
done
unzip_t=$(median <"$out/test.times")
extract_md5=$(median <"$out/extract.times")
tools=$(echo "$unzip_t + $extract_md5" | bc -l)
tools_best=$(paste -d+ "$out/test.times" "$out/extract.times" | bc -l | sort -g | head -1)
tools_digest=$(cd "$extracted/product/dataphin" && find . -type f | sed 's|^\./||' | sort | xargs md5sum | md5sum | cut -d' ' -f1)
printf 'tools: unzip -t %.3f s + unzip -d and md5sum %.3f s = %.3f s at the median\n' "$unzip_t" "$extract_md5" "$tools"
if [[ "$tools_digest" == "$native_digest" ]]; then
  echo "template digest: $tools_digest, the same from md5sum and from the check"
else
  echo "template digest: md5sum gives $tools_digest but the check gives $native_digest" >&2
  exit 1
fi
rm -rf "$extracted"

browser=""
if [[ "${BENCH_SKIP_BROWSER:-0}" != 1 ]]; then
  wasm_profile="${BENCH_WASM_PROFILE:-wasm-release}"
  say "4. the same check in headless Chromium (wasm, $wasm_profile profile), $runs runs"
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
  BENCH_PACKAGE_URL="http://127.0.0.1:$port/version.yaml" \
  BENCH_BUNDLE_URL="http://127.0.0.1:$port/bundle.zip" \
  BENCH_RUNS="$runs" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  WASM_BINDGEN_TEST_TIMEOUT=600 \
    cargo test --locked -p bench --target wasm32-unknown-unknown --profile "$wasm_profile" --test browser \
      -- --nocapture 2>&1 | tee "$out/browser.txt" | grep -E '^(browser|console-style|BENCH|test result|running)' || true
  kill "$server_pid" 2>/dev/null || true
  server_pid=""
  browser=$(awk -F= '/BENCH browser_median_seconds=/ { print $2 }' "$out/browser.txt" | tail -1)
  browser_best=$(awk -F= '/BENCH browser_best_seconds=/ { print $2 }' "$out/browser.txt" | tail -1)
  console=$(awk -F= '/BENCH console_median_seconds=/ { print $2 }' "$out/browser.txt" | tail -1)
  console_best=$(awk -F= '/BENCH console_best_seconds=/ { print $2 }' "$out/browser.txt" | tail -1)
  if [[ -z "$browser" ]]; then
    echo "bench-bundle: the browser run printed no result; see $out/browser.txt" >&2
    exit 1
  fi
fi

say "5. ratios (how many times faster than the tools, at the median and at the best run)"
inflated_mb=$(awk '/^bundle:/ { print $5 }' "$out/native.txt")
row() { # label median best
  printf '%-46s %8.3f %8.3f %9.0f %8.2fx %8.2fx\n' "$1" "$2" "$3" "$(echo "$inflated_mb / $2" | bc -l)" \
    "$(echo "$tools / $2" | bc -l)" "$(echo "$tools_best / $3" | bc -l)"
}
printf '%-46s %8s %8s %9s %9s %9s\n' "" "median s" "best s" "MB/s med" "vs tools" "best vs"
row "unzip -t + unzip -d + md5sum" "$tools" "$tools_best"
row "native check (release)" "$native" "$native_best"
if [[ -n "$browser" ]]; then
  row "browser check (headless Chromium, $wasm_profile)" "$browser" "$browser_best"
  row "browser, as the console slices it" "$console" "$console_best"
fi
echo "bundle: $bundle_mb MB compressed, $inflated_mb MB inflated; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
