//! What each fuzz target does with one input, shared by the libFuzzer targets (`fuzz_targets/`) and by the replay
//! of the saved corpus and regressions as ordinary tests (`shared/tests/fuzz_replay.rs`).
//!
//! Every function runs a check of `shared` on hostile bytes and asserts what must hold whatever the input: no
//! panic (libFuzzer reports one as a crash), the limits respected, and the invariants an operator relies on (a
//! report is `ok` exactly when it has no error; a key path prints back to itself).

use std::sync::OnceLock;

use shared::archive::{Bundle, BundleEntry, ZipScan};
use shared::keypath::KeyPath;
use shared::limits::Limits;
use shared::package::{VersionPackage, check_version_package};
use shared::report::{Finding, Report, Severity};
use shared::yaml::Value;

#[path = "reference_yaml.rs"]
mod reference_yaml;

/// Smaller than the defaults so that one run stays fast; the checks of the limits themselves are the same code.
pub fn limits() -> Limits {
    Limits {
        max_upload_bytes: 1024 * 1024,
        max_zip_entries: 1000,
        max_zip_inflated_bytes: 16 * 1024 * 1024,
        max_zip_entry_bytes: 8 * 1024 * 1024,
        max_yaml_bytes: 256 * 1024,
        max_yaml_depth: 128,
    }
}

/// A report's `ok` says whether it has an error, and every finding says what it is about.
fn assert_consistent(report: &Report) {
    let has_error = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    assert_eq!(report.ok, !has_error, "ok disagrees with the findings");
    for finding in &report.findings {
        assert!(!finding.code.is_empty(), "a finding without a code");
        assert!(
            !finding.message.is_empty(),
            "{} without a message",
            finding.code
        );
    }
}

/// The ZIP reader: open, inflate step by step, finish; what it extracts stays within the limits.
pub fn zip_reader(data: &[u8]) {
    let limits = limits();
    let Ok(mut scan) = ZipScan::open("fuzz.zip", data, &limits) else {
        return;
    };
    loop {
        match scan.step(64 * 1024) {
            Ok(progress) if progress.finished => break,
            Ok(_) => {}
            Err(_) => return,
        }
    }
    if let Ok(bundle) = scan.finish() {
        assert!(bundle.entries.len() as u64 <= limits.max_zip_entries);
        let total: u64 = bundle.entries.values().map(|e| e.bytes.len() as u64).sum();
        assert!(
            total <= limits.max_zip_inflated_bytes,
            "{total} bytes inflated"
        );
        for (path, entry) in &bundle.entries {
            assert!(
                entry.bytes.len() as u64 <= limits.max_zip_entry_bytes,
                "{path}"
            );
            assert!(
                !path.starts_with('/') && !path.split('/').any(|s| s == ".."),
                "{path}"
            );
        }
    }
}

/// The YAML reader, as a values file (one mapping) and as an overlay (several documents), each compared with the
/// reference reader (`reference_yaml.rs`, the serde_norway-based reader it replaced): a disagreement that is not a
/// [`KNOWN_DIFFERENCES`] entry panics, naming the input and both results.
pub fn yaml_loader(data: &[u8]) {
    let limits = limits();
    let ours = shared::yaml::parse_mapping("values.yaml", data, &limits);
    match &ours {
        Ok(value) => assert!(
            value.as_map().is_some(),
            "a values file that is not a mapping"
        ),
        Err(finding) => assert_eq!(finding.file.as_deref(), Some("values.yaml")),
    }
    compare_yaml(
        "parse_mapping",
        data,
        &outcome(ours.map(|value| vec![value])),
        &reference_outcome(reference_yaml::parse_mapping(data, &limits).map(|value| vec![value])),
    );
    let ours = shared::yaml::parse_documents("overlay/values.yaml", data, &limits);
    compare_yaml(
        "parse_documents",
        data,
        &outcome(ours),
        &reference_outcome(reference_yaml::parse_documents(data, &limits)),
    );
}

/// What a YAML reader made of one input: its documents, or the finding's code and line.
type Outcome = Result<Vec<Value>, (String, Option<u64>)>;

fn outcome(result: Result<Vec<Value>, Finding>) -> Outcome {
    result.map_err(|finding| (finding.code, finding.line))
}

fn reference_outcome(result: Result<Vec<Value>, reference_yaml::Failure>) -> Outcome {
    result.map_err(|failure| (failure.code.to_string(), failure.line))
}

/// The codes whose agreement is checked when both readers refuse an input; syntax errors may be worded and placed
/// differently.
const COMPARED_CODES: [&str; 4] = [
    "yaml-too-complex",
    "yaml-duplicate-key",
    "yaml-not-mapping",
    "yaml-not-utf8",
];

/// Panics unless the two readers agree on `data`: the same values (floats within [`FLOAT_ULPS`]), or both refusing it with
/// the same code when either code is one of [`COMPARED_CODES`], or a [`KNOWN_DIFFERENCES`] entry explaining why not.
fn compare_yaml(entry: &str, data: &[u8], ours: &Outcome, reference: &Outcome) {
    let agree = match (ours, reference) {
        (Ok(ours), Ok(reference)) => {
            ours.len() == reference.len()
                && ours.iter().zip(reference).all(|(a, b)| same_value(a, b))
        }
        (Err((ours, _)), Err((reference, _))) => {
            ours == reference
                || !(COMPARED_CODES.contains(&ours.as_str())
                    || COMPARED_CODES.contains(&reference.as_str()))
        }
        _ => false,
    };
    let text = String::from_utf8_lossy(data);
    if agree || known_difference(&text, ours, reference).is_some() {
        return;
    }
    panic!(
        "{entry} disagrees with serde_norway on the input {text:?}\n  shared:       {ours:?}\n  serde_norway: {reference:?}"
    );
}

/// How many units in the last place a float may be off: shared reads floats with serde_json's reader (the
/// console has it already; core's exact one would add its tables to the wasm), which rounds more than once on
/// long or far-off numbers (`.33333333333333333333` is read 1 ulp high).
const FLOAT_ULPS: u64 = 4;

fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a.is_sign_negative() == b.is_sign_negative()
            && a.to_bits().abs_diff(b.to_bits()) <= FLOAT_ULPS)
}

/// Equal values, except that floats may differ by [`FLOAT_ULPS`] (as values, and as keys written from a float)
/// and NaN equals NaN.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(a), Value::Float(b)) => same_float(*a, *b),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| same_key(ka, kb) && same_value(va, vb))
        }
        _ => a == b,
    }
}

fn same_key(a: &str, b: &str) -> bool {
    a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(a), Ok(b)) if same_float(a, b))
}

/// A difference between shared's reader and serde_norway that is accepted, and why.
struct KnownDifference {
    reason: &'static str,
    applies: fn(text: &str, ours: &Outcome, reference: &Outcome) -> bool,
}

/// The accepted differences. Keep it short: each entry is a place where serde_norway is wrong or stricter than
/// YAML, not a place where the new reader is.
const KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        reason: "an integer of 2^64 and above (or below -2^63): serde_norway hands it to the visitor as a 128-bit \
                 integer, which the reference refuses as a syntax error; shared reads it as a float",
        applies: |text, _ours, reference| {
            syntax_error(reference)
                && text
                    .split(|c: char| c.is_whitespace() || ",[]{}:#".contains(c))
                    .any(beyond_64_bits)
        },
    },
    KnownDifference {
        reason: "NEL, LS and PS (U+0085, U+2028, U+2029): libyaml reads them as line breaks (YAML 1.1), shared \
                 as text (YAML 1.2)",
        applies: |text, _ours, _reference| text.contains(['\u{85}', '\u{2028}', '\u{2029}']),
    },
    KnownDifference {
        reason: "a %TAG directive: shared refuses it with a clear error (no configuration file defines tag \
                 handles); libyaml applies it",
        applies: |text, ours, _reference| {
            syntax_error(ours) && lines(text).any(|line| line.starts_with("%TAG"))
        },
    },
    KnownDifference {
        reason: "a tag on a mapping key (`!secret a: 1`, `? !secret a`): the reference refuses it, shared \
                 drops the tag as it does on values",
        applies: |text, _ours, reference| {
            let Err((code, Some(line))) = reference else {
                return false;
            };
            let text = text.replace("\r\n", "\n");
            let line = lines(&text).nth(*line as usize - 1).unwrap_or("");
            // A tag on the line, before a key's `:` or at its start (`? !t a`).
            let tagged_key = match line.find('!') {
                Some(at) => {
                    line[at..].contains(':')
                        || line
                            .trim_start_matches([' ', '-', '?', '{', '[', ','])
                            .starts_with('!')
                }
                None => false,
            };
            code == "yaml-syntax" && tagged_key
        },
    },
    KnownDifference {
        reason: "a `?` key whose content starts on a later line at the `?`'s own column: libyaml reads that \
                 content as the key, shared as an empty (null) key, which it refuses (whatever the reference then finds \
                 further on)",
        applies: |text, ours, _reference| {
            syntax_error(ours) && lines(text).any(|line| line.trim() == "?")
        },
    },
    KnownDifference {
        reason: "the input itself holds serde_norway's words for its own bounds, which the reference reads in \
                 an error message quoting the input as `yaml-too-complex`",
        applies: |text, _ours, _reference| {
            text.contains("recursion limit exceeded") || text.contains("repetition limit exceeded")
        },
    },
    KnownDifference {
        reason: "both refuse the file on the same line, for different reasons: a line with several problems \
                 (nesting too deep, a duplicate key, a syntax error) has them reported in another order, because \
                 libyaml holds back a line's tokens while a key may still start on it (and past the line, up to \
                 the end of a quoted scalar left open), and serde_norway refuses a key that is a collection \
                 before it notices an alias inside its own anchor. Where one says `yaml-too-complex` and the \
                 other `yaml-syntax`, the file has both problems, at any line",
        applies: |_text, ours, reference| match (ours, reference) {
            (Err((_, Some(a))), Err((_, Some(b)))) if a == b => true,
            // A bound crossed on one side, a syntax error on the other: both are in the file.
            (Err((ours, _)), Err((reference, _))) => {
                let mut codes = [ours.as_str(), reference.as_str()];
                codes.sort_unstable();
                codes == ["yaml-syntax", "yaml-too-complex"]
            }
            _ => false,
        },
    },
    KnownDifference {
        reason: "aliases of aliases: serde_norway also stops (`yaml-too-complex`, no line) once aliases are \
                 followed more than 100 times the document's number of events; shared bounds what aliases copy \
                 by memory (the budget of docs/decisions.md: 20 × the file's size, at least 4 MiB), so it reads \
                 some such files within that bound, or refuses them for another reason found first",
        applies: |text, _ours, reference| {
            matches!(reference, Err((code, None)) if code == "yaml-too-complex")
                && text.contains('*')
        },
    },
    KnownDifference {
        reason: "an anchor name defined twice: serde_norway numbers anchors by how many names it has seen \
                 (`anchors.len()`), so after a redefinition the next new anchor takes a number already used and \
                 an alias may resolve to the wrong node",
        applies: |text, _ours, _reference| {
            let mut names: Vec<&str> = text
                .split('&')
                .skip(1)
                .map(|rest| {
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                        .unwrap_or(rest.len());
                    &rest[..end]
                })
                .filter(|name| !name.is_empty())
                .collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            names.len() < count
        },
    },
    KnownDifference {
        reason: "two float keys of more than 15 significant digits: within FLOAT_ULPS of serde_norway's exact \
                 reading, two such keys may be duplicates on one side and not on the other",
        applies: |text, ours, reference| {
            let duplicate = |outcome: &Outcome| matches!(outcome, Err((code, _)) if code == "yaml-duplicate-key");
            (duplicate(ours) || duplicate(reference))
                && text
                    .split(|c: char| c.is_whitespace() || ",[]{}:#".contains(c))
                    .any(|token| {
                        let digits = token.bytes().filter(u8::is_ascii_digit).count();
                        let fraction = token.contains(['.', 'e', 'E']);
                        digits > 15 && fraction && token.parse::<f64>().is_ok()
                    })
        },
    },
];

fn syntax_error(outcome: &Outcome) -> bool {
    matches!(outcome, Err((code, _)) if code == "yaml-syntax")
}

/// Lines as YAML breaks them (`\r\n`, `\n` or `\r`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
}

/// The reason a disagreement on `text` is accepted, if it is one of [`KNOWN_DIFFERENCES`].
fn known_difference(text: &str, ours: &Outcome, reference: &Outcome) -> Option<&'static str> {
    KNOWN_DIFFERENCES
        .iter()
        .find(|known| (known.applies)(text, ours, reference))
        .map(|known| known.reason)
}

/// A plain scalar serde_norway reads as an integer (decimal, `0x`, `0o` or `0b`, signed) that fits in 128 bits but
/// not in an `i64` or `u64`.
fn beyond_64_bits(token: &str) -> bool {
    let (negative, unsigned) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token.strip_prefix('+').unwrap_or(token)),
    };
    let (radix, digits) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|rest| (radix, rest)))
        .unwrap_or((10, unsigned));
    // Decimal digits after a leading zero are a string (YAML 1.2), as in serde_norway.
    let leading_zero = radix == 10 && digits.len() > 1 && digits.starts_with('0');
    if digits.is_empty() || leading_zero || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    match u128::from_str_radix(digits, radix) {
        Ok(n) if negative => n > 1 << 63,
        Ok(n) => n > u128::from(u64::MAX),
        Err(_) => false,
    }
}

/// A version package that is only its manifest (`version.yaml`).
pub fn manifest(data: &[u8]) {
    let (report, package) = check_version_package("version.yaml", data, &limits());
    assert_consistent(&report);
    assert_eq!(
        report.ok,
        package.is_some(),
        "a package is returned exactly when it is valid"
    );
}

/// Key paths: what parses prints back to a text that parses to the same path.
pub fn key_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = KeyPath::parse(text) {
        let printed = path.to_string();
        assert_eq!(KeyPath::parse(&printed).as_ref(), Ok(&path), "{printed}");
    }
}

/// The demo's V5.1.2.04 package and its good non-standard bundle: the fuzzer's input replaces parts of the bundle.
fn demo() -> &'static (VersionPackage, Bundle) {
    static DEMO: OnceLock<(VersionPackage, Bundle)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let limits = Limits::default();
        let package = include_bytes!("../demo/versions/V5.1.2.04.zip");
        let (report, package) = check_version_package("V5.1.2.04.zip", package, &limits);
        let package = package.unwrap_or_else(|| panic!("the demo package is valid: {report:?}"));
        let bundle = include_bytes!("../demo/config/nonstandard-V5.1.2.04-good.zip");
        let bundle = ZipScan::open("good.zip", bundle, &limits)
            .and_then(ZipScan::finish)
            .expect("the demo bundle is a valid ZIP");
        (package, bundle)
    })
}

/// The non-standard check. The input is up to eight parts separated by NUL bytes: the bundle's `values.yaml`, an
/// overlay's path under `overlay/`, that overlay's text, the values running now, replacements of the chart's
/// `values.yaml` and `Chart.yaml`, its `values.schema.json`, and a subchart's `charts/sub/values.yaml`; missing
/// parts keep the demo bundle's own files.
pub fn non_standard(data: &[u8]) {
    let (package, good) = demo();
    let mut bundle = good.clone();
    let mut parts = data.split(|b| *b == 0);
    let mut put = |path: String, bytes: &[u8]| {
        bundle
            .entries
            .insert(path, BundleEntry::new(bytes.to_vec()));
    };
    if let Some(values) = parts.next() {
        put("values.yaml".into(), values);
    }
    if let (Some(path), Some(text)) = (parts.next(), parts.next()) {
        put(format!("overlay/{}", String::from_utf8_lossy(path)), text);
    }
    let online = parts.next().map(String::from_utf8_lossy);
    if let Some(chart_values) = parts.next() {
        put("product/dataphin/values.yaml".into(), chart_values);
    }
    if let Some(chart) = parts.next() {
        put("product/dataphin/Chart.yaml".into(), chart);
    }
    if let Some(schema) = parts.next() {
        put("product/dataphin/values.schema.json".into(), schema);
    }
    if let Some(subchart) = parts.next() {
        put("product/dataphin/charts/sub/values.yaml".into(), subchart);
    }
    // The running side is merged with the demo version's own chart, the bundle's side with the fuzzed one.
    let running_chart = shared::nonstandard::RunningChart::of(package.clone());
    let online = online.as_deref().map(|values| shared::nonstandard::Online {
        values,
        chart: &running_chart,
    });
    let (report, values) =
        shared::nonstandard::check_non_standard_bundle(package, bundle, online, &limits());
    assert_consistent(&report);
    if report.ok {
        assert!(
            values.is_some(),
            "an ok report comes with the values to run"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_agree_within_a_few_ulps_and_nan_equals_nan() {
        let off = |ulps: u64| Value::Float(f64::from_bits(1f64.to_bits() + ulps));
        let one = off(0);
        assert!(same_value(&one, &off(FLOAT_ULPS)));
        assert!(!same_value(&one, &off(FLOAT_ULPS + 1)));
        assert!(same_value(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
        assert!(same_value(&Value::Float(0.0), &Value::Float(-0.0)));
        assert!(!same_value(&Value::Float(1.0), &Value::Integer(1)));
        let list = |value| Value::List(vec![Value::Map([("a".to_string(), value)].into())]);
        assert!(same_value(&list(one.clone()), &list(off(1))));
        assert!(!same_value(&list(one), &list(off(FLOAT_ULPS + 1))));
        let keyed = |key: &str| Value::Map([(key.to_string(), Value::Null)].into());
        assert!(same_value(
            &keyed("0.33333333333333337"),
            &keyed("0.3333333333333333")
        ));
        assert!(!same_value(&keyed("0.3334"), &keyed("0.3333")));
        assert!(!same_value(&keyed("a"), &keyed("b")));
    }

    #[test]
    fn integers_beyond_64_bits_are_a_known_difference_only_where_serde_norway_refuses() {
        let syntax: Outcome = Err(("yaml-syntax".to_string(), Some(1)));
        let float: Outcome = Ok(vec![Value::Map(
            [("a".to_string(), Value::Float(1.8446744073709552e19))].into(),
        )]);
        for text in [
            "a: 18446744073709551616\n",
            "a: [-9223372036854775809]\n",
            "a: 0x10000000000000000\n",
            "{a: +0b11111111111111111111111111111111111111111111111111111111111111111}",
        ] {
            assert!(
                known_difference(text, &float, &syntax).is_some(),
                "{text:?}"
            );
        }
        for text in [
            "a: 18446744073709551615\n",
            "a: -9223372036854775808\n",
            "a: 018446744073709551616\n",
            "a: 1e30\n",
            "a: x18446744073709551616\n",
        ] {
            assert!(
                known_difference(text, &float, &syntax).is_none(),
                "{text:?}"
            );
        }
        let duplicate: Outcome = Err(("yaml-duplicate-key".to_string(), Some(2)));
        assert!(known_difference("a: 18446744073709551616\n", &float, &duplicate).is_none());
    }
}
