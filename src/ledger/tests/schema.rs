//! Ledger tables made by earlier versions: opening the ledger adds the
//! columns they lack and keeps their rows. Each `fn` runs on both backends.

use super::{rec, slow, TestDb};
use crate::ledger::UsageRecord;

/// Creates the table as the first version did (no `trace_id`, no
/// `guardrail`), plus `extra` columns, and inserts one row `old` (with
/// `extra_values` for the extra columns).
fn create_old_table(db: &TestDb, extra: &[&str], extra_values: &[&str]) {
    let cols: String = extra.iter().map(|c| format!(", {c} TEXT")).collect();
    let names: String = extra.iter().map(|c| format!(", {c}")).collect();
    let values: String = extra_values.iter().map(|v| format!(", '{v}'")).collect();
    let sql = format!(
        "CREATE TABLE {t} (
             id {id}, at_ms BIGINT NOT NULL, request_id TEXT NOT NULL,
             key TEXT NOT NULL, route TEXT NOT NULL, provider TEXT NOT NULL,
             model TEXT NOT NULL, endpoint TEXT NOT NULL, status INTEGER NOT NULL,
             stream BOOLEAN NOT NULL, prompt_tokens BIGINT NOT NULL,
             completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
             cost_usd DOUBLE PRECISION NOT NULL, latency_ms BIGINT NOT NULL, ttft_ms BIGINT,
             attempts INTEGER NOT NULL, cache TEXT NOT NULL, error TEXT{cols});
         INSERT INTO {t} (at_ms, request_id, key, route, provider, model, endpoint, status,
             stream, prompt_tokens, completion_tokens, cached_tokens, cost_usd, latency_ms,
             attempts, cache{names})
         VALUES (1, 'old', '', '', '', '', 'chat', 200, false, 0, 0, 0, 0, 0, 1, ''{values});",
        t = db.table(),
        id = match db {
            TestDb::Sqlite { .. } => "INTEGER PRIMARY KEY",
            TestDb::Postgres { .. } => "BIGSERIAL PRIMARY KEY",
        },
    );
    db.execute(&sql);
}

/// A ledger made before traces were recorded gets the `trace_id` column
/// (and `guardrail`) when it is opened, and keeps its rows.
fn a_table_without_trace_ids_gets_their_column(db: TestDb) {
    create_old_table(&db, &[], &[]);
    let ledger = db.open(slow());
    let traced = UsageRecord {
        trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
        ..rec("new")
    };
    ledger.record(traced.clone());
    ledger.flush().unwrap();
    let rows = db.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].request_id.as_str(), rows[0].trace_id.as_deref()),
        ("old", None)
    );
    assert_eq!(rows[1], traced);
}

/// A ledger made before guardrails were recorded (but with traces) gets
/// the `guardrail` column when it is opened, and keeps its rows.
fn a_table_without_guardrails_gets_their_column(db: TestDb) {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    create_old_table(&db, &["trace_id"], &[trace]);
    let ledger = db.open(slow());
    let blocked = UsageRecord {
        status: 400,
        guardrail: Some("no-secrets".into()),
        ..rec("new")
    };
    ledger.record(blocked.clone());
    ledger.flush().unwrap();
    let rows = db.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].request_id.as_str(),
            rows[0].trace_id.as_deref(),
            rows[0].guardrail.as_deref()
        ),
        ("old", Some(trace), None)
    );
    assert_eq!(rows[1], blocked);
    drop(ledger);

    // Opening again finds the column there and leaves it be.
    let again = db.open(slow());
    again.record(rec("again"));
    again.flush().unwrap();
    assert_eq!(db.count(), 3);
}

both!(
    a_table_without_trace_ids_gets_their_column,
    a_table_without_guardrails_gets_their_column,
);
