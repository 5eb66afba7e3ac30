//! `demo-app --role web|dataservice|metadata`: one replica of the demo product. Everything else comes from the
//! environment the platform sets (see docs/demo.md).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = demo::Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(demo::run(args))?;
    Ok(())
}
