//! Tests of the bag-of-words embedder, and its similarities over the
//! paraphrase set of the semantic-cache bench (`benches/semantic/`).

use std::collections::HashMap;

use serde_json::Value;

use super::words::{is_stopword, synonym_pairs};
use super::{embed, stem, words, DEFAULT_DIMENSIONS};

fn cosine(a: &str, b: &str) -> f32 {
    let (a, b) = (embed(a, DEFAULT_DIMENSIONS), embed(b, DEFAULT_DIMENSIONS));
    a.iter().zip(&b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn vectors_are_unit_length_for_any_text() {
    let texts = [
        "What is the capital of France?",
        "the",
        "???",
        "x",
        "Ça va? 日本語のテキスト",
        &"a long question about many things ".repeat(200),
    ];
    for text in texts {
        for dims in [16, 256, 4096] {
            let v = embed(text, dims);
            assert_eq!(v.len(), dims);
            assert!((norm(&v) - 1.0).abs() < 1e-5, "{text:?} at {dims}");
        }
    }
}

#[test]
fn identical_text_has_similarity_one() {
    let text = "How do I reverse a list in Python?";
    assert!((cosine(text, text) - 1.0).abs() < 1e-6);
    assert_eq!(embed(text, 256), embed(text, 256));
}

#[test]
fn vectors_do_not_change_between_runs() {
    // FNV-1a with fixed seeds: these components are the same on every run
    // and platform (a change here changes every cached similarity).
    let v = embed("capital", 16);
    let rounded: Vec<i32> = v.iter().map(|x| (x * 1000.0).round() as i32).collect();
    assert_eq!(rounded, GOLDEN_CAPITAL_16);
}

const GOLDEN_CAPITAL_16: [i32; 16] = [
    0, 0, 0, 384, 0, -384, -512, 384, -384, 0, -384, 0, 0, 0, 0, 0,
];

#[test]
fn stopwords_case_and_punctuation_do_not_count() {
    assert_eq!(
        words("What is the capital of France?"),
        words("capital FRANCE")
    );
    assert_eq!(words("What's France's capital?"), words("france capital"));
    // all stopwords: they are kept rather than embedding nothing
    assert_eq!(words("What is it?"), ["what", "is", "it"]);
}

#[test]
fn stems_meet_across_inflections() {
    let same = [
        ("cities", "city"),
        ("running", "run"),
        ("making", "make"),
        ("files", "file"),
        ("boxes", "box"),
        ("classes", "class"),
        ("booked", "book"),
        ("centering", "center"),
        ("largest", "large"),
        ("biggest", "big"),
        ("faster", "fast"),
        ("quickly", "quick"),
        ("needs", "need"),
    ];
    for (a, b) in same {
        assert_eq!(stem(a), stem(b), "{a} / {b}");
    }
    for kept in ["status", "analysis", "class", "need", "bus"] {
        assert!(stem(kept).len() >= 3, "{kept} -> {}", stem(kept));
    }
}

#[test]
fn synonyms_fold_to_one_word() {
    assert_eq!(words("purchase an automobile"), words("buy a car"));
    assert_eq!(words("huge error"), words("big bug"));
    assert_eq!(words("I can't"), words("not"));
}

#[test]
fn word_lists_are_consistent() {
    let mut seen = HashMap::new();
    for (word, canonical) in synonym_pairs() {
        assert!(
            !is_stopword(word),
            "{word} is a stopword: its entry is never used"
        );
        let (key, value) = (stem(word), stem(canonical));
        assert_ne!(key, value, "{word} -> {canonical} folds nothing");
        if let Some(other) = seen.insert(key.clone(), value.clone()) {
            assert_eq!(other, value, "{word} ({key}) has two canonical words");
        }
    }
    for (word, canonical) in synonym_pairs() {
        let folded = seen.get(&stem(canonical));
        assert!(folded.is_none(), "{word} -> {canonical} -> {folded:?}");
    }
    let pairs = synonym_pairs().count();
    assert!((60..=150).contains(&pairs), "{pairs} synonym pairs");
}

/// One group of `benches/semantic/paraphrases.json`.
struct Group {
    question: String,
    paraphrases: Vec<String>,
    different: String,
}

fn paraphrase_set() -> Vec<Group> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../benches/semantic/paraphrases.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let groups: Vec<Value> = serde_json::from_str(&text).unwrap();
    let string = |v: &Value| v.as_str().unwrap().to_owned();
    groups
        .iter()
        .map(|g| Group {
            question: string(&g["question"]),
            paraphrases: g["paraphrases"]
                .as_array()
                .unwrap()
                .iter()
                .map(string)
                .collect(),
            different: string(&g["different"]),
        })
        .collect()
}

fn quantile(sorted: &[f32], q: f32) -> f32 {
    let i = ((sorted.len() - 1) as f32 * q).round() as usize;
    sorted[i]
}

fn describe(name: &str, values: &mut [f32]) {
    values.sort_by(f32::total_cmp);
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    eprintln!(
        "{name:<22} n={:<3} min {:.3}  p10 {:.3}  p25 {:.3}  p50 {:.3}  p75 {:.3}  p90 {:.3}  max {:.3}  mean {:.3}",
        values.len(),
        values[0],
        quantile(values, 0.10),
        quantile(values, 0.25),
        quantile(values, 0.50),
        quantile(values, 0.75),
        quantile(values, 0.90),
        values[values.len() - 1],
        mean,
    );
}

fn share_at_or_above(values: &[f32], threshold: f32) -> f32 {
    values.iter().filter(|&&s| s >= threshold).count() as f32 / values.len() as f32
}

/// Prints (`--nocapture`) how far question↔paraphrase and
/// question↔different similarities lie apart, and the hit rates a
/// threshold would give; asserts only what must hold whatever the tuning.
#[test]
fn paraphrase_set_similarities() {
    let groups = paraphrase_set();
    assert_eq!(groups.len(), 60);
    let mut para = Vec::new();
    let mut diff = Vec::new();
    let mut report = Vec::new();
    for g in &groups {
        assert_eq!(g.paraphrases.len(), 3, "{}", g.question);
        for p in &g.paraphrases {
            assert_ne!(p, &g.question);
            let s = cosine(&g.question, p);
            para.push(s);
            report.push((s, "para", p.as_str(), g.question.as_str()));
        }
        let s = cosine(&g.question, &g.different);
        diff.push(s);
        report.push((s, "diff", g.different.as_str(), g.question.as_str()));
        assert!((cosine(&g.question, &g.question) - 1.0).abs() < 1e-6);
    }
    describe("question↔paraphrase", &mut para);
    describe("question↔different", &mut diff);
    eprintln!("threshold  paraphrase hit rate  false-hit rate (different)");
    for t in [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95] {
        eprintln!(
            "{t:.2}       {:>5.1}%               {:>5.1}%",
            100.0 * share_at_or_above(&para, t),
            100.0 * share_at_or_above(&diff, t),
        );
    }
    // the threshold with the most right answers (hits on paraphrases,
    // misses on near-misses), weighting both sets equally
    let best = (20..=99)
        .map(|t| t as f32 / 100.0)
        .map(|t| {
            let score = share_at_or_above(&para, t) - share_at_or_above(&diff, t);
            (score, t)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    eprintln!(
        "best separating threshold {:.2}: hit rate {:.1}%, false-hit rate {:.1}%",
        best.1,
        100.0 * share_at_or_above(&para, best.1),
        100.0 * share_at_or_above(&diff, best.1),
    );
    if std::env::var_os("SEMANTIC_PAIRS").is_some() {
        report.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (s, kind, text, question) in report {
            eprintln!("{s:.3} {kind} {text:?} / {question:?}");
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(mean(&para) > mean(&diff));
}
