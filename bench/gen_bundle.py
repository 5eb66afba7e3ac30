#!/usr/bin/env python3
"""Writes the benchmark's large non-standard configuration bundle and its version package.

    python3 bench/gen_bundle.py OUT_DIR [--seed N] [--files N] [--inflated-mb N]

OUT_DIR/bundle.zip   values.yaml + product/dataphin/ (the real-world fixture's chart plus thousands of
                     generated files: configuration, SQL, logs, JSON, and a few incompressible "jars")
                     + overlay/; deflated like `zip -6`.
OUT_DIR/version.yaml the matching version package (manifest only), whose template.files list every
                     template file's MD5, so the check compares the whole template.

Deterministic: the same seed gives the same files (the ZIP's bytes depend only on the zlib version).
The defaults give about 4,000 files, 250 MB inflated and 50 MB compressed, i.e. a ratio near 5, as
configuration bundles with some binaries have.
"""

import argparse
import hashlib
import os
import random
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "shared", "tests", "fixtures", "real-world", "src")
STAMP = (2026, 10, 1, 12, 0, 0)
PRODUCT = "product/dataphin/"
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "de", "an", "or", "el", "us", "ix", "qu", "zo",
             "be", "gri", "fa", "ven"]
# Share of the inflated bytes that is incompressible (already-compressed archives, images, jars).
BINARY_SHARE = 0.066
# Lines per file are drawn from a per-file subset of this many lines: real files repeat themselves.
LINES_PER_FILE_POOL = 350


def line_pool(rng):
    vocab = ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(400)]
    pool = {"yaml": [], "log": [], "sql": [], "json": []}
    for _ in range(1500):
        w = rng.choices(vocab, k=rng.randint(3, 8))
        pool["yaml"].append("  " * rng.randint(0, 4) + w[0] + ": " + " ".join(w[1:]) + "\n")
        pool["log"].append("2026-10-01T12:%02d:%02d.%03dZ INFO  [main] com.example.dataphin.%s - %s\n" % (
            rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999), w[0], " ".join(w[1:])))
        pool["sql"].append("INSERT INTO %s VALUES (%d, '%s');\n" % (w[0], rng.randint(0, 10**4), " ".join(w[1:])))
        pool["json"].append('    {"name": "%s", "value": "%s"},\n' % (w[0], " ".join(w[1:])))
    return pool


def text_file(rng, pool, size):
    lines = rng.sample(pool, LINES_PER_FILE_POOL)
    out, n = [], 0
    while n < size:
        chunk = rng.choices(lines, k=64)
        out.extend(chunk)
        n += sum(len(c) for c in chunk)
    return "".join(out).encode()[:size]


def generated_files(rng, count, inflated):
    """(path under product/dataphin/, bytes) for `count` files adding up to about `inflated` bytes."""
    pool = line_pool(rng)
    binary_total = int(inflated * BINARY_SHARE)
    binaries = max(1, count // 100)
    texts = count - binaries
    # Sizes: log-normal around the mean, like real trees (many small files, a few large ones).
    weights = [rng.lognormvariate(0, 1) for _ in range(texts)]
    scale = (inflated - binary_total) / sum(weights)
    kinds = [("config", "yaml", "yaml"), ("sql", "sql", "sql"), ("logs", "log", "log"), ("data", "json", "json")]
    for i, w in enumerate(weights):
        folder, ext, kind = kinds[i % len(kinds)]
        size = max(64, int(w * scale))
        yield "files/%s/%03d/%s-%05d.%s" % (folder, i // 100, kind, i, ext), text_file(rng, pool[kind], size)
    for i in range(binaries):
        yield "lib/plugin-%03d.jar" % i, rng.randbytes(binary_total // binaries)


def fixture_tree(root):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                yield os.path.relpath(path, root).replace(os.sep, "/"), fh.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20261001)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--inflated-mb", type=float, default=250.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    md5s = {}
    inflated = 0
    entries = 0
    bundle_path = os.path.join(args.out, "bundle.zip")
    with zipfile.ZipFile(bundle_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        def add(name, data):
            nonlocal inflated, entries
            info = zipfile.ZipInfo(name, STAMP)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=6)
            inflated += len(data)
            entries += 1

        with open(os.path.join(FIXTURES, "bundle", "values.yaml"), "rb") as fh:
            add("values.yaml", fh.read())
        template = list(fixture_tree(os.path.join(FIXTURES, "template")))
        generated = generated_files(rng, args.files, int(args.inflated_mb * 1e6))
        for path, data in template + list(generated):
            md5s[path] = hashlib.md5(data).hexdigest()
            add(PRODUCT + path, data)
        for path, data in fixture_tree(os.path.join(FIXTURES, "bundle", "overlay")):
            add("overlay/" + path, data)

    with open(os.path.join(FIXTURES, "version.head.yaml"), encoding="utf-8") as fh:
        head = fh.read()
    with open(os.path.join(args.out, "version.yaml"), "w", encoding="utf-8") as fh:
        fh.write(head)
        fh.write("template:\n  files:\n")
        for path in sorted(md5s):
            fh.write("    %s: %s\n" % (path, md5s[path]))

    size = os.path.getsize(bundle_path)
    print("bundle.zip: %d entries, %.1f MB compressed, %.1f MB inflated (ratio %.2f)" % (
        entries, size / 1e6, inflated / 1e6, inflated / size), file=sys.stderr)


if __name__ == "__main__":
    main()
