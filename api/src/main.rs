//! `acsd`: the TR-069 / TR-369 ACS and provisioning server.

use anyhow::Context;
use api::{ConfigArgs, Settings};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "acsd",
    version,
    about = "TR-069 (CWMP) / TR-369 (USP) ACS and provisioning server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ConfigArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(ConfigArgs),
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Migrate(args) => {
                let settings = Settings::resolve(args)?;
                init_tracing(&settings);
                std::fs::create_dir_all(&settings.data_dir)
                    .with_context(|| format!("creating {}", settings.data_dir.display()))?;
                let store = provisioning::open(&settings.database_url).await?;
                println!("acsd: {} schema is up to date", store.backend());
                Ok(())
            }
            Command::Serve(args) => {
                let admin_token = std::env::var("ACSD_ADMIN_TOKEN").ok();
                let settings = Settings::resolve(args)?;
                init_tracing(&settings);
                let running = api::start(settings, admin_token).await?;
                println!("acsd: CWMP on http://{}", running.cwmp_addr);
                if let Some(a) = running.cwmps_addr {
                    println!("acsd: CWMP over TLS on https://{a}");
                }
                println!("acsd: USP over WebSocket on ws://{}/usp", running.usp_ws_addr);
                if let Some(a) = running.usp_wss_addr {
                    println!("acsd: USP over secure WebSocket on wss://{a}/usp");
                }
                println!("acsd: REST API on http://{}/api/v1", running.api_addr);
                if let Some(t) = &running.first_start.admin_token {
                    println!("acsd: generated admin API token (shown once): {t}");
                }
                if let Some((u, p)) = &running.first_start.cpe_credentials {
                    println!(
                        "acsd: generated CPE credentials (shown once): username {u} password {p}"
                    );
                }
                shutdown_signal().await;
                println!("acsd: shutting down");
                running.shutdown().await;
                Ok(())
            }
        }
    })
}
