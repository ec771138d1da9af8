//! Ledger tests against real databases: a SQLite file in a temporary folder
//! and the PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), each test on its own table so
//! parallel runs and reruns never see each other's rows.

/// Each name becomes `sqlite::name` and `postgres::name`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::TestDb::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::TestDb::postgres()) })*
        }
    };
}

mod behaviour;
mod crash;
mod outage;
mod schema;
mod spend;
mod throughput;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{Ledger, LedgerOptions, LedgerTarget, UsageRecord};

pub(crate) fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database for one test: a fresh SQLite file, or a fresh table in
/// PostgreSQL (dropped at the end).
pub(crate) enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        url: String,
        table: String,
    },
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("usage.db");
        Self::Sqlite { _dir: dir, path }
    }

    pub fn postgres() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let table = format!(
            "ledger_test_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        Self::Postgres {
            url: database_url(),
            table,
        }
    }

    pub fn target(&self) -> LedgerTarget {
        match self {
            Self::Sqlite { path, .. } => LedgerTarget::Sqlite(path.clone()),
            Self::Postgres { url, .. } => LedgerTarget::Postgres(url.clone()),
        }
    }

    pub fn table(&self) -> &str {
        match self {
            Self::Sqlite { .. } => super::store::DEFAULT_TABLE,
            Self::Postgres { table, .. } => table,
        }
    }

    pub fn open(&self, opts: LedgerOptions) -> Ledger {
        Ledger::open_table(&self.target(), opts, self.table()).unwrap()
    }

    /// Every row, read on a connection of its own, in insertion order.
    pub fn rows(&self) -> Vec<UsageRecord> {
        let sql = format!(
            "SELECT at_ms, request_id, key, route, provider, model, endpoint, status, stream,
             prompt_tokens, completion_tokens, cached_tokens, cost_usd, latency_ms, ttft_ms,
             attempts, cache, error, trace_id, guardrail FROM {} ORDER BY id",
            self.table()
        );
        match self {
            Self::Sqlite { path, .. } => {
                let u = |n: i64| u64::try_from(n).unwrap();
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(&sql).unwrap();
                let rows = stmt
                    .query_map([], |r| {
                        Ok(UsageRecord {
                            at_ms: r.get(0)?,
                            request_id: r.get(1)?,
                            key: r.get(2)?,
                            route: r.get(3)?,
                            provider: r.get(4)?,
                            model: r.get(5)?,
                            endpoint: r.get(6)?,
                            status: r.get(7)?,
                            stream: r.get(8)?,
                            prompt_tokens: u(r.get(9)?),
                            completion_tokens: u(r.get(10)?),
                            cached_tokens: u(r.get(11)?),
                            cost_usd: r.get(12)?,
                            latency_ms: u(r.get(13)?),
                            ttft_ms: r.get::<_, Option<i64>>(14)?.map(u),
                            attempts: r.get(15)?,
                            cache: r.get(16)?,
                            error: r.get(17)?,
                            trace_id: r.get(18)?,
                            guardrail: r.get(19)?,
                        })
                    })
                    .unwrap();
                rows.map(Result::unwrap).collect()
            }
            Self::Postgres { url, .. } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let u = |n: i64| u64::try_from(n).unwrap();
                client
                    .query(&sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| UsageRecord {
                        at_ms: r.get(0),
                        request_id: r.get(1),
                        key: r.get(2),
                        route: r.get(3),
                        provider: r.get(4),
                        model: r.get(5),
                        endpoint: r.get(6),
                        status: u16::try_from(r.get::<_, i32>(7)).unwrap(),
                        stream: r.get(8),
                        prompt_tokens: u(r.get(9)),
                        completion_tokens: u(r.get(10)),
                        cached_tokens: u(r.get(11)),
                        cost_usd: r.get(12),
                        latency_ms: u(r.get(13)),
                        ttft_ms: r.get::<_, Option<i64>>(14).map(u),
                        attempts: u32::try_from(r.get::<_, i32>(15)).unwrap(),
                        cache: r.get(16),
                        error: r.get(17),
                        trace_id: r.get(18),
                        guardrail: r.get(19),
                    })
                    .collect()
            }
        }
    }

    /// Runs `sql` on a connection of its own.
    pub fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite { path, .. } => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Self::Postgres { url, .. } => postgres::Client::connect(url, postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
        }
    }

    /// Row count, on a connection of its own.
    pub fn count(&self) -> usize {
        let sql = format!("SELECT COUNT(*) FROM {}", self.table());
        let n: i64 = match self {
            Self::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(&sql, [], |r| r.get(0))
                .unwrap(),
            Self::Postgres { url, .. } => postgres::Client::connect(url, postgres::NoTls)
                .unwrap()
                .query_one(&sql, &[])
                .unwrap()
                .get(0),
        };
        usize::try_from(n).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Postgres { url, table } = self {
            if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP TABLE IF EXISTS {table}"));
            }
        }
    }
}

/// A plausible record; tests change what they look at.
pub(crate) fn rec(request_id: impl Into<String>) -> UsageRecord {
    UsageRecord {
        at_ms: 1_704_067_200_000,
        request_id: request_id.into(),
        key: "team-a".into(),
        route: "smart".into(),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        endpoint: "chat_completions".into(),
        status: 200,
        stream: false,
        prompt_tokens: 12,
        completion_tokens: 34,
        cached_tokens: 0,
        cost_usd: 0.000_125,
        latency_ms: 420,
        ttft_ms: None,
        attempts: 1,
        cache: String::new(),
        error: None,
        trace_id: None,
        guardrail: None,
    }
}

/// Options that never flush on their own: tests call `flush`.
pub(crate) fn slow() -> LedgerOptions {
    LedgerOptions {
        flush_interval: Duration::from_secs(3600),
        ..Default::default()
    }
}

/// Waits for `cond`, up to `timeout`; false if it never held.
pub(crate) fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
