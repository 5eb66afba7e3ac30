//! The fuzz targets' harness (`fuzz/harness.rs`) replayed as ordinary tests: every input of the saved corpus
//! (`fuzz/corpus/<target>/`, what `scripts/fuzz.sh` found worth keeping) and every regression
//! (`fuzz/regressions/<target>/<what-broke>`, an input that once crashed, hung or ran out of memory). A panic or a
//! broken invariant fails the test naming the input.

#![cfg(not(target_arch = "wasm32"))]

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `harness` on every file of `fuzz/<kind>/<target>/`; returns how many there were.
fn replay(kind: &str, target: &str, harness: fn(&[u8])) -> usize {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("listing the corpus").path();
        let bytes = std::fs::read(&path).expect("reading a corpus input");
        let run = std::panic::catch_unwind(|| harness(&bytes));
        assert!(run.is_ok(), "{target} fails on {}", path.display());
        count += 1;
    }
    count
}

/// The corpus of a target, which `scripts/fuzz.sh --seed` always fills from the fixtures.
fn replay_corpus(target: &str, harness: fn(&[u8])) {
    let count = replay("corpus", target, harness);
    assert!(
        count > 0,
        "fuzz/corpus/{target} is empty: run scripts/fuzz.sh --seed"
    );
    replay("regressions", target, harness);
}

#[test]
fn the_zip_reader_survives_its_corpus() {
    replay_corpus("zip_reader", harness::zip_reader);
}

#[test]
fn the_yaml_reader_agrees_with_serde_norway_on_its_corpus() {
    replay_corpus("yaml_loader", harness::yaml_loader);
}

/// What real Helm values files and overlays hold, and the mistakes found in them: each is read by shared's reader
/// and by serde_norway (`fuzz/reference_yaml.rs`), which must agree (see `fuzz/harness.rs`).
#[rustfmt::skip]
const TRICKY_YAML: &[(&str, &str)] = &[
    ("block map", "a: 1\nb:\n  c: two\n  d:\n    e: true\n"),
    ("block list", "items:\n  - a\n  - b\n  -\n  - c: 1\n"),
    ("compact list", "key:\n- a\n- b\nnext: 1\n"),
    ("nested lists", "a:\n- - a\n  - b\n- - - c\n"),
    ("list of maps", "env:\n- name: A\n  value: x\n- key: v\n  other: w\n"),
    ("multi-line plain scalar", "a: one\n  two\n\n  three\nb: c\n"),
    ("single quoted", "a: 'it''s # not a comment'\nb: ''\n"),
    ("double quoted escapes", "a: \"tab\\there\\nnew \\u00e9 \\x41 \\\" \\\\ \\/\"\n"),
    ("multi-line quoted", "a: \"one\n  two\n\n  three\\\n  four\"\nb: 'x\n  y'\n"),
    ("literal block", "a: |\n  line 1\n    indented\n  line 3\nb: 1\n"),
    ("literal strip", "a: |-\n  text\n\n\nb: 1\n"),
    ("literal keep", "a: |+\n  text\n\n\nb: 1\n"),
    ("folded", "a: >\n  one\n  two\n\n  three\n    more\n  four\nb: 1\n"),
    ("folded strip", "a: >-\n  one\n  two\n"),
    ("indentation indicator", "a: |2\n    leading spaces\n  less\n"),
    ("block scalar at end without newline", "a: |\n  last"),
    ("trailing blank lines", "a: 1\n\n\n\n"),
    ("flow map and list", "a: {b: 1, c: [x, y, {d: e}], f: }\ng: []\nh: {}\n"),
    ("flow over several lines", "a: [\n  1,\n  2,\n]\nb: {\n  c: d,\n  e: f\n}\n"),
    ("empty values", "a:\nb: \nc: ~\nd: null\ne: Null\nf: NULL\n"),
    ("booleans", "a: true\nb: True\nc: FALSE\nd: yes\ne: on\nf: off\ng: y\n"),
    ("integers", "a: 0x1F\nb: 0o17\nc: -0b101\nd: +5\ne: 007\nf: 1_000\ng: -0\nh: 9223372036854775807\n"),
    ("integers beyond i64", "a: 9223372036854775808\nb: 18446744073709551615\nc: -9223372036854775808\n"),
    ("integers beyond u64", "a: 18446744073709551616\nb: -9223372036854775809\n"),
    ("floats", "a: 1.5\nb: .5\nc: 1.\nd: 1e3\ne: -.inf\nf: .NaN\ng: 1e400\nh: +.5\ni: 6.02E+23\nj: 0.1\n"),
    ("number-like strings", "a: 1.2.3\nb: 1e\nc: 0x\nd: nan\ne: inf\nf: 12:30\ng: 1,000\n"),
    ("scalar keys", "1: a\n2.5: b\ntrue: c\n0x10: d\nno: e\n"),
    ("anchors and aliases", "base: &b\n  x: 1\ncopy: *b\nlist: [&i 3, *i]\n"),
    ("merge key", "base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n"),
    ("merge list", "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n"),
    ("two merge keys in one map", "a: &a {x: 1}\nb:\n  <<: *a\n  <<: {y: 2}\n"),
    ("quoted merge key", "\"<<\": {a: 1}\nb: {'<<': {c: 1}}\n"),
    ("anchor defined twice", "a: &x 1\nb: &x 2\nc: *x\n"),
    ("alias as a key", "&k a: 1\nb: {*k : 2}\n"),
    ("standard tags", "a: !!str 5\nb: !!int \"7\"\nc: !!float 1\nd: !!bool true\ne: !!str\nf: !!int 0x10\n"),
    ("null tag on an empty string", "a: !!null ''\n"),
    ("tags on collections", "a: !!map {b: 1}\nb: !!seq [1]\nc: !!set {x}\nd: !!timestamp 2001-12-14\n"),
    ("custom tags on other kinds", "a: !secret 5\nb: !secret\nc: !secret {d: 1}\n"),
    ("non-specific tag", "a: ! 5\nb: ! x\n"),
    ("standard tag on a value it does not fit", "a: !!bool yes\n"),
    ("custom tag", "a: !secret x\nb: !ref [1, 2]\n"),
    ("binary tag", "a: !!binary aGVsbG8=\n"),
    ("documents", "---\na: 1\n...\n---\nb: 2\n"),
    ("document end then a bare document", "a: 1\n...\nb: 2\n"),
    ("a values file ending with a document marker", "a: 1\n---\n"),
    ("document markers only", "---\n...\n"),
    ("directive", "%YAML 1.2\n---\na: 1\n"),
    ("unknown directive", "%FOO bar\n---\na: 1\n"),
    ("comments everywhere", "# head\na: b # c\nd: e#f\nlist: # after key\n  - x # item\n  # between\n  - y\n# tail"),
    ("comment-only file", "# nothing here\n\n# at all\n"),
    ("empty file", ""),
    ("keys with spaces, dots and colons", "a b: 1\nc.d: 2\na:b: c\n\"x: y\": 1\nhttp://x: 3\n"),
    ("complex key", "? complex key\n: value\n? |\n  block key\n: v\n"),
    ("windows line endings", "a: 1\r\nb:\r\n  - x\r\n  - y\r\nc: |\r\n  text\r\n"),
    ("old mac line endings", "a: 1\rb: 2\r"),
    ("next line character", "a: x\u{85}y\n"),
    ("comment right after a quoted scalar", "a: \"x\"#c\n"),
    ("flow list with a trailing comma", "a: [1, 2,]\nb: {c: 1,}\n"),
    ("flow collection as a key", "[a]: 1\n"),
    ("tabs in values", "a: x\ty\nb: \"\ttab\"\nc:\t1\n"),
    ("byte-order mark", "\u{feff}a: 1\n"),
    ("urls", "url: http://x:80/a?b=c#d\nimage: registry.example.com:5000/app:1.2\n"),
    ("go templates", "a: \"{{ .Values.x }}\"\nb: '{{ include \"x\" . }}'\nc: pre-{{ .Release.Name }}\n"),
    ("unclosed flow list", "a: [1\n"),
    ("bad indentation", "a: 1\n b: 2\n"),
    ("duplicate key", "a: 1\nb:\n  c: 1\n  c: 2\n"),
    ("duplicate key in a flow map", "a: {x: 1, x: 2}\n"),
    ("duplicate numeric keys", "1: a\n1.0: b\n"),
    ("duplicate key before a syntax error", "a: 1\na: 2\nb: [1\n"),
    ("syntax error before a duplicate key", "a: [1\n---\nb: 1\nb: 2\n"),
    ("unknown alias", "a: *missing\n"),
    ("alias to an anchor of an earlier document", "a: &x 1\n---\nb: *x\n"),
    ("merge of a scalar", "a: &s 1\nb:\n  <<: *s\n"),
    ("null key", "~: a\n"),
    ("root is a list", "- a\n- b\n"),
    ("root is a scalar", "just text\n"),
    ("tab indentation", "a:\n\tb: 1\n"),
];

/// Runs the differential check on each named input; fails naming every input the readers disagree on.
fn assert_readers_agree<'a>(inputs: impl IntoIterator<Item = (&'a str, Vec<u8>)>) {
    let disagreements: Vec<&str> = inputs
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| harness::yaml_loader(bytes)).is_err())
        .map(|(name, _)| name)
        .collect();
    assert!(
        disagreements.is_empty(),
        "the readers disagree on: {disagreements:?}"
    );
}

#[test]
fn the_yaml_reader_agrees_with_serde_norway_on_tricky_inputs() {
    assert_readers_agree(
        TRICKY_YAML
            .iter()
            .map(|(name, text)| (*name, text.as_bytes().to_vec())),
    );
}

/// `levels` nested flow lists, or block mappings.
fn nested(levels: usize, flow: bool) -> Vec<u8> {
    if flow {
        format!("a: {}{}\n", "[".repeat(levels), "]".repeat(levels)).into_bytes()
    } else {
        (0..levels)
            .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
            .collect::<String>()
            .into_bytes()
    }
}

/// A "billion laughs": nine aliases of nine aliases of ... of a short list, `levels` deep.
fn laughs(levels: usize) -> Vec<u8> {
    let mut text = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=levels {
        let previous = format!("*l{}", level - 1);
        let items = [previous.as_str(); 9].join(", ");
        text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
    }
    text.into_bytes()
}

#[test]
fn the_yaml_reader_agrees_with_serde_norway_on_hostile_inputs() {
    let big_anchor = format!(
        "a: &a \"{}\"\nb: [{}]\n",
        "x".repeat(60_000),
        vec!["*a"; 100].join(", ")
    );
    assert_readers_agree([
        ("not UTF-8", b"a: 1\nb: \xff\n".to_vec()),
        (
            "not UTF-8 after a byte-order mark",
            b"\xef\xbb\xbfa: \xc3\n".to_vec(),
        ),
        (
            "larger than the limit",
            "a: 1\n".repeat(60_000).into_bytes(),
        ),
        ("127 flow levels", nested(127, true)),
        ("128 flow levels", nested(128, true)),
        ("129 flow levels", nested(129, true)),
        ("200 flow levels", nested(200, true)),
        (
            "200 flow levels then a syntax error",
            [nested(200, true), b"b: [1\n".to_vec()].concat(),
        ),
        ("128 block levels", nested(128, false)),
        ("129 block levels", nested(129, false)),
        ("a few laughs", laughs(3)),
        ("laughs beyond serde_norway's alias limit", laughs(5)),
        ("a billion laughs", laughs(9)),
        ("one big anchor used many times", big_anchor.into_bytes()),
    ]);
}

#[test]
fn the_manifest_check_survives_its_corpus() {
    replay_corpus("manifest", harness::manifest);
}

#[test]
fn key_paths_print_back_for_their_corpus() {
    replay_corpus("key_path", harness::key_path);
}

#[test]
fn the_non_standard_check_survives_its_corpus() {
    replay_corpus("non_standard", harness::non_standard);
}
