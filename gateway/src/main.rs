//! `pincer-gateway`: run the gateway, or operate one (devices, nodes) over the protocol.
#![allow(clippy::result_large_err)] // CLI errors carry the wire error shape, as the library's do

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pincer_gateway::cli::{self, CliError, Target};
use pincer_gateway::state::{Bind, GatewayOptions, Overrides};
use pincer_gateway::Gateway;

#[derive(Parser)]
#[command(name = "pincer-gateway", version, about = "Pincer's headless gateway (OpenClaw Gateway Protocol v4)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground.
    Run(RunArgs),
    /// Manage device pairing on a running gateway.
    Devices {
        #[command(subcommand)]
        action: DevicesAction,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Manage nodes on a running gateway.
    Nodes {
        #[command(subcommand)]
        action: NodesAction,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Send a message to the agent and print its answer as it streams.
    Chat {
        /// The message.
        message: String,
        /// Session key (`main` is the main session).
        #[arg(long, default_value = "main")]
        session: String,
        /// Give up waiting for the answer after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Store or remove an LLM provider's API key in the OS keyring (Keychain, Credential
    /// Manager, Secret Service), so the config file needs no `apiKey`.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Read a key from standard input (not the command line, which shells keep in history) and
    /// store it for `models.providers.<provider>`.
    Set { provider: String },
    /// Remove the stored key of a provider.
    Delete { provider: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum BindArg {
    Loopback,
    Lan,
}

#[derive(Args)]
struct RunArgs {
    /// Port for WebSocket and HTTP (default 18789, or gateway.port from the config).
    #[arg(long)]
    port: Option<u16>,
    /// loopback (127.0.0.1, the default) or lan (all interfaces).
    #[arg(long, value_enum)]
    bind: Option<BindArg>,
    /// Shared token clients must present.
    #[arg(long, env = "PINCER_GATEWAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Use password auth instead of a token.
    #[arg(long, env = "PINCER_GATEWAY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Directory for the state database, logs and approvals (default ~/.pincer).
    #[arg(long, env = "PINCER_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Config file (JSON5, OpenClaw key names; default <state-dir>/pincer.json).
    #[arg(long, env = "PINCER_CONFIG")]
    config: Option<PathBuf>,
    /// Log level (error, warn, info, debug, trace; default logging.level from the config,
    /// else info). RUST_LOG wins when set.
    #[arg(long)]
    log_level: Option<String>,
}

#[derive(Args)]
struct TargetArgs {
    /// Gateway URL.
    #[arg(long, global = true, env = "PINCER_GATEWAY_URL", default_value = "ws://127.0.0.1:18789")]
    url: String,
    /// Gateway token.
    #[arg(long, global = true, env = "PINCER_GATEWAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Gateway password (password auth mode).
    #[arg(long, global = true, env = "PINCER_GATEWAY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum DevicesAction {
    /// List pending and paired devices.
    List,
    /// Approve a pending device pairing request.
    Approve { request_id: String },
    /// Reject a pending device pairing request.
    Reject { request_id: String },
}

#[derive(Subcommand)]
enum NodesAction {
    /// List nodes (paired and connected).
    List,
    /// List pending node pairing requests.
    Pending,
    /// Approve a node's command surface.
    Approve { request_id: String },
    /// Reject a node pairing request.
    Reject { request_id: String },
    /// Show one node.
    Describe {
        /// Node id, id prefix (6+ chars) or display name.
        node: String,
    },
    /// Invoke a command on a node.
    Invoke {
        /// Node id, id prefix (6+ chars) or display name.
        #[arg(long)]
        node: String,
        #[arg(long)]
        command: String,
        /// Command params as JSON.
        #[arg(long, default_value = "{}")]
        params: String,
        /// How long to wait for the node (ms).
        #[arg(long, default_value_t = 30_000)]
        timeout: u64,
    },
}

fn default_state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".pincer")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pincer-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run(args) => runtime.block_on(run(args)),
        Command::Devices { action, target } => {
            let target = Target { url: target.url, token: target.token, password: target.password, json: target.json };
            let action = match action {
                DevicesAction::List => cli::DevicesCmd::List,
                DevicesAction::Approve { request_id } => cli::DevicesCmd::Approve(request_id),
                DevicesAction::Reject { request_id } => cli::DevicesCmd::Reject(request_id),
            };
            report(runtime.block_on(cli::devices(&target, action)))
        }
        Command::Nodes { action, target } => {
            let target = Target { url: target.url, token: target.token, password: target.password, json: target.json };
            let action = match action {
                NodesAction::List => cli::NodesCmd::List,
                NodesAction::Pending => cli::NodesCmd::Pending,
                NodesAction::Approve { request_id } => cli::NodesCmd::Approve(request_id),
                NodesAction::Reject { request_id } => cli::NodesCmd::Reject(request_id),
                NodesAction::Describe { node } => cli::NodesCmd::Describe(node),
                NodesAction::Invoke { node, command, params, timeout } => {
                    cli::NodesCmd::Invoke { node, command, params, timeout_ms: timeout }
                }
            };
            report(runtime.block_on(cli::nodes(&target, action)))
        }
        Command::Chat { message, session, timeout, target } => {
            let target = Target { url: target.url, token: target.token, password: target.password, json: target.json };
            report(runtime.block_on(cli::chat(&target, &session, &message, std::time::Duration::from_secs(timeout))))
        }
        Command::Keys { action } => report(keys(action)),
    }
}

fn keys(action: KeysAction) -> Result<String, CliError> {
    match action {
        KeysAction::Set { provider } => {
            let mut key = String::new();
            std::io::stdin().read_line(&mut key).map_err(|e| CliError::Input(e.to_string()))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(CliError::Input("no key on standard input (e.g. `pincer-gateway keys set openai < key.txt`)".into()));
            }
            pincer_agent::config::store_api_key_in_keyring(&provider, key).map_err(|e| CliError::Input(e.to_string()))?;
            Ok(format!("stored the API key of provider {provider} in the OS keyring"))
        }
        KeysAction::Delete { provider } => {
            pincer_agent::config::delete_api_key_from_keyring(&provider).map_err(|e| CliError::Input(e.to_string()))?;
            Ok(format!("removed the API key of provider {provider} from the OS keyring"))
        }
    }
}

fn report(result: Result<String, CliError>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pincer-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> ExitCode {
    let state_dir = args.state_dir.unwrap_or_else(default_state_dir);
    let config_path = args.config.unwrap_or_else(|| state_dir.join("pincer.json"));
    // Logging starts before the gateway so config errors are logged too; a config that does
    // not load is reported by Gateway::bind below.
    let view = pincer_gateway::config::GatewayConfig::load(&config_path).ok().map(|c| c.view());
    let level = args.log_level.or_else(|| view.as_ref().map(|v| v.log_level.clone())).unwrap_or_else(|| "info".into());
    let log_path = view.and_then(|v| v.log_file);
    let log_file = match pincer_gateway::logging::init(&state_dir, &level, log_path) {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("pincer-gateway: cannot open the log file in {}: {e}", state_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let options = GatewayOptions {
        state_dir,
        config_path,
        overrides: Overrides {
            port: args.port,
            bind: args.bind.map(|b| match b {
                BindArg::Loopback => Bind::Loopback,
                BindArg::Lan => Bind::Lan,
            }),
            token: args.token.filter(|t| !t.is_empty()),
            password: args.password.filter(|p| !p.is_empty()),
        },
        log_file,
    };
    let gateway = match Gateway::bind(options).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("pincer-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = gateway.local_addr() {
        eprintln!("pincer-gateway listening on ws://{addr} (HTTP probes: http://{addr}/healthz)");
    }
    match gateway.serve(pincer_client::stop_signal()).await {
        Ok(()) => {
            tracing::info!("shutdown completed cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pincer-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
