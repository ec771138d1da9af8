//! The client's side of the connection while the gateway works for it.

use std::future::Future;

use pingora_proxy::Session;

/// Resolves when the client has closed its connection.
pub async fn client_gone(session: &mut Session) {
    loop {
        match session.as_downstream_mut().read_body_or_idle(true).await {
            Err(_) => return,
            // Pipelined bytes: not a disconnect; stop watching.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}

/// `work`'s output, or `None` if the client leaves first. `work` is boxed:
/// connecting, hedging and failing over make a large future that would
/// otherwise stay reserved in the caller's for a whole stream.
pub async fn unless_gone<F: Future>(session: &mut Session, work: F) -> Option<F::Output> {
    let work = Box::pin(work);
    tokio::select! {
        biased;
        out = work => Some(out),
        _ = client_gone(session) => None,
    }
}
