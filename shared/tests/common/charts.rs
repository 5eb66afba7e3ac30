//! Non-standard bundles in the shape of public Helm charts (issue 11): ingress-nginx, Argo CD, Bitnami Redis and
//! PostgreSQL, and a Prometheus stack with subcharts, each with the overrides an operator really writes. The text
//! is our own: the layout and the kinds of settings follow those charts, no chart file is copied.

use serde_json::json;
use shared::nonstandard::{Online, RunningChart, check_non_standard_config};
use shared::package::{VersionPackage, check_version_package};
use shared::report::{Finding, Report, Severity};
use shared::standard::check_standard_config;

use super::zip::Zip;
use super::{
    GOOD_VALUES, bundle_zip, codes, limits, manifest_text, online, only, template_files,
    zip_package,
};

/// A package that carries no template: the bundle's own chart is the reference, as for a chart O&M brings.
fn chart_package() -> VersionPackage {
    let text = manifest_text("V5.1.2.04", &[], "");
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    package.expect("a package")
}

/// Checks `values` against a chart made of `files` (path under product/dataphin/ → text).
fn check_chart(
    files: &[(&str, &str)],
    values: &str,
    overlays: &[(&str, &str)],
    online: Option<Online<'_>>,
) -> Report {
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
        .collect();
    let bytes = bundle_zip(values, &files, overlays);
    check_non_standard_config(&chart_package(), "bundle.zip", &bytes, online, &limits()).0
}

/// The chart made of `files` as the running version's: its values.yaml.
fn same_chart(files: &[(&str, &str)]) -> RunningChart {
    let (_, text) = files
        .iter()
        .find(|(path, _)| *path == "values.yaml")
        .expect("a values.yaml");
    let values = shared::yaml::parse_mapping("values.yaml", text.as_bytes(), &limits())
        .expect("chart values parse");
    RunningChart::Defaults(values)
}

fn errors_and_warnings(report: &Report) -> Vec<(&str, &str, Severity)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.code.as_str(), f.path.as_deref().unwrap_or(""), f.severity))
        .collect()
}

fn with_path<'a>(report: &'a Report, code: &str, path: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.code == code && f.path.as_deref() == Some(path))
        .unwrap_or_else(|| panic!("{code} at {path}: {report:#?}"))
}

const INGRESS_CHART: &str = "apiVersion: v2\nname: ingress-controller\nversion: 4.11.0\n";

const INGRESS_VALUES: &str = "\
# Values in the shape of an ingress controller chart.
commonLabels: {}
controller:
  name: controller
  image:
    registry: registry.example.com
    image: ingress/controller
    tag: v1.11.0
  replicaCount: 1
  podAnnotations: {}
  nodeSelector:
    kubernetes.io/os: linux
  resources:
    requests:
      cpu: 100m
      memory: 90Mi
  admissionWebhooks:
    enabled: true
  service:
    type: LoadBalancer
    annotations: {}
  extraArgs: {}
defaultBackend:
  enabled: false
";

const INGRESS_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include \"controller.fullname\" . }}
spec:
  replicas: {{ .Values.controller.replicaCount }}
  template:
    spec:
      {{- with .Values.controller.nodeSelector }}
      nodeSelector: {{ toYaml . | nindent 8 }}
      {{- end }}
";

fn ingress_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Chart.yaml", INGRESS_CHART),
        ("values.yaml", INGRESS_VALUES),
        ("templates/controller-deployment.yaml", INGRESS_DEPLOYMENT),
    ]
}

const ARGOCD_VALUES: &str = "\
global:
  domain: argocd.example.com
crds:
  install: true
configs:
  cm:
    create: true
    exec.enabled: false
    admin.enabled: true
  params:
    server.insecure: false
  secret:
    createSecret: true
    githubSecret: \"\"
server:
  replicas: 1
  imagePullPolicy: IfNotPresent
  env: []
";

/// Issue 11, point 3: keys added to open places are accepted and the report says why; typos stay errors with
/// their suggestion; point 8: a misplaced key is pointed to where the chart has it.
pub fn chart_open_places_accept_new_keys_and_typos_stay_errors() {
    let values = "\
controller:
  nodeSelector:
    node-role.kubernetes.io/ingress: \"true\"
  resources:
    limits:
      cpu: \"1\"
      nvidia.com/gpu: 1
  podAnnotations:
    prometheus.io/scrape: \"true\"
  service:
    annotations:
      service.beta.kubernetes.io/aws-load-balancer-type: nlb
commonLabels:
  team: platform
";
    let report = check_chart(&ingress_files(), values, &[], None);
    assert!(report.ok, "{report:#?}");
    let open = with_path(&report, "values-open-key", "controller.nodeSelector");
    assert_eq!(open.severity, Severity::Info);
    assert!(
        open.message.contains("node-role.kubernetes.io/ingress"),
        "{}",
        open.message
    );
    assert!(
        open.message.contains("node selector"),
        "says why: {}",
        open.message
    );
    assert_eq!(open.line, Some(3), "{open:#?}");
    let resources = with_path(&report, "values-open-key", "controller.resources");
    assert!(
        resources.message.contains("limits"),
        "{}",
        resources.message
    );

    let typos = "\
replicaCount: 2
controller:
  replcaCount: 2
  podAnotations:
    a: b
  resources:
    limts:
      cpu: 1
";
    let report = check_chart(&ingress_files(), typos, &[], None);
    let suggestions: Vec<(&str, Option<&str>)> = report
        .with_code("values-unknown-key")
        .map(|f| {
            assert_eq!(f.severity, Severity::Error);
            (
                f.path.as_deref().unwrap(),
                f.details.as_ref().and_then(|d| d["suggestion"].as_str()),
            )
        })
        .collect();
    assert_eq!(
        suggestions,
        [
            (
                "controller.podAnotations",
                Some("controller.podAnnotations")
            ),
            ("controller.replcaCount", Some("controller.replicaCount")),
            (
                "controller.resources.limts",
                Some("controller.resources.limits")
            ),
            ("replicaCount", Some("controller.replicaCount")),
        ],
        "{report:#?}"
    );
    let misplaced = with_path(&report, "values-unknown-key", "replicaCount");
    assert!(
        misplaced
            .message
            .contains("the chart has `replicaCount` at `controller.replicaCount`"),
        "{}",
        misplaced.message
    );

    // Argo CD: configs.cm and configs.params become a ConfigMap's data.
    let values = "\
configs:
  cm:
    url: https://argocd.example.com
    oidc.config: |
      name: SSO
      issuer: https://sso.example.com
    resource.customizations.health.argoproj.io_Application: |
      hs = {}
      return hs
  params:
    server.insecure: true
  secret:
    createSecrt: false
";
    let report = check_chart(
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: argo-cd\nversion: 7.0.0\n",
            ),
            ("values.yaml", ARGOCD_VALUES),
        ],
        values,
        &[],
        None,
    );
    assert_eq!(
        errors_and_warnings(&report),
        [(
            "values-unknown-key",
            "configs.secret.createSecrt",
            Severity::Error
        )],
        "{report:#?}"
    );
    let cm = with_path(&report, "values-open-key", "configs.cm");
    assert!(cm.message.contains("ConfigMap"), "{}", cm.message);
    assert_eq!(
        cm.details.as_ref().unwrap()["keys"],
        json!([
            "oidc.config",
            "resource.customizations.health.argoproj.io_Application",
            "url"
        ])
    );
}

/// Issue 11, point 5: `{}` in the chart expects a map; point 7: a quoted boolean is a warning; point 9: both name
/// file, line and column.
pub fn chart_kinds_empty_map_expects_a_map_and_quoted_booleans_warn() {
    let values = "\
controller:
  podAnnotations: [\"a=b\"]
  resources: []
  admissionWebhooks:
    enabled: \"false\"
commonLabels: platform
";
    let report = check_chart(&ingress_files(), values, &[], None);
    let found: Vec<(&str, Severity, Option<u64>, Option<u64>)> = report
        .with_code("values-type-conflict")
        .map(|f| (f.path.as_deref().unwrap(), f.severity, f.line, f.column))
        .collect();
    assert_eq!(
        found,
        [
            ("commonLabels", Severity::Error, Some(6), Some(1)),
            (
                "controller.podAnnotations",
                Severity::Error,
                Some(2),
                Some(3)
            ),
            ("controller.resources", Severity::Error, Some(3), Some(3)),
            (
                "controller.admissionWebhooks.enabled",
                Severity::Warning,
                Some(5),
                Some(5)
            ),
        ],
        "{report:#?}"
    );
    let quoted = with_path(
        &report,
        "values-type-conflict",
        "controller.admissionWebhooks.enabled",
    );
    assert!(
        quoted.message.starts_with("values.yaml line 5, column 5:"),
        "{}",
        quoted.message
    );
    assert!(
        quoted.message.contains("as true"),
        "says how Helm reads it: {}",
        quoted.message
    );
    let map = with_path(&report, "values-type-conflict", "controller.podAnnotations");
    assert!(map.message.contains("expects a map"), "{}", map.message);
}

/// Issue 11, point 9: unknown keys in a long values file carry their line and column.
pub fn chart_unknown_keys_have_line_and_column() {
    let mut values = String::from("# site overrides\n");
    for i in 0..2000 {
        values.push_str(&format!("# note {i}\n"));
    }
    values.push_str(
        "controller:\n  image:\n    tag: v1.11.1\n    digestt: sha256:0\n  \"replcaCount\": 2\n",
    );
    let report = check_chart(&ingress_files(), &values, &[], None);
    let digest = with_path(&report, "values-unknown-key", "controller.image.digestt");
    assert_eq!(
        (digest.line, digest.column),
        (Some(2005), Some(5)),
        "{digest:#?}"
    );
    assert!(
        digest
            .message
            .starts_with("values.yaml line 2005, column 5:"),
        "{}",
        digest.message
    );
    let quoted = with_path(&report, "values-unknown-key", "controller.replcaCount");
    assert_eq!((quoted.line, quoted.column), (Some(2006), Some(3)));
    // Inside a flow mapping the nearest block-style key is given.
    let report = check_chart(
        &ingress_files(),
        "controller: {image: {tagg: v1}}\n",
        &[],
        None,
    );
    let flow = with_path(&report, "values-unknown-key", "controller.image.tagg");
    assert_eq!((flow.line, flow.column), (Some(1), Some(1)));
}

const PROMETHEUS_CHART: &str = "\
apiVersion: v2
name: monitoring-stack
version: 25.0.0
dependencies:
  - name: alertmanager
    version: 1.11.0
    repository: https://charts.example.com
    condition: alertmanager.enabled
  - name: kube-state-metrics
    version: 5.20.0
    repository: https://charts.example.com
    condition: kube-state-metrics.enabled
  - name: prometheus-node-exporter
    version: 4.36.0
    repository: https://charts.example.com
    condition: prometheus-node-exporter.enabled
  - name: prometheus-pushgateway
    alias: pushgateway
    version: 2.13.0
    repository: https://charts.example.com
  - name: grafana
    version: 8.0.0
    repository: https://charts.example.com
";

const PROMETHEUS_VALUES: &str = "\
alertmanager:
  enabled: true
kube-state-metrics:
  enabled: true
prometheus-node-exporter:
  enabled: true
grafana:
  enabled: false
server:
  retention: 15d
  resources: {}
  persistentVolume:
    size: 8Gi
";

const KSM_VALUES: &str = "\
replicas: 1
image:
  repository: kube-state-metrics/kube-state-metrics
  tag: v2.12.0
collectors:
  - pods
  - nodes
resources: {}
";

/// Issue 11, point 3: values for subcharts are checked against the subchart's values.yaml when the bundle carries
/// it (Chart.yaml dependencies, with alias, and charts/<name>/), and are open otherwise, with the reason.
pub fn chart_subchart_values_follow_the_subchart() {
    let files = [
        ("Chart.yaml", PROMETHEUS_CHART),
        ("values.yaml", PROMETHEUS_VALUES),
        (
            "charts/kube-state-metrics/Chart.yaml",
            "apiVersion: v2\nname: kube-state-metrics\nversion: 5.20.0\n",
        ),
        ("charts/kube-state-metrics/values.yaml", KSM_VALUES),
        (
            "charts/prometheus-pushgateway/values.yaml",
            "replicaCount: 1\nserviceMonitor:\n  enabled: false\n",
        ),
    ];
    let values = "\
alertmanager:
  config:
    global:
      resolve_timeout: 5m
kube-state-metrics:
  replicas: 2
  resources:
    limits:
      memory: 256Mi
prometheus-node-exporter:
  tolerations:
    - operator: Exists
grafana:
  adminPassword: not-shown
pushgateway:
  replicaCount: 2
server:
  retention: 30d
";
    let report = check_chart(&files, values, &[], None);
    assert!(report.ok, "{report:#?}");
    for (place, subchart) in [
        ("alertmanager", "alertmanager"),
        ("grafana", "grafana"),
        ("prometheus-node-exporter", "prometheus-node-exporter"),
    ] {
        let open = with_path(&report, "values-open-key", place);
        assert!(
            open.message.contains(&format!("subchart `{subchart}`")),
            "{}",
            open.message
        );
    }
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.message.contains("not-shown"))
    );

    let typos = "\
kube-state-metrics:
  replcas: 2
pushgateway:
  replicaCont: 2
";
    let report = check_chart(&files, typos, &[], None);
    assert_eq!(
        errors_and_warnings(&report),
        [
            (
                "values-unknown-key",
                "kube-state-metrics.replcas",
                Severity::Error
            ),
            (
                "values-unknown-key",
                "pushgateway.replicaCont",
                Severity::Error
            ),
        ],
        "{report:#?}"
    );
    let typo = with_path(&report, "values-unknown-key", "pushgateway.replicaCont");
    assert_eq!(
        typo.details,
        Some(json!({ "suggestion": "pushgateway.replicaCount" }))
    );
}

const POSTGRESQL_VALUES: &str = "\
global:
  postgresql:
    auth:
      postgresPassword: \"\"
auth:
  enablePostgresUser: true
  postgresPassword: \"\"
  username: \"\"
  existingSecret: \"\"
primary:
  extendedConfiguration: \"\"
  podAnnotations: {}
";

const POSTGRESQL_SCHEMA: &str = r##"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "auth": { "$ref": "#/definitions/auth" },
    "primary": {
      "type": "object",
      "properties": { "podAnnotations": { "type": "object" } },
      "additionalProperties": true
    },
    "architecture": { "type": "string" }
  },
  "definitions": {
    "auth": {
      "type": "object",
      "properties": {
        "postgresPassword": { "type": "string" },
        "database": { "type": "string" }
      },
      "additionalProperties": false
    }
  }
}
"##;

/// Issue 11, point 3: where the chart ships values.schema.json, it decides.
pub fn chart_values_schema_decides() {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: postgresql\nversion: 15.5.0\n",
        ),
        ("values.yaml", POSTGRESQL_VALUES),
        ("values.schema.json", POSTGRESQL_SCHEMA),
    ];
    let values = "\
architecture: replication
auth:
  database: app
  postgressPassword: x
primary:
  sharedBuffers: 256MB
  podAnnotations: [a]
";
    let report = check_chart(&files, values, &[], None);
    assert_eq!(
        errors_and_warnings(&report),
        [
            (
                "values-unknown-key",
                "auth.postgressPassword",
                Severity::Error
            ),
            (
                "values-type-conflict",
                "primary.podAnnotations",
                Severity::Error
            ),
            ("values-unknown-key", "architecture", Severity::Warning),
            ("values-unknown-key", "auth.database", Severity::Warning),
            (
                "values-unknown-key",
                "primary.sharedBuffers",
                Severity::Warning
            ),
        ],
        "{report:#?}"
    );
    let typo = with_path(&report, "values-unknown-key", "auth.postgressPassword");
    assert_eq!(
        typo.details,
        Some(json!({ "suggestion": "auth.postgresPassword" }))
    );
    assert!(
        typo.message
            .contains("values.schema.json does not allow it"),
        "{}",
        typo.message
    );
    let allowed = with_path(&report, "values-unknown-key", "architecture");
    assert!(
        allowed.message.contains("values.schema.json allows it"),
        "{}",
        allowed.message
    );
    // A schema that is not JSON is a warning, and the check goes on with values.yaml.
    let broken = [files[0], files[1], ("values.schema.json", "{ not json")];
    let report = check_chart(&broken, "auth:\n  usename: x\n", &[], None);
    assert_eq!(
        errors_and_warnings(&report),
        [
            ("values-unknown-key", "auth.usename", Severity::Error),
            ("values-schema-invalid", "", Severity::Warning),
        ],
        "{report:#?}"
    );
}

/// Issue 11, point 2: overlays of Go-template files are checked as templates.
pub fn chart_template_overlays_are_checked_as_templates() {
    let edited = INGRESS_DEPLOYMENT.replace(
        "replicas: {{ .Values.controller.replicaCount }}",
        "replicas: {{ .Values.controller.replicaCount }}\n  minReadySeconds: 10",
    );
    let report = check_chart(
        &ingress_files(),
        "",
        &[
            ("templates/controller-deployment.yaml", &edited),
            ("values.yaml", "controller:\n  replicaCount: 2\n"),
        ],
        None,
    );
    assert_eq!(errors_and_warnings(&report), [], "{report:#?}");
    let report = check_chart(
        &ingress_files(),
        "",
        &[("templates/controller-deployment.yaml", INGRESS_DEPLOYMENT)],
        None,
    );
    assert_eq!(
        errors_and_warnings(&report),
        [],
        "an identical copy: {report:#?}"
    );
    let broken = INGRESS_DEPLOYMENT.replace(
        "{{ .Values.controller.replicaCount }}",
        "{{ .Values.controller.replicaCount \"}}\"",
    );
    let report = check_chart(
        &ingress_files(),
        "",
        &[
            ("templates/controller-deployment.yaml", &broken),
            ("templates/extra.yaml", "a: 1\n"),
        ],
        None,
    );
    let invalid = only(&report, "overlay-invalid");
    assert_eq!(
        invalid.file.as_deref(),
        Some("overlay/templates/controller-deployment.yaml")
    );
    assert_eq!(
        (invalid.line, invalid.column),
        (Some(6), Some(13)),
        "{invalid:#?}"
    );
    assert!(
        invalid
            .message
            .starts_with("overlay/templates/controller-deployment.yaml line 6, column 13:"),
        "{}",
        invalid.message
    );
    assert_eq!(
        only(&report, "overlay-target-missing").file.as_deref(),
        Some("overlay/templates/extra.yaml")
    );
}

const REDIS_VALUES: &str = "\
commonAnnotations: {}
auth:
  enabled: true
  password: \"\"
  existingSecret: \"\"
  existingSecretPasswordKey: \"\"
master:
  podAnnotations: {}
extraDeploy: []
";

/// Issue 11, point 6: secrets are masked by what they are, at every depth and in lists; harmless values are not.
pub fn chart_secrets_are_masked_and_harmless_values_shown() {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: redis\nversion: 19.0.0\n",
        ),
        ("values.yaml", REDIS_VALUES),
    ];
    let running = "auth:\n  password: running-pass-1\n  existingSecret: redis-auth\n";
    let new = "\
auth:
  password: new-pass-2
  existingSecret: redis-auth-2
extraDeploy:
  - apiVersion: v1
    kind: Secret
    stringData:
      password: listed-pass-3
  - env:
      - name: GITHUB_TOKEN
        value: gh-token-4
      - name: LOG_LEVEL
        value: debug
master:
  podAnnotations:
    config: |
      issuer: https://sso.example.com
      clientSecret: block-secret-5
";
    let report = check_chart(&files, new, &[], online(running, &same_chart(&files)));
    assert!(report.ok, "{report:#?}");
    let shown = serde_json::to_string(&report).unwrap();
    for secret in [
        "running-pass-1",
        "new-pass-2",
        "listed-pass-3",
        "gh-token-4",
        "block-secret-5",
    ] {
        assert!(!shown.contains(secret), "{secret} is masked: {shown}");
    }
    for harmless in ["redis-auth-2", "debug", "https://sso.example.com"] {
        assert!(shown.contains(harmless), "{harmless} is shown: {shown}");
    }
    let difference = only(&report, "online-config-differs");
    assert!(
        difference.message.contains("redis-auth"),
        "{}",
        difference.message
    );

    // Argo CD: `createSecret: true`, `instanceLabelKey` and an `imagePullPolicy` near secrets are not secrets.
    let values = "configs:\n  secret:\n    createSecret: false\n    githubSecret: gh-secret-6\nserver:\n  imagePullPolicy: Always\n";
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: argo-cd\nversion: 7.0.0\n",
        ),
        ("values.yaml", ARGOCD_VALUES),
    ];
    let report = check_chart(
        &files,
        values,
        &[],
        online(ARGOCD_VALUES, &same_chart(&files)),
    );
    let difference = only(&report, "online-config-differs");
    assert_eq!(
        difference.details.as_ref().unwrap()["changed"],
        json!([
            { "path": "configs.secret.createSecret", "old": true, "new": false },
            { "path": "configs.secret.githubSecret", "old": "******", "new": "******" },
            { "path": "server.imagePullPolicy", "old": "IfNotPresent", "new": "Always" },
        ]),
        "{report:#?}"
    );
}

/// Issue 11, point 10: both sides of the online difference are the chart's defaults merged with the values, so an
/// overrides-only file against the full running values shows only what changes, and a filled `{}` is no removal.
pub fn online_difference_compares_what_helm_uses() {
    let files = ingress_files();
    let chart = same_chart(&files);
    let running_full = INGRESS_VALUES.replace("replicaCount: 1", "replicaCount: 3");
    let overrides = "controller:\n  replicaCount: 3\n  podAnnotations:\n    team: platform\n";
    let report = check_chart(&files, overrides, &[], online(&running_full, &chart));
    let difference = only(&report, "online-config-differs");
    assert_eq!(
        difference.details,
        Some(json!({
            "changed": [],
            "added": [{ "path": "controller.podAnnotations.team", "new": "platform" }],
            "removed": [],
        })),
        "{report:#?}"
    );
    assert!(
        difference
            .message
            .contains("(0 changed, 1 added, 0 removed)"),
        "{}",
        difference.message
    );
    assert_eq!(report.with_code("online-chart-unknown").count(), 0);

    // The `{}` filled on both sides: the key added is the only difference, nothing is "removed".
    let more =
        "controller:\n  replicaCount: 3\n  podAnnotations:\n    team: platform\n    tier: edge\n";
    let report = check_chart(&files, more, &[], online(overrides, &chart));
    assert_eq!(
        only(&report, "online-config-differs").details,
        Some(json!({
            "changed": [],
            "added": [{ "path": "controller.podAnnotations.tier", "new": "edge" }],
            "removed": [],
        })),
        "{report:#?}"
    );
    let report = check_chart(&files, overrides, &[], online(overrides, &chart));
    assert_eq!(
        report.with_code("online-config-differs").count(),
        0,
        "{report:#?}"
    );
}

/// Issue 11, point 10: the running side is merged with the running version's own chart, so a default that changed
/// between the two charts shows; a running chart that is not known is said, and the target's defaults stand in.
pub fn online_difference_takes_each_side_from_its_own_chart() {
    let running_chart_values = INGRESS_VALUES
        .replace("tag: v1.11.0", "tag: v1.10.0")
        .replace("  admissionWebhooks:\n    enabled: true\n", "")
        .replace(
            "defaultBackend:\n  enabled: false\n",
            "defaultBackend:\n  enabled: false\n  minReadySeconds: 0\n",
        );
    let running_chart = same_chart(&[("values.yaml", &running_chart_values)]);
    let overrides = "controller:\n  replicaCount: 3\n";
    let report = check_chart(
        &ingress_files(),
        overrides,
        &[],
        online(overrides, &running_chart),
    );
    assert!(report.ok, "{report:#?}");
    assert_eq!(
        only(&report, "online-config-differs").details,
        Some(json!({
            "changed": [{ "path": "controller.image.tag", "old": "v1.10.0", "new": "v1.11.0" }],
            "added": [{ "path": "controller.admissionWebhooks.enabled", "new": true }],
            "removed": [{ "path": "defaultBackend.minReadySeconds", "old": 0 }],
        })),
        "{report:#?}"
    );
    assert_eq!(report.with_code("online-chart-unknown").count(), 0);

    // Not known: an info that says why, and the target chart's defaults on both sides (the same overrides: no
    // difference to show).
    let unknown = RunningChart::unknown("V5.1.2.02", "is not stored");
    let report = check_chart(
        &ingress_files(),
        overrides,
        &[],
        online(overrides, &unknown),
    );
    let note = only(&report, "online-chart-unknown");
    assert_eq!(note.severity, Severity::Info);
    assert!(
        note.message
            .starts_with("the package of the running version V5.1.2.02 is not stored, so")
            && note.message.contains("target chart's defaults"),
        "{}",
        note.message
    );
    assert_eq!(
        report.with_code("online-config-differs").count(),
        0,
        "{report:#?}"
    );

    // A running package without a chart (its manifest only) says so too.
    let yaml_only = check_version_package(
        "version.yaml",
        manifest_text("V5.1.2.02", &[], "").as_bytes(),
        &limits(),
    )
    .1
    .expect("a package");
    let report = check_chart(
        &ingress_files(),
        overrides,
        &[],
        online(overrides, &RunningChart::of(yaml_only)),
    );
    assert!(
        only(&report, "online-chart-unknown")
            .message
            .contains("V5.1.2.02 carries no chart values.yaml"),
        "{report:#?}"
    );
}

/// Issue 11, point 11: a ZIP of the folder rather than of its contents says so and how to zip.
pub fn zipped_folder_says_how_to_zip() {
    let mut zip = Zip::new().file("my-bundle/values.yaml", GOOD_VALUES.as_bytes());
    for (path, bytes) in template_files() {
        zip = zip.file(&format!("my-bundle/product/dataphin/{path}"), &bytes);
    }
    let bytes = zip.build();
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    assert_eq!(
        codes(&report),
        ["bundle-missing-file", "bundle-missing-file"]
    );
    for finding in &report.findings {
        assert!(
            finding.message.contains("inside the folder `my-bundle/`")
                && finding
                    .message
                    .contains("cd my-bundle && zip -r ../bundle.zip ."),
            "{}",
            finding.message
        );
    }
    let standard = Zip::new()
        .file("conf/values.yaml", GOOD_VALUES.as_bytes())
        .build();
    let (report, _) =
        check_standard_config(&zip_package("V5.1.2.04"), "conf.zip", &standard, &limits());
    assert!(
        only(&report, "bundle-missing-file")
            .message
            .contains("`conf/`"),
        "{report:#?}"
    );
    // Files under two folders: no such hint.
    let two = Zip::new()
        .file("a/values.yaml", b"a: 1\n")
        .file("b/x", b"")
        .build();
    let (report, _) = check_standard_config(&zip_package("V5.1.2.04"), "two.zip", &two, &limits());
    assert!(
        !only(&report, "bundle-missing-file")
            .message
            .contains("folder"),
        "{report:#?}"
    );
}

/// Issue 11, point 12: the report says which template was the reference.
pub fn report_names_the_reference_template() {
    let bytes = bundle_zip(GOOD_VALUES, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    let reference = only(&report, "template-reference");
    assert_eq!(reference.severity, Severity::Info);
    assert_eq!(reference.details, Some(json!({ "reference": "official" })));
    assert!(
        reference
            .message
            .contains("official template of version V5.1.2.04"),
        "{}",
        reference.message
    );
    let yaml_only = {
        let text = manifest_text("V5.1.2.04", &template_files(), "");
        check_version_package("version.yaml", text.as_bytes(), &limits())
            .1
            .unwrap()
    };
    let (report, _) = check_non_standard_config(&yaml_only, "bundle.zip", &bytes, None, &limits());
    let reference = only(&report, "template-reference");
    assert_eq!(reference.details, Some(json!({ "reference": "bundle" })));
    assert!(
        reference.message.contains("bundle's own copy"),
        "{}",
        reference.message
    );
}
