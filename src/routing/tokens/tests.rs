use serde_json::json;

use super::*;

#[test]
fn tokenizer_is_chosen_by_model_prefix() {
    for m in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-2024-08-06",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "o1",
        "o3-mini",
        "o4-mini",
        "openai/gpt-4o",
        "GPT-4o",
    ] {
        assert_eq!(Tokenizer::for_model(m), Tokenizer::O200k, "{m}");
    }
    for m in [
        "gpt-4",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "text-embedding-ada-002",
    ] {
        assert_eq!(Tokenizer::for_model(m), Tokenizer::Cl100k, "{m}");
    }
    for m in [
        "claude-sonnet-4-5",
        "gemini-2.5-pro",
        "o1x",
        "ollama-model",
        "smart",
    ] {
        assert_eq!(Tokenizer::for_model(m), Tokenizer::Approximate, "{m}");
    }
}

#[test]
fn openai_models_are_counted_exactly() {
    assert!(Tokenizer::O200k.build() && Tokenizer::Cl100k.build());
    assert!(!Tokenizer::Approximate.build());
    // "hello world" is 2 tokens in both tables; 11 chars / 4 = 2 too, so
    // use text where the two disagree: 40 digits are 14 tokens in both
    // OpenAI tables (digits group by three), 10 by the approximation.
    let digits = "1234567890".repeat(4);
    assert_eq!(Tokenizer::O200k.count(&[&digits]), 14);
    assert_eq!(Tokenizer::Cl100k.count(&[&digits]), 14);
    assert_eq!(Tokenizer::Approximate.count(&[&digits]), 10);
    let body = json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": digits}]}]});
    // Both texts + 2 × 3 per message + 3 priming.
    let terse = Tokenizer::O200k.count(&["You are terse."]);
    assert_eq!(estimate_prompt(&body, "gpt-4o"), terse + 14 + 2 * 3 + 3);
    // Anthropic publishes no tokenizer: characters / 4 + 4 per message.
    assert_eq!(
        estimate_prompt(&body, "claude-sonnet-4-5"),
        (14 + 40) / 4 + 8
    );
}

#[test]
fn long_text_is_sampled_close_to_the_exact_count() {
    Tokenizer::O200k.build();
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 200 * 1024 {
        // Varied words so the BPE sees realistic merges.
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let word = [
            "routing",
            "gateway",
            "the",
            "of",
            "tokenizer",
            "Zürich",
            "42",
            "fn main()",
        ][(i >> 60) as usize % 8];
        text.push_str(word);
        text.push(' ');
    }
    let bpe = Tokenizer::O200k.bpe().unwrap();
    let exact = bpe.count_ordinary(&text) as f64;
    let sampled = Tokenizer::O200k.count(&[&text]) as f64;
    assert!(
        (sampled - exact).abs() / exact < 0.03,
        "sampled {sampled} vs exact {exact}"
    );
    // Split over many messages: windows run on across pieces.
    let pieces: Vec<&str> = text
        .as_bytes()
        .chunks(300)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    assert!(total > EXACT_LIMIT);
    let exact: f64 = pieces.iter().map(|p| bpe.count_ordinary(p) as f64).sum();
    let sampled = Tokenizer::O200k.count(&pieces) as f64;
    assert!(
        (sampled - exact).abs() / exact < 0.05,
        "sampled {sampled} vs exact {exact}"
    );
}

#[test]
fn embeddings_inputs_are_counted() {
    Tokenizer::Cl100k.build();
    let body = json!({"model": "text-embedding-3-small", "input": ["hello world", [1, 2, 3]]});
    assert_eq!(estimate_prompt(&body, "text-embedding-3-small"), 2 + 3);
}
