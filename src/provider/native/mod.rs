//! Native translators: Rust twins of the shipped adapter scripts.
//!
//! Rhai interprets a translation in ~30 µs per stream event and ~100 µs per
//! request body; the same work in Rust takes a few microseconds. Scripts
//! stay the definition of a provider: a native translator is used only for
//! a script whose source is byte for byte the one shipped with this build
//! (`scripts/providers/*.rhai`). Edit the script, and the gateway runs your
//! script instead. The unit tests of each script run every case through
//! both the script and its twin and require the same output (see
//! `provider::differential`), so the twin cannot drift from the script.
//!
//! A twin may cover only some hooks; the script runs the others.

use rhai::Map;
use serde_json::Value;

use super::ChunkOut;

mod anthropic;
mod azure_openai;
mod gemini;

/// Why a native hook refused or failed, as the script would have.
#[derive(Debug, Clone, PartialEq)]
pub enum NativeError {
    /// The script's `throw #{ status, message }`: the client's request is
    /// refused with that status.
    Rejected { status: u16, message: String },
    /// Anything else the script would have failed on.
    Failed(String),
}

/// `transform_request(body, ctx)`.
pub type RequestHook = fn(&Value, &Map) -> Result<Value, NativeError>;
/// `transform_response(body, ctx)`.
pub type ResponseHook = fn(Value, &Map) -> Result<Value, NativeError>;

/// One stream's translation: `transform_chunk` and `finish_stream` with the
/// state the script keeps in `this`.
pub trait StreamTranslator: Send {
    /// One upstream SSE event (`event:` name, `data:` text); chunks for the
    /// client are appended to `out`.
    fn event(
        &mut self,
        event: &str,
        data: &str,
        ctx: &Map,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError>;

    /// The upstream stream ended.
    fn finish(&mut self, ctx: &Map, out: &mut Vec<ChunkOut>) -> Result<(), NativeError>;
}

/// The hooks a twin implements natively.
pub struct Native {
    /// For logs and the admin API.
    pub name: &'static str,
    /// The script source this twin is the translation of.
    pub source: &'static str,
    pub transform_request: Option<RequestHook>,
    pub transform_response: Option<ResponseHook>,
    /// Starts a stream: `transform_chunk` and `finish_stream` together.
    pub stream: Option<fn() -> Box<dyn StreamTranslator>>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native").field("name", &self.name).finish()
    }
}

/// Every twin, with the source it translates.
static TWINS: &[&Native] = &[&anthropic::NATIVE, &azure_openai::NATIVE, &gemini::NATIVE];

/// The twin of `source`, when it is exactly a shipped script.
pub fn twin_of(source: &str) -> Option<&'static Native> {
    TWINS.iter().copied().find(|n| n.source == source)
}
