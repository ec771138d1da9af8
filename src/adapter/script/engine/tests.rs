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

/// Runs `script` on the sandboxed engine on a thread with the 2 MiB
/// stack of a tokio worker (where hooks run in the gateway).
fn run_on_worker_stack(limits: ScriptLimits, script: &'static str) -> Box<rhai::EvalAltResult> {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let engine = build_engine(&limits);
            let _guard = DeadlineGuard::start(limits.timeout);
            engine.run(script).unwrap_err()
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Limits where only sizes, memory and stack can stop a script.
fn small_limits() -> ScriptLimits {
    ScriptLimits {
        max_operations: u64::MAX,
        timeout: Duration::from_secs(60),
        max_string_size: 1 << 20,
        max_array_size: 100_000,
        max_map_size: 100_000,
        max_memory: 16 << 20,
        ..ScriptLimits::default()
    }
}

fn stopped_by(err: &rhai::EvalAltResult, budget: &str) -> bool {
    match err {
        rhai::EvalAltResult::ErrorDataTooLarge(..) => budget == "size",
        rhai::EvalAltResult::ErrorStackOverflow(..) => budget == "stack",
        rhai::EvalAltResult::ErrorTerminated(why, _) => why.to_string().contains(budget),
        rhai::EvalAltResult::ErrorInFunctionCall(.., e, _) => stopped_by(e, budget),
        _ => false,
    }
}

#[test]
fn unbounded_allocation_hits_a_size_or_memory_limit() {
    for script in [
        r#"let s = "x"; loop { s += s; }"#,
        r#"let m = #{}; let s = "x"; s.pad(500000, 'y'); let i = 0; loop { m[`${i}`] = s + i; i += 1; }"#,
        r#"let a = []; let s = "x"; s.pad(500000, 'x'); loop { a.push(s + "!"); }"#,
        r#"let a = []; let s = "x"; s.pad(500000, 'x'); loop { a.push([s + "!"]); }"#,
        r#"let b = blob(); loop { b += b; b.push(1); }"#,
    ] {
        let err = run_on_worker_stack(small_limits(), script);
        assert!(
            stopped_by(&err, "size") || stopped_by(&err, "memory"),
            "{script}: {err}"
        );
    }
}

/// What no size limit sees — many values, each within the limits, held
/// by separate call frames — the memory budget stops.
#[test]
fn allocation_past_the_size_checks_hits_the_memory_budget() {
    let script = r#"fn f(s) { let t = s + "!"; f(s) } let s = "x"; s.pad(900000, 'x'); f(s)"#;
    let err = run_on_worker_stack(small_limits(), script);
    assert!(stopped_by(&err, "memory"), "{script}: {err:?}");
}

#[test]
fn endless_recursion_stops_at_the_call_depth() {
    let err = run_on_worker_stack(ScriptLimits::default(), "fn f(n) { f(n + 1) } f(0)");
    assert!(stopped_by(&err, "stack"), "{err}");
}

/// Recursion deep enough to overflow a worker's stack — each level nested
/// in expressions (the parser allows 64 levels in a function, `1 + (`
/// takes two), at the default call depth and at a much larger one — is
/// stopped by the stack budget instead of aborting the process.
#[test]
fn deep_recursion_is_stopped_before_the_stack_overflows() {
    let nest = 20;
    let body = format!("{}f(n + 1){}", "1 + (".repeat(nest), ")".repeat(nest));
    let script: &'static str = Box::leak(format!("fn f(n) {{ {body} }} f(0)").into_boxed_str());
    for depth in [64, 100_000] {
        let limits = ScriptLimits {
            max_call_depth: depth,
            ..small_limits()
        };
        let err = run_on_worker_stack(limits, script);
        assert!(stopped_by(&err, "stack"), "depth {depth}: {err}");
    }
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
