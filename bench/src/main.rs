//! `bench VERSION_PACKAGE BUNDLE_ZIP [RUNS]`: times the non-standard configuration check natively.
//! Run it in release (`cargo run --release -p bench -- ...`); `scripts/bench-bundle.sh` does it all.

use std::time::Instant;

use anyhow::{Context, bail};
use bench::{Summary, check, inflated_bytes, megabytes_per_second, prepare};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (package_path, bundle_path, runs) = match args.as_slice() {
        [package, bundle] => (package, bundle, 5),
        [package, bundle, runs] => (
            package,
            bundle,
            runs.parse()
                .with_context(|| format!("RUNS `{runs}` is not a number"))?,
        ),
        _ => bail!("usage: bench VERSION_PACKAGE BUNDLE_ZIP [RUNS]"),
    };
    let package = std::fs::read(package_path).with_context(|| format!("reading {package_path}"))?;
    let bundle = std::fs::read(bundle_path).with_context(|| format!("reading {bundle_path}"))?;
    let prepared = prepare(package_path, &package)?;
    let inflated = inflated_bytes(&prepared, bundle_path, &bundle)?;
    println!(
        "bundle: {:.1} MB compressed, {:.1} MB inflated; {runs} runs of check_non_standard_config",
        bundle.len() as f64 / 1e6,
        inflated as f64 / 1e6
    );

    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let started = Instant::now();
        let checked = check(&prepared, bundle_path, &bundle)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "native run {run}: {seconds:.3} s, {:.0} MB/s inflated, digest {}",
            megabytes_per_second(inflated, seconds),
            checked.template_digest.as_deref().unwrap_or("(none)")
        );
        times.push(seconds);
    }
    let Some(summary) = Summary::of(&times) else {
        bail!("RUNS must be at least 1")
    };
    for line in summary.lines("native", "native", inflated) {
        println!("{line}");
    }
    Ok(())
}
