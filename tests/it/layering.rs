//! The crate's layering: no import cycle between the top-level modules of
//! `src/`, so that each can be read (and changed) knowing only what it
//! depends on (test code is left out: a test may reach anywhere); and the
//! workspace's one convention for module files and unit tests.
//!
//! Read from the source rather than from rustc: a `crate::x` path, in a
//! `use` or inline, in `src/<top>/…` (comments and `#[cfg(test)] mod
//! tests` blocks skipped) is an edge `top → x`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    assert!(
        graph.len() > 10,
        "expected the crate's modules, found {:?}",
        graph.keys()
    );
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/ (each listed as a path \
         back to its start; break them by moving the shared type down a layer):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_check_finds_a_cycle_through_grouped_and_inline_paths() {
    let mut g = Graph::new();
    let mut edge = |from: &str, text: &str| {
        let out = g.entry(from.to_string()).or_default();
        out.extend(crate_paths(text));
    };
    edge("a", "use crate::{b, c::X};");
    edge("b", "fn f() { crate::a::g() }");
    edge("c", "// crate::a is only a comment here\nuse std::fmt;");
    let cycles = cycles(&g);
    assert_eq!(cycles, vec!["a → b → a".to_string()]);
}

/// A folder module is `x/mod.rs`; a module's unit tests are declared in it
/// as `#[cfg(test)] mod tests;` and live beside it in `tests.rs` (or, when
/// they outgrow one file, in the folder module `tests/`). Nothing else:
/// no inline `mod tests { … }`, no `#[path]`, no `x_tests.rs`, no `x.rs`
/// beside an `x/` folder.
#[test]
fn module_files_and_unit_tests_follow_one_convention() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates/mock/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "{} files", files.len());
    let mut wrong = Vec::new();
    for f in &files {
        let shown = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let text = std::fs::read_to_string(f).expect("read");
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if text.contains("mod tests {") {
            wrong.push(format!("{shown}: inline `mod tests {{ … }}`"));
        }
        if text.contains("#[path") {
            wrong.push(format!("{shown}: `#[path]`"));
        }
        if name.ends_with("_tests.rs") {
            wrong.push(format!("{shown}: a `_tests.rs` file"));
        }
        let stem = f.with_extension("");
        if !["mod.rs", "lib.rs", "main.rs"].contains(&name) && stem.is_dir() {
            wrong.push(format!("{shown}: beside its folder (make it mod.rs)"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every top-level module and the modules its non-test code names.
fn graph(src: &Path) -> Graph {
    let mut tops = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("src/") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !["lib", "main", "bin"].contains(&name) {
            tops.insert(name.to_string());
        }
    }
    let mut graph = Graph::new();
    for top in &tops {
        let mut files = Vec::new();
        let dir = src.join(top);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let file = src.join(format!("{top}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let out = graph.entry(top.clone()).or_default();
        for f in files {
            if is_test_file(&f) {
                continue;
            }
            let text = std::fs::read_to_string(&f).expect("read");
            out.extend(
                crate_paths(&without_tests(&text))
                    .into_iter()
                    .filter(|t| tops.contains(t) && t != top),
            );
        }
    }
    graph
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A unit test file (`tests.rs`, or anything under a `tests/` folder).
fn is_test_file(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests")
        || path.file_name().is_some_and(|n| n == "tests.rs")
}

/// The source without its inline `#[cfg(test)] mod tests { … }` block,
/// which by convention ends the file.
fn without_tests(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// The top-level modules `text` names as `crate::x`, grouped
/// (`crate::{x, y::z}`) or not; line comments skipped.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    out.extend(ident(item.trim()));
                }
            } else {
                out.extend(ident(rest));
            }
        }
    }
    out
}

/// The identifier `s` starts with.
fn ident(s: &str) -> Option<String> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s[..end].to_string())
}

/// One path per strongly connected component of more than one module,
/// found by Tarjan's algorithm.
fn cycles(graph: &Graph) -> Vec<String> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|x| *x == v).expect("on stack");
                let component = self.stack.split_off(at);
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
        .iter()
        .map(|component| cycle_path(graph, component))
        .collect()
}

/// A cycle through the component's first module, as `a → b → a`.
fn cycle_path(graph: &Graph, component: &[&str]) -> String {
    let members: BTreeSet<&str> = component.iter().copied().collect();
    let start = *members.iter().next().expect("non-empty");
    // Breadth-first from the start back to it, inside the component.
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if w == start {
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    at = prev[at];
                    path.push(at);
                }
                path.reverse();
                path.push(start);
                return path.join(" → ");
            }
            if members.contains(w) && !prev.contains_key(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.join(" ⇄ ")
}
