//! Where an upload's file bytes wait while the request is routed and tried:
//! in memory while small, then in an unnamed temporary file (removed by
//! the OS when the last handle closes, also after a crash). Every attempt
//! reads them again from there, so a failover resends the whole upload
//! without the gateway holding it in memory.
//!
//! Reads and writes are positional (`pread`/`pwrite`): two hedged
//! attempts read the same spool at once without sharing a cursor. They
//! run on tokio's blocking pool, not on the proxy's threads.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

/// Bytes kept in memory before the spool moves to a file.
pub const IN_MEMORY: usize = 256 << 10;

/// An append-only byte store, read back by offset.
#[derive(Debug, Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<Arc<File>>,
    len: u64,
}

impl Spool {
    /// Appends `data`; returns its offset.
    pub async fn append(&mut self, data: Bytes) -> io::Result<u64> {
        let at = self.len;
        if self.file.is_none() && self.memory.len() + data.len() <= IN_MEMORY {
            self.memory.extend_from_slice(&data);
        } else {
            let file = match &self.file {
                Some(f) => f.clone(),
                None => {
                    let f = Arc::new(tempfile::tempfile()?);
                    let held = Bytes::from(std::mem::take(&mut self.memory));
                    write_at(f.clone(), held, 0).await?;
                    self.file = Some(f.clone());
                    f
                }
            };
            write_at(file, data.clone(), at).await?;
        }
        self.len += data.len() as u64;
        Ok(at)
    }

    /// Up to `max` bytes from `offset` (fewer only at the end).
    pub async fn read(&self, offset: u64, max: usize) -> io::Result<Bytes> {
        let end = (offset + max as u64).min(self.len);
        let len = end.saturating_sub(offset) as usize;
        match &self.file {
            None => {
                let (start, end) = (offset as usize, offset as usize + len);
                Ok(Bytes::copy_from_slice(&self.memory[start..end]))
            }
            Some(f) => {
                let f = f.clone();
                tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; len];
                    f.read_exact_at(&mut buf, offset)?;
                    Ok(Bytes::from(buf))
                })
                .await
                .map_err(io::Error::other)?
            }
        }
    }

    /// Bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the bytes moved to a file.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }
}

async fn write_at(file: Arc<File>, data: Bytes, at: u64) -> io::Result<()> {
    tokio::task::spawn_blocking(move || file.write_all_at(&data, at))
        .await
        .map_err(io::Error::other)?
}
