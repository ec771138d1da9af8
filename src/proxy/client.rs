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

/// `work`'s output, or `None` if the client leaves first. `work` comes
/// boxed (`Unpin`): moved by value, a large future would be copied into
/// this one's state on every call.
pub async fn unless_gone<F: Future + Unpin>(session: &mut Session, work: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = work => Some(out),
        _ = client_gone(session) => None,
    }
}
