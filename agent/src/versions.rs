//! Stored version packages (bytes as uploaded, with their manifest) and the running deployment.

use rusqlite::{Connection, OptionalExtension, params};
use shared::api::VersionInfo;
use shared::manifest::Manifest;

use crate::checks::{self, CheckedPackage};
use crate::db;
use crate::engine::Deployment;
use crate::{Error, Result};

/// A stored package, bytes as uploaded.
#[derive(Debug, Clone)]
pub struct StoredPackage {
    /// The file name it was uploaded with.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Stores a checked package; returns true when the version is new, false when it replaced a stored one.
pub fn import(
    conn: &Connection,
    package: &CheckedPackage,
    file_name: &str,
    bytes: &[u8],
) -> Result<bool> {
    let manifest = package.manifest();
    let version = checks::normalize_version(&manifest.version);
    let manifest_json =
        serde_json::to_string(manifest).map_err(|e| Error::Database(e.to_string()))?;
    let existed: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM versions WHERE version = ?1)",
        [&version],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO versions (version, product, manifest, file_name, package, has_template, template_digest,
                               imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (version) DO UPDATE SET product = excluded.product, manifest = excluded.manifest,
             file_name = excluded.file_name, package = excluded.package, has_template = excluded.has_template,
             template_digest = excluded.template_digest, imported_at = excluded.imported_at",
        params![
            version,
            manifest.product,
            manifest_json,
            file_name,
            bytes,
            package.has_template(),
            package.template_digest(),
            db::now()
        ],
    )?;
    Ok(!existed)
}

/// Every stored version, newest first, with whether it is newer than `running`.
pub fn list(conn: &Connection, running: Option<&str>) -> Result<Vec<VersionInfo>> {
    let mut stmt = conn.prepare(
        "SELECT version, product, imported_at, has_template, template_digest FROM versions",
    )?;
    let mut versions = stmt
        .query_map([], |r| {
            Ok(VersionInfo {
                version: r.get(0)?,
                product: r.get(1)?,
                imported_at: r.get(2)?,
                has_template: r.get(3)?,
                template_digest: r.get(4)?,
                newer_than_running: false,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for v in &mut versions {
        v.newer_than_running = running.is_some_and(|running| checks::newer(&v.version, running));
    }
    versions.sort_by(|a, b| {
        if checks::newer(&a.version, &b.version) {
            std::cmp::Ordering::Less
        } else if checks::newer(&b.version, &a.version) {
            std::cmp::Ordering::Greater
        } else {
            a.version.cmp(&b.version)
        }
    });
    Ok(versions)
}

/// The manifest of a stored version.
pub fn manifest(conn: &Connection, version: &str) -> Result<Option<Manifest>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT manifest FROM versions WHERE version = ?1",
            [checks::normalize_version(version)],
            |r| r.get(0),
        )
        .optional()?;
    json.map(|j| {
        serde_json::from_str(&j)
            .map_err(|e| Error::Database(format!("stored manifest of {version}: {e}")))
    })
    .transpose()
}

/// The stored package of a version, bytes as uploaded.
pub fn package(conn: &Connection, version: &str) -> Result<Option<StoredPackage>> {
    Ok(conn
        .query_row(
            "SELECT file_name, package FROM versions WHERE version = ?1",
            [checks::normalize_version(version)],
            |r| {
                Ok(StoredPackage {
                    file_name: r.get(0)?,
                    bytes: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// The running version and its values, when a deployment is recorded.
pub fn running(conn: &Connection) -> Result<Option<(String, String)>> {
    Ok(conn
        .query_row(
            "SELECT version, vals FROM deployment WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The running deployment with its manifest.
pub fn running_deployment(conn: &Connection) -> Result<Option<Deployment>> {
    let Some((version, values)) = running(conn)? else {
        return Ok(None);
    };
    let manifest = manifest(conn, &version)?.ok_or_else(|| {
        Error::Database(format!(
            "the running version {version} has no stored package"
        ))
    })?;
    Ok(Some(Deployment { manifest, values }))
}

/// Records what runs now.
pub fn set_running(conn: &Connection, version: &str, values: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO deployment (id, version, vals) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, vals = excluded.vals",
        params![checks::normalize_version(version), values],
    )?;
    Ok(())
}
