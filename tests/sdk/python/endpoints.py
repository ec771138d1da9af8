"""The official `openai` Python SDK against the gateway: the Responses API
(create, stream, tools with previous_response_id, retrieve, input items,
delete) on two provider formats, then images, audio, speech, moderations,
files and batches. Prints KEY=VALUE lines that tests/it/sdk.rs checks."""
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)
out = {}
tools = [{
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]

for model in ["gpt", "claude"]:
    r = client.responses.create(model=model, input="hi", instructions="be brief")
    out[f"{model}_text"] = r.output_text
    deltas, final = [], None
    for event in client.responses.create(model=model, input="hi", stream=True):
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            final = event.response
    out[f"{model}_stream"] = "".join(deltas)
    out[f"{model}_stream_final"] = final.output_text
    with client.responses.stream(model=model, input="hi") as stream:
        for _ in stream:
            pass
        out[f"{model}_helper"] = stream.get_final_response().output_text
    first = client.responses.create(model=model, input="weather in Paris?", tools=tools)
    call = next(i for i in first.output if i.type == "function_call")
    second = client.responses.create(
        model=model, previous_response_id=first.id, tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    out[f"{model}_tool"] = call.name + ":" + second.output_text
    got = client.responses.retrieve(second.id)
    items = client.responses.input_items.list(second.id, order="asc")
    out[f"{model}_items"] = ",".join(i.type for i in items.data)
    client.responses.delete(second.id)
    try:
        client.responses.retrieve(second.id)
        out[f"{model}_deleted"] = "no"
    except openai.NotFoundError:
        out[f"{model}_deleted"] = "yes"
    out[f"{model}_retrieved"] = str(got.id == second.id)

img = client.images.generate(model="gpt-image-1", prompt="a cat")
out["image"] = str(len(img.data[0].b64_json) > 0)
edit = client.images.edit(model="gpt-image-1", image=("cat.png", b"\x89PNG" + bytes(5000)), prompt="add a hat")
out["edit"] = str(len(edit.data) == 1)
audio = bytes(range(256)) * 2000
tr = client.audio.transcriptions.create(model="whisper-1", file=("talk.mp3", audio))
out["transcription"] = tr.text
tl = client.audio.translations.create(model="whisper-1", file=("talk.mp3", audio))
out["translation"] = tl.text
with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="hello") as speech:
    out["speech"] = str(sum(len(c) for c in speech.iter_bytes()))
mod = client.moderations.create(input=["I will kill it", "hello"])
out["moderation"] = ",".join(str(r.flagged) for r in mod.results)
f = client.files.create(file=("batch.jsonl", b'{"custom_id":"1"}\n'), purpose="batch")
out["file_content"] = client.files.content(f.id).read().decode().strip()
batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
out["batch"] = client.batches.retrieve(batch.id).input_file_id == f.id and "ok"
client.files.delete(f.id)

for k, v in out.items():
    print(f"{k.upper()}={v}")
