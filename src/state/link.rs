//! The link to Redis: the connection, and each operation as one round trip
//! (Lua scripts for every read-modify-write, plain commands otherwise).
//!
//! Runtime: a redis `ConnectionManager` spawns its connection driver (and
//! its reconnects) on the tokio runtime current where it is created or first
//! polled. The gateway runs on several Pingora runtimes and builds its config,
//! store included, before any of them exists. So the link owns one small
//! runtime (one worker thread, `switchyard-state`): the manager is created
//! there and every operation is spawned there and awaited from whichever
//! runtime the caller is on. This works from outside any runtime and survives
//! the end of the caller's runtime (tests, reload); the cost is one task hop.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisError, Script, ServerErrorKind};
use tokio::runtime::{Handle, Runtime};

use super::bucket::{Rate, EPSILON};
use super::memory::duration_ms;
use super::StateError;
use crate::upstream::quota::{FleetTake, Reading, Signal, SAME_WINDOW};

/// Longest wait for one Redis operation (connecting included) before it
/// counts as a failure: a rate-limit check must not hold a request longer.
pub const REDIS_OP_TIMEOUT: Duration = Duration::from_millis(250);

static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("scripts/bucket.lua"),
        include_str!("scripts/take.lua")
    ))
});
static ADJUST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("scripts/bucket.lua"),
        include_str!("scripts/adjust.lua")
    ))
});
static ADD_SPEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/add_spend.lua")));
static QUOTA_TAKE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/quota_take.lua")));
static QUOTA_OBSERVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/quota_observe.lua")));

/// Why a Redis operation failed.
#[derive(Debug)]
pub(crate) enum BackendError {
    /// No answer within [`REDIS_OP_TIMEOUT`].
    Timeout,
    /// The link's runtime is shutting down.
    Stopped,
    /// The client or the server reported an error.
    Redis(RedisError),
    /// Redis answered something this code did not expect.
    Reply(String),
}

impl BackendError {
    /// True when Redis cannot be reached or cannot serve right now (as
    /// opposed to answering with an error that a retry would repeat).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Timeout | Self::Stopped => true,
            Self::Reply(_) => false,
            Self::Redis(e) => matches!(
                e.kind(),
                ErrorKind::Io
                    | ErrorKind::Parse
                    | ErrorKind::AuthenticationFailed
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::ReadOnly
                    )
            ),
        }
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => write!(f, "no answer within {REDIS_OP_TIMEOUT:?}"),
            Self::Stopped => f.write_str("state runtime stopped"),
            Self::Redis(e) => write!(f, "{e}"),
            Self::Reply(m) => write!(f, "unexpected reply: {m}"),
        }
    }
}

impl From<RedisError> for BackendError {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

/// The runtime the link runs on; shut down without blocking when the store
/// is dropped (which may happen inside another runtime).
pub(crate) struct OwnedRuntime(Option<Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Entries the semantic cache's stream keeps, about (`MAXLEN ~`): the
/// newest, which is what a new instance warms up from.
pub const SEMANTIC_STREAM_LEN: u64 = 10_000;

/// The field of a semantic stream entry that holds the encoded entry.
const SEMANTIC_FIELD: &str = "e";

/// Key names under the store's prefix.
struct Keys {
    prefix: String,
}

impl Keys {
    fn bucket(&self, name: &str) -> String {
        format!("{}rl:{name}", self.prefix)
    }
    fn spend(&self, name: &str) -> String {
        format!("{}spend:{name}", self.prefix)
    }
    fn cache(&self, name: &str) -> String {
        format!("{}cache:{name}", self.prefix)
    }
    fn record(&self, name: &str) -> String {
        format!("{}record:{name}", self.prefix)
    }
    fn semantic(&self) -> String {
        format!("{}semantic", self.prefix)
    }
    fn quota(&self, backend: &str) -> String {
        format!("{}quota:{backend}", self.prefix)
    }
    fn quota_leases(&self, backend: &str) -> String {
        format!("{}quota-leases:{backend}", self.prefix)
    }
}

/// A lazily connected, self-reconnecting handle on one Redis.
pub(crate) struct Link {
    handle: Handle,
    client: Client,
    conn: ArcSwap<ConnectionManager>,
    keys: Keys,
}

impl Link {
    /// Starts the link's runtime and a manager that connects on first use.
    /// Fails only on a malformed URL or if the thread cannot start.
    pub fn start(url: &str, prefix: &str) -> Result<(Self, OwnedRuntime), StateError> {
        let client = Client::open(url).map_err(|e| StateError::InvalidUrl(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("switchyard-state")
            .enable_all()
            .build()
            .map_err(|e| StateError::Runtime(e.to_string()))?;
        let handle = rt.handle().clone();
        let conn = {
            let _in_rt = handle.enter();
            manager(&client).map_err(|e| StateError::InvalidUrl(e.to_string()))?
        };
        let prefix = match prefix {
            "" => String::new(),
            p if p.ends_with(':') => p.to_owned(),
            p => format!("{p}:"),
        };
        let link = Self {
            handle,
            client,
            conn: ArcSwap::from_pointee(conn),
            keys: Keys { prefix },
        };
        Ok((link, OwnedRuntime(Some(rt))))
    }

    /// The link's runtime, for background tasks.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Replaces the connection manager with a fresh one, dropping a
    /// connection that may be wedged (no reset, no answer). Call on the
    /// link's runtime.
    pub fn renew(&self) {
        if let Ok(m) = manager(&self.client) {
            self.conn.store(Arc::new(m));
        }
    }

    /// Runs `op` on the link's runtime with a connection, bounded by
    /// [`REDIS_OP_TIMEOUT`].
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, BackendError>> + Send + 'static,
    {
        let fut = op(ConnectionManager::clone(&self.conn.load()));
        let task = self.handle.spawn(async move {
            tokio::time::timeout(REDIS_OP_TIMEOUT, fut)
                .await
                .unwrap_or(Err(BackendError::Timeout))
        });
        task.await.unwrap_or(Err(BackendError::Stopped))
    }

    /// PING.
    pub async fn ping(&self) -> Result<(), BackendError> {
        self.run(|mut conn| async move {
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok(())
        })
        .await
    }

    /// The take script: tokens left and whether `amount` was taken.
    pub async fn take(
        &self,
        bucket: &str,
        rate: Rate,
        amount: u64,
    ) -> Result<(f64, bool), BackendError> {
        let key = self.keys.bucket(bucket);
        self.run(|mut conn| async move {
            let (taken, tokens): (i64, String) = TAKE
                .key(key)
                .arg(rate.limit)
                .arg(rate.window_ms)
                .arg(amount)
                .arg(EPSILON)
                .invoke_async(&mut conn)
                .await?;
            Ok((parse_f64(&tokens)?, taken == 1))
        })
        .await
    }

    /// The adjust script.
    pub async fn adjust(&self, bucket: &str, rate: Rate, delta: i64) -> Result<(), BackendError> {
        let key = self.keys.bucket(bucket);
        self.run(|mut conn| async move {
            let _tokens: String = ADJUST
                .key(key)
                .arg(rate.limit)
                .arg(rate.window_ms)
                .arg(delta)
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// The add_spend script: new totals in order.
    pub async fn add_spend(
        &self,
        counters: &[(&str, Duration)],
        usd: f64,
    ) -> Result<Vec<f64>, BackendError> {
        let mut inv = ADD_SPEND.prepare_invoke();
        inv.arg(usd);
        for &(name, ttl) in counters {
            inv.key(self.keys.spend(name)).arg(duration_ms(ttl).max(1));
        }
        self.run(|mut conn| async move {
            let totals: Vec<String> = inv.invoke_async(&mut conn).await?;
            totals.iter().map(|t| parse_f64(t)).collect()
        })
        .await
    }

    /// MGET of the counters (absent = 0).
    pub async fn spend(&self, counters: &[&str]) -> Result<Vec<f64>, BackendError> {
        let mut cmd = redis::cmd("MGET");
        for name in counters {
            cmd.arg(self.keys.spend(name));
        }
        self.run(|mut conn| async move {
            let values: Vec<Option<String>> = cmd.query_async(&mut conn).await?;
            values
                .iter()
                .map(|v| v.as_deref().map_or(Ok(0.0), parse_f64))
                .collect()
        })
        .await
    }

    /// SET NX PX.
    pub async fn seed_spend(
        &self,
        counter: &str,
        usd: f64,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.spend(counter))
            .arg(usd)
            .arg("NX")
            .arg("PX")
            .arg(duration_ms(ttl).max(1));
        self.run(|mut conn| async move {
            cmd.query_async::<Option<String>>(&mut conn).await?;
            Ok(())
        })
        .await
    }

    /// GET of a cached answer.
    pub async fn cache_get(&self, key: &str) -> Result<Option<Bytes>, BackendError> {
        self.get(self.keys.cache(key)).await
    }

    /// SET PX of a cached answer.
    pub async fn cache_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        self.set(self.keys.cache(key), value, ttl).await
    }

    /// GET of a record.
    pub async fn record_get(&self, key: &str) -> Result<Option<Bytes>, BackendError> {
        self.get(self.keys.record(key)).await
    }

    /// SET PX of a record.
    pub async fn record_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        self.set(self.keys.record(key), value, ttl).await
    }

    /// DEL of a record: whether there was one.
    pub async fn record_delete(&self, key: &str) -> Result<bool, BackendError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.keys.record(key));
        self.run(|mut conn| async move {
            let n: i64 = cmd.query_async(&mut conn).await?;
            Ok(n > 0)
        })
        .await
    }

    /// XADD of an encoded semantic cache entry, trimming the stream to
    /// about [`SEMANTIC_STREAM_LEN`] entries.
    pub async fn semantic_publish(&self, entry: Bytes) -> Result<(), BackendError> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.semantic())
            .arg("MAXLEN")
            .arg("~")
            .arg(SEMANTIC_STREAM_LEN)
            .arg("*")
            .arg(SEMANTIC_FIELD)
            .arg(entry.as_ref());
        self.run(|mut conn| async move {
            cmd.query_async::<String>(&mut conn).await?;
            Ok(())
        })
        .await
    }

    /// XRANGE of up to `count` semantic stream entries after the id `after`
    /// (exclusive). An entry without the expected field comes back empty, so
    /// that a reader still moves past it.
    pub async fn semantic_read(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, Bytes)>, BackendError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.keys.semantic())
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(count.max(1));
        self.run(|mut conn| async move {
            let entries: Vec<(String, Vec<Vec<u8>>)> = cmd.query_async(&mut conn).await?;
            Ok(entries
                .into_iter()
                .map(|(id, fields)| (id, semantic_value(fields)))
                .collect())
        })
        .await
    }

    /// The quota_take script, with `lease` ("id:tokens") lasting at most
    /// `lasts`.
    pub async fn quota_take(
        &self,
        backend: &str,
        tokens: u64,
        lease: &str,
        lasts: Duration,
    ) -> Result<FleetTake, BackendError> {
        let mut inv = QUOTA_TAKE.prepare_invoke();
        inv.key(self.keys.quota(backend))
            .key(self.keys.quota_leases(backend))
            .arg(tokens)
            .arg(lease)
            .arg(duration_ms(lasts).max(1));
        self.run(|mut conn| async move {
            let reply: Vec<i64> = inv.invoke_async(&mut conn).await?;
            fleet_take(&reply)
        })
        .await
    }

    /// ZREM of a lease: its request is answered (or failed).
    pub async fn quota_release(&self, backend: &str, lease: &str) -> Result<(), BackendError> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.quota_leases(backend)).arg(lease);
        self.run(|mut conn| async move {
            cmd.query_async::<i64>(&mut conn).await?;
            Ok(())
        })
        .await
    }

    /// The quota_observe script, ending `lease` if the answer had one.
    pub async fn quota_observe(
        &self,
        backend: &str,
        reading: &Reading,
        lease: Option<&str>,
    ) -> Result<(), BackendError> {
        let mut inv = QUOTA_OBSERVE.prepare_invoke();
        inv.key(self.keys.quota(backend))
            .key(self.keys.quota_leases(backend))
            .arg(duration_ms(SAME_WINDOW));
        for window in [reading.requests, reading.tokens] {
            match window {
                Some(w) => inv
                    .arg(1)
                    .arg(w.remaining)
                    .arg(w.limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64))
                    .arg(duration_ms(w.reset_in)),
                None => inv.arg(0).arg(0).arg(-1).arg(0),
            };
        }
        inv.arg(lease.unwrap_or(""));
        self.run(|mut conn| async move {
            inv.invoke_async::<i64>(&mut conn).await?;
            Ok(())
        })
        .await
    }

    async fn get(&self, key: String) -> Result<Option<Bytes>, BackendError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.run(|mut conn| async move { Ok(cmd.query_async(&mut conn).await?) })
            .await
    }

    async fn set(&self, key: String, value: Bytes, ttl: Duration) -> Result<(), BackendError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(value.as_ref())
            .arg("PX")
            .arg(duration_ms(ttl).max(1));
        self.run(|mut conn| async move {
            cmd.query_async::<()>(&mut conn).await?;
            Ok(())
        })
        .await
    }
}

/// A manager that connects on first use, tries once per (re)connect (the
/// store's probe paces retries) and bounds connects and replies.
fn manager(client: &Client) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(REDIS_OP_TIMEOUT))
        .set_response_timeout(Some(REDIS_OP_TIMEOUT));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// The encoded entry among a stream entry's `[field, value, ...]`; empty if
/// it has none.
fn semantic_value(fields: Vec<Vec<u8>>) -> Bytes {
    let mut fields = fields.into_iter();
    while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
        if field == SEMANTIC_FIELD.as_bytes() {
            return Bytes::from(value);
        }
    }
    Bytes::new()
}

/// The quota_take script's reply: `[taken, short_ms, heard, then per kind
/// left, limit, reset_ms]`, -1 where no live window is known.
fn fleet_take(reply: &[i64]) -> Result<FleetTake, BackendError> {
    let [taken, short_ms, heard, r_left, r_limit, r_reset, t_left, t_limit, t_reset] = *reply
    else {
        return Err(BackendError::Reply(format!("quota take: {reply:?}")));
    };
    let window = |left: i64, limit: i64, reset_ms: i64| {
        (left >= 0 && reset_ms >= 0).then(|| Signal {
            remaining: left as u64,
            limit: u64::try_from(limit).ok(),
            reset_in: Duration::from_millis(reset_ms as u64),
        })
    };
    Ok(FleetTake {
        taken: taken == 1,
        short_for: Duration::from_millis(short_ms.max(0) as u64),
        heard: heard == 1,
        known: Reading {
            requests: window(r_left, r_limit, r_reset),
            tokens: window(t_left, t_limit, t_reset),
        },
    })
}

fn parse_f64(s: &str) -> Result<f64, BackendError> {
    s.parse()
        .map_err(|_| BackendError::Reply(format!("not a number: {s:.40}")))
}
