//! `google-emulator --bind 127.0.0.1:8085`: the emulator as a process, for demos and benchmarks.

use std::net::SocketAddr;

use clap::Parser;
use google_emulator::{Emulator, EmulatorConfig};
use tracing_subscriber::EnvFilter;

/// In-memory emulator of Google OAuth, People API and Calendar API.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    bind: SocketAddr,
    /// Scales injected latency, Retry-After values and the write-quota window.
    #[arg(long, default_value_t = 1.0)]
    delay_factor: f64,
    /// Serve an Allow/Deny consent page instead of consenting at once.
    #[arg(long)]
    no_auto_consent: bool,
    /// Only accept this OAuth client id (default: any).
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// Only accept this OAuth client secret (default: any).
    #[arg(long)]
    client_secret: Option<String>,
    /// Writes per user per minute (default: unlimited).
    #[arg(long)]
    write_quota: Option<u32>,
    /// Create this account at start (repeatable).
    #[arg(long = "seed-account", value_name = "EMAIL")]
    seed_accounts: Vec<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let config = EmulatorConfig {
        delay_factor: args.delay_factor,
        auto_consent: !args.no_auto_consent,
        write_quota_per_minute: args.write_quota,
        client_id: args.client_id,
        client_secret: args.client_secret,
        seed_accounts: args.seed_accounts,
        ..EmulatorConfig::default()
    };
    let running = Emulator::start_on(config, args.bind).await?;
    println!("{}", running.base_url());
    running
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await
}
