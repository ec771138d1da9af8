//! The `switchyard` command: `run`, `check`, `demo`, `explain`, `providers`,
//! `encrypt`, `key new`, `adapter test`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchyard::config::Config;

/// mimalloc instead of glibc's malloc. `benches/load.sh --alt-gateway` with the same
/// binary built on glibc's malloc (2026-11-26, 2 shared cores, load average ~6):
/// CPU per passthrough request 129/77/95/127 µs vs 148/88/105/135 µs at
/// c = 1/16/64/256, per 20-chunk passthrough stream 385/319/348/380 vs 420/336/385/391 µs;
/// after 10,000 slow streams closed, RSS fell back to 456 MiB (glibc kept 865 MiB), but
/// the peak was higher (146 vs 87 KiB per open stream) and the idle RSS is ~10 MiB larger.
/// Since client connections read unbuffered (src/server.rs) and mimalloc is built with lazy
/// arena commit (.cargo/config.toml), 3,000 open slow streams take 77 KiB each (mimalloc's
/// eager commit: 135; glibc: 69).
/// Wrapped to count each thread's allocations for the script memory budget
/// (`server.scripts.max_memory`; one thread-local add per call).
#[global_allocator]
static GLOBAL: switchyard::adapter::script::memory::CountingAlloc<mimalloc::MiMalloc> =
    switchyard::adapter::script::memory::CountingAlloc(mimalloc::MiMalloc);

/// An AI gateway: one OpenAI-compatible API in front of many LLM providers.
#[derive(Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Where the gateway writes: a relative SQLite ledger path and
    /// `server.upgrade_sock` are taken from here. Default: the config's folder.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
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
        /// Take the listening sockets over from the running gateway (then
        /// send it SIGQUIT) instead of binding them: a zero-downtime upgrade.
        #[arg(long)]
        upgrade: bool,
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
    /// Encrypt a provider secret for routes.yaml (`enc:v1:…`) with the key in
    /// SWITCHYARD_MASTER_KEY. Reads the secret from stdin unless --value is given.
    Encrypt {
        /// The secret itself (visible in `ps` and shell history; prefer stdin).
        #[arg(long, conflicts_with = "new_master_key")]
        value: Option<String>,
        /// Print a fresh random master key (base64) and exit.
        #[arg(long)]
        new_master_key: bool,
    },
    /// Virtual keys for clients.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Adapters: check one against golden fixtures.
    Adapter {
        #[command(subcommand)]
        command: AdapterCommand,
    },
}

#[derive(Subcommand)]
enum AdapterCommand {
    /// Runs an adapter — a script file, or a built-in by name — over a
    /// folder of golden fixtures (`adapter_request.openai.json` →
    /// `adapter_request.<provider>.json`, responses, stream transcripts).
    Test {
        /// A `.rhai` script adapter, or a built-in adapter's name.
        adapter: String,
        /// The folder of fixtures.
        #[arg(long)]
        fixtures: PathBuf,
        /// The model in `ctx` (default: the request fixture's `model`).
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print a fresh virtual key and the routes.yaml entry holding its hash.
    New {
        /// The entry's name (default: `key-` and the start of its hash).
        #[arg(long)]
        name: Option<String>,
    },
}

/// The exit code of a gateway run.
fn started(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn")
        });
    use std::io::IsTerminal;
    // Every line goes through the redactor: at debug and trace, Pingora
    // prints whole request heads.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(switchyard::logging::RedactedStderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_or_report(path: &std::path::Path, data_dir: Option<&std::path::Path>) -> Option<Config> {
    match Config::load_in(path, data_dir) {
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

fn explain(
    config: &std::path::Path,
    data_dir: Option<&std::path::Path>,
    request: &std::path::Path,
    embeddings: bool,
) -> ExitCode {
    use switchyard::request::Endpoint;
    let Some(cfg) = load_or_report(config, data_dir) else {
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
    match switchyard::admin::explain::explain(&cfg, endpoint, body) {
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

/// `switchyard encrypt`: the secret from `--value` or stdin, sealed with the master key.
fn encrypt(value: Option<String>, new_master_key: bool) -> ExitCode {
    use switchyard::secrets::{self, MasterKey};
    if new_master_key {
        println!("{}", MasterKey::generate().to_base64());
        return ExitCode::SUCCESS;
    }
    let master = match MasterKey::from_env() {
        Ok(k) => k,
        Err(secrets::SecretError::NoMasterKey) => {
            eprintln!(
                "encrypt: SWITCHYARD_MASTER_KEY is not set (`switchyard encrypt --new-master-key` makes one)"
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("encrypt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secret = match value {
        Some(v) => v,
        None => match read_stdin_secret() {
            Ok(v) => v,
            Err(e) => {
                eprintln!("encrypt: cannot read the secret from stdin: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if secret.is_empty() {
        eprintln!("encrypt: nothing to encrypt: pass the secret on stdin or with --value");
        return ExitCode::FAILURE;
    }
    match secrets::encrypt(&master, &secret) {
        Ok(sealed) => {
            println!("{sealed}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("encrypt: {e}");
            ExitCode::FAILURE
        }
    }
}

/// All of stdin, less one trailing newline (`echo` and here-strings add one).
fn read_stdin_secret() -> std::io::Result<String> {
    use std::io::{IsTerminal, Read};
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type the secret, then Enter and Ctrl-D:");
    }
    let mut text = String::new();
    stdin.read_to_string(&mut text)?;
    if let Some(t) = text.strip_suffix('\n') {
        let t = t.strip_suffix('\r').unwrap_or(t);
        text.truncate(t.len());
    }
    Ok(text)
}

/// `switchyard adapter test`: every fixture check, and the exit code.
fn adapter_test(adapter: &str, fixtures: &std::path::Path, model: Option<&str>) -> ExitCode {
    use std::sync::Arc;
    use switchyard::adapter::script::engine::{build_engine, ScriptLimits};
    use switchyard::adapter::script::ScriptAdapter;
    let path = std::path::Path::new(adapter);
    let wire: Arc<dyn switchyard::adapter::Wire> = if path.extension().is_some_and(|e| e == "rhai")
    {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{adapter}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let limits = ScriptLimits::default();
        let engine = Arc::new(build_engine(&limits));
        match ScriptAdapter::compile(&name, path, &text, engine, limits.timeout) {
            Ok(a) => Arc::new(a),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match switchyard::adapter::builtin(adapter) {
            Some(w) => w,
            None => {
                eprintln!(
                    "`{adapter}` is neither a .rhai file nor a built-in adapter ({})",
                    switchyard::adapter::BUILT_IN.join(", ")
                );
                return ExitCode::FAILURE;
            }
        }
    };
    let checks = match switchyard::adapter::fixtures::run(wire.as_ref(), fixtures, model) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let passed = checks.iter().filter(|c| c.failure.is_none()).count();
    for c in &checks {
        match &c.failure {
            None => println!("{:<9} ok", c.name),
            Some(why) => println!("{:<9} FAILED: {why}", c.name),
        }
    }
    println!(
        "{adapter} against {}: {passed} of {} checks passed",
        fixtures.display(),
        checks.len()
    );
    if passed == checks.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `switchyard key new`: a virtual key and the routes.yaml entry with its hash.
fn new_key(name: Option<String>) {
    use switchyard::auth;
    let key = auth::generate_key();
    let hash = auth::hash_key(&key);
    let short = hash
        .trim_start_matches(auth::HASH_PREFIX)
        .get(..8)
        .unwrap_or_default();
    let name = name.unwrap_or_else(|| format!("key-{short}"));
    // Quoted when YAML would read it as something else (`123`, `true`, `a: b`).
    let name = serde_yaml::to_string(&name)
        .map(|y| y.trim_end().to_string())
        .unwrap_or(name);
    println!("key:  {key}");
    println!("# paste under auth.keys in routes.yaml (the key itself is not stored):");
    println!("- name: {name}");
    println!("  key_hash: {hash}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let data_dir = cli.data_dir.as_deref();
    match cli.command {
        Command::Check { config } => match load_or_report(&config, data_dir) {
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
        Command::Run { config, upgrade } => match load_or_report(&config, data_dir) {
            Some(cfg) => started(switchyard::server::run(config, cfg, upgrade)),
            None => ExitCode::FAILURE,
        },
        Command::Explain {
            config,
            request,
            embeddings,
        } => explain(&config, data_dir, &request, embeddings),
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
        Command::Encrypt {
            value,
            new_master_key,
        } => encrypt(value, new_master_key),
        Command::Adapter {
            command:
                AdapterCommand::Test {
                    adapter,
                    fixtures,
                    model,
                },
        } => adapter_test(&adapter, &fixtures, model.as_deref()),
        Command::Key {
            command: KeyCommand::New { name },
        } => {
            new_key(name);
            ExitCode::SUCCESS
        }
        Command::Demo { listen } => {
            let path = match switchyard_mock::demo::prepare(listen) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("demo: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            match load_or_report(&path, data_dir) {
                Some(cfg) => started(switchyard::server::run(path, cfg, false)),
                None => ExitCode::FAILURE,
            }
        }
    }
}
