"""The official openai and anthropic Python SDKs, unchanged, against models
served through AWS Bedrock and Google Vertex AI mocks (tests/it/cloud.rs).
Prints one line per check; the Rust test compares them."""
import sys

import anthropic
import openai

base = sys.argv[1]
models = sys.argv[2].split(",")
oa = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
an = anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)

for model in models:
    resp = oa.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    print(f"{model} OPENAI={resp.choices[0].message.content} FINISH={resp.choices[0].finish_reason} USAGE={resp.usage.completion_tokens}")
    parts, usage = [], None
    stream = oa.chat.completions.create(
        model=model,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage.completion_tokens
    print(f"{model} OPENAI_STREAM={''.join(parts)} USAGE={usage}")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    resp = oa.chat.completions.create(
        model=model, tools=tools, messages=[{"role": "user", "content": "weather?"}]
    )
    call = resp.choices[0].message.tool_calls[0]
    print(f"{model} TOOL={call.function.name} FINISH={resp.choices[0].finish_reason}")

    msg = an.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    print(f"{model} ANTHROPIC={msg.content[0].text} STOP={msg.stop_reason}")
    with an.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    print(f"{model} ANTHROPIC_STREAM={text} STOP={final.stop_reason}")
