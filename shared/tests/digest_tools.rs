//! The template digest and the zip bomb checked against the standard tools an operator has (native only): the
//! digest is what `find | sort | xargs md5sum | md5sum` prints on an extracted copy, and the overlapping-entry bomb
//! built by the shared fixtures is one that Info-ZIP's `unzip` and Python's `zipfile` recognise.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::process::Command;

use shared::package::check_version_package;

fn run_sh(script: &str, dir: &Path) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

#[test]
fn template_digest_matches_md5sum_on_an_extracted_copy() {
    let mut files = common::template_files();
    // Names whose order differs between byte order and a locale's collation.
    files.push((
        "templates/_helpers.tpl".into(),
        b"{{- define \"x\" -}}{{- end -}}\n".to_vec(),
    ));
    files.push(("templates/Zeta.yaml".into(), b"z: 1\n".to_vec()));
    files.push(("templates/alpha-beta.yaml".into(), b"a: 1\n".to_vec()));
    let bytes = common::package_zip(&common::manifest_text("V5.1.2.04", &files, ""), &files);
    let (report, _) = check_version_package("package.zip", &bytes, &common::limits());
    assert!(report.ok, "{report:#?}");
    let digest = report.template_digest.expect("the report shows the digest");

    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("package.zip"), &bytes).expect("write the package");
    let unzip = run_sh("unzip -q package.zip -d extracted", dir.path());
    assert!(
        unzip.status.success(),
        "unzip: {}",
        String::from_utf8_lossy(&unzip.stderr)
    );
    let output = run_sh(
        "cd extracted/product/dataphin && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs md5sum | md5sum",
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        printed.split_whitespace().next(),
        Some(digest.as_str()),
        "md5sum printed {printed}"
    );
}

#[test]
fn overlapping_bomb_fixture_is_what_unzip_and_python_call_a_zip_bomb() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("bomb.zip");
    std::fs::write(&path, common::zip::overlapping_zip_bomb(50, 1 << 20)).expect("write the bomb");
    // Info-ZIP (with the Debian/Ubuntu overlap patch) refuses it by name.
    let unzip = run_sh("unzip -t bomb.zip", dir.path());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&unzip.stdout),
        String::from_utf8_lossy(&unzip.stderr)
    );
    assert!(!unzip.status.success(), "{said}");
    assert!(said.contains("overlapped components"), "{said}");
    // Python's zipfile reads every file of it: each inflates to the later headers plus the 1 MiB kernel, and
    // their CRCs check out, so it is a well-formed bomb and not merely a broken ZIP.
    let python = run_sh(
        "python3 -c \"import zipfile; z = zipfile.ZipFile('bomb.zip'); print(sum(len(z.read(n)) for n in z.namelist()))\"",
        dir.path(),
    );
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let total: u64 = String::from_utf8_lossy(&python.stdout)
        .trim()
        .parse()
        .expect("a number");
    assert!(total > 50 << 20, "{total} bytes inflated");
}
