use super::system_of;

#[test]
fn gen_ai_system_is_the_adapters_or_the_hosts() {
    let cases = [
        ("anthropic", "api.anthropic.com", "anthropic"),
        (
            "bedrock",
            "bedrock-runtime.us-east-1.amazonaws.com",
            "aws.bedrock",
        ),
        (
            "vertex",
            "us-east5-aiplatform.googleapis.com",
            "gcp.vertex_ai",
        ),
        ("gemini", "generativelanguage.googleapis.com", "gcp.gemini"),
        ("azure", "x.openai.azure.com", "az.ai.openai"),
        ("openai", "api.openai.com", "openai"),
        ("openai", "api.deepseek.com", "deepseek"),
        ("openai", "api.groq.com", "groq"),
        ("openai", "api.mistral.ai", "mistral_ai"),
        ("openai", "api.x.ai", "xai"),
        ("openai", "x.ai", "xai"),
        // Not a subdomain: the suffix must follow a dot.
        ("openai", "notdeepseek.com", "openai"),
        // Any other OpenAI-compatible host, and a script adapter.
        ("openai", "127.0.0.1", "openai"),
        ("my_script", "api.example.com", "_OTHER"),
    ];
    for (adapter, host, want) in cases {
        assert_eq!(system_of(adapter, host), want, "{adapter} at {host}");
    }
}
