//! Reading the ledger back: a [`UsageQuery`] (filters, time range, grouping)
//! becomes one aggregate `SELECT` per backend dialect. User values only ever
//! travel as bound parameters; column expressions come from [`GroupBy`]
//! and [`SpendBy`]. Spend sums (per key, route or provider, or in total)
//! are built here too.

use std::collections::BTreeMap;

/// What to read: filters (all optional, combined with AND), a time range
/// (`from_ms` inclusive, `to_ms` exclusive), grouping and a row limit.
#[derive(Default, Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageQuery {
    pub key: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub route: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Dimensions to group by, in this order; none gives one total row.
    pub group_by: Vec<GroupBy>,
    pub limit: Option<usize>,
}

/// A dimension to group usage by. `Day` is the UTC date (`2025-01-31`),
/// `Hour` the UTC hour (`2025-01-31T13:00Z`).
#[derive(Debug, Clone, Copy, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Key,
    Model,
    Provider,
    Route,
    Status,
    Day,
    Hour,
}

const ALL: [GroupBy; 7] = [
    GroupBy::Key,
    GroupBy::Model,
    GroupBy::Provider,
    GroupBy::Route,
    GroupBy::Status,
    GroupBy::Day,
    GroupBy::Hour,
];

impl GroupBy {
    /// Parses a comma-separated list such as `key,model` (spaces allowed,
    /// repeats kept once). Fails on an unknown name, listing the known ones.
    pub fn parse_list(s: &str) -> Result<Vec<GroupBy>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let g = ALL.into_iter().find(|g| g.name() == part).ok_or_else(|| {
                let known: Vec<_> = ALL.iter().map(|g| g.name()).collect();
                format!("unknown group_by `{part}` (expected {})", known.join(", "))
            })?;
            if !out.contains(&g) {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// The name used in `parse_list`, serde and [`UsageRow::group`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Model => "model",
            Self::Provider => "provider",
            Self::Route => "route",
            Self::Status => "status",
            Self::Day => "day",
            Self::Hour => "hour",
        }
    }

    fn expr(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (Self::Key, _) => "key",
            (Self::Model, _) => "model",
            (Self::Provider, _) => "provider",
            (Self::Route, _) => "route",
            (Self::Status, _) => "CAST(status AS TEXT)",
            (Self::Day, Dialect::Sqlite) => "strftime('%Y-%m-%d', at_ms / 1000, 'unixepoch')",
            (Self::Hour, Dialect::Sqlite) => {
                "strftime('%Y-%m-%dT%H:00Z', at_ms / 1000, 'unixepoch')"
            }
            (Self::Day, Dialect::Postgres) => {
                "to_char(to_timestamp(at_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            }
            (Self::Hour, Dialect::Postgres) => {
                "to_char(to_timestamp(at_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":00Z\"')"
            }
        }
    }
}

/// Which column spend is summed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBy {
    Key,
    Route,
    Provider,
}

impl SpendBy {
    /// The column, from this `match` only: never spliced from text.
    fn column(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Route => "route",
            Self::Provider => "provider",
        }
    }
}

/// `SELECT value, spend … GROUP BY value` for [`SpendBy`] on `table`, with
/// `since_ms` as its one parameter; empty values are left out.
pub(crate) fn spend_by_sql(by: SpendBy, table: &str, dialect: Dialect) -> String {
    let col = by.column();
    format!(
        "SELECT {col}, CAST(SUM(cost_usd) AS DOUBLE PRECISION) FROM {table} \
         WHERE at_ms >= {} AND {col} <> '' GROUP BY {col}",
        dialect.placeholder(1)
    )
}

/// One row, one column: total spend on `table` since the one parameter
/// (0 when no record matches).
pub(crate) fn spend_total_sql(table: &str, dialect: Dialect) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) FROM {table} \
         WHERE at_ms >= {}",
        dialect.placeholder(1)
    )
}

/// One group's totals. `errors` counts statuses ≥ 400, `cache_hits` records
/// whose `cache` is `"hit"`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageRow {
    /// [`GroupBy::name`] → value; empty without grouping.
    pub group: BTreeMap<String, String>,
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub avg_latency_ms: f64,
    pub cache_hits: u64,
}

/// SQL spelling differences between the two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn placeholder(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// A statement and its parameters. Result columns: one text column per
/// group, then requests, errors, prompt, completion and cached tokens
/// (integers), cost and average latency (floats), cache hits (integer).
#[derive(Debug)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
    pub groups: Vec<GroupBy>,
}

/// Builds the aggregate statement for `q` on `table` (a name the ledger
/// chose and checked, never user input).
pub(crate) fn build(q: &UsageQuery, table: &str, dialect: Dialect) -> Sql {
    let mut groups: Vec<GroupBy> = Vec::new();
    for g in &q.group_by {
        if !groups.contains(g) {
            groups.push(*g);
        }
    }
    let mut params = Vec::new();
    let mut conds = Vec::new();
    let mut bind = |cond: &str, p: Param, params: &mut Vec<Param>| {
        params.push(p);
        conds.push(format!("{cond} {}", dialect.placeholder(params.len())));
    };
    let text_filters = [
        ("key =", &q.key),
        ("model =", &q.model),
        ("provider =", &q.provider),
        ("route =", &q.route),
    ];
    for (cond, value) in text_filters {
        if let Some(v) = value {
            bind(cond, Param::Text(v.clone()), &mut params);
        }
    }
    if let Some(from) = q.from_ms {
        bind("at_ms >=", Param::Int(from), &mut params);
    }
    if let Some(to) = q.to_ms {
        bind("at_ms <", Param::Int(to), &mut params);
    }

    let mut cols: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| format!("{} AS g{i}", g.expr(dialect)))
        .collect();
    cols.extend(
        [
            "CAST(COUNT(*) AS BIGINT)",
            "CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT)",
            "CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT)",
            "CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT)",
            "CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT)",
            "CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION)",
            "CAST(COALESCE(AVG(latency_ms), 0) AS DOUBLE PRECISION)",
            "CAST(COALESCE(SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END), 0) AS BIGINT)",
        ]
        .map(String::from),
    );
    let mut text = format!("SELECT {} FROM {table}", cols.join(", "));
    if !conds.is_empty() {
        text += &format!(" WHERE {}", conds.join(" AND "));
    }
    if !groups.is_empty() {
        let positions: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
        text += &format!(" GROUP BY {0} ORDER BY {0}", positions.join(", "));
    }
    if let Some(limit) = q.limit {
        params.push(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        text += &format!(" LIMIT {}", dialect.placeholder(params.len()));
    }
    Sql {
        text,
        params,
        groups,
    }
}

/// The aggregate columns of one result row, in [`Sql`]'s order.
pub(crate) struct Totals {
    pub requests: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cost_usd: f64,
    pub avg_latency_ms: f64,
    pub cache_hits: i64,
}

/// Assembles a [`UsageRow`]; `None` for the empty total an ungrouped query
/// over no records returns (no usage, no row).
pub(crate) fn row(groups: &[GroupBy], values: Vec<String>, t: Totals) -> Option<UsageRow> {
    if t.requests == 0 {
        return None;
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Some(UsageRow {
        group: groups
            .iter()
            .map(|g| g.name().to_string())
            .zip(values)
            .collect(),
        requests: count(t.requests),
        errors: count(t.errors),
        prompt_tokens: count(t.prompt_tokens),
        completion_tokens: count(t.completion_tokens),
        cached_tokens: count(t.cached_tokens),
        cost_usd: t.cost_usd,
        avg_latency_ms: t.avg_latency_ms,
        cache_hits: count(t.cache_hits),
    })
}

#[cfg(test)]
mod tests;
