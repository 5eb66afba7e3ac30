//! Version packages: import, replace, list, manifest, download, and the shared crate's report on bad ones.

use shared::api::VersionInfo;

use crate::support::{Agent, demo_bytes};

#[tokio::test]
async fn version_packages_are_imported_replaced_listed_and_downloaded_as_uploaded() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;

    let (status, body) = admin.import("versions/V5.1.2.04.zip").await;
    assert_eq!(
        (status, body["version"].as_str(), body["created"].as_bool()),
        (201, Some("V5.1.2.04"), Some(true))
    );
    let (status, body) = admin.import("versions/V5.1.2.04.zip").await;
    assert_eq!(
        (status, body["created"].as_bool()),
        (200, Some(false)),
        "a known version is replaced"
    );
    admin.import("versions/V5.2.0.01.zip").await;

    let versions: Vec<VersionInfo> =
        serde_json::from_value(admin.get_json("/api/v1/versions").await).expect("versions");
    let listed: Vec<(&str, bool)> = versions
        .iter()
        .map(|v| (v.version.as_str(), v.newer_than_running))
        .collect();
    assert_eq!(
        listed,
        [
            ("V5.2.0.01", true),
            ("V5.1.2.04", true),
            ("V5.1.2.02", false)
        ]
    );
    assert!(
        versions
            .iter()
            .all(|v| v.product == "dataphin" && v.has_template && v.template_digest.is_some())
    );

    let manifest = admin.get_json("/api/v1/versions/V5.1.2.04").await;
    assert_eq!(manifest["version"], "V5.1.2.04");
    assert!(
        manifest["applications"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    let package = admin
        .http
        .get(admin.at("/api/v1/versions/V5.1.2.04/package"))
        .send()
        .await
        .expect("package");
    assert_eq!(package.status(), 200);
    assert!(
        package.headers()["content-disposition"]
            .to_str()
            .expect("header")
            .contains("attachment")
    );
    assert_eq!(
        package.bytes().await.expect("bytes").as_ref(),
        demo_bytes("versions/V5.1.2.04.zip").as_slice()
    );

    for path in [
        "/api/v1/versions/V9.9.9.99",
        "/api/v1/versions/V9.9.9.99/package",
    ] {
        let missing = admin.http.get(admin.at(path)).send().await.expect("GET");
        assert_eq!(missing.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn invalid_packages_get_the_shared_crates_report_with_422() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    let cases: [(&str, &[u8]); 3] = [
        ("application/zip", b"PK\x03\x04 this is not really a zip"),
        (
            "application/yaml",
            b"version: V5.1.2.09\nproduct: dataphin\napplications: []\nunknownField: 1\n",
        ),
        ("application/yaml", b"version: [unclosed\n"),
    ];
    for (content_type, bytes) in cases {
        let file_name = if content_type == "application/zip" {
            "package.zip"
        } else {
            "version.yaml"
        };
        let response = admin
            .http
            .post(admin.at("/api/v1/versions"))
            .header("content-type", content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 422, "{}", String::from_utf8_lossy(bytes));
        let report: shared::report::Report = response.json().await.expect("report");
        let (expected, _) = shared::package::check_version_package(
            file_name,
            bytes,
            &shared::limits::Limits::default(),
        );
        assert!(!report.ok);
        assert_eq!(report, expected, "the agent's report is the shared crate's");
    }
    // The file name may come with the upload.
    let named = admin
        .http
        .post(admin.at("/api/v1/versions"))
        .header("content-type", "application/yaml")
        .header(
            "content-disposition",
            "attachment; filename=\"my-version.yaml\"",
        )
        .body(b"version: nonsense\n".to_vec())
        .send()
        .await
        .expect("POST");
    assert_eq!(named.status(), 422);
    let report: shared::report::Report = named.json().await.expect("report");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.file.as_deref() == Some("my-version.yaml")),
        "{report:?}"
    );
    let versions = admin.get_json("/api/v1/versions").await;
    assert_eq!(
        versions.as_array().map(Vec::len),
        Some(1),
        "nothing invalid was stored"
    );
}

#[tokio::test]
async fn uploads_over_the_configured_limit_get_413_and_the_limits_are_published() {
    let agent = Agent::start_with(crate::support::Options {
        args: vec!["--max-upload-bytes".into(), "8192".into()],
        ..crate::support::Options::default()
    })
    .await;
    let admin = agent.admin().await;
    let limits: shared::limits::Limits =
        serde_json::from_value(admin.get_json("/api/v1/limits").await).expect("limits");
    assert_eq!(limits.max_upload_bytes, 8192);
    assert_eq!(
        limits.max_yaml_depth,
        shared::limits::Limits::default().max_yaml_depth
    );

    let too_big = format!("version: V5.1.2.09\n# {}\n", "x".repeat(9000)).into_bytes();
    let response = admin
        .http
        .post(admin.at("/api/v1/versions"))
        .header("content-type", "application/yaml")
        .body(too_big.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.expect("body");
    assert_eq!(body["error"], "too-large");

    let form = reqwest::multipart::Form::new()
        .text("target_version", "V5.1.2.02")
        .text("config_kind", "standard")
        .part(
            "config",
            reqwest::multipart::Part::bytes(too_big).file_name("values.yaml"),
        );
    let response = admin
        .http
        .post(admin.at("/api/v1/upgrades/check"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 413);
}
