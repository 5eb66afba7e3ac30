//! Dependency order: an application is deployed after the applications it depends on.

use shared::manifest::{Application, Manifest};

use super::Failure;

/// The applications of `manifest` in dependency order (manifest order among independent ones). A cycle or an
/// unknown dependency is an error naming the application (the shared checks reject such manifests before).
pub fn dependency_order(manifest: &Manifest) -> Result<Vec<&Application>, Failure> {
    let apps = &manifest.applications;
    let mut placed: Vec<&Application> = Vec::with_capacity(apps.len());
    while placed.len() < apps.len() {
        let next = apps.iter().find(|app| {
            !placed.iter().any(|p| p.name == app.name)
                && app
                    .depends_on
                    .iter()
                    .all(|dep| placed.iter().any(|p| &p.name == dep))
        });
        match next {
            Some(app) => placed.push(app),
            None => {
                return Err(Failure::Dependencies {
                    product: manifest.product.clone(),
                    version: manifest.version.clone(),
                    applications: apps
                        .iter()
                        .filter(|a| !placed.iter().any(|p| p.name == a.name))
                        .map(|a| a.name.clone())
                        .collect(),
                });
            }
        }
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(apps: &[(&str, &[&str])]) -> Manifest {
        let applications: Vec<String> = apps
            .iter()
            .map(|(name, deps)| {
                format!(
                    "  - {{name: {name}, replicas: 1, rolling: true, dependsOn: [{}], readiness: {{path: /healthz, timeoutSeconds: 5}}}}\n",
                    deps.join(", ")
                )
            })
            .collect();
        let yaml = format!(
            "version: V1.0.0.1\nproduct: p\napplications:\n{}",
            applications.concat()
        );
        serde_norway::from_str(&yaml).unwrap()
    }

    #[test]
    fn dependencies_come_first_and_independent_ones_keep_manifest_order() {
        let m = manifest(&[
            ("web", &["dataservice", "metadata"]),
            ("dataservice", &["metadata"]),
            ("metadata", &[]),
        ]);
        let names: Vec<&str> = dependency_order(&m)
            .unwrap()
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["metadata", "dataservice", "web"]);
    }

    #[test]
    fn a_cycle_is_an_error_naming_the_applications() {
        let m = manifest(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        let err = dependency_order(&m).unwrap_err().to_string();
        assert_eq!(
            err,
            "p V1.0.0.1: the dependencies of a, b form a cycle or name an unknown application"
        );
    }
}
