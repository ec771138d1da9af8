//! `kill -9` at the module level: a child process (this test binary again,
//! running `crash_child`) records a steady stream and acknowledges each
//! batch on stdout; the parent kills it with SIGKILL and checks that every
//! record acknowledged more than `flush_interval` before the kill is in the
//! SQLite file, and that the file is intact.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::rec;
use crate::ledger::{Ledger, LedgerOptions, LedgerTarget, UsageRecord};

const DB_ENV: &str = "SWITCHYARD_LEDGER_CRASH_DB";
const KEY_ENV: &str = "SWITCHYARD_LEDGER_CRASH_KEY";
const FLUSH: Duration = Duration::from_millis(200);
/// One batch's commit plus the writer's wake-up: the part of the promise
/// beyond `flush_interval` (see the module docs of `ledger`).
const COMMIT_SLACK: Duration = Duration::from_millis(100);

#[test]
#[ignore = "the child half of sqlite_keeps_what_was_acknowledged_before_kill_9"]
fn crash_child() {
    let (Ok(path), Ok(key)) = (std::env::var(DB_ENV), std::env::var(KEY_ENV)) else {
        return;
    };
    let opts = LedgerOptions {
        flush_interval: FLUSH,
        ..Default::default()
    };
    let ledger = Ledger::open(&LedgerTarget::Sqlite(path.into()), opts).unwrap();
    let mut out = std::io::stdout();
    let started = Instant::now();
    let mut seq = 0u64;
    // Stops by itself if nobody kills it.
    while started.elapsed() < Duration::from_secs(60) {
        for _ in 0..5 {
            ledger.record(UsageRecord {
                key: key.clone(),
                ..rec(seq.to_string())
            });
            seq += 1;
        }
        writeln!(out, "ack {}", seq - 1).unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sqlite_keeps_what_was_acknowledged_before_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    // Two rounds on one file: the second also reopens a file left by a kill.
    for round in 0..2u32 {
        let key = format!("crash-{round}");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "ledger::tests::crash::crash_child"])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(DB_ENV, &path)
            .env(KEY_ENV, &key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    // Read after the child wrote it: never earlier than the ack.
                    let _ = tx.send((n.parse::<u64>().unwrap(), Instant::now()));
                }
            }
        });

        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child acks");
        let kill_at = first.1 + Duration::from_millis(1200 + 170 * u64::from(round));
        let mut acks = vec![first];
        while let Some(left) = kill_at.checked_duration_since(Instant::now()) {
            if let Ok(ack) = rx.recv_timeout(left) {
                acks.push(ack);
            }
        }
        let killed = Instant::now();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let promised = acks
            .iter()
            .filter(|(_, at)| *at + FLUSH + COMMIT_SLACK <= killed)
            .map(|(n, _)| *n)
            .max()
            .expect("acks well before the kill");
        let last_acked = acks.last().unwrap().0;

        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let kept: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM switchyard_usage WHERE key = ?1 \
                 AND CAST(request_id AS INTEGER) <= ?2",
                rusqlite::params![key, i64::try_from(promised).unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        let total: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM switchyard_usage WHERE key = ?1",
                [&key],
                |r| r.get(0),
            )
            .unwrap();
        eprintln!(
            "round {round}: acknowledged {}, promised {}, on disk {total} \
             (all {kept} promised present)",
            last_acked + 1,
            promised + 1
        );
        assert_eq!(
            u64::try_from(kept).unwrap(),
            promised + 1,
            "records acknowledged before the kill are missing"
        );
    }
}
