//! `mock-semantic-*` embeddings: a bag-of-words stand-in for a real
//! embedding model, so that the gateway's semantic cache can be tested and
//! measured offline. Paraphrases that share words land near each other.
//!
//! What it is: lowercase the text; split it on anything but letters, digits
//! and apostrophes; drop English stopwords; strip a few suffixes (a light
//! stemmer: `'s`, plurals, `-ing`, `-ed`, `-er`, `-est`, `-ly`, a final
//! `e`); fold common paraphrase words into one canonical word (a small
//! synonym table, in `words.rs`). Each remaining word adds ±1.0, and each of its
//! character trigrams ±0.3, to one dimension picked by FNV-1a (feature
//! hashing; a second hash picks the sign). The sum is L2-normalised. Same
//! text, same vector, on every run and platform.
//!
//! What it is not: a language model. It knows no meaning beyond its word
//! lists: word order is lost ("Paris to London" = "London to Paris"), as is
//! negation beyond a few folded words, synonyms outside the table, and any
//! sense of which words matter most ("capital of France" and "population of
//! France" share half their words). Hit rates measured with it say how
//! the cache behaves on such vectors, not what a trained model would give.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use super::fnv1a;

mod words;

/// Dimensions when the request gives no `dimensions`.
pub(crate) const DEFAULT_DIMENSIONS: usize = 256;

/// The `dimensions` a request may ask for.
pub(crate) const DIMENSIONS: RangeInclusive<usize> = 16..=4096;

/// Weight of a character trigram; a whole word weighs 1.0.
const TRIGRAM_WEIGHT: f32 = 0.3;

/// Shortest stem a suffix may leave.
const MIN_STEM: usize = 3;

/// FNV-1a seeds: the dimension of a feature, and its sign.
const SEED_INDEX: u64 = 0x5e3a;
const SEED_SIGN: u64 = 0x51a7;

/// Whether `model` names this embedder (`mock-semantic-embed`, …).
pub(crate) fn serves(model: &str) -> bool {
    model.starts_with("mock-semantic")
}

/// The unit vector of `text`, `dimensions` long (at least 1).
pub(crate) fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimensions.max(1)];
    let words = words(text);
    if words.is_empty() {
        // no letters or digits at all: the text itself is the one feature
        add(&mut vector, b"t:", text.trim().as_bytes(), 1.0);
    }
    for word in &words {
        add(&mut vector, b"w:", word.as_bytes(), 1.0);
        let padded: Vec<char> = format!("^{word}$").chars().collect();
        for gram in padded.windows(3) {
            let gram: String = gram.iter().collect();
            add(&mut vector, b"g:", gram.as_bytes(), TRIGRAM_WEIGHT);
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    } else {
        // the features cancelled out exactly: still a unit vector
        if let Some(first) = vector.first_mut() {
            *first = 1.0;
        }
    }
    vector
}

/// The words of `text` that count, stemmed and folded: its non-stopwords,
/// or all of its words when every one is a stopword ("What is it?").
pub(crate) fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    let tokens: Vec<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|t| t.strip_suffix("'s").unwrap_or(t).replace('\'', ""))
        .filter(|t| !t.is_empty())
        .collect();
    let content: Vec<&String> = tokens.iter().filter(|t| !words::is_stopword(t)).collect();
    let kept = if content.is_empty() {
        tokens.iter().collect()
    } else {
        content
    };
    kept.into_iter().map(|t| fold(&stem(t))).collect()
}

/// The canonical word of a stem (itself when the synonym table has none).
fn fold(stemmed: &str) -> String {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        words::synonym_pairs()
            .map(|(word, canonical)| (stem(word), stem(canonical)))
            .collect()
    });
    table
        .get(stemmed)
        .map_or_else(|| stemmed.to_owned(), Clone::clone)
}

/// A light suffix stripper: plurals first, then up to two of `-ing`, `-ed`,
/// `-est`, `-er`, `-ly` (so "centering" and "center" meet), a doubled final
/// consonant undone after them ("running" → "run"), and a final `e` dropped
/// ("make", "making" → "mak"). Stems are keys, not words.
pub(crate) fn stem(word: &str) -> String {
    let mut w = plural(word);
    let mut stripped = false;
    for _ in 0..2 {
        match ending(&w) {
            Some(shorter) => {
                w = shorter;
                stripped = true;
            }
            None => break,
        }
    }
    if stripped {
        undouble(&mut w);
    }
    if w.len() > MIN_STEM && w.ends_with('e') {
        w.pop();
    }
    w
}

fn plural(w: &str) -> String {
    if let Some(s) = w.strip_suffix("ies").filter(|s| s.len() >= MIN_STEM) {
        return format!("{s}y");
    }
    if let Some(s) = w.strip_suffix("sses") {
        return format!("{s}ss");
    }
    let sibilant = ["x", "z", "ch", "sh"];
    if let Some(s) = w.strip_suffix("es") {
        if s.len() >= MIN_STEM && sibilant.iter().any(|end| s.ends_with(end)) {
            return s.to_owned();
        }
    }
    let keep = ["ss", "us", "is"];
    match w.strip_suffix('s') {
        Some(s) if s.len() >= MIN_STEM && !keep.iter().any(|end| w.ends_with(end)) => s.to_owned(),
        _ => w.to_owned(),
    }
}

/// `w` without its first matching verb or adjective ending, if the stem
/// left is long enough and has a vowel.
fn ending(w: &str) -> Option<String> {
    const ENDINGS: [(&str, usize); 5] = [("ing", 3), ("ed", 3), ("est", 4), ("er", 4), ("ly", 4)];
    if w.ends_with("eed") {
        return None; // "need", "speed"
    }
    ENDINGS.iter().find_map(|(suffix, min)| {
        let stem = w.strip_suffix(suffix)?;
        let vowel = stem.chars().any(|c| "aeiouy".contains(c));
        (stem.len() >= *min && vowel).then(|| stem.to_owned())
    })
}

/// "runn" → "run"; not for `l`, `s`, `z` ("install", "class").
fn undouble(w: &mut String) {
    let mut tail = w.chars().rev();
    if let (Some(a), Some(b)) = (tail.next(), tail.next()) {
        if a == b && a.is_ascii_alphabetic() && !"aeioulsz".contains(a) {
            w.pop();
        }
    }
}

/// Adds `weight` to the dimension of the feature `kind` + `bytes`, with
/// the sign its hash gives.
fn add(vector: &mut [f32], kind: &[u8], bytes: &[u8], weight: f32) {
    let feature = [kind, bytes].concat();
    let dims = vector.len() as u64;
    let index = (fnv1a(&feature, SEED_INDEX) % dims) as usize;
    let sign = if fnv1a(&feature, SEED_SIGN) >> 63 == 0 {
        1.0
    } else {
        -1.0
    };
    if let Some(x) = vector.get_mut(index) {
        *x += sign * weight;
    }
}

#[cfg(test)]
mod tests;
