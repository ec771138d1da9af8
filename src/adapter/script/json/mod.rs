//! `Json`: a JSON document handed to a patch script without converting it
//! to Rhai values. A patch that renames the model of a 200 KB conversation
//! touches one string; converting the whole body to a Rhai map and back
//! would cost what the conversation weighs, on every request.
//!
//! A `Json` is a handle: the document (shared by every handle into it) and
//! a path. Reading a property or an index gives a string, number, boolean
//! or `()` as a Rhai value, and an object or array as another handle into
//! the same document; assigning writes into the document in place. So
//! `body.messages[0].content = "…"` edits one field, whatever the size of
//! the rest. `to_map()` converts a node whole, for scripts that want Rhai's
//! map and array functions.
//!
//! In scripts: `x.key` / `x["key"]` / `x[i]` (negative: from the end; a
//! missing key or index is `()`), assignment to those, `"key" in x`,
//! `x.len()`, `x.keys()`, `x.remove("key")`, `x.push(v)`, `x.is_object()`,
//! `x.is_array()`, `x.to_map()`, `for item in x` (an array's items, an
//! object's keys), `to_string(x)` (JSON text). `type_of(x)` is `"json"`.

use std::sync::{Arc, Mutex, MutexGuard};

use rhai::{Dynamic, Engine, EvalAltResult, INT};
use serde_json::Value;

use super::convert::{from_dynamic, to_dynamic_ref};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A handle to a node of a shared JSON document.
#[derive(Debug, Clone)]
pub struct Json {
    root: Arc<Mutex<Value>>,
    path: Vec<Step>,
}

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

impl Json {
    /// A handle to a whole document.
    pub fn new(value: Value) -> Self {
        Self {
            root: Arc::new(Mutex::new(value)),
            path: Vec::new(),
        }
    }

    /// The document back, once the script is done with it (other handles a
    /// script kept see it empty afterwards).
    pub fn into_value(self) -> Value {
        std::mem::take(&mut *lock(&self.root))
    }

    /// Whether this is a handle to the whole of `doc`'s document.
    pub fn is_root_of(&self, doc: &Json) -> bool {
        self.path.is_empty() && Arc::ptr_eq(&self.root, &doc.root)
    }

    /// A copy of the node this handle points to (`null` if it is gone).
    pub fn value(&self) -> Value {
        let root = lock(&self.root);
        node(&root, &self.path).cloned().unwrap_or(Value::Null)
    }

    /// `f` of the node this handle points to (`null` if it is gone),
    /// without copying it.
    pub fn inspect_mut<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut root = lock(&self.root);
        match node_mut(&mut root, &self.path) {
            Some(v) => f(v),
            None => f(&mut Value::Null),
        }
    }

    fn child(&self, step: Step) -> Self {
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend_from_slice(&self.path);
        path.push(step);
        Self {
            root: self.root.clone(),
            path,
        }
    }

    /// A node's value for a script: scalars as Rhai values, containers as
    /// handles.
    fn read(&self, step: Step) -> Dynamic {
        let root = lock(&self.root);
        let Some(parent) = node(&root, &self.path) else {
            return Dynamic::UNIT;
        };
        let found = match (&step, parent) {
            (Step::Key(k), Value::Object(o)) => o.get(k),
            (Step::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match found {
            None => Dynamic::UNIT,
            Some(Value::Object(_) | Value::Array(_)) => {
                drop(root);
                Dynamic::from(self.child(step))
            }
            Some(scalar) => to_dynamic_ref(scalar),
        }
    }

    /// Writes `value` at `step` below this node.
    fn write(&self, step: Step, value: Dynamic) -> Result<()> {
        // Rhai writes a chain back after editing through it
        // (`a.b.c = 1` ends with `a.b = <handle to a.b>`): a handle to the
        // very node being written is already there.
        if let Some(handle) = value.read_lock::<Json>() {
            if Arc::ptr_eq(&handle.root, &self.root)
                && handle.path.len() == self.path.len() + 1
                && handle.path.starts_with(&self.path)
                && handle.path.last() == Some(&step)
            {
                return Ok(());
            }
        }
        let value = from_dynamic(&value)?;
        let mut root = lock(&self.root);
        let parent = node_mut(&mut root, &self.path).ok_or("the JSON node is gone")?;
        match (step, parent) {
            (Step::Key(k), Value::Object(o)) => {
                o.insert(k, value);
                Ok(())
            }
            (Step::Index(i), Value::Array(a)) => match a.get_mut(i) {
                Some(slot) => {
                    *slot = value;
                    Ok(())
                }
                None => Err(format!("index {i} is past the end of the array").into()),
            },
            (Step::Key(k), other) => {
                Err(format!("cannot set `{k}` on a JSON {}", kind(other)).into())
            }
            (Step::Index(i), other) => {
                Err(format!("cannot set [{i}] on a JSON {}", kind(other)).into())
            }
        }
    }

    /// The array index `i` (negative: from the end) names, if in range.
    fn index(&self, i: INT) -> Option<usize> {
        let root = lock(&self.root);
        let len = match node(&root, &self.path) {
            Some(Value::Array(a)) => a.len(),
            _ => return None,
        };
        let i = if i < 0 { len as INT + i } else { i };
        (0..len as INT).contains(&i).then_some(i as usize)
    }
}

fn lock(root: &Mutex<Value>) -> MutexGuard<'_, Value> {
    root.lock().unwrap_or_else(|e| e.into_inner())
}

fn node<'v>(root: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, step| match (step, v) {
        (Step::Key(k), Value::Object(o)) => o.get(k),
        (Step::Index(i), Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

fn node_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(root, |v, step| match (step, v) {
        (Step::Key(k), Value::Object(o)) => o.get_mut(k),
        (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl IntoIterator for Json {
    type Item = Dynamic;
    type IntoIter = std::vec::IntoIter<Dynamic>;

    /// An array's items; an object's keys.
    fn into_iter(self) -> Self::IntoIter {
        let root = lock(&self.root);
        let items: Vec<Dynamic> = match node(&root, &self.path) {
            Some(Value::Array(a)) => {
                let n = a.len();
                drop(root);
                (0..n).map(|i| self.read(Step::Index(i))).collect()
            }
            Some(Value::Object(o)) => o.keys().map(|k| Dynamic::from(k.clone())).collect(),
            _ => Vec::new(),
        };
        items.into_iter()
    }
}

/// Registers `Json` and its functions on `engine`.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Json>("json")
        .register_iterator::<Json>()
        .register_indexer_get(|j: &mut Json, key: &str| j.read(Step::Key(key.to_string())))
        .register_indexer_set(|j: &mut Json, key: &str, v: Dynamic| {
            j.write(Step::Key(key.to_string()), v)
        })
        .register_indexer_get(|j: &mut Json, i: INT| match j.index(i) {
            Some(i) => j.read(Step::Index(i)),
            None => Dynamic::UNIT,
        })
        .register_indexer_set(|j: &mut Json, i: INT, v: Dynamic| match j.index(i) {
            Some(i) => j.write(Step::Index(i), v),
            None => Err(format!("index {i} is past the end of the array").into()),
        })
        .register_fn("len", |j: &mut Json| -> INT {
            match node(&lock(&j.root), &j.path) {
                Some(Value::Array(a)) => a.len() as INT,
                Some(Value::Object(o)) => o.len() as INT,
                _ => 0,
            }
        })
        .register_fn("contains", |j: &mut Json, key: &str| {
            matches!(node(&lock(&j.root), &j.path), Some(Value::Object(o)) if o.contains_key(key))
        })
        .register_fn("keys", |j: &mut Json| -> rhai::Array {
            match node(&lock(&j.root), &j.path) {
                Some(Value::Object(o)) => o.keys().map(|k| Dynamic::from(k.clone())).collect(),
                _ => rhai::Array::new(),
            }
        })
        .register_fn("remove", |j: &mut Json, key: &str| -> Dynamic {
            let mut root = lock(&j.root);
            match node_mut(&mut root, &j.path) {
                Some(Value::Object(o)) => o
                    .remove(key)
                    .map_or(Dynamic::UNIT, super::convert::to_dynamic),
                _ => Dynamic::UNIT,
            }
        })
        .register_fn("push", |j: &mut Json, v: Dynamic| -> Result<()> {
            let value = from_dynamic(&v)?;
            let mut root = lock(&j.root);
            match node_mut(&mut root, &j.path) {
                Some(Value::Array(a)) => {
                    a.push(value);
                    Ok(())
                }
                Some(other) => Err(format!("cannot push onto a JSON {}", kind(other)).into()),
                None => Err("the JSON node is gone".into()),
            }
        })
        .register_fn("is_object", |j: &mut Json| {
            matches!(node(&lock(&j.root), &j.path), Some(Value::Object(_)))
        })
        .register_fn("is_array", |j: &mut Json| {
            matches!(node(&lock(&j.root), &j.path), Some(Value::Array(_)))
        })
        .register_fn("to_map", |j: &mut Json| {
            super::convert::to_dynamic(j.value())
        })
        .register_fn("to_string", |j: &mut Json| j.value().to_string())
        .register_fn("to_debug", |j: &mut Json| j.value().to_string());
}

#[cfg(test)]
mod tests;
