//! Version packages ("Upload Version Configuration"): a `version.yaml` alone, or a ZIP with `version.yaml` and the
//! version's standard configuration template under `product/<product>/`; and the template digest.

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};
use serde_json::json;

use crate::archive::{self, Bundle, ZipScan, hex};
use crate::keypath::KeyPath;
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::report::{Finding, Report};
use crate::standard::zipped_folder_hint;
use crate::version::Version;
use crate::yaml::typed::FromYaml;
use crate::yaml::{self, Value};

/// The name of the manifest inside a ZIP package.
pub const MANIFEST_FILE: &str = "version.yaml";

/// The MD5 of the lines `"<md5-hex>  <path>\n"` of every template file sorted by path in byte order: what
/// `cd product/<product> && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum | md5sum` prints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateDigest(pub String);

impl TemplateDigest {
    /// The digest of `(path, md5 hex)` pairs, in any order.
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> TemplateDigest {
        let mut files: Vec<(&str, &str)> = files.into_iter().collect();
        files.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut md5 = Md5::new();
        for (path, file_md5) in files {
            md5.update(file_md5.as_bytes());
            md5.update(b"  ");
            md5.update(path.as_bytes());
            md5.update(b"\n");
        }
        TemplateDigest(hex(&md5.finalize()))
    }
}

impl fmt::Display for TemplateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFile {
    /// MD5 as lowercase hex.
    pub md5: String,
    /// The content, when the package carries it (a ZIP package); `None` when only the manifest lists it.
    pub bytes: Option<Vec<u8>>,
}

/// A version's standard configuration template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Path relative to `product/<product>/` → the file.
    pub files: BTreeMap<String, TemplateFile>,
    /// The template's `values.yaml`, parsed, when the package carries it.
    pub values: Option<Value>,
}

impl Template {
    /// The template digest (formats.md).
    pub fn digest(&self) -> TemplateDigest {
        TemplateDigest::of(
            self.files
                .iter()
                .map(|(path, file)| (path.as_str(), file.md5.as_str())),
        )
    }

    /// Whether the package carries the files themselves (a ZIP package), not only their MD5s.
    pub fn carries_files(&self) -> bool {
        self.files.values().all(|file| file.bytes.is_some()) && !self.files.is_empty()
    }

    /// Moves the template files (those under `product/<product>/`) out of a bundle, and parses their
    /// `values.yaml`.
    pub fn take_from_bundle(
        bundle: &mut Bundle,
        product: &str,
        limits: &Limits,
    ) -> Result<Template, Finding> {
        let prefix = template_prefix(product);
        let paths: Vec<String> = bundle
            .under(&prefix)
            .map(|(path, _)| path.to_string())
            .collect();
        let mut files = BTreeMap::new();
        for path in paths {
            if let Some(entry) = bundle.entries.remove(&format!("{prefix}{path}")) {
                let md5 = entry.md5_hex();
                files.insert(
                    path,
                    TemplateFile {
                        md5,
                        bytes: Some(entry.bytes),
                    },
                );
            }
        }
        let values = match files
            .get("values.yaml")
            .and_then(|file| file.bytes.as_deref())
        {
            Some(bytes) => Some(yaml::parse_mapping(
                &format!("{prefix}values.yaml"),
                bytes,
                limits,
            )?),
            None => None,
        };
        Ok(Template { files, values })
    }
}

/// `product/<product>/`.
pub fn template_prefix(product: &str) -> String {
    format!("product/{product}/")
}

/// A version package that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPackage {
    /// Its manifest.
    pub manifest: Manifest,
    /// `manifest.version`, parsed.
    pub version: Version,
    /// Its template: files with content for a ZIP package, MD5s only for a YAML package whose manifest lists
    /// `template.files`, `None` when the manifest lists none.
    pub template: Option<Template>,
}

impl VersionPackage {
    /// The template digest, when the version has a template.
    pub fn template_digest(&self) -> Option<TemplateDigest> {
        self.template.as_ref().map(Template::digest)
    }
}

/// Checks a version package upload (YAML or ZIP) and returns it when valid.
pub fn check_version_package(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> (Report, Option<VersionPackage>) {
    if !archive::is_zip(file_name, bytes) {
        return match read_manifest(file_name, bytes, limits) {
            Err(findings) => (Report::new(findings, None), None),
            Ok((manifest, version)) => {
                let template = manifest.template.as_ref().map(|listed| {
                    let mut files = BTreeMap::new();
                    for (path, md5) in &listed.files {
                        let md5 = md5.clone();
                        files.insert(path.clone(), TemplateFile { md5, bytes: None });
                    }
                    Template {
                        files,
                        values: None,
                    }
                });
                finish(Vec::new(), manifest, version, template)
            }
        };
    }
    let bundle = ZipScan::open(file_name, bytes, limits).and_then(ZipScan::finish);
    match bundle {
        Ok(bundle) => check_version_package_bundle(bundle, limits),
        Err(finding) => (Report::single(finding), None),
    }
}

/// Checks a ZIP version package already extracted by [`ZipScan`].
pub fn check_version_package_bundle(
    mut bundle: Bundle,
    limits: &Limits,
) -> (Report, Option<VersionPackage>) {
    let Some(entry) = bundle.get(MANIFEST_FILE) else {
        let finding = Finding::error(
            "bundle-missing-file",
            format!(
                "{}: a version package must hold `{MANIFEST_FILE}` at its root{}",
                bundle.file_name,
                zipped_folder_hint(&bundle, MANIFEST_FILE).unwrap_or_default()
            ),
        )
        .in_file(&bundle.file_name);
        return (Report::single(finding), None);
    };
    let (manifest, version) = match read_manifest(MANIFEST_FILE, &entry.bytes, limits) {
        Ok(read) => read,
        Err(findings) => return (Report::new(findings, None), None),
    };
    let template = match Template::take_from_bundle(&mut bundle, &manifest.product, limits) {
        Ok(template) => template,
        Err(finding) => return (Report::single(finding), None),
    };
    let mut findings = Vec::new();
    let listed = manifest
        .template
        .as_ref()
        .map(|t| t.files.clone())
        .unwrap_or_default();
    let difference = FileDifference::between(&listed, &template.files);
    if !difference.is_empty() {
        findings.push(
            Finding::error(
                "package-template-mismatch",
                format!(
                    "{}: the template files under {} differ from `template.files` in {MANIFEST_FILE} ({})",
                    bundle.file_name,
                    template_prefix(&manifest.product),
                    difference.summary()
                ),
            )
            .in_file(&bundle.file_name)
            .with_details(difference.to_json()),
        );
    }
    let template = (!template.files.is_empty() || manifest.template.is_some()).then_some(template);
    finish(findings, manifest, version, template)
}

fn finish(
    findings: Vec<Finding>,
    manifest: Manifest,
    version: Version,
    template: Option<Template>,
) -> (Report, Option<VersionPackage>) {
    let digest = template.as_ref().map(|t| t.digest().0);
    let report = Report::new(findings, digest);
    let package = report.ok.then_some(VersionPackage {
        manifest,
        version,
        template,
    });
    (report, package)
}

/// Parses and checks `version.yaml`: the bounded YAML read (syntax, limits, duplicates), then the typed read of that
/// value (unknown or missing fields, wrong types, located in the text by key path), then the rules of
/// [`Manifest::problems`].
pub fn read_manifest(
    file: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Manifest, Version), Vec<Finding>> {
    let value = yaml::parse_mapping(file, bytes, limits).map_err(|finding| vec![finding])?;
    let text = yaml::checked_text(file, bytes, limits).map_err(|finding| vec![finding])?;
    let manifest = match Manifest::from_yaml(&value, &KeyPath::root()) {
        Ok(manifest) => manifest,
        Err(error) => {
            let mut finding =
                Finding::error("manifest-invalid", format!("{file}: {error}")).in_file(file);
            if !error.path.0.is_empty() {
                finding = finding.with_path(error.path.to_string());
            }
            let mut findings = vec![finding];
            locate(file, text, &mut findings);
            return Err(findings);
        }
    };
    let mut problems = manifest.problems(file);
    locate(file, text, &mut problems);
    match Version::parse(&manifest.version) {
        Ok(version) if problems.is_empty() => Ok((manifest, version)),
        _ => Err(problems),
    }
}

/// Gives the findings of the manifest's rules the line and column of the key they name (or of its nearest ancestor
/// written in block style), as the typed read gives its own: `probes[2].limits.errorRatio` is found in the text.
fn locate(file: &str, text: &str, findings: &mut [Finding]) {
    let paths: Vec<Option<KeyPath>> = findings
        .iter()
        .map(|f| f.path.as_deref().and_then(|p| KeyPath::parse(p).ok()))
        .collect();
    let mut positions = yaml::key_positions(text, paths.iter().flatten()).into_iter();
    for (finding, path) in findings.iter_mut().zip(&paths) {
        if path.is_none() {
            continue;
        }
        if let Some((line, column)) = positions.next().flatten() {
            finding.message = finding.message.replacen(
                &format!("{file}:"),
                &format!("{file} line {line}, column {column}:"),
                1,
            );
            finding.line = Some(line);
            finding.column = Some(column);
        }
    }
}

/// How one set of files differs from another (by path and MD5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileDifference {
    /// In both, with other MD5s.
    pub changed: Vec<String>,
    /// Only in the second.
    pub added: Vec<String>,
    /// Only in the first.
    pub missing: Vec<String>,
}

impl FileDifference {
    /// `expected` (path → MD5) against `found`.
    pub fn between(
        expected: &BTreeMap<String, String>,
        found: &BTreeMap<String, TemplateFile>,
    ) -> FileDifference {
        let mut difference = FileDifference::default();
        for (path, md5) in expected {
            match found.get(path) {
                None => difference.missing.push(path.clone()),
                Some(file) if &file.md5 != md5 => difference.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        difference.added = found
            .keys()
            .filter(|path| !expected.contains_key(*path))
            .cloned()
            .collect();
        difference
    }

    /// Whether the two sets are the same.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.missing.is_empty()
    }

    /// `changed: a; added: b` in words.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (label, paths) in [
            ("changed", &self.changed),
            ("added", &self.added),
            ("missing", &self.missing),
        ] {
            if !paths.is_empty() {
                parts.push(format!("{label}: {}", paths.join(", ")));
            }
        }
        parts.join("; ")
    }

    /// `{"changed": [...], "added": [...], "missing": [...]}` for report details.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "changed": self.changed, "added": self.added, "missing": self.missing })
    }
}
