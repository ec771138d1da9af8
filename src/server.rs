//! Wiring: the Pingora server with the gateway service, the config watcher
//! and graceful drain. SIGTERM and SIGINT stop accepting connections at
//! once, let requests and streams in flight finish (up to
//! `server.drain_timeout`), then exit; a second signal exits immediately.
//! SIGQUIT is a zero-downtime binary upgrade: the listening sockets go to a
//! new process started with `run --upgrade` (over `server.upgrade_sock`),
//! then this one drains the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use tokio::signal::unix::{signal, SignalKind};

use crate::admin::Admin;
use crate::config::watch::{Reloader, WatchService};
use crate::config::Config;
use crate::edge::{Edge, Listener};
use crate::metrics::{metrics, set_config_version};
use crate::policy::Policies;
use crate::proxy::Gateway;

/// Starts the gateway on a loaded config and blocks until it stops;
/// an error when its state store or ledger cannot be opened. With
/// `upgrade`, the listening sockets are taken over from the running gateway
/// once it gets SIGQUIT (the process exits if none arrive within ~5 s).
pub fn run(path: PathBuf, cfg: Config, upgrade: bool) -> Result<(), String> {
    crate::logging::set_secrets(cfg.log_secrets().iter().map(String::as_str));
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    if !cfg.policy.auth.enabled {
        tracing::warn!(
            "AUTH IS OFF: anyone who can reach {} can use every provider key in this config; add `auth:` keys (`switchyard key new`) before exposing it",
            cfg.listen
        );
    }
    let policies = Arc::new(Policies::build(&cfg)?);
    if let Some(l) = &policies.ledger {
        tracing::info!(ledger = %l.target_label(), "usage ledger open");
    }
    // Before the first request: a key over budget stays refused across a
    // restart. (The state store owns its runtime; this one only drives
    // the calls.)
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?
        .block_on(policies.seed_budgets(&cfg));
    set_config_version(&cfg.version);
    metrics()
        .config_reloads
        .with_label_values(&["success"])
        .inc();
    let listen = cfg.listen;
    let admin = cfg.policy.admin.clone();
    let settings = cfg.settings.clone();
    let state = Arc::new(ArcSwap::from_pointee(cfg));

    let conf = ServerConf {
        threads: settings.threads,
        grace_period_seconds: Some(settings.drain_timeout.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        upgrade_sock: upgrade_sock(&settings.upgrade_sock, upgrade)?,
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    if upgrade {
        tracing::info!(sock = %settings.upgrade_sock.display(), "waiting for the running gateway's listening sockets (send it SIGQUIT)");
    }
    server.bootstrap();
    if upgrade {
        tracing::info!("took over the listening sockets");
    }

    let proxy = pingora_proxy::http_proxy(
        &server.configuration,
        Gateway::new(state.clone(), policies.clone()),
    );
    let mut service = Service::new(
        "switchyard api".to_string(),
        Edge::new(proxy, state.clone(), Listener::Api),
    );
    service.add_listener(client_listener(listen.to_string()));
    server.add_service(service);
    // A budget a reload adds starts from the day's and month's spend in
    // the ledger, as budgets do on start; a semantic cache it adds starts
    // following the fleet's entries.
    let seeding = policies.clone();
    let reloader = Arc::new(Reloader::new(path, state.clone()).on_swap(Box::new(
        move |old, new| {
            let policies = seeding.clone();
            policies.follow_semantic(&new);
            let spawned = std::thread::Builder::new()
                .name("budget-seed".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(policies.seed_new_budgets(&old, &new));
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not seed the budgets a reload added");
            }
        },
    )));
    if let Some(admin) = &admin {
        // Behind the same head, body and send limits as the API listener,
        // with a connection cap of its own.
        let proxy = pingora_proxy::http_proxy(
            &server.configuration,
            Admin::new(state.clone(), policies.clone(), reloader.clone()),
        );
        let mut service = Service::new(
            "switchyard admin".to_string(),
            Edge::new(proxy, state.clone(), Listener::Admin),
        );
        service.add_listener(client_listener(admin.listen.to_string()));
        server.add_service(service);
        tracing::info!("admin API on {}", admin.listen);
    }

    server.add_service(background_service(
        "config watch",
        WatchService::new(reloader),
    ));
    server.add_service(background_service(
        "drain",
        Drain {
            timeout: settings.drain_timeout,
            policies,
        },
    ));

    tracing::info!(version = %state.load().version, "listening on {listen}");
    println!("listening on {listen}");
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals {
            upgrade_sock: settings.upgrade_sock.clone(),
        }),
    });
    Ok(())
}

/// The upgrade socket's path as Pingora takes it. Pingora panics when it
/// cannot bind it, so a missing directory is an error here first.
fn upgrade_sock(path: &Path, upgrade: bool) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("server.upgrade_sock `{}` is not UTF-8", path.display()))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if upgrade && dir.is_some_and(|d| !d.is_dir()) {
        return Err(format!(
            "server.upgrade_sock `{text}`: its directory does not exist"
        ));
    }
    Ok(text.to_string())
}

/// SIGTERM and SIGINT both drain gracefully; SIGQUIT hands the listening
/// sockets to a new process (Pingora's upgrade) and then drains.
struct Signals {
    upgrade_sock: PathBuf,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot install signal handlers; stop with SIGKILL");
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: draining"),
                _ = int.recv() => tracing::info!("SIGINT: draining"),
                _ = quit.recv() => {
                    if successor_waiting(&self.upgrade_sock).await {
                        tracing::info!("SIGQUIT: handing the listening sockets to the new process, then draining");
                        return ShutdownSignal::GracefulUpgrade;
                    }
                    // Pingora would give up sending after ~5 s and then stop
                    // serving anyway: an outage from a stray signal.
                    tracing::warn!(sock = %self.upgrade_sock.display(), "SIGQUIT ignored: no `switchyard run --upgrade` is waiting on the upgrade socket");
                    continue;
                }
            }
            return ShutdownSignal::GracefulTerminate;
        }
    }
}

/// Whether a new process listens on the upgrade socket, or starts to
/// within 5 s (it may have been started just after the signal was sent).
async fn successor_waiting(sock: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if std::fs::metadata(sock).is_ok_and(|m| m.file_type().is_socket()) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Exits as soon as nothing is in flight once shutdown began (Pingora would
/// otherwise always wait the whole grace period), or at once on a second
/// signal.
struct Drain {
    timeout: Duration,
    policies: Arc<Policies>,
}

#[async_trait]
impl BackgroundService for Drain {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut idle_checks = 0;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(in_flight = metrics().in_flight.get(), "drain timeout reached");
                    break;
                }
                _ = tokio::time::sleep(Duration::from_millis(25)) => {
                    idle_checks = if metrics().in_flight.get() == 0 { idle_checks + 1 } else { 0 };
                    if idle_checks >= 2 {
                        tracing::info!("drained");
                        break;
                    }
                }
            }
        }
        // Every finished request's usage record is written before exit.
        if let Some(ledger) = self.policies.ledger.clone() {
            match tokio::task::spawn_blocking(move || ledger.flush()).await {
                Ok(Ok(())) => tracing::info!("usage ledger flushed"),
                Ok(Err(e)) => tracing::error!(error = %e, "usage ledger flush failed"),
                Err(e) => tracing::error!(error = %e, "usage ledger flush failed"),
            }
        }
        // And every finished request's spans are offered to the collector.
        if tokio::task::spawn_blocking(|| crate::trace::flush_all(Duration::from_secs(3)))
            .await
            .is_ok()
        {
            tracing::debug!("trace exporters flushed");
        }
        // And budget alerts still queued go out (their retries bounded too).
        let policies = self.policies.clone();
        let left =
            tokio::task::spawn_blocking(move || policies.flush_webhook(Duration::from_secs(3)))
                .await
                .unwrap_or(0);
        if left > 0 {
            tracing::warn!(
                events = left,
                "budget webhook events not delivered before exit"
            );
        }
        std::process::exit(0);
    }
}

/// A plain-TCP listener whose connections read from the socket unbuffered.
/// Pingora's default wraps each accepted connection in a 64 KiB read buffer,
/// allocated zeroed, so every open client connection — an idle keep-alive
/// one, a stream waiting minutes for its model — held 64 KiB of RSS for it.
/// Nothing here needs it: the edge reads the head in 8 KiB reads of its own
/// (`edge::head`), and Pingora reads a body into its own body buffer. Pingora
/// connects upstreams unbuffered too.
fn client_listener(addr: String) -> ListenerConfig {
    ListenerConfig::tcp(addr).l4_buffer(L4BufferSettings::default().read(0))
}
