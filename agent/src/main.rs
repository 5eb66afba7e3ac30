//! `agent serve`, `agent validate`, `agent users`, `agent supervise` and `agent stop-product`: parses arguments,
//! sets up logging and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use agent::engine::{EngineError, PlatformConfig};
use agent::platform::kubernetes::{KubernetesConfig, SharedVolume};
use agent::platform::local::LocalConfig;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use shared::limits::Limits;

/// The upgrade agent of the zero-downtime upgrade manager.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the console, keep the records, run upgrades.
    ///
    /// The product runs apart from the agent: its replicas and stable addresses are held by a supervisor process
    /// (`agent supervise`, started when none runs for the data dir), so stopping or killing the agent leaves the
    /// product serving, and the next start takes it back. To stop the product on purpose:
    /// `agent stop-product --data-dir <dir>` (or SIGTERM to the pid in `<dir>/platform/supervisor.pid`).
    // Boxed: its many options make it far larger than the other commands' arguments.
    Serve(Box<ServeArgs>),
    /// Check a version package, and a configuration against it, as the console and the agent do.
    Validate(agent::validate::Args),
    /// Add, list and remove accounts, set their passwords and roles.
    Users(agent::users::Args),
    /// Hold the product of a data dir (replicas and stable addresses) apart from the agent; `agent serve` starts it.
    Supervise(DataDirArgs),
    /// Stop the product of a data dir: drain and stop every replica, close the stable addresses, end the supervisor.
    StopProduct(DataDirArgs),
}

/// `agent supervise` and `agent stop-product`.
#[derive(Debug, Args)]
struct DataDirArgs {
    /// The agent's data directory.
    #[arg(long, env = "AGENT_DATA_DIR", default_value = "./.data")]
    data_dir: PathBuf,
}

/// `agent serve`: every option has a default good enough for the demo product.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AGENT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the database and the platform's state (created when missing).
    #[arg(long, env = "AGENT_DATA_DIR", default_value = "./.data")]
    data_dir: PathBuf,
    /// The built console served at /opsconsole/v2/ [default: frontend/dist when it exists].
    #[arg(long, env = "AGENT_CONSOLE_DIR")]
    console_dir: Option<PathBuf>,
    /// Where the applications run (`local`: processes on this machine; `kubernetes`: a cluster).
    #[arg(long, env = "AGENT_PLATFORM", default_value = "local")]
    platform: String,
    /// Kubernetes: the kubeconfig [default: in-cluster, else KUBECONFIG, else ~/.kube/config].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubernetes: the namespace the product runs in (it must exist).
    #[arg(long, env = "AGENT_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Kubernetes, with the agent outside the cluster: the node address it reaches the Services' NodePorts on
    /// [default: none, the agent runs in the cluster and reaches each Service by its DNS name].
    #[arg(long, env = "AGENT_NODE_ADDRESS")]
    node_address: Option<String>,
    /// Kubernetes: the volume mounted at an application's `container.sharedDir`: `hostPath:/dir` or `pvc:<claim>`.
    #[arg(long, env = "AGENT_SHARED_VOLUME")]
    shared_volume: Option<SharedVolume>,
    /// Where application commands such as `demo-app` are found [default: the agent's own directory].
    #[arg(long, env = "AGENT_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// First stable address port of the local platform (application i listens on base + i).
    #[arg(long, env = "AGENT_BASE_PORT", default_value_t = LocalConfig::DEFAULT_BASE_PORT)]
    base_port: u16,
    /// An origin allowed to make state-changing requests besides the agent's own, e.g. http://localhost:5173
    /// (repeat for several).
    #[arg(
        long = "allowed-origin",
        env = "AGENT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Password of the `admin` account created on a first start (generated and printed once when not given).
    #[arg(long, env = "AGENT_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Version package recorded as running on a first start (with --bootstrap-values).
    #[arg(long, env = "AGENT_BOOTSTRAP_PACKAGE", requires = "bootstrap_values")]
    bootstrap_package: Option<PathBuf>,
    /// The values.yaml the bootstrap version runs with.
    #[arg(long, env = "AGENT_BOOTSTRAP_VALUES", requires = "bootstrap_package")]
    bootstrap_values: Option<PathBuf>,
    /// Largest upload in bytes.
    #[arg(long, default_value_t = Limits::default().max_upload_bytes)]
    max_upload_bytes: u64,
    /// Most entries in one ZIP.
    #[arg(long, default_value_t = Limits::default().max_zip_entries)]
    max_zip_entries: u64,
    /// Most bytes inflated from one ZIP in total.
    #[arg(long, default_value_t = Limits::default().max_zip_inflated_bytes)]
    max_zip_inflated_bytes: u64,
    /// Most bytes inflated from one ZIP entry.
    #[arg(long, default_value_t = Limits::default().max_zip_entry_bytes)]
    max_zip_entry_bytes: u64,
    /// Largest YAML document in bytes.
    #[arg(long, default_value_t = Limits::default().max_yaml_bytes)]
    max_yaml_bytes: u64,
    /// Deepest YAML nesting.
    #[arg(long, default_value_t = Limits::default().max_yaml_depth)]
    max_yaml_depth: u32,
    /// Minutes after which an unused session expires.
    #[arg(long, default_value_t = 480)]
    session_idle_minutes: u64,
    /// Mark the session cookie `Secure` (when a TLS proxy fronts the agent; implied by --tls-cert).
    #[arg(long)]
    secure_cookie: bool,
    /// Serve HTTPS with this certificate chain (PEM, the agent's certificate first).
    #[arg(long, env = "AGENT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "AGENT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, env = "AGENT_INSECURE_HTTP")]
    insecure_http: bool,
    /// A file holding the bearer token a Prometheus scraper presents on GET /metrics.
    #[arg(long, env = "AGENT_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The supervisor's log is a file (its stderr): no colour codes there.
    let ansi = !matches!(cli.command, Command::Supervise(_));
    tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Validate(args) => std::process::exit(agent::validate::run(args)),
        Command::Users(args) => std::process::exit(agent::users::run(args)),
        Command::StopProduct(args) => stop_product(&args.data_dir),
        Command::Supervise(args) => supervise(&args.data_dir),
    }
}

/// `agent supervise`: runs until the product is stopped. Four workers whatever the cores: the proxies keep serving
/// while other tasks wait on a replica or the disk.
fn supervise(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Err(e) = runtime.block_on(agent::platform::local::supervisor::run(data_dir)) {
        // One line, the last of its log: the agent that started it quotes it.
        tracing::error!("the supervisor cannot run: {e}");
        std::process::exit(1);
    }
    Ok(())
}

/// `agent stop-product`.
fn stop_product(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let stopped = runtime.block_on(agent::platform::local::stop_product(
        data_dir,
        Duration::from_secs(30),
    ))?;
    if stopped {
        println!("the product of {} is stopped", data_dir.display());
    } else {
        println!("no product runs for {}", data_dir.display());
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Refusals first, so that nothing is created for an agent that will not start.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(agent::tls::ServerTls::load(cert, key)?),
        _ => None,
    };
    if tls.is_none() {
        agent::config::check_plain_http(args.listen, args.insecure_http)?;
    }
    let metrics_token = args
        .metrics_token_file
        .as_deref()
        .map(agent::metrics::MetricsToken::read)
        .transpose()?;
    let console_dir = args.console_dir.or_else(|| {
        let built = PathBuf::from("frontend/dist");
        built.join("index.html").is_file().then_some(built)
    });
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()
            .context("finding the agent's own directory (set --bin-dir)")?
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    let bootstrap = match (args.bootstrap_package, args.bootstrap_values) {
        (Some(package), Some(values)) => Some(agent::config::Bootstrap { package, values }),
        _ => None,
    };
    let config = agent::Config {
        data_dir: args.data_dir.clone(),
        console_dir,
        platform: args.platform.clone(),
        allowed_origins: args.allowed_origins,
        limits: Limits {
            max_upload_bytes: args.max_upload_bytes,
            max_zip_entries: args.max_zip_entries,
            max_zip_inflated_bytes: args.max_zip_inflated_bytes,
            max_zip_entry_bytes: args.max_zip_entry_bytes,
            max_yaml_bytes: args.max_yaml_bytes,
            max_yaml_depth: args.max_yaml_depth,
        },
        admin_password: args.admin_password,
        bootstrap,
        session_idle: Duration::from_secs(args.session_idle_minutes * 60),
        secure_cookie: args.secure_cookie,
        tls,
        metrics_token,
    };
    let platform = match args.platform.as_str() {
        "local" => PlatformConfig::Local(LocalConfig {
            data_dir: args.data_dir.clone(),
            bin_dir,
            base_port: args.base_port,
            agent_program: std::env::current_exe()
                .context("finding the agent's own executable (it runs the supervisor)")?,
        }),
        "kubernetes" => PlatformConfig::Kubernetes(KubernetesConfig {
            kubeconfig: args.kubeconfig.clone(),
            namespace: args.namespace.clone(),
            node_address: args.node_address.clone(),
            shared_volume: args.shared_volume.clone(),
        }),
        other => return Err(EngineError::UnknownPlatform(other.to_string()).into()),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
        let engine = agent::engine::for_platform(&platform).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        agent::serve(listener, config, engine, shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}
