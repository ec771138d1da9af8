//! The `switchyard` command: `run`, `check`, `demo`, `providers`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchyard::config::Config;

/// An AI gateway: one OpenAI-compatible API in front of many LLM providers.
#[derive(Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The routes file; reloaded when it changes.
        #[arg(long, short, default_value = "routes.yaml")]
        config: PathBuf,
    },
    /// Validate a routes file and compile every script it names.
    Check {
        /// The routes file.
        #[arg(default_value = "routes.yaml")]
        config: PathBuf,
    },
    /// Run the gateway in front of mock providers (no API keys needed).
    Demo {
        /// Where the demo gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Show how a request would be routed (ranked targets and why),
    /// without calling any provider.
    Explain {
        /// The routes file.
        #[arg(long, short, default_value = "routes.yaml")]
        config: PathBuf,
        /// A JSON request body (OpenAI chat, or embeddings with --embeddings).
        request: PathBuf,
        /// Treat the request as an embeddings request.
        #[arg(long)]
        embeddings: bool,
    },
    /// Print the provider support matrix (presets × capabilities) as markdown.
    Providers {
        /// The directory holding catalog.yaml and the adapter scripts.
        #[arg(long, default_value = "scripts/providers")]
        scripts: PathBuf,
    },
}

fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn")
        });
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_or_report(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(cfg) => Some(cfg),
        Err(issues) => {
            for issue in &issues {
                eprintln!("{issue}");
            }
            eprintln!(
                "{}: {} problem(s); nothing started",
                path.display(),
                issues.len()
            );
            None
        }
    }
}

fn explain(config: &std::path::Path, request: &std::path::Path, embeddings: bool) -> ExitCode {
    use switchyard::proxy::request::Endpoint;
    let Some(cfg) = load_or_report(config) else {
        return ExitCode::FAILURE;
    };
    let body = match std::fs::read(request)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: {e}", request.display());
            return ExitCode::FAILURE;
        }
    };
    let endpoint = if embeddings {
        Endpoint::Embeddings
    } else {
        Endpoint::Chat
    };
    match switchyard::routing::explain::explain(&cfg, endpoint, body) {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Check { config } => match load_or_report(&config) {
            Some(cfg) => {
                for w in &cfg.warnings {
                    println!("warning: {w}");
                }
                println!(
                    "{}: ok (version {}, {} providers, {} routes)",
                    config.display(),
                    cfg.version,
                    cfg.providers.len(),
                    cfg.routes.routes().len()
                );
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        },
        Command::Run { config } => match load_or_report(&config) {
            Some(cfg) => {
                switchyard::server::run(config, cfg);
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        },
        Command::Explain {
            config,
            request,
            embeddings,
        } => explain(&config, &request, embeddings),
        Command::Providers { scripts } => match switchyard::matrix::support_matrix(&scripts) {
            Ok(table) => {
                print!("{table}");
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprintln!("{problems}");
                ExitCode::FAILURE
            }
        },
        Command::Demo { listen } => {
            let path = match switchyard::demo::prepare(listen) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("demo: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            match load_or_report(&path) {
                Some(cfg) => {
                    switchyard::server::run(path, cfg);
                    ExitCode::SUCCESS
                }
                None => ExitCode::FAILURE,
            }
        }
    }
}
