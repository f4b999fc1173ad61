//! The `weir` binary: CLI, configuration, logging, signals and graceful drain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use weir_config::{Config, DEFAULT_TOML, LogFormat};

/// Weir: a live media server. Publish over RTMP; play over RTMP, HTTP-FLV and HLS.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (without one, the embedded defaults apply).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        action: ConfigCmd,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the default configuration file, every key commented.
    Default,
    /// Check a configuration file (given with --config) and report the first error.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("weir: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    match cli.command {
        Some(Cmd::Config {
            action: ConfigCmd::Default,
        }) => {
            #[allow(clippy::print_stdout)]
            {
                print!("{DEFAULT_TOML}");
            }
            return ExitCode::SUCCESS;
        }
        Some(Cmd::Config {
            action: ConfigCmd::Check,
        }) => {
            eprintln!("weir: configuration OK");
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    init_logging(&cfg);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weir: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cfg))
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

async fn run(cfg: Config) -> ExitCode {
    let server = match weir_server::Server::bind(cfg).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Weir started");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    let signals = async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot install the SIGTERM handler");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            _ = term.recv() => tracing::info!("SIGTERM received"),
        }
        trigger.cancel();
    };
    tokio::join!(server.run(shutdown), signals);
    ExitCode::SUCCESS
}
