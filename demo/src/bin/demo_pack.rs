//! `demo-pack [--check] [DEMO_DIR]`: rebuilds the demo version packages and bundles from their sources (see
//! `demo::pack`), or with `--check` only reports which committed files differ from what the sources produce.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut check = false;
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: demo-pack [--check] [DEMO_DIR]");
                return Ok(());
            }
            other => dir = PathBuf::from(other),
        }
    }
    let mut stale = 0;
    for (path, bytes) in demo::pack::build_all(&dir)? {
        let same = std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes);
        if same {
            continue;
        }
        if check {
            println!("out of date: {}", path.display());
            stale += 1;
        } else {
            std::fs::write(&path, bytes)?;
            println!("wrote {}", path.display());
        }
    }
    if stale > 0 {
        anyhow::bail!(
            "{stale} file(s) differ from their sources: run `cargo run -p demo --bin demo-pack`"
        );
    }
    Ok(())
}
