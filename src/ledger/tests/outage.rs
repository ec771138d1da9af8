//! PostgreSQL down at start-up, refusing, or lost mid-run (through a proxy
//! the test cuts): the ledger starts anyway, buffers, keeps passwords out of
//! what it says, and catches up after reconnecting.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{database_url, poll, rec, TestDb};
use crate::ledger::{Ledger, LedgerError, LedgerOptions, LedgerTarget, UsageQuery};

fn opts() -> LedgerOptions {
    LedgerOptions {
        flush_interval: Duration::from_secs(3600),
        close_timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

#[test]
fn ledger_is_send_sync_and_cheap_to_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Ledger>();
}

#[test]
fn unreachable_postgres_at_start_opens_buffers_and_never_shows_the_password() {
    // Port 1 on loopback: connection refused at once.
    let target = LedgerTarget::Postgres("postgres://app:hunter2@127.0.0.1:1/usage".into());
    let ledger = Ledger::open(&target, opts()).unwrap();
    assert_eq!(ledger.target_label(), "postgres://127.0.0.1:1/usage");
    ledger.record(rec("buffered-1"));
    ledger.record(rec("buffered-2"));
    assert_eq!(ledger.pending(), 2);

    let err = ledger.flush().unwrap_err();
    assert!(
        matches!(err, LedgerError::Unavailable { buffered: 2, .. }),
        "{err:?}"
    );
    let query_err = ledger.query(&UsageQuery::default()).unwrap_err();
    assert!(
        matches!(query_err, LedgerError::Query { .. }),
        "{query_err:?}"
    );
    assert_eq!(ledger.pending(), 2, "still buffered for retry");

    let close_err = ledger.close().unwrap_err();
    assert!(
        matches!(close_err, LedgerError::Lost { lost: 2, .. }),
        "{close_err:?}"
    );
    assert_eq!((ledger.pending(), ledger.dropped()), (0, 2));
    for said in [
        err.to_string(),
        query_err.to_string(),
        close_err.to_string(),
    ] {
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains("postgres://127.0.0.1:1/usage"), "{said}");
    }
}

#[test]
fn postgres_refusing_the_database_fails_open() {
    let url = format!("{}_no_such_database", database_url());
    let err = Ledger::open(&LedgerTarget::Postgres(url), opts())
        .err()
        .unwrap();
    assert!(matches!(err, LedgerError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no_such_database"), "{err}");
}

#[test]
fn zero_batch_or_buffer_is_refused() {
    let db = TestDb::sqlite();
    for opts in [
        LedgerOptions {
            max_batch: 0,
            ..opts()
        },
        LedgerOptions {
            max_buffer: 0,
            ..opts()
        },
    ] {
        let err = Ledger::open(&db.target(), opts).err().unwrap();
        assert!(matches!(err, LedgerError::Options(_)), "{err:?}");
    }
}

#[test]
fn unopenable_sqlite_file_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should be.
    let err = Ledger::open(&LedgerTarget::Sqlite(dir.path().into()), opts())
        .err()
        .unwrap();
    assert!(matches!(err, LedgerError::Open { .. }), "{err:?}");
}

/// Forwards loopback connections to the real PostgreSQL until cut.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut all = conns2.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn lost_postgres_buffers_drops_oldest_beyond_max_buffer_and_catches_up() {
    let db = TestDb::postgres();
    let url = url::Url::parse(&database_url()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream);
    let mut via_proxy = url.clone();
    via_proxy.set_port(Some(proxy.port)).unwrap();
    let target = LedgerTarget::Postgres(via_proxy.to_string());
    let ledger = Ledger::open_table(
        &target,
        LedgerOptions {
            max_buffer: 20,
            ..opts()
        },
        db.table(),
    )
    .unwrap();
    ledger.record(rec("before"));
    ledger.flush().unwrap();

    proxy.cut();
    for i in 0..30 {
        ledger.record(rec(format!("during-{i}")));
    }
    let err = ledger.flush().unwrap_err();
    assert!(
        matches!(err, LedgerError::Unavailable { buffered: 20, .. }),
        "{err:?}"
    );
    assert_eq!((ledger.pending(), ledger.dropped()), (20, 10));

    proxy.restore();
    // The writer reconnects on its own (backoff well under 10 s).
    assert!(poll(Duration::from_secs(15), || ledger.pending() == 0));
    let ids: Vec<String> = db.rows().into_iter().map(|r| r.request_id).collect();
    let want: Vec<String> = std::iter::once("before".to_string())
        .chain((10..30).map(|i| format!("during-{i}")))
        .collect();
    assert_eq!(
        ids, want,
        "the oldest ten were dropped, the rest kept in order"
    );
    ledger.close().unwrap();
}

#[test]
fn opening_querying_and_dropping_postgres_inside_a_tokio_runtime_does_not_panic() {
    let db = TestDb::postgres();
    let (target, table) = (db.target(), db.table().to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ledger = Ledger::open_table(&target, opts(), &table).unwrap();
        ledger.record(rec("x"));
        let handle = ledger.clone();
        tokio::task::spawn_blocking(move || handle.flush())
            .await
            .unwrap()
            .unwrap();
        // Blocking, but allowed: the query runs on a plain thread of its own.
        let rows = ledger.query(&UsageQuery::default()).unwrap();
        assert_eq!(rows[0].requests, 1);
        drop(ledger); // the last handle, with its query connection
    });
    assert_eq!(db.count(), 1);
}
