//! The SQLite backend: one file in WAL mode. `synchronous=NORMAL` with WAL
//! syncs only at checkpoints, yet a committed transaction is in the WAL file
//! before `COMMIT` returns, so it survives the process being killed (even
//! `kill -9`); only a power loss or OS crash can take the last transactions.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection};

use super::query::{self, Dialect, Param, SpendBy, Totals, UsageQuery, UsageRow};
use super::store::{db_int, Pending, Store, StoreError};

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a ledger file.
pub(crate) struct SqliteStore {
    conn: Connection,
    table: String,
    insert_sql: String,
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) the file at `path` and
    /// the table `table`. Fails when the file cannot be created or is not a
    /// SQLite database.
    pub fn open(path: &Path, table: &str) -> Result<Self, StoreError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::new(format!("{what} {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the folder of", &e))?;
        }
        let conn = Connection::open(path).map_err(|e| fail("cannot open", &e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("cannot configure", &e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| fail("cannot switch to WAL mode", &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::new(format!(
                "{} refused WAL mode (journal_mode is {mode})",
                path.display()
            )));
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS {table} (
                 id INTEGER PRIMARY KEY,
                 at_ms INTEGER NOT NULL,
                 request_id TEXT NOT NULL,
                 key TEXT NOT NULL,
                 route TEXT NOT NULL,
                 provider TEXT NOT NULL,
                 model TEXT NOT NULL,
                 endpoint TEXT NOT NULL,
                 status INTEGER NOT NULL,
                 stream INTEGER NOT NULL,
                 prompt_tokens INTEGER NOT NULL,
                 completion_tokens INTEGER NOT NULL,
                 cached_tokens INTEGER NOT NULL,
                 cost_usd REAL NOT NULL,
                 latency_ms INTEGER NOT NULL,
                 ttft_ms INTEGER,
                 attempts INTEGER NOT NULL,
                 cache TEXT NOT NULL,
                 error TEXT,
                 trace_id TEXT,
                 guardrail TEXT
             );
             CREATE INDEX IF NOT EXISTS {table}_at_ms ON {table} (at_ms);
             CREATE INDEX IF NOT EXISTS {table}_key_at_ms ON {table} (key, at_ms);"
        ))
        .map_err(|e| fail("cannot create the ledger table in", &e))?;
        add_trace_id(&conn, table)
            .map_err(|e| fail("cannot add trace_id to the ledger table in", &e))?;
        add_guardrail(&conn, table)
            .map_err(|e| fail("cannot add guardrail to the ledger table in", &e))?;
        Ok(Self {
            conn,
            table: table.to_string(),
            insert_sql: format!(
                "INSERT INTO {table} (at_ms, request_id, key, route, provider, model, endpoint,
                 status, stream, prompt_tokens, completion_tokens, cached_tokens, cost_usd,
                 latency_ms, ttft_ms, attempts, cache, error, trace_id, guardrail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ),
        })
    }
}

/// A ledger table made before traces (issue 21) gets their column.
fn add_trace_id(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let has = conn
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = 'trace_id'"
        ))?
        .exists([])?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN trace_id TEXT"))?;
    }
    Ok(())
}

/// A ledger table made before guardrails were recorded gets their column.
fn add_guardrail(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let has = conn
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = 'guardrail'"
        ))?
        .exists([])?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN guardrail TEXT"))?;
    }
    Ok(())
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::new(format!("sqlite: {e}"))
}

impl Store for SqliteStore {
    fn insert(&mut self, batch: &[Pending]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(err)?;
        {
            // Cached on the connection: prepared once, reused by every batch.
            let mut stmt = tx.prepare_cached(&self.insert_sql).map_err(err)?;
            for Pending { record: r, .. } in batch {
                stmt.execute(params![
                    r.at_ms,
                    r.request_id,
                    r.key,
                    r.route,
                    r.provider,
                    r.model,
                    r.endpoint,
                    r.status,
                    r.stream,
                    db_int(r.prompt_tokens),
                    db_int(r.completion_tokens),
                    db_int(r.cached_tokens),
                    r.cost_usd,
                    db_int(r.latency_ms),
                    r.ttft_ms.map(db_int),
                    r.attempts,
                    r.cache,
                    r.error,
                    r.trace_id,
                    r.guardrail,
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn query(&mut self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let sql = query::build(q, &self.table, Dialect::Sqlite);
        let params = sql.params.iter().map(|p| match p {
            Param::Text(s) => rusqlite::types::Value::Text(s.clone()),
            Param::Int(n) => rusqlite::types::Value::Integer(*n),
        });
        let mut stmt = self.conn.prepare(&sql.text).map_err(err)?;
        let n = sql.groups.len();
        let rows = stmt
            .query_map(params_from_iter(params), |r| {
                let values = (0..n)
                    .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                    .collect::<Result<Vec<_>, _>>()?;
                let totals = Totals {
                    requests: r.get(n)?,
                    errors: r.get(n + 1)?,
                    prompt_tokens: r.get(n + 2)?,
                    completion_tokens: r.get(n + 3)?,
                    cached_tokens: r.get(n + 4)?,
                    cost_usd: r.get(n + 5)?,
                    avg_latency_ms: r.get(n + 6)?,
                    cache_hits: r.get(n + 7)?,
                };
                Ok(query::row(&sql.groups, values, totals))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row.map_err(err)?);
        }
        Ok(out)
    }

    fn spend_by(&mut self, by: SpendBy, since_ms: i64) -> Result<HashMap<String, f64>, StoreError> {
        let sql = query::spend_by_sql(by, &self.table, Dialect::Sqlite);
        let mut stmt = self.conn.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn spend_total(&mut self, since_ms: i64) -> Result<f64, StoreError> {
        let sql = query::spend_total_sql(&self.table, Dialect::Sqlite);
        self.conn
            .query_row(&sql, [since_ms], |r| r.get(0))
            .map_err(err)
    }
}
