//! The one Rhai engine every script runs on — adapters, patches, scoring:
//! sandboxed (no file or
//! module access, no `eval`), limited (operations, call depth, sizes, a
//! wall-clock budget, a memory budget and a stack budget per hook call) and
//! extended with the few helpers that adapters need (`json_parse`,
//! `json_encode`, `unix_time`, `random_id`, `f32_base64`).

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine};

use super::memory;

/// Limits applied to every hook call.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptLimits {
    /// Rhai operations per call.
    pub max_operations: u64,
    /// Wall-clock budget per call.
    pub timeout: Duration,
    /// Function call depth.
    pub max_call_depth: usize,
    /// Longest string a script may build (bytes; all strings inside one
    /// array or map count together).
    pub max_string_size: usize,
    /// Most items in one array or BLOB, nested arrays' items included.
    pub max_array_size: usize,
    /// Most properties in one object map, nested maps' included.
    pub max_map_size: usize,
    /// Bytes a call may hold allocated (counted by
    /// [`memory::CountingAlloc`], so only where that is the global allocator).
    pub max_memory: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 5_000_000,
            timeout: Duration::from_secs(1),
            max_call_depth: 64,
            max_string_size: 64 * 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 1_000_000,
            max_memory: 256 * 1024 * 1024,
        }
    }
}

/// Scripts' `unix_time()`: seconds since the epoch (0 if the clock is
/// before it). Built-in adapters use the same.
pub fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Scripts' `random_id()`: 24 random lowercase hex digits. Built-in
/// adapters use the same.
pub fn random_id() -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().gen();
    let mut id = format!("{n:032x}");
    id.truncate(24);
    id
}

/// Stack a hook call may use below the frame that started it. Hooks run on
/// the proxy's worker threads (2 MiB stacks); a recursive script stays well
/// inside them whatever its call depth and expression nesting (each Rhai
/// call level can take tens of KiB in a debug build), so deep recursion is
/// stopped with an error instead of overflowing the stack, which would
/// abort the whole gateway.
pub const STACK_BUDGET: usize = 1024 * 1024;

/// The hook call running on this thread, if any. Rhai runs synchronously on
/// the caller's thread, so thread-locals are exact.
#[derive(Debug, Clone, Copy)]
struct Call {
    deadline: Option<Instant>,
    /// [`memory::held`] when the call started.
    memory_base: isize,
    /// Address of a local of the frame that started the call.
    stack_base: usize,
}

thread_local! {
    static CALL: Cell<Option<Call>> = const { Cell::new(None) };
}

/// The address of a local variable: where this thread's stack is now.
#[inline(always)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Sets this thread's script budgets (time, memory, stack) for as long as
/// it lives.
pub struct DeadlineGuard(Option<Call>);

impl DeadlineGuard {
    pub fn start(budget: Duration) -> Self {
        let call = Call {
            deadline: Instant::now().checked_add(budget),
            memory_base: memory::held(),
            stack_base: stack_address(),
        };
        Self(CALL.with(|c| c.replace(Some(call))))
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        CALL.with(|c| c.set(self.0));
    }
}

/// Why the running call must stop: stack and memory every 8 Rhai
/// operations (a few call levels or allocations past the budget at most),
/// the clock every 1024.
fn over_budget(ops: u64, max_memory: usize) -> Option<Dynamic> {
    if ops % 8 != 0 {
        return None;
    }
    let call = CALL.with(Cell::get)?;
    // Stacks grow down on every target Pingora supports.
    if call.stack_base.saturating_sub(stack_address()) > STACK_BUDGET {
        return Some(Dynamic::from(
            "script stack budget exceeded (recursion too deep)",
        ));
    }
    let held = memory::held().wrapping_sub(call.memory_base);
    if held > 0 && held as usize > max_memory {
        return Some(Dynamic::from(format!(
            "script memory budget exceeded ({max_memory} bytes)"
        )));
    }
    let late = ops % 1024 == 0 && call.deadline.is_some_and(|t| Instant::now() > t);
    late.then(|| Dynamic::from("script time budget exceeded"))
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
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_variables(10_000);
    let max_memory = limits.max_memory;
    engine.on_progress(move |ops| over_budget(ops, max_memory));
    engine.on_print(|s| tracing::debug!(target: "script", "{s}"));
    engine.on_debug(|s, src, pos| tracing::debug!(target: "script", source = src, %pos, "{s}"));
    register_helpers(&mut engine);
    super::json::register(&mut engine);
    engine
}

fn register_helpers(engine: &mut Engine) {
    engine.register_fn(
        "json_parse",
        |s: &str| -> Result<Dynamic, Box<rhai::EvalAltResult>> {
            let v: serde_json::Value =
                serde_json::from_str(s).map_err(|e| format!("json_parse: {e}"))?;
            Ok(super::convert::to_dynamic(v))
        },
    );
    engine.register_fn(
        "json_encode",
        |v: Dynamic| -> Result<String, Box<rhai::EvalAltResult>> {
            Ok(super::convert::from_dynamic(&v)?.to_string())
        },
    );
    engine.register_fn("unix_time", unix_time);
    engine.register_fn("random_id", random_id);
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
mod tests;
