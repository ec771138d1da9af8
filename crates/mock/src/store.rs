//! The files and batches one mock server holds in memory (`files`
//! endpoints): a file id is only meaningful at the server that issued it.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{json, Value};

/// An uploaded file.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub id: String,
    pub filename: String,
    pub purpose: String,
    pub created_at: u64,
    pub data: Bytes,
}

impl StoredFile {
    /// The OpenAI file object.
    pub(crate) fn object(&self) -> Value {
        json!({
            "id": self.id,
            "object": "file",
            "bytes": self.data.len(),
            "created_at": self.created_at,
            "expires_at": null,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": null,
        })
    }
}

/// Files and batches in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Store {
    files: Mutex<Vec<StoredFile>>,
    /// Batch objects, as the endpoints answer them.
    batches: Mutex<Vec<Value>>,
}

/// Locks a mutex, ignoring poisoning (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    pub(crate) fn add_file(&self, file: StoredFile) {
        lock(&self.files).push(file);
    }

    pub(crate) fn file(&self, id: &str) -> Option<StoredFile> {
        lock(&self.files).iter().find(|f| f.id == id).cloned()
    }

    /// Every file, newest first.
    pub(crate) fn files(&self) -> Vec<StoredFile> {
        lock(&self.files).iter().rev().cloned().collect()
    }

    /// Removes file `id`; `false` if there is none.
    pub(crate) fn remove_file(&self, id: &str) -> bool {
        let mut files = lock(&self.files);
        let before = files.len();
        files.retain(|f| f.id != id);
        files.len() < before
    }

    pub(crate) fn add_batch(&self, batch: Value) {
        lock(&self.batches).push(batch);
    }

    pub(crate) fn batch(&self, id: &str) -> Option<Value> {
        lock(&self.batches).iter().find(|b| b["id"] == id).cloned()
    }

    /// Every batch, newest first.
    pub(crate) fn batches(&self) -> Vec<Value> {
        lock(&self.batches).iter().rev().cloned().collect()
    }

    /// Changes batch `id` with `change`; returns it as it was before the
    /// change and after, or `None` if there is no such batch.
    pub(crate) fn update_batch(
        &self,
        id: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<(Value, Value)> {
        let mut batches = lock(&self.batches);
        let batch = batches.iter_mut().find(|b| b["id"] == id)?;
        let before = batch.clone();
        change(batch);
        Some((before, batch.clone()))
    }
}
