//! `agent validate`: the checks of the console and the agent, on the command line, for operators' pipelines.
//!
//! It prints one report (formats.md, "The report"): the version package's findings, then the configuration's, the
//! online difference and the zero-downtime decision when asked for. Exit status: 0 when the report is ok
//! (warnings allowed), 1 when it is not, 2 for a usage error or an unreadable file.

use std::path::{Path, PathBuf};

use shared::compat::{Running, zero_downtime};
use shared::limits::Limits;
use shared::nonstandard::{Online, RunningChart, check_non_standard_config};
use shared::package::{VersionPackage, check_version_package};
use shared::report::{Report, Severity};
use shared::standard::check_standard_config;
use shared::version::Version;

/// Exit status when the report is ok.
pub const EXIT_OK: i32 = 0;
/// Exit status when the report has an error.
pub const EXIT_NOT_OK: i32 = 1;
/// Exit status for a usage error or an unreadable file.
pub const EXIT_USAGE: i32 = 2;

/// The kind of configuration given with `--config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A values.yaml, or a ZIP holding one, checked against the version's configuration items.
    Standard,
    /// A ZIP from O&M with the template, overlays and values.yaml.
    NonStandard,
}

/// `agent validate`: check a version package, and optionally a configuration against it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The version package: a version.yaml, or a ZIP with version.yaml and the template.
    #[arg(long, value_name = "P")]
    pub version_package: PathBuf,
    /// A configuration to check against the package (needs --kind).
    #[arg(long, value_name = "C", requires = "kind")]
    pub config: Option<PathBuf>,
    /// What --config is.
    #[arg(long, value_enum, requires = "config")]
    pub kind: Option<Kind>,
    /// The values.yaml running now: adds the online difference (non-standard configurations), merged with the
    /// chart of the package given with --current.
    #[arg(long, value_name = "F", requires = "config")]
    pub online: Option<PathBuf>,
    /// The running version (e.g. V5.1.2.02), or the running version's package file: adds the zero-downtime
    /// decision. With a version number only, every application of the target is taken to exist in it, and the
    /// online difference takes the target chart's defaults for the running side.
    #[arg(long, value_name = "V")]
    pub current: Option<String>,
    /// Print the report as JSON on stdout (exactly the report of formats.md).
    #[arg(long)]
    pub json: bool,
}

/// Why the command could not check anything.
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("--current {0}: {1}")]
    Current(String, String),
    #[error("--online {0} is not UTF-8 text")]
    OnlineNotText(String),
}

/// Runs the command and returns its exit status; the report goes to stdout, usage errors to stderr.
pub fn run(args: Args) -> i32 {
    match validate(&args, &Limits::default()) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("agent validate: {e}");
                        return EXIT_USAGE;
                    }
                }
            } else {
                print!("{}", summary(&report));
            }
            if report.ok { EXIT_OK } else { EXIT_NOT_OK }
        }
        Err(e) => {
            eprintln!("agent validate: {e}");
            EXIT_USAGE
        }
    }
}

/// Everything asked for, as one report.
fn validate(args: &Args, limits: &Limits) -> Result<Report, UsageError> {
    let package_bytes = read(&args.version_package)?;
    let (package_report, package) =
        check_version_package(&file_name(&args.version_package), &package_bytes, limits);
    let mut findings = package_report.findings;
    let mut template_digest = package_report.template_digest;
    let Some(package) = package else {
        return Ok(Report::new(findings, template_digest));
    };

    // The running version, read first: its package's chart is one side of the online difference.
    let (current, current_package) = match &args.current {
        Some(current) => {
            let (running, package) = running(current, limits)?;
            (Some(running), package)
        }
        None => (None, None),
    };
    if let (Some(config), Some(kind)) = (&args.config, args.kind) {
        let bytes = read(config)?;
        let name = file_name(config);
        let online = match &args.online {
            Some(path) => Some(
                String::from_utf8(read(path)?)
                    .map_err(|_| UsageError::OnlineNotText(path.display().to_string()))?,
            ),
            None => None,
        };
        let chart = match &current {
            Some(running) => match current_package {
                Some(package) => RunningChart::of(package),
                None => RunningChart::unknown(
                    &running.version.to_string(),
                    "is not given (--current takes its package file too)",
                ),
            },
            None => RunningChart::Unknown(
                "the running version's package is not given (--current <package file>)".into(),
            ),
        };
        let online = online.as_deref().map(|values| Online {
            values,
            chart: &chart,
        });
        let (config_report, _values) = match kind {
            Kind::Standard => check_standard_config(&package, &name, &bytes, limits),
            Kind::NonStandard => check_non_standard_config(&package, &name, &bytes, online, limits),
        };
        findings.extend(config_report.findings);
        // A non-standard bundle's own template digest is what the operator compares with md5sum.
        template_digest = config_report.template_digest.or(template_digest);
    }

    if let Some(running) = &current {
        match zero_downtime(running, &package.version, &package.manifest) {
            Ok(decision) => findings.extend(decision.reasons),
            Err(not_newer) => findings.push(not_newer),
        }
    }
    Ok(Report::new(findings, template_digest))
}

/// `--current`: a version number, or the running version's package file (then returned too).
fn running(
    current: &str,
    limits: &Limits,
) -> Result<(Running, Option<VersionPackage>), UsageError> {
    let path = Path::new(current);
    if path.is_file() {
        let bytes = read(path)?;
        let (report, package) = check_version_package(&file_name(path), &bytes, limits);
        return package.map(|p| (Running::of(&p), Some(p))).ok_or_else(|| {
            let first = report
                .findings
                .iter()
                .find(|f| f.severity == Severity::Error)
                .map(ToString::to_string)
                .unwrap_or_default();
            UsageError::Current(current.to_string(), format!("not a valid package: {first}"))
        });
    }
    let version = Version::parse(current)
        .map_err(|e| UsageError::Current(current.to_string(), e.to_string()))?;
    // Only the number is known: every application of the target counts as running (the conservative reading).
    Ok((
        Running {
            version,
            applications: None,
        },
        None,
    ))
}

/// The readable summary: one line per finding, then a verdict.
fn summary(report: &Report) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        // `severity[code]: message`; the message names its file, line and column.
        out.push_str(&finding.to_string());
        if let Some(path) = &finding.path {
            out.push_str(&format!(" (at {path})"));
        }
        out.push('\n');
    }
    if let Some(digest) = &report.template_digest {
        out.push_str(&format!("template digest: {digest}\n"));
    }
    let count = |severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    out.push_str(&format!(
        "{}: {} error(s), {} warning(s)\n",
        if report.ok { "ok" } else { "NOT OK" },
        count(Severity::Error),
        count(Severity::Warning)
    ));
    out
}

fn read(path: &Path) -> Result<Vec<u8>, UsageError> {
    std::fs::read(path).map_err(|source| UsageError::Unreadable {
        path: path.display().to_string(),
        source,
    })
}

/// The name findings use for a file: as the operator gave it on the command line.
fn file_name(path: &Path) -> String {
    path.display().to_string()
}
