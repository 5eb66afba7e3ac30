//! Builds the demo product's version packages and non-standard bundles from their sources, byte for byte the same
//! every time (stored entries, sorted, one fixed timestamp), so that the committed ZIPs can be checked against
//! their sources.
//!
//! - `versions/src/<V>/` → `versions/<V>.zip`: `version.yaml` (its `template:` section rewritten with the MD5 of
//!   every template file) and `product/dataphin/...`;
//! - `config/src/<bundle>/` → `config/<bundle>.zip`: `values.yaml`, `overlay/...`, and the template of the version
//!   named in `from-version`, with the bundle's own `product/dataphin/...` files replacing or adding to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::{Error, Result};

/// The product's name in the demo packages.
pub const PRODUCT: &str = "dataphin";

fn io(what: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        what: what.display().to_string(),
        source,
    }
}

/// Every file under `dir`, as path relative to it (with `/`) → bytes, sorted by path.
pub fn files_under(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let path = entry.map_err(io(&current))?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.insert(relative, std::fs::read(&path).map_err(io(&path))?);
            }
        }
    }
    Ok(found)
}

/// `version.yaml` with its `template:` section (which must come last) holding the MD5 of `template`'s files.
pub fn with_template_section(manifest: &str, template: &BTreeMap<String, Vec<u8>>) -> String {
    let head = match manifest.find("\ntemplate:") {
        Some(at) => &manifest[..=at],
        None => manifest,
    };
    let mut text = head.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("template:\n  files:\n");
    for (path, bytes) in template {
        text.push_str(&format!("    {path}: {:x}\n", Md5::digest(bytes)));
    }
    text
}

/// A ZIP of `entries` (path → bytes) with stored entries and a fixed timestamp.
pub fn stored_zip(entries: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    const DOS_TIME: u16 = 0;
    const DOS_DATE: u16 = ((2026 - 1980) << 9) | (1 << 5) | 1;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(data);
        let (size, name_len) = (data.len() as u32, name.len() as u16);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0, 0, DOS_TIME, DOS_DATE] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [0x031Eu16, 20, 0, 0, DOS_TIME, DOS_DATE] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size, count) =
        (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Every file the sources under `demo_dir` produce: path → expected bytes.
pub fn build_all(demo_dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut outputs = BTreeMap::new();
    let versions = demo_dir.join("versions");
    let mut templates = BTreeMap::new();
    for src in subdirs(&versions.join("src"))? {
        let version = src
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let template = files_under(&src.join("product").join(PRODUCT))?;
        let manifest_path = src.join("version.yaml");
        let manifest = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
        let manifest = with_template_section(&manifest, &template);
        let mut entries: BTreeMap<String, Vec<u8>> = template
            .iter()
            .map(|(path, bytes)| (format!("product/{PRODUCT}/{path}"), bytes.clone()))
            .collect();
        entries.insert("version.yaml".into(), manifest.clone().into_bytes());
        outputs.insert(manifest_path, manifest.into_bytes());
        outputs.insert(
            versions.join(format!("{version}.zip")),
            stored_zip(&entries),
        );
        templates.insert(version, template);
    }
    let config = demo_dir.join("config");
    for src in subdirs(&config.join("src"))? {
        let name = src
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let from_path = src.join("from-version");
        let from = std::fs::read_to_string(&from_path).map_err(io(&from_path))?;
        let Some(template) = templates.get(from.trim()) else {
            return Err(Error::Values {
                path: from_path.display().to_string(),
                message: format!("no version package source {} in versions/src", from.trim()),
            });
        };
        let mut entries: BTreeMap<String, Vec<u8>> = template
            .iter()
            .map(|(path, bytes)| (format!("product/{PRODUCT}/{path}"), bytes.clone()))
            .collect();
        for (path, bytes) in files_under(&src)? {
            if path != "from-version" {
                entries.insert(path, bytes);
            }
        }
        outputs.insert(config.join(format!("{name}.zip")), stored_zip(&entries));
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_section_is_replaced_and_lists_md5s_by_path() {
        let mut template = BTreeMap::new();
        template.insert("values.yaml".to_string(), b"a".to_vec());
        let text = with_template_section("version: V1.0.0.1\ntemplate:\n  files: {}\n", &template);
        assert_eq!(
            text,
            "version: V1.0.0.1\ntemplate:\n  files:\n    values.yaml: 0cc175b9c0f1b6a831c399e269772661\n"
        );
    }
}
