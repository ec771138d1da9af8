//! Throughput figures (ignored by default; debug builds, so a lower bound):
//! `cargo test ledger::tests::throughput -- --ignored --nocapture`.

use std::time::Instant;

use super::{rec, TestDb};
use crate::ledger::LedgerOptions;

const N: usize = 100_000;

fn record_and_flush(db: TestDb, name: &str) {
    let ledger = db.open(LedgerOptions::default());
    let records: Vec<_> = (0..N).map(|i| rec(format!("req-{i}"))).collect();
    let start = Instant::now();
    for r in records {
        ledger.record(r);
    }
    let recorded = start.elapsed();
    ledger.flush().unwrap();
    let total = start.elapsed();
    assert_eq!(db.count(), N);
    eprintln!(
        "{name}: record() x{N} {:.0} ms ({:.0} ns each); record + flush {:.0} ms = {:.0} records/s",
        recorded.as_secs_f64() * 1e3,
        recorded.as_secs_f64() * 1e9 / N as f64,
        total.as_secs_f64() * 1e3,
        N as f64 / total.as_secs_f64()
    );
}

#[test]
#[ignore = "throughput figure"]
fn throughput_100k_sqlite() {
    record_and_flush(TestDb::sqlite(), "sqlite");
}

#[test]
#[ignore = "throughput figure"]
fn throughput_100k_postgres() {
    record_and_flush(TestDb::postgres(), "postgres");
}
