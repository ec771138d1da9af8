//! The `slow-header` fault lives below HTTP: the listener hands each
//! connection accepted while the fault is set to [`trickle`], which reads
//! the request, sends a status line and then one header byte at a time,
//! never finishing the header. (An HTTP framework cannot send half a
//! header, hence this raw path.) Other connections go to axum as usual.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::faults::Fault;
use super::state::Shared;

/// Largest request head read before trickling anyway.
const MAX_HEAD: usize = 64 * 1024;

/// A TCP listener that serves `slow-header` connections itself.
pub(crate) struct FaultyListener {
    pub inner: TcpListener,
    pub shared: Arc<Shared>,
}

impl Listener for FaultyListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (tcp, addr) = Listener::accept(&mut self.inner).await;
            // Events are small writes; Nagle would delay the split halves.
            let _ = tcp.set_nodelay(true);
            match self.shared.config().fault {
                Some(Fault::SlowHeader { every }) => {
                    tokio::spawn(trickle(tcp, every, Arc::clone(&self.shared)));
                }
                _ => return (tcp, addr),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Reads one request head, then answers `HTTP/1.1 200 OK` and a header
/// line one byte per `every`, until the client leaves or the server stops.
async fn trickle(mut tcp: TcpStream, every: Duration, shared: Arc<Shared>) {
    let (_in_flight, mut shutdown) = shared.begin_raw();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = tokio::select! {
            r = tcp.read(&mut buf) => r.unwrap_or(0),
            () = shutdown.wait() => 0,
        };
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
    }
    if tcp.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
        return;
    }
    let line = b"x-mock-slow-header: ";
    let mut i = 0usize;
    loop {
        let byte = line.get(i).copied().unwrap_or(b'a');
        i += 1;
        if tcp.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.wait() => return,
        }
        // A peer that closed shows as a readable end of stream.
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), tcp.read(&mut probe)).await
        {
            return;
        }
    }
}
