//! `version.yaml` is read by `shared::manifest`'s `FromYaml` impls; the agent's own JSON (stored manifests, the
//! local supervisor's wire) by the serde derives of the same structs. Both must read every manifest alike.

#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use shared::limits::Limits;
use shared::manifest::Manifest;
use shared::package::read_manifest;

#[test]
fn every_demo_manifest_reads_the_same_through_both_readers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("tests/fixtures/real-world/version.yaml")];
    for entry in std::fs::read_dir(root.join("../demo/versions/src")).unwrap() {
        files.push(entry.unwrap().path().join("version.yaml"));
    }
    assert!(files.len() >= 4, "{files:?}");
    // What the demo manifests do not write: a probe's limits.
    let limits = "version: V1.0.0.1\nproduct: p\napplications:\n  - { name: a, replicas: 1, rolling: true, \
                  readiness: { path: /h, timeoutSeconds: 5 } }\nprobes:\n  - name: q\n    rate: 0.5\n    \
                  http: { application: a, method: GET, path: / }\n    \
                  limits: { errorRatio: 0.05, p99Ms: 250, windowSeconds: 30 }\n";
    let texts = files
        .iter()
        .map(|file| {
            (
                file.display().to_string(),
                std::fs::read_to_string(file).unwrap(),
            )
        })
        .chain([
            ("probe limits".to_string(), limits.to_string()),
            // Empty values where a list, a mapping or text is expected.
            (
                "empty values".to_string(),
                "version: V1.0.0.1\nproduct: p\napplications:\n  - name: a\n    replicas: 1\n    \
                 rolling: true\n    dependsOn:\n    readiness: { path: /h, timeoutSeconds: 5 }\n    \
                 local: { command: a, args: }\nconfigItems:\n  - key: a\n    description:\nprobes:\n\
                 template:\n  files:\n"
                    .to_string(),
            ),
        ]);
    for (file, text) in texts {
        let (manifest, _) = read_manifest("version.yaml", text.as_bytes(), &Limits::default())
            .unwrap_or_else(|findings| panic!("{file}: {findings:#?}"));
        let derived: Manifest = serde_norway::from_str(&text).unwrap();
        assert_eq!(manifest, derived, "{file}");
        let json = serde_json::to_string(&manifest).unwrap();
        let stored: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(manifest, stored, "{file}");
    }
}
