#!/usr/bin/env bash
# The native check of the large chart-shaped bundle (bench/gen_bundle.py, docs/benchmarks.md) by the code of an
# earlier commit and by the working tree, in one run on the same machine, rounds interleaved so that load changes
# hit both alike. Prints each run and the ratio of the medians (now / before). It measures; it never fails on a
# time. It fails only when a step cannot run or a check's report is not ok.
#
#   scripts/bench-before-after.sh BASE_COMMIT [ROUNDS] [RUNS_PER_ROUND]     (defaults 5 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" LC_ALL=C

base="${1:?usage: scripts/bench-before-after.sh BASE_COMMIT [ROUNDS] [RUNS_PER_ROUND]}"
rounds="${2:-5}"
runs="${3:-2}"
out="target/bench-before-after"
mkdir -p "$out"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== bundle"
python3 bench/gen_bundle.py "$out"

# The base builds in its own target directory: cargo names a workspace member's units by their path inside the
# workspace, so in one target directory both sides' `shared` are the same unit, whose recorded sources are those of
# the last side built, and a build of one side can be taken as fresh with the other side's code.
base_target="$PWD/$out/base-target"
# An older run of this script built the base here: its sources must be gone, or cargo may take them for the tree's.
rm -rf "$out/base-src"

echo "== build: the working tree"
cargo build --release --locked -p bench --bin bench 2>&1 | tail -1
cp target/release/bench "$out/bench-now"

echo "== build: $base (its sources from git archive, its own target directory)"
rm -rf "$out/base-src"
mkdir -p "$out/base-src"
git archive "$base" | tar -x -C "$out/base-src"
(cd "$out/base-src" && CARGO_TARGET_DIR="$base_target" cargo build --release --locked -p bench --bin bench 2>&1 | tail -1)
cp "$base_target/release/bench" "$out/bench-before"
cmp -s "$out/bench-before" "$out/bench-now" && { echo "the two builds are the same binary" >&2; exit 1; }

echo "== $rounds rounds of $runs runs each, before then now"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out/before.times"
: >"$out/now.times"
for round in $(seq "$rounds"); do
  for side in before now; do
    "$out/bench-$side" "$out/version.yaml" "$out/bundle.zip" "$runs" >"$out/$side.txt"
    awk '/^native run [0-9]+:/ { print $4 }' "$out/$side.txt" | tee -a "$out/$side.times" |
      sed "s/^/round $round $side: /; s/$/ s/"
  done
done
before=$(median <"$out/before.times")
now=$(median <"$out/now.times")
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median before (%s): %.3f s; median now: %.3f s; now / before = %.3f\n' "$base" "$before" "$now" \
  "$(echo "$now / $before" | bc -l)"
