//! One connection to the ledger's database, whatever the backend: the writer
//! thread holds one, queries another. Connecting creates the schema
//! (idempotent), so a database that was down at start-up gets its table on
//! the first successful reconnect.

use std::collections::HashMap;
use std::time::Instant;

use super::query::{SpendBy, UsageQuery, UsageRow};
use super::target::LedgerTarget;
use super::{pg, sqlite, UsageRecord};

/// The table's name when none is chosen (tests choose their own).
pub(crate) const DEFAULT_TABLE: &str = "switchyard_usage";

/// A record waiting for the writer, stamped when `record` accepted it.
#[derive(Debug)]
pub(crate) struct Pending {
    pub record: UsageRecord,
    pub accepted: Instant,
}

/// A failed database operation, its message already free of passwords.
#[derive(Debug, Clone)]
pub(crate) struct StoreError {
    pub message: String,
    /// The server was reached and refused (bad credentials, unknown
    /// database, permissions): retrying will not help, so `open` fails.
    pub refused: bool,
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            refused: false,
        }
    }
}

/// A connection to the ledger table.
pub(crate) trait Store: Send {
    /// Inserts `batch` in one transaction: all of it or none.
    fn insert(&mut self, batch: &[Pending]) -> Result<(), StoreError>;
    /// Aggregates per [`UsageQuery`].
    fn query(&mut self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;
    /// Sum of `cost_usd` per non-empty value of `by` for records at or
    /// after `since_ms`.
    fn spend_by(&mut self, by: SpendBy, since_ms: i64) -> Result<HashMap<String, f64>, StoreError>;
    /// Sum of `cost_usd` for records at or after `since_ms` (0 for none).
    fn spend_total(&mut self, since_ms: i64) -> Result<f64, StoreError>;
}

/// Opens a connection to `target` and makes sure `table` and its indexes exist.
pub(crate) fn connect(target: &LedgerTarget, table: &str) -> Result<Box<dyn Store>, StoreError> {
    match target {
        // A file that cannot be opened will not open by retrying either.
        LedgerTarget::Sqlite(path) => match sqlite::SqliteStore::open(path, table) {
            Ok(store) => Ok(Box::new(store)),
            Err(e) => Err(StoreError { refused: true, ..e }),
        },
        LedgerTarget::Postgres(url) => Ok(Box::new(pg::PgStore::connect(target, url, table)?)),
    }
}

/// Whether `table` is a plain identifier (letters, digits, `_`; not starting
/// with a digit), safe to splice into SQL.
pub(crate) fn valid_table_name(table: &str) -> bool {
    let mut chars = table.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && table.len() <= 48
}

/// A `u64` counter as a signed database integer (saturating).
pub(crate) fn db_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
