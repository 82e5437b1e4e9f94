//! `pincer-node`: the headless node host. `pincer-node run --url ws://HOST:PORT --token T`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use pincer_node::approvals::{ExecGate, TerminalPrompter};
use pincer_node::capabilities::{camera, location};
use pincer_node::credentials::SecretBackend;
use pincer_node::{settings, standard_commands, NodeConfig, NodeEvents, NodeHost, Services, SetupCode, SharedAuth};

#[derive(Parser)]
#[command(
    name = "pincer-node",
    version,
    about = "Pincer's node host: pairs with an OpenClaw-protocol gateway and serves this machine's commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to a gateway and serve commands until stopped (Ctrl-C / SIGTERM).
    Run(RunArgs),
    /// Print this node's device id (what `openclaw nodes list` shows) and exit.
    Id {
        #[arg(long, env = "PINCER_NODE_STATE_DIR")]
        state_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Secrets::Auto)]
        secrets: Secrets,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Secrets {
    /// The OS keyring, or a 0600 file in the state dir when there is none.
    Auto,
    /// Always the 0600 file in the state dir.
    File,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Gateway URL, e.g. ws://127.0.0.1:18789 or wss://gateway.example:18789.
    #[arg(long, env = "PINCER_GATEWAY_URL", required_unless_present = "setup_code")]
    url: Option<String>,
    /// Shared gateway token (gateway.auth.token).
    #[arg(long, env = "PINCER_GATEWAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Gateway password (gateway.auth.password).
    #[arg(long, env = "PINCER_GATEWAY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Single-use bootstrap token from the gateway's setup code.
    #[arg(long, hide_env_values = true)]
    bootstrap_token: Option<String>,
    /// Setup code (`openclaw qr`): carries the URL and a bootstrap token.
    #[arg(long)]
    setup_code: Option<String>,
    /// Pin the gateway's TLS certificate by SHA-256 (for self-signed wss:// gateways).
    #[arg(long)]
    tls_fingerprint: Option<String>,
    /// Where the node keeps its settings, approvals and audit log (and its identity when no keyring).
    #[arg(long, env = "PINCER_NODE_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// The name gateways show for this node.
    #[arg(long)]
    name: Option<String>,
    /// Offer screen.snapshot / screen.record (also `capabilities.screen` in node.json).
    #[arg(long)]
    enable_screen: bool,
    /// Offer camera.list / snap / clip.
    #[arg(long)]
    enable_camera: bool,
    /// Offer location.get.
    #[arg(long)]
    enable_location: bool,
    #[arg(long, value_enum, default_value_t = Secrets::Auto)]
    secrets: Secrets,
    /// Log filter (RUST_LOG syntax), e.g. info or pincer_node=debug.
    #[arg(long, env = "PINCER_LOG", default_value = "info")]
    log_level: String,
}

fn default_state_dir() -> PathBuf {
    let home =
        std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".pincer").join("node")
}

fn secret_backend(s: Secrets) -> SecretBackend {
    match s {
        Secrets::Auto => SecretBackend::Auto,
        Secrets::File => SecretBackend::File,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pincer-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run(args)),
        Command::Id { state_dir, secrets } => print_id(state_dir.unwrap_or_else(default_state_dir), secret_backend(secrets)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pincer-node: {message}");
            ExitCode::from(2)
        }
    }
}

fn print_id(state_dir: PathBuf, secrets: SecretBackend) -> Result<(), String> {
    init_logging("warn")?;
    pincer_statefile::ensure_private_state_dir(&state_dir).map_err(|e| format!("state dir {}: {e}", state_dir.display()))?;
    let store = pincer_node::credentials::open_secret_store(&state_dir, secrets);
    let identity = pincer_node::credentials::load_or_create_identity(store.as_ref()).map_err(|e| e.to_string())?;
    println!("{}", identity.device_id());
    Ok(())
}

fn init_logging(filter: &str) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("--log-level: {e}"))?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), String> {
    init_logging(&args.log_level)?;
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    let (url, bootstrap_token) = match &args.setup_code {
        Some(code) => {
            let setup = SetupCode::parse(code).map_err(|e| format!("--setup-code: {e}"))?;
            (args.url.clone().unwrap_or(setup.url), Some(setup.bootstrap_token))
        }
        None => (args.url.clone().unwrap_or_default(), args.bootstrap_token.clone()),
    };
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(format!("--url must start with ws:// or wss:// (got {url:?})"));
    }
    let file = settings::load(&state_dir).map_err(|e| e.to_string())?;
    let mut capabilities: pincer_node::capabilities::CapabilitySettings = file.capabilities.into();
    capabilities.screen |= args.enable_screen;
    capabilities.camera |= args.enable_camera;
    capabilities.location |= args.enable_location;

    let mut config = NodeConfig::new(url, &state_dir);
    config.auth = SharedAuth { token: args.token.clone(), password: args.password.clone(), bootstrap_token };
    config.tls_fingerprint = args.tls_fingerprint.clone();
    if let Some(name) = args.name.clone().or(file.display_name) {
        config.display_name = name;
    }
    config.secrets = secret_backend(args.secrets);
    config.capabilities = capabilities;
    if config.auth.is_empty() {
        tracing::warn!("no --token, --password or --setup-code: only a device token stored from an earlier pairing can authenticate");
    }

    let gate = ExecGate::open(&state_dir, Arc::new(TerminalPrompter)).map_err(|e| e.to_string())?;
    let (events, outgoing) = NodeEvents::channel();
    let services = Services {
        gate: Arc::new(gate),
        events: events.clone(),
        settings: capabilities,
        camera: Arc::new(camera::NativeCameras),
        location: Arc::from(location::default_provider()),
    };
    let registry = standard_commands(&services);
    let host = NodeHost::new(config, registry, (events, outgoing)).map_err(|e| e.to_string())?;
    tracing::info!(node_id = %host.node_id(), state_dir = %state_dir.display(), "pincer-node starting");
    host.run(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    pincer_client::stop_signal().await;
    tracing::info!("stopping");
}
