//! The client's side of the connection while the gateway works for it.

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
