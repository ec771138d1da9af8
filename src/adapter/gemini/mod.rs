//! Google Gemini's generateContent API (being written; see issue 16).

pub mod wire;
