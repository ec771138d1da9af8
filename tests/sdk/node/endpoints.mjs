// The official `openai` Node SDK against the gateway: the Responses API
// (create, stream, tools with previous_response_id, retrieve, input items,
// delete) on two provider formats, then images, audio, speech,
// moderations, files and batches. Prints KEY=VALUE lines that
// tests/it/sdk.rs checks.
import OpenAI, { toFile, NotFoundError } from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "unused", maxRetries: 0 });
const out = {};
const tools = [{
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
}];

for (const model of ["gpt", "claude"]) {
  const r = await client.responses.create({ model, input: "hi", instructions: "be brief" });
  out[`${model}_text`] = r.output_text;
  const deltas = [];
  let final;
  const stream = await client.responses.create({ model, input: "hi", stream: true });
  for await (const event of stream) {
    if (event.type === "response.output_text.delta") deltas.push(event.delta);
    if (event.type === "response.completed") final = event.response;
  }
  out[`${model}_stream`] = deltas.join("");
  out[`${model}_stream_final`] = final.output.flatMap((i) => i.content ?? []).map((c) => c.text).join("");
  const helper = client.responses.stream({ model, input: "hi" });
  out[`${model}_helper`] = (await helper.finalResponse()).output_text;
  const first = await client.responses.create({ model, input: "weather in Paris?", tools });
  const call = first.output.find((i) => i.type === "function_call");
  const second = await client.responses.create({
    model, previous_response_id: first.id, tools,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
  });
  out[`${model}_tool`] = `${call.name}:${second.output_text}`;
  const got = await client.responses.retrieve(second.id);
  const items = await client.responses.inputItems.list(second.id, { order: "asc" });
  out[`${model}_items`] = items.data.map((i) => i.type).join(",");
  await client.responses.delete(second.id);
  try {
    await client.responses.retrieve(second.id);
    out[`${model}_deleted`] = "no";
  } catch (e) {
    out[`${model}_deleted`] = e instanceof NotFoundError ? "yes" : String(e);
  }
  out[`${model}_retrieved`] = got.id === second.id ? "True" : "False";
}

const img = await client.images.generate({ model: "gpt-image-1", prompt: "a cat" });
out.image = img.data[0].b64_json.length > 0 ? "True" : "False";
const png = Buffer.concat([Buffer.from("\x89PNG", "latin1"), Buffer.alloc(5000)]);
const edit = await client.images.edit({ model: "gpt-image-1", image: await toFile(png, "cat.png"), prompt: "add a hat" });
out.edit = edit.data.length === 1 ? "True" : "False";
const audio = Buffer.alloc(512000, 7);
const tr = await client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(audio, "talk.mp3") });
out.transcription = tr.text;
const tl = await client.audio.translations.create({ model: "whisper-1", file: await toFile(audio, "talk.mp3") });
out.translation = tl.text;
const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hello" });
let size = 0;
for await (const chunk of speech.body) size += chunk.length;
out.speech = String(size);
const mod = await client.moderations.create({ input: ["I will kill it", "hello"] });
out.moderation = mod.results.map((r) => (r.flagged ? "True" : "False")).join(",");
const f = await client.files.create({ file: await toFile(Buffer.from('{"custom_id":"1"}\n'), "batch.jsonl"), purpose: "batch" });
out.file_content = (await (await client.files.content(f.id)).text()).trim();
const batch = await client.batches.create({ input_file_id: f.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
out.batch = (await client.batches.retrieve(batch.id)).input_file_id === f.id ? "ok" : "wrong";
await client.files.delete(f.id);

for (const [k, v] of Object.entries(out)) console.log(`${k.toUpperCase()}=${v}`);
