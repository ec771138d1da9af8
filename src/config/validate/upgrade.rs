//! `server.upgrade_sock`: where `switchyard run --upgrade` receives the
//! listening sockets of the gateway it replaces (Pingora's graceful upgrade).

use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Ctx;

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes,
/// NUL included). Pingora unwraps the address, so a longer one would panic
/// at the upgrade instead of failing here.
const MAX_SOCK_PATH: usize = 107;

/// The default: in the temp dir, keyed by the listen address, so gateways
/// on different ports never meet on one socket.
pub fn default_upgrade_sock(listen: SocketAddr) -> PathBuf {
    std::env::temp_dir().join(format!(
        "switchyard-upgrade-{}-{}.sock",
        listen.ip(),
        listen.port()
    ))
}

/// The configured path (relative to the data directory) or the default;
/// an issue when it is empty or too long for a socket address.
pub(super) fn upgrade_sock(
    raw: Option<&str>,
    listen: SocketAddr,
    base_dir: &Path,
    cx: &mut Ctx,
) -> PathBuf {
    let Some(text) = raw else {
        return default_upgrade_sock(listen);
    };
    if text.trim().is_empty() {
        cx.issue("server.upgrade_sock", "must not be empty");
        return default_upgrade_sock(listen);
    }
    let path = base_dir.join(text);
    let len = path.as_os_str().as_bytes().len();
    if len > MAX_SOCK_PATH {
        cx.issue(
            "server.upgrade_sock",
            format!(
                "`{}` is {len} bytes long; a Unix socket path may have at most {MAX_SOCK_PATH}",
                path.display()
            ),
        );
    }
    path
}
