//! Command-line interface. Every setting can come from a flag, a `SWITCHBOARD_*` environment variable or
//! the TOML file given with `--config`, in that order of precedence.

use crate::admin::AdminCommand;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use switchboard_server::config::{EXAMPLE_TOML, LogFormat};
use switchboard_server::{Application, Config, ConfigOverrides};

/// switchboard: one self-hosted server for a small business's contacts and appointments.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every command (they all need the database).
#[derive(Debug, Args)]
pub struct Settings {
    /// TOML configuration file (see `switchboard config example`).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and generated key files [default: ./data]
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER:PASS@HOST/DB [default: sqlite://<data-dir>/switchboard.db]
    #[arg(long, global = true, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Maximum database connections [default: 16]
    #[arg(long, global = true, env = "SWITCHBOARD_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    pub database_max_connections: Option<u32>,
    /// Log format: human or json [default: human]
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Access-token signing secret, at least 32 characters [default: generated into <data-dir>/jwt.key]
    #[arg(long, global = true, env = "SWITCHBOARD_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Encryption key for stored third-party tokens, 64 hex characters [default: generated into <data-dir>/secret.key]
    #[arg(long, global = true, env = "SWITCHBOARD_SECRET_KEY", value_name = "HEX", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Google OAuth client id (Google Cloud console → Credentials → OAuth client ID, type "Web application")
    #[arg(long, global = true, env = "SWITCHBOARD_GOOGLE_CLIENT_ID", value_name = "ID")]
    pub google_client_id: Option<String>,
    /// Google OAuth client secret
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_GOOGLE_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub google_client_secret: Option<String>,
    /// The OAuth redirect URL registered with Google: https://YOUR-HOST/api/v1/auth/google/callback
    #[arg(long, global = true, env = "SWITCHBOARD_GOOGLE_REDIRECT_URL", value_name = "URL")]
    pub google_redirect_url: Option<String>,
    /// One origin serving all Google paths, e.g. the google-emulator's URL [default: Google's real hosts]
    #[arg(long, global = true, env = "SWITCHBOARD_GOOGLE_BASE_URL", value_name = "URL")]
    pub google_base_url: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first; on an empty database creates a workspace, an owner and
    /// an API key and prints their credentials once).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage workspaces, users, agents and API keys directly in the database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a sync now, in this process (e.g. `switchboard sync google --full`).
    #[command(subcommand)]
    Sync(crate::sync::SyncCommand),
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SWITCHBOARD_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Requests per minute per API key or user; 0 disables the limit [default: 100]
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_PER_MINUTE", value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Login attempts per minute per client IP; 0 disables the limit [default: 10]
    #[arg(long, env = "SWITCHBOARD_LOGIN_RATE_LIMIT_PER_MINUTE", value_name = "N")]
    pub login_rate_limit_per_minute: Option<u32>,
    /// Comma-separated browser origins allowed by CORS, or * for any [default: none]
    #[arg(long, env = "SWITCHBOARD_CORS_ALLOWED_ORIGINS", value_name = "ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Comma-separated host names accepted in the Host header [default: any]
    #[arg(long, env = "SWITCHBOARD_ALLOWED_HOSTS", value_name = "HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// Take the client IP from X-Forwarded-For (only behind your own reverse proxy) [default: false]
    #[arg(long, env = "SWITCHBOARD_TRUST_FORWARDED_FOR", value_name = "BOOL")]
    pub trust_forwarded_for: Option<bool>,
    /// Largest accepted request body in bytes [default: 2097152]
    #[arg(long, env = "SWITCHBOARD_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Seconds before a request is answered 503 [default: 30]
    #[arg(long, env = "SWITCHBOARD_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Name of the workspace created on first start [default: My Business]
    #[arg(long, env = "SWITCHBOARD_BOOTSTRAP_WORKSPACE_NAME", value_name = "NAME")]
    pub bootstrap_workspace_name: Option<String>,
    /// Email of the owner created on first start [default: owner@switchboard.local]
    #[arg(long, env = "SWITCHBOARD_BOOTSTRAP_OWNER_EMAIL", value_name = "EMAIL")]
    pub bootstrap_owner_email: Option<String>,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a documented example configuration file.
    Example,
    /// Print the configuration that would be used (secrets hidden).
    Show,
}

impl Settings {
    fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_max_connections: self.database_max_connections,
            log_format: self.log_format,
            jwt_secret: self.jwt_secret.clone(),
            secret_key: self.secret_key.clone(),
            google_client_id: self.google_client_id.clone(),
            google_client_secret: self.google_client_secret.clone(),
            google_redirect_url: self.google_redirect_url.clone(),
            google_base_url: self.google_base_url.clone(),
            ..Default::default()
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = cli.settings.overrides();
    if let Command::Serve(s) = &cli.command {
        overrides.bind = s.bind;
        overrides.rate_limit_per_minute = s.rate_limit_per_minute;
        overrides.login_rate_limit_per_minute = s.login_rate_limit_per_minute;
        overrides.cors_allowed_origins = s.cors_allowed_origins.clone();
        overrides.allowed_hosts = s.allowed_hosts.clone();
        overrides.trust_forwarded_for = s.trust_forwarded_for;
        overrides.max_body_bytes = s.max_body_bytes;
        overrides.request_timeout_secs = s.request_timeout_secs;
        overrides.bootstrap_workspace_name = s.bootstrap_workspace_name.clone();
        overrides.bootstrap_owner_email = s.bootstrap_owner_email.clone();
    }
    if let Command::Config(ConfigCommand::Example) = cli.command {
        print!("{EXAMPLE_TOML}");
        return Ok(());
    }
    let config = Config::load(overrides)?;
    switchboard_server::logging::init(config.log_format);
    match cli.command {
        Command::Serve(_) => serve(config).await,
        Command::Migrate => {
            switchboard_server::app::connect_and_migrate(&config).await?;
            println!("migrations applied to {}", switchboard_server::app::redact_url(&config.database_url));
            Ok(())
        }
        Command::Admin(cmd) => crate::admin::run(cmd, &config).await,
        Command::Sync(cmd) => crate::sync::run(cmd, config).await,
        Command::Config(ConfigCommand::Show) => {
            let shown = Config { database_url: switchboard_server::app::redact_url(&config.database_url), ..config };
            println!("{shown:#?}");
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => unreachable!("handled above"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let database = switchboard_server::app::redact_url(&config.database_url);
    let app = Application::build(config).await.context("switchboard could not start")?;
    // Installed before "listening" is printed: a supervisor (or a test) that sends SIGTERM as soon as the
    // server answers must get a graceful stop, not the default action that kills the process.
    let shutdown = shutdown_signal().context("cannot install the SIGINT/SIGTERM handlers")?;
    if let Some(creds) = app.bootstrap_credentials() {
        println!(
            "\n  First start: created workspace '{}' ({}).\n  These credentials are shown once; store them now.\n\n    \
             login email: {}\n    password:    {}\n    api key:     {}\n",
            creds.workspace.name, creds.workspace.slug, creds.email, creds.password, creds.api_key
        );
    }
    tracing::info!(
        "switchboard {} listening on http://{} (database: {database})",
        env!("CARGO_PKG_VERSION"),
        app.local_addr()
    );
    app.run_until_stopped(shutdown).await?;
    tracing::info!("switchboard stopped");
    Ok(())
}

/// Registers the SIGINT (Ctrl-C) and SIGTERM handlers now and returns a future that resolves on either.
/// (`tokio::signal::ctrl_c()` would register only when first polled, which happens after serving starts.)
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}
