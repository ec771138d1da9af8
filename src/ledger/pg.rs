//! The PostgreSQL backend, on the synchronous `postgres` client (which runs
//! its own small runtime, so it is only ever called from plain threads:
//! the writer thread and the query thread). A batch goes in as one
//! `INSERT … SELECT * FROM unnest(…)` of 20 arrays: one round trip and one
//! implicit transaction, whatever the batch size.

use std::collections::HashMap;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};

use super::query::{self, Dialect, Param, SpendBy, Totals, UsageQuery, UsageRow};
use super::store::{db_int, Pending, Store, StoreError};
use super::target::LedgerTarget;

/// Used unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unacknowledged data this long breaks the connection (unless the URL sets
/// `tcp_user_timeout`), so a silent network partition cannot stall the writer.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);
/// Serialises concurrent schema creation (several gateways starting at once).
const SCHEMA_LOCK: i64 = 0x5377_6974_6368_7964;

const COLUMNS: &str = "at_ms, request_id, key, route, provider, model, endpoint, status, stream, \
     prompt_tokens, completion_tokens, cached_tokens, cost_usd, latency_ms, ttft_ms, attempts, \
     cache, error, trace_id, guardrail";

/// The element types of the 20 arrays a batch is sent as, in `COLUMNS` order.
const ARRAY_TYPES: &str = "int8[], text[], text[], text[], text[], text[], text[], int4[], \
     bool[], int8[], int8[], int8[], float8[], int8[], int8[], int4[], text[], text[], text[], \
     text[]";

/// A connection to the ledger table in PostgreSQL.
pub(crate) struct PgStore {
    client: Client,
    table: String,
    target: LedgerTarget,
    /// `INSERT … SELECT * FROM unnest($1, …, $20)`: a whole batch as one
    /// statement of 20 array parameters, prepared once per connection.
    insert: Option<Statement>,
}

fn insert_sql(table: &str) -> String {
    let arrays: Vec<String> = ARRAY_TYPES
        .split(", ")
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}", i + 1))
        .collect();
    format!(
        "INSERT INTO {table} ({COLUMNS}) SELECT * FROM unnest({})",
        arrays.join(", ")
    )
}

/// A batch turned column-wise, borrowing the records' strings.
struct Columns<'a> {
    at_ms: Vec<i64>,
    request_id: Vec<&'a str>,
    key: Vec<&'a str>,
    route: Vec<&'a str>,
    provider: Vec<&'a str>,
    model: Vec<&'a str>,
    endpoint: Vec<&'a str>,
    status: Vec<i32>,
    stream: Vec<bool>,
    prompt_tokens: Vec<i64>,
    completion_tokens: Vec<i64>,
    cached_tokens: Vec<i64>,
    cost_usd: Vec<f64>,
    latency_ms: Vec<i64>,
    ttft_ms: Vec<Option<i64>>,
    attempts: Vec<i32>,
    cache: Vec<&'a str>,
    error: Vec<Option<&'a str>>,
    trace_id: Vec<Option<&'a str>>,
    guardrail: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(batch: &'a [Pending]) -> Self {
        let records = || batch.iter().map(|p| &p.record);
        Self {
            at_ms: records().map(|r| r.at_ms).collect(),
            request_id: records().map(|r| r.request_id.as_str()).collect(),
            key: records().map(|r| r.key.as_str()).collect(),
            route: records().map(|r| r.route.as_str()).collect(),
            provider: records().map(|r| r.provider.as_str()).collect(),
            model: records().map(|r| r.model.as_str()).collect(),
            endpoint: records().map(|r| r.endpoint.as_str()).collect(),
            status: records().map(|r| i32::from(r.status)).collect(),
            stream: records().map(|r| r.stream).collect(),
            prompt_tokens: records().map(|r| db_int(r.prompt_tokens)).collect(),
            completion_tokens: records().map(|r| db_int(r.completion_tokens)).collect(),
            cached_tokens: records().map(|r| db_int(r.cached_tokens)).collect(),
            cost_usd: records().map(|r| r.cost_usd).collect(),
            latency_ms: records().map(|r| db_int(r.latency_ms)).collect(),
            ttft_ms: records().map(|r| r.ttft_ms.map(db_int)).collect(),
            attempts: records()
                .map(|r| i32::try_from(r.attempts).unwrap_or(i32::MAX))
                .collect(),
            cache: records().map(|r| r.cache.as_str()).collect(),
            error: records().map(|r| r.error.as_deref()).collect(),
            trace_id: records().map(|r| r.trace_id.as_deref()).collect(),
            guardrail: records().map(|r| r.guardrail.as_deref()).collect(),
        }
    }
}

impl PgStore {
    /// Connects to `url` and creates `table` if missing. The error is
    /// `refused` when the server answered with an error (credentials,
    /// unknown database, permissions) rather than being unreachable.
    pub fn connect(target: &LedgerTarget, url: &str, table: &str) -> Result<Self, StoreError> {
        let redacted = |e: &dyn std::fmt::Display| target.redact(&e.to_string());
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::new(format!("invalid PostgreSQL URL: {}", redacted(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("switchyard-ledger");
        }
        let mut store = config
            .connect(NoTls)
            .map(|client| Self {
                client,
                table: table.to_string(),
                target: target.clone(),
                insert: None,
            })
            .map_err(|e| StoreError {
                message: format!("cannot connect to {}: {}", target.label(), redacted(&e)),
                refused: refused(&e),
            })?;
        store.create_schema().map_err(|mut e| {
            e.refused = true;
            e
        })?;
        Ok(store)
    }

    fn create_schema(&mut self) -> Result<(), StoreError> {
        let t = &self.table;
        let sql = format!(
            "SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
             CREATE TABLE IF NOT EXISTS {t} (
                 id BIGSERIAL PRIMARY KEY,
                 at_ms BIGINT NOT NULL,
                 request_id TEXT NOT NULL,
                 key TEXT NOT NULL,
                 route TEXT NOT NULL,
                 provider TEXT NOT NULL,
                 model TEXT NOT NULL,
                 endpoint TEXT NOT NULL,
                 status INTEGER NOT NULL,
                 stream BOOLEAN NOT NULL,
                 prompt_tokens BIGINT NOT NULL,
                 completion_tokens BIGINT NOT NULL,
                 cached_tokens BIGINT NOT NULL,
                 cost_usd DOUBLE PRECISION NOT NULL,
                 latency_ms BIGINT NOT NULL,
                 ttft_ms BIGINT,
                 attempts INTEGER NOT NULL,
                 cache TEXT NOT NULL,
                 error TEXT,
                 trace_id TEXT,
                 guardrail TEXT
             );
             ALTER TABLE {t} ADD COLUMN IF NOT EXISTS trace_id TEXT;
             ALTER TABLE {t} ADD COLUMN IF NOT EXISTS guardrail TEXT;
             CREATE INDEX IF NOT EXISTS {t}_at_ms ON {t} (at_ms);
             CREATE INDEX IF NOT EXISTS {t}_key_at_ms ON {t} (key, at_ms);"
        );
        let result = (|| {
            let mut tx = self.client.transaction()?;
            tx.batch_execute(&sql)?;
            tx.commit()
        })();
        result.map_err(|e| {
            let e = self.err(&e);
            StoreError::new(format!("cannot create table {}: {}", self.table, e.message))
        })
    }

    fn err(&self, e: &postgres::Error) -> StoreError {
        StoreError::new(format!(
            "{}: {}",
            self.target.label(),
            self.target.redact(&e.to_string())
        ))
    }
}

/// Whether the server itself turned the connection down for a reason that
/// retrying will not fix.
fn refused(e: &postgres::Error) -> bool {
    match e.code() {
        None => false,
        Some(code) => {
            ![SqlState::CANNOT_CONNECT_NOW, SqlState::TOO_MANY_CONNECTIONS].contains(code)
        }
    }
}

impl Store for PgStore {
    fn insert(&mut self, batch: &[Pending]) -> Result<(), StoreError> {
        let cols = Columns::of(batch);
        let params: [&(dyn ToSql + Sync); 20] = [
            &cols.at_ms,
            &cols.request_id,
            &cols.key,
            &cols.route,
            &cols.provider,
            &cols.model,
            &cols.endpoint,
            &cols.status,
            &cols.stream,
            &cols.prompt_tokens,
            &cols.completion_tokens,
            &cols.cached_tokens,
            &cols.cost_usd,
            &cols.latency_ms,
            &cols.ttft_ms,
            &cols.attempts,
            &cols.cache,
            &cols.error,
            &cols.trace_id,
            &cols.guardrail,
        ];
        let result = (|| {
            if self.insert.is_none() {
                self.insert = Some(self.client.prepare(&insert_sql(&self.table))?);
            }
            let Some(stmt) = &self.insert else {
                return Ok(0);
            };
            // One statement is one transaction: the batch commits whole or not at all.
            self.client.execute(stmt, &params)
        })();
        result.map(|_| ()).map_err(|e| self.err(&e))
    }

    fn query(&mut self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let sql = query::build(q, &self.table, Dialect::Postgres);
        let params: Vec<Box<dyn ToSql + Sync>> = sql
            .params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    Param::Text(s) => Box::new(s.clone()),
                    Param::Int(n) => Box::new(*n),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let rows = self
            .client
            .query(&sql.text, &refs)
            .map_err(|e| self.err(&e))?;
        let n = sql.groups.len();
        let mut out = Vec::new();
        for r in rows {
            let read = || -> Result<_, postgres::Error> {
                let values = (0..n)
                    .map(|i| {
                        r.try_get::<_, Option<String>>(i)
                            .map(Option::unwrap_or_default)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let totals = Totals {
                    requests: r.try_get(n)?,
                    errors: r.try_get(n + 1)?,
                    prompt_tokens: r.try_get(n + 2)?,
                    completion_tokens: r.try_get(n + 3)?,
                    cached_tokens: r.try_get(n + 4)?,
                    cost_usd: r.try_get(n + 5)?,
                    avg_latency_ms: r.try_get(n + 6)?,
                    cache_hits: r.try_get(n + 7)?,
                };
                Ok(query::row(&sql.groups, values, totals))
            };
            out.extend(read().map_err(|e| self.err(&e))?);
        }
        Ok(out)
    }

    fn spend_by(&mut self, by: SpendBy, since_ms: i64) -> Result<HashMap<String, f64>, StoreError> {
        let sql = query::spend_by_sql(by, &self.table, Dialect::Postgres);
        let rows = self
            .client
            .query(&sql, &[&since_ms])
            .map_err(|e| self.err(&e))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()
            .map_err(|e| self.err(&e))
    }

    fn spend_total(&mut self, since_ms: i64) -> Result<f64, StoreError> {
        let sql = query::spend_total_sql(&self.table, Dialect::Postgres);
        self.client
            .query_one(&sql, &[&since_ms])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(&e))
    }
}
