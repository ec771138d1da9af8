//! The one Rhai engine every adapter script runs on: sandboxed (no file or
//! module access, no `eval`), limited (operations, call depth, sizes and a
//! wall-clock budget per hook call) and extended with the few helpers that
//! adapters need (`json_parse`, `json_encode`, `unix_time`, `random_id`,
//! `f32_base64`).

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine};

/// Limits applied to every hook call.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptLimits {
    /// Rhai operations per call.
    pub max_operations: u64,
    /// Wall-clock budget per call.
    pub timeout: Duration,
    /// Function call depth.
    pub max_call_depth: usize,
    /// Longest string a script may build (bytes).
    pub max_string_size: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 5_000_000,
            timeout: Duration::from_secs(1),
            max_call_depth: 64,
            max_string_size: 64 * 1024 * 1024,
        }
    }
}

thread_local! {
    /// Deadline of the hook call running on this thread, if any. Rhai runs
    /// synchronously on the caller's thread, so a thread-local is exact.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets this thread's script deadline for as long as it lives.
pub(crate) struct DeadlineGuard(Option<Instant>);

impl DeadlineGuard {
    pub(crate) fn start(budget: Duration) -> Self {
        let previous = DEADLINE.with(|d| d.replace(Instant::now().checked_add(budget)));
        Self(previous)
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.0));
    }
}

/// Builds the sandboxed engine with `limits`.
pub fn build_engine(limits: &ScriptLimits) -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    // Same limits in debug and release builds (their defaults differ).
    engine.set_max_expr_depths(128, 64);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(1_000_000);
    engine.set_max_map_size(1_000_000);
    engine.set_max_variables(10_000);
    engine.on_progress(|ops| {
        if ops % 1024 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t));
        late.then(|| Dynamic::from("script time budget exceeded"))
    });
    engine.on_print(|s| tracing::debug!(target: "script", "{s}"));
    engine.on_debug(|s, src, pos| tracing::debug!(target: "script", source = src, %pos, "{s}"));
    register_helpers(&mut engine);
    engine
}

fn register_helpers(engine: &mut Engine) {
    engine.register_fn(
        "json_parse",
        |s: &str| -> Result<Dynamic, Box<rhai::EvalAltResult>> {
            let v: serde_json::Value =
                serde_json::from_str(s).map_err(|e| format!("json_parse: {e}"))?;
            rhai::serde::to_dynamic(v)
        },
    );
    engine.register_fn(
        "json_encode",
        |v: Dynamic| -> Result<String, Box<rhai::EvalAltResult>> {
            let v: serde_json::Value = rhai::serde::from_dynamic(&v)?;
            Ok(v.to_string())
        },
    );
    engine.register_fn("unix_time", || -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    engine.register_fn("random_id", || -> String {
        use rand::Rng;
        let n: u128 = rand::thread_rng().gen();
        format!("{n:032x}")[..24].to_string()
    });
    // OpenAI's `encoding_format: "base64"` embeddings: little-endian f32s, base64.
    engine.register_fn(
        "f32_base64",
        |values: rhai::Array| -> Result<String, Box<rhai::EvalAltResult>> {
            let mut bytes = Vec::with_capacity(values.len() * 4);
            for (i, v) in values.iter().enumerate() {
                let x = v
                    .as_float()
                    .or_else(|_| v.as_int().map(|n| n as f64))
                    .map_err(|_| format!("f32_base64: item {i} is not a number"))?;
                bytes.extend_from_slice(&(x as f32).to_le_bytes());
            }
            Ok(base64_encode(&bytes))
        },
    );
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_loop_is_stopped_by_the_time_budget() {
        let limits = ScriptLimits {
            max_operations: u64::MAX,
            timeout: Duration::from_millis(50),
            ..ScriptLimits::default()
        };
        let engine = build_engine(&limits);
        let _guard = DeadlineGuard::start(limits.timeout);
        let started = Instant::now();
        let err = engine.run("loop { }").unwrap_err();
        assert!(
            matches!(*err, rhai::EvalAltResult::ErrorTerminated(..)),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn helpers_round_trip_json() {
        let engine = build_engine(&ScriptLimits::default());
        let s: String = engine
            .eval(r#"let m = json_parse("{\"a\":[1,2]}"); m.a.push(3); json_encode(m)"#)
            .unwrap();
        assert_eq!(s, r#"{"a":[1,2,3]}"#);
    }

    #[test]
    fn f32_base64_packs_little_endian_floats() {
        let engine = build_engine(&ScriptLimits::default());
        // 1.0f32 = 00 00 80 3f, -2.5f32 = 00 00 20 c0; integers count as numbers.
        let s: String = engine.eval("f32_base64([1.0, -2.5, 0])").unwrap();
        assert_eq!(s, "AACAPwAAIMAAAAAA");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert!(engine.eval::<String>(r#"f32_base64([1.0, "x"])"#).is_err());
    }

    #[test]
    fn no_module_access() {
        let engine = build_engine(&ScriptLimits::default());
        assert!(engine.run(r#"import "/etc/passwd" as x;"#).is_err());
    }
}
