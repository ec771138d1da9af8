//! For the sweep: every node of a JSON value, and the value with one node
//! replaced or removed.

use serde_json::Value;

/// One step of a path into a JSON value.
#[derive(Clone, Debug)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The path to every node of `v`, the root (an empty path) first.
pub fn paths(v: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    at.push(Step::Key(k.clone()));
                    walk(child, at, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    at.push(Step::Index(i));
                    walk(child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// The node at `path` (`null` when there is none).
pub fn get<'v>(v: &'v Value, path: &[Step]) -> &'v Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &v[k.as_str()],
        Step::Index(i) => &v[*i],
    })
}

fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// `v` with the node at `path` replaced by `with`, or removed (`None`);
/// `None` when there is nothing to remove it from (the root).
pub fn mutated(v: &Value, path: &[Step], with: Option<&Value>) -> Option<Value> {
    let mut out = v.clone();
    match (with, path.split_last()) {
        (Some(w), _) => *node(&mut out, path) = w.clone(),
        (None, Some((last, parent))) => match (node(&mut out, parent), last) {
            (Value::Object(m), Step::Key(k)) => {
                m.remove(k);
            }
            (Value::Array(a), Step::Index(i)) => {
                a.remove(*i);
            }
            _ => return None,
        },
        (None, None) => return None,
    }
    Some(out)
}
