//! The config loader: any text as `routes.yaml` — position index, parse,
//! then validation (units, references, `${VAR}`s, compiling the shipped
//! scripts). Every issue must be placed in the file (a line within it, or 0
//! for "whole file") and a config that loads must have a usable shape.
//!
//! The text is given a path in the repository root without writing it:
//! `Source::new` takes the text, and validation reads only the scripts beside
//! that path (the shipped `scripts/`), so no temp files per input are needed.
#![no_main]
use switchyard::config::load::{parse, ConfigIssue, Source};
use switchyard::config::validate::validate;

fn check(issues: &[ConfigIssue], lines: usize) {
    assert!(!issues.is_empty(), "a failure with no issue");
    for i in issues {
        if i.file.ends_with("routes.yaml") {
            assert!(
                i.line <= lines + 1,
                "{i}: line past the end ({lines} lines)"
            );
        }
        assert!(!i.message.is_empty(), "issue without a message");
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // YAML ends lines at LF, CRLF and a lone CR.
    let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 1;
    let path = switchyard_fuzz::repo_root().join("routes.yaml");
    let source = match Source::new(&path, text.to_string()) {
        Ok(s) => s,
        Err(e) => return check(&[e], lines),
    };
    let (raw, issues) = match parse(&source) {
        Ok(ok) => ok,
        Err(issues) => return check(&issues, lines),
    };
    match validate(raw, &source) {
        Ok(cfg) => {
            if issues.is_empty() {
                assert!(cfg.settings.threads > 0);
                assert!(cfg.settings.max_body_size > 0);
            }
        }
        Err(more) => check(&more, lines),
    }
    if !issues.is_empty() {
        check(&issues, lines);
    }
});
